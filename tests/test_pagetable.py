"""vkernel.hv.pagetable: the walk and the builder, against each other and against the core.

First the builder and the walk together: random 4 KiB mappings built with map_page are
what the walk finds (every level's table, index and entry consistent), unmap_page removes
them, and guest_walk (the walk through a scattered p2m) finds them too.

Then the walk against an independent oracle, the numba core's own MMU: random trees of
Sv39 or Sv39x4 tables (pointers, 4 KiB leaves, superpages, misaligned ones, invalid
entries, W without R, reserved bits, tables outside RAM, pointers at level 0) written into
a Machine's RAM, and one access made through them: a load or store in M-mode with MPRV
(as S or U), or a fetch in S or U, for Sv39; HLV.D, HSV.D or a fetch in VS for the
G-stage. Compared: every entry the core read (its trace's walk rows: level, address, value,
result), the fault it raised, and where the access went.
"""

from __future__ import annotations

import random

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import Machine, assemble
from vkernel.core import kernel as K
from vkernel.hv import pagetable as pt
from vkernel.hv.memory import FrameAllocator, GuestMemory, guest_walk
from vkernel.hv.pagetable import (
    ACC_FETCH,
    ACC_LOAD,
    ACC_STORE,
    PAGE,
    PTE_A,
    PTE_D,
    PTE_G,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    SV39,
    SV39X4,
    Scheme,
    map_page,
    unmap_page,
    walk,
)

MASK64 = (1 << 64) - 1
LEAF_FLAGS = (PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D)
PERMISSIONS = (PTE_R, PTE_R | PTE_W, PTE_X, PTE_R | PTE_X, PTE_R | PTE_W | PTE_X)


def test_the_pte_format_is_the_cores():
    assert (PTE_V, PTE_R, PTE_W, PTE_X, PTE_U, PTE_G, PTE_A, PTE_D) == (
        K.PTE_V, K.PTE_R, K.PTE_W, K.PTE_X, K.PTE_U, K.PTE_G, K.PTE_A, K.PTE_D)
    assert pt.PPN_MASK == K.PPN_MASK


def test_address_ranges():
    assert SV39.in_range(0x3F_FFFF_FFFF) and SV39.in_range(0xFFFF_FFC0_0000_0000)
    assert not SV39.in_range(0x40_0000_0000) and not SV39.in_range(0xFFFF_FF80_0000_0000)
    assert SV39X4.in_range((1 << 41) - 1) and not SV39X4.in_range(1 << 41)
    assert SV39X4.index(0x1FF_C000_0000, 2) == 0x7FF and SV39.index(0x7F_C000_0000, 2) == 0x1FF
    assert SV39X4.root((8 << 60) | (5 << 44) | 0x80007) == 0x8000_4000  # 16 KiB aligned


# ------------------------------------------------------------------- builder and walk
def canonical(scheme: Scheme, va: int) -> int:
    """A random number of address_bits bits, made a valid address of ``scheme``."""
    if scheme.sign_extended and va >> (scheme.address_bits - 1):
        va |= MASK64 ^ ((1 << scheme.address_bits) - 1)
    return va


class DictMemory:
    """Page-table memory as a dict (address -> entry), tables handed out from 0x9000_0000."""

    def __init__(self) -> None:
        self.ram: dict[int, int] = {}
        self.tables: list[int] = []

    def read(self, address: int) -> int:
        return self.ram.get(address, 0)

    def new_table(self) -> int:
        self.tables.append(0x9001_0000 + PAGE * len(self.tables))
        return self.tables[-1]


pages = st.integers(0, (1 << 29) - 1)  # a 41-bit address's page number


@settings(max_examples=200, deadline=None)
@given(scheme=st.sampled_from([SV39, SV39X4]),
       mappings=st.dictionaries(pages, st.tuples(
           st.integers(0, (1 << 44) - 1), st.sampled_from(PERMISSIONS),
           st.sampled_from((0, PTE_U, PTE_G, PTE_A | PTE_D, PTE_U | PTE_A | PTE_D))),
           min_size=1, max_size=30),
       probes=st.lists(pages, max_size=10), offset=st.integers(0, PAGE - 1),
       gone=st.integers(0, 29))
