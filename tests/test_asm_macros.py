"""Macros, .rept, .irp and .irpc: what they expand to, where their errors point, and
the same bytes and symbols as GNU as + ld (hand-written programs, programs with
includes, and seeded random macro programs). tests/corpus/macros.s covers the
directives one by one against GNU as too."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import AsmError, assemble
from vkernel.isa.preprocess import split_arguments


def text_of(source: str, **kw) -> bytes:  # noqa: ANN003
    return assemble(source, **kw).sections[".text"].data


def same_as_gnu(gnu, source: str, include_dirs: list[Path] = ()) -> None:  # noqa: ANN001
    prog = assemble(source, include_dirs=include_dirs)
    built = gnu.build(source, {n: s.addr for n, s in prog.sections.items()}, include_dirs)
    assert set(built.sections) == set(prog.sections)
    for name, section in prog.sections.items():
        if section.data != built.sections[name] and not section.nobits:
            at = next((i for i, (a, b) in enumerate(zip(section.data, built.sections[name],
                                                        strict=False)) if a != b), 0)
            pytest.fail(f"{name} differs at {section.addr + at:#x}: ours "
                        f"{section.data[at:at + 8].hex()}, GNU "
                        f"{built.sections[name][at:at + 8].hex()}\n{source}")
    for name, value in prog.symbols.items():
        assert built.symbols.get(name) == value, name


# ------------------------------------------------------------------ expansion


@pytest.mark.parametrize("macro_source, plain", [
    # positional, blank-separated, by name, defaults
    (".macro m a, b=7\n addi \\a, \\a, \\b\n.endm\n m a0\n m a1, 2\n m a2 3\n m b=4, a=a3",
     "addi a0, a0, 7\naddi a1, a1, 2\naddi a2, a2, 3\naddi a3, a3, 4"),
    # an empty argument takes the default; 1 + 2 is one argument
    (".macro m a=a5, b=1\n addi \\a, \\a, \\b\n.endm\n m , 1 + 2\n m",
     "addi a5, a5, 3\naddi a5, a5, 1"),
    # \() separates a parameter from what follows; \(text) is the text
    (".macro m n\n j x\\n\\()y\nx\\n\\()y:\n.endm\n m 5", "j x5y\nx5y:"),
    # \@ counts expansions (not .rept iterations)
    (".macro m\nl\\@: j l\\@\n.endm\n m\n m\n .word l0, l1",
     "l0: j l0\nl1: j l1\n .word l0, l1"),
    # :vararg takes the rest of the line
    (".macro m first, rest:vararg\n .byte \\first\n .byte \\rest\n.endm\n m 1, 2, 3, 4",
     ".byte 1\n.byte 2, 3, 4"),
    # .exitm leaves the expansion
    (".macro m\n nop\n .exitm\n ebreak\n.endm\n m", "nop"),
    # a macro defined by a macro, and redefined after .purgem
    (".macro def n, v\n.macro \\n\n li a0, \\v\n.endm\n.endm\n def one, 1\n one\n"
     ".purgem one\n def one, 2\n one", "li a0, 1\nli a0, 2"),
    # a macro overrides an instruction of the same name (as in GNU as)
    (".macro nop\n ebreak\n.endm\n nop", "ebreak"),
    # labels in front of a macro invocation or a .rept are defined first
    (".macro m\n j here\n.endm\nhere: m\nthere: .rept 2\n j there\n.endr",
     "here: j here\nthere: j there\n j there"),
    # nested .rept and .irp, .equ counts, .irpc
    (".equ N, 2\n.rept N\n.irp r, a0, a1\n.irpc d, 12\n addi \\r, \\r, \\d\n.endr\n.endr\n"
     ".endr", "\n".join(["addi a0, a0, 1\naddi a0, a0, 2\naddi a1, a1, 1\naddi a1, a1, 2"]
                        * 2)),
    # empty .irp and .rept 0
    (".irp x\n .byte 1\\x\n.endr\n.rept 0\n ebreak\n.endr", ".byte 1"),
    # statements after a macro invocation on the same line come after its expansion
    (".macro m\n li a0, 1\n.endm\n m; li a0, 2", "li a0, 1\nli a0, 2"),
    # macro names ignore case, parameter names do not
    (".macro Clear a\n mv \\a, zero\n.endm\n CLEAR a0\n clear a1", "mv a0, zero\nmv a1, zero"),
])
def test_expansion_is_the_plain_source(macro_source: str, plain: str) -> None:
    assert text_of(macro_source) == text_of(plain)


@pytest.mark.parametrize("text, args", [
    ("a0, 8(sp) 1 + 2", ["a0", "8(sp)", "1+2"]),
    ('"x, y" z', ["x, y", "z"]),
    ('"say ""hi"""', ['say "hi"']),
    ("a , b,,c", ["a", "b", "", "c"]),
    ("a0 (t0)", ["a0(t0)"]),           # a blank before '(' does not separate
    ("1 -2", ["1-2"]),
    ("'a' 'b'", ["'a'", "'b'"]),
    ("", []),
])
def test_split_arguments(text: str, args: list[str]) -> None:
    assert split_arguments(text) == args


