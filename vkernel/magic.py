"""The ``%%asm`` cell magic: assemble a notebook cell into a Program.

In a notebook::

    %load_ext vkernel

    %%asm hello
    _start: li a0, 42
            ret

puts a :class:`vkernel.Program` named ``hello`` in the notebook's namespace.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from typing import Any


def _summary(program: Any) -> str:
    parts = [f"{s.name} {s.addr:#x} ({s.size} bytes)" for s in program.sections.values()]
    return f"{program.name}: " + ", ".join(parts) + f"; entry {program.entry:#x}"


def asm_magic(shell: Any, line: str, cell: str) -> Any:
    """Body of ``%%asm [NAME] [--base ADDR]``; returns the Program (or None on error)."""
    from vkernel import AsmError, assemble

    parser = argparse.ArgumentParser(prog="%%asm", add_help=False)
    parser.add_argument("name", nargs="?", default="prog")
    parser.add_argument("--base", type=lambda t: int(t, 0), default=0x8000_0000)
    try:
        args = parser.parse_args(shlex.split(line))
    except SystemExit:
        print("usage: %%asm [NAME] [--base ADDR]", file=sys.stderr)
        return None
    if not args.name.isidentifier():
        print(f"%%asm: {args.name!r} is not a valid Python name", file=sys.stderr)
        return None
    try:
        program = assemble(cell, base=args.base, name=args.name, filename=f"%%asm {args.name}")
    except AsmError as e:
        print(e, file=sys.stderr)  # the message with its caret; no traceback for students
        return None
    shell.user_ns[args.name] = program
    print(_summary(program))
    return None


def register(ipython: Any) -> None:
    """Register ``%%asm`` with an IPython shell (``%load_ext vkernel`` calls this)."""
    ipython.register_magic_function(
        lambda line, cell: asm_magic(ipython, line, cell), magic_kind="cell",
        magic_name="asm")
