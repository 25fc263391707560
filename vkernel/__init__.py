"""vkernel: watch virtualization happen on an emulated RISC-V machine.

>>> import vkernel
>>> prog = vkernel.assemble("li a0, 42\\nret")
>>> [str(i) for i in vkernel.disassemble(prog.sections[".text"].data, prog.entry)]
['li a0,42', 'ret']
"""

from __future__ import annotations

from vkernel.errors import AsmError, LoadError, VkernelError
from vkernel.isa.asm import assemble
from vkernel.isa.disasm import Insn, disassemble
from vkernel.isa.elf import load_elf
from vkernel.isa.program import Program, Section

__version__ = "0.1.0"

__all__ = [
    "AsmError", "Insn", "LoadError", "Program", "Section", "VkernelError", "assemble",
    "disassemble", "load_elf", "__version__",
]


def load_ipython_extension(ipython) -> None:  # noqa: ANN001 - IPython's own type
    """``%load_ext vkernel`` registers the ``%%asm`` cell magic."""
    from vkernel.magic import register

    register(ipython)