def test_lines_of_expanded_code_are_the_invocation_line() -> None:
    prog = assemble(".macro two\n nop\n nop\n.endm\n nop\n two\n.rept 2\n nop\n.endr\n")
    assert [prog.lines[0x8000_0000 + 4 * i] for i in range(5)] == [5, 6, 6, 8, 8]


# ------------------------------------------------------------------ errors


def error_of(source: str, **kw) -> AsmError:  # noqa: ANN003
    with pytest.raises(AsmError) as info:
        assemble(source, **kw)
    return info.value


def test_error_in_macro_body_names_body_line_and_invocation() -> None:
    e = error_of(".macro m a\n  nop\n  addi \\a, \\a, 5000\n.endm\nnop\n  m a0\n",
                 filename="t.s")
    assert (e.filename, e.line, e.column) == ("t.s", 3, 16)
    assert e.source_line == "  addi a0, a0, 5000"   # the line as expanded
    assert e.context == (("t.s", 6, "macro invoked from here"),)
    assert str(e).endswith("t.s:6: info: macro invoked from here")


def test_error_in_nested_macro_lists_every_invocation() -> None:
    e = error_of(".macro outer\n  inner x1\n.endm\n.macro inner r\n  bogus \\r\n.endm\n"
                 " outer\n", filename="t.s")
    assert (e.line, e.source_line) == (5, "  bogus x1")
    assert e.context == (("t.s", 2, "macro invoked from here"),
                         ("t.s", 7, "macro invoked from here"))


def test_error_in_macro_from_included_file(tmp_path: Path) -> None:
    (tmp_path / "lib.inc").write_text(".macro load r, v\n  li \\r, \\v\n  lw \\r, 0(\\r\n"
                                      ".endm\n")
    (tmp_path / "main.s").write_text('.include "lib.inc"\nnop\nload a0, 4\n')
    e = error_of((tmp_path / "main.s").read_text(), filename=str(tmp_path / "main.s"))
    assert (e.filename, e.line) == (str(tmp_path / "lib.inc"), 3)
    assert e.context == ((str(tmp_path / "main.s"), 3, "macro invoked from here"),)


def test_error_in_rept_body_names_the_body_line() -> None:
    e = error_of("nop\n.rept 2\n  nop\n  bogus\n.endr\n", filename="t.s")
    assert (e.line, e.context) == (4, ())


def test_recursive_macro_is_stopped() -> None:
    e = error_of(".macro m\n m\n.endm\n m\n")
    assert "nested too deeply" in e.message
    assert str(e).count("info:") == 2   # the repeated invocation site is said once
    assert "(98 times)" in str(e)


