"""Fuzz the core for a while: random instruction words in M, S and U mode, random CSRs,
trap vectors and Sv39 page tables (the generators of tests/fuzz.py), each case run for its
step budget and checked (host memory untouched, sane state, legal trap causes).

    python benchmarks/fuzz_core.py --seconds 600 --seed 1

Prints a summary: cases run, steps (retired and traps), traps by cause, throughput. The
first failing case is printed with its seed (``--seed S --cases 1`` repeats it) and the
exit status is 1.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from fuzz import make_case, run_case, storm_case  # noqa: E402

from vkernel.isa.csr import cause_name  # noqa: E402

HANG_SECONDS = 120  # one case taking longer than this is a hang: dump stacks and exit


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=60.0, help="how long to fuzz")
    ap.add_argument("--seed", type=int, default=0, help="seed of the first case")
    ap.add_argument("--cases", type=int, default=None, help="stop after this many cases")
    ap.add_argument("--budget", type=int, default=None,
                    help="steps per case (default: random, up to 3000)")
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    run_case(storm_case(budget=10))  # compile (or load) the core outside the timing
    compile_s = time.perf_counter() - t0

    runs = steps = retired = 0
    modes: Counter[str] = Counter()
    reasons: Counter[str] = Counter()
    causes: Counter[int] = Counter()
    seed = args.seed
    start = time.perf_counter()
    while time.perf_counter() - start < args.seconds:
        if args.cases is not None and runs >= args.cases:
            break
        case = make_case(random.Random(seed), budget=args.budget)
        try:
            result = run_case(case, hang_seconds=HANG_SECONDS)
        except AssertionError as e:
            print(f"FAILED at seed {seed} (mode {case.mode}, budget {case.budget}): {e}")
            print(f"repeat with: python {sys.argv[0]} --seed {seed} --cases 1")
            return 1
        runs += 1
        seed += 1
        steps += result.steps
        retired += result.retired
        modes[case.mode] += 1
        reasons[result.exit_reason] += 1
        causes.update(result.traps)
    elapsed = time.perf_counter() - start

    print(f"fuzzed {runs} cases in {elapsed:.1f} s (core ready in {compile_s:.1f} s), "
          f"seeds {args.seed}..{seed - 1}")
    print(f"steps {steps} ({retired} retired, {steps - retired} traps), "
          f"{steps / max(elapsed, 1e-9):,.0f} steps/s including set-up and checks")
    print("start modes: " + ", ".join(f"{m} {n}" for m, n in sorted(modes.items())))
    print("exits: " + ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())))
    print("traps by cause:")
    for cause, n in sorted(causes.items(), key=lambda kv: (kv[0] >> 63, kv[0] & 0xFFFF)):
        kind = "interrupt" if cause >> 63 else "exception"
        print(f"  {kind} {cause & 0xFFFF:2d} {cause_name(cause):42s} {n:>10}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
