#!/bin/bash
# Stage "selftests": install the series' uapi headers, build the selftests named in
# ci/selftests.txt and install them kselftest-style (run_kselftest.sh) in build/kselftest.
# KVM's through the kselftest install (only the listed programs); other collections'
# programs one by one next to them, added to kselftest-list.txt.
# SELFTESTS_LIST: another list than ci/selftests.txt.
# With ARCH=arm64 CROSS_COMPILE=... (ci/check-arm64.sh): cross-built and linked
# statically, for a guest whose initramfs has no libc.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$LOGS/build-selftests.log
install=$BUILD/kselftest
selftests=$TREE/tools/testing/selftests
mkdir -p "$LOGS"
list=${SELFTESTS_LIST:-$REPO_DIR/ci/selftests.txt}
listed=$(grep -v "^#" "$list" | xargs)
[ -n "$listed" ] || die "$list names no test"
kvm_tests=$(for t in $listed; do case "$t" in kvm:*) echo "${t#kvm:}" ;; esac; done | xargs)
other_tests=$(for t in $listed; do case "$t" in kvm:*) ;; *) echo "$t" ;; esac; done)

karch=${ARCH:-x86}
cross=()
if [ "$karch" != x86 ]; then
	cross=(CC="${CROSS_COMPILE}gcc -static")
fi

run() {
	"$@" >>"$log" 2>&1 || {
		grep -E "error|Error" "$log" | head -40 >&2
		die "selftests build failed, see $log"
	}
}

# The series' selftests and headers: the tree as ci/gen-patches.sh committed it.
git -C "$TREE" checkout -q --detach series

echo "build-selftests: make headers; $listed (log: $log)"
: >"$log"
run make -C "$TREE" O="$KOUT" headers
rm -rf "$install"
# Only the listed programs: the variables override Makefile.kvm's lists.
run make -C "$selftests" O="$KOUT" TARGETS=kvm \
	"TEST_GEN_PROGS_$karch=$kvm_tests" "TEST_PROGS_$karch=" "${cross[@]}" -j"$(nproc)" \
	KSFT_INSTALL_PATH="$install" install
for t in $other_tests; do
	collection=${t%%:*}
	mkdir -p "$install/$collection"
	run make -C "$selftests/$collection" "${cross[@]}" KHDR_INCLUDES="-isystem $KOUT/usr/include" \
		OUTPUT="$install/$collection" "$install/$collection/${t#*:}"
	echo "$t" >>"$install/kselftest-list.txt"
done
if grep -E "warning:" "$log" >"$LOGS/selftests-warnings.log"; then
	head -20 "$LOGS/selftests-warnings.log" >&2
	die "the selftests build warned, see $LOGS/selftests-warnings.log"
fi
for t in $listed; do
	collection=${t%%:*}
	[ -x "$install/$collection/${t#*:}" ] || die "selftest $t was not built"
done
echo "build-selftests: $(wc -w <<<"$listed") tests in $install"
