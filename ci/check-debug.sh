#!/bin/bash
# `make check-debug`: the series on a debug kernel (ci/kernel.config plus
# ci/kernel-debug.config), in build/debug. Two boots under virtme-ng (TCG):
#  - debug_pagealloc=on: the selftests and KUnit of `make check`, then
#    debug/gmem_ndm_stress.c (STRESS_SECONDS, default 60), then a kmemleak scan;
#  - no debug_pagealloc, no KFENCE sampling: debug/gmem_ndm_inject.c, allocation
#    failures injected where the direct map is split, then a kmemleak scan.
# Both with panic_on_warn=1 and oops=panic, so that a WARN or an oops ends the
# boot, and with the kernel's console (loglevel=5) in the boot log, which
# ci/check-dmesg.sh reads when the guest could not save its log. The summary's
# last line counts tests, injected failures, splats and leaks.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD=${BUILD:-$repo/build/debug}
# The series tree of `make`; only the kernel is built apart.
export TREE=${TREE:-$repo/build/linux}
. "$repo/ci/lib.sh"

mkdir -p "$LOGS"
rm -f "$RESULTS" "$LOGS/times.txt"
rm -rf "$BUILD/guest" "$BUILD/guest-inject"
tools=$BUILD/debug-tools

build_tools() {
	rm -rf "$tools"
	mkdir -p "$tools"
	OUT=$tools LOG=$LOGS/debug-tools.log build_on_selftest_lib \
		"$REPO_DIR/debug/gmem_ndm_inject.c" "$REPO_DIR/debug/gmem_ndm_stress.c"
	echo "debug-tools: gmem_ndm_inject gmem_ndm_stress in $tools"
}

stage deps blocking "$REPO_DIR/ci/install-deps.sh"
stage base blocking "$REPO_DIR/ci/prepare-base.sh"
stage build blocking env KERNEL_CONFIGS="kernel.config kernel-debug.config" W1=0 \
	"$REPO_DIR/ci/build-kernel.sh"
stage selftests blocking "$REPO_DIR/ci/build-selftests.sh"
stage debug-tools blocking build_tools
stage boot-debug independent env GUEST_DIR="$BUILD/guest" BOOT_VERBOSE=1 \
	BOOT_APPEND="debug_pagealloc=on panic_on_warn=1 oops=panic loglevel=5" BOOT_TIMEOUT=2400 \
	GUEST_RUN="$REPO_DIR/ci/guest-debug-run.sh $BUILD/guest $BUILD/kselftest $REPO_DIR/ci/selftests.txt $tools ${STRESS_SECONDS:-60}" \
	"$REPO_DIR/ci/boot.sh"
stage boot-inject independent env GUEST_DIR="$BUILD/guest-inject" BOOT_VERBOSE=1 \
	BOOT_APPEND="panic_on_warn=1 oops=panic loglevel=5 kfence.sample_interval=0" BOOT_TIMEOUT=900 \
	GUEST_RUN="$REPO_DIR/ci/guest-inject-run.sh $BUILD/guest-inject $tools" \
	"$REPO_DIR/ci/boot.sh"
stage kunit independent "$REPO_DIR/ci/parse-kunit.sh"
stage dmesg-debug independent env GUEST_DIR="$BUILD/guest" "$REPO_DIR/ci/check-dmesg.sh"
stage dmesg-inject independent env GUEST_DIR="$BUILD/guest-inject" "$REPO_DIR/ci/check-dmesg.sh"

echo "==> summary"
python3 "$REPO_DIR/ci/summary.py" --debug
