#!/usr/bin/env python3
"""Print the case names (fixture[.variant].test, as -r takes them) of a
kselftest_harness program from its "-l" table on stdin.

The table zips each fixture's variants and tests into fixed-width columns
(20 and 25 characters); a case is every variant with every test.
"""
import sys


def blocks(lines):
    block = []
    for line in lines:
        if line.startswith("# FIXTURE"):
            continue
        if line.startswith("-----"):
            yield block
            block = []
        elif line.strip():
            block.append(line.rstrip("\n"))
    yield block


for block in blocks(sys.stdin):
    if not block:
        continue
    fixture = block[0][:20].strip()
    variants = [l[21:46].strip() for l in block if l[21:46].strip()] or [""]
    tests = [l[47:].strip() for l in block if l[47:].strip()]
    for variant in variants:
        for test in tests:
            print(".".join(p for p in (fixture, variant, test) if p))
