"""Shared fixtures. ``gnu`` wraps the GNU RISC-V binutils used as an independent oracle."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

MARCH = "rv64imac_zicsr_zifencei_h"


def require_tool(name: str, package: str = "binutils-riscv64-unknown-elf") -> str:
    """Path of an external tool; skip when missing, but fail under CI, where it must exist.
    ``package``: the Debian package that has it (the Makefile's APT_PACKAGES)."""
    path = shutil.which(name)
    if path is None:
        message = f"{name} not found (make test installs {package})"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


@dataclass
class Built:
    """What GNU as + ld made of a source: section bytes, symbols and the ELF path."""

    elf: Path
    sections: dict[str, bytes]
    addrs: dict[str, int]
    symbols: dict[str, int]


class Gnu:
    """GNU as, ld and objdump for RISC-V, working in a temporary directory."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.as_ = require_tool("riscv64-unknown-elf-as")
        self.ld = require_tool("riscv64-unknown-elf-ld")
        self.objdump_ = require_tool("riscv64-unknown-elf-objdump")
        self.count = 0

    def build(self, source: str, sections: dict[str, int],
              include_dirs: Sequence[Path] = ()) -> Built:
        """Assemble with ``-mno-relax`` (and ``-I`` for each of ``include_dirs``; run in
        ``workdir``, so ``.include`` finds files there too) and link each section at the
        given address.

        GNU as needs the C extension enabled for explicit ``c.*`` mnemonics, so it runs
        with ``-march=rv64imac...``; sources start with ``.option norvc`` where they want
        no compression.
        """
        self.count += 1
        stem = self.workdir / f"gnu{self.count}"
        src, obj, elf = (stem.with_suffix(s) for s in (".s", ".o", ".elf"))
        src.write_text(source)
        includes = [f"-I{d}" for d in include_dirs]
        self._run([self.as_, f"-march={MARCH}", "-mno-relax", *includes, str(src), "-o",
                   str(obj)], cwd=self.workdir)
        # one output section per input section, placed where vkernel placed it
        script = stem.with_suffix(".ld")
        lines = ["SECTIONS {"]
        for name, addr in sections.items():
            lines.append(f"  {name} {addr:#x} : {{ *({name}) }}")
        lines.append("}")
        script.write_text("\n".join(lines) + "\n")
        self._run([self.ld, "--no-relax", "-e", "_start", "-T", str(script), str(obj), "-o",
                   str(elf)])
        with open(elf, "rb") as f:
            e = ELFFile(f)
            data = {s.name: s.data() for s in e.iter_sections() if s.name in sections}
            addrs = {s.name: s["sh_addr"] for s in e.iter_sections() if s.name in sections}
            symtab = e.get_section_by_name(".symtab")
            symbols = {s.name: s["st_value"] for s in symtab.iter_symbols() if s.name}
        return Built(elf, data, addrs, symbols)

    def objdump(self, elf: Path, no_aliases: bool = False) -> list[tuple[int, int, str]]:
        """``(address, raw, text)`` for each instruction objdump shows, text normalised:
        one space after the mnemonic, targets as ``0x`` addresses, comments dropped."""
        args = [self.objdump_, "-d", "-z", str(elf)]
        if no_aliases:
            args[2:2] = ["-M", "no-aliases"]
        out = self._run(args)
        rows = []
        for line in out.splitlines():
            m = re.match(r"\s*([0-9a-f]+):\s+([0-9a-f]+)\s+(\S+)\s*(.*)$", line)
            if not m:
                continue
            addr, raw, mnemonic, rest = m.groups()
            rest = rest.split("#")[0].strip()
            rest = re.sub(r"\b([0-9a-f]+) <[^>]*>", lambda t: f"{int(t.group(1), 16):#x}", rest)
            rows.append((int(addr, 16), int(raw, 16), f"{mnemonic} {rest}".strip()))
        return rows

    def _run(self, args: list[str], cwd: Path | None = None) -> str:
        result = subprocess.run(args, capture_output=True, text=True, check=False, cwd=cwd)
        if result.returncode != 0:
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stderr}")
        return result.stdout


@pytest.fixture
def gnu(tmp_path: Path) -> Gnu:
    """GNU binutils for RISC-V as an oracle (skipped locally when missing, never in CI)."""
    return Gnu(tmp_path)


@pytest.fixture(autouse=True)
def _validate_every_trace(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every trace Dataset a test produces (built by a machine or opened from a file) is
    checked against the schema, values included."""
    from vkernel.trace import files, recorder
    from vkernel.trace.schema import validate

    build, open_ = recorder.Recorder.dataset, files.open_trace

    def dataset(self, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        return validate(build(self, *args, **kwargs))

    def open_trace(path, *args, check=True, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        ds = open_(path, *args, check=check, **kwargs)
        return validate(ds) if check else ds

    monkeypatch.setattr(recorder.Recorder, "dataset", dataset)
    monkeypatch.setattr(files, "open_trace", open_trace)
    monkeypatch.setattr(recorder, "open_trace", open_trace)
    import vkernel
    import vkernel.trace

    monkeypatch.setattr(vkernel, "open_trace", open_trace, raising=False)
    monkeypatch.setattr(vkernel.trace, "open_trace", open_trace, raising=False)
