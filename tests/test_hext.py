"""The H extension's two-stage translation, against a model written from the spec.

Random guest page tables (VS-stage Sv39, living in guest physical memory) over random
G-stage tables (Sv39x4, in machine memory) with scattered guest-to-machine frames. One
HLV, HLVX or HSV executed in M-mode translates a random guest virtual address as the guest
would (V=1, privilege hstatus.SPVP). The model below follows the spec's algorithm
("Two-Stage Address Translation" in the hypervisor chapter), not the core's code. Compared:
the outcome (the value, or mcause/mtval/mtval2/GVA), every page-table entry read, in order
(the walk rows: stage, level, address), and memory afterwards (A/D updates, the store).

Then real guests: a VS-mode load's cold two-dimensional walk reads 15 entries in the
spec's order; the TLB then hits; VMIDs tag it so two guests never see each other's pages.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import Machine, assemble
from vkernel.core import kernel as K

MASK64 = (1 << 64) - 1
RAM_BASE = K.RAM_BASE
RAM_MB = 4
RAM_END = RAM_BASE + (RAM_MB << 20)
G_ROOT = RAM_BASE + 0x10_0000  # 16 KiB, 16 KiB-aligned
POOL = RAM_BASE + 0x10_4000  # machine pages handed out for tables and guest data
V, R, W, X, U, G, A, D = 1, 2, 4, 8, 16, 32, 64, 128
FETCH, LOAD, STORE = K.ACC_FETCH, K.ACC_LOAD, K.ACC_STORE
OPS = {  # name -> (access kind, size, execute permission instead of read)
    "hlv.d": (LOAD, 8, False), "hlv.wu": (LOAD, 4, False), "hlvx.wu": (LOAD, 4, True),
    "hlvx.hu": (LOAD, 2, True), "hsv.d": (STORE, 8, False), "hsv.b": (STORE, 1, False)}


# ------------------------------------------------------------------- building tables
@dataclass
class Guest:
    """A guest's memory as the tests build it: G-stage tables in machine memory, VS-stage
    tables in guest physical memory, written straight into a machine's RAM."""

    m: Machine
    rng: random.Random
    vmid: int = 1
    g_root: int = G_ROOT
    p2m: dict[int, int] = field(default_factory=dict)  # guest page -> machine page
    free: list[int] = field(default_factory=list)
    next_gpage: int = 0x8000_0000

    def __post_init__(self) -> None:
        if not self.free:
            self.free = list(range(POOL, RAM_END, 0x1000))
            self.rng.shuffle(self.free)  # scattered: neighbours in a guest are not in RAM

    @property
    def hgatp(self) -> int:
        return (K.HGATP_MODE_SV39X4 << 60) | (self.vmid << 44) | (self.g_root >> 12)

    def frame(self) -> int:
        page = self.free.pop()
        self.m.mem.write(page, bytes(4096))
        return page

    def _map(self, root: int, va: int, pte: int, level: int, top_bits: int,
             table_flags: int, write_table, new_table, ours) -> None:  # noqa: ANN001
        a = root
        for lvl in (2, 1):
            if lvl == level:
                break
            idx = (va >> (12 + 9 * lvl)) & ((1 << (top_bits if lvl == 2 else 9)) - 1)
            entry = write_table(a + 8 * idx, None)
            if entry & V and not entry & (R | X) and ours((entry >> 10) << 12):
                a = (entry >> 10) << 12
            else:
                nxt = new_table()
                write_table(a + 8 * idx, ((nxt >> 12) << 10) | table_flags)
                a = nxt
        idx = (va >> (12 + 9 * level)) & ((1 << (top_bits if level == 2 else 9)) - 1)
        write_table(a + 8 * idx, pte)

    def g_map(self, gpa: int, machine: int, flags: int = V | R | W | X | U | A | D,
              level: int = 0) -> None:
        """G-stage: guest physical page ``gpa`` -> machine address ``machine``."""
        def access(addr: int, value: int | None) -> int:
            if value is None:
                return self.m.mem.read_u64(addr)
            self.m.mem.write_u64(addr, value)
            return value
        self._map(self.g_root, gpa, ((machine >> 12) << 10) | flags, level, 11, V,
                  access, self.frame, lambda a: POOL <= a < RAM_END)
        if level == 0:
            self.p2m[gpa >> 12] = machine >> 12

    def guest_page(self, flags: int = V | R | W | X | U | A | D) -> int:
        """A new guest physical page backed by a fresh machine frame."""
        gpa = self.next_gpage
        self.next_gpage += 0x1000
        self.g_map(gpa, self.frame(), flags)
        return gpa

    def gpa_to_machine(self, gpa: int) -> int:
        return (self.p2m[gpa >> 12] << 12) | (gpa & 0xFFF)

    def vs_map(self, root_gpa: int, va: int, gpa: int, flags: int, level: int = 0) -> None:
        """VS-stage: guest virtual page ``va`` -> guest physical ``gpa``; tables are
        guest pages (written through the p2m)."""
        def access(addr: int, value: int | None) -> int:
            if value is None:
                return self.m.mem.read_u64(self.gpa_to_machine(addr))
            self.m.mem.write_u64(self.gpa_to_machine(addr), value)
            return value
        self._map(root_gpa, va, ((gpa >> 12) << 10) | flags, level, 9, V, access,
                  self.guest_page, lambda a: a >> 12 in self.p2m)


