#!/bin/bash
# Runs inside a `make check-debug` guest: a kmemleak scan, its report in
# $1/kmemleak.txt. Objects are reported once they are older than 5 s and were
# unreferenced in a scan, so it waits and scans twice.
set -u
out=$1
leaks=/sys/kernel/debug/kmemleak

[ -e "$leaks" ] || mount -t debugfs debugfs /sys/kernel/debug
if [ ! -w "$leaks" ]; then
	echo "no $leaks" >"$out/kmemleak.txt"
	exit 1
fi
sleep 6
echo scan >"$leaks"
sleep 6
echo scan >"$leaks"
cat "$leaks" >"$out/kmemleak.txt"
