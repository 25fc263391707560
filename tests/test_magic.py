"""The %%asm cell magic in a real IPython shell."""

from __future__ import annotations

import pytest
from IPython.core.interactiveshell import InteractiveShell

from vkernel import Program


@pytest.fixture(scope="module")
def shell() -> InteractiveShell:
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "vkernel")
    return ip


def test_cell_becomes_a_named_program(shell: InteractiveShell, capsys) -> None:  # noqa: ANN001
    shell.run_cell_magic("asm", "hello --base 0x80200000", "_start: li a0, 1\n ret\n")
    prog = shell.user_ns["hello"]
    assert isinstance(prog, Program)
    assert prog.name == "hello" and prog.entry == 0x8020_0000
    assert prog.sections[".text"].data.hex() == "1305100067800000"
    assert "hello: .text 0x80200000 (8 bytes)" in capsys.readouterr().out


def test_default_name_is_prog(shell: InteractiveShell) -> None:
    shell.run_cell_magic("asm", "", "nop")
    assert shell.user_ns["prog"].sections[".text"].data == bytes.fromhex("13000000")


def test_error_shows_caret_not_traceback(shell: InteractiveShell, capsys) -> None:  # noqa: ANN001
    shell.user_ns.pop("broken", None)
    result = shell.run_cell_magic("asm", "broken", "nop\n  lw a0, 5000(sp)\n")
    err = capsys.readouterr().err
    assert result is None and "broken" not in shell.user_ns
    assert "%%asm broken:2:10: immediate out of range for lw: 5000" in err
    assert "^" in err and "Traceback" not in err


def test_bad_name_is_refused(shell: InteractiveShell, capsys) -> None:  # noqa: ANN001
    shell.run_cell_magic("asm", "not-a-name", "nop")
    assert "not a valid Python name" in capsys.readouterr().err
