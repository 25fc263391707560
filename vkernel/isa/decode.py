"""Instruction decoding derived from the table: which entry a word is, and the
``MATCH_*``/``MASK_*`` constants the numba core is generated from.

>>> from vkernel.isa.decode import decode
>>> decode(0x00500513).name, decode(0x4515).name, decode(0xFFFFFFFF)
('addi', 'c.li', None)
"""

from __future__ import annotations

from vkernel.isa.table import INSTRUCTIONS, InsnSpec


def _bucket_key(word: int) -> int:
    """Opcode for 32-bit words; quadrant and funct3 (as 0x100 | q | f3 << 2) for 16-bit."""
    if word & 3 == 3:
        return word & 0x7F
    return 0x100 | (word & 3) | ((word >> 13) & 7) << 2


_BUCKETS: dict[int, list[InsnSpec]] = {}
for _spec in INSTRUCTIONS:
    _BUCKETS.setdefault(_bucket_key(_spec.match), []).append(_spec)
for _specs in _BUCKETS.values():
    # the more specific entry first: fence.tso before fence, c.nop before c.addi
    _specs.sort(key=lambda s: -bin(s.mask).count("1"))


def decode(word: int) -> InsnSpec | None:
    """The table entry for instruction ``word`` (16-bit if its low bits are not 11)."""
    if word & 3 != 3:
        word &= 0xFFFF
    for spec in _BUCKETS.get(_bucket_key(word), ()):
        if spec.matches(word):
            return spec
    return None


def constants() -> dict[str, int]:
    """``MATCH_<NAME>`` and ``MASK_<NAME>`` for every entry (``c.addi`` → ``C_ADDI``).

    >>> hex(constants()["MATCH_HLV_W"])
    '0x68004073'
    """
    out: dict[str, int] = {}
    for spec in INSTRUCTIONS:
        key = spec.name.upper().replace(".", "_")
        out[f"MATCH_{key}"] = spec.match
        out[f"MASK_{key}"] = spec.mask
    return out
