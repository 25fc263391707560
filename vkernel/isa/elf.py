"""ELF64 RISC-V executables: write a Program out, load one in (with pyelftools).

>>> import tempfile, os, vkernel
>>> prog = vkernel.assemble("_start: li a0, 1\\n ret")
>>> path = os.path.join(tempfile.mkdtemp(), "hello.elf")
>>> prog.to_elf(path)
>>> back = vkernel.load_elf(path)
>>> hex(back.entry), back.sections[".text"].data == prog.sections[".text"].data
('0x80000000', True)
"""

from __future__ import annotations

import os
import struct
from os import PathLike

from vkernel.errors import LoadError
from vkernel.isa.program import Program, Section

EM_RISCV = 243
ET_EXEC = 2
PT_LOAD = 1
PF_X, PF_W, PF_R = 1, 2, 4
SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB, SHT_NOBITS = 1, 2, 3, 8
SHF_WRITE, SHF_ALLOC, SHF_EXECINSTR = 1, 2, 4
SHN_ABS = 0xFFF1
STB_LOCAL, STB_GLOBAL, STB_WEAK = 0, 1, 2
EF_RISCV_RVC = 0x1
PAGE = 0x1000
MAX_SEGMENT = 256 << 20  # a guest's RAM is 128 MiB by default; larger means a broken file

_MACHINES = {0: "no machine", 3: "x86 (32-bit)", 8: "MIPS", 20: "PowerPC", 21: "PowerPC64",
             40: "ARM (32-bit)", 62: "x86-64", 183: "AArch64", 243: "RISC-V", 258: "LoongArch"}


class _StringTable:
    def __init__(self) -> None:
        self.data = bytearray(b"\0")
        self.offsets: dict[str, int] = {"": 0}

    def add(self, name: str) -> int:
        if name not in self.offsets:
            self.offsets[name] = len(self.data)
            self.data += name.encode() + b"\0"
        return self.offsets[name]


def write_elf(program: Program, path: str | PathLike[str]) -> None:
    """Write ``program`` as an ELF64 little-endian RISC-V executable.

    Each section becomes one PT_LOAD segment (``.bss`` with no file bytes) and one
    section header; symbols go into ``.symtab`` (locals first, as ELF requires).
    The same Program always gives the same bytes.
    """
    sections = sorted(program.sections.values(), key=lambda s: s.addr)
    shstr = _StringTable()
    strtab = _StringTable()

    # Layout: ELF header, program headers, then each section's bytes at a file offset
    # congruent to its address modulo the page size, so the file can be mapped directly.
    ehsize, phentsize, shentsize = 64, 56, 64
    loadable = [s for s in sections if s.size]
    offset = ehsize + phentsize * len(loadable)
    placed: list[tuple[Section, int]] = []
    for s in sections:
        if not s.nobits and s.size:
            offset += (s.addr - offset) % PAGE
        placed.append((s, offset))
        if not s.nobits:
            offset += s.size
    body = bytearray(offset)
    for s, off in placed:
        if not s.nobits:
            body[off:off + s.size] = s.data

    # Symbols: local ones first, then globals; st_shndx names the section holding it.
    index_of = {s.name: i + 1 for i, s in enumerate(sections)}
    symbols = [(name, addr) for name, addr in sorted(program.symbols.items(),
                                                       key=lambda kv: (kv[1], kv[0]))]
    locals_ = [(n, a) for n, a in symbols if n not in program.globals]
    globals_ = [(n, a) for n, a in symbols if n in program.globals]
    symtab = bytearray(24)  # the null symbol
    for binding, group in ((STB_LOCAL, locals_), (STB_GLOBAL, globals_)):
        for name, addr in group:
            holder = next((s for s in sections if s.addr <= addr < s.end
                           or (s.size == 0 and addr == s.addr)), None)
            shndx = index_of[holder.name] if holder else SHN_ABS
            symtab += struct.pack("<IBBHQQ", strtab.add(name), binding << 4, 0, shndx,
                                  addr & (2**64 - 1), 0)
    first_global = 1 + len(locals_)

    def append(blob: bytes, align: int) -> int:
        pad = (-len(body)) % align
        body.extend(bytes(pad))
        start = len(body)
        body.extend(blob)
        return start

    symtab_off = append(bytes(symtab), 8)
    strtab_off = append(bytes(strtab.data), 1)
    # shstrtab names must exist before it is written
    for s in sections:
        shstr.add(s.name)
    for name in (".symtab", ".strtab", ".shstrtab"):
        shstr.add(name)
    shstrtab_off = append(bytes(shstr.data), 1)

    headers = [bytes(shentsize)]
    for s, off in placed:
        flags = SHF_ALLOC | (SHF_WRITE if s.writable else 0) | \
            (SHF_EXECINSTR if s.executable else 0)
        headers.append(struct.pack(
            "<IIQQQQIIQQ", shstr.add(s.name), SHT_NOBITS if s.nobits else SHT_PROGBITS,
            flags, s.addr, off, s.size, 0, 0, 4 if s.executable else 8, 0))
    n_sections = len(sections)
    headers.append(struct.pack("<IIQQQQIIQQ", shstr.add(".symtab"), SHT_SYMTAB, 0, 0,
                               symtab_off, len(symtab), n_sections + 2, first_global, 8, 24))
    headers.append(struct.pack("<IIQQQQIIQQ", shstr.add(".strtab"), SHT_STRTAB, 0, 0,
                               strtab_off, len(strtab.data), 0, 0, 1, 0))
    headers.append(struct.pack("<IIQQQQIIQQ", shstr.add(".shstrtab"), SHT_STRTAB, 0, 0,
                               shstrtab_off, len(shstr.data), 0, 0, 1, 0))
    shoff = append(b"".join(headers), 8)

    phdrs = bytearray()
    for s, off in placed:
        if not s.size:
            continue
        flags = PF_R | (PF_W if s.writable else 0) | (PF_X if s.executable else 0)
        phdrs += struct.pack("<IIQQQQQQ", PT_LOAD, flags, off, s.addr, s.addr,
                             0 if s.nobits else s.size, s.size, PAGE)
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + bytes(8)  # 64-bit, little-endian, SysV
    header = ident + struct.pack("<HHIQQQIHHHHHH", ET_EXEC, EM_RISCV, 1,
                                 program.entry & (2**64 - 1), ehsize, shoff, EF_RISCV_RVC,
                                 ehsize, phentsize, len(loadable), shentsize, len(headers),
                                 len(headers) - 1)
    body[0:ehsize] = header
    body[ehsize:ehsize + len(phdrs)] = phdrs
    with open(path, "wb") as f:
        f.write(body)


