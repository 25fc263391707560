""".include: search order, errors located in the included file, cycles, and the same
bytes and symbols as GNU as (run with -I) + ld."""

from __future__ import annotations

from pathlib import Path

import pytest

from vkernel import AsmError, Machine, assemble
from vkernel.isa.program import load_program


def write(root: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def same_as_gnu(gnu, source: str, include_dirs: list[Path], **kw) -> None:  # noqa: ANN001, ANN003
    prog = assemble(source, include_dirs=include_dirs, **kw)
    built = gnu.build(source, {n: s.addr for n, s in prog.sections.items()}, include_dirs)
    assert set(built.sections) == set(prog.sections)
    for name, section in prog.sections.items():
        if not section.nobits:
            assert section.data == built.sections[name], name
    assert prog.symbols, "the program defines symbols"
    for name, value in prog.symbols.items():
        assert built.symbols.get(name) == value, name


LIB = """\
# constants and a helper, as a kernel's shared header would have them
.equ UART, 0x10000000
.equ STACK_SIZE, 4096
print_char:                     # a0: the character
        li   t0, UART
        sb   a0, 0(t0)
        ret
1:      j 1b
"""


def test_include_from_include_dir_matches_gnu(gnu) -> None:  # noqa: ANN001
    inc = gnu.workdir / "inc"
    write(inc, {"lib.inc": LIB, "data.inc": 'msg: .asciz "hi"\n.balign 8\nval: .dword 42\n'})
    source = """\
.option rvc
.globl _start
_start: la   sp, stack_top
        li   a0, 'A'
        call print_char
        j    1f
.include "lib.inc"
1:      bnez a0, 1b
.data
.include "data.inc"
.bss
stack:  .space STACK_SIZE
stack_top:
"""
    same_as_gnu(gnu, source, [inc])


def test_nested_includes_and_same_file_twice_match_gnu(gnu) -> None:  # noqa: ANN001
    # gas looks up a nested include from its working directory and -I dirs (not the
    # including file's directory), so the test keeps every name findable both ways
    inc = gnu.workdir / "inc"
    write(inc, {"outer.inc": '.include "inner.inc"\nouter: addi a0, a0, 1\n',
                "inner.inc": "inner_\\@:\n.word 0x11223344\n",
                "twice.inc": "        addi a1, a1, 2\n2:      bnez a1, 2b\n"})
    source = """\
.option rvc
.globl _start
_start:
.include "outer.inc"
.include "twice.inc"
.include "twice.inc"
        ret
"""
    with pytest.raises(AsmError):  # inner_\\@ is not a valid label outside a macro
        assemble(source, include_dirs=[inc])
    (inc / "inner.inc").write_text("inner: .word 0x11223344\n")
    same_as_gnu(gnu, source, [inc])


def test_search_order_own_directory_then_include_dirs(tmp_path: Path) -> None:
    write(tmp_path, {"main/main.s": '.include "a.inc"\n.include "b.inc"\n',
                     "main/a.inc": "a_own: nop\n",
                     "dir1/a.inc": "a_dir1: nop\n",
                     "dir1/b.inc": "b_dir1: nop\n",
                     "dir2/b.inc": "b_dir2: nop\n"})
    # a file: its own directory is searched (a.inc found), b.inc is only in dir1/dir2
    with pytest.raises(AsmError, match="cannot find include file 'b.inc'") as info:
        load_program(tmp_path / "main/main.s")
    assert info.value.line == 2
    prog = assemble((tmp_path / "main/main.s").read_text(),
                    filename=str(tmp_path / "main/main.s"),
                    include_dirs=[tmp_path / "dir1", tmp_path / "dir2"])
    assert {"a_own", "b_dir1"} <= set(prog.symbols)
    assert not {"a_dir1", "b_dir2"} & set(prog.symbols)
    # a file found in dir1 looks in dir1 first, before the include dirs (main/ has an
    # a.inc too, and comes first among them)
    write(tmp_path, {"dir1/c.inc": '.include "a.inc"\n'})
    prog = assemble('.include "c.inc"', include_dirs=[tmp_path / "main", tmp_path / "dir1"])
    assert "a_dir1" in prog.symbols and "a_own" not in prog.symbols


def test_source_without_a_file_looks_in_the_working_directory(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    write(tmp_path, {"here.inc": "here: nop\n"})
    monkeypatch.chdir(tmp_path)
    assert "here" in assemble('.include "here.inc"').symbols
    # an absolute name is used as it is
    assert "here" in assemble(f'.include "{tmp_path / "here.inc"}"', filename="x.s").symbols


def test_error_in_included_file_names_that_file_and_line(tmp_path: Path) -> None:
    write(tmp_path, {"main.s": 'nop\n\n.include "sub/lib.inc"\nnop\n',
                     "sub/lib.inc": "ok: nop\n\n  addi a0, a0, 5000\n"})
    with pytest.raises(AsmError) as info:
        load_program(tmp_path / "main.s")
    e = info.value
    assert (e.filename, e.line, e.column) == (str(tmp_path / "sub/lib.inc"), 3, 16)
    assert e.source_line == "  addi a0, a0, 5000"
    assert e.context == ((str(tmp_path / "main.s"), 3, "included from here"),)
    assert str(e).endswith(f"{tmp_path / 'main.s'}:3: info: included from here")


def test_lines_map_included_code_to_the_include_line(tmp_path: Path) -> None:
    write(tmp_path, {"lib.inc": "nop\nnop\n"})
    prog = assemble('nop\n.include "lib.inc"\nret', include_dirs=[tmp_path])
    assert [prog.lines[0x8000_0000 + 4 * i] for i in range(4)] == [1, 2, 2, 3]


def test_duplicate_label_across_files_names_the_first_file(tmp_path: Path) -> None:
    write(tmp_path, {"lib.inc": "\nfoo: nop\n"})
    with pytest.raises(AsmError, match=r"duplicate label 'foo' \(first defined on "
                       r".*lib.inc:2\)") as info:
        assemble('.include "lib.inc"\nfoo: nop', include_dirs=[tmp_path], filename="m.s")
    assert (info.value.filename, info.value.line) == ("m.s", 2)


@pytest.mark.parametrize("text, message", [
    ('.include "missing.inc"', r"cannot find include file 'missing.inc' \(looked in "),
    (".include", r"\.include needs a file name"),
    ('.include ""', r"\.include needs a file name"),
    ('.include "a" "b"', r"\.include needs a file name"),
])
def test_include_errors(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(AsmError, match=message) as info:
        assemble("nop\n" + text, include_dirs=[tmp_path])
    assert info.value.line == 2


def test_include_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, {"a.inc": 'nop\n.include "b.inc"\n', "b.inc": '.include "a.inc"\n',
                     "self.inc": '.include "self.inc"\n'})
    with pytest.raises(AsmError, match=r"include cycle: a.inc -> b.inc -> a.inc") as info:
        assemble('.include "a.inc"', include_dirs=[tmp_path])
    assert info.value.filename == str(tmp_path / "b.inc")
    with pytest.raises(AsmError, match=r"include cycle: self.inc -> self.inc"):
        assemble('.include "self.inc"', include_dirs=[tmp_path])
    # a top-level file including itself
    write(tmp_path, {"top.s": 'nop\n.include "top.s"\n'})
    with pytest.raises(AsmError, match=r"include cycle: top.s -> top.s"):
        load_program(tmp_path / "top.s")


def test_include_dirs_must_be_a_list() -> None:
    with pytest.raises(TypeError, match="include_dirs takes a list"):
        assemble("nop", include_dirs="inc")  # type: ignore[arg-type]


def test_statements_after_include_on_the_same_line_come_after_the_file(
        tmp_path: Path) -> None:
    write(tmp_path, {"one.inc": "li a0, 1\n"})
    prog = assemble('.include "one.inc"; li a0, 2', include_dirs=[tmp_path])
    assert prog.sections[".text"].data == assemble("li a0, 1\nli a0, 2").sections[".text"].data


def test_prelude_as_include_keeps_guest_line_numbers(tmp_path: Path) -> None:
    # the way guests share a prelude: errors name the guest's own line, not one
    # shifted by the prelude's length
    write(tmp_path, {"prelude.s": "\n".join(["# prelude"] * 30 + ["pass: ret"]),
                     "guest.s": '.include "prelude.s"\nnop\nbogus a0\n'})
    with pytest.raises(AsmError) as info:
        load_program(tmp_path / "guest.s")
    assert (info.value.filename, info.value.line) == (str(tmp_path / "guest.s"), 3)


def test_included_program_runs(tmp_path: Path) -> None:
    write(tmp_path, {"exit.inc": """\
.equ FINISHER, 0x100000
exit:   slli a0, a0, 16           # SiFive test finisher: (code << 16) | 0x3333
        li   t0, 0x3333
        or   a0, a0, t0
        li   t0, FINISHER
        sw   a0, 0(t0)
1:      j    1b
"""})
    m = Machine(ram_mb=1)
    m.load(assemble('_start: li a0, 7\n        j exit\n.include "exit.inc"\n',
                    include_dirs=[tmp_path]))
    ex = m.run(max_steps=1000)
    assert ex.exit_code == 7


def test_include_on_the_first_line_keeps_line_numbers(tmp_path: Path) -> None:
    # how tests/guests.py and vkernel/guests put a prelude in front of a source that
    # does not include it itself: on its first line, before a ';'
    write(tmp_path, {"prelude.s": "\n".join(["nop"] * 20)})
    guest = "# a guest\nnop\n  bogus a0\n"
    with pytest.raises(AsmError) as info:
        assemble('.include "prelude.s"; ' + guest, filename="g.s", include_dirs=[tmp_path])
    assert (info.value.filename, info.value.line, info.value.column) == ("g.s", 3, 3)
    prog = assemble('.include "prelude.s"; ' + guest.replace("bogus a0", "ret"),
                    include_dirs=[tmp_path])
    assert prog.lines[0x8000_0000 + 4 * 20] == 2      # the guest's nop: its own line
