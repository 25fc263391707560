"""Conditional assembly (.if and its kin): what is kept, where errors point, and the
same bytes and symbols as GNU as + ld for seeded random nests of conditionals.
tests/corpus/conditionals.s covers the directives one by one against GNU as too."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_asm_macros import error_of, same_as_gnu, text_of

from vkernel import AsmError, assemble, disassemble

# ------------------------------------------------------------------ what is kept


@pytest.mark.parametrize("source, plain", [
    (".if 1\n li a0, 1\n.else\n li a0, 2\n.endif", "li a0, 1"),
    (".if 0\n li a0, 1\n.else\n li a0, 2\n.endif", "li a0, 2"),
    # the first true .elseif wins; later ones are not even evaluated
    (".equ N, 2\n.if N == 1\n li a0, 1\n.elseif N == 2\n li a0, 2\n.elseif 1/0\n"
     ".else\n li a0, 3\n.endif", "li a0, 2"),
    # .ifeq ... .iflt compare with zero; a comparison is -1 when true
    (".ifeq 0\n.byte 1\n.endif\n.ifne 0\n.byte 2\n.endif\n.ifge 0\n.byte 3\n.endif\n"
     ".ifgt 0\n.byte 4\n.endif\n.ifle 0\n.byte 5\n.endif\n.iflt 1 < 2\n.byte 6\n.endif",
     ".byte 1, 3, 5, 6"),
    # values are signed 64-bit, as in GNU as
    (".iflt 0xffffffffffffffff\n.byte 1\n.endif", ".byte 1"),
    # a skipped block is not read: no .macro, .include, .rept, label or bad syntax in it
    # counts, and conditionals in it are not evaluated
    (".if 0\n.macro m\n.endm\n.include \"nowhere\"\nx: bogus\n.if undefined / 0\n.endif\n"
     ".endif\n.ifndef x\n nop\n.endif", "nop"),
    # a label in front of .endif in a skipped block makes it skipped (GNU as)
    (".if 0\nx: .endif\n.endif\nnop", "nop"),
    # .ifdef: labels and symbols defined so far
    ("a: .ifdef a\n.byte 1\n.endif\n.ifdef b\n.byte 2\n.endif\nb:\n.ifdef b\n.byte 3\n.endif\n"
     ".equ c, 4\n.ifnotdef c\n.byte 4\n.endif", "a: .byte 1, 3\nb:"),
    # .ifb/.ifnb and .ifc/.ifnc on macro arguments
    (".macro m r, v\n.ifb \\v\n mv \\r, zero\n.else\n.ifnc \\r,\\v\n mv \\r, \\v\n.endif\n"
     ".endif\n.endm\n m a0\n m a1, a1\n m a2, a3", "mv a0, zero\nmv a2, a3"),
    # .ifc compares text as GNU as's scrubber leaves it
    (".ifc x + 1,x+1\n.byte 1\n.endif\n.ifc a  b,a b\n.byte 2\n.endif\n"
     ".ifc \"a  b\",\"a b\"\n.byte 3\n.endif\n.ifc A,a\n.byte 4\n.endif\n.ifc ,\n.byte 5\n"
     ".endif", ".byte 1, 2, 5"),
    # .exitm inside .if leaves the macro and the conditionals opened in it
    (".macro m n\n.if \\n\n li a0, 1\n .exitm\n.endif\n li a0, 2\n.endm\n m 1\n m 0",
     "li a0, 1\nli a0, 2"),
    # .exitm in a .rept inside a macro leaves that .rept only (GNU as)
    (".macro m\n.rept 3\n li a0, 1\n .exitm\n.endr\n li a0, 2\n.endm\n m",
     "li a0, 1\nli a0, 2"),
    # recursion ended by .if
    (".macro down n\n.if \\n\n.byte \\n\ndown \\n-1\n.endif\n.endm\ndown 3", ".byte 3, 2, 1"),
    # .if in .rept and .irp bodies
    (".irp v, 1, 2, 3, 4\n.if \\v % 2\n.byte \\v\n.endif\n.endr", ".byte 1, 3"),
    # a conditional may end in a macro it invokes (GNU as keeps one stack)
    (".macro close\n.else\n.byte 2\n.endif\n.endm\n.if 1\n.byte 1\nclose", ".byte 1"),
    # statements after a conditional on the same line
    (".if 0; nop; .else; ebreak; .endif", "ebreak"),
])
def test_kept_is_the_plain_source(source: str, plain: str) -> None:
    assert text_of(source) == text_of(plain)


def test_conditional_may_span_include_files(gnu) -> None:  # noqa: ANN001
    inc = gnu.workdir / "inc"
    inc.mkdir()
    (inc / "open.inc").write_text(".if 1\naddi a0, a0, 1\n")
    (inc / "close.inc").write_text(".else\naddi a0, a0, 2\n.endif\n")
    same_as_gnu(gnu, '.option norvc\n.include "open.inc"\n.include "close.inc"\n'
                     '.include "open.inc"\n.endif\n', [inc])


def test_symbols_set_under_conditions_match_gnu(gnu) -> None:  # noqa: ANN001
    same_as_gnu(gnu, """\
        .option norvc
        .set    sum, 0
        .irp    v, 1, 2, 3, 4, 5, 6, 7
        .if     \\v % 3 == 1
        .set    sum, sum + \\v
        .elseif \\v % 3 == 2
        .set    sum, sum - 1
        .endif
        .endr
        .dword  sum
        .ifge   sum - 10                # 1 - 1 + 4 - 1 + 7
        .dword  sum + 1
        .endif
