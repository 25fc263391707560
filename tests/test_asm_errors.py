"""Malformed assembly: every error names its line and column and shows a caret."""

from __future__ import annotations

import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import AsmError, assemble


def error_of(source: str) -> AsmError:
    with pytest.raises(AsmError) as info:
        assemble(source)
    return info.value


@pytest.mark.parametrize(
    ("source", "line", "column", "words"),
    [
        ("nop\n  frobnicate a0, a1", 2, 3, ["unknown instruction", "frobnicate"]),
        ("addi a0, a9, 1", 1, 10, ["unknown register", "a9"]),
        ("add a0, a1, 5", 1, 13, ["expected a register"]),
        ("addi a0, a0, 2048", 1, 14, ["out of range", "-2048..2047"]),
        ("slli a0, a0, 64", 1, 14, ["out of range", "0..63"]),
        ("c.addi16sp sp, 8", 1, 16, ["multiple of 16"]),
        ("c.lwsp zero, 4(sp)", 1, 8, ["zero"]),
        ("lui a0, 0x100000", 1, 9, ["0..1048575"]),
        ("csrr a0, notacsr", 1, 10, ["unknown CSR", "notacsr"]),
        ("j nowhere", 1, 3, ["undefined symbol", "nowhere"]),
        ("loop: nop\nloop: nop", 2, 1, ["duplicate label", "loop", "line 1"]),
        ("beq a0, a1, . + 3\n", 1, 13, ["misaligned branch target"]),
        ("bnez a0, 1f", 1, 10, ["undefined local label", "1f"]),
        ("nop\n.wrod 5", 2, 1, ["unknown directive", ".wrod"]),
        ('.data\n.ascii "abc', 2, 8, ["unterminated string"]),
        (".byte 256", 1, 7, ["does not fit in 1 byte"]),
        ("addi a0, a0", 1, 1, ["takes 3 operands, got 2"]),
        ("lw a0, 4(a1", 1, 9, ["missing ')'"]),
        ("li a0, undefined_thing", 1, 8, ["li needs a constant"]),
        (".option fast", 1, 9, ["unknown .option"]),
        (".bss\n.word 1", 2, 1, ["only labels"]),
        ("c.lw a0, 0(a7)", 1, 12, ["x8..x15"]),
        ("lr.w a0, 4(a1)", 1, 10, ["takes no offset"]),
        ("fence rw, q", 1, 11, ["fence set"]),
        ("jal x0, . + 0x200000", 1, 9, ["out of range", "-1048576..1048574"]),
    ],
)
def test_error_names_line_and_column(source: str, line: int, column: int,
                                     words: list[str]) -> None:
    err = error_of(source)
    assert (err.line, err.column) == (line, column), str(err)
    for word in words:
        assert word in err.message, err.message
    # the rendered message shows the line and a caret under the column
    text = str(err)
    src_line = source.split("\n")[line - 1]
    assert f"<asm>:{line}:{column}:" in text
    assert src_line.rstrip() in text
    caret_line = text.split("\n")[-1]
    assert caret_line.index("^") - 4 == column - 1


def test_error_carries_source_line_and_filename() -> None:
    with pytest.raises(AsmError) as info:
        assemble("nop\naddi a0, a0, 99999\n", filename="guest.s")
    err = info.value
    assert err.source_line == "addi a0, a0, 99999"
    assert str(err).startswith("guest.s:2:14:")


def test_branch_out_of_range_is_relaxed_not_an_error() -> None:
    # GNU as turns a too-far conditional branch into an inverted branch over a jal
    prog = assemble("beq a0, a1, far\n.zero 8192\nfar: nop")
    text = prog.sections[".text"].data
    assert int.from_bytes(text[0:4], "little") == 0x00B51463  # bne a0,a1,+8
    assert int.from_bytes(text[4:8], "little") & 0xFFF == 0x06F  # jal zero, far


_ALPHABET = string.ascii_letters + string.digits + " \t,.:()%+-*/<>&|^~#\"'\\;\n_$@!="
_WORDS = st.sampled_from([
    "addi", "a0", "sp", "x31", "0x10", "-1", "(", ")", ",", ":", "1b", "1f", "1:", ".text",
    ".data", ".word", ".align", "li", "la", "c.lw", "lw", "%hi", "%pcrel_lo", "csrw",
    "mstatus", ".option", "rvc", "beqz", "j", "\n", '"x"', ".equ", "x", "=", "ret", ".",
])


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(_ALPHABET, max_size=60),
                 st.lists(_WORDS, max_size=14).map(" ".join)))
def test_fuzz_never_a_raw_traceback(source: str) -> None:
    """Any text either assembles or raises AsmError: never another exception."""
    try:
        prog = assemble(source)
    except AsmError as err:
        assert err.line >= 0 and str(err)
    else:
        assert ".text" in prog.sections
