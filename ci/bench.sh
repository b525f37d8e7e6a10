#!/bin/bash
# `make bench [REPS=5]`: what GUEST_MEMFD_FLAG_NO_DIRECT_MAP costs against plain
# guest_memfd. Builds the series kernel (as `make build`) and bench/gmem_ndm_bench.c
# against the series' KVM selftest library, boots the kernel under virtme-ng (TCG,
# as `make check`, but with KUnit off: its tests would take fresh memory out of
# the direct map), runs the benchmark there and prints the table
# (ci/bench-table.py). Reports; passes or fails only on errors, never on numbers.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=$BUILD/bench
bin=$out/bin
reps=${REPS:-5}
mkdir -p "$out" "$LOGS"
rm -rf "$out/guest" "$bin"
mkdir -p "$out/guest" "$bin"

"$REPO_DIR/ci/build-kernel.sh"

OUT=$bin LOG=$LOGS/bench-build.log build_on_selftest_lib "$REPO_DIR/bench/gmem_ndm_bench.c"

cat >"$out/run.sh" <<-RUN
	#!/bin/bash
	"$bin/gmem_ndm_bench" $reps >"$out/guest/samples.txt" 2>&1
	echo \$? >"$out/guest/rc"
RUN
chmod +x "$out/run.sh"
echo "bench: virtme-ng under TCG, $reps repetitions (about $((20 * reps)) s)"
vng_shares
timeout --kill-after=30 1200 \
	vng --run "$KOUT/arch/x86/boot/bzImage" --disable-kvm --disable-microvm \
	--qemu-opts="-cpu max,vendor=AuthenticAMD" \
	--cpus 2 --memory 4G --user root "${shares[@]}" --rwdir="$out/guest" \
	--append kunit.enable=0 \
	--exec "$out/run.sh" </dev/null >"$LOGS/bench-boot.log" 2>&1 || true
[ "$(cat "$out/guest/rc" 2>/dev/null)" = 0 ] || {
	tail -20 "$out/guest/samples.txt" >&2 || true
	die "the benchmark did not finish, see $out/guest/samples.txt and $LOGS/bench-boot.log"
}
python3 "$REPO_DIR/ci/bench-table.py" "$out/guest/samples.txt" | tee "$out/table.txt"
