#!/bin/bash
# `make check-arm64`: the series on an emulated arm64 host. The kernel
# (ci/kernel-arm64.config merged onto arm64 allnoconfig) and the selftests of
# ci/selftests-arm64.txt are cross-built in build/arm64-check and booted on QEMU's virt
# machine with EL2 and a GICv3 (TCG), so KVM runs in it (ci/boot-arm64.sh). The
# KUnit, dmesg and summary stages are those of `make check`; the last line is
# "N passed, N failed, N skipped".
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
export BUILD=${BUILD:-$repo/build/arm64-check}
# The series tree of `make`; only the kernel and the selftests are built apart.
export TREE=${TREE:-$repo/build/linux}
export ARCH=arm64 CROSS_COMPILE=aarch64-linux-gnu-
export SELFTESTS_LIST=${SELFTESTS_LIST:-$repo/ci/selftests-arm64.txt}
. "$repo/ci/lib.sh"

mkdir -p "$LOGS"
rm -f "$RESULTS" "$LOGS/times.txt"
rm -rf "$BUILD/guest"

stage deps blocking "$REPO_DIR/ci/install-deps.sh"
stage base blocking "$REPO_DIR/ci/prepare-base.sh"
stage build blocking env KERNEL_CONFIGS=kernel-arm64.config W1=0 \
	"$REPO_DIR/ci/build-kernel.sh" Image
stage selftests blocking "$REPO_DIR/ci/build-selftests.sh"
stage boot blocking "$REPO_DIR/ci/boot-arm64.sh"
stage kunit independent "$REPO_DIR/ci/parse-kunit.sh"
stage dmesg independent "$REPO_DIR/ci/check-dmesg.sh"

echo "==> summary"
python3 "$REPO_DIR/ci/summary.py"