# ------------------------------------------------------------------- the model
class Fault(Exception):  # noqa: N818
    def __init__(self, cause: int, gpa: int = 0, tinst: int = 0) -> None:
        super().__init__(cause)
        self.cause, self.gpa, self.tinst = cause, gpa, tinst


def _gpf(acc: int) -> int:
    return {FETCH: 20, LOAD: 21, STORE: 23}[acc]


def _pf(acc: int) -> int:
    return {FETCH: 12, LOAD: 13, STORE: 15}[acc]


def _af(acc: int) -> int:
    return {FETCH: 1, LOAD: 5, STORE: 7}[acc]


@dataclass
class Model:
    """Two-stage translation as the spec describes it, over a copy of RAM."""

    ram: bytearray
    csr: dict[str, int]
    reads: list[tuple[int, int, int]] = field(default_factory=list)  # stage, level, addr

    def read(self, pa: int) -> int:
        off = pa - RAM_BASE
        return int.from_bytes(self.ram[off:off + 8], "little")

    def write(self, pa: int, v: int) -> None:
        off = pa - RAM_BASE
        self.ram[off:off + 8] = (v & MASK64).to_bytes(8, "little")

    @staticmethod
    def in_ram(pa: int, n: int = 8) -> bool:
        return RAM_BASE <= pa and pa + n <= RAM_END

    def allowed(self, pte: int, acc: int, hlvx: bool, user: bool, sum_: bool,
                mxr: bool) -> bool:
        if acc == FETCH or hlvx:
            ok = bool(pte & X)
        elif acc == LOAD:
            ok = bool(pte & R) or (mxr and bool(pte & X))
        else:
            ok = bool(pte & W)
        if user:
            return ok and bool(pte & U)
        if pte & U:
            return ok and sum_ and acc != FETCH
        return ok

    def g_stage(self, gpa: int, acc: int, hlvx: bool, fault_acc: int) -> tuple[int, int, int]:
        """Guest physical -> machine: (address, leaf PTE, its address)."""
        hgatp = self.csr["hgatp"]
        if hgatp >> 60 == 0:
            return gpa, -1, -1
        if gpa >> 41:
            raise Fault(_gpf(fault_acc), gpa)
        a = ((hgatp & ((1 << 44) - 1)) & ~3) << 12
        mxr = bool(self.csr["mstatus"] & K.MSTATUS_MXR)
        for level in (2, 1, 0):
            idx = (gpa >> (12 + 9 * level)) & (0x7FF if level == 2 else 0x1FF)
            addr = a + 8 * idx
            self.reads.append((1, level, addr))
            if not self.in_ram(addr):
                raise Fault(_af(fault_acc))
            pte = self.read(addr)
            if not pte & V or (pte & W and not pte & R) or pte >> 54:
                raise Fault(_gpf(fault_acc), gpa)
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & (R | X):
                # every G-stage access is a user-level one
                if not self.allowed(pte, acc, hlvx, True, False, mxr):
                    raise Fault(_gpf(fault_acc), gpa)
                if ppn & ((1 << (9 * level)) - 1):
                    raise Fault(_gpf(fault_acc), gpa)
                need = A | (D if acc == STORE else 0)
                if pte & need != need:
                    if not self.csr["menvcfg"] & K.MENVCFG_ADUE:
                        raise Fault(_gpf(fault_acc), gpa)
                    pte |= need
                    self.write(addr, pte)
                mask = (1 << (12 + 9 * level)) - 1
                return ((ppn << 12) & ~mask) | (gpa & mask), pte, addr
            a = ppn << 12
        raise Fault(_gpf(fault_acc), gpa)

    def translate(self, va: int, acc: int, hlvx: bool) -> int:
        """Guest virtual -> machine, for an HLV/HSV (V=1, privilege hstatus.SPVP)."""
        vsatp, vsstatus = self.csr["vsatp"], self.csr["vsstatus"]
        user = not self.csr["hstatus"] & K.HSTATUS_SPVP
        if vsatp >> 60 == 0 and self.csr["hgatp"] >> 60 == 0:
            return va
        if vsatp >> 60 == 0:
            return self.g_stage(va, acc, hlvx, acc)[0]
        if (va >> 38) not in (0, (1 << 26) - 1):  # bits 63..39 equal to bit 38
            raise Fault(_pf(acc))
        sum_ = bool(vsstatus & K.MSTATUS_SUM)
        mxr = bool(vsstatus & K.MSTATUS_MXR) or bool(self.csr["mstatus"] & K.MSTATUS_MXR)
        adue = self.csr["henvcfg"] & self.csr["menvcfg"] & K.MENVCFG_ADUE
        a = (vsatp & ((1 << 44) - 1)) << 12
        for level in (2, 1, 0):
            pte_gpa = a + 8 * ((va >> (12 + 9 * level)) & 0x1FF)
            try:  # an implicit read: its guest-page fault names a "pseudoinstruction"
                addr, g_pte, g_addr = self.g_stage(pte_gpa, LOAD, False, acc)
            except Fault as f:
                if f.cause in (20, 21, 23):
                    f.tinst = 0x3000  # a 64-bit read for VS-stage translation
                raise
            self.reads.append((0, level, addr))
            if not self.in_ram(addr):
                raise Fault(_af(acc))
            pte = self.read(addr)
            if not pte & V or (pte & W and not pte & R) or pte >> 54:
                raise Fault(_pf(acc))
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & (R | X):
                if not self.allowed(pte, acc, hlvx, user, sum_, mxr):
                    raise Fault(_pf(acc))
                if ppn & ((1 << (9 * level)) - 1):
                    raise Fault(_pf(acc))
                need = A | (D if acc == STORE else 0)
                if pte & need != need:
                    if not adue:
                        raise Fault(_pf(acc))
                    if g_pte >= 0:  # the A/D write is a store to guest memory
                        if not g_pte & W:
                            raise Fault(_gpf(acc), pte_gpa, 0x3020)  # a 64-bit write
                        if not g_pte & D:
                            if not self.csr["menvcfg"] & K.MENVCFG_ADUE:
                                raise Fault(_gpf(acc), pte_gpa, 0x3020)
                            self.write(g_addr, g_pte | A | D)
                    pte |= need
                    self.write(addr, pte)
                mask = (1 << (12 + 9 * level)) - 1
                gpa = ((ppn << 12) & ~mask) | (va & mask)
                return self.g_stage(gpa, acc, hlvx, acc)[0]
            a = ppn << 12
        raise Fault(_pf(acc))


