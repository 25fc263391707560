"""Devices of the QEMU ``virt`` board that live in Python, reached by an exit from the core.

The CLINT and RAM are hot, so they live inside the numba core (``vkernel.core.kernel``).
Each device here has ``read(offset, size) -> int`` and ``write(offset, size, value)``,
an ``irq`` property (its interrupt line, for the PLIC) where it has one, and
``state()``/``set_state()`` so that machine snapshots are exact.

:data:`BOARD` is the board: one row per device (and RAM), with its address range, its
PLIC source and what the device tree calls it. The bus dispatches by it
(:data:`MEMORY_MAP` is its name/base/size columns), the machine wires interrupts by it,
and :mod:`vkernel.devices.dtb` describes it to a guest: a device added here is on the bus
and in the device tree at once.

>>> from vkernel.devices import BOARD, MEMORY_MAP
>>> [(name, hex(base)) for name, base, size in MEMORY_MAP][:3]
[('finisher', '0x100000'), ('clint', '0x2000000'), ('plic', '0xc000000')]
>>> BOARD["uart"].irq, BOARD["uart"].compatible
(10, ('ns16550a',))
"""

from __future__ import annotations

from typing import NamedTuple

from vkernel.devices.finisher import TestFinisher
from vkernel.devices.flash import BANK_SIZE, FLASH0_BASE, FLASH1_BASE, CfiFlash
from vkernel.devices.pcie import ECAM_BASE, ECAM_SIZE, PcieHost
from vkernel.devices.plic import Plic
from vkernel.devices.uart import Uart16550
from vkernel.devices.virtio_blk import VirtioBlock
from vkernel.devices.virtio_mmio import EmptyVirtioMmio


class BoardDevice(NamedTuple):
    """One row of the board: a device (or RAM) and the physical range it answers in.

    ``name`` is the machine's name for it (the bus's key, the io trace's device);
    ``node`` and ``compatible`` are the device tree's node name and compatible strings
    (QEMU's, from its ``virt`` board); ``irq`` is its PLIC source, if it has a line.

    >>> hex(BoardDevice("uart", 0x1000_0000, 0x100, "serial", ("ns16550a",), irq=10).end)
    '0x10000100'
    """

    name: str
    base: int
    size: int | None  # None: set by the machine (RAM)
    node: str
    compatible: tuple[str, ...]
    irq: int | None = None
    in_tree: bool = True  # False: on the bus, not (yet) described in the device tree

    @property
    def end(self) -> int:
        """The first address past the range."""
        return self.base + (self.size or 0)


class Board(dict[str, BoardDevice]):
    """The rows of a board by name, in the order given.

    >>> list(Board(BoardDevice("uart", 0x1000_0000, 0x100, "serial", ("ns16550a",))))
    ['uart']
    """

    def __init__(self, *rows: BoardDevice) -> None:
        super().__init__((row.name, row) for row in rows)


# QEMU virt (hw/riscv/virt.c, 7.2: virt_memmap and the fdt it writes). The core serves
# the CLINT and RAM from its own compile-time copies of these two ranges (numba's cache
# would not notice a change to a global imported from here); the machine checks at import
# that they agree.
VIRTIO_COUNT = 8  # virtio-mmio transports on the board, as QEMU virt's VIRTIO_COUNT
VIRTIO_BASE = 0x1000_1000
VIRTIO_SIZE = 0x1000

BOARD = Board(
    BoardDevice("finisher", 0x0010_0000, 0x1000, "test",
                ("sifive,test1", "sifive,test0", "syscon")),
    BoardDevice("clint", 0x0200_0000, 0x1_0000, "clint", ("sifive,clint0", "riscv,clint0")),
    BoardDevice("plic", 0x0C00_0000, 0x60_0000, "plic", ("sifive,plic-1.0.0", "riscv,plic0")),
    BoardDevice("uart", 0x1000_0000, 0x100, "serial", ("ns16550a",), irq=10),
    # eight transports, PLIC sources 1..8; the disk (if any) in the first
    *(BoardDevice(f"virtio{i}", VIRTIO_BASE + VIRTIO_SIZE * i, VIRTIO_SIZE, "virtio_mmio",
                  ("virtio,mmio",), irq=1 + i) for i in range(VIRTIO_COUNT)),
    # CFI flash, two blank banks, and the configuration space (ECAM) of an empty PCIe bus:
    # on the bus as QEMU's (firmware probes them), not yet in the generated device tree
    BoardDevice("flash0", FLASH0_BASE, BANK_SIZE, "flash", ("cfi-flash",), in_tree=False),
    BoardDevice("flash1", FLASH1_BASE, BANK_SIZE, "flash", ("cfi-flash",), in_tree=False),
    BoardDevice("pcie", ECAM_BASE, ECAM_SIZE, "pci", ("pci-host-ecam-generic",),
                in_tree=False),
    BoardDevice("ram", 0x8000_0000, None, "memory", ()),
)

# name, base, size: what the bus dispatches by
MEMORY_MAP: list[tuple[str, int, int | None]] = [(d.name, d.base, d.size)
                                                 for d in BOARD.values()]

# device numbers used in the io event family (CLINT's comes from the core); virtio0 kept
# the number the one transport had before there were eight
DEVICE_ID = {"clint": 1, "uart": 2, "plic": 3, "virtio0": 4, "finisher": 5, "htif": 6,
             **{f"virtio{i}": 6 + i for i in range(1, VIRTIO_COUNT)}, "pcie": 14,
             "flash0": 15, "flash1": 16}

UART_IRQ = BOARD["uart"].irq
VIRTIO_IRQ = BOARD["virtio0"].irq  # transport i: PLIC source VIRTIO_IRQ + i

__all__ = ["BOARD", "DEVICE_ID", "MEMORY_MAP", "Board", "BoardDevice", "CfiFlash",
           "EmptyVirtioMmio", "PcieHost", "Plic", "TestFinisher", "Uart16550", "VirtioBlock",
           "UART_IRQ", "VIRTIO_BASE", "VIRTIO_COUNT", "VIRTIO_IRQ", "VIRTIO_SIZE"]
