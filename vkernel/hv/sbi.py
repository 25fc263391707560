"""The SBI a hypervisor gives its guest.

A RISC-V kernel does not touch the timer, the console or the power switch itself: it asks
the layer below through the Supervisor Binary Interface, with an ``ecall`` (a7 = extension,
a6 = function, arguments in a0..a5; the answer comes back as an error code in a0 and a value
in a1). On a bare machine that layer is M-mode firmware (vkernel/guests/sbi.s). Under a
hypervisor the guest's ``ecall`` is a VM exit, and the hypervisor answers it here, in Python:
the same guest kernel runs unchanged on both.

Implemented (SBI v2.0): TIME ``set_timer``, DBCN ``console_write_byte``, SRST
``system_reset``, and BASE (spec version, probe extension). Anything else returns
``SBI_ERR_NOT_SUPPORTED``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

EXT_BASE = 0x10
EXT_TIME = 0x54494D45  # "TIME"
EXT_DBCN = 0x4442434E  # "DBCN"
EXT_SRST = 0x53525354  # "SRST"
SBI_SUCCESS = 0
SBI_ERR_NOT_SUPPORTED = -2
MASK64 = (1 << 64) - 1


@dataclass
class Reset:
    """The guest asked to be switched off (SRST): ``reason`` 0 is a normal shutdown."""

    reset_type: int
    reason: int


class SBI:
    """Answers a guest's SBI calls. ``set_timer(t)`` programs the guest's timer (each
    technique has its own way), ``console`` takes the bytes it prints."""

    def __init__(self, set_timer: Callable[[int], None], console: Callable[[int], None]) -> None:
        self.set_timer = set_timer
        self.console = console
        self.reset: Reset | None = None

    def call(self, ext: int, fid: int, args: list[int]) -> tuple[int, int]:
        """One SBI call: returns (error, value) for a0 and a1."""
        if ext == EXT_TIME and fid == 0:
            self.set_timer(args[0])
            return SBI_SUCCESS, 0
        if ext == EXT_DBCN and fid == 2:
            self.console(args[0] & 0xFF)
            return SBI_SUCCESS, 0
        if ext == EXT_SRST and fid == 0:
            self.reset = Reset(args[0] & 0xFFFF_FFFF, args[1] & 0xFFFF_FFFF)
            return SBI_SUCCESS, 0
        if ext == EXT_BASE:
            if fid == 0:  # get_spec_version: 2.0
                return SBI_SUCCESS, 2 << 24
            if fid == 3:  # probe_extension
                return SBI_SUCCESS, int(args[0] in (EXT_BASE, EXT_TIME, EXT_DBCN, EXT_SRST))
        return SBI_ERR_NOT_SUPPORTED & MASK64, 0
