"""vkernel: watch virtualization happen on an emulated RISC-V machine.

>>> import vkernel
>>> prog = vkernel.assemble("li a0, 42\\nret")
>>> [str(i) for i in vkernel.disassemble(prog.sections[".text"].data, prog.entry)]
['li a0,42', 'ret']
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from vkernel.errors import AsmError, LoadError, TraceError, VkernelError

__version__ = "0.1.0"

# Public names and the module each comes from; loaded on first use so that
# `import vkernel` stays quick and a student's first cell does not wait.
_LAZY = {
    "assemble": "vkernel.isa.asm",
    "disassemble": "vkernel.isa.disasm",
    "Insn": "vkernel.isa.disasm",
    "load_elf": "vkernel.isa.elf",
    "Program": "vkernel.isa.program",
    "Section": "vkernel.isa.program",
    "Machine": "vkernel.machine",
    "Exit": "vkernel.machine",
    "open_trace": "vkernel.trace.files",
    "trace": "vkernel.trace",
    "plots": "vkernel.plots",
    "widgets": "vkernel.widgets",
}

__all__ = ["AsmError", "Exit", "Insn", "LoadError", "Machine", "Program", "Section",
           "TraceError", "VkernelError",
           "__version__", "assemble", "disassemble", "load_elf", "open_trace", "plots", "trace",
           "widgets"]

if TYPE_CHECKING:
    from vkernel.isa.asm import assemble
    from vkernel.isa.disasm import Insn, disassemble
    from vkernel.isa.elf import load_elf
    from vkernel.isa.program import Program, Section
    from vkernel.machine import Exit, Machine
    from vkernel.trace.files import open_trace


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = import_module(_LAZY[name])
        value = module if module.__name__ == f"vkernel.{name}" else getattr(module, name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vkernel' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext vkernel`` registers the ``%%asm`` cell magic."""
    from vkernel.magic import register

    register(ipython)
