"""Program: what the assembler produces and the ELF loader returns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path


@dataclass
class Section:
    """One section of a program: where it lives in guest memory and its bytes.

    ``nobits`` sections (``.bss``) occupy memory but have no file contents; their
    ``data`` is all zeros.
    """

    name: str
    addr: int
    data: bytes
    executable: bool = False
    writable: bool = False
    nobits: bool = False

    @property
    def size(self) -> int:
        """Size in bytes."""
        return len(self.data)

    def __repr__(self) -> str:
        perms = "r" + ("w" if self.writable else "-") + ("x" if self.executable else "-")
        kind = ", nobits" if self.nobits else ""
        return f"Section({self.name!r}, {self.addr:#x}, {self.size} bytes, {perms}{kind})"

    @property
    def end(self) -> int:
        """First address past the section."""
        return self.addr + len(self.data)


@dataclass
class Program:
    """An assembled or loaded RV64 program.

    >>> import vkernel
    >>> p = vkernel.assemble("_start: li a0, 1\\n ret")
    >>> hex(p.entry), p.sections[".text"].data.hex(), hex(p.symbols["_start"])
    ('0x80000000', '1305100067800000', '0x80000000')
    """

    sections: dict[str, Section]
    symbols: dict[str, int]
    entry: int
    name: str = "program"
    globals: set[str] = field(default_factory=set)
    # address -> 1-based source line, for programs that came from assembly source
    lines: dict[int, int] = field(default_factory=dict)
    source: str | None = None

    def __repr__(self) -> str:
        sections = ", ".join(repr(s) for s in self.sections.values())
        return (f"Program({self.name!r}, entry={self.entry:#x}, sections=[{sections}], "
                f"{len(self.symbols)} symbols)")

    def to_elf(self, path: str | PathLike[str]) -> None:
        """Write an ELF64 RISC-V executable (``riscv64-unknown-elf-objdump -d`` reads it)."""
        from vkernel.isa.elf import write_elf

        write_elf(self, path)

    def sha256(self) -> str:
        """SHA-256 of what a machine loads: the entry point and every section's name,
        address and bytes (a trace names the program it ran by this).

        >>> import vkernel
        >>> vkernel.assemble("nop").sha256() == vkernel.assemble("nop").sha256()
        True
        """
        import hashlib

        h = hashlib.sha256(self.entry.to_bytes(8, "little"))
        for s in sorted(self.sections.values(), key=lambda s: (s.addr, s.name)):
            h.update(f"{s.name}\0{s.addr:x}\0{len(s.data)}\0{int(s.nobits)}\0".encode())
            if not s.nobits:
                h.update(bytes(s.data))
        return h.hexdigest()

    def segments(self) -> list[tuple[int, bytes]]:
        """``(address, bytes)`` of every section, in address order, for loading into RAM."""
        return [(s.addr, s.data) for s in sorted(self.sections.values(), key=lambda s: s.addr)
                if s.data]

    def symbol_at(self, addr: int) -> str | None:
        """Name of a symbol defined at ``addr`` (globals first), if any."""
        names = [n for n, a in self.symbols.items() if a == addr]
        names.sort(key=lambda n: (n not in self.globals, n.startswith("."), n))
        return names[0] if names else None


def load_program(path: str | PathLike[str], base: int = 0x8000_0000,
                 include_dirs: Sequence[str | PathLike[str]] = ()) -> Program:
    """A Program from a file: assembly source (``.s``, ``.S``, ``.asm``) is assembled at
    ``base`` (``.include`` looks in the file's own directory, then in ``include_dirs``),
    anything else is loaded as an ELF executable.

    Raises :class:`vkernel.AsmError` or :class:`vkernel.LoadError` saying what is wrong.
    """
    from vkernel.errors import LoadError
    from vkernel.isa.asm import assemble
    from vkernel.isa.elf import load_elf

    path = Path(path)
    if path.suffix in (".s", ".S", ".asm"):
        try:
            source = path.read_text()
        except OSError as e:
            raise LoadError(f"{path}: cannot read: {e.strerror}") from e
        return assemble(source, base=base, name=path.stem, filename=str(path),
                        include_dirs=include_dirs)
    return load_elf(path)
