"""Page tables: the one walk and the one builder every part of the hypervisor layer uses.

A RISC-V page table is a tree of 4 KiB tables, each 512 eight-byte entries (PTEs). To
translate an address the MMU starts at the *root* (whose page number is in ``satp``, or
``vsatp``, or ``hgatp``) and goes down one level at a time, using a slice of the address
as the index into each table, until it finds a *leaf*: an entry with R, W or X set, which
holds the physical page number (PPN) of the answer. An entry with R = W = X = 0 points to
the next level's table instead.

**Sv39** (satp mode 8) translates 39-bit virtual addresses in three levels of 9-bit
indexes; bits 63..39 must all equal bit 38 (the address is "canonical") or the access
page-faults::

    38      30 29      21 20      12 11         0
    | VPN[2]  |  VPN[1]  |  VPN[0]  |   offset   |      level 2 is the root

A leaf at level 0 maps a 4 KiB page, at level 1 a 2 MiB and at level 2 a 1 GiB
*superpage*, whose PPN must then be aligned (its low 9 or 18 bits zero).

**Sv39x4** (hgatp mode 8) is the H extension's second stage (the G-stage): it translates a
guest's 41-bit *guest physical* addresses to machine ones. It is Sv39 with a root index of
11 bits instead of 9, so the root is four tables (16 KiB, 16 KiB aligned) and the range is
four times Sv39's, hence the name; bits 63..41 must be zero. Every G-stage access counts
as a U-mode access: its leaves need U.

Each PTE (both schemes)::

    63    54 53        10 9   8 7 6 5 4 3 2 1 0
    |   0   |    PPN     | RSW |D|A|G|U|X|W|R|V|

V=0, W without R, or a bit of 63..54 set (reserved here: no Svpbmt, no Svnapot) makes the
walk fail with a page fault, whatever the access; so does a pointer at level 0. A leaf
is then checked against the access: R for a load (or X, with MXR), W for a store, X for a
fetch; U pages for U-mode only, except that S-mode may load and store them with SUM.

:func:`walk` is that algorithm (the privileged spec's "Virtual Address Translation
Process") and returns a :class:`Walk`: every entry it read, level by level (the table's
address, the index, the entry's address and value, what it made of it), and the outcome.
Where the tables live is the caller's business: it passes a hook, ``read_pte(address)``,
that reads machine RAM, or guest physical memory through a p2m, or goes through a G-stage
walk first; the walk's addresses are in whatever space that hook reads. A and D are
neither checked nor set here: a caller that acts on a translation sets them, as hardware
that updates them would.

:func:`map_page` and :func:`unmap_page` build and change 4 KiB mappings with the same
kind of hooks: one to read an entry, one to write it, one to get a new, zeroed table.

Here a dict plays memory (address -> PTE):

>>> ram = {}
>>> tables = iter(range(0x9000_0000, 0x9010_0000, PAGE))
>>> root = next(tables)
>>> map_page(root, 0x4000_1000, 0x8765_4000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D,
...          read_pte=lambda a: ram.get(a, 0), write_pte=ram.__setitem__,
...          new_table=lambda: next(tables))
>>> w = walk(root, 0x4000_1234, lambda a: ram.get(a, 0), access=ACC_LOAD)
>>> hex(w.pa), w.level
('0x87654234', 0)
>>> [(e.level, e.index, hex(e.pte_address)) for e in w.levels]
[(2, 1, '0x90000008'), (1, 0, '0x90001000'), (0, 1, '0x90002008')]
>>> walk(root, 0x4000_1234, lambda a: ram.get(a, 0), access=ACC_FETCH).fault  # no X
12
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from vkernel.core import kernel as K

PAGE = 4096
LEVELS = 3  # Sv39 and Sv39x4: levels 2 (the root), 1 and 0

# page-table entry bits
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D = 1, 2, 4, 8, 16, 32, 64, 128
PPN_MASK = (1 << 44) - 1  # a PTE's PPN field (bits 53..10), and satp's and hgatp's (43..0)

# the accesses (as the core and the trace number them)
ACC_FETCH, ACC_LOAD, ACC_STORE = K.ACC_FETCH, K.ACC_LOAD, K.ACC_STORE

# what a walk made of one entry: the trace's walk_result (docs/trace-schema.md)
WALK_NEXT = K.WALK_NEXT  # a pointer to the next level
WALK_LEAF = K.WALK_LEAF  # a leaf that grants the access
WALK_INVALID = K.WALK_INVALID  # V=0, W without R, reserved bits, or a pointer at level 0
WALK_DENIED = K.WALK_DENIED  # a leaf whose permissions deny the access
WALK_MISALIGNED = K.WALK_MISALIGNED  # a superpage leaf whose PPN is not aligned
WALK_ACCESS = K.WALK_ACCESS  # there is no memory at the entry's address: an access fault

ReadPTE = Callable[[int], int | None]  # entry address -> its value; None: no memory there
WritePTE = Callable[[int, int], None]  # entry address, new value
NewTable = Callable[[], int]  # the address of a new table, all zeros


@dataclass(frozen=True)
class Scheme:
    """A page-table format: how many index bits the root takes and which addresses it can
    translate: :data:`SV39` or :data:`SV39X4`."""

    name: str
    root_bits: int  # index bits at the root (level 2); 9 at the levels below
    address_bits: int  # the width of the addresses it translates
    sign_extended: bool  # the bits above must copy the top one (Sv39) or be zero (Sv39x4)
    page_faults: tuple[int, int, int]  # its page fault, indexed by ACC_FETCH, _LOAD, _STORE

    def in_range(self, address: int) -> bool:
        """Whether the walk may start: ``address`` (as an unsigned 64-bit value) fits."""
        if self.sign_extended:  # the top bit and all above it: all zeros or all ones
            high = address >> (self.address_bits - 1)
            return high in (0, (1 << (65 - self.address_bits)) - 1)
        return address >> self.address_bits == 0

    def index(self, address: int, level: int) -> int:
        """VPN[level] of ``address``: which entry of a table of that level to read."""
        bits = self.root_bits if level == LEVELS - 1 else 9
        return (address >> (12 + 9 * level)) & ((1 << bits) - 1)

    def root(self, atp: int) -> int:
        """The root table's address from a satp, vsatp or hgatp value (its PPN field;
        Sv39x4's 16 KiB root ignores the PPN's low two bits)."""
        root = (atp & PPN_MASK) << 12
        return root & ~((PAGE << (self.root_bits - 9)) - 1)


SV39 = Scheme("Sv39", root_bits=9, address_bits=39, sign_extended=True,
              page_faults=(K.EXC_FETCH_PAGE, K.EXC_LOAD_PAGE, K.EXC_STORE_PAGE))
SV39X4 = Scheme("Sv39x4", root_bits=11, address_bits=41, sign_extended=False,
                page_faults=(K.EXC_FETCH_GUEST_PAGE, K.EXC_LOAD_GUEST_PAGE,
                             K.EXC_STORE_GUEST_PAGE))
# no memory where an entry should be: an access fault (indexed by the access, too)
ACCESS_FAULTS = (K.EXC_FETCH_ACCESS, K.EXC_LOAD_ACCESS, K.EXC_STORE_ACCESS)


def pte_page(pte: int) -> int:
    """The address a PTE holds: its PPN times 4 KiB (the next table, or the mapped page)."""
    return ((pte >> 10) & PPN_MASK) << 12


def make_pte(address: int, flags: int) -> int:
    """A PTE pointing at ``address`` (its page number), with ``flags`` (bits 7..0).

    >>> hex(make_pte(0x8020_0000, PTE_V))
    '0x20080001'
    """
    return ((address >> 12) << 10) | flags


def is_leaf(pte: int) -> bool:
    """R or X set: the entry maps a page, it does not point to a table."""
    return bool(pte & (PTE_R | PTE_X))


def leaf_allows(pte: int, access: int, *, user: bool, sum_: bool = False,
                mxr: bool = False) -> bool:
    """The permission check of a leaf for one access: R (or X, with MXR) to load, W to
    store, X to fetch; U pages only for U-mode, and for S-mode only loads and stores with
    SUM (S-mode never executes a U page).

    >>> leaf_allows(PTE_V | PTE_X, ACC_LOAD, user=False, mxr=True)
    True
    """
    if access == ACC_FETCH:
        ok = bool(pte & PTE_X)
    elif access == ACC_LOAD:
        ok = bool(pte & PTE_R) or (mxr and bool(pte & PTE_X))
    else:
        ok = bool(pte & PTE_W)
    if user:
        return ok and bool(pte & PTE_U)
    if pte & PTE_U:
        return ok and sum_ and access != ACC_FETCH
    return ok


class Level(NamedTuple):  # a tuple: walks are on the hypervisor's hot path
    """One entry a walk read: a row of the trace's ``walk`` family."""

    level: int  # 2 for the root, then 1, then 0
    table: int  # the address of the table the entry is in
    index: int  # which of its entries: VPN[level] of the address
    pte_address: int  # table + 8 * index
    pte: int  # the entry (0 when there is no memory at pte_address)
    result: int  # what the walk made of it: WALK_NEXT, WALK_LEAF, WALK_INVALID, ...