def test_the_walk_finds_what_the_builder_mapped(scheme, mappings, probes, offset, gone):
    root = 0x9000_0000
    mem = DictMemory()
    hooks = {"read_pte": mem.read, "write_pte": mem.ram.__setitem__, "scheme": scheme}
    mapped = {}
    for vpn, (ppn, permissions, extra) in mappings.items():
        va = canonical(scheme, (vpn << 12) & ((1 << scheme.address_bits) - 1))
        flags = PTE_V | permissions | extra
        map_page(root, va, ppn << 12, flags, new_table=mem.new_table, **hooks)
        mapped[va] = (ppn << 12, flags)
    for va, (pa, flags) in mapped.items():
        w = walk(root, va + offset, mem.read, scheme=scheme)
        assert (w.result, w.pa, w.flags, w.level, w.fault) == (pt.WALK_LEAF, pa + offset,
                                                               flags, 0, None)
        assert [e.level for e in w.levels] == [2, 1, 0]
        assert w.levels[0].table == root
        for e, below in zip(w.levels, w.levels[1:], strict=False):
            assert e.result == pt.WALK_NEXT and below.table == pt.pte_page(e.pte)
            assert below.table in mem.tables
        for e in w.levels:
            assert e.index == scheme.index(va, e.level)
            assert e.pte_address == e.table + 8 * e.index and e.pte == mem.read(e.pte_address)
    for vpn in probes:
        va = canonical(scheme, (vpn << 12) & ((1 << scheme.address_bits) - 1))
        if va not in mapped:
            w = walk(root, va, mem.read, scheme=scheme, access=ACC_LOAD)
            assert w.pa is None and w.result == pt.WALK_INVALID
            assert w.fault == scheme.page_faults[ACC_LOAD]
    # one table per distinct prefix: the builder shares what it can
    assert len(mem.tables) == len({scheme.index(va, 2) for va in mapped}) + len(
        {(scheme.index(va, 2), scheme.index(va, 1)) for va in mapped})
    victim = sorted(mapped)[gone % len(mapped)]
    assert unmap_page(root, victim, **hooks)
    assert not unmap_page(root, victim, **hooks)
    for va in mapped:
        assert (walk(root, va, mem.read, scheme=scheme).pa is None) == (va == victim)


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_guest_walk_reads_the_guests_tables_through_its_p2m(seed):
    rng = random.Random(seed)
    frames = FrameAllocator(Machine(ram_mb=8), seed=seed)
    ram = GuestMemory(frames, ram_mb=1, owner="guest")
    free = [ram.base + i * PAGE for i in range(1, 256)]  # guest pages for its tables
    rng.shuffle(free)
    satp = (K.SATP_MODE_SV39 << 60) | (ram.base >> 12)  # the root: its first page
    hooks = {"read_pte": ram.read_u64, "write_pte": ram.write_u64}
    mapped = {}
    for _ in range(rng.randrange(1, 20)):
        va = canonical(SV39, rng.getrandbits(27) << 12)
        flags = PTE_V | PTE_R | rng.choice((0, PTE_W)) | rng.choice((0, PTE_U)) | PTE_A
        map_page(ram.base, va, rng.getrandbits(30) << 12, flags, new_table=free.pop, **hooks)
        mapped[va] = flags
    for va, flags in mapped.items():
        user = bool(flags & PTE_U)
        t = guest_walk(ram, satp, va + 8, ACC_LOAD, user=user)
        w = walk(ram.base, va + 8, hooks["read_pte"], access=ACC_LOAD, user=user)
        assert t.gpa == w.pa and t.flags == flags and t.level == 0
        assert t.pte_gpa == w.levels[-1].pte_address
        store = guest_walk(ram, satp, va, ACC_STORE, user=user)
        assert store.fault == (None if flags & PTE_W else K.EXC_STORE_PAGE)
        assert guest_walk(ram, satp, va, ACC_LOAD, user=not user).fault == K.EXC_LOAD_PAGE


# ------------------------------------------------------------------- the core as oracle
RAM_BASE = K.RAM_BASE
RAM_MB = 8
RAM_END = RAM_BASE + (RAM_MB << 20)
TABLES = RAM_BASE + 0x10_0000  # the root (16 KiB, for Sv39x4), then the other tables
DATA = RAM_BASE + 0x20_0000  # every leaf that maps RAM maps a page from here on
FAR = 0x1_0000_0000  # no RAM and no device up there: an access fault
SEXT = {SV39: (1 << 64) - (1 << 39), SV39X4: 0}
CODE = {  # what M-mode runs for a load or store: with MPRV, or with HLV/HSV (the G-stage)
    (SV39, ACC_LOAD): assemble("ld a0, 0(a1)"), (SV39, ACC_STORE): assemble("sd a2, 0(a1)"),
    (SV39X4, ACC_LOAD): assemble("hlv.d a0, (a1)"),
    (SV39X4, ACC_STORE): assemble("hsv.d a2, (a1)")}


