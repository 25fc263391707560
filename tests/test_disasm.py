"""The disassembler against GNU objdump, and on bytes that are not instructions."""

from __future__ import annotations

import pytest
from corpus import pseudo_program, table_program
from hypothesis import given, settings
from hypothesis import strategies as st

from vkernel import assemble, disassemble
from vkernel.isa.csr import CSR_NUMBER
from vkernel.isa.table import INSTRUCTIONS

# objdump 2.40 prints an I-type instruction under its register form's name when aliases
# are on ("and a0,a0,3" for andi, "sll" for slli, "csrs mstatus,1" for csrsi); we keep
# the real mnemonic. These are the names it borrows, and the ones we print.
_IMMEDIATE_FORM = {"add": "addi", "and": "andi", "or": "ori", "xor": "xori", "sll": "slli",
                   "srl": "srli", "sra": "srai", "addw": "addiw", "sllw": "slliw",
                   "srlw": "srliw", "sraw": "sraiw", "csrrw": "csrrwi", "csrrs": "csrrsi",
                   "csrrc": "csrrci", "csrw": "csrwi", "csrs": "csrsi", "csrc": "csrci"}
# objdump shows 0xc0001073 as unimp even with -M no-aliases; we show its own name there.
_UNIMP = "csrrw zero,cycle,zero"


def _normalise(line: str) -> str:
    """CSRs by number (objdump 2.40 knows fewer CSR names than the 1.12 spec), and
    objdump's borrowed register-form names put back."""
    if line == "unimp":
        line = _UNIMP
    mnemonic, _, operands = line.partition(" ")
    ops = [f"{CSR_NUMBER[o]:#x}" if o in CSR_NUMBER else o for o in operands.split(",")]
    if mnemonic in _IMMEDIATE_FORM and ops[-1].lstrip("-")[:1].isdigit():
        mnemonic = _IMMEDIATE_FORM[mnemonic]
    return f"{mnemonic} {','.join(ops)}".strip()


def _ours_vs_objdump(gnu, source: str, no_aliases: bool) -> list[str]:  # noqa: ANN001
    prog = assemble(source)
    text = prog.sections[".text"]
    built = gnu.build(source, {name: s.addr for name, s in prog.sections.items()})
    assert built.sections[".text"] == text.data
    theirs = {addr: (raw, line) for addr, raw, line in gnu.objdump(built.elf, no_aliases)}
    mismatches = []
    for insn in disassemble(text.data, text.addr, aliases=not no_aliases):
        raw, line = theirs[insn.addr]
        assert raw == insn.raw
        if insn.size == 2 and not no_aliases:
            continue  # objdump shows c.* under their 32-bit names by default; we keep c.*
        ours = str(insn).replace("c.nop", "c.addi zero,0") if no_aliases else str(insn)
        if _normalise(ours) != _normalise(line):
            mismatches.append(f"{insn.addr:#x} {insn.raw:#x}: ours {str(insn)!r}, objdump {line!r}"
                              f" (no_aliases={no_aliases})")
    return mismatches


@pytest.mark.parametrize("no_aliases", [False, True])
@pytest.mark.parametrize("seed", range(3))
def test_agrees_with_objdump_on_every_table_entry(gnu, seed: int, no_aliases: bool) -> None:  # noqa: ANN001
    source = table_program(seed, n=2500)
    assert _ours_vs_objdump(gnu, source, no_aliases) == []


@pytest.mark.parametrize("no_aliases", [False, True])
def test_agrees_with_objdump_on_pseudo_instructions(gnu, no_aliases: bool) -> None:  # noqa: ANN001
    source = pseudo_program(7, n=2500, data=False)
    assert _ours_vs_objdump(gnu, source, no_aliases) == []


def test_corpus_covers_every_table_entry() -> None:
    seen = set()
    for seed in range(3):
        prog = assemble(table_program(seed, n=2500))
        text = prog.sections[".text"]
        seen |= {i.spec.name for i in disassemble(text.data, text.addr) if i.spec}
    assert seen == {s.name for s in INSTRUCTIONS}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"\xff\xff\xff\xff", [".word 0xffffffff"]),
        (b"\x00\x00", ["c.unimp"]),
        (b"\x13\x00", [".half 0x0013"]),            # a 32-bit opcode cut short
        (b"\x01\x00\x05", ["c.nop", ".byte 0x05"]),
        (b"\x07\x00\x00\x00", [".word 0x00000007"]),  # floating-point load: not in RV64IMAC
        (b"\x73\x00\x20\x30", ["mret"]),
    ],
)
def test_undecodable_bytes_become_data_directives(data: bytes, expected: list[str]) -> None:
    assert [str(i) for i in disassemble(data)] == expected


def test_insn_fields_and_targets() -> None:
    prog = assemble("loop: addi a0, a0, -1\n bnez a0, loop\n ld a1, 16(sp)")
    first, branch, load = disassemble(prog.sections[".text"].data, prog.entry)
    assert (first.mnemonic, first.operands, first.size) == ("addi", ("a0", "a0", "-1"), 4)
    assert branch.target == prog.entry and str(branch) == f"bnez a0,{prog.entry:#x}"
    assert load.fields == {"rd": 11, "imm_i": 16, "rs1": 2}


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=64), st.integers(0, 2**64 - 1))
def test_never_raises_and_covers_every_byte(data: bytes, addr: int) -> None:
    insns = disassemble(data, addr)
    assert sum(i.size for i in insns) == len(data)
    assert all(str(i) for i in insns)


def test_a_numpy_address_works_like_an_int() -> None:
    """A pc taken from a trace is a numpy uint64: a backward branch must not overflow."""
    import numpy as np

    from vkernel import assemble

    data = assemble("1: nop\nbeq a0, a1, 1b").sections[".text"].data
    assert [str(i) for i in disassemble(data, np.uint64(0x8000_0000))] == \
        [str(i) for i in disassemble(data, 0x8000_0000)] == ["nop", "beq a0,a1,0x80000000"]
