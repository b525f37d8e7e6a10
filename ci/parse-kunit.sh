#!/bin/bash
# Stage "kunit": parse the KTAP in the guest's boot log with the kernel's own
# tools/testing/kunit/kunit.py into build/guest/kunit.json.
set -euo pipefail
. "$(dirname "$0")/lib.sh"

dmesg=$BUILD/guest/dmesg-boot.txt
[ -f "$dmesg" ] || die "no guest kernel log: run 'make boot'"
python3 "$TREE/tools/testing/kunit/kunit.py" parse --json="$BUILD/guest/kunit.json" \
	"$dmesg" >"$LOGS/kunit.log" 2>&1 || true
tail -n 3 "$LOGS/kunit.log"
[ -s "$BUILD/guest/kunit.json" ] || die "kunit.py produced no results, see $LOGS/kunit.log"
