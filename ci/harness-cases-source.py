#!/usr/bin/env python3
"""Print the case names (fixture[.variant].test, as -r takes them) of a
kselftest_harness program from its C source, for an architecture whose binary
cannot run here (make test ARCH=arm64: the KVM selftest library opens /dev/kvm
before the harness could list anything).

Usage: harness-cases-source.py SOURCE MACRO...
Keeps the lines that the conditionals leave in with the given macros defined
(e.g. __aarch64__; all others undefined; an #if it cannot evaluate is an
error), then takes TEST(),
TEST_F()/TEST_F_TIMEOUT() and FIXTURE_VARIANT_ADD(); a case is every variant of
a fixture with every test of it, as the harness runs them.
"""
import re
import sys

source, defined = sys.argv[1], set(sys.argv[2:])


def evaluate(expr):
    """The value of an #if expression of defined(), !, &&, || and parentheses
    over the macros given; anything else is an error, not a guess."""
    expr = re.sub(r"/\*.*?\*/|//.*", "", expr)
    expr = re.sub(r"defined\s*\(\s*(\w+)\s*\)|defined\s+(\w+)",
                  lambda m: str((m.group(1) or m.group(2)) in defined), expr)
    expr = expr.replace("&&", " and ").replace("||", " or ")
    expr = re.sub(r"!(?!=)", " not ", expr)
    expr = re.sub(r"\b(?!True\b|False\b|and\b|or\b|not\b)([A-Za-z_]\w*)\b",
                  lambda m: str(m.group(1) in defined), expr)
    if not re.fullmatch(r"(\s|True|False|and|or|not|\d+|\(|\))*", expr):
        sys.exit(f"{source}: cannot evaluate #if {expr.strip()}")
    return bool(eval(expr))


def active_lines(lines):
    # One entry per open #if: [this branch kept, a branch of it was taken,
    # the lines around the #if are kept].
    stack = []
    for line in lines:
        m = re.match(r"\s*#\s*(ifdef|ifndef|if|elif|else|endif)\b(.*)", line)
        if not m:
            if all(entry[0] for entry in stack):
                yield line
            continue
        word, rest = m.group(1), m.group(2).strip()
        outer = all(entry[0] for entry in stack)
        if word in ("ifdef", "ifndef"):
            on = (rest.split()[0] in defined) == (word == "ifdef")
            stack.append([outer and on, on, outer])
        elif word == "if":
            on = evaluate(rest)
            stack.append([outer and on, on, outer])
        elif word == "elif":
            entry = stack[-1]
            on = not entry[1] and evaluate(rest)
            entry[0], entry[1] = entry[2] and on, entry[1] or on
        elif word == "else":
            entry = stack[-1]
            entry[0], entry[1] = entry[2] and not entry[1], True
        else:
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