def load_elf(path: str | PathLike[str]) -> Program:
    """Load an RV64 RISC-V ELF executable: its PT_LOAD segments, entry and symbols.

    A segment whose address range is exactly one section's takes that section's
    name; other segments are named ``seg0``, ``seg1``, ... Bytes past the end of the
    file part of a segment (``.bss``) are zeros.

    Raises :class:`vkernel.LoadError` saying what is wrong with a file that is not a
    loadable RV64 RISC-V executable.
    """
    from elftools.common.exceptions import ELFError
    from elftools.elf.elffile import ELFFile

    name = os.fspath(path)
    try:
        with open(name, "rb") as f:
            raw = f.read()
    except FileNotFoundError:
        raise LoadError(f"{name}: no such file") from None
    except IsADirectoryError:
        raise LoadError(f"{name}: is a directory, not an ELF file") from None
    except OSError as e:
        raise LoadError(f"{name}: cannot read: {e.strerror}") from e
    _check_header(name, raw)
    import io

    try:
        elf = ELFFile(io.BytesIO(raw))
        program = _read(elf, raw, name)
    except LoadError:
        raise
    except (ELFError, struct.error, ValueError, KeyError, IndexError, UnicodeDecodeError,
            AssertionError, TypeError, AttributeError, OverflowError) as e:
        raise LoadError(f"{name}: corrupt ELF file ({e})") from e
    return program


