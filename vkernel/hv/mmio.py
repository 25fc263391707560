"""Emulating a guest's device access (MMIO), which every technique has to do.

A device register is not memory: the hypervisor leaves it unmapped, so the guest's load or
store traps (a guest-page fault with the H extension, a page fault under shadow paging).
The hypervisor then reads the trapped instruction, performs the access on its model of the
device (found on the guest's virtual board, a :class:`~vkernel.devices.bus.Bus`), writes
the loaded value to the destination register and steps past the instruction, as if the
hardware had done it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vkernel.isa.decode import decode

LOADS = {"lb": (1, True), "lh": (2, True), "lw": (4, True), "ld": (8, True),
         "lbu": (1, False), "lhu": (2, False), "lwu": (4, False),
         "c.lw": (4, True), "c.ld": (8, True), "c.lwsp": (4, True), "c.ldsp": (8, True)}
STORES = {"sb": 1, "sh": 2, "sw": 4, "sd": 8, "c.sw": 4, "c.sd": 8, "c.swsp": 4, "c.sdsp": 8}


def read_instruction(read_half: Callable[[int], int], pc: int) -> tuple[int, int]:
    """The instruction at guest virtual ``pc`` as the hardware fetched it: (bits, length).
    ``read_half(va)`` reads 16 bits through the guest's own translation (the two halves
    of a 32-bit instruction may lie on different pages)."""
    low = read_half(pc)
    return (low, 2) if low & 3 != 3 else (low | read_half(pc + 2) << 16, 4)


class MMIOError(Exception):
    """The trapped instruction is not a plain load or store."""


def emulate_access(insn: int, x: Any, device: Any, offset: int) -> None:
    """Perform the load or store ``insn`` (its bits) on ``device`` (``read(offset, size)``
    and ``write(offset, size, value)``) at ``offset``, with the guest's registers ``x``."""
    spec = decode(insn)
    if spec is None:
        raise MMIOError(f"{insn:#x} is not an instruction")
    fields = spec.decode(insn)
    if spec.name in LOADS:
        size, signed = LOADS[spec.name]
        value = device.read(offset, size) & ((1 << (8 * size)) - 1)
        if signed and value >> (8 * size - 1):
            value -= 1 << (8 * size)
        rd = fields.get("rd", fields.get("c_rdp"))
        if rd:
            x[rd] = value
    elif spec.name in STORES:
        size = STORES[spec.name]
        rs2 = fields.get("rs2", fields.get("c_rs2p", fields.get("c_rs2")))
        device.write(offset, size, x[rs2] & ((1 << (8 * size)) - 1))
    else:
        raise MMIOError(f"{spec.name} is not a load or store a device can answer")
