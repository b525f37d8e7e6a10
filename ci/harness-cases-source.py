#!/usr/bin/env python3
"""Print the case names (fixture[.variant].test, as -r takes them) of a
kselftest_harness program from its C source, for an architecture whose binary
cannot run here (make test ARCH=arm64: the KVM selftest library opens /dev/kvm
before the harness could list anything).

Usage: harness-cases-source.py SOURCE MACRO...
Keeps the lines that "#ifdef"/"#ifndef"/"#if defined()" blocks on the given
macros (e.g. __aarch64__; others undefined) leave in, then takes TEST(),
TEST_F()/TEST_F_TIMEOUT() and FIXTURE_VARIANT_ADD(); a case is every variant of
a fixture with every test of it, as the harness runs them.
"""
import re
import sys

source, defined = sys.argv[1], set(sys.argv[2:])


def active_lines(lines):
    stack = []  # one bool per open #if: whether its current branch is kept
    for line in lines:
        m = re.match(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", line)
        if not m:
            if all(stack):
                yield line
            continue
        word, rest = m.group(1), m.group(2)
        macro = re.search(r"\w+", rest.replace("defined", "", 1))
        on = bool(macro) and macro.group(0) in defined
        if word in ("ifdef", "if"):
            stack.append(on if word == "ifdef" or "defined" in rest else True)
        elif word == "ifndef":
            stack.append(not on)
        elif word in ("else", "elif") and stack:
            stack[-1] = not stack[-1] if word == "else" else on
        elif word == "endif" and stack:
            stack.pop()


variants, tests = {}, []
with open(source) as f:
    for line in active_lines(f):
        m = re.match(r"FIXTURE_VARIANT_ADD\((\w+),\s*(\w+)\)", line)
        if m:
            variants.setdefault(m.group(1), []).append(m.group(2))
            continue
        m = re.match(r"TEST(?:_TIMEOUT)?\((\w+)", line)
        if m:
            tests.append(("global", m.group(1)))
            continue
        m = re.match(r"TEST_F(?:_TIMEOUT)?\((\w+),\s*(\w+)", line)
        if m:
            tests.append((m.group(1), m.group(2)))

for fixture, test in tests:
    for variant in variants.get(fixture, [""]):
        print(".".join(p for p in (fixture, variant, test) if p))
