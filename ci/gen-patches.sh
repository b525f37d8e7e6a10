#!/bin/bash
# Build the series from series.txt as branch "series" of build/linux (one commit per
# patch on top of the base, fixed identity and dates), in a scratch work tree so the
# build tree's files keep their times, and write it with git format-patch to $1.
#
# A source is a repository path whose first component is dropped to get its kernel
# path: rust/virt/kvm/x.rs lands as virt/kvm/x.rs. A source ending in .diff is a
# hunk file for exactly the kernel file its name gives before the '@' or '.diff':
# c-glue/virt/kvm/guest_memfd.c@create.diff patches virt/kvm/guest_memfd.c.
# Any other source is a whole file copied to its kernel path.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${1:?usage: gen-patches.sh OUTDIR}
cd "$REPO_DIR"

trim() {
	local s=$1
	s=${s#"${s%%[![:space:]]*}"}
	echo "${s%"${s##*[![:space:]]}"}"
}

apply_source() {
	local src=$1 dst
	[ -f "$src" ] || die "series.txt names $src, which does not exist"
	dst=$(kernel_path "$src")
	case "$src" in
	*.diff)
		touched=$(git -C "$GEN" apply --numstat "$REPO_DIR/$src" | cut -f3 | sort -u)
		[ "$touched" = "$dst" ] ||
			die "$src must patch only $dst, it patches: $touched"
		git -C "$GEN" apply --whitespace=nowarn "$REPO_DIR/$src" ||
			die "$src does not apply"
		;;
	*)
		mkdir -p "$GEN/$(dirname "$dst")"
		cp "$src" "$GEN/$dst"
		;;
	esac
}

GEN=$BUILD/gen
if [ ! -d "$GEN" ]; then
	git -C "$TREE" worktree prune
	git -C "$TREE" worktree add -q --detach "$GEN" base
fi
git -C "$GEN" checkout -q --detach base
git -C "$GEN" reset -q --hard base
git -C "$GEN" clean -q -fdx

n=0
while IFS= read -r line; do
	case "$line" in
	'' | '#'*) continue ;;
	esac
	IFS='|' read -r subject message sources <<<"$line"
	subject=$(trim "$subject")
	message=$(trim "$message")
	[ -f "$message" ] || die "series.txt names message file $message, which does not exist"
	for src in $sources; do
		apply_source "$src"
	done
	# -f: the base's .gitignore (Debian packaging) ignores every top-level path.
	git -C "$GEN" add -A -f
	{
		echo "$subject"
		echo
		cat "$message"
	} | git_fixed -C "$GEN" commit -q -s --allow-empty-message -F - ||
		die "patch '$subject' changes nothing"
	n=$((n + 1))
done <series.txt

git -C "$GEN" update-ref refs/heads/series HEAD

# The cover letter: first line of cover-letter.md is its subject, the rest its body.
git -C "$GEN" config branch.series.description "$(cat cover-letter.md)"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
if [ "$n" -gt 0 ]; then
	# Version 1 goes without a version tag, as on the lists.
	version=$(sed -n 's/^# version: *//p' series.txt)
	[ "$version" != 1 ] || version=
	prefix=$(sed -n 's/^# subject-prefix: *//p' series.txt)
	git_fixed -C "$GEN" format-patch -q -o "$tmp" --cover-letter --cover-from-description=subject \
		--base=base --zero-commit --no-signature --no-thread --abbrev=12 \
		${version:+-v "$version"} ${prefix:+--subject-prefix="$prefix"} base..series
fi
mkdir -p "$out"
rsync -rt --delete --exclude=.gitkeep "$tmp/" "$out/"
echo "gen-patches: $n patches in $out"
