"""Assembler and disassembler throughput: vkernel against GNU as + ld and objdump.

Same generated source for both, several repetitions, best time kept. Writes
benchmarks/results/asm.json and prints a table. Run with `make bench`.
"""

from __future__ import annotations

import json
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from corpus import pseudo_program  # noqa: E402

from vkernel import __version__, assemble, disassemble  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "asm.json"
REPEAT = 5


def best(fn) -> float:  # noqa: ANN001
    times = []
    for _ in range(REPEAT):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    source = pseudo_program(1, n=20000, data=False)
    lines = source.count("\n")
    prog = assemble(source)
    text = prog.sections[".text"]
    rows = {"vkernel assemble": best(lambda: assemble(source)),
            "vkernel disassemble": best(lambda: disassemble(text.data, text.addr))}
    gas, ld, objdump = (shutil.which(f"riscv64-unknown-elf-{t}") for t in ("as", "ld", "objdump"))
    if gas and ld and objdump:
        with tempfile.TemporaryDirectory() as d:
            src, obj, elf = Path(d, "b.s"), Path(d, "b.o"), Path(d, "b.elf")
            src.write_text(".option norvc\n" + source)

            def gnu_build() -> None:
                subprocess.run([gas, "-march=rv64imac_zicsr_zifencei_h", "-mno-relax", str(src),
                                "-o", str(obj)], check=True)
                subprocess.run([ld, "--no-relax", "-Ttext=0x80000000", "-e", "start", str(obj),
                                "-o", str(elf)], check=True, capture_output=True)

            rows["GNU as + ld"] = best(gnu_build)
            rows["GNU objdump -d"] = best(lambda: subprocess.run(
                [objdump, "-d", str(elf)], check=True, capture_output=True))
    n_insns = len(disassemble(text.data, text.addr))
    report = {
        "vkernel_version": __version__, "python": platform.python_version(),
        "machine": platform.machine(), "source_lines": lines, "instructions": n_insns,
        "seconds": rows,
        "lines_per_second": {k: lines / v for k, v in rows.items() if "assemble" in k
                             or "as +" in k},
        "instructions_per_second": {k: n_insns / v for k, v in rows.items()
                                    if "disassemble" in k or "objdump" in k},
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{lines} source lines, {n_insns} instructions (best of {REPEAT})")
    print(f"{'tool':24} {'seconds':>9} {'per second':>14}")
    for name, seconds in rows.items():
        unit = lines if ("assemble" in name or "as +" in name) else n_insns
        print(f"{name:24} {seconds:9.3f} {unit / seconds:14,.0f}")
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
