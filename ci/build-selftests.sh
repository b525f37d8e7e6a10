#!/bin/bash
# Stage "selftests": install the series' uapi headers, build the KVM selftests named in
# ci/selftests.txt and install them kselftest-style (run_kselftest.sh) in build/kselftest.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

log=$LOGS/build-selftests.log
install=$BUILD/kselftest
mkdir -p "$LOGS"
tests=$(grep -v '^#' "$REPO_DIR/ci/selftests.txt" | xargs)
[ -n "$tests" ] || die "ci/selftests.txt names no test"

echo "build-selftests: make headers; kvm: $tests (log: $log)"
{
	make -C "$TREE" O="$KOUT" headers
	rm -rf "$install"
	# Only the listed programs: the variables override Makefile.kvm's lists.
	make -C "$TREE/tools/testing/selftests" O="$KOUT" TARGETS=kvm \
		TEST_GEN_PROGS_x86="$tests" TEST_PROGS_x86= -j"$(nproc)" \
		KSFT_INSTALL_PATH="$install" install
} >"$log" 2>&1 || {
	grep -E "error|Error" "$log" | head -40 >&2
	die "selftests build failed, see $log"
}
if grep -E "warning:" "$log" >"$LOGS/selftests-warnings.log"; then
	head -20 "$LOGS/selftests-warnings.log" >&2
	die "the selftests build warned, see $LOGS/selftests-warnings.log"
fi
for t in $tests; do
	[ -x "$install/kvm/$t" ] || die "selftest $t was not built"
done
echo "build-selftests: $(wc -w <<<"$tests") tests in $install"
