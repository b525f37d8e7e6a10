#!/bin/bash
# Stage "arm64": cross-build what the series changes for arm64 (defconfig + RUST +
# KVM): the kvm objects (arch/arm64/kvm/, which builds virt/kvm/ too) and the
# directories of the other changed C files. A warning naming a changed file fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$BUILD/arm64
log=$LOGS/build-arm64.log
mkdir -p "$out" "$LOGS"
LIBCLANG_PATH=$(libclang_path)
export LIBCLANG_PATH

amake() {
	PATH=/usr/lib/ccache:$PATH make -C "$TREE" O="$out" ARCH=arm64 \
		CROSS_COMPILE=aarch64-linux-gnu- -j"$(nproc)" "$@"
}

changed=$(series_changed_sources)
dirs=$( (echo arch/arm64/kvm/; series_build_dirs arm64) | sort -u | xargs)

: >"$log"
if [ ! -f "$out/.config" ]; then
	amake defconfig >>"$log" 2>&1
	"$TREE/scripts/config" --file "$out/.config" -e RUST -e VIRTUALIZATION -e KVM
	amake olddefconfig >>"$log" 2>&1
	grep -qx CONFIG_RUST=y "$out/.config" || die "arm64 config has no CONFIG_RUST, see $log"
fi
echo "build-arm64: prepare, then $dirs (log: $log)"
amake prepare >>"$log" 2>&1 || die "arm64 prepare failed, see $log"
amake $dirs >>"$log" 2>&1 || {
	grep -E "error" "$log" | head -20 >&2
	die "arm64 build failed, see $log"
}
if [ -n "$changed" ] && grep -E "warning" "$log" | grep -F "$changed" >"$LOGS/arm64-warnings.log"; then
	cat "$LOGS/arm64-warnings.log" >&2
	die "arm64 warnings in files the series changes, see $log"
fi
echo "build-arm64: ok"
