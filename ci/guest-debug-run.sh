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

"$(dirname "$0")/guest-run.sh" "$out" "$install" "$list"
rm -f "$out/finished"

"$tools/gmem_ndm_stress" "$seconds" 4 >"$out/stress.tap" 2>&1
echo $? >"$out/stress.rc"

"$(dirname "$0")/guest-kmemleak.sh" "$out"
dmesg >"$out/dmesg.txt"
echo done >"$out/finished"
