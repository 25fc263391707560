"""The vkernel command, run as a real subprocess."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import require_tool

from vkernel import load_elf

HELLO = """\
    .globl _start
_start:
    li   a0, 42
    call done
done:
    ret
"""


def run(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vkernel", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=60)


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    assert "asm" in result.stdout and "disasm" in result.stdout


def test_console_script_is_installed() -> None:
    script = shutil.which("vkernel", path=str(Path(sys.executable).parent))
    assert script is not None, "the vkernel entry point is not installed in this environment"
    result = subprocess.run([script, "--version"], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and result.stdout.startswith("vkernel ")


def test_asm_writes_an_elf_objdump_reads(tmp_path: Path) -> None:
    src = tmp_path / "hello.s"
    src.write_text(HELLO)
    result = run("asm", str(src), "-o", str(tmp_path / "out.elf"))
    assert result.returncode == 0, result.stderr
    assert "entry 0x80000000" in result.stdout
    program = load_elf(tmp_path / "out.elf")
    assert program.symbols["done"] == 0x8000_000C
    objdump = require_tool("riscv64-unknown-elf-objdump")
    listing = subprocess.run([objdump, "-d", str(tmp_path / "out.elf")], capture_output=True,
                             text=True, check=True).stdout
    assert "li\ta0,42" in listing and "<done>:" in listing


def test_asm_default_output_name_and_base(tmp_path: Path) -> None:
    src = tmp_path / "prog.s"
    src.write_text(HELLO)
    assert run("asm", str(src), "--base", "0x80200000").returncode == 0
    assert load_elf(tmp_path / "prog.elf").entry == 0x8020_0000


def test_disasm_lists_labels_and_instructions(tmp_path: Path) -> None:
    src = tmp_path / "hello.s"
    src.write_text(HELLO)
    run("asm", str(src))
    out = run("disasm", str(tmp_path / "hello.elf")).stdout
    assert "0000000080000000 <_start>:" in out
    assert "80000000:\t02a00513\tli a0,42" in out
    assert "ret" in out
    assert "jalr zero,0(ra)" in run("disasm", "--no-aliases", str(src)).stdout


def test_bad_source_prints_the_error_and_exits_1(tmp_path: Path) -> None:
    src = tmp_path / "bad.s"
    src.write_text("nop\naddi a0, a0, 99999\n")
    result = run("asm", str(src))
    assert result.returncode == 1
    assert f"{src}:2:14: immediate out of range" in result.stderr
    assert "^" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("target", ["missing.elf", "notes.txt"])
def test_bad_elf_exits_1(tmp_path: Path, target: str) -> None:
    (tmp_path / "notes.txt").write_text("not an elf")
    result = run("disasm", str(tmp_path / target))
    assert result.returncode == 1
    assert "vkernel:" in result.stderr and "Traceback" not in result.stderr


def test_asm_include_dirs(tmp_path: Path) -> None:
    (tmp_path / "inc").mkdir()
    (tmp_path / "inc" / "answer.inc").write_text(".equ ANSWER, 42\n")
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "exit.inc").write_text("done: ret\n")   # beside the source
    src = tmp_path / "src" / "main.s"
    src.write_text('.include "answer.inc"\n_start: li a0, ANSWER\n.include "exit.inc"\n')
    result = run("asm", str(src))
    assert result.returncode == 1
    assert "cannot find include file 'answer.inc'" in result.stderr
    assert run("asm", str(src), "-I", str(tmp_path / "inc")).returncode == 0
    program = load_elf(tmp_path / "src" / "main.elf")
    assert program.symbols["done"] == 0x8000_0004
    out = run("disasm", "-I", str(tmp_path / "inc"), str(src)).stdout
    assert "li a0,42" in out