class Walk(NamedTuple):
    """The outcome of a walk: the physical address ``pa`` and the leaf, or ``fault``, the
    exception the MMU would raise, with ``result`` saying why (a WALK_* code)."""

    va: int  # the address translated (virtual; guest physical for the G-stage)
    levels: tuple[Level, ...]  # every entry read, root first (none for an out-of-range va)
    result: int  # WALK_LEAF, or why it failed: WALK_INVALID, WALK_DENIED, ...
    pa: int | None  # the translation (the leaf's page and va's offset in it), or None
    fault: int | None  # the exception cause, or None when it translated

    @property
    def leaf(self) -> Level | None:
        return self.levels[-1] if self.result == WALK_LEAF else None

    @property
    def level(self) -> int:
        """The level it stopped at: the leaf's, or the one that failed."""
        return self.levels[-1].level if self.levels else LEVELS - 1

    @property
    def flags(self) -> int:
        """The leaf's flag bits (V R W X U G A D), 0 without a leaf."""
        return self.levels[-1].pte & 0xFF if self.result == WALK_LEAF else 0


def classify(pte: int, level: int, access: int | None, *, user: bool, sum_: bool,
          mxr: bool) -> int:
    """What the walk makes of entry ``pte`` at ``level``: a WALK_* code, in the order
    the spec checks (an invalid entry before its permissions, those before alignment).
    With ``access`` None there is no permission check: any valid leaf will do."""
    if not pte & PTE_V or (pte & PTE_W and not pte & PTE_R) or pte >> 54:
        return WALK_INVALID
    if not is_leaf(pte):
        return WALK_NEXT
    if access is not None and not leaf_allows(pte, access, user=user, sum_=sum_, mxr=mxr):
        return WALK_DENIED
    if (pte >> 10) & PPN_MASK & ((1 << (9 * level)) - 1):
        return WALK_MISALIGNED
    return WALK_LEAF


