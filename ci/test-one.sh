#!/bin/bash
# `make test T=<collection>:<test> [CASE=<fixture.variant.case>]`: for a developer
# iterating on one selftest. Regenerates the series, builds the kernel (without the
# W=1 pass) and the selftests where stale, boots, runs just that test (or one case
# of it) and prints its TAP and the guest kernel log's findings.
# An unknown test or case is refused before anything boots, listing what exists.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

listed=$(grep -v '^#' "$REPO_DIR/ci/selftests.txt" | grep . || true)
usage_tests() {
	echo "tests (ci/selftests.txt):" >&2
	sed 's/^/  /' <<<"$listed" >&2
}
[ "${ARCH:-x86}" = x86 ] || [ "${ARCH:-}" = x86_64 ] ||
	die "ARCH=$ARCH: only x86 boots here so far (make check-arm64 is issue 19)"
[ -n "${T:-}" ] || { usage_tests; die "say which test: make test T=<collection>:<test>"; }
grep -qxF "$T" <<<"$listed" || { usage_tests; die "unknown test '$T'"; }
collection=${T%%:*}
test=${T#*:}

"$REPO_DIR/ci/gen-patches.sh" patches
W1=0 "$REPO_DIR/ci/build-kernel.sh"
"$REPO_DIR/ci/build-selftests.sh"

bin=$BUILD/kselftest/$collection/$test
[ -x "$bin" ] || die "$bin was not installed"
if [ -n "${CASE:-}" ]; then
	# Only kselftest_harness programs have cases; they list them without running any.
	grep -q "list all tests" "$bin" || die "$T has no cases to pick (not a kselftest_harness program)"
	cases=$({ "$bin" -l 2>&1 >/dev/null || true; } | "$REPO_DIR/ci/harness-cases.py")
	grep -qxF "$CASE" <<<"$cases" || {
		echo "cases of $T:" >&2
		sed 's/^/  /' <<<"$cases" >&2
		die "unknown case '$CASE' of $T"
	}
fi

out=$BUILD/test-one
run=$BUILD/test-one.sh
cat >"$run" <<-RUN
	#!/bin/bash
	cd "$BUILD/kselftest/$collection" || exit 1
	./$test ${CASE:+-r "$CASE"} >"$out/test.tap" 2>&1
	echo \$? >"$out/rc"
	dmesg >"$out/dmesg.txt"
	echo done >"$out/finished"
RUN
chmod +x "$run"
GUEST_DIR=$out GUEST_RUN=$run BOOT_TIMEOUT=${BOOT_TIMEOUT:-900} "$REPO_DIR/ci/boot.sh"
cat "$out/test.tap"
dmesg_ok=0
GUEST_DIR=$out "$REPO_DIR/ci/check-dmesg.sh" || dmesg_ok=1
rc=$(cat "$out/rc")
echo "test: $T${CASE:+ ($CASE)} exited $rc, guest kernel log $([ "$dmesg_ok" = 0 ] && echo clean || echo "has findings")"
[ "$rc" = 0 ] && [ "$dmesg_ok" = 0 ]
