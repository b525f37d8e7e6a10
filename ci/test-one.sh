#!/bin/bash
# `make test T=<collection>:<test> [CASE=<fixture.variant.case>]`: for a developer
# iterating on one selftest. Regenerates the series, builds the kernel (without the
# W=1 pass) and the selftests where stale, boots, runs just that test (or one case
# of it) and prints its TAP and the guest kernel log's findings.
# An unknown test or case is refused before anything boots, listing what exists.
# ARCH=arm64: the same on the emulated arm64 host of `make check-arm64` (its build
# directory, its list ci/selftests-arm64.txt); its cases are listed from the source,
# as the arm64 binary cannot list them here (ci/harness-cases-source.py).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
target=${ARCH:-x86}
case "$target" in
x86 | x86_64) target=x86 && unset ARCH ;;
arm64)
	export ARCH BUILD=${BUILD:-$repo/build/arm64-check} TREE=${TREE:-$repo/build/linux}
	export CROSS_COMPILE=aarch64-linux-gnu-
	export SELFTESTS_LIST=${SELFTESTS_LIST:-$repo/ci/selftests-arm64.txt}
	;;
*) echo "error: ARCH=$ARCH: make test runs on x86 or arm64" >&2 && exit 1 ;;
esac
. "$repo/ci/lib.sh"

list=${SELFTESTS_LIST:-$REPO_DIR/ci/selftests.txt}
listed=$(grep -v '^#' "$list" | grep . || true)
usage_tests() {
	echo "tests ($list):" >&2
	sed 's/^/  /' <<<"$listed" >&2
}
[ -n "${T:-}" ] || { usage_tests; die "say which test: make test T=<collection>:<test>"; }
grep -qxF "$T" <<<"$listed" || { usage_tests; die "unknown test '$T'"; }
collection=${T%%:*}
test=${T#*:}

"$REPO_DIR/ci/gen-patches.sh" patches
if [ "$target" = arm64 ]; then
	KERNEL_CONFIGS=kernel-arm64.config W1=0 "$REPO_DIR/ci/build-kernel.sh" Image
else
	W1=0 "$REPO_DIR/ci/build-kernel.sh"
fi
"$REPO_DIR/ci/build-selftests.sh"

bin=$BUILD/kselftest/$collection/$test
[ -x "$bin" ] || die "$bin was not installed"
if [ -n "${CASE:-}" ]; then
	# Only kselftest_harness programs have cases; they list them without running any.
	grep -q "list all tests" "$bin" || die "$T has no cases to pick (not a kselftest_harness program)"
	if [ "$target" = x86 ]; then
		cases=$({ "$bin" -l 2>&1 >/dev/null || true; } | "$REPO_DIR/ci/harness-cases.py")
	else
		cases=$("$REPO_DIR/ci/harness-cases-source.py" \
			"$TREE/tools/testing/selftests/$collection/$test.c" __aarch64__)
	fi
	grep -qxF "$CASE" <<<"$cases" || {
		echo "cases of $T:" >&2
		sed 's/^/  /' <<<"$cases" >&2
		die "unknown case '$CASE' of $T"
	}
fi

out=$BUILD/test-one
if [ "$target" = arm64 ]; then
	# The arm64 init runs the tests of a list, with their arguments.
	one=$BUILD/test-one.txt
	echo "$T${CASE:+ -r $CASE}" >"$one"
	SELFTESTS_LIST=$one GUEST_DIR=$out BOOT_TIMEOUT=${BOOT_TIMEOUT:-900} \
		"$REPO_DIR/ci/boot-arm64.sh"
	sed 's/^# //' "$out/tests/$(basename "$test")" >"$out/test.tap"
	sed -n 's/^not ok .* # exit=\([0-9]*\)$/\1/p; s/^ok .* # SKIP$/4/p; s/^ok .*/0/p' \
		"$out/selftests.tap" | head -n 1 >"$out/rc"
else
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
fi
cat "$out/test.tap"
rc=$(cat "$out/rc")
# -r with a case that matches nothing runs no test and exits 0.
if [ -n "${CASE:-}" ] && ! grep -qE "^(not )?ok [0-9]+ ${CASE//./\\.}( |$)" "$out/test.tap"; then
	echo "test: $CASE did not run" >&2
	rc=${rc:-1}
	[ "$rc" != 0 ] || rc=1
fi
dmesg_ok=0
GUEST_DIR=$out "$REPO_DIR/ci/check-dmesg.sh" || dmesg_ok=1
echo "test: $T${CASE:+ ($CASE)}$([ "$target" = arm64 ] && echo " on arm64") exited ${rc:-without a result}, guest kernel log $([ "$dmesg_ok" = 0 ] && echo clean || echo "has findings")"
[ "${rc:-1}" = 0 ] && [ "$dmesg_ok" = 0 ]
