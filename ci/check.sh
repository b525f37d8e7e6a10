#!/bin/bash
# `make check`: prove the series, stage by stage, then print the summary whose last
# line is "N passed, N failed, N skipped". A stage that later stages need stops the run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$LOGS"
rm -f "$RESULTS" "$LOGS/times.txt"
rm -rf "$BUILD/guest"

stage deps blocking "$REPO_DIR/ci/install-deps.sh"
stage base blocking "$REPO_DIR/ci/prepare-base.sh"
if [ -n "${BASE:-}" ]; then
	# Another tree (BASE=): the series is what patches/ applies to it.
	stage series blocking "$REPO_DIR/ci/apply-series.sh"
	stage checkpatch independent "$REPO_DIR/ci/checkpatch.sh"
else
	stage sync independent "$REPO_DIR/ci/check-sync.sh"
	stage checkpatch independent "$REPO_DIR/ci/checkpatch.sh"
	stage apply independent "$REPO_DIR/ci/apply-check.sh"
	stage apply-conflict independent "$REPO_DIR/ci/apply-conflict-check.sh"
	stage mails independent "$REPO_DIR/ci/check-mails.sh"
fi
stage build blocking "$REPO_DIR/ci/build-kernel.sh"
stage arm64 independent "$REPO_DIR/ci/build-arm64.sh"
stage selftests blocking "$REPO_DIR/ci/build-selftests.sh"
stage boot blocking "$REPO_DIR/ci/boot.sh"
stage kunit independent "$REPO_DIR/ci/parse-kunit.sh"
stage dmesg independent "$REPO_DIR/ci/check-dmesg.sh"

echo "==> summary"
python3 "$REPO_DIR/ci/summary.py"
