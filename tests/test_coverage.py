"""Every instruction of I, M, A, C, Zicsr and Zifencei, and the privileged mret, sret, wfi
and sfence.vma (the RV64 entries of the ISA table, H left out; there is no F/D) is executed
by the self-checking guests in tests/guests/: retired, or trapped on on purpose (ecall,
ebreak, c.ebreak, c.unimp, and instructions that raise illegal-instruction exceptions).

An instruction counts as executed when
  * a retired step recorded its raw bits (the ``step`` family), or
  * it trapped: an ecall by its cause (8, 9 or 11), an illegal instruction by mtval (the
    instruction's bits), a breakpoint by the instruction at the trap's epc.
tests/guests/every_insn.s executes each of them once with a checked result; this test keeps
that true as the table and the guests change.
"""

from __future__ import annotations

import pytest

from tests.guests import check_number, guest_names, run_guest
from vkernel.core import kernel as K
from vkernel.isa.decode import decode
from vkernel.isa.table import INSTRUCTIONS

EXTENSIONS = ("I", "M", "A", "C", "Zicsr", "Zifencei")
PRIVILEGED = ("mret", "sret", "wfi", "sfence.vma")
REQUIRED = {s.name: s.ext for s in INSTRUCTIONS
            if s.ext in EXTENSIONS or s.name in PRIVILEGED}
ECALLS = (K.EXC_ECALL_U, K.EXC_ECALL_S, K.EXC_ECALL_M)
MASK64 = (1 << 64) - 1


def executed_by(name: str) -> set[str]:
    """Names of the table entries guest ``name`` retired or trapped on."""
    m, ex = run_guest(name, trace=("step", "trap"))
    assert (ex.reason, ex.exit_code) == ("halt", 0), \
        f"guest {name} did not pass ({ex!r}, {check_number(ex.exit_code)})"
    seen: set[str] = set()
    steps = m.events("step")
    for raw in {int(w) for w in steps["insn"]}:
        spec = decode(raw)
        if spec is not None:
            seen.add(spec.name)
    traps = m.events("trap")
    for cause, tval, epc in zip(traps["cause"], traps["tval"], traps["epc"], strict=True):
        cause, tval, epc = int(cause), int(tval) & 0xFFFF_FFFF, int(epc) & MASK64
        spec = None
        if cause in ECALLS:
            spec = decode(0x73)
        elif cause == K.EXC_ILLEGAL:
            spec = decode(tval)
        elif cause == K.EXC_BREAKPOINT and m.mem.base <= epc <= m.mem.base + m.mem.size - 2:
            # ebreak or c.ebreak: the guests do not rewrite their code after running it
            parcel = int.from_bytes(m.mem.read(epc, 2), "little")
            if parcel & 3 == 3 and epc <= m.mem.base + m.mem.size - 4:
                parcel = int.from_bytes(m.mem.read(epc, 4), "little")
            spec = decode(parcel)
        if spec is not None:
            seen.add(spec.name)
    return seen


@pytest.fixture(scope="module")
def coverage() -> dict[str, set[str]]:
    """Instruction name -> the guests that executed it."""
    by_insn: dict[str, set[str]] = {}
    for guest in guest_names():
        for insn in executed_by(guest):
            by_insn.setdefault(insn, set()).add(guest)
    return by_insn


def test_the_required_set_is_what_the_table_says():
    assert set(PRIVILEGED) | {"ecall", "ebreak", "fence.i"} <= set(REQUIRED)
    assert len([n for n, e in REQUIRED.items() if e == "A"]) == 88  # 22 ops x 4 orderings
    assert not any(e == "H" for e in REQUIRED.values())


@pytest.mark.parametrize("ext", [*EXTENSIONS, "Priv"])
def test_guests_execute_every_instruction(coverage, ext):
    missing = sorted(n for n, e in REQUIRED.items() if e == ext and n not in coverage)
    assert not missing, f"no guest in tests/guests executes: {', '.join(missing)}"


def test_every_insn_guest_alone_executes_every_instruction():
    missing = sorted(set(REQUIRED) - executed_by("every_insn"))
    assert not missing, f"tests/guests/every_insn.s does not execute: {', '.join(missing)}"
