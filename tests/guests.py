"""Run the self-checking guest programs in tests/guests/ (see prelude.s for conventions).

Each guest brings in what it shares with the others by ``.include`` (prelude.s first;
h_framework.inc for the h_* guests; trap_handler.inc and paging.inc for handlers and
helpers), looked up in tests/guests/, so an assembler error names the file and line.
"""

from __future__ import annotations

from pathlib import Path

from vkernel import Machine, assemble

GUEST_DIR = Path(__file__).parent / "guests"


def guest_names() -> list[str]:
    return sorted(p.stem for p in GUEST_DIR.glob("*.s") if p.stem != "prelude")


def build(name: str):
    path = GUEST_DIR / f"{name}.s"
    return assemble(path.read_text(), name=name, filename=str(path), include_dirs=[GUEST_DIR])


def run_guest(name: str, max_steps: int = 5_000_000, **machine_kw) -> tuple[Machine, object]:
    m = Machine(**{"ram_mb": 4, **machine_kw})
    m.load(build(name))
    return m, m.run(max_steps=max_steps)


def check_number(exit_code: int | None) -> str:
    return "did not halt" if exit_code is None else f"failed check {exit_code}"


def long_kernel(loops: int):
    """tiny_kernel with its user program's busy loop made ``loops`` iterations long (two
    steps each; the kernel's timer interrupts it every 400 steps)."""
    source = (GUEST_DIR / "tiny_kernel.s").read_text()
    busy = "li s0, 1000 "
    assert source.count(busy) == 1
    return assemble(source.replace(busy, f"li s0, {loops} "), name="long_kernel",
                    include_dirs=[GUEST_DIR])
