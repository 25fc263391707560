"""ELF: what we write, objdump and readelf read; what GNU ld writes, we load; broken
files raise LoadError saying what is wrong."""

from __future__ import annotations

import struct
import subprocess
from pathlib import Path

import pytest
from conftest import require_tool
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import LoadError, Program, Section, assemble, load_elf

SOURCE = """\
        .option norvc
        .globl _start
_start: la    a0, msg
        lw    a1, 0(a0)
        ret
        .section .rodata
msg:    .asciz "hi"
        .section .tohost, "aw", @progbits
        .globl tohost
tohost:   .dword 0
fromhost: .dword 0
        .bss
buf:    .zero 256
"""


@pytest.fixture
def elf(tmp_path: Path) -> tuple[Program, Path]:
    prog = assemble(SOURCE)
    path = tmp_path / "guest.elf"
    prog.to_elf(path)
    return prog, path


def test_roundtrip_through_our_loader(elf: tuple[Program, Path]) -> None:
    prog, path = elf
    back = load_elf(path)
    assert back.entry == prog.entry
    assert back.symbols == prog.symbols
    assert back.globals == {"_start", "tohost"}
    assert {n: (s.addr, s.data, s.executable, s.writable, s.nobits)
            for n, s in back.sections.items()} == \
        {n: (s.addr, s.data, s.executable, s.writable, s.nobits)
         for n, s in prog.sections.items()}
    assert back.name == "guest"


def test_written_twice_gives_the_same_bytes(elf: tuple[Program, Path], tmp_path: Path) -> None:
    prog, path = elf
    again = tmp_path / "again.elf"
    prog.to_elf(again)
    assert again.read_bytes() == path.read_bytes()


def test_objdump_and_readelf_read_it(elf: tuple[Program, Path]) -> None:
    prog, path = elf
    objdump = require_tool("riscv64-unknown-elf-objdump")
    readelf = require_tool("riscv64-unknown-elf-readelf")
    out = subprocess.run([objdump, "-d", str(path)], capture_output=True, text=True,
                         check=True).stdout
    assert "file format elf64-littleriscv" in out
    assert "0000000080000000 <_start>:" in out
    assert "80000008:\t00052583          \tlw\ta1,0(a0)" in out
    header = subprocess.run([readelf, "-h", "-l", "-S", "-s", "-W", str(path)],
                            capture_output=True, text=True, check=True).stdout
    assert "Machine:                           RISC-V" in header
    assert "Entry point address:               0x80000000" in header
    assert "EXEC (Executable file)" in header
    assert "RVC" in header
    loads = [line.split() for line in header.splitlines() if line.strip().startswith("LOAD")]
    by_addr = {int(f[2], 16): (int(f[4], 16), int(f[5], 16), f[6]) for f in loads}
    text, bss = prog.sections[".text"], prog.sections[".bss"]
    assert by_addr[text.addr] == (text.size, text.size, "R")  # flags continue: "R E"
    assert by_addr[bss.addr] == (0, 256, "RW")                 # .bss: no bytes in the file
    assert "GLOBAL DEFAULT    3 tohost" in header


def test_loads_what_gnu_ld_links(gnu) -> None:  # noqa: ANN001
    prog = assemble(SOURCE)
    built = gnu.build(SOURCE, {n: s.addr for n, s in prog.sections.items()})
    loaded = load_elf(built.elf)
    assert loaded.entry == built.symbols["_start"]
    assert loaded.symbols["tohost"] == built.symbols["tohost"] == prog.symbols["tohost"]
    assert loaded.symbols["fromhost"] == prog.symbols["fromhost"]
    for name in (".text", ".rodata", ".tohost"):
        assert loaded.sections[name].data == built.sections[name] == prog.sections[name].data
    assert loaded.sections[".bss"].nobits and loaded.sections[".bss"].data == bytes(256)


def _bad(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "bad.elf"
    path.write_bytes(data)
    return path


def _patch(raw: bytes, offset: int, fmt: str, value: int) -> bytes:
    b = bytearray(raw)
    struct.pack_into(fmt, b, offset, value)
    return bytes(b)


@pytest.mark.parametrize(("mutate", "words"), [
    (lambda raw: b"", ["not an ELF file"]),
    (lambda raw: b"#!/bin/sh\necho hi\n", ["not an ELF file"]),
    (lambda raw: raw[:40], ["truncated", "ELF header"]),
    (lambda raw: raw[:0x1010], ["truncated"]),
    (lambda raw: _patch(raw, 4, "<B", 1), ["32-bit ELF", "RV64"]),
    (lambda raw: _patch(raw, 5, "<B", 2), ["big-endian"]),
    (lambda raw: _patch(raw, 18, "<H", 62), ["x86-64", "not RISC-V"]),
    (lambda raw: _patch(raw, 18, "<H", 183), ["AArch64"]),
    (lambda raw: _patch(raw, 16, "<H", 1), ["relocatable object", "link it first"]),
    (lambda raw: _patch(raw, 56, "<H", 0), ["no loadable"]),            # e_phnum = 0
    (lambda raw: _patch(raw, 32, "<Q", 1 << 40), ["truncated", "program headers"]),
])
def test_broken_files_say_what_is_wrong(elf: tuple[Program, Path], tmp_path: Path, mutate,
                                       words: list[str]) -> None:  # noqa: ANN001
    _, path = elf
    with pytest.raises(LoadError) as info:
        load_elf(_bad(tmp_path, mutate(path.read_bytes())))
    for word in words:
        assert word in str(info.value)
    assert "bad.elf" in str(info.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(LoadError, match="no such file"):
        load_elf(tmp_path / "missing.elf")
    with pytest.raises(LoadError, match="is a directory"):
        load_elf(tmp_path)


def test_host_binary_is_refused() -> None:
    with pytest.raises(LoadError, match="not RISC-V"):
        load_elf("/bin/sh")


def test_segment_without_section_headers_is_named_by_index(tmp_path: Path) -> None:
    prog = Program({".text": Section(".text", 0x8000_0000, bytes.fromhex("13050500"),
                                     executable=True)}, {}, 0x8000_0000)
    path = tmp_path / "p.elf"
    prog.to_elf(path)
    raw = _patch(path.read_bytes(), 60, "<H", 0)  # e_shnum = 0: stripped of sections
    raw = _patch(raw, 62, "<H", 0)
    loaded = load_elf(_bad(tmp_path, raw))
    assert list(loaded.sections) == ["seg0"]
    assert loaded.sections["seg0"].data == bytes.fromhex("13050500")


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_fuzzed_files_load_or_raise_load_error(elf: tuple[Program, Path], tmp_path: Path,
                                               data: st.DataObject) -> None:
    raw = bytearray(elf[1].read_bytes())
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 8))):
            pos = data.draw(st.integers(0, min(len(raw), 0x200) - 1))
            raw[pos] = data.draw(st.integers(0, 255))
    try:
        loaded = load_elf(_bad(tmp_path, bytes(raw)))
    except LoadError as err:
        assert str(err)
    else:
        assert all(isinstance(s.data, bytes) for s in loaded.sections.values())
