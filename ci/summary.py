#!/usr/bin/env python3
"""Print what `make check` proved: one line per check, then the counts last.

Reads build/results.tsv (stage results), build/guest/selftests.tap (run_kselftest.sh)
and build/guest/tests/<test> (each test's own TAP),
build/guest/kunit.json (kunit.py parse) and ci/selftests.txt (what must have run;
SELFTESTS_LIST names another list).
A listed selftest without a result, an empty TAP or no KUnit result is a failure.
Exits 1 if anything failed.

With --debug (`make check-debug`, BUILD=build/debug) also the stress and fault
injection programs of debug/ (build/debug/guest/stress.tap,
build/debug/guest-inject/inject.tap), the kmemleak reports and the dmesg
findings of both guests; the last line then counts tests, injected failures,
splats and leaks.
"""
import json
import os
import re
import sys

repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
build = os.environ.get("BUILD", os.path.join(repo, "build"))
results = []  # (status, name)
reasons = {}  # name of a failed result -> the lines its log gave before "not ok"


def add(status, name):
    results.append((status, name))


def read_stage_results():
    path = os.path.join(build, "results.tsv")
    if not os.path.exists(path):
        return
    with open(path) as f:
        for line in f:
            status, _, name = line.rstrip("\n").partition("\t")
            add(status, name)


TOP = re.compile(r"^(not ok|ok) \d+ selftests: (\S+): (\S+)(.*)$")
SUB = re.compile(r"^# (not ok|ok) \d+ (.*?)\s*$")


def status_of(word, rest):
    if "# SKIP" in rest:
        return "skip"
    return "pass" if word == "ok" else "fail"


RUN = re.compile(r"^[# ]*RUN\s")


def tap_results(path, pattern):
    """(status, name, why) of each result line of the TAP at path that pattern
    matches (group 1 "ok" or "not ok", group 2 the name and directive); why is,
    for a failure, the last lines the log gave since the case's "RUN" line (the
    harness's assertion messages)."""
    found, lines = [], []
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                line = line.rstrip("\n")
                m = pattern.match(line)
                if not m:
                    lines = [] if RUN.match(line) else lines + [line]
                    continue
                name = re.sub(r"\s*# SKIP.*", "", m.group(2))
                status = status_of(m.group(1), m.group(2))
                found.append((status, name, lines[-8:] if status == "fail" else []))
                lines = []
    return found


def subtests(test):
    """Nested results of one test from its own log (run_kselftest.sh -p)."""
    return tap_results(os.path.join(build, "guest", "tests", test), SUB)


def read_selftests():
    with open(os.environ.get("SELFTESTS_LIST", os.path.join(repo, "ci", "selftests.txt"))) as f:
        listed = [l.strip() for l in f if l.strip() and not l.startswith("#")]
    path = os.path.join(build, "guest", "selftests.tap")
    seen = set()
    if os.path.exists(path):
        with open(path, errors="replace") as f:
            for line in f:
                m = TOP.match(line.rstrip("\n"))
                if not m:
                    continue
                test = f"{m.group(2)}:{m.group(3)}"
                seen.add(test)
                for status, name, why in subtests(m.group(3)):
                    add(*checked_skip(m.group(3), status, f"selftest {test}: {name}"))
                    if why:
                        reasons[f"selftest {test}: {name}"] = why
                add(*checked_skip(m.group(3), status_of(m.group(1), m.group(4)),
                                  f"selftest {test}"))
    for test in listed:
        collection, _, name = test.partition(":")
        if f"{collection}:{os.path.basename(name)}" not in seen:
            add("fail", f"selftest {test}: no result (not run, crashed or empty TAP)")


# Tests that must not skip anything on the series kernel, which offers all they need
# (GUEST_MEMFD_FLAG_NO_DIRECT_MAP, io_uring, loop devices): test -> why.
MUST_NOT_SKIP = {
    "guest_memfd_test": "the series kernel must offer GUEST_MEMFD_FLAG_NO_DIRECT_MAP",
    "guest_memfd_no_direct_map_test": "the series kernel offers all this test needs",
}


# Skips that are right on the debug kernel: result name -> why.
DEBUG_MAY_SKIP = {
    "selftest kvm:guest_memfd_no_direct_map_test: cycles.direct_map_removed_and_restored":
        "debug_pagealloc unmaps free pages too, so the page table dump cannot tell ours",
    "selftest kvm:guest_memfd_no_direct_map_test: kernel_read.plain.after_close":
        "debug_pagealloc unmaps free pages, so a kernel read cannot see freed plain data",
    "selftest kvm:guest_memfd_no_direct_map_test: kernel_read.no_direct_map.after_close":
        "debug_pagealloc unmaps free pages, so a kernel read finds nothing either way",
}
debug = "--debug" in sys.argv[1:]