@pytest.mark.parametrize("source, line, message", [
    (".macro m\n nop\n", 1, r"\.macro without a matching \.endm in this file"),
    (".rept 2\n nop\n", 1, r"\.rept without a matching \.endr"),
    (".irp r, a0\n nop\n.endm", 1, r"\.irp without a matching \.endr"),
    ("nop\n .endr\n", 2, r"\.endr without \.rept"),
    (" .endm\n", 1, r"\.endm without \.macro"),
    (" .exitm\n", 1, r"\.exitm outside a macro"),
    (".rept 1\n .exitm\n.endr", 2, r"\.exitm outside a macro"),
    (".macro m a:req\n .word \\a\n.endm\n m\n", 4,
     r"missing value for required parameter 'a' of macro 'm'"),
    (".macro m a\n .word \\a\n.endm\n m 1, 2\n", 4,
     r"too many arguments for macro 'm' \(it takes 1: a\)"),
    (".macro m\n.endm\n m 1\n", 3, r"too many arguments for macro 'm' \(it takes 0\)"),
    (".macro m a\n .word \\a\n.endm\n m b=2\n", 4, r"macro 'm' has no parameter named 'b'"),
    (".macro m a b\n .word \\a\n.endm\n m b=2, 3\n", 4,
     r"a positional argument cannot follow one given by name"),
    (".macro m\n.endm\n.macro M\n.endm\n", 3, r"macro 'm' is already defined"),
    (".rept x\n.endr\n", 1, r"the count must be a constant expression"),
    (".rept later\n.endr\n.equ later, 2", 1, r"the count must be a constant expression"),
    (".rept -1\n.endr\n", 1, r"\.rept count must not be negative, not -1"),
    (".rept\n.endr\n", 1, r"\.rept needs a count"),
    (".rept 1 2\n.endr\n", 1, r"expected end of line"),
    (".rept 1; nop\n.endr\n", 1, r"nothing may follow \.rept on its line"),
    (".macro .word\n.endm\n", 1, r"'\.word' is a directive"),
    (".macro\n.endm\n", 1, r"\.macro needs a name"),
    (".macro m a, a\n.endm\n", 1, r"parameter 'a' is given twice"),
    (".macro m a:foo\n.endm\n", 1, r"unknown parameter qualifier ':foo'"),
    (".macro m a:vararg, b\n.endm\n", 1, r"':vararg' must be the last parameter"),
    (".irp\n.endr\n", 1, r"\.irp needs a parameter name"),
    (".purgem zz\n", 1, r"\.purgem: no macro named 'zz'"),
    ("foo: .macro m\n.endm\n", 1, r"no label may stand in front of \.macro"),
    (".rept 100000000\nnop\n.endr\n", 1, r"repetition too large"),
    (".macro m\nl\\@: nop\n.endm\n m\n m\nl0: nop\n", 6, r"duplicate label 'l0'"),
])
def test_errors(source: str, line: int, message: str) -> None:
    e = error_of(source)
    assert e.line == line
    assert re.search(message, e.message), e.message


def test_unclosed_block_in_an_include_is_an_error_there(tmp_path: Path) -> None:
    (tmp_path / "open.inc").write_text("nop\n.rept 2\nnop\n")
    e = error_of('.include "open.inc"\nnop\n.endr\n', include_dirs=[tmp_path])
    assert (Path(e.filename).name, e.line) == ("open.inc", 2)


# ------------------------------------------------------------------ against GNU as


def test_macros_and_includes_match_gnu(gnu) -> None:  # noqa: ANN001
    inc = gnu.workdir / "inc"
    inc.mkdir()
    (inc / "macros.inc").write_text("""\
        .equ    WORDS, 3
        .macro  push regs:vararg
        addi    sp, sp, -8*WORDS
        .irp    r, \\regs
        sd      \\r, (\\@ % WORDS)*8(sp)
        .endr
        .endm
        .macro  spin reg, n=4
        li      \\reg, \\n
1:      addi    \\reg, \\reg, -1
        bnez    \\reg, 1b
wait_\\reg\\()_\\@:
        .endm
""")
    (inc / "table.inc").write_text("""\
        .rept   WORDS
        .dword  . - table
        .endr
""")
    source = """\
        .option rvc
        .include "macros.inc"
        .globl  _start
_start: push    ra, s0, s1
        spin    t0
        spin    t1, 100
        spin    n=2, reg=t2
        j       1f
1:      ret
        .data
table:
        .include "table.inc"
        .rept   2
        .include "table.inc"
        .endr
"""
    same_as_gnu(gnu, source, [inc])


