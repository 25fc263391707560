"""Devices of the QEMU ``virt`` board that live in Python, reached by an exit from the core.

The CLINT and RAM are hot, so they live inside the numba core (``vkernel.core.kernel``).
Each device here has ``read(offset, size) -> int`` and ``write(offset, size, value)``,
an ``irq`` property (its interrupt line, for the PLIC) where it has one, and
``state()``/``set_state()`` so that machine snapshots are exact.

>>> from vkernel.devices import MEMORY_MAP
>>> [(name, hex(base)) for name, base, size in MEMORY_MAP][:3]
[('finisher', '0x100000'), ('clint', '0x2000000'), ('plic', '0xc000000')]
"""

from __future__ import annotations

from vkernel.devices.finisher import TestFinisher
from vkernel.devices.flash import BANK_SIZE, FLASH0_BASE, FLASH1_BASE, CfiFlash
from vkernel.devices.pcie import ECAM_BASE, ECAM_SIZE, PcieHost
from vkernel.devices.plic import Plic
from vkernel.devices.uart import Uart16550
from vkernel.devices.virtio_blk import VirtioBlock
from vkernel.devices.virtio_mmio import EmptyVirtioMmio

VIRTIO_COUNT = 8  # virtio-mmio transports on the board, as QEMU virt's VIRTIO_COUNT
VIRTIO_BASE = 0x1000_1000
VIRTIO_SIZE = 0x1000

# name, base, size (QEMU virt): the bus's range table
MEMORY_MAP: list[tuple[str, int, int]] = [
    ("finisher", 0x0010_0000, 0x1000),
    ("clint", 0x0200_0000, 0x1_0000),
    ("plic", 0x0C00_0000, 0x60_0000),
    ("uart", 0x1000_0000, 0x100),
    *((f"virtio{i}", VIRTIO_BASE + VIRTIO_SIZE * i, VIRTIO_SIZE) for i in range(VIRTIO_COUNT)),
    ("flash0", FLASH0_BASE, BANK_SIZE),  # CFI flash, two blank banks
    ("flash1", FLASH1_BASE, BANK_SIZE),
    ("pcie", ECAM_BASE, ECAM_SIZE),  # configuration space (ECAM) of an empty PCIe bus
    ("ram", 0x8000_0000, None),  # size set by the machine
]

# device numbers used in the io event family (CLINT's comes from the core); virtio0 kept
# the number the one transport had before there were eight
DEVICE_ID = {"clint": 1, "uart": 2, "plic": 3, "virtio0": 4, "finisher": 5, "htif": 6,
             **{f"virtio{i}": 6 + i for i in range(1, VIRTIO_COUNT)}, "pcie": 14,
             "flash0": 15, "flash1": 16}

UART_IRQ = 10
VIRTIO_IRQ = 1  # transport i interrupts on PLIC source VIRTIO_IRQ + i, as on QEMU virt

__all__ = ["DEVICE_ID", "MEMORY_MAP", "CfiFlash", "EmptyVirtioMmio", "PcieHost", "Plic",
           "TestFinisher", "Uart16550", "VirtioBlock", "UART_IRQ", "VIRTIO_BASE",
           "VIRTIO_COUNT", "VIRTIO_IRQ", "VIRTIO_SIZE"]
