"""The PCIe host of QEMU's ``virt`` board, with nothing plugged in: its ECAM window.

QEMU's virt has a generic PCIe host (``pci-host-ecam-generic``, QEMU's ``gpex``) whose
configuration space is memory-mapped at 0x3000_0000 (ECAM: 256 buses of 32 devices of 8
functions, 4 KiB each; PCI Express Base spec §7.2.2). With no ``-device`` on the command
line the one function on it is the host bridge itself, 00:00.0 (QEMU's ``gpex-root``):
Red Hat's vendor ID 0x1b36, device 0x0008, class 0x060000 (host bridge), no BARs, no
capabilities. Every other function reads as all ones (nothing answers: a master abort),
as do the bridge's registers past its 256-byte conventional configuration space. Writes
reach only the bits QEMU makes writable (Command, Cache Line Size, Interrupt Line).
Firmware enumerating the bus (U-Boot) finds the bridge and nothing else.

>>> host = PcieHost()
>>> hex(host.read(0x0000, 4)), hex(host.read(0x0008, 4))   # 00:00.0: IDs; class, revision
('0x81b36', '0x6000000')
>>> hex(host.read(1 << 15, 4))                              # 00:01.0: nobody
'0xffffffff'
"""

from __future__ import annotations

ECAM_BASE = 0x3000_0000
ECAM_SIZE = 0x1000_0000
FUNCTION_SIZE = 0x1000  # ECAM: bus << 20 | device << 15 | function << 12 | register
CONFIG_SIZE = 0x100  # a conventional PCI function's configuration space

VENDOR_REDHAT = 0x1B36
DEVICE_REDHAT_PCIE_HOST = 0x0008
SUBVENDOR_QUMRANET = 0x1AF4  # QEMU's default subsystem IDs (pci_set_default_subsystem_id)
SUBDEVICE_QEMU = 0x1100
CLASS_BRIDGE_HOST = 0x0600

# register offsets (PCI Local Bus spec 3.0, §6.1) and what software may write in them
COMMAND = 0x04
CACHE_LINE_SIZE = 0x0C
SUBSYSTEM_VENDOR_ID = 0x2C
INTERRUPT_LINE = 0x3C
COMMAND_WRITABLE = 0x0507  # IO, MEMORY, MASTER, SERR, INTX_DISABLE (QEMU: not PARITY)


def _host_bridge() -> tuple[bytearray, bytearray]:
    """00:00.0's configuration space as QEMU's ``gpex-root`` starts, and its write mask."""
    config = bytearray(CONFIG_SIZE)
    config[0:4] = (VENDOR_REDHAT | DEVICE_REDHAT_PCIE_HOST << 16).to_bytes(4, "little")
    config[0x0A:0x0C] = CLASS_BRIDGE_HOST.to_bytes(2, "little")  # revision 0, prog-if 0
    config[SUBSYSTEM_VENDOR_ID:SUBSYSTEM_VENDOR_ID + 4] = \
        (SUBVENDOR_QUMRANET | SUBDEVICE_QEMU << 16).to_bytes(4, "little")
    mask = bytearray(CONFIG_SIZE)
    mask[COMMAND:COMMAND + 2] = COMMAND_WRITABLE.to_bytes(2, "little")
    mask[CACHE_LINE_SIZE] = 0xFF
    mask[INTERRUPT_LINE] = 0xFF
    return config, mask


class PcieHost:
    """The ECAM window of an empty PCIe bus: the host bridge at 00:00.0 and nobody else."""

    def __init__(self) -> None:
        self.config, self._mask = _host_bridge()

    @property
    def irq(self) -> bool:
        return False

    raised = False

    def read(self, offset: int, size: int) -> int:
        if offset >= CONFIG_SIZE:  # another function (nobody), or past the bridge's space
            return (1 << (8 * size)) - 1
        return int.from_bytes(self.config[offset:offset + size], "little")

    def write(self, offset: int, size: int, value: int) -> None:
        if offset >= CONFIG_SIZE:
            return
        for i in range(size):
            m = self._mask[offset + i]
            b = (value >> (8 * i)) & 0xFF
            self.config[offset + i] = (self.config[offset + i] & ~m) | (b & m)

    def state(self) -> dict:
        return {"config": bytes(self.config)}

    def set_state(self, st: dict) -> None:
        self.config = bytearray(st["config"])