""")


# ------------------------------------------------------------------ errors


@pytest.mark.parametrize("source, line, col, message", [
    (".if 1\nnop\n", 1, 1, r"\.if without a matching \.endif \(the input ended first\)"),
    (".if 1\n.ifdef x\n.else\nnop\n", 2, 1, r"\.ifdef without a matching \.endif \(the "
                                             r"input ended first; its \.else is on line 3\)"),
    ("nop\n.else\n", 2, 1, r"\.else without a matching \.if"),
    ("  .endif\n", 1, 3, r"\.endif without a matching \.if"),
    (".elseif 1\n", 1, 1, r"\.elseif without a matching \.if"),
    (".if 1\n.else\n.else\n.endif\n", 3, 1,
     r"a second \.else for the \.if on line 1 \(the first is on line 2\)"),
    (".if 1\n.else\n.elseif 1\n.endif\n", 3, 1,
     r"\.elseif after \.else \(the \.if on line 1 has its \.else on line 2\)"),
    (".if later\n.endif\nlater: nop\n", 1, 5,
     r"the \.if condition must be a constant expression: 'later' is not defined yet"),
    ("lab: nop\n.ifeq lab - 4\n.endif\n", 2, 7,
     r"the \.ifeq condition must be a constant expression: 'lab' is a label"),
    (".equ x, lab\nlab: nop\n.if x\n.endif\n", 3, 5, r"'x' is defined from a label"),
    ("1: .if 1b\n.endif\n", 1, 8, r"'1b' is a label"),
    (".if 1f\n.endif\n1:\n", 1, 5, r"'1f' is a label further down"),
    (".if .\n.endif\n", 1, 5, r"'\.' \(the address here\)"),
    (".if 0\n.elseif x\n.endif\n", 2, 9, r"the \.elseif condition .*'x' is not defined"),
    (".if 1/0\n.endif\n", 1, 5, r"division by zero"),
    (".if\n.endif\n", 1, 1, r"\.if needs an expression"),
    (".if 1\n.elseif\n.endif\n.if 0\n.elseif\n.endif", 5, 1, r"\.elseif needs an expression"),
    (".if 1 2\n.endif\n", 1, 7, r"expected end of line"),
    (".ifdef 1x\n.endif\n", 1, 7, r"\.ifdef needs one symbol name"),
    (".ifndef a b\n.endif\n", 1, 8, r"\.ifndef needs one symbol name"),
    (".if 1\n.else x\n.endif\n", 2, 7, r"nothing may follow \.else on its line"),
    (".if 1\n.endif  x\n", 2, 9, r"nothing may follow \.endif on its line"),
    (".ifc a\n.endif\n", 1, 1, r"\.ifc needs two strings separated by a comma"),
    (".ifnc 'a','a'\n.endif\n", 1, 6, r"\.ifnc with a ' in it"),
    # a conditional opened in a macro body must end there
    (".macro m\n.if 1\n.endm\nnop\nm\n", 2, 1,
     r"\.if without a matching \.endif in this macro body"),
    (".macro m\n.rept 1\n.ifb\n.endr\n.endm\nm\n", 3, 1,
     r"\.ifb without a matching \.endif in this macro body"),
    # the body of a macro ends at the first .endm, .if or not (GNU as): here it is
    # '.if 0', and the .endif after it has no .if
    (".macro m\n.if 0\n.endm\n.endif\n.endm\n", 4, 1, r"\.endif without a matching \.if"),
    # a .rept body ends at its .endr, .if or not: the .if is read twice, closed once
    (".rept 2\n.if 1\n.endr\n.endif\n", 2, 1, r"\.if without a matching \.endif"),
    # misspelt conditionals are read in a skipped block too, as GNU as does
    (".if 0\n.ifx 1\n.endif\n", 2, 1, r"unknown directive '\.ifx'"),
    (".macro .if\n.endm\n", 1, 8, r"'\.if' is a directive"),
])
def test_errors(source: str, line: int, col: int, message: str) -> None:
    e = error_of(source, filename="t.s")
    assert (e.line, e.column) == (line, col), str(e)
    assert re.search(message, e.message), e.message


def test_unterminated_conditional_in_a_macro_names_the_invocation() -> None:
    e = error_of(".macro m\n  .if 1\n  nop\n.endm\n  m\n", filename="t.s")
    assert (e.filename, e.line, e.column) == ("t.s", 2, 3)
    assert e.context == (("t.s", 5, "macro invoked from here"),)


def test_unterminated_conditional_in_an_include_names_that_file(tmp_path: Path) -> None:
    (tmp_path / "open.inc").write_text("nop\n  .ifne 1\n")
    e = error_of('nop\n.include "open.inc"\nnop\n', include_dirs=[tmp_path])
    assert (Path(e.filename).name, e.line, e.column) == ("open.inc", 2, 3)
    assert e.context[0][1:] == (2, "included from here")


def test_errors_inside_skipped_blocks_are_not_raised() -> None:
    # as in GNU as: a skipped block is not assembled, nor its conditions evaluated
    prog = assemble(".if 0\n.if\n.elseif\naddi a0, a0, 5000\n.endif\n.else\nnop\n.endif\n"
                    ".if 1\n.elseif undefined\n.else\nbogus\n.endif\n")
    assert prog.sections[".text"].data == text_of("nop")


# ------------------------------------------------------------------ against GNU as


def _expr(rng: random.Random, depth: int, symbols: list[str], blanks: bool = True) -> str:
    """A random absolute expression; division only by 1..9, shifts by 0..63."""
    if depth == 0 or rng.random() < 0.3:
        kind = rng.randrange(4)
        if kind == 0 and symbols:
            return rng.choice(symbols)
        if kind == 1:
            return str(rng.randrange(0, 10))
        if kind == 2:
            return hex(rng.choice([2**63 - 1, 2**63, 2**64 - 1, 0x8000_0000, 0xFFFF_FFFF,
                                   rng.randrange(2**64)]))
        return f"({rng.randrange(-100, 100)})"
    if rng.random() < 0.15:
        return rng.choice("-~!") + f"({_expr(rng, depth - 1, symbols, blanks)})"
    op = rng.choice(["+", "-", "*", "/", "%", "<<", ">>", "&", "|", "^", "==", "!=", "<>",
                     "<", ">", "<=", ">=", "&&", "||"])
    left = _expr(rng, depth - 1, symbols, blanks)
    if op in ("/", "%"):
        right = str(rng.randrange(1, 10))
    elif op in ("<<", ">>"):
        right = str(rng.randrange(64))
    else:
        right = _expr(rng, depth - 1, symbols, blanks)
    sep = " " if blanks else ""
    text = f"{left}{sep}{op}{sep}{right}"
    return f"({text})" if rng.random() < 0.7 else text


_PICK = r"""
        .macro  pick a, b=0, c
        .ifb    \c
        .ifge   \a - \b
        addi    a0, a0, 1
        .else
        addi    a0, a0, 2
        .endif
        .else
        .ifc    \c,x
        addi    a1, a1, 1
        .elseif \a == \b
        addi    a1, a1, 2
        .else
        addi    a1, a1, 3
        .endif
        .endif
        .endm
        .macro  upto n
        .if     \n <= 0
        .exitm
        .endif
        addi    a2, a2, 1
        upto    \n-1
        .endm
