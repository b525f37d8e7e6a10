#!/bin/bash
# Runs inside the virtme-ng guest as root: the selftests of ci/selftests.txt through
# run_kselftest.sh, then the kernel log. Everything goes to files in $1 (a --rwdir).
set -u
out=$1
install=$2
list=$3

args=()
while read -r t; do
	case "$t" in '' | '#'*) continue ;; esac
	args+=(-t "kvm:$t")
done <"$list"

cd "$install" || exit 1
./run_kselftest.sh "${args[@]}" >"$out/selftests.tap" 2>&1
echo $? >"$out/selftests.rc"
dmesg >"$out/dmesg.txt"
echo done >"$out/finished"