def walk(root: int, va: int, read_pte: ReadPTE, *, scheme: Scheme = SV39,
         access: int | None = None, user: bool = False, sum_: bool = False,
         mxr: bool = False) -> Walk:
    """Translate ``va`` through the table at ``root`` as the MMU would, reading each entry
    with ``read_pte``. ``access`` (ACC_FETCH, ACC_LOAD or ACC_STORE) is checked against
    the leaf for a U-mode (``user``) or S-mode access, with sstatus's ``sum_`` and
    ``mxr``; None skips the check (and a fault is then a load's). For the G-stage pass
    ``scheme=SV39X4`` and ``user=True``.

    >>> ram = {0x8000_0000 + 8 * 2: make_pte(0xC000_0000, PTE_V | PTE_R | PTE_X)}
    >>> w = walk(0x8000_0000, 0x8000_0040, lambda a: ram.get(a, 0), access=ACC_FETCH)
    >>> hex(w.pa), w.level, w.flags == PTE_V | PTE_R | PTE_X  # a 1 GiB superpage
    ('0xc0000040', 2, True)
    """
    kind = ACC_LOAD if access is None else access
    page_fault = scheme.page_faults[kind]
    if not scheme.in_range(va):
        return Walk(va, (), WALK_INVALID, None, page_fault)
    levels: list[Level] = []
    table = root
    for level in range(LEVELS - 1, -1, -1):
        index = scheme.index(va, level)
        pte_address = table + 8 * index
        pte = read_pte(pte_address)
        if pte is None:
            levels.append(Level(level, table, index, pte_address, 0, WALK_ACCESS))
            return Walk(va, tuple(levels), WALK_ACCESS, None, ACCESS_FAULTS[kind])
        result = classify(pte, level, access, user=user, sum_=sum_, mxr=mxr)
        levels.append(Level(level, table, index, pte_address, pte, result))
        if result == WALK_LEAF:
            mask = (1 << (12 + 9 * level)) - 1  # a superpage keeps more of va
            return Walk(va, tuple(levels), WALK_LEAF, (pte_page(pte) & ~mask) | (va & mask),
                        None)
        if result != WALK_NEXT:
            return Walk(va, tuple(levels), result, None, page_fault)
        table = pte_page(pte)
    # a pointer at level 0: there is no level below
    return Walk(va, tuple(levels), WALK_INVALID, None, page_fault)