# ------------------------------------------------------------------- random worlds
def _flags(rng: random.Random, common: int) -> int:
    return common if rng.random() < 0.75 else rng.getrandbits(8) | (V if rng.random() < 0.8
                                                                    else 0)


def random_world(seed: int) -> tuple[Machine, dict[str, int], int, str, int]:
    """A machine holding random two-stage tables, the CSRs of the translation, an address
    and an HLV/HSV to try. Returns (machine, csrs, va, op, value to store)."""
    rng = random.Random(seed)
    m = Machine(ram_mb=RAM_MB, hardware_ad=rng.random() < 0.8)
    g = Guest(m, rng, vmid=rng.getrandbits(14))
    # guest physical pages far apart (the root's 11-bit index, the top of the 41 bits)
    regions = [0x8000_0000, 0, 0x40_0000_0000, (1 << 41) - 0x40_0000, 0x1_0000_0000]
    root_gpa = g.guest_page(_flags(rng, V | R | W | U | A | D))
    mapped = []
    for _ in range(rng.randrange(1, 10)):
        va = rng.choice((0, 0x4000_0000, 0x7F_FFFF_F000, -0x40_0000_0000 & MASK64)) \
            + rng.randrange(64) * 0x1000
        va &= MASK64
        kind = rng.random()
        if kind < 0.7:  # a data page backed by a fresh frame, mapped in both stages
            gpa = rng.choice(regions) + rng.randrange(16) * 0x1000
            frame = g.frame()
            m.mem.write(frame, rng.randbytes(4096))
            if rng.random() < 0.9:
                g.g_map(gpa, frame, _flags(rng, V | R | W | X | U | A | D),
                        level=0 if rng.random() < 0.95 else 1)
        elif kind < 0.85:  # mapped to a guest physical page nobody backs
            gpa = rng.randrange(1 << 41) & ~0xFFF
        else:  # beyond Sv39x4's 41 bits
            gpa = (rng.randrange(1 << 44) | (1 << 41)) & ~0xFFF
        level = 0 if rng.random() < 0.9 else rng.choice((1, 2))
        g.vs_map(root_gpa, va, gpa, _flags(rng, V | R | W | X | rng.choice((0, U)) | A | D),
                 level)
        mapped.append(va)
    csrs = {
        "hgatp": g.hgatp if rng.random() < 0.9 else 0,
        "vsatp": (K.SATP_MODE_SV39 << 60) | (rng.getrandbits(16) << 44) | (root_gpa >> 12)
        if rng.random() < 0.85 else 0,
        "hstatus": K.HSTATUS_SPVP if rng.random() < 0.5 else 0,
        "vsstatus": rng.choice((0, K.MSTATUS_SUM, K.MSTATUS_MXR)),
        "mstatus": rng.choice((0, 0, K.MSTATUS_MXR)),
        "henvcfg": K.MENVCFG_ADUE if rng.random() < 0.7 else 0,
    }
    op = rng.choice(list(OPS))
    size = OPS[op][1]
    if csrs["vsatp"] == 0 and mapped and rng.random() < 0.8:
        va = rng.choice(regions) + rng.randrange(16) * 0x1000  # a guest physical address
    elif mapped and rng.random() < 0.9:
        va = rng.choice(mapped)
    else:
        va = rng.getrandbits(64) if rng.random() < 0.3 else rng.randrange(1 << 40)
    va = (va + rng.randrange(4096 // size) * size) & MASK64 & ~(size - 1)
    return m, csrs, va, op, rng.getrandbits(64)


CODE = {op: assemble(f"{op} {'a2, (a1)' if op.startswith('hsv') else 'a0, (a1)'}")
        for op in OPS}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_hlv_hsv_translate_as_the_spec_says(seed):
    m, csrs, va, op, value = random_world(seed)
    acc, size, hlvx = OPS[op]
    m.load(CODE[op])
    for name, v in csrs.items():
        m.hart.csr[name] = v
    model = Model(bytearray(m.mem.read(RAM_BASE, RAM_MB << 20)),
                  {**csrs, "hstatus": m.hart.csr["hstatus"], "menvcfg": m.hart.csr["menvcfg"],
                   "henvcfg": m.hart.csr["henvcfg"]})
    m.hart.x["a1"], m.hart.x["a2"] = va, value
    m.trace("walk", "trap")
    try:
        pa = model.translate(va, acc, hlvx)
        if not model.in_ram(pa, size):
            raise Fault(_af(acc))
        expect = None
        if acc == STORE:
            off = pa - RAM_BASE
            model.ram[off:off + size] = (value & ((1 << (8 * size)) - 1)).to_bytes(size, "little")
        else:
            off = pa - RAM_BASE
            expect = int.from_bytes(model.ram[off:off + size], "little")
    except Fault as f:
        fault = f
    else:
        fault = None
    m.step()
    walk = m.events("walk")
    got_reads = list(zip(walk["stage"].tolist(), walk["level"].tolist(),
                         walk["pte_addr"].tolist(), strict=True))
    assert got_reads == model.reads, "the page-table entries read, in order"
    if fault is None:
        assert len(m.events("trap")["cause"]) == 0, m.events("trap")
        if expect is not None:
            assert m.hart.x["a0"] == expect
    else:
        assert m.hart.csr["mcause"] == fault.cause
        assert m.hart.csr["mtval"] == va
        assert m.hart.csr["mtval2"] == fault.gpa >> 2
        assert m.hart.csr["mtinst"] == fault.tinst
        # an HLV/HSV fault carries a guest virtual address even though V was 0
        assert m.hart.csr["mstatus"] & K.MSTATUS_GVA
        assert not m.hart.csr["mstatus"] & K.MSTATUS_MPV
    assert m.mem.read(RAM_BASE, RAM_MB << 20) == bytes(model.ram), "memory afterwards"


# ------------------------------------------------------------------- real guests
GUEST_CODE = 0x1000_0000_0  # guest virtual address of the guest's code (gva)
GUEST_DATA = 0x2000_0000_0


def vs_guest(seed: int = 1, vmid: int = 1, g: Guest | None = None, data: bytes = b"",
             code: str = "ld a0, 0(a1)\nld a3, 8(a1)\n1: j 1b",
             code_flags: int = V | R | X | A | D) -> tuple[Machine, Guest, int]:
    """A guest in VS-mode whose code (by default: two loads, then a spin) and one data
    page are mapped in both stages (scattered frames)."""
    if g is None:
        rng = random.Random(seed)
        m = Machine(ram_mb=RAM_MB)
        g = Guest(m, rng, vmid=vmid)
    m = g.m
    root = g.guest_page()
    code_gpa = g.guest_page()
    data_gpa = g.guest_page()
    g.vs_map(root, GUEST_CODE, code_gpa, code_flags)
    g.vs_map(root, GUEST_DATA, data_gpa, V | R | W | A | D)
    prog = assemble(code)
    m.mem.write(g.gpa_to_machine(code_gpa), prog.sections[".text"].data)
    m.mem.write(g.gpa_to_machine(data_gpa), data or bytes(range(16)))
    m.hart.csr["hgatp"] = g.hgatp
    m.hart.csr["vsatp"] = (K.SATP_MODE_SV39 << 60) | (root >> 12)
    m.hart.mode = "VS"
    m.hart.pc = GUEST_CODE
    m.hart.x["a1"] = GUEST_DATA
    return m, g, root


def test_cold_two_dimensional_walk_reads_15_entries_in_order():
    m, g, root = vs_guest()
    m.trace("walk", "step")
    m.step()  # fetch (a cold walk) and the load (another one)
    walk = m.events("walk")
    stages = walk["stage"].tolist()
    levels = walk["level"].tolist()
    # each VS-stage level: the G-stage walk of the table's guest physical address (3
    # entries), then the VS entry; and last the G-stage walk of the final address
    one = [1, 1, 1, 0] * 3 + [1, 1, 1]
    assert stages == one * 2, stages
    assert levels == [2, 1, 0, 2, 2, 1, 0, 1, 2, 1, 0, 0, 2, 1, 0] * 2
    assert walk["access"].tolist() == [FETCH] * 15 + [LOAD] * 15
    # a G-stage row translates a guest physical address: the VS root's first
    assert walk["vaddr"].tolist()[0] == root + 8 * ((GUEST_CODE >> 30) & 0x1FF)
    assert walk["vaddr"].tolist()[3] == GUEST_CODE  # a VS row: the guest virtual address
    assert int(walk["result"][14]) == K.WALK_LEAF and int(walk["result"][29]) == K.WALK_LEAF
    assert m.hart.x["a0"] == int.from_bytes(bytes(range(8)), "little")
    assert m.events("step")["mode"].tolist() == [4 | K.PRV_S]  # VS
    walks = m.trace_dataset().vk.walks()
    assert (int(walks.translations), float(walks.references_per_translation)) == (2, 15.0)
    m.step()  # same pages: the TLB (tagged with the VMID) answers, no walk
    assert len(m.events("walk")["stage"]) == 30
    assert m.hart.x["a3"] == int.from_bytes(bytes(range(8, 16)), "little")


def test_vmids_tag_the_tlb():
    """Two guests map the same guest virtual addresses to different frames. Switching
    hgatp between them, with no fence at all, never shows one guest the other's data;
    and coming back to a VMID finds its translations still cached."""
    rng = random.Random(7)
    m = Machine(ram_mb=RAM_MB)
    g1 = Guest(m, rng, vmid=1)
    m, _, root1 = vs_guest(g=g1, data=b"guest one!!!!!!!")
    free = g1.free  # the second guest's tables and frames come from the same RAM
    g2 = Guest(m, rng, vmid=2, g_root=free.pop(-1) & ~0x3FFF, free=free)
    g2.free = [p for p in g2.free if not g2.g_root <= p < g2.g_root + 0x4000]
    for p in range(g2.g_root, g2.g_root + 0x4000, 0x1000):
        m.mem.write(p, bytes(4096))
    g2.next_gpage = 0x8000_0000
    _, _, root2 = vs_guest(g=g2, data=b"guest two??????")
    m.trace("walk")

    def run_as(g: Guest, root: int) -> tuple[int, int]:
        m.hart.mode = "VS"
        m.hart.pc = GUEST_CODE
        m.hart.csr["hgatp"] = g.hgatp
        m.hart.csr["vsatp"] = (K.SATP_MODE_SV39 << 60) | (root >> 12)
        before = len(m.events("walk")["stage"])
        m.step()
        return m.hart.x["a0"], len(m.events("walk")["stage"]) - before

    one, walks1 = run_as(g1, root1)
    two, walks2 = run_as(g2, root2)
    assert one.to_bytes(8, "little") == b"guest on" and walks1 == 30
    assert two.to_bytes(8, "little") == b"guest tw" and walks2 == 30
    assert run_as(g1, root1) == (one, 0)  # VMID 1's entries survived guest 2's
    m.hart.mode = "S"  # HS: hfence.gvma for VMID 1 only
    m.mem.write(RAM_BASE, assemble("li t0, 1\nhfence.gvma zero, t0").sections[".text"].data)
    m.hart.pc = RAM_BASE
    m.hart.csr["hgatp"] = 0  # (HS runs untranslated: satp is Bare)
    m.step(2)
    assert m.hart.pc == RAM_BASE + 8 and m.hart.mode.name == "S"
    assert run_as(g1, root1) == (one, 30)
    assert run_as(g2, root2) == (two, 0)


@pytest.mark.parametrize("mode", ["VS", "VU"])
def test_guest_ecall_exits_to_a_host_owning_hs(mode):
    """An ecall from VS is cause 10 (from VU 8): delegated by medeleg it targets HS, which
    a hypervisor in Python owns here: the core returns a host exit, V=1 in its record,
    and nothing changed in the hart."""
    m, _, _ = vs_guest(code="ecall", code_flags=V | R | X | A | D | (U if mode == "VU" else 0))
    m.hart.csr["medeleg"] = (1 << 8) | (1 << 10)
    m.host_traps_hs = {8, 10}
    m.hart.mode = mode
    ex = m.run(max_steps=10)
    assert ex.reason == "host-exit"
    assert ex.cause == (10 if mode == "VS" else 8)
    assert (ex.from_mode.name, ex.to_mode.name) == (mode, "S")
    assert m.hart.mode.name == mode and m.hart.pc == GUEST_CODE
    m.hart.csr["medeleg"] = 0  # not delegated: it targets M, which the host does not own
    assert m.run(max_steps=1).reason == "budget" and m.hart.mode.name == "M"


def test_stage_names_in_the_trace():
    m, _, _ = vs_guest()
    m.trace("walk", "step", "trap")
    m.step(2)
    ds = m.trace_dataset()
    assert set(ds.walk_stage.values.tolist()) == {0, 1}
    assert ds.attrs["isa"].startswith("rv64imach")
    assert (ds.step_mode.values == 5).all()
    np.testing.assert_array_equal(ds.walk_stage.values[:4], [1, 1, 1, 0])
