#!/bin/bash
# Stage "sync": the committed patches/ must be exactly what the sources generate.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$LOGS"
fresh=$BUILD/patches-regenerated
rm -rf "$fresh"
"$REPO_DIR/ci/gen-patches.sh" "$fresh" >/dev/null
mkdir -p "$REPO_DIR/patches"
if ! diff -r -x .gitkeep "$REPO_DIR/patches" "$fresh" >"$LOGS/sync.diff"; then
	head -40 "$LOGS/sync.diff"
	die "patches/ is stale or hand-edited: run 'make' and commit patches/ (diff: $LOGS/sync.diff)"
fi
