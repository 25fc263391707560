"""The host benchmark (`vkernel bench host`): several domains on one machine.

1, 2, 4 and 8 domains share one host under Xen's credit scheduler, their techniques
cycling through hardware, paravirt, trap-and-emulate and binary translation, each running
the shipped guest kernel's null-syscall workload (N getpid() calls) until every domain has
shut down. Reported: the host time simulated (steps; nobody idles, so host time is the
steps run), the wall-clock speed of the simulation (M steps of host time per second), the
world switches and VM exits, per second of simulated time (the host's steps_per_ms) and
per wall-clock second (what the Python hypervisor manages).

Then the one-domain case two ways, technique by technique: a Host with one domain and
today's VM (a one-domain Host: the same code path), timed on the same workload, best of
``--repeat``; their speed ratio should be 1 within the noise.

    python benchmarks/bench_host.py [--n N] [--repeat R] [--out FILE]
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
CYCLE = ("hardware", "paravirt", "trap-emulate", "binary-translation")
WORKLOAD = "null-syscall"


def run_host(domains: int, n: int) -> dict:
    """``domains`` domains of the workload, techniques cycling through CYCLE."""
    from vkernel.hv import Host

    host = Host(machine_mb=8 * domains + 16)
    techniques = [CYCLE[i % len(CYCLE)] for i in range(domains)]
    made = [host.create(WORKLOAD, t, memory_mb=8, n=n, name=f"d{i}")
            for i, t in enumerate(techniques)]
    start = time.perf_counter()
    result = host.run(max_steps=500_000_000)
    seconds = time.perf_counter() - start
    failed = [d.name for d in made if d.result is None or d.result.code != 0]
    if result.reason != "shutdown" or failed:
        raise SystemExit(f"{domains} domains did not all finish: {result}, {failed}")
    simulated = host.now / host.steps_per_ms / 1000  # seconds of host time
    return {"domains": domains, "techniques": techniques, "host_steps": host.now,
            "idle_steps": host.idle_steps, "seconds": seconds,
            "sim_steps_per_second": host.now / seconds, "switches": host.switches,
            "switches_per_sim_second": host.switches / simulated,
            "switches_per_second": host.switches / seconds, "exits": host.exits,
            "exits_per_sim_second": host.exits / simulated,
            "exits_per_second": host.exits / seconds,
            "cpu_steps": {d.name: d.cpu_steps for d in made}}


def one_domain(technique: str, n: int, repeat: int) -> dict:
    """The same guest as a one-domain Host and as a VM: best wall time of ``repeat``."""
    from vkernel.hv import VM, Host

    def host_run() -> tuple[float, int]:
        host = Host(machine_mb=32)
        host.create(WORKLOAD, technique, memory_mb=8, n=n)
        start = time.perf_counter()
        host.run()
        return time.perf_counter() - start, host.now

    def vm_run() -> tuple[float, int]:
        vm = VM(WORKLOAD, technique=technique, ram_mb=8, machine_mb=32, n=n)
        start = time.perf_counter()
        vm.run()
        return time.perf_counter() - start, vm.host.now

    host_best, vm_best = [], []
    for i in range(repeat):  # interleaved, each first in turn: a busy moment hits both
        for run, times in ((host_run, host_best), (vm_run, vm_best))[::1 - 2 * (i % 2)]:
            gc.collect()  # not during the timing: the garbage of the run before
            times.append(run())
    (h_s, h_steps), (v_s, v_steps) = min(host_best), min(vm_best)
    if h_steps != v_steps:
        raise SystemExit(f"{technique}: a one-domain Host ran {h_steps} steps, the VM "
                         f"{v_steps}: they should be the same run")
    return {"technique": technique, "steps": h_steps,
            "host_steps_per_second": h_steps / h_s, "vm_steps_per_second": v_steps / v_s,
            "host_over_vm": (h_steps / h_s) / (v_steps / v_s)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000, help="getpid() calls per domain")
    ap.add_argument("--domains", default="1,2,4,8", help="comma-separated domain counts")
    ap.add_argument("--repeat", type=int, default=3, help="runs of the Host/VM comparison")
    ap.add_argument("--out", type=Path, default=RESULTS / "host.json")
    args = ap.parse_args(argv)
    counts = [int(c) for c in args.domains.split(",")]
    run_host(1, 10)  # compile and warm everything once, outside the timings

    print(f"{WORKLOAD} with n={args.n} in every domain; techniques cycle through "
          f"{', '.join(CYCLE)}\n")
    head = (f"{'domains':>7} {'host Msteps':>11} {'wall s':>7} {'sim Msteps/s':>12} "
            f"{'switches':>8} {'sw/sim s':>8} {'sw/s':>7} {'exits':>7} {'exits/sim s':>11} "
            f"{'exits/s':>8}")
    print(head)
    print("-" * len(head))
    rows = []
    for count in counts:
        r = run_host(count, args.n)
        rows.append(r)
        print(f"{count:>7} {r['host_steps'] / 1e6:>11.2f} {r['seconds']:>7.2f} "
              f"{r['sim_steps_per_second'] / 1e6:>12.2f} {r['switches']:>8} "
              f"{r['switches_per_sim_second']:>8.0f} {r['switches_per_second']:>7.0f} "
              f"{r['exits']:>7} {r['exits_per_sim_second']:>11.0f} "
              f"{r['exits_per_second']:>8.0f}")

    print(f"\none domain: a Host vs the VM shortcut (best of {args.repeat})\n")
    head = (f"{'technique':<19} {'steps':>8} {'Host Msteps/s':>13} {'VM Msteps/s':>11} "
            f"{'Host/VM':>7}")
    print(head)
    print("-" * len(head))
    single = []
    for technique in CYCLE:
        r = one_domain(technique, args.n, args.repeat)
        single.append(r)
        print(f"{technique:<19} {r['steps']:>8} {r['host_steps_per_second'] / 1e6:>13.2f} "
              f"{r['vm_steps_per_second'] / 1e6:>11.2f} {r['host_over_vm']:>7.2f}")

    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "benchmark": "host", "workload": WORKLOAD, "n": args.n,
        "machine": platform.machine(), "python": platform.python_version(),
        "rows": rows, "one_domain": single}, indent=1))
    print(f"\nwritten to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
