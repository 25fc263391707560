"""The ``vkernel`` command line.

>>> from vkernel.cli import main
>>> main(["--version"])  # doctest: +SKIP
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vkernel.errors import AsmError, LoadError


def _int(text: str) -> int:
    return int(text, 0)


def _parser() -> argparse.ArgumentParser:
    from vkernel import __version__

    parser = argparse.ArgumentParser(
        prog="vkernel",
        description="Watch virtualization happen: a RISC-V machine, a hypervisor, traces.")
    parser.add_argument("--version", action="version", version=f"vkernel {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    asm = sub.add_parser("asm", help="assemble a .s file into an ELF executable",
                         description="Assemble RISC-V source (GNU as syntax) into an ELF64 "
                                     "executable.")
    asm.add_argument("source", type=Path, help="assembly source file (.s)")
    asm.add_argument("-o", "--output", type=Path, help="ELF file to write (default: FILE.elf)")
    asm.add_argument("--base", type=_int, default=0x8000_0000,
                     help="address of the first section (default 0x80000000)")

    dis = sub.add_parser("disasm", help="disassemble an ELF file (or a .s file)",
                         description="Disassemble the executable sections of an ELF file, "
                                     "objdump style. A .s file is assembled first.")
    dis.add_argument("file", type=Path, help="ELF executable or assembly source")
    dis.add_argument("--no-aliases", action="store_true",
                     help="print every instruction under its own name (no pseudo-instructions)")
    return parser


def _load(path: Path, base: int = 0x8000_0000):  # noqa: ANN202 - returns a Program
    from vkernel import assemble, load_elf

    if path.suffix in (".s", ".S", ".asm"):
        try:
            source = path.read_text()
        except OSError as e:
            raise LoadError(f"{path}: cannot read: {e.strerror}") from e
        return assemble(source, base=base, name=path.stem, filename=str(path))
    return load_elf(path)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "asm":
            program = _load(args.source, args.base)
            output = args.output or args.source.with_suffix(".elf")
            program.to_elf(output)
            size = sum(s.size for s in program.sections.values())
            print(f"{output}: {len(program.sections)} sections, {size} bytes, "
                  f"entry {program.entry:#x}")
        elif args.command == "disasm":
            from vkernel.isa.disasm import disassemble, to_text

            program = _load(args.file)
            for section in program.sections.values():
                if not section.executable:
                    continue
                print(f"\nDisassembly of section {section.name}:\n")
                insns = disassemble(section.data, section.addr, aliases=not args.no_aliases)
                print(to_text(insns, program.symbols))
    except (AsmError, LoadError) as e:
        print(f"vkernel: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
