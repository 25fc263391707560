"""A virtio block device over virtio-mmio, version 2 ("modern"), as on QEMU virt
(0x1000_1000, PLIC source 1), backed by a raw disk image.

The image is read into memory when the machine is made, so runs are deterministic and
snapshots exact; ``flush()`` writes the guest's changes back to the file.

Requests (virtio spec 1.2 §5.2.6): a descriptor chain of a 16-byte header (type, reserved,
sector), data buffers and a 1-byte status the device writes. Types: IN (read the disk),
OUT (write it), FLUSH and GET_ID. Every request completes at once when the driver writes
QueueNotify; the used ring and an interrupt follow.

With no disk image the transport is empty and answers exactly as QEMU's empty
transports do (:class:`~vkernel.devices.virtio_mmio.EmptyVirtioMmio`: legacy version 1,
device ID 0, writes ignored).

>>> d = VirtioBlock(None, memory=None)        # no disk: the slot reads as "no device"
>>> hex(d.read(0, 4)), d.read(4, 4), d.read(8, 4)
('0x74726976', 1, 0)
"""

from __future__ import annotations

import os
import struct
from typing import Protocol

import numpy as np

from vkernel.devices.virtio_mmio import EmptyVirtioMmio

MAGIC = 0x7472_6976  # "virt"
VENDOR = 0x554D_4551  # "QEMU"
DEVICE_BLOCK = 2
SECTOR = 512
QUEUE_MAX = 1024
F_VERSION_1 = 1 << 32
F_BLK_FLUSH = 1 << 9
VRING_DESC_F_NEXT = 1
VRING_DESC_F_WRITE = 2
VRING_DESC_F_INDIRECT = 4
T_IN, T_OUT, T_FLUSH, T_GET_ID = 0, 1, 4, 8
S_OK, S_IOERR, S_UNSUPP = 0, 1, 2
STATUS_NEEDS_RESET = 0x40
_EMPTY = EmptyVirtioMmio()  # what the transport answers with no disk plugged in


class PhysicalMemory(Protocol):
    def read(self, addr: int, n: int) -> bytes: ...
    def write(self, addr: int, data: bytes) -> None: ...


