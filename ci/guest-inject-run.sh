#!/bin/bash
# Runs inside the fault-injection guest of `make check-debug` (no debug_pagealloc,
# no KFENCE sampling: the direct map keeps large entries to split and changes only
# for the series): the fault injection program, then a kmemleak scan. Results go to
# files in $1 (a --rwdir).
set -u
out=$1
tools=$2

# kmemleak scans when asked, not in the background (see ci/guest-debug-run.sh).
[ -e /sys/kernel/debug/kmemleak ] || mount -t debugfs debugfs /sys/kernel/debug
echo scan=off >/sys/kernel/debug/kmemleak

"$tools/gmem_ndm_inject" >"$out/inject.tap" 2>&1
echo $? >"$out/inject.rc"

"$(dirname "$0")/guest-kmemleak.sh" "$out"
dmesg >"$out/dmesg.txt"
echo done >"$out/finished"
