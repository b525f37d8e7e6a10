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
	args+=(-t "$t")
done <"$list"

# KUnit suites of built-in code ran during boot: keep their KTAP before the tests log more.
dmesg >"$out/dmesg-boot.txt"

cd "$install" || exit 1
# The top-level TAP on stdout; each test's own (nested) TAP in $out/tests/<test>:
# the runner writes test output to /dev/stdout, which in the guest is the console.
# --override-timeout: the 1 GiB cycles of guest_memfd_no_direct_map_test take
# about two minutes under TCG, more than the kvm collection's 120 s.
./run_kselftest.sh --override-timeout 900 -p "$out/tests" "${args[@]}" >"$out/selftests.tap" 2>&1
echo $? >"$out/selftests.rc"
dmesg >"$out/dmesg.txt"
echo done >"$out/finished"
