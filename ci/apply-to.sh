#!/bin/bash
# `make apply BASE=/path/to/linux [BASE_REF=rev]`: does the series apply to another
# kernel tree (linux-next, mainline, a distribution's)? git am -3 of patches/ onto
# BASE_REF (default HEAD) of that git tree, in a throwaway detached work tree, with a
# report per patch. The tree, its branches and its checkout are left as they were
# (the script checks); non-zero exit at the first patch that does not apply, or with
# KEEP_GOING=1 after trying every patch (one that does not apply is skipped).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

[ -n "${BASE:-}" ] || die "usage: make apply BASE=/path/to/linux [BASE_REF=rev]"
base=$(cd "$BASE" && pwd)
ref=${BASE_REF:-HEAD}
git -C "$base" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
	die "$base is not a git work tree (make one with: make other-base PKG=...)"
commit=$(git -C "$base" rev-parse --verify -q "$ref^{commit}") || die "no commit $ref in $base"
mapfile -t patches < <(series_mails)
[ ${#patches[@]} -gt 0 ] || die "patches/ holds no patches: run make"

# What must stay as it is: the checkout, its status, every ref.
state() {
	git -C "$base" rev-parse HEAD
	git -C "$base" symbolic-ref -q HEAD || true
	git -C "$base" status --porcelain=v1 --untracked-files=no
	git -C "$base" for-each-ref --format='%(refname) %(objectname)'
}
before=$(state)

wt=$(mktemp -d "${TMPDIR:-/tmp}/ndm-apply.XXXXXX")
cleanup() {
	git -C "$base" worktree remove --force "$wt" 2>/dev/null || rm -rf "$wt"
	git -C "$base" worktree prune
}
trap cleanup EXIT
git -C "$base" worktree add -q --detach "$wt" "$commit"

echo "apply: ${#patches[@]} patches onto $base at $ref ($(git -C "$base" log -1 --format='%h %s' "$commit"))"
rc=0
am_report "$wt" "${patches[@]}" || rc=$?

cleanup
trap - EXIT
[ "$(state)" = "$before" ] || die "$base changed while applying: this is a bug of apply-to.sh"
if [ "$rc" -eq 0 ]; then
	echo "apply: all ${#patches[@]} patches apply; $base is untouched"
else
	echo "apply: the series does not apply to $ref; $base is untouched"
fi
exit "$rc"
