"""An empty virtio-mmio transport: a slot of QEMU's ``virt`` board with no device plugged in.

QEMU's virt board always has eight virtio-mmio transports, at 0x1000_1000 + 0x1000 * i
(PLIC sources 1 + i), whether or not a device is plugged into them. A transport with no
device answers as QEMU's ``virtio_mmio_read`` does with no backend (hw/virtio/virtio-mmio.c):
the magic value, the version and the vendor ID read as they would with a device, every
other register reads as zero (DeviceID 0 means "nothing here": drivers skip the slot), and
writes are ignored. The version is 1 (legacy), QEMU's default (``force-legacy=true``);
``legacy=False`` gives 2, as ``-global virtio-mmio.force-legacy=false`` does.

>>> slot = EmptyVirtioMmio()
>>> hex(slot.read(0x000, 4)), slot.read(0x004, 4), slot.read(0x008, 4), hex(slot.read(0x00C, 4))
('0x74726976', 1, 0, '0x554d4551')
>>> slot.write(0x070, 4, 1); slot.read(0x070, 4)   # Status: nothing to acknowledge
0
"""

from __future__ import annotations

MAGIC_VALUE = 0x000  # register offsets (virtio spec 1.2 §4.2.2), the three an empty slot answers
VERSION = 0x004
DEVICE_ID = 0x008
VENDOR_ID = 0x00C

MAGIC = 0x7472_6976  # "virt", little-endian
VENDOR = 0x554D_4551  # "QEMU"
VERSION_LEGACY = 1
VERSION_MODERN = 2


class EmptyVirtioMmio:
    """A virtio-mmio transport with no device behind it (QEMU's, with no backend)."""

    def __init__(self, *, legacy: bool = True) -> None:
        self.legacy = legacy
        self.raised = False  # never: there is nothing to interrupt for

    @property
    def irq(self) -> bool:
        return False

    def read(self, offset: int, size: int) -> int:
        if offset == MAGIC_VALUE:
            return MAGIC
        if offset == VERSION:
            return VERSION_LEGACY if self.legacy else VERSION_MODERN
        if offset == VENDOR_ID:
            return VENDOR
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        return None

    def state(self) -> dict:
        return {}

    def set_state(self, st: dict) -> None:
        return None
