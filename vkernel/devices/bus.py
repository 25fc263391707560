"""The bus: which device answers at which physical address.

A board is a table of address ranges (:data:`vkernel.devices.MEMORY_MAP`, QEMU ``virt``'s
layout), and the table *is* the dispatch, as in TinyEMU: an access goes to the device
whose range holds the address, at the offset into that range. The machine has one bus
for its real devices; each domain's hypervisor has one for the devices of the virtual
board its guest believes it runs on (its *platform*: a virtual UART, so far), and
emulates a trapped access through it.

>>> from vkernel.devices import Uart16550
>>> from vkernel.devices.bus import Bus
>>> out = bytearray()
>>> bus = Bus({"uart": Uart16550(on_output=out.append)})
>>> bus.find(0x1000_0005)[0], hex(bus.find(0x1000_0005)[2])
('uart', '0x5')
>>> bus.write(0x1000_0000, 1, ord("k")); bytes(out)
b'k'
>>> bus.find(0x1000_1000) is None   # virtio's range, but this board has no virtio
True
"""

from __future__ import annotations

from typing import Any

from vkernel.devices import MEMORY_MAP


class Bus:
    """The devices in ``devices`` (name -> device with ``read(offset, size)`` and
    ``write(offset, size, value)``), at the ranges ``memory_map`` gives their names."""

    def __init__(self, devices: dict[str, Any],
                 memory_map: list[tuple[str, int, int | None]] = MEMORY_MAP) -> None:
        unknown = set(devices) - {name for name, _, _ in memory_map}
        if unknown:
            raise ValueError(f"no address range for {', '.join(sorted(unknown))} on this board")
        self.devices = dict(devices)
        # (base, end, name, device), in address order: the dispatch table
        self.ranges = sorted((base, base + size, name, devices[name])
                             for name, base, size in memory_map
                             if name in devices and size is not None)

    def find(self, addr: int) -> tuple[str, Any, int] | None:
        """The device answering at ``addr``: (name, device, offset), or None."""
        for base, end, name, device in self.ranges:
            if base <= addr < end:
                return name, device, addr - base
        return None

    def read(self, addr: int, size: int) -> int:
        name, device, offset = self._at(addr)
        return device.read(offset, size)

    def write(self, addr: int, size: int, value: int) -> None:
        name, device, offset = self._at(addr)
        device.write(offset, size, value)

    def _at(self, addr: int) -> tuple[str, Any, int]:
        found = self.find(addr)
        if found is None:
            raise LookupError(f"no device at {addr:#x}")
        return found