def _check_header(name: str, raw: bytes) -> None:
    """Reject what is not an RV64 little-endian executable, saying why."""
    if len(raw) < 4 or raw[:4] != b"\x7fELF":
        raise LoadError(f"{name}: not an ELF file (bad magic number)")
    if len(raw) < 64:
        raise LoadError(f"{name}: truncated ELF file ({len(raw)} bytes, shorter than the "
                        "ELF header)")
    if raw[4] == 1:
        raise LoadError(f"{name}: 32-bit ELF; vkernel runs RV64 (64-bit) programs")
    if raw[4] != 2:
        raise LoadError(f"{name}: corrupt ELF header (EI_CLASS={raw[4]})")
    if raw[5] == 2:
        raise LoadError(f"{name}: big-endian ELF; RISC-V is little-endian")
    if raw[5] != 1:
        raise LoadError(f"{name}: corrupt ELF header (EI_DATA={raw[5]})")
    e_type, e_machine = struct.unpack_from("<HH", raw, 16)
    if e_machine != EM_RISCV:
        what = _MACHINES.get(e_machine, f"machine {e_machine}")
        raise LoadError(f"{name}: ELF file for {what}, not RISC-V")
    if e_type != ET_EXEC:
        kind = {1: "a relocatable object (.o): link it first", 3: "a shared object",
                4: "a core dump"}.get(e_type, f"ELF type {e_type}")
        raise LoadError(f"{name}: {kind}, not an executable")


def _read(elf: object, raw: bytes, name: str) -> Program:
    from elftools.elf.elffile import ELFFile

    assert isinstance(elf, ELFFile)
    header = elf.header
    for what, off, count, size in (("program headers", header.e_phoff, header.e_phnum,
                                    header.e_phentsize),
                                   ("section headers", header.e_shoff, header.e_shnum,
                                    header.e_shentsize)):
        if count and off + count * size > len(raw):
            raise LoadError(f"{name}: truncated ELF file ({what} end at {off + count * size}, "
                            f"file has {len(raw)} bytes)")
    segments = []
    for i, seg in enumerate(s for s in elf.iter_segments() if s["p_type"] == "PT_LOAD"):
        start, filesz, memsz, off = (seg["p_vaddr"], seg["p_filesz"], seg["p_memsz"],
                                     seg["p_offset"])
        if off + filesz > len(raw):
            raise LoadError(f"{name}: truncated ELF file (segment {i} needs bytes up to "
                            f"{off + filesz}, file has {len(raw)})")
        if filesz > memsz:
            raise LoadError(f"{name}: corrupt segment {i} (file size {filesz} > memory size "
                            f"{memsz})")
        if memsz > MAX_SEGMENT:
            raise LoadError(f"{name}: segment {i} is {memsz} bytes in memory, more than the "
                            f"{MAX_SEGMENT >> 20} MiB vkernel loads (corrupt file?)")
        image = raw[off:off + filesz] + bytes(memsz - filesz)
        segments.append((i, start, image, seg["p_flags"], filesz))
    if not segments:
        raise LoadError(f"{name}: no loadable (PT_LOAD) segments")

    # What is loaded is the segments. Where section headers say which sections a segment
    # holds, we keep those (named) and skip what the linker mapped around them, such as
    # the ELF headers ld places in front of .text.
    sections: dict[str, Section] = {}
    alloc = [sec for sec in (elf.iter_sections() if header.e_shnum else [])
             if sec["sh_flags"] & SHF_ALLOC and sec["sh_size"]]
    for i, start, image, flags, filesz in segments:
        inside = [sec for sec in alloc if start <= sec["sh_addr"]
                  and sec["sh_addr"] + sec["sh_size"] <= start + len(image)]
        parts = [(sec.name, sec["sh_addr"], sec["sh_size"], sec["sh_type"] == "SHT_NOBITS")
                 for sec in inside] or [(f"seg{i}", start, len(image), filesz == 0)]
        for part, addr, size, nobits in parts:
            key = part if part not in sections else f"{part}.{i}"
            sections[key] = Section(key, addr, image[addr - start:addr - start + size],
                                    executable=bool(flags & PF_X),
                                    writable=bool(flags & PF_W), nobits=nobits)
    symbols: dict[str, int] = {}
    globals_: set[str] = set()
    symtab = elf.get_section_by_name(".symtab") if header.e_shnum else None
    if symtab is not None and hasattr(symtab, "iter_symbols"):
        for sym in symtab.iter_symbols():
            kind = sym["st_info"]["type"]
            if not sym.name or kind in ("STT_SECTION", "STT_FILE"):
                continue
            if sym["st_shndx"] == "SHN_UNDEF":
                continue
            symbols[sym.name] = sym["st_value"]
            if sym["st_info"]["bind"] in ("STB_GLOBAL", "STB_WEAK"):
                globals_.add(sym.name)
    stem = os.path.splitext(os.path.basename(name))[0]
    return Program(sections=dict(sorted(sections.items(), key=lambda kv: kv[1].addr)),
                   symbols=symbols, entry=header.e_entry, name=stem, globals=globals_)
