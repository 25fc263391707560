"""The SiFive test finisher (``sifive,test0``) at 0x0010_0000, as on QEMU's virt board.

A 32-bit store ends the machine: 0x5555 means pass, ``0x3333 | code << 16`` fail with
``code``, 0x7777 asks for a reset (treated as a pass here: there is nothing to reset to).

>>> f = TestFinisher()
>>> f.write(0, 4, 0x3333 | 7 << 16); f.exit_code
7
"""

from __future__ import annotations

FINISHER_PASS = 0x5555
FINISHER_FAIL = 0x3333
FINISHER_RESET = 0x7777


class TestFinisher:
    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.exit_code: int | None = None

    def read(self, offset: int, size: int) -> int:
        return 0

    def write(self, offset: int, size: int, value: int) -> None:
        if offset != 0:
            return
        kind = value & 0xFFFF
        if kind == FINISHER_PASS or kind == FINISHER_RESET:
            self.exit_code = 0
        elif kind == FINISHER_FAIL:
            self.exit_code = (value >> 16) & 0xFFFF

    def state(self) -> dict:
        return {"exit_code": self.exit_code}

    def set_state(self, st: dict) -> None:
        self.exit_code = st["exit_code"]
