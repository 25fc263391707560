"""The memory-virtualization benchmark (`vkernel bench memory`): page-table-heavy work
and TLB-friendly compute under every way of virtualizing memory.

The workloads are the shipped guest kernel's (vkernel/guests), each N operations done by
the kernel itself, through the same page-table code in both twins (natively a store and a
fence, para-virtualized an mmu_update or mmuext_op hypercall):

    map-unmap    map a user page, touch it, unmap it (mmap, page fault, munmap)
    as-switch    switch to a second address space and back, touching a page in each
    fork-copy    copy the user mappings read-only into a child's table, switch there and
                 back, flush the child's translations (fork without the process)
    page-fault   first touches of demand-paged heap pages
    pte-update   rewrites of a kernel PTE, each fenced
    call-return  calls of an empty kernel function: compute that stays in the TLB

Each runs under each configuration (CONFIGS: a technique and its memory options): native;
shadow page tables kept simply or write-protected, under trap-and-emulate and binary
translation; para-virtual direct paging; hardware assistance with shadow tables (first-
generation VT-x) or nested paging, the latter with and without a page-walk cache. Twice,
with N1 and N2 operations: the difference is what N2 - N1 operations cost, so boot and
printing drop out (as in bench_virt.py). Reported per operation: translations (the
machine's TLB misses: each one a page-table walk), walk references (page-table entries
the machine read), VM exits, hypervisor events by kind, modelled cycles
(vkernel.hv.cost's defaults, from ds.vk.cost()); and the simulation's own speed (machine
steps per second of the N2 run). Counts come from real execution, cycles from the model.

A configuration whose option this version of vkernel does not have (say walk_cache) is
reported as skipped, not an error: --configs chooses which to run.

    python benchmarks/bench_memory.py [--n1 N] [--n2 N] [--workloads A,B] [--configs A,B]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
WORKLOADS = ("map-unmap", "as-switch", "fork-copy", "page-fault", "pte-update",
             "call-return")
# name -> (technique, VM options). Nested paging without a walk cache passes no
# walk_cache option, so that it runs on versions that do not have one.
CONFIGS: dict[str, tuple[str, dict]] = {
    "native": ("native", {}),
    "te-shadow": ("trap-emulate", {"shadow": "simple"}),
    "te-shadow-wp": ("trap-emulate", {"shadow": "write-protect"}),
    "bt-shadow": ("binary-translation", {"shadow": "simple"}),
    "bt-shadow-wp": ("binary-translation", {"shadow": "write-protect"}),
    "pv-direct": ("paravirt", {}),
    "hw-shadow": ("hardware", {"paging": "shadow"}),
    "hw-nested": ("hardware", {"paging": "nested"}),
    "hw-nested-wc": ("hardware", {"paging": "nested", "walk_cache": True}),
}


class Unavailable(Exception):
    """A configuration this version of vkernel cannot build."""


def measure(workload: str, config: str, n: int) -> dict:
    from vkernel.hv import VM, HypervisorError

    technique, options = CONFIGS[config]
    try:
        vm = VM(workload, technique=technique, n=n, trace="hv", **options)
    except (TypeError, HypervisorError) as e:  # an option it does not know (yet)
        raise Unavailable(str(e)) from None
    start = time.perf_counter()
    result = vm.run(max_steps=200_000_000)
    seconds = time.perf_counter() - start
    if result.reason != "shutdown" or result.code != 0:
        raise SystemExit(f"{workload} under {config} did not finish: {result}\n"
                         f"{vm.console[-500:]}")
    cost = vm.trace_dataset().vk.cost()
    events = cost.drop(index=["instructions", "walk_references", "traps", "total"],
                       errors="ignore")
    counters = vm.machine.counters
    return {"steps": vm.machine.steps, "seconds": seconds,
            "translations": counters["tlb_misses"],
            "walk_references": int(cost.loc["walk_references", "events"]),
            "exits": int(cost.loc["vm_exit", "events"]) if "vm_exit" in cost.index else 0,
            "hv_events": int(events["events"].sum()),
            "cycles": int(cost.loc["total", "cycles"]),
            "by_event": {k: int(v) for k, v in events["events"].items()}}


def per_op(a: dict, b: dict, ops: int) -> dict:
    """What one operation costs: the N2 run minus the N1 run, over N2 - N1."""
    def d(key: str) -> float:
        return (b[key] - a[key]) / ops

    kinds = sorted(set(a["by_event"]) | set(b["by_event"]))
    translations = b["translations"] - a["translations"]
    return {"translations_per_op": d("translations"),
            "walk_references_per_op": d("walk_references"),
            # how deep a walk is: 3 for a cold Sv39 4 KiB page, 15 for Sv39 over Sv39x4
            "walk_references_per_translation":
                (b["walk_references"] - a["walk_references"]) / translations
                if translations else None,
            "exits_per_op": d("exits"),
            "hv_events_per_op": d("hv_events"),
            "cycles_per_op": d("cycles"),
            "events_per_op": {k: (b["by_event"].get(k, 0) - a["by_event"].get(k, 0)) / ops
                              for k in kinds},
            "sim_steps_per_second": b["steps"] / b["seconds"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n1", type=int, default=10)
    ap.add_argument("--n2", type=int, default=40)
    ap.add_argument("--workloads", default=",".join(WORKLOADS),
                    help="comma-separated (default: all of them)")
    ap.add_argument("--configs", default=",".join(CONFIGS),
                    help=f"comma-separated, from {', '.join(CONFIGS)} (default: all)")
    ap.add_argument("--out", type=Path, default=RESULTS / "memory.json")
    args = ap.parse_args(argv)
    if not 0 <= args.n1 < args.n2:
        ap.error("need 0 <= n1 < n2")
    workloads, configs = args.workloads.split(","), args.configs.split(",")
    from vkernel.guests import WORKLOADS as ALL

    for name in workloads:
        if name not in ALL:
            ap.error(f"unknown workload {name!r}; choose from {', '.join(ALL)}")
    for name in configs:
        if name not in CONFIGS:
            ap.error(f"unknown configuration {name!r}; choose from {', '.join(CONFIGS)}")

    rows, skipped = [], {}
    ops = args.n2 - args.n1
    print(f"per operation, from runs with {args.n1} and {args.n2} operations\n")
    head = (f"{'workload':<12} {'config':<13} {'transl.':>7} {'walk refs':>9} {'/transl.':>8} "
            f"{'exits':>6} {'hv events':>9} {'cycles':>8} {'sim Msteps/s':>12}  "
            "most frequent hv events")
    print(head)
    print("-" * len(head))
    for workload in workloads:
        for config in configs:
            if config in skipped:
                continue
            try:
                a = measure(workload, config, args.n1)
            except Unavailable as e:
                skipped[config] = str(e)
                print(f"{'':<12} {config:<13} skipped: {e}")
                continue
            b = measure(workload, config, args.n2)
            technique, options = CONFIGS[config]
            row = {"workload": workload, "config": config, "technique": technique,
                   "options": options, **per_op(a, b, ops)}
            rows.append(row)
            top = sorted(((v, k) for k, v in row["events_per_op"].items() if v >= 0.05),
                         reverse=True)
            depth = row["walk_references_per_translation"]
            print(f"{workload:<12} {config:<13} {row['translations_per_op']:>7.1f} "
                  f"{row['walk_references_per_op']:>9.1f} "
                  f"{'-' if depth is None else f'{depth:.1f}':>8} {row['exits_per_op']:>6.1f} "
                  f"{row['hv_events_per_op']:>9.1f} {row['cycles_per_op']:>8.0f} "
                  f"{row['sim_steps_per_second'] / 1e6:>12.2f}  "
                  + ", ".join(f"{k} {v:.1f}" for v, k in top[:3]))
        print()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from vkernel.hv.cost import CostModel

    args.out.write_text(json.dumps({
        "benchmark": "memory", "n1": args.n1, "n2": args.n2,
        "machine": platform.machine(), "python": platform.python_version(),
        "cost_model": CostModel().as_dict(),
        "workloads": {w: ALL[w] for w in workloads},
        "configs": {k: {"technique": t, "options": o} for k, (t, o) in CONFIGS.items()
                    if k in configs},
        "skipped": skipped, "rows": rows}, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
