"""The balloon benchmark: what an inflate and a deflate of N pages cost, per technique.

One domain (the shipped guest kernel, workload hello) boots; the host asks it for N pages
(``Host.balloon``: its driver inflates, giving the top N free pages of its user pool),
then gives them back (the driver deflates). For each, from the request until the driver is
done: the pages moved, the VM exits, the hypervisor's events and their modelled cycles
(``hv`` rows: exits, SBI calls or hypercalls, mmu_updates, balloon rows ...), and the
guest instructions run. Twice, with N and 2N pages: the difference is the cost per page,
without what every request pays once (the interrupt, the handler, the target's read).

    python benchmarks/bench_balloon.py [--n N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
TECHNIQUES = ("hardware", "trap-emulate", "binary-translation", "paravirt")


def measure(technique: str, pages: int) -> dict[str, dict[str, int]]:
    from vkernel import guests
    from vkernel.hv import Host

    host = Host(machine_mb=32, trace="hv")
    d = host.create("hello", technique, name="guest")
    symbols = guests.kernel("hello", paravirt=technique == "paravirt").symbols

    def var(name: str) -> int:
        return d.memory.read_u64(symbols[name])

    while var("nproc") != 2:
        host.run(1_000)
    host.run(30_000)  # its processes run (the request comes while a program does)
    out = {}
    for phase, target, want in (("inflate", 2048 - pages, pages), ("deflate", 2048, 0)):
        steps, exits = host.machine.steps, d.exits
        ds0 = host.trace_dataset()
        rows0 = ds0.sizes.get("hv", 0)
        host.balloon(d, target / 256)
        while var("balloon_pages") != want:
            host.run(100)
        ds = host.trace_dataset()
        hv = ds.isel(hv=slice(rows0, None))
        event = hv.hv_event.values
        names = dict(zip(hv.hv_event.attrs["flag_values"],
                         hv.hv_event.attrs["flag_meanings"].split(), strict=True))
        counts = {names[int(e)]: int(n) for e, n in zip(*np.unique(event, return_counts=True),
                                                         strict=True)}
        out[phase] = {"pages": abs(d.memory.populated - (2048 if phase == "inflate"
                                                          else 2048 - pages)),
                      "exits": d.exits - exits, "hv_events": int(event.size),
                      "hv_cycles": int(hv.hv_cycles.values.sum()),
                      "instructions": host.machine.steps - steps, "events": counts}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="pages (and twice as many)")
    parser.add_argument("--out", type=Path, default=RESULTS / "balloon.json")
    args = parser.parse_args(argv)
    results = {}
    print(f"{'technique':20} {'phase':8} {'pages':>6} {'exits':>6} {'hv cycles':>10} "
          f"{'instr':>8}   per page: {'exits':>6} {'cycles':>8}")
    for technique in TECHNIQUES:
        one, two = measure(technique, args.n), measure(technique, 2 * args.n)
        results[technique] = {"n": one, "2n": two}
        for phase in ("inflate", "deflate"):
            a, b = one[phase], two[phase]
            per_exit = (b["exits"] - a["exits"]) / args.n
            per_cycles = (b["hv_cycles"] + b["instructions"] - a["hv_cycles"]
                          - a["instructions"]) / args.n
            results[technique][phase + "_per_page"] = {"exits": per_exit,
                                                       "cycles": per_cycles}
            for x in (a, b):
                print(f"{technique:20} {phase:8} {x['pages']:6} {x['exits']:6} "
                      f"{x['hv_cycles']:10} {x['instructions']:8}   "
                      f"{'' if x is a else f'{per_exit:6.2f} {per_cycles:8.0f}'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1))
    print(f"written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
