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
        device.write(offset, size, x[_store_source(fields)] & ((1 << (8 * size)) - 1))
    else:
        raise MMIOError(f"{spec.name} is not a load or store a device can answer")


def _store_source(fields: dict[str, int]) -> int:
    """The register a store writes from (c.sw and c.sd name it in their rd' field)."""
    for name in ("rs2", "c_rs2", "c_rdp"):
        if name in fields:
            return fields[name]
    raise MMIOError("not a store")


def _signed(value: int, size: int) -> int:
    value &= (1 << (8 * size)) - 1
    return value - (1 << (8 * size)) if value >> (8 * size - 1) else value


# an AMO's operation: (old value, rs2's value), both signed, -> the value it stores
AMOS: dict[str, Callable[[int, int], int]] = {
    "amoswap": lambda old, new: new, "amoadd": lambda old, new: old + new,
    "amoxor": lambda old, new: old ^ new, "amoand": lambda old, new: old & new,
    "amoor": lambda old, new: old | new, "amomin": min, "amomax": max,
    "amominu": lambda old, new: min(old % (1 << 64), new % (1 << 64)),
    "amomaxu": lambda old, new: max(old % (1 << 64), new % (1 << 64)),
}


def emulate_store(insn: int, x: Any, address: int, read: Callable[[int, int], bytes],
                  write: Callable[[int, bytes], None]) -> int | None:
    """Perform the store or AMO ``insn`` (its bits) at ``address`` for a guest whose
    registers are ``x``, with ``read(address, n)`` and ``write(address, data)`` on its
    memory (a hypervisor emulating a store to a write-protected page). Returns the size
    written, or None (and nothing done) for anything else: a load, an sc (its
    reservation is the hardware's), a misaligned access.

    >>> from vkernel.isa.asm import assemble
    >>> insn = int.from_bytes(assemble("c.sd a1, 8(a2)").sections[".text"].data, "little")
    >>> mem = bytearray(16)
    >>> def write(a, data): mem[a:a + len(data)] = data
    >>> emulate_store(insn, {11: 0x1122}, 8, lambda a, n: bytes(mem[a:a + n]), write)
    8
    >>> bytes(mem[8:10]).hex()
    '2211'
    """
    spec = decode(insn)
    if spec is None:
        return None
    fields = spec.decode(insn)
    op, _, width = spec.name.partition(".")
    if spec.name in STORES:
        size = STORES[spec.name]
        value = x[_store_source(fields)]
    elif op in AMOS:
        size = 4 if width.startswith("w") else 8
        if address % size:
            return None
        old = _signed(int.from_bytes(read(address, size), "little"), size)
        new = AMOS[op](old, _signed(x[fields["rs2"]], size))
        if op in ("amominu", "amomaxu") and size == 4:  # unsigned within 32 bits
            a, b = old % (1 << 32), x[fields["rs2"]] % (1 << 32)
            new = min(a, b) if op == "amominu" else max(a, b)
        if fields["rd"]:
            x[fields["rd"]] = old
        value = new
    else:
        return None
    if address % size:
        return None
    write(address, (value % (1 << (8 * size))).to_bytes(size, "little"))
    return size
