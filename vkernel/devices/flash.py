"""The CFI flash of QEMU's ``virt`` board: two 32 MiB banks, blank, that answer queries.

QEMU's virt has two parallel NOR flash banks (``cfi-flash``, QEMU's ``pflash_cfi01``, an
Intel/Sharp command set part) at 0x2000_0000 and 0x2200_0000, each 32 MiB, 4 bytes wide
made of two 16-bit devices, in 256 KiB sectors. Firmware finds one by the Common Flash
Interface (JEDEC JESD68): write 0x98 (query) and read "QRY" and the part's geometry from
its table; write 0x90 to read the manufacturer and device IDs (0x89, 0x18), 0x70 the
status register (0x80: ready), 0xFF (or AMD's 0xF0) to go back to reading the array.
Every response is replicated for the bank's two devices, and a read wider than the bank
(8 bytes) combines two, as QEMU's do.

Without ``-drive if=pflash`` QEMU's banks are blank and read as zeros; so do these. They
cannot be programmed or erased: any other command goes back to reading the array (QEMU
would program the part; U-Boot does not on its way to the prompt).

>>> bank = CfiFlash()
>>> bank.write(0x55 * 4, 4, 0x98)                       # CFI query
>>> bytes(bank.read(0x10 * 4 + 4 * i, 1) for i in range(3))
b'QRY'
>>> hex(bank.read(0x40, 4)), hex(bank.read(0x27 * 4, 4))   # 'Q' twice; 2^24 per device
('0x510051', '0x180018')
"""

from __future__ import annotations

BANK_SIZE = 0x200_0000  # 32 MiB, as QEMU virt's VIRT_FLASH bank
FLASH0_BASE = 0x2000_0000
FLASH1_BASE = 0x2200_0000
SECTOR_SIZE = 0x4_0000  # 256 KiB
BANK_WIDTH = 4  # bytes: two 16-bit devices side by side
DEVICE_WIDTH = 2
DEVICES = BANK_WIDTH // DEVICE_WIDTH

# commands (Intel/Sharp command set)
READ_ARRAY = 0xFF
READ_ID = 0x90
READ_STATUS = 0x70
CFI_QUERY = 0x98

STATUS_READY = 0x80
MANUFACTURER_ID = 0x89  # Intel
DEVICE_ID = 0x18


def _cfi_table() -> bytes:
    """The CFI query table of one device, as QEMU's pflash_cfi01 fills it."""
    device_size = BANK_SIZE // DEVICES
    blocks = BANK_SIZE // SECTOR_SIZE
    sector_per_device = SECTOR_SIZE // DEVICES
    t = bytearray(0x40)
    t[0x10:0x13] = b"QRY"
    t[0x13] = 0x01  # primary command set: Intel/Sharp extended
    t[0x15] = 0x31  # its extended table, at 0x31
    t[0x1B], t[0x1C] = 0x45, 0x55  # Vcc min, max: 4.5 V, 5.5 V
    t[0x1F:0x27] = bytes([0x07, 0x07, 0x0A, 0x00, 0x04, 0x04, 0x04, 0x00])  # timeouts
    t[0x27] = device_size.bit_length() - 1  # device size, log2 bytes
    t[0x28] = 0x02  # interface: x8/x16
    t[0x2A] = 0x0B  # max bytes in a buffer write, log2
    t[0x2C] = 0x01  # one erase block region, uniform:
    t[0x2D] = (blocks - 1) & 0xFF  # blocks - 1
    t[0x2E] = (blocks - 1) >> 8
    t[0x2F] = (sector_per_device >> 8) & 0xFF  # block size / 256
    t[0x30] = sector_per_device >> 16
    t[0x31:0x36] = b"PRI10"  # primary extended table, version 1.0
    t[0x3F] = 0x01  # protection fields
    return bytes(t)


CFI_TABLE = _cfi_table()


def _replicate(byte: int) -> int:
    """A one-device response, as the bank of two devices gives it."""
    return byte | byte << (8 * DEVICE_WIDTH)


class CfiFlash:
    """One blank bank of QEMU virt's CFI flash (see the module)."""

    def __init__(self) -> None:
        self.mode = READ_ARRAY

    @property
    def irq(self) -> bool:
        return False

    raised = False

    def _response(self, offset: int) -> int:
        """The bank's answer at ``offset`` in the current mode, one bank width of it."""
        index = offset // BANK_WIDTH
        if self.mode == CFI_QUERY:
            return _replicate(CFI_TABLE[index]) if index < len(CFI_TABLE) else 0
        if self.mode == READ_ID:
            return _replicate({0: MANUFACTURER_ID, 1: DEVICE_ID}.get(index & 0xFF, 0))
        if self.mode == READ_STATUS:
            return _replicate(STATUS_READY)
        return 0  # the array: blank

    def read(self, offset: int, size: int) -> int:
        value = 0
        for i in range(0, size, BANK_WIDTH):  # wider than the bank: one answer per width
            value |= self._response(offset + i) << (8 * i)
        return value & ((1 << (8 * size)) - 1)

    def write(self, offset: int, size: int, value: int) -> None:
        command = value & 0xFF
        self.mode = command if command in (CFI_QUERY, READ_ID, READ_STATUS) else READ_ARRAY

    def state(self) -> dict:
        return {"mode": self.mode}

    def set_state(self, st: dict) -> None:
        self.mode = st["mode"]