def _random_macro_program(seed: int) -> str:
    """Macros with register and immediate parameters, defaults, \\@ and numeric local
    labels, nested .rept/.irp and invocations of earlier macros, invoked with
    arguments written in every way GNU as allows."""
    rng = random.Random(seed)
    regs = ["a0", "a1", "a2", "s0", "s1", "t0", "t1", "t2", "a5", "x9"]
    out = [".option rvc" if rng.random() < 0.5 else ".option norvc", ".globl _start",
           "_start:"]
    macros: list[tuple[str, list[tuple[str, str, str | None]]]] = []
    for k in range(rng.randint(3, 6)):
        params: list[tuple[str, str, str | None]] = []  # (name, kind, default)
        for j in range(rng.randint(0, 3)):
            kind = rng.choice(["reg", "imm"])
            default = None
            if rng.random() < 0.4:
                default = rng.choice(regs) if kind == "reg" else str(rng.randint(-9, 9))
            params.append((f"p{j}", kind, default))
        reg_ps = [f"\\{n}" for n, kind, _ in params if kind == "reg"]
        imm_ps = [f"\\{n}" for n, kind, _ in params if kind == "imm"]

        def reg() -> str:
            return rng.choice(reg_ps + regs[:3]) if reg_ps else rng.choice(regs)  # noqa: B023

        def imm() -> str:
            return rng.choice(imm_ps + ["3", "-1"]) if imm_ps else str(rng.randint(-9, 9))  # noqa: B023

        spec = ", ".join(n + (f"={d}" if d is not None else
                              (":req" if rng.random() < 0.3 else ""))
                         for n, _, d in params)
        body: list[str] = []
        for _ in range(rng.randint(1, 5)):
            choice = rng.randrange(9)
            if choice == 0:
                body.append(f"addi {reg()}, {reg()}, {imm()}")
            elif choice == 1:
                body.append(f"L\\@_{len(body)}: addi {reg()}, {reg()}, ({imm()}) + 1")
                body.append(f"bnez {reg()}, L\\@_{len(body) - 1}")
            elif choice == 2:
                body += ["1:", f"beqz {reg()}, 1f", f"addi {reg()}, {reg()}, 1", "j 1b", "1:"]
            elif choice == 3:
                body += [f".rept {rng.randint(0, 3)}", "nop", ".endr"]
            elif choice == 4:
                rs = rng.sample(regs, rng.randint(1, 3))
                body += [f".irp r, {', '.join(rs)}", f"add \\r, \\r, {reg()}", ".endr"]
            elif choice == 5:
                body.append(f"sd {reg()}, ({imm()})*8(sp)")
            elif choice == 6 and macros:
                name, mparams = rng.choice(macros)
                body.append(f"{name} " + ", ".join(
                    reg() if kind == "reg" else imm() for _, kind, _ in mparams))
            elif choice == 7:
                body += [".rept 2", f".irpc d, {rng.randint(10, 999)}",
                         f"addi {reg()}, {reg()}, \\d", ".endr", ".endr"]
            else:
                body += [f"li {reg()}, {imm()}", ".exitm", ".word 0xdead"]
                break
        name = f"m{k}_{rng.choice(['op', 'Do', 'x'])}"
        out += [f".macro {name}{' ' if spec else ''}{spec}", *body, ".endm"]
        macros.append((name.lower(), params))
    for _ in range(rng.randint(10, 30)):
        name, params = rng.choice(macros)
        values = [rng.choice(regs) if kind == "reg" else str(rng.randint(-9, 9))
                  for _, kind, _ in params]
        form = rng.randrange(4)
        if form == 0 or not params:
            args = ", ".join(values)
        elif form == 1 and all(not v.startswith("-") for v in values):
            args = " ".join(values)
        elif form == 2:
            pairs = [f"{n}={v}" for (n, _, _), v in zip(params, values, strict=True)]
            rng.shuffle(pairs)
            args = ", ".join(pairs)
        else:  # trailing arguments with defaults left out
            keep = len(params)
            while keep and params[keep - 1][2] is not None and rng.random() < 0.7:
                keep -= 1
            args = ",".join(values[:keep])
        if rng.random() < 0.2:
            out.append(f"here_{len(out)}: {name.upper()} {args}")
        else:
            out.append(f"    {name} {args}")
    out.append("    ret")
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("seed", range(6))
def test_random_macro_programs_match_gnu(gnu, seed: int) -> None:  # noqa: ANN001
    same_as_gnu(gnu, _random_macro_program(seed))


# ------------------------------------------------------------------ fuzz

_FRAGMENTS = st.sampled_from([
    ".macro m a, b=2", ".macro m a:req", ".macro n rest:vararg", ".endm", ".exitm",
    ".purgem m", "m", "m 1", "m 1, 2", "m b=1", "m a=1 2", "n 1, 2 3", ".rept 2", ".rept",
    ".rept 1 << 40", ".rept -3", ".irp x, 1 2", ".irpc c, ab", ".irp", ".endr", "\\a",
    "\\x", "\\@", "\\()", "\\(", "&a&", ".word \\a", "nop", "1:", "j 1b", "l\\@:",
    '.include "nowhere.inc"', ".include", ".equ N, 3", ".rept N", '"', "'", ";", ",",
    "=", "(", ")",
])


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.lists(_FRAGMENTS, max_size=4).map(" ".join), max_size=12).map("\n".join))
def test_fuzz_macro_text_never_a_raw_traceback(source: str) -> None:
    """Any mix of macro and repetition directives assembles or raises AsmError."""
    try:
        assemble(source)
    except AsmError as err:
        assert err.line >= 0 and str(err)
