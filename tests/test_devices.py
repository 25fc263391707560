"""Devices driven register by register, as a driver would, against real guest RAM."""

from __future__ import annotations

import struct

import numpy as np

from vkernel import Machine
from vkernel.devices.plic import Plic
from vkernel.devices.uart import Uart16550

DESC, AVAIL, USED, HDR, DATA, STATUS = (0x8000_0000 + k * 0x1000 for k in range(6))


def blk_request(m: Machine, rtype: int, sector: int, length: int, slot: int) -> int:
    """Queue one request (header, data, status) in slot ``slot`` and notify the device."""
    d = m.virtio
    m.mem.write(HDR, struct.pack("<IIQ", rtype, 0, sector))
    write_flag = 2 if rtype == 0 else 0  # the device writes the data of a read
    for i, (addr, n, flags, nxt) in enumerate([(HDR, 16, 1, 1), (DATA, length, 1 | write_flag, 2),
                                               (STATUS, 1, 2, 0)]):
        m.mem.write(DESC + 16 * i, struct.pack("<QIHH", addr, n, flags, nxt))
    m.mem.write(AVAIL + 4 + 2 * (slot % 8), struct.pack("<H", 0))
    m.mem.write(AVAIL + 2, struct.pack("<H", slot + 1))
    d.write(0x050, 4, 0)  # QueueNotify
    return m.mem.read(STATUS, 1)[0]


def test_virtio_block_reads_and_writes_the_image(tmp_path):
    img = tmp_path / "disk.img"
    content = np.arange(4 * 512, dtype=np.uint32).astype(np.uint8)
    content.tofile(img)
    m = Machine(ram_mb=1, disk=img)
    d = m.virtio
    assert (d.read(0, 4), d.read(4, 4), d.read(8, 4)) == (0x74726976, 2, 2)
    assert d.read(0x100, 4) == 4  # capacity in sectors
    d.write(0x014, 4, 1)
    assert d.read(0x010, 4) & 1  # VIRTIO_F_VERSION_1 (feature bit 32)
    for status in (1, 3):
        d.write(0x070, 4, status)  # ACKNOWLEDGE, DRIVER
    d.write(0x030, 4, 0)
    assert d.read(0x034, 4) >= 8
    d.write(0x038, 4, 8)
    for reg, addr in ((0x080, DESC), (0x090, AVAIL), (0x0A0, USED)):
        d.write(reg, 4, addr & 0xFFFF_FFFF)
        d.write(reg + 4, 4, addr >> 32)
    d.write(0x044, 4, 1)
    d.write(0x070, 4, 15)  # FEATURES_OK | DRIVER_OK
    assert blk_request(m, 0, 2, 512, 0) == 0
    assert m.mem.read(DATA, 512) == content[1024:1536].tobytes()
    assert d.irq and m._update_irqs() is False  # no PLIC enable yet: the line is up, no output
    used_idx, (head, length) = struct.unpack("<H", m.mem.read(USED + 2, 2))[0], \
        struct.unpack("<II", m.mem.read(USED + 4, 8))
    assert (used_idx, head, length) == (1, 0, 513)
    d.write(0x064, 4, 1)
    assert not d.irq
    m.mem.write(DATA, b"\xab" * 512)
    assert blk_request(m, 1, 3, 512, 1) == 0
    assert d.disk[1536:2048].tobytes() == b"\xab" * 512
    assert blk_request(m, 0, 4, 512, 2) == 1  # past the end: IOERR
    d.flush()
    assert img.read_bytes()[1536:2048] == b"\xab" * 512


def test_plic_claim_complete_and_threshold():
    p = Plic()
    p.write(4 * 1, 4, 2)
    p.write(4 * 10, 4, 5)
    p.write(0x2000, 4, (1 << 1) | (1 << 10))  # context 0 (M)
    p.update({1: True, 10: True})
    assert p.outputs() == (True, False)
    p.write(0x20_0000, 4, 5)  # threshold 5 hides priority 5 and below
    assert p.outputs() == (False, False)
    p.write(0x20_0000, 4, 0)
    assert p.read(0x1000, 4) == (1 << 1) | (1 << 10)
    assert p.read(0x20_0004, 4) == 10  # highest priority first
    assert p.read(0x20_0004, 4) == 1
    assert p.read(0x20_0004, 4) == 0
    p.write(0x20_0004, 4, 10)  # complete while the line is still up: not pending (as QEMU)
    assert p.read(0x1000, 4) == 0
    p.update({1: True, 10: True}, raised=[10])  # until the device re-asserts it
    assert p.read(0x1000, 4) == 1 << 10 and p.read(0x20_0004, 4) == 10
    p.update({1: True, 10: True}, raised=[10])  # raised while claimed: pending, not taken
    assert p.read(0x1000, 4) == 1 << 10 and p.outputs() == (False, False)
    p.write(0x20_0004, 4, 10)  # until it is completed
    assert p.outputs() == (True, False)


def test_uart_registers_and_interrupts():
    u = Uart16550()
    u.write(3, 1, 0x80)  # DLAB: divisor latch
    u.write(0, 1, 3)
    u.write(3, 1, 0x03)
    assert u.dll == 3 and u.output == bytearray()
    u.write(1, 1, 0x01)  # receive interrupts only
    assert not u.irq
    u.receive(b"ab")
    assert u.irq and u.read(2, 1) & 0x0F == 0x04 and u.read(5, 1) & 1
    assert (u.read(0, 1), u.read(0, 1)) == (ord("a"), ord("b"))
    assert not u.irq and not u.read(5, 1) & 1
    u.write(1, 1, 0x02)  # transmitter-empty interrupt: raised at once, cleared by IIR read
    assert u.irq and u.read(2, 1) & 0x0F == 0x02 and not u.irq
