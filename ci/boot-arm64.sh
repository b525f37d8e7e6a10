#!/bin/bash
# Stage "boot" of `make check-arm64`: boot the arm64 kernel on QEMU's virt machine
# with EL2 (TCG, so the kernel runs KVM), from an initramfs holding ci/arm64-init.c
# and the statically linked selftests of SELFTESTS_LIST (ci/selftests.txt). The init prints results
# between marker lines on the console; they are split here into the files
# ci/guest-run.sh writes on x86 (GUEST_DIR, default $BUILD/guest), so that the
# kunit, dmesg and summary stages read them alike.
# KVM runs with kvm-arm.mode=nested, so that vCPUs may have EL2: the selftest
# library gives them EL2 unless the VM has a guest_memfd without a direct map.
# QEMU_CPU: the -cpu option (default max); BOOT_APPEND: more kernel parameters.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${GUEST_DIR:-$BUILD/guest}
log=$LOGS/boot-$(basename "$out").log
image=$KOUT/arch/arm64/boot/Image
cpio=$KOUT/usr/gen_init_cpio
install=$BUILD/kselftest
rm -rf "$out"
mkdir -p "$out/tests" "$LOGS"
[ -f "$image" ] || die "$image is missing: build the arm64 kernel first"
[ -x "$cpio" ] || die "$cpio is missing (CONFIG_BLK_DEV_INITRD builds it)"
[ -d "$install" ] || die "no arm64 selftests installed in $install"

init=$BUILD/arm64-init
"${CROSS_COMPILE:-aarch64-linux-gnu-}gcc" -static -O2 -Wall -Wextra -Werror \
	-o "$init" "$REPO_DIR/ci/arm64-init.c"

# The initramfs: /init, the list of tests and the installed selftests.
list=$BUILD/initramfs.list
{
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	echo "dir /tmp 1777 0 0"
	echo "file /init $init 0755 0 0"
	echo "file /selftests.txt ${SELFTESTS_LIST:-$REPO_DIR/ci/selftests.txt} 0644 0 0"
	echo "dir /kselftest 0755 0 0"
	(cd "$install" && find . -mindepth 1 -type d | sort | sed 's|^\.\(.*\)|dir /kselftest\1 0755 0 0|')
	(cd "$install" && find . -type f | sort | while read -r f; do
		echo "file /kselftest${f#.} $install/${f#./} $(stat -c %a "$install/$f") 0 0"
	done)
} >"$list"
"$cpio" "$list" >"$BUILD/initramfs.cpio"

echo "boot: qemu-system-aarch64 -M virt,virtualization=on -cpu ${QEMU_CPU:-max} (TCG), selftests inside (log: $log)"
rc=0
timeout --kill-after=30 "${BOOT_TIMEOUT:-2400}" \
	qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu "${QEMU_CPU:-max}" \
	-accel tcg,thread=multi -smp 2 -m 4G -nographic -no-reboot \
	-kernel "$image" -initrd "$BUILD/initramfs.cpio" \
	-append "console=ttyAMA0 loglevel=1 log_buf_len=16M kvm-arm.mode=nested ${BOOT_APPEND:-}" \
	</dev/null >"$log" 2>&1 || rc=$?
[ "$rc" -ne 124 ] || die "the guest did not finish within ${BOOT_TIMEOUT:-2400} s, see $log"

# Split the console at the init's markers into files of $out.
tr -d '\r' <"$log" | awk -v out="$out" '
	/^@@@ndm@@@ begin / { file = out "/" $3; printf "" > file; next }
	/^@@@ndm@@@ end / { close(file); file = ""; next }
	/^@@@ndm@@@ finished/ { print "done" > (out "/finished"); next }
	file != "" { print > file }'
[ -f "$out/finished" ] || {
	tail -30 "$log" >&2
	die "the guest did not finish its run (qemu exit $rc), see $log"
}
echo "boot: guest finished"
