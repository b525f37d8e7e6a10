#!/bin/bash
# `make check`: prove the series, stage by stage, then print the summary whose last
# line is "N passed, N failed, N skipped". A stage that later stages need stops the run.
set -uo pipefail
. "$(dirname "$0")/lib.sh"

mkdir -p "$LOGS"
rm -f "$RESULTS" "$LOGS/times.txt"
rm -rf "$BUILD/guest"
stopped=0

# stage NAME blocking|independent COMMAND...
stage() {
	local name=$1 kind=$2 start rc=0
	shift 2
	[ "$stopped" -eq 0 ] || return 0
	echo "==> $name"
	start=$(date +%s)
	"$@" 2>&1 | tee "$LOGS/stage-$name.log" || rc=$?
	local took=$(($(date +%s) - start))
	echo "$name $took" >>"$LOGS/times.txt"
	if [ "$rc" -eq 0 ]; then
		record pass "stage $name"
		echo "<== $name: ok (${took} s)"
	else
		record fail "stage $name"
		echo "<== $name: FAILED (${took} s, log: $LOGS/stage-$name.log)"
		[ "$kind" = independent ] || stopped=1
	fi
}

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
