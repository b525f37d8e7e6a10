#!/bin/bash
# Stage "boot": boot the built kernel under virtme-ng with TCG (this machine's /dev/kvm
# cannot run an upstream kernel; TCG gives the AMD guest SVM with nested paging) and run
# ci/guest-run.sh in it. Results land in build/guest.
# For ci/check-debug.sh: GUEST_DIR (results), GUEST_RUN (the command run inside
# instead, its results in GUEST_DIR), BOOT_APPEND (more kernel parameters) and
# BOOT_VERBOSE=1 (the kernel's console in the boot log, for a guest that dies).
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${GUEST_DIR:-$BUILD/guest}
log=$LOGS/boot-$(basename "$out").log
rm -rf "$out"
mkdir -p "$out" "$LOGS"
image=$KOUT/arch/x86/boot/bzImage
[ -f "$image" ] || die "$image is missing: run 'make build'"
[ -x "$BUILD/kselftest/run_kselftest.sh" ] || die "no selftests installed: run 'make selftests'"

echo "boot: virtme-ng under TCG, selftests inside (log: $log)"
vng_shares
rc=0
timeout --kill-after=30 "${BOOT_TIMEOUT:-1800}" \
	vng --run "$image" --disable-kvm --disable-microvm \
	--qemu-opts="-cpu max,vendor=AuthenticAMD" \
	--cpus 2 --memory 4G --user root "${shares[@]}" --rwdir="$out" ${BOOT_VERBOSE:+--verbose} \
	--append "log_buf_len=16M ${BOOT_APPEND:-}" \
	--exec "${GUEST_RUN:-$REPO_DIR/ci/guest-run.sh $out $BUILD/kselftest $REPO_DIR/ci/selftests.txt}" \
	</dev/null >"$log" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || die "the guest did not finish within ${BOOT_TIMEOUT:-1800} s, see $log"
[ -f "$out/finished" ] || {
	tail -30 "$log" >&2
	die "the guest did not finish its run (vng exit $rc), see $log"
}
echo "boot: guest finished"