class Tree:
    """A random tree of page tables written straight into a machine's RAM."""

    def __init__(self, m: Machine, rng: random.Random, scheme: Scheme) -> None:
        self.m, self.rng, self.scheme = m, rng, scheme
        self.free = list(range(TABLES + 0x4000, DATA, PAGE))
        rng.shuffle(self.free)
        self.tables = {TABLES}

    def random_va(self) -> int:
        """An address whose indexes repeat often, so that paths share tables."""
        rng, s = self.rng, self.scheme
        va = 0
        for level in (2, 1, 0):
            bits = s.root_bits if level == 2 else 9
            va |= rng.choice((0, 1, 2, (1 << bits) - 1, rng.getrandbits(bits))) \
                << (12 + 9 * level)
        va |= rng.getrandbits(12)
        if s.sign_extended and va >> 38:
            va |= SEXT[s]
        return va

    def leaf(self, level: int) -> int:
        rng = self.rng
        flags = PTE_V
        for f in LEAF_FLAGS:
            flags |= f if rng.random() < 0.7 else 0
        if not flags & (PTE_R | PTE_X):
            flags |= rng.choice((PTE_R, PTE_X))
        if flags & PTE_W and rng.random() < 0.9:
            flags |= PTE_R  # mostly not the reserved W-without-R
        size = PAGE << (9 * level)
        if level == 0:
            target = rng.randrange(DATA, RAM_END, PAGE) if rng.random() < 0.9 \
                else FAR + rng.randrange(1 << 20) * PAGE
        elif level == 1:
            target = rng.choice((DATA, DATA + size, DATA + 2 * size, FAR))
        else:
            target = rng.choice((3 * size, FAR))  # 0xC000_0000: no RAM there either
        if rng.random() < 0.2:
            target += rng.randrange(1, 512) * PAGE  # a misaligned superpage (or not)
        return pt.make_pte(target, flags)

    def junk(self, level: int) -> int:
        rng = self.rng
        return rng.choice((
            rng.getrandbits(64) & ~PTE_V,  # not valid: the rest does not matter
            pt.make_pte(rng.randrange(DATA, RAM_END, PAGE), PTE_V | PTE_W),  # W without R
            self.leaf(level) | rng.getrandbits(10) << 54 | 1 << rng.randrange(54, 64),
            pt.make_pte(FAR, PTE_V),  # a table outside RAM
            pt.make_pte(rng.randrange(DATA, RAM_END, PAGE), PTE_V),  # data read as a table
        ))

    def grow(self, va: int) -> None:
        """Make the path of ``va``: down through existing tables, then new entries."""
        rng, s, mem = self.rng, self.scheme, self.m.mem
        table = TABLES
        for level in (2, 1, 0):
            address = table + 8 * s.index(va, level)
            pte = mem.read_u64(address)
            if pte & PTE_V and not pt.is_leaf(pte) and pt.pte_page(pte) in self.tables:
                table = pt.pte_page(pte)
                continue
            r = rng.random()
            if level == 0 and r < 0.05:  # a pointer at the last level: invalid
                mem.write_u64(address, pt.make_pte(self.free[-1], PTE_V))
                return
            if level and r < 0.6 and self.free:
                table = self.free.pop()
                self.tables.add(table)
                extra = rng.choice((0, 0, 0, PTE_U, PTE_A | PTE_D, PTE_G))  # ignored
                mem.write_u64(address, pt.make_pte(table, PTE_V | extra))
                continue
            mem.write_u64(address, self.leaf(level) if r < 0.9 else self.junk(level))
            return


def world(seed: int, scheme: Scheme) -> tuple[Machine, int, int, dict[str, int], int]:
    """A machine with random tables, and one access to make: (machine, access, address,
    CSRs, privilege: K.PRV_S or K.PRV_U)."""
    rng = random.Random(seed)
    m = Machine(ram_mb=RAM_MB)
    access = rng.choice((ACC_FETCH, ACC_LOAD, ACC_STORE))
    # what RAM holds at every leaf's page: for a fetch, at each word, an instruction that
    # tells where it is (lui a0 with the word's address bits 31..12); else each
    # doubleword is its own address
    if access == ACC_FETCH:
        at = np.arange(DATA, RAM_END, 4, dtype=np.uint64)
        data = ((at & 0xFFFF_F000) | (10 << 7) | 0x37).astype(np.uint32)
    else:
        data = np.arange(DATA, RAM_END, 8, dtype=np.uint64)
    m.mem.write(DATA, data.tobytes())
    tree = Tree(m, rng, scheme)
    vas = [tree.random_va() for _ in range(rng.randrange(1, 12))]
    for va in vas:
        tree.grow(va)
    if rng.random() < 0.9:
        va = rng.choice(vas)
    else:
        va = rng.getrandbits(64) if rng.random() < 0.5 else tree.random_va()
    va &= ~(3 if access == ACC_FETCH else 7)  # aligned: one page, one walk
    mxr = K.MSTATUS_MXR if rng.random() < 0.3 else 0
    if scheme is SV39:
        csrs = {"satp": (K.SATP_MODE_SV39 << 60) | (rng.getrandbits(16) << 44) | (TABLES >> 12),
                "mstatus": mxr | (K.MSTATUS_SUM if rng.random() < 0.5 else 0)}
    else:
        csrs = {"hgatp": (K.HGATP_MODE_SV39X4 << 60) | (rng.getrandbits(14) << 44)
                | (TABLES >> 12), "vsatp": 0, "mstatus": mxr}
    return m, access, va, csrs, rng.choice((K.PRV_S, K.PRV_U))


