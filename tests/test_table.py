"""The instruction table is consistent: no unintended overlaps, fields fit their format."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vkernel.isa.csr import CSR_NAME, CSR_NUMBER, EXCEPTION_NAME, INTERRUPT_NAME, cause_name
from vkernel.isa.decode import constants, decode
from vkernel.isa.table import (
    ALLOWED_OVERLAPS,
    BY_NAME,
    EXTENSIONS,
    FIELDS,
    INSTRUCTIONS,
    SP,
    XREG,
    XREG3,
)

SIXTEEN = [s for s in INSTRUCTIONS if s.size == 2]
THIRTY_TWO = [s for s in INSTRUCTIONS if s.size == 4]

# Bits the spec reserves and implementations ignore, so no field or mask covers them.
IGNORED_BITS = {
    "fence": 0xF0000000 | 0x000F8000 | 0x00000F80,     # fm, rs1, rd
    "fence.i": 0xFFF00000 | 0x000F8000 | 0x00000F80,   # imm, rs1, rd
    "fence.tso": 0x000F8000 | 0x00000F80,              # rs1, rd
}


def test_names_are_unique() -> None:
    assert len(BY_NAME) == len(INSTRUCTIONS)


def test_no_two_16_bit_entries_share_a_halfword() -> None:
    """Exhaustive over all 65536 halfwords."""
    for word in range(1 << 16):
        if word & 3 == 3:
            continue
        owners = [s.name for s in SIXTEEN if s.matches(word)]
        if len(owners) > 1:
            assert len(owners) == 2 and frozenset(owners) in ALLOWED_OVERLAPS, (hex(word), owners)


def test_no_two_32_bit_entries_share_a_word() -> None:
    """Two entries can share a word exactly when their fixed bits agree where both fix them
    (no 32-bit entry has reserved-value constraints, so this is a proof, not a sample)."""
    assert all(not s.reserved_zero and not s.reserved_values for s in THIRTY_TWO)
    for a, b in itertools.combinations(THIRTY_TWO, 2):
        if (a.match ^ b.match) & a.mask & b.mask == 0:
            assert frozenset({a.name, b.name}) in ALLOWED_OVERLAPS, (a.name, b.name)


def test_every_allowed_overlap_is_real_and_decodes_to_the_special_case() -> None:
    for pair, reason in ALLOWED_OVERLAPS.items():
        general, special = sorted((BY_NAME[n] for n in pair), key=lambda s: bin(s.mask).count("1"))
        assert special.match & general.mask == general.match, reason
        assert decode(special.match) is special


@pytest.mark.parametrize("spec", INSTRUCTIONS, ids=lambda s: s.name)
def test_fields_and_mask_tile_the_instruction(spec) -> None:  # noqa: ANN001
    width = (1 << (8 * spec.size)) - 1
    assert spec.match & ~spec.mask == 0, "match has bits outside its mask"
    assert spec.match & 3 == (3 if spec.size == 4 else spec.match & 3)
    covered = spec.mask
    for name in spec.fields:
        bits = FIELDS[name].insn_mask
        assert bits & covered == 0, f"field {name} overlaps the mask or another field"
        covered |= bits
    assert covered | IGNORED_BITS.get(spec.name, 0) == width, hex(width & ~covered)


@pytest.mark.parametrize("name", sorted(FIELDS))
@given(data=st.data())
def test_field_encode_decode_roundtrip(name: str, data: st.DataObject) -> None:
    f = FIELDS[name]
    if f.kind == SP:
        assert f.decode(0) == 2 and f.fits(2) and not f.fits(3)
        return
    step = 1 if f.kind in (XREG, XREG3) else f.scale
    value = data.draw(st.integers(f.lo // step, f.hi // step).map(lambda v: v * step)
                      .filter(f.fits))
    assert f.decode(f.encode(value)) == value
    assert not f.fits(f.hi + 1) and not f.fits(f.lo - 1)
    if f.kind not in (XREG, XREG3) and f.scale > 1:
        assert not f.fits(f.scale + 1)


def test_extensions_are_all_present() -> None:
    assert {s.ext for s in INSTRUCTIONS} == set(EXTENSIONS)
    h = {s.name for s in INSTRUCTIONS if s.ext == "H"}
    assert h == {"hfence.vvma", "hfence.gvma", "hlv.b", "hlv.bu", "hlv.h", "hlv.hu", "hlvx.hu",
                 "hlv.w", "hlv.wu", "hlvx.wu", "hlv.d", "hsv.b", "hsv.h", "hsv.w", "hsv.d"}
    assert {"mret", "sret", "wfi", "sfence.vma"} <= {s.name for s in INSTRUCTIONS
                                                       if s.ext == "Priv"}
    assert len([s for s in INSTRUCTIONS if s.ext == "A"]) == 22 * 4


@pytest.mark.parametrize(("name", "word"), [
    # encodings written out from the RISC-V unprivileged and privileged specifications
    ("addi", 0x00000013), ("lui", 0x00000037), ("ecall", 0x00000073), ("ebreak", 0x00100073),
    ("mret", 0x30200073), ("sret", 0x10200073), ("wfi", 0x10500073),
    ("sfence.vma", 0x12000073), ("hfence.vvma", 0x22000073), ("hfence.gvma", 0x62000073),
    ("hlv.b", 0x60004073), ("hlvx.hu", 0x64304073), ("hlv.d", 0x6C004073),
    ("hsv.w", 0x6A004073), ("fence.i", 0x0000100F), ("fence.tso", 0x8330000F),
    ("mulw", 0x0200003B), ("amoswap.d.aqrl", 0x0E00302F), ("lr.w", 0x1000202F),
    ("c.ebreak", 0x9002), ("c.nop", 0x0001), ("c.unimp", 0x0000),
])
def test_known_encodings_decode(name: str, word: int) -> None:
    assert decode(word) is BY_NAME[name]


def test_decoder_constants_come_from_the_table() -> None:
    c = constants()
    assert c["MATCH_ADDI"] == BY_NAME["addi"].match and c["MASK_C_ADDI4SPN"] == 0xE003
    assert len(c) == 2 * len(INSTRUCTIONS)


@pytest.mark.parametrize(("name", "number"), [
    ("mstatus", 0x300), ("misa", 0x301), ("medeleg", 0x302), ("mideleg", 0x303),
    ("mtvec", 0x305), ("menvcfg", 0x30A), ("mepc", 0x341), ("mtinst", 0x34A),
    ("mtval2", 0x34B), ("pmpcfg0", 0x3A0), ("pmpaddr63", 0x3EF), ("tselect", 0x7A0),
    ("tdata1", 0x7A1), ("mhartid", 0xF14), ("sstatus", 0x100), ("stvec", 0x105),
    ("stimecmp", 0x14D), ("satp", 0x180), ("hstatus", 0x600), ("hgatp", 0x680),
    ("hgeip", 0xE12), ("vsstatus", 0x200), ("vsatp", 0x280), ("cycle", 0xC00),
    ("time", 0xC01), ("instret", 0xC02),
])
def test_csr_numbers(name: str, number: int) -> None:
    assert CSR_NUMBER[name] == number and CSR_NAME[number] == name


def test_cause_names() -> None:
    assert EXCEPTION_NAME[2] == "illegal instruction" and 14 not in EXCEPTION_NAME
    assert INTERRUPT_NAME[7] == "machine timer interrupt"
    assert cause_name(23) == "store/AMO guest-page fault"
    assert cause_name((1 << 63) | 10) == "virtual supervisor external interrupt"