def map_page(root: int, va: int, pa: int, flags: int, *, read_pte: Callable[[int], int],
             write_pte: WritePTE, new_table: NewTable, scheme: Scheme = SV39) -> None:
    """Make the 4 KiB page at ``va`` translate to the page at ``pa``, with ``flags`` (V
    and the rest: the caller's). Missing tables below the root come from ``new_table``;
    an entry the walk down meets that is not valid is replaced by a pointer to one.

    >>> ram, tables = {}, iter([0x9000_1000, 0x9000_2000])
    >>> map_page(0x9000_0000, 0x1000, 0x8000_0000, PTE_V | PTE_R,
    ...          read_pte=lambda a: ram.get(a, 0), write_pte=ram.__setitem__,
    ...          new_table=lambda: next(tables))
    >>> sorted(hex(a) for a in ram)  # root[0] -> table 1, its [0] -> table 2, its [1]
    ['0x90000000', '0x90001000', '0x90002008']
    """
    if not scheme.in_range(va):
        raise ValueError(f"{va:#x} is outside {scheme.name}'s addresses")
    table = root
    for level in range(LEVELS - 1, 0, -1):
        pte_address = table + 8 * scheme.index(va, level)
        pte = read_pte(pte_address)
        if pte & PTE_V and is_leaf(pte):
            raise ValueError(f"{va:#x} is inside a superpage: only 4 KiB pages are mapped")
        if not pte & PTE_V:
            pte = make_pte(new_table(), PTE_V)
            write_pte(pte_address, pte)
        table = pte_page(pte)
    write_pte(table + 8 * scheme.index(va, 0), make_pte(pa, flags))


def unmap_page(root: int, va: int, *, read_pte: Callable[[int], int], write_pte: WritePTE,
               scheme: Scheme = SV39) -> bool:
    """Forget the 4 KiB mapping of ``va``'s page (the tables stay). False if there was
    none: a level on the way is missing, or is a superpage (which it leaves alone)."""
    table = root
    for level in range(LEVELS - 1, 0, -1):
        pte = read_pte(table + 8 * scheme.index(va, level))
        if not pte & PTE_V or is_leaf(pte):
            return False
        table = pte_page(pte)
    pte_address = table + 8 * scheme.index(va, 0)
    had = bool(read_pte(pte_address) & PTE_V)
    write_pte(pte_address, 0)
    return had
