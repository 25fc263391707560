"""The SBI a hypervisor gives its guest.

A RISC-V kernel does not touch the timer, the console or the power switch itself: it asks
the layer below through the Supervisor Binary Interface, with an ``ecall`` (a7 = extension,
a6 = function, arguments in a0..a5; the answer comes back as an error code in a0 and a value
in a1). On a bare machine that layer is M-mode firmware (vkernel/guests/sbi.s). Under a
hypervisor the guest's ``ecall`` is a VM exit, and the hypervisor answers it here, in Python:
the same guest kernel runs unchanged on both.

Implemented (SBI v2.0): TIME ``set_timer``, DBCN ``console_write`` (a buffer, by its
guest-physical address) and ``console_write_byte``, SRST ``system_reset``, and BASE (spec
version, probe extension). Anything else returns ``SBI_ERR_NOT_SUPPORTED``.

One more, vkernel's own: the **balloon** extension, ``EXT_BALLOON`` (0x0842_4C4E, "BLN"
in the SBI's experimental range 0x0800_0000..0x08FF_FFFF), for the guest kernel's balloon
driver (:mod:`vkernel.hv.balloon`; docs/hypervisor.md). Counts are 4 KiB pages:

====  ===============  ============  =================================================
fid   name             arguments     returns (a0 error, a1 value)
====  ===============  ============  =================================================
0     get_target       --            the pages the host wants the guest to have
1     get_reservation  --            the pages it has now (backed by machine frames)
2     give             gpa, count    pages ``gpa..`` leave the guest (inflate); a1 = done
3     take             gpa, count    holes ``gpa..`` are backed again (deflate); a1 = done
====  ===============  ============  =================================================

``give`` and ``take`` stop at the first page they cannot do: ``SBI_ERR_INVALID_PARAM``
(not a page of the guest's RAM, or for ``take`` not a hole), ``SBI_ERR_DENIED`` (``take``
beyond the target), ``SBI_ERR_FAILED`` (the host has no free frame); a1 says how many were
done. Natively the firmware has no such extension (``SBI_ERR_NOT_SUPPORTED``): the driver
stays idle.

``console_write`` reads the guest's buffer the way the technique maps guest memory (a
software hypervisor through its p2m, ``GuestMemory.read_or_none``; the hardware technique
through its G-stage table):
the SBI is given a ``read_guest(gpa, n)`` that returns the bytes, or ``None`` when any of
them is not the guest's RAM. Then the call fails with ``SBI_ERR_INVALID_PARAM``, as the
spec says, and nothing is read: a guest cannot make its hypervisor print memory that is
not its own.

>>> out = bytearray()
>>> ram = {0x8000_0000 + i: b for i, b in enumerate(b"hi\\n")}
>>> def read(gpa, n):
...     data = [ram.get(a) for a in range(gpa, gpa + n)]
...     return None if None in data else bytes(data)
>>> sbi = SBI(lambda t: None, out.append, read)
>>> sbi.call(EXT_DBCN, 0, [3, 0x8000_0000, 0])
(0, 3)
>>> bytes(out)
b'hi\\n'
>>> sbi.call(EXT_DBCN, 0, [4, 0x8000_0000, 0])[0] == SBI_ERR_INVALID_PARAM & MASK64
True
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

EXT_BASE = 0x10
EXT_TIME = 0x54494D45  # "TIME"
EXT_DBCN = 0x4442434E  # "DBCN"
EXT_SRST = 0x53525354  # "SRST"
EXT_BALLOON = 0x08424C4E  # "BLN" in the experimental range: vkernel's balloon
# each extension's name, for people (the standard ones spell theirs in ASCII)
EXTENSION_NAMES = {EXT_BASE: "BASE", EXT_TIME: "TIME", EXT_DBCN: "DBCN", EXT_SRST: "SRST",
                   EXT_BALLOON: "BLN"}
BALLOON_GET_TARGET, BALLOON_GET_RESERVATION, BALLOON_GIVE, BALLOON_TAKE = 0, 1, 2, 3
SBI_SUCCESS = 0
SBI_ERR_FAILED = -1
SBI_ERR_NOT_SUPPORTED = -2
SBI_ERR_INVALID_PARAM = -3
SBI_ERR_DENIED = -4
# a balloon's refusals (vkernel.hv.balloon) as SBI errors
BALLOON_ERRORS = {"invalid": SBI_ERR_INVALID_PARAM, "denied": SBI_ERR_DENIED,
                  "busy": SBI_ERR_DENIED, "no-memory": SBI_ERR_FAILED}
MASK64 = (1 << 64) - 1
DBCN_WRITE, DBCN_WRITE_BYTE = 0, 2  # DBCN's function ids (1, read, is not offered)

#: ``read_guest(gpa, n)``: the guest's ``n`` bytes at guest-physical ``gpa``, or ``None``
#: when any of them is not its RAM
GuestReader = Callable[[int, int], "bytes | None"]


@dataclass
class Reset:
    """The guest asked to be switched off (SRST): ``reason`` 0 is a normal shutdown."""

    reset_type: int
    reason: int


class SBI:
    """Answers a guest's SBI calls. ``set_timer(t)`` programs the guest's timer (each
    technique has its own way), ``console`` takes the bytes it prints, ``read_guest``
    reads its memory for ``console_write`` (without it, that call is refused with
    ``SBI_ERR_NOT_SUPPORTED``)."""

    def __init__(self, set_timer: Callable[[int], None], console: Callable[[int], None],
                 read_guest: GuestReader | None = None, balloon: Any = None) -> None:
        self.set_timer = set_timer
        self.console = console
        self.read_guest = read_guest
        self.balloon = balloon  # a vkernel.hv.balloon.Balloon: the BLN extension, if any
        self.reset: Reset | None = None

    def call(self, ext: int, fid: int, args: list[int]) -> tuple[int, int]:
        """One SBI call: returns (error, value) for a0 and a1."""
        if ext == EXT_TIME and fid == 0:
            self.set_timer(args[0])
            return SBI_SUCCESS, 0
        if ext == EXT_DBCN and fid == DBCN_WRITE and self.read_guest is not None:
            return self.console_write(args[0], args[1], args[2])
        if ext == EXT_DBCN and fid == DBCN_WRITE_BYTE:
            self.console(args[0] & 0xFF)
            return SBI_SUCCESS, 0
        if ext == EXT_SRST and fid == 0:
            self.reset = Reset(args[0] & 0xFFFF_FFFF, args[1] & 0xFFFF_FFFF)
            return SBI_SUCCESS, 0
        if ext == EXT_BALLOON and self.balloon is not None:
            return self.balloon_call(fid, args)
        if ext == EXT_BASE:
            if fid == 0:  # get_spec_version: 2.0
                return SBI_SUCCESS, 2 << 24
            if fid == 3:  # probe_extension
                offered = (EXT_BASE, EXT_TIME, EXT_DBCN, EXT_SRST) \
                    + ((EXT_BALLOON,) if self.balloon is not None else ())
                return SBI_SUCCESS, int(args[0] in offered)
        return SBI_ERR_NOT_SUPPORTED & MASK64, 0

    def balloon_call(self, fid: int, args: list[int]) -> tuple[int, int]:
        """The balloon extension (see the module's docstring)."""
        balloon = self.balloon
        if fid == BALLOON_GET_TARGET:
            return SBI_SUCCESS, balloon.target
        if fid == BALLOON_GET_RESERVATION:
            return SBI_SUCCESS, balloon.memory.populated
        if fid in (BALLOON_GIVE, BALLOON_TAKE):
            op = balloon.give if fid == BALLOON_GIVE else balloon.take
            refused, done = op(args[0], args[1])
            error = BALLOON_ERRORS[refused] if refused else SBI_SUCCESS
            return error & MASK64, done
        return SBI_ERR_NOT_SUPPORTED & MASK64, 0

    def console_write(self, num_bytes: int, base_lo: int, base_hi: int) -> tuple[int, int]:
        """DBCN ``sbi_debug_console_write``: ``num_bytes`` bytes at the guest-physical
        address ``base_hi:base_lo``, all of them or none: (error, bytes written)."""
        if num_bytes == 0:
            return SBI_SUCCESS, 0
        # an address above 2**64, or a range that wraps around, is not the guest's RAM
        if base_hi != 0 or base_lo + num_bytes > MASK64 + 1:
            return SBI_ERR_INVALID_PARAM & MASK64, 0
        assert self.read_guest is not None
        data = self.read_guest(base_lo, num_bytes)
        if data is None:
            return SBI_ERR_INVALID_PARAM & MASK64, 0
        for b in data:
            self.console(b)
        return SBI_SUCCESS, num_bytes
