"""The virtualization benchmark (`vkernel bench virt`): the classic nanobenchmarks under
every technique.

Each microbenchmark workload of the shipped guest kernel (vkernel/guests) performs N
operations: a null system call, a device register access, an interrupt-mask write, a call
and return, a page fault, a trapping exception, a page-table-entry update, after the
nanobenchmarks of Adams & Agesen (ASPLOS 2006). Every workload runs natively and under
every technique (hardware assistance twice: with nested paging, and with shadow tables
as on first-generation VT-x), twice, with N1 and N2 operations; the difference between the
two runs is what N2 - N1 operations cost, so the kernel's boot and its printing drop out.
Reported per operation: VM exits, hypervisor events (every hv row: exits, emulations, callouts,
translations, hypercalls, injections, shadow updates, MMIO), guest instructions retired,
and modelled cycles (vkernel.hv.cost's defaults). The counts come from real execution;
the cycles are the cost model's. Also the wall-clock speed of the simulation itself
(machine steps per second of the N2 run, Python hypervisor included).

    python benchmarks/bench_virt.py [--n1 N] [--n2 N] [--out FILE]
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
BENCHMARKS = ("null-syscall", "device", "irq-mask", "call-return", "page-fault",
              "exception", "pte-update")


# hardware assistance twice: with nested paging (a G-stage, like EPT/NPT) and without
# (shadow tables, like first-generation VT-x); "hardware" alone means nested
PAGING = {"hardware-nested": ("hardware", "nested"), "hardware-shadow": ("hardware", "shadow")}


def techniques() -> list[str]:
    """Every technique, hardware assistance with and without nested paging."""
    from vkernel.hv import TECHNIQUES

    out: list[str] = []
    for t in TECHNIQUES:
        out += list(PAGING) if t == "hardware" else [t]
    return out


def measure(workload: str, technique: str, n: int) -> dict:
    from vkernel.hv import VM

    technique, paging = PAGING.get(technique, (technique, None))
    vm = VM(workload, technique=technique, n=n, trace="hv", paging=paging)
    start = time.perf_counter()
    result = vm.run(max_steps=200_000_000)
    seconds = time.perf_counter() - start
    if result.reason != "shutdown" or result.code != 0:
        raise SystemExit(f"{workload} under {technique} did not finish: {result}")
    cost = vm.trace_dataset().vk.cost()
    events = cost.drop(index=["instructions", "walk_references", "traps", "total"],
                       errors="ignore")
    return {"steps": vm.machine.steps, "seconds": seconds,
            "instructions": int(cost.loc["instructions", "events"]),
            "exits": int(cost.loc["vm_exit", "events"]) if "vm_exit" in cost.index else 0,
            "hv_events": int(events["events"].sum()),
            "cycles": int(cost.loc["total", "cycles"]),
            "by_event": {k: int(v) for k, v in events["events"].items()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n1", type=int, default=100)
    ap.add_argument("--n2", type=int, default=400)
    ap.add_argument("--out", type=Path, default=RESULTS / "virt.json")
    ap.add_argument("--techniques", default=",".join(techniques()),
                    help="comma-separated (default: all of them; hardware-nested and "
                         "hardware-shadow are hardware assistance with and without a "
                         "G-stage)")
    args = ap.parse_args(argv)
    if not 0 <= args.n1 < args.n2:
        ap.error("need 0 <= n1 < n2")
    rows = []
    print(f"per operation, from runs with {args.n1} and {args.n2} operations\n")
    head = (f"{'benchmark':<13} {'technique':<19} {'exits':>7} {'hv events':>9} "
            f"{'instrs':>8} {'cycles':>9} {'sim Msteps/s':>12}")
    print(head)
    print("-" * len(head))
    for workload in BENCHMARKS:
        for technique in args.techniques.split(","):
            a = measure(workload, technique, args.n1)
            b = measure(workload, technique, args.n2)
            ops = args.n2 - args.n1
            row = {"benchmark": workload, "technique": technique,
                   "exits_per_op": (b["exits"] - a["exits"]) / ops,
                   "hv_events_per_op": (b["hv_events"] - a["hv_events"]) / ops,
                   "instructions_per_op": (b["instructions"] - a["instructions"]) / ops,
                   "cycles_per_op": (b["cycles"] - a["cycles"]) / ops,
                   "events_per_op": {k: (b["by_event"].get(k, 0) - a["by_event"].get(k, 0))
                                     / ops for k in b["by_event"]},
                   "sim_steps_per_second": b["steps"] / b["seconds"]}
            rows.append(row)
            print(f"{workload:<13} {technique:<19} {row['exits_per_op']:>7.2f} "
                  f"{row['hv_events_per_op']:>9.2f} {row['instructions_per_op']:>8.1f} "
                  f"{row['cycles_per_op']:>9.0f} {row['sim_steps_per_second'] / 1e6:>12.2f}")
        print()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from vkernel.hv.cost import CostModel

    args.out.write_text(json.dumps({
        "benchmark": "virt", "n1": args.n1, "n2": args.n2, "machine": platform.machine(),
        "python": platform.python_version(), "cost_model": CostModel().as_dict(),
        "rows": rows}, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
