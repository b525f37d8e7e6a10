#!/bin/bash
# Stage "series" of `make check BASE=...`: the series branch of the build tree made
# the way a reviewer makes it, git am -3 of patches/ onto that base, with a report
# per patch. (On the pinned base, ci/gen-patches.sh makes it from the sources.)
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mapfile -t patches < <(series_mails)
wt=$BUILD/series-am
rm -rf "$wt"
git -C "$TREE" worktree prune
git -C "$TREE" worktree add -q -B series "$wt" base
cleanup() { git -C "$TREE" worktree remove --force "$wt"; }
trap cleanup EXIT
echo "series: ${#patches[@]} patches onto $(git -C "$TREE" log -1 --format='%h %s' base)"
am_report "$wt" "${patches[@]}" || die "the series does not apply to $BASE"
