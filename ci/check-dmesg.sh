#!/bin/bash
# Stage "dmesg": the guest's kernel log must hold no warning, bug, oops, lockdep,
# KASAN/KFENCE/UBSAN report, kmemleak report, Rust panic, KVM internal error, hung
# task or RCU stall.
# GUEST_DIR: the guest's results (default build/guest). A guest that did not
# finish (panic_on_warn in `make check-debug`) is judged by its console log.
# The reports found are in $LOGS/dmesg-findings-<guest>.log, one line each.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

out=${GUEST_DIR:-$BUILD/guest}
name=$(basename "$out")
dmesg=$out/dmesg.txt
findings=$LOGS/dmesg-findings-$name.log
if [ -f "$dmesg" ]; then
	# The log must start at boot: a wrapped ring buffer may have lost findings.
	head -n 1 "$dmesg" | grep -q '^\[ *0\.000000\]' ||
		die "the guest kernel log does not start at boot (ring buffer wrapped?), see $dmesg"
else
	dmesg=$LOGS/boot-$name.log
	[ -f "$dmesg" ] || die "no guest kernel log: run 'make boot'"
	echo "dmesg: the guest did not save its log; reading its console, $dmesg"
fi

# The first line of each report; the call traces that follow them are not counted.
pattern='WARNING:|BUG:|Oops|Kernel panic|general protection fault'
pattern+='|possible circular locking|possible recursive locking|inconsistent lock state'
pattern+='|KASAN:|KFENCE:|UBSAN:|kmemleak: [0-9]+ new suspected memory leak|rust_panic|panicked at'
pattern+='|kvm.*internal error|KVM_EXIT_INTERNAL_ERROR'
pattern+='|INFO: task .* blocked for more than|detected stalls? on'
grep -E "$pattern" "$dmesg" >"$findings" || true
# A call trace without one of those headers is a finding too ("Call Trace:" on
# x86, "Call trace:" on arm64).
[ -s "$findings" ] || grep -i "call trace:" "$dmesg" >"$findings" || true
if [ -s "$findings" ]; then
	head -20 "$findings"
	die "the guest kernel log has $(wc -l <"$findings") findings, see $findings"
fi