class VirtioBlock:
    def __init__(self, path: str | os.PathLike[str] | None, memory: PhysicalMemory | None,
                 *, read_only: bool = False) -> None:
        self.path = None if path is None else os.fspath(path)
        self.memory = memory
        self.read_only = read_only
        if self.path is not None:
            raw = np.fromfile(self.path, dtype=np.uint8)
            # a partial last sector reads as zeros
            pad = (-len(raw)) % SECTOR
            self.disk = np.concatenate([raw, np.zeros(pad, np.uint8)]) if pad else raw
        else:
            self.disk = np.zeros(0, np.uint8)
        self.requests = 0
        self.reset()

    def reset(self) -> None:
        self.status = 0
        self.device_features_sel = 0
        self.driver_features = 0
        self.driver_features_sel = 0
        self.queue_sel = 0
        self.queue_num = 0
        self.queue_ready = 0
        self.queue_desc = 0
        self.queue_driver = 0
        self.queue_device = 0
        self.last_avail = 0
        self.interrupt_status = 0
        self.raised = False  # ISR set again (QEMU's virtio_notify): the PLIC's gateway sees it

    @property
    def present(self) -> bool:
        return self.path is not None

    @property
    def device_features(self) -> int:
        return F_VERSION_1 | F_BLK_FLUSH

    @property
    def irq(self) -> bool:
        return self.interrupt_status != 0

    @property
    def capacity(self) -> int:
        """Size of the disk in 512-byte sectors."""
        return len(self.disk) // SECTOR

    def read(self, offset: int, size: int) -> int:
        if not self.present:
            return _EMPTY.read(offset, size)
        if offset == 0x000:
            return MAGIC
        if offset == 0x004:
            return 2
        if offset == 0x008:
            return DEVICE_BLOCK if self.present else 0
        if offset == 0x00C:
            return VENDOR
        if offset == 0x010:
            return (self.device_features >> (32 * self.device_features_sel)) & 0xFFFF_FFFF \
                if self.device_features_sel < 2 else 0
        if offset == 0x034:
            return QUEUE_MAX if self.queue_sel == 0 else 0
        if offset == 0x044:
            return self.queue_ready if self.queue_sel == 0 else 0
        if offset == 0x060:
            return self.interrupt_status
        if offset == 0x070:
            return self.status
        if offset == 0x0FC:
            return 0  # config generation
        if offset >= 0x100:  # config space: capacity (le64) first, then zeros
            cfg = struct.pack("<Q", self.capacity) + bytes(56)
            off = offset - 0x100
            return int.from_bytes(cfg[off:off + size], "little") if off < len(cfg) else 0
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if not self.present:
            return
        value &= 0xFFFF_FFFF
        if offset == 0x014:
            self.device_features_sel = value
        elif offset == 0x020:
            shift = 32 * self.driver_features_sel
            if self.driver_features_sel < 2:
                self.driver_features = (self.driver_features & ~(0xFFFF_FFFF << shift)) \
                    | (value << shift)
        elif offset == 0x024:
            self.driver_features_sel = value
        elif offset == 0x030:
            self.queue_sel = value
        elif offset == 0x038:
            if self.queue_sel == 0:
                self.queue_num = min(value, QUEUE_MAX)
        elif offset == 0x044:
            if self.queue_sel == 0:
                self.queue_ready = value & 1
        elif offset == 0x050:
            if value == 0 and self.queue_ready and self.present:
                self._process()
        elif offset == 0x064:
            self.interrupt_status &= ~value
            self.raised = True
        elif offset == 0x070:
            if value == 0:
                self.reset()
            else:
                self.status = value
        elif offset in (0x080, 0x084, 0x090, 0x094, 0x0A0, 0x0A4):
            if self.queue_sel != 0:
                return
            name = {0x08: "queue_desc", 0x09: "queue_driver", 0x0A: "queue_device"}[offset >> 4]
            old = getattr(self, name)
            if offset & 4:
                setattr(self, name, (old & 0xFFFF_FFFF) | (value << 32))
            else:
                setattr(self, name, (old & ~0xFFFF_FFFF) | value)

    # --- the queue ---------------------------------------------------------------------
    def _u16(self, addr: int) -> int:
        return int.from_bytes(self.memory.read(addr, 2), "little")

    def _process(self) -> None:
        mem = self.memory
        try:
            avail_idx = self._u16(self.queue_driver + 2)
            while self.last_avail != avail_idx:
                slot = self.last_avail % self.queue_num
                head = self._u16(self.queue_driver + 4 + 2 * slot)
                written = self._request(head)
                used_idx = self._u16(self.queue_device + 2)
                elem = self.queue_device + 4 + 8 * (used_idx % self.queue_num)
                mem.write(elem, struct.pack("<II", head, written))
                mem.write(self.queue_device + 2, struct.pack("<H", (used_idx + 1) & 0xFFFF))
                self.last_avail = (self.last_avail + 1) & 0xFFFF
                self.requests += 1
            self.interrupt_status |= 1
            self.raised = True
        except (IndexError, ValueError):
            # the driver pointed us outside RAM: the device stops, as the spec allows
            self.status |= STATUS_NEEDS_RESET
            self.interrupt_status |= 2
            self.raised = True

    def _chain(self, head: int) -> list[tuple[int, int, int]]:
        descs, i = [], head
        for _ in range(self.queue_num):
            addr, length, flags, nxt = struct.unpack(
                "<QIHH", self.memory.read(self.queue_desc + 16 * i, 16))
            descs.append((addr, length, flags))
            if not flags & VRING_DESC_F_NEXT:
                return descs
            i = nxt % self.queue_num
        raise ValueError("descriptor loop")

    def _request(self, head: int) -> int:
        mem = self.memory
        descs = self._chain(head)
        if len(descs) < 2:
            raise ValueError("a request needs a header and a status")
        rtype, _, sector = struct.unpack("<IIQ", mem.read(descs[0][0], 16))
        data, (status_addr, _, _) = descs[1:-1], descs[-1]
        status, written, pos = S_OK, 0, sector * SECTOR
        if rtype == T_IN:
            for addr, length, _ in data:
                if pos + length > len(self.disk):
                    status = S_IOERR
                    break
                mem.write(addr, self.disk[pos:pos + length].tobytes())
                pos += length
                written += length
        elif rtype == T_OUT:
            for addr, length, _ in data:
                if self.read_only or pos + length > len(self.disk):
                    status = S_IOERR
                    break
                self.disk[pos:pos + length] = np.frombuffer(mem.read(addr, length), np.uint8)
                pos += length
        elif rtype == T_GET_ID:
            if data:
                ident = b"vkernel-virtio-blk".ljust(20, b"\0")
                mem.write(data[0][0], ident[:data[0][1]])
                written = min(20, data[0][1])
        elif rtype != T_FLUSH:
            status = S_UNSUPP
        mem.write(status_addr, bytes([status]))
        return written + 1

    def flush(self) -> None:
        """Write the disk's contents back to its image file."""
        if self.path is not None and not self.read_only:
            self.disk.tofile(self.path)

    def state(self) -> dict:
        st = {k: v for k, v in vars(self).items() if k not in ("memory", "disk", "path")}
        st["disk"] = self.disk.copy()
        return st

    def set_state(self, st: dict) -> None:
        for k, v in st.items():
            if k == "disk":
                self.disk = v.copy()
            else:
                setattr(self, k, v)
