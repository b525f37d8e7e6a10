#!/bin/bash
# Stage "apply": git am of patches/ alone onto a fresh checkout of the base, the way
# a reviewer applies the mails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mapfile -t patches < <(series_mails)
if [ ${#patches[@]} -eq 0 ]; then
	echo "apply: the series has no patches yet"
	exit 0
fi

wt=$BUILD/apply-check
rm -rf "$wt"
git -C "$TREE" worktree prune
git -C "$TREE" worktree add -q --detach "$wt" base
cleanup() { git -C "$TREE" worktree remove --force "$wt"; }
trap cleanup EXIT
if ! git -C "$wt" -c user.name=check -c user.email=check@invalid am -q "${patches[@]}" \
	>"$LOGS/apply.log" 2>&1; then
	cat "$LOGS/apply.log"
	die "git am failed"
fi
