#!/usr/bin/env python3
"""The table of `make bench`, from the samples gmem_ndm_bench printed.

Per measure: the median and the spread (min-max) of plain guest_memfd and of
guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP, and their ratio (ndm/plain)
with its target where the issue set one. Then the IPI counts of the batched
(fallocate) and unbatched (fault) paths, and the direct map at each point the
benchmark printed it.
Usage: bench-table.py SAMPLES_FILE
"""
import statistics
import sys
from collections import defaultdict

TITLES = [
    ("user_fault_ns_per_page", "userspace first touch, 256 MiB (ns/page)", 1.3),
    ("fallocate_ms", "fallocate of 256 MiB (ms)", 1.5),
    ("punch_hole_ms", "punch hole over 256 MiB (ms)", None),
    ("close_ms", "close with 256 MiB allocated (ms)", None),
    ("guest_touch_ns_per_page", "guest first touch, 256 MiB slot (ns/page)", 1.2),
    ("call_ipis_fallocate", "function-call IPIs, fallocate 256 MiB (batches of 32)", None),
    ("call_ipis_fault", "function-call IPIs, faulting 256 MiB in (windows of 16)", None),
]


def main(path):
    samples = defaultdict(list)
    meminfo = {}
    header = ""
    with open(path) as f:
        for line in f:
            words = line.split()
            if words[:1] == ["sample"]:
                samples[(words[1], words[2])].append(float(words[4]))
            elif words[:1] == ["meminfo"]:
                # meminfo <when> DirectMap4k: <n> kB
                meminfo.setdefault(words[1], {})[words[2].rstrip(":")] = int(words[3])
            elif words[:1] == ["cpus"]:
                header = line.strip()
    if not samples:
        sys.exit("bench-table: no samples (did the benchmark run?)")

    print(f"guest_memfd with NO_DIRECT_MAP (ndm) against plain guest_memfd; {header}")
    print(f"{'measure':58} {'plain median (min-max)':>26} {'ndm median (min-max)':>26}"
          f" {'ndm/plain':>9} {'target':>7}")

    def cell(values):
        return f"{statistics.median(values):.1f} ({min(values):.1f}-{max(values):.1f})"

    for key, title, target in TITLES:
        plain, ndm = samples.get((key, "plain")), samples.get((key, "ndm"))
        if not plain or not ndm:
            print(f"{title:58} missing")
            continue
        p, n = statistics.median(plain), statistics.median(ndm)
        ratio = f"{n / p:.2f}" if p else "-"
        print(f"{title:58} {cell(plain):>26} {cell(ndm):>26} {ratio:>9}"
              f" {('<= ' + str(target)) if target else '':>7}")
    if meminfo:
        sizes = ["DirectMap4k", "DirectMap2M", "DirectMap1G"]
        print(f"\n{'direct map (kB, /proc/meminfo)':32}" + "".join(f"{n:>14}" for n in sizes))
        for when, fields in meminfo.items():
            print(f"{when:32}" + "".join(f"{fields.get(n, '-'):>14}" for n in sizes))


if __name__ == "__main__":
    main(sys.argv[1])
