#!/usr/bin/env python3
"""The table of `make bench`, from the samples gmem_ndm_bench printed.

Per measure: the median and the spread (min-max) of plain guest_memfd and of
guest_memfd with GUEST_MEMFD_FLAG_NO_DIRECT_MAP, and their ratio (ndm/plain)
with its target where the issue set one. Then the IPI counts of the batched
(fallocate) and unbatched (fault) paths; a kernel read() of the pages of one
memfd that the direct map maps with 4 KiB entries (where closed ndm files left
it split) against those it maps large; and the direct map at each point the
benchmark printed it.
Usage: bench-table.py SAMPLES_FILE
"""
import statistics
import sys
from collections import defaultdict

TITLES = [
    ("user_fault_ns_per_page", "userspace first touch, 256 MiB (ns/page)", 1.3),
    ("fallocate_ms", "fallocate of 256 MiB (ms)", 1.5),
    ("fallocate_fresh_ms", "fallocate of 256 MiB, memory fresh from boot (ms)", 1.5),
    ("fallocate_then_write_ms", "fallocate of 256 MiB, then each page written (ms)", None),
    ("punch_hole_ms", "punch hole over 256 MiB (ms)", None),
    ("close_ms", "close with 256 MiB allocated (ms)", None),
    ("user_fault_1cpu_ns_per_page", "userspace first touch, CPU 1 offline: no IPIs (ns/page)", None),
    ("guest_touch_ns_per_page", "guest first touch, 256 MiB slot (ns/page)", 1.2),
    ("call_ipis_fallocate", "function-call IPIs, fallocate 256 MiB (batches of 1024)", None),
    ("call_ipis_fault", "function-call IPIs, faulting 256 MiB in (windows of 16)", None),
    ("call_ipis_fault_1cpu", "function-call IPIs, the same with CPU 1 offline", None),
]

# Measures that compare two kinds of memory rather than plain and ndm.
KERNEL_TITLES = [
    ("kernel_read_ns_per_page", "kernel read() of a memfd's pages (ns/page)"),
]


def main(path):
    samples = defaultdict(list)
    meminfo = {}
    kread = {}
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
            elif words[:1] == ["kread"]:
                # kread <4k|large> <n> pages <n> reads
                kread[words[1]] = (int(words[2]), int(words[4]))
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
        # A count of IPIs is no cost: no ratio for those rows.
        ratio = f"{n / p:.2f}" if p and not key.startswith("call_ipis") else "-"
        print(f"{title:58} {cell(plain):>26} {cell(ndm):>26} {ratio:>9}"
              f" {('<= ' + str(target)) if target else '':>7}")
    for key, title in KERNEL_TITLES:
        large, small = samples.get((key, "large")), samples.get((key, "4k"))
        if not large or not small:
            continue
        lm, sm = statistics.median(large), statistics.median(small)
        print(f"\n{'a split direct map, under TCG (page walks, no TLB reach)':58} {'large entries':>26}"
              f" {'4 KiB entries':>26} {'4k/large':>9}")
        print(f"{title:58} {cell(large):>26} {cell(small):>26} {sm / lm if lm else 0:>9.2f}")
        if kread:
            share = [f"{kread[k][0] * 4 // 1024} MiB in {kread[k][1]} reads" if k in kread else "-"
                     for k in ("large", "4k")]
            print(f"{'  pages read, each time':58} {share[0]:>26} {share[1]:>26}")
    if meminfo:
        sizes = ["DirectMap4k", "DirectMap2M", "DirectMap1G"]
        print(f"\n{'direct map (kB, /proc/meminfo)':32}" + "".join(f"{n:>14}" for n in sizes))
        for when, fields in meminfo.items():
            print(f"{when:32}" + "".join(f"{fields.get(n, '-'):>14}" for n in sizes))


if __name__ == "__main__":
    main(sys.argv[1])
