#!/bin/bash
# `make refresh FROM=<rev>`: the way back from git to the sources. Work on the series
# as commits in build/linux (a branch on top of "base", one commit per series.txt line,
# e.g. with git rebase -i), then write each commit's changes back into the sources
# series.txt names for it: whole files are copied, .diff sources are regenerated.
# A commit that changes a file none of its sources covers is an error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

from=${1:?usage: refresh-sources.sh REV}
cd "$REPO_DIR"

mapfile -t commits < <(git -C "$TREE" rev-list --reverse "base..$from")
mapfile -t lines < <(grep -v -e '^#' -e '^[[:space:]]*$' series.txt)
[ ${#commits[@]} -eq ${#lines[@]} ] ||
	die "$from has ${#commits[@]} commits on base, series.txt has ${#lines[@]} patches"

for i in "${!lines[@]}"; do
	c=${commits[$i]}
	IFS='|' read -r _ _ sources <<<"${lines[$i]}"
	covered=()
	for src in $sources; do
		dst=$(kernel_path "$src")
		covered+=("$dst")
		case "$src" in
		*.diff) git -C "$TREE" diff --no-color "$c^" "$c" -- "$dst" >"$src" ;;
		*) git -C "$TREE" show "$c:$dst" >"$src" ;;
		esac
	done
	while read -r f; do
		printf '%s\n' "${covered[@]}" | grep -qx "$f" ||
			die "commit $(git -C "$TREE" log -1 --format='%h %s' "$c") changes $f, which no source of its series.txt line covers"
	done < <(git -C "$TREE" diff --name-only "$c^" "$c")
done
echo "refresh: sources of ${#lines[@]} patches written from $from"