def checked_skip(test, status, name):
    """A skip of a test in MUST_NOT_SKIP is a failure, saying so."""
    if status == "skip" and debug and name in DEBUG_MAY_SKIP:
        return status, f"{name} (skipped: {DEBUG_MAY_SKIP[name]})"
    if status == "skip" and test in MUST_NOT_SKIP:
        return "fail", f"{name} (skipped: {MUST_NOT_SKIP[test]})"
    return status, name


def walk_kunit(node, prefix):
    name = f"{prefix}.{node['name']}" if prefix else node["name"]
    for case in node.get("test_cases", []):
        add(case["status"].lower().replace("passed", "pass"), f"kunit {name}.{case['name']}")
    for group in node.get("sub_groups", []):
        walk_kunit(group, name if prefix else "")


def read_kunit():
    path = os.path.join(build, "guest", "kunit.json")
    if not os.path.exists(path):
        add("fail", "kunit: no results")
        return
    with open(path) as f:
        data = json.load(f)
    before = len(results)
    walk_kunit(data, "")
    if len(results) == before:
        add("fail", "kunit: no test cases in the kernel log")


def normalise(status):
    return {"pass": "pass", "fail": "fail", "skip": "skip", "error": "fail"}.get(status, "fail")


KTAP = re.compile(r"^(not ok|ok) \d+ (.*?)\s*$")


def read_debug_program(guest, tap, program):
    """The results of a debug/ program from its TAP; a non-zero exit without a
    failed result (a crash, an assertion outside a case) is a failure too."""
    found = [(status, f"{program}: {name}")
             for status, name, _ in tap_results(os.path.join(build, guest, tap), KTAP)]
    for status, name in found:
        add(status, name)
    if not found:
        add("fail", f"{program}: no result (not run, crashed or empty TAP)")
        return
    rc_path = os.path.join(build, guest, tap.replace(".tap", ".rc"))
    rc = open(rc_path).read().strip() if os.path.exists(rc_path) else "missing"
    if rc != "0" and all(status != "fail" for status, _ in found):
        add("fail", f"{program}: exit status {rc}")


def injected_failures():
    path = os.path.join(build, "guest-inject", "inject.tap")
    if not os.path.exists(path):
        return 0
    with open(path, errors="replace") as f:
        return sum(int(m.group(1)) for m in
                   re.finditer(r"^# injected failures: (\d+)$", f.read(), re.M))


def count_lines(path, pattern=None):
    with open(path, errors="replace") as f:
        return sum(1 for line in f if pattern is None or pattern in line)


def splats_and_leaks():
    """Reports in the kernel logs of both guests (ci/check-dmesg.sh's findings),
    and objects kmemleak reported; a missing log or scan is a failure."""
    splats = leaks = 0
    for guest in ("guest", "guest-inject"):
        findings = os.path.join(build, "logs", f"dmesg-findings-{guest}.log")
        if os.path.exists(findings):
            splats += count_lines(findings)
        else:
            add("fail", f"dmesg of {guest}: not checked")
        report = os.path.join(build, guest, "kmemleak.txt")
        if os.path.exists(report) and not open(report).read().startswith("no "):
            n = count_lines(report, "unreferenced object")
            leaks += n
            add("pass" if n == 0 else "fail", f"kmemleak scan of {guest}: {n} leaks")
        else:
            add("fail", f"kmemleak scan of {guest}: no report")
    return splats, leaks


def main():
    read_stage_results()
    if os.path.exists(os.path.join(build, "guest")):
        read_selftests()
        read_kunit()
    if debug:
        read_debug_program("guest", "stress.tap", "stress gmem_ndm_stress")
        if os.path.exists(os.path.join(build, "guest", "stress-hang.txt")):
            add("fail", "stress gmem_ndm_stress: did not end, kernel stacks in "
                "build/debug/guest/stress-hang.txt")
        read_debug_program("guest-inject", "inject.tap", "inject gmem_ndm_inject")
        splats, leaks = splats_and_leaks()
    counts = {"pass": 0, "fail": 0, "skip": 0}
    tests = 0
    for status, name in results:
        status = normalise(status)
        counts[status] += 1
        tests += not name.startswith("stage ")
        print(f"{status.upper():4}  {name}")
    for name, lines in reasons.items():
        print(f"why {name} failed:")
        for line in lines:
            print(f"    {line}")
    print(f"{counts['pass']} passed, {counts['fail']} failed, {counts['skip']} skipped")
    if debug:
        print(f"debug kernel: {tests} tests run, {injected_failures()} injected failures, "
              f"{splats} splats, {leaks} leaks")
        if splats or leaks:
            return 1
    return 1 if counts["fail"] or not results else 0


if __name__ == "__main__":
    sys.exit(main())
