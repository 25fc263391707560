"""The core benchmark (`vkernel bench core`): one guest workload, every peer, one run.

The workload is vkernel/guests/bench_sv39.s: M-mode builds Sv39 page tables, drops to
S-mode and sorts and checksums arrays (loads, stores, branches, calls, mul). Each peer runs
in its own process (so peak memory is its own) and reports steps, seconds and its checksum;
the checksums must agree, so every peer really did the same work.

Peers: vkernel untraced; vkernel with every event family recorded (drained rows are
counted and dropped, as a streaming consumer would); unicorn (QEMU's TCG as a library)
bare and with a Python hook per instruction that records the pc; the vkernel core
interpreted by Python (NUMBA_DISABLE_JIT=1) on a short run; qemu-system-riscv64 running
the same ELF when it is installed. Plus the cold compile time (empty numba cache) and the
warm start time (new process: import, load, first step, numba cache on disk).

    python benchmarks/bench_core.py [--rounds N] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUEST = ROOT / "vkernel" / "guests" / "bench_sv39.s"
RESULTS = ROOT / "benchmarks" / "results"


def program(rounds: int):
    from vkernel.isa.asm import assemble

    src = GUEST.read_text().replace(".equ ROUNDS, 400", f".equ ROUNDS, {rounds}")
    return assemble(src, name=f"bench_sv39_r{rounds}")


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- workers: each runs in its own process and prints one JSON line ------------------------
def work_vkernel(rounds: int, traced: bool) -> dict:
    from vkernel import Machine

    p = program(rounds)
    m = Machine(ram_mb=8)
    m.load(p)
    if traced:
        # every family, kept in a small ring: the cost of recording, not of holding it
        m.trace("all", mode="last", last=1000)
    m.step(1)  # compile or load from the cache outside the timing
    t = time.perf_counter()
    ex = m.run()
    dt = time.perf_counter() - t
    rows = m._recorder.mark() if traced else {}  # rows recorded per family
    assert ex.reason == "halt" and ex.exit_code == 0, ex
    return {"steps": m.steps, "seconds": dt, "checksum": m.hart.x["a0"], "rows": rows}


def work_unicorn(rounds: int, hook: bool) -> dict:
    from unicorn import UC_ARCH_RISCV, UC_HOOK_CODE, UC_MODE_RISCV64, Uc
    from unicorn.riscv_const import UC_RISCV_REG_A0

    p = program(rounds)
    uc = Uc(UC_ARCH_RISCV, UC_MODE_RISCV64)
    uc.mem_map(0x8000_0000, 8 << 20)
    uc.mem_map(0x0010_0000, 0x1000)  # the finisher is plain memory here
    for sec in p.sections.values():
        if not sec.nobits:
            uc.mem_write(sec.addr, bytes(sec.data))
    pcs: list[int] = []
    if hook:
        uc.hook_add(UC_HOOK_CODE, lambda uc_, addr, size, data: pcs.append(addr))
    # stop at the spin loop after the finisher store: the first "j ." (c.j 0 = 0xa001 or
    # jal x0, 0 = 0x6f) after s_main
    code = bytes(p.sections[".text"].data)
    base = p.sections[".text"].addr
    off = p.symbols["s_main"] - base
    while True:
        half = int.from_bytes(code[off:off + 2], "little")
        if half == 0xA001:
            break
        if int.from_bytes(code[off:off + 4], "little") == 0x6F:
            break
        off += 2 if half & 3 != 3 else 4
    done = base + off
    t = time.perf_counter()
    uc.emu_start(p.entry, done)
    dt = time.perf_counter() - t
    return {"seconds": dt, "checksum": uc.reg_read(UC_RISCV_REG_A0), "hooked_pcs": len(pcs)}


def worker(name: str, rounds: int) -> None:
    if name == "vkernel":
        r = work_vkernel(rounds, traced=False)
    elif name == "vkernel-traced":
        r = work_vkernel(rounds, traced=True)
    elif name == "vkernel-nojit":
        r = work_vkernel(rounds, traced=False)
    elif name == "unicorn":
        r = work_unicorn(rounds, hook=False)
    elif name == "unicorn-hook":
        r = work_unicorn(rounds, hook=True)
    else:
        raise SystemExit(f"unknown worker {name}")
    r["peak_mb"] = peak_mb()
    print(json.dumps(r))


def spawn(name: str, rounds: int, env: dict | None = None, timeout: float = 1800) -> dict:
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--rounds", str(rounds)],
                         capture_output=True, text=True, env={**os.environ, **(env or {})},
                         timeout=timeout, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def steps_for(rounds: int) -> int:
    return spawn("vkernel", rounds)["steps"]


def start_time(env: dict) -> float:
    code = ("import vkernel; m = vkernel.Machine(ram_mb=8); "
            "m.load(vkernel.assemble('nop\\nnop')); m.step(1)")
    t = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env={**os.environ, **env},
                   capture_output=True)
    return time.perf_counter() - t


def qemu_seconds(rounds: int, tmp: Path) -> float | None:
    qemu = shutil.which("qemu-system-riscv64")
    if qemu is None:
        return None
    elf = tmp / f"bench_r{rounds}.elf"
    program(rounds).to_elf(elf)
    t = time.perf_counter()
    try:
        subprocess.run([qemu, "-machine", "virt", "-bios", "none", "-kernel", str(elf),
                        "-display", "none", "-serial", "none", "-monitor", "none"],
                       check=True, timeout=120, stdin=subprocess.DEVNULL)
    except (subprocess.TimeoutExpired, subprocess.CalledProcessError) as e:
        print(f"  qemu-system-riscv64 did not finish the workload: {e}", flush=True)
        return None
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=400, help="workload size (400 ≈ 41 M steps)")
    ap.add_argument("--out", type=Path, default=RESULTS / "core.json")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        worker(args.worker, args.rounds)
        return

    rows = []
    big, small = args.rounds, max(1, args.rounds // 40)
    print(f"workload: {GUEST.relative_to(ROOT)}, {big} rounds", flush=True)

    def add(name: str, res: dict, steps: int, note: str = "") -> None:
        mips = steps / res["seconds"] / 1e6
        rows.append({"peer": name, "steps": steps, "seconds": round(res["seconds"], 4),
                     "mips": round(mips, 2), "peak_mb": round(res.get("peak_mb", 0), 1),
                     "note": note})
        print(f"  {name:<18} {mips:9.2f} MIPS  {res['seconds']:8.3f} s  "
              f"{res.get('peak_mb', 0):7.1f} MB  {note}", flush=True)

    ref = spawn("vkernel", big)
    add("vkernel", ref, ref["steps"])
    traced = spawn("vkernel-traced", big)
    assert traced["checksum"] == ref["checksum"]
    add("vkernel-traced", traced, traced["steps"],
        "rows: " + ", ".join(f"{k} {v:,}" for k, v in sorted(traced["rows"].items())))
    uni = spawn("unicorn", big)
    assert uni["checksum"] == ref["checksum"], "unicorn computed a different checksum"
    add("unicorn", uni, ref["steps"])
    small_steps = steps_for(small)
    hook = spawn("unicorn-hook", small)
    add("unicorn-hook", hook, small_steps, f"{small} rounds, pc recorded by a Python hook")
    nojit = spawn("vkernel-nojit", 1, env={"NUMBA_DISABLE_JIT": "1"})
    add("vkernel-nojit", nojit, nojit["steps"], "1 round, NUMBA_DISABLE_JIT=1")
    with tempfile.TemporaryDirectory() as tmp:
        q_big = qemu_seconds(big, Path(tmp))
        q_small = qemu_seconds(small, Path(tmp)) if q_big is not None else None
        if q_big is not None and q_small is not None:
            # subtract QEMU's start-up by differencing two workload sizes
            res = {"seconds": max(q_big - q_small, 1e-9)}
            add("qemu-system", res, ref["steps"] - small_steps,
                f"difference of {big} and {small} rounds (start-up removed)")
        cold = start_time({"NUMBA_CACHE_DIR": tmp})
    warm = min(start_time({}) for _ in range(3))
    print(f"  cold compile (empty numba cache, whole start): {cold:.2f} s")
    print(f"  warm start (new process, import, load, first step): {warm:.2f} s")
    by = {r["peer"]: r["mips"] for r in rows}
    ratios = {f"{a}/{b}": round(by[a] / by[b], 2) for a in ("vkernel", "vkernel-traced")
              for b in by if b != a}
    print("ratios: " + ", ".join(f"{k} {v}" for k, v in ratios.items()))
    result = {"benchmark": "core", "workload": str(GUEST.relative_to(ROOT)),
              "rounds": big, "machine": platform.processor() or platform.machine(),
              "python": platform.python_version(), "peers": rows, "ratios": ratios,
              "cold_compile_s": round(cold, 2), "warm_start_s": round(warm, 2),
              "targets": {"untraced_mips": 150, "traced_mips": 60,
                          "traced_vs_unicorn_hook": 20, "warm_start_s": 1.5}}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {args.out}")


if __name__ == "__main__":
    main()