"""


def _random_conditional_program(seed: int) -> str:
    """Nested conditionals of every kind with random expressions over .equ symbols that
    change as the program goes, .ifdef on labels behind, ahead and never defined, .ifc on
    text with blanks, conditionals in .rept/.irp bodies and macros."""
    rng = random.Random(seed)
    symbols = [f"S{i}" for i in range(5)]
    out = [".option norvc", ".globl _start", _PICK, "_start:"]
    out += [f".equ {s}, {_expr(rng, 2, [])}" for s in symbols]
    labels = [f"L{i}" for i in range(40)]
    placed: list[str] = []
    marker = iter(range(1, 2048))
    texts = ["a0", "a 0", "x+1", "x + 1", "(a)", "( a )", "", "A0", "x"]

    def condition() -> str:
        kind = rng.randrange(10)
        if kind < 5:
            return f"{rng.choice(['.if', '.ifeq', '.ifne', '.ifge', '.ifgt', '.ifle', '.iflt'])}" \
                   f" {_expr(rng, 3, symbols)}"
        if kind < 7:
            name = rng.choice(symbols + labels + ["nowhere", "_start"])
            return f"{rng.choice(['.ifdef', '.ifndef', '.ifnotdef'])} {name}"
        if kind < 9:
            return f"{rng.choice(['.ifc', '.ifnc'])} {rng.choice(texts)},{rng.choice(texts)}"
        return f"{rng.choice(['.ifb', '.ifnb'])} {rng.choice(['', 'x', ' a b '])}"

    def block(depth: int, repeated: bool) -> list[str]:
        lines: list[str] = []
        for _ in range(rng.randint(0, 3)):
            kind = rng.randrange(10)
            if kind < 2:
                lines.append(f"addi t6, t6, {next(marker)}")  # marks the block
            elif kind == 2:
                lines.append(f".dword {_expr(rng, 3, symbols)}")
            elif kind == 3:
                s = rng.choice(symbols)
                lines.append(f".set {s}, {_expr(rng, 2, symbols)}")
            elif kind == 4 and not repeated and len(placed) < len(labels):
                label = labels[len(placed)]
                placed.append(label)
                lines.append(f"{label}:")
            elif kind == 5 and depth:
                lines += [f".rept {rng.randrange(4)}", *block(depth - 1, True), ".endr"]
            elif kind == 6 and depth:
                values = ", ".join(str(rng.randrange(-3, 4)) for _ in range(rng.randint(1, 3)))
                lines += [f".irp v, {values}", ".if \\v", "addi t0, t0, \\v", ".else",
                          *block(depth - 1, True), ".endif", ".endr"]
            elif kind == 7:
                args = [f"({_expr(rng, 2, symbols, blanks=False)})"
                        for _ in range(rng.randint(1, 2))]
                if rng.random() < 0.5:
                    args += [""] * (2 - len(args)) + [rng.choice(["x", "y"])]
                lines.append(f"pick {', '.join(args)}" if rng.random() < 0.7
                             else f"upto {rng.randrange(5)}")
            elif depth:
                lines.append(condition())
                lines += block(depth - 1, repeated)
                for _ in range(rng.choice([0, 0, 1, 2])):
                    lines.append(f".elseif {_expr(rng, 3, symbols)}")
                    lines += block(depth - 1, repeated)
                if rng.random() < 0.5:
                    lines.append(".else")
                    lines += block(depth - 1, repeated)
                lines.append(".endif")
        return lines

    for _ in range(12):
        out += block(3, False)
    out += [f"{label}:" for label in labels if label not in placed][:5]  # ahead of all
    out.append("ret")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("seed", range(8))
def test_random_conditional_programs_match_gnu(gnu, seed: int) -> None:  # noqa: ANN001
    same_as_gnu(gnu, _random_conditional_program(seed))


def test_random_programs_take_many_paths() -> None:
    """The random programs are not trivial: of the marked blocks, many are kept and many
    skipped."""
    written = kept = 0
    for seed in range(8):
        source = _random_conditional_program(seed)
        written += len(re.findall(r"addi t6, t6, \d+", source))
        text = assemble(source).sections[".text"].data
        kept += len({i.fields["imm_i"] for i in disassemble(text, aliases=False)
                     if i.mnemonic == "addi" and i.fields["rd"] == 31})
    assert written > 100
    assert 0.2 < kept / written < 0.8, (kept, written)


# ------------------------------------------------------------------ fuzz

_FRAGMENTS = st.sampled_from([
    ".if 1", ".if 0", ".if", ".if x", ".elseif 1", ".elseif 0", ".else", ".endif",
    ".ifdef x", ".ifndef", ".ifb", ".ifnb x", ".ifc a,b", ".ifnc a", ".ifeq 1 2", ".ifle -1",
    "x:", ".equ x, 1", ".macro m a", ".endm", "m", "m 1", ".exitm", ".rept 2", ".endr",
    ".ifc \\a,1", ".if \\a", "nop", "'", '"', ";", ",", "1:", ".if 1b", ".if 1f",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_FRAGMENTS, max_size=4).map(" ".join), max_size=12).map("\n".join))
def test_fuzz_conditionals_never_a_raw_traceback(source: str) -> None:
    """Any mix of conditionals, macros and repetition assembles or raises AsmError."""
    try:
        assemble(source)
    except AsmError as err:
        assert err.line >= 0 and str(err)
