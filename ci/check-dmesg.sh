#!/bin/bash
# Stage "dmesg": the guest's kernel log must hold no warning, bug, oops, lockdep,
# KASAN/KFENCE/UBSAN report, Rust panic or KVM internal error.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dmesg=$BUILD/guest/dmesg.txt
[ -f "$dmesg" ] || die "no guest kernel log: run 'make boot'"
# The log must start at boot: a wrapped ring buffer may have lost findings.
head -n 1 "$dmesg" | grep -q '^\[ *0\.000000\]' ||
	die "the guest kernel log does not start at boot (ring buffer wrapped?), see $dmesg"

pattern='WARNING:|BUG:|Oops|Kernel panic|general protection fault|Call Trace:'
pattern+='|possible circular locking|possible recursive locking|inconsistent lock state'
pattern+='|KASAN:|KFENCE:|UBSAN:|kmemleak:.*leak|rust_panic|panicked at'
pattern+='|kvm.*internal error|KVM_EXIT_INTERNAL_ERROR'
if grep -E "$pattern" "$dmesg" >"$LOGS/dmesg-findings.log"; then
	head -20 "$LOGS/dmesg-findings.log"
	die "the guest kernel log has findings, see $LOGS/dmesg-findings.log"
fi