def run_one(m: Machine, scheme: Scheme, access: int, va: int, csrs: dict[str, int],
            prv: int, value: int) -> None:
    """Make the access on the machine, one step, with the walk and trap families on."""
    if access != ACC_FETCH:
        m.load(CODE[scheme, access])  # (which resets the hart: first)
    m.hart.csr["menvcfg"] = K.MENVCFG_ADUE  # the core sets A and D, as the walk ignores them
    for name, v in csrs.items():
        m.hart.csr[name] = v | (m.hart.csr[name] if name == "mstatus" else 0)
    m.hart.x["a1"], m.hart.x["a2"] = va, value
    if access == ACC_FETCH:
        m.hart.mode = prv | (4 if scheme is SV39X4 else 0)  # S or U; VS or VU
        m.hart.pc = va
    elif scheme is SV39:  # M-mode loads and stores as S or U: mstatus.MPRV and MPP
        m.hart.csr["mstatus"] = m.hart.csr["mstatus"] | K.MSTATUS_MPRV \
            | prv << K.MSTATUS_MPP_SHIFT
    m.trace("walk", "trap")
    m.step()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), scheme=st.sampled_from([SV39, SV39X4]))
def test_the_walk_reads_and_decides_as_the_cores_mmu(seed, scheme):
    m, access, va, csrs, prv = world(seed, scheme)

    def read_pte(address: int) -> int | None:
        return m.mem.read_u64(address) if RAM_BASE <= address <= RAM_END - 8 else None

    # the walk, before the core runs (which sets A and D in the leaf it uses)
    root = scheme.root(csrs["satp"] if scheme is SV39 else csrs["hgatp"])
    status = csrs["mstatus"]
    w = walk(root, va, read_pte, scheme=scheme, access=access,
             user=prv == K.PRV_U or scheme is SV39X4,  # a G-stage access is a U-mode one
             sum_=bool(status & K.MSTATUS_SUM), mxr=bool(status & K.MSTATUS_MXR))
    value = random.Random(seed).getrandbits(64)
    run_one(m, scheme, access, va, csrs, prv, value)

    # every entry the core read, in order, is one the walk reports
    rows = m.events("walk")
    mine = rows["access"] == access  # (not the entries of what a fetched insn then did)
    got = list(zip(rows["level"][mine].tolist(), rows["pte_addr"][mine].tolist(),
                   rows["pte"][mine].tolist(), rows["result"][mine].tolist(), strict=True))
    need = PTE_A | (PTE_D if access == ACC_STORE else 0)  # the core's A/D update
    want = [(e.level, e.pte_address, e.pte | (need if e.result == pt.WALK_LEAF else 0),
             e.result) for e in w.levels]
    assert got == want
    assert set(rows["stage"][mine].tolist()) <= {1 if scheme is SV39X4 else 0}

    # the outcome: the fault, or where the access went
    traps = m.events("trap")
    faults = [(c, t) for c, t, e in zip(traps["cause"].tolist(), traps["tval"].tolist(),
                                        traps["epc"].tolist(), strict=True)
              if access != ACC_FETCH or e == va]
    if w.fault is not None:
        assert faults[:1] == [(w.fault, va)]
        return
    assert w.pa is not None
    if not RAM_BASE <= w.pa < RAM_END:  # translated, to no memory
        assert faults[:1] == [(pt.ACCESS_FAULTS[access], va)]
        return
    assert DATA <= w.pa
    assert not faults
    if access == ACC_FETCH:  # it ran the lui at pa
        assert m.hart.x["a0"] & 0xFFFF_FFFF == w.pa & 0xFFFF_F000
    elif access == ACC_LOAD:
        assert m.hart.x["a0"] == w.pa
    else:
        assert m.mem.read_u64(w.pa) == value
