#!/bin/bash
# Runs inside the debug guest of `make check-debug` (debug_pagealloc=on): the
# selftests as in `make check` (ci/guest-run.sh), then the stress program, then a
# kmemleak scan. Results go to files in $1 (a --rwdir).
set -u
out=$1
install=$2
list=$3
tools=$4
seconds=${5:-60}

# kmemleak scans when asked (ci/guest-kmemleak.sh), not in the background: its
# periodic scan of all memory would compete with the tests for the two vCPUs.
[ -e /sys/kernel/debug/kmemleak ] || mount -t debugfs debugfs /sys/kernel/debug
echo scan=off >/sys/kernel/debug/kmemleak

"$(dirname "$0")/guest-run.sh" "$out" "$install" "$list"
rm -f "$out/finished"

# A stress run that does not end is a finding: after four times its length and
# two minutes, the kernel stacks of its threads go to stress-hang.txt and it is
# killed (its TAP then lacks results, which the summary counts as failures),
# with KVM's fault and exit counters taken twice.
"$tools/gmem_ndm_stress" "$seconds" 4 >"$out/stress.tap" 2>&1 &
pid=$!
limit=$((seconds * 4 + 120))
for ((waited = 0; waited < limit; waited += 5)); do
	kill -0 "$pid" 2>/dev/null || break
	sleep 5
done
if kill -0 "$pid" 2>/dev/null; then
	{
		for task in /proc/"$pid"/task/*; do
			echo "--- $(cat "$task/comm") $(awk '{ print $3 }' "$task/stat")"
			cat "$task/stack"
		done
		# A thread running shows no kernel stack: are KVM's faults and
		# exits still counting, 5 s apart?
		for when in before after; do
			echo "--- KVM counters, $when"
			grep . /sys/kernel/debug/kvm/{exits,pf_taken,pf_fixed,pf_spurious,pf_emulate,pf_guest,io_exits,mmio_exits} 2>&1
			[ "$when" = after ] || sleep 5
		done
	} >"$out/stress-hang.txt" 2>&1
	kill -9 "$pid"
fi
wait "$pid"
echo $? >"$out/stress.rc"

"$(dirname "$0")/guest-kmemleak.sh" "$out"
dmesg >"$out/dmesg.txt"
echo done >"$out/finished"
