"""Page-walk caches (Machine(walk_cache=True)): what a walk reads with them, that they
change nothing architectural, and that fences, flushes and snapshots reach them.

The caches (vkernel/core/kernel.py, WC_*): VS-stage or single-stage non-leaf entries keyed
by level, VA bits above the level and address space; G-stage non-leaf entries keyed by
VMID, level and guest physical address bits; a nested TLB of the G-stage leaves of guest
page-table pages. Each direct-mapped and split by level, so one walk's entries never evict
each other; a hit also needs the entry to come from the table the walk is in.

The worlds are built as in test_hext.py (its :class:`Guest`: scattered frames, tables
written into RAM); HLV/HLVX/HSV from M-mode translate exactly as a VS-mode access does,
and an M-mode load with MPRV (MPP=S) as an S-mode one, so no fetch walks interleave.
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_hext import RAM_BASE, RAM_MB, Guest

from vkernel import Machine, assemble
from vkernel.core import kernel as K
from vkernel.hv import VM
from vkernel.hv.base import TECHNIQUES

V, R, W, X, U, A, D = 1, 2, 4, 8, 16, 64, 128
NEXT, LEAF, CACHED = K.WALK_NEXT, K.WALK_LEAF, K.WALK_CACHED
VA1 = 0x4000_0000  # and VA1 + 0x1000: two pages in one 2 MiB region
PPN = (1 << 44) - 1


def rows(m: Machine) -> list[tuple[int, int, int]]:
    """The walk rows so far: (stage, level, result)."""
    w = m.events("walk")
    return list(zip(w["stage"].tolist(), w["level"].tolist(), w["result"].tolist(),
                    strict=True))


# ------------------------------------------------------------------- native (Sv39)
def native(walk_cache: bool) -> Machine:
    """M-mode with MPRV (MPP=S) loads from two pages of one 2 MiB region, through Sv39
    tables root -> l1 -> l0 written at scattered pages."""
    m = Machine(ram_mb=1, walk_cache=walk_cache)
    m.load(assemble("ld a0, 0(a1)\nld a2, 0(a3)\n1: j 1b"))
    root, l1, l0, p1, p2 = (RAM_BASE + 0x8000 * i for i in range(1, 6))
    m.mem.write_u64(root + 8 * ((VA1 >> 30) & 0x1FF), (l1 >> 12) << 10 | V)
    m.mem.write_u64(l1 + 8 * ((VA1 >> 21) & 0x1FF), (l0 >> 12) << 10 | V)
    for i, page in enumerate((p1, p2)):
        m.mem.write_u64(l0 + 8 * i, (page >> 12) << 10 | V | R | W | A | D)
        m.mem.write_u64(page, 0x1111 * (i + 1))
    m.hart.csr["satp"] = K.SATP_MODE_SV39 << 60 | root >> 12
    m.hart.csr["mstatus"] |= K.MSTATUS_MPRV | 1 << K.MSTATUS_MPP_SHIFT
    m.hart.x["a1"], m.hart.x["a3"] = VA1, VA1 + 0x1000
    m.trace("walk")
    return m


def test_native_walk_reads_3_entries_and_1_once_the_cache_is_warm():
    """Cold: root, l1, l0 (3 references). The neighbouring page in the same 2 MiB region
    misses the TLB but its root and l1 entries are the ones the first walk cached: two
    ``cached`` rows, then the l0 leaf from memory (1 reference)."""
    off, on = native(False), native(True)
    for m in (off, on):
        m.step(2)
        assert (m.hart.x["a0"], m.hart.x["a2"]) == (0x1111, 0x2222)
    cold = [(0, 2, NEXT), (0, 1, NEXT), (0, 0, LEAF)]
    assert rows(off) == cold * 2
    assert rows(on) == cold + [(0, 2, CACHED), (0, 1, CACHED), (0, 0, LEAF)]
    assert (off.counters["pte_reads"], on.counters["pte_reads"]) == (6, 4)
    # each walk looks up levels 2 and 1: the first misses both, the second hits both
    assert (on.counters["walk_cache_hits"], on.counters["walk_cache_misses"]) == (2, 2)
    assert (off.counters["walk_cache_hits"], off.counters["walk_cache_misses"]) == (0, 0)
    w = on.trace_dataset().vk.walks()
    assert (int(w.references), int(w.cached), int(w.translations)) == (4, 2, 2)
    assert float(w.walk_cache_hit_rate) == 0.5
    # a cached row stands for the entry it skipped: same address and value as read before
    walk = on.events("walk")
    for cold_row, cached_row in ((0, 3), (1, 4)):
        assert walk["pte_addr"][cold_row] == walk["pte_addr"][cached_row]
        assert walk["pte"][cold_row] == walk["pte"][cached_row]


# ------------------------------------------------------------------- nested (Sv39x4)
def nested(walk_cache: bool, seed: int = 3) -> tuple[Machine, Guest]:
    """Two HLV.D loads of two guest pages in one 2 MiB region. Every guest physical page
    (the VS root, both data pages, the VS l1 and l0 tables, in that order) lies in the
    first 2 MiB of guest memory at 0x8000_0000, so one G-stage root entry and one G-stage
    level-1 entry cover them all."""
    m = Machine(ram_mb=RAM_MB, walk_cache=walk_cache)
    g = Guest(m, random.Random(seed), vmid=5)
    root = g.guest_page()
    d1, d2 = g.guest_page(), g.guest_page()
    g.vs_map(root, VA1, d1, V | R | W | A | D)
    g.vs_map(root, VA1 + 0x1000, d2, V | R | W | A | D)
    m.mem.write_u64(g.gpa_to_machine(d1), 0x1111)
    m.mem.write_u64(g.gpa_to_machine(d2), 0x2222)
    m.load(assemble("hlv.d a0, (a1)\nhlv.d a2, (a3)\n1: j 1b"))
    m.hart.csr["hgatp"] = g.hgatp
    m.hart.csr["vsatp"] = K.SATP_MODE_SV39 << 60 | 7 << 44 | root >> 12
    m.hart.csr["hstatus"] = K.HSTATUS_SPVP
    m.hart.x["a1"], m.hart.x["a3"] = VA1, VA1 + 0x1000
    m.trace("walk")
    return m, g


def test_nested_walk_reads_15_entries_9_with_the_cache_and_2_once_warm():
    """Without the cache every translation reads 3 x (3 + 1) + 3 = 15 entries.

    With it, the first (cold) translation already reuses what it cached: the G-stage walk
    of the VS root entry's address reads 3 entries and fills the G-stage level 2 and 1
    entries for the first 2 MiB of guest memory, so the G-stage walks of the VS l1 and l0
    tables' addresses and of the data page read only their G-stage leaf (1 each, after 2
    ``cached`` rows): 3 + 1 + (1 + 1) + (1 + 1) + 1 = 9 references, 6 cached rows.

    The neighbouring page then: VS levels 2 and 1 are cached (2 rows, and no G-stage walk
    of their addresses); the VS l0 table's G-stage translation is in the nested TLB (1
    row); the VS l0 leaf is read; the data page's G-stage walk has its levels 2 and 1
    cached and reads its leaf: 2 references, 5 cached rows."""
    (off, _), (on, _) = nested(False), nested(True)
    for m in (off, on):
        m.step(2)
        assert (m.hart.x["a0"], m.hart.x["a2"]) == (0x1111, 0x2222)
    g3 = [(1, 2, NEXT), (1, 1, NEXT), (1, 0, LEAF)]
    cold = g3 + [(0, 2, NEXT)] + g3 + [(0, 1, NEXT)] + g3 + [(0, 0, LEAF)] + g3
    assert rows(off) == cold * 2
    g1 = [(1, 2, CACHED), (1, 1, CACHED), (1, 0, LEAF)]
    cold_cached = g3 + [(0, 2, NEXT)] + g1 + [(0, 1, NEXT)] + g1 + [(0, 0, LEAF)] + g1
    warm = [(0, 2, CACHED), (0, 1, CACHED), (1, 0, CACHED), (0, 0, LEAF)] + g1
    assert rows(on) == cold_cached + warm
    assert (off.counters["pte_reads"], on.counters["pte_reads"]) == (30, 9 + 2)
    w_off, w_on = off.trace_dataset().vk.walks(), on.trace_dataset().vk.walks()
    assert float(w_off.references_per_translation) == 15.0
    assert (int(w_on.references), int(w_on.cached), int(w_on.translations)) == (11, 11, 2)
    # look-ups, cold: VS 2 and 1 miss; per G-stage walk of a table's address the nested
    # TLB then G 2 and 1 (the first walk misses all three, the next two hit G 2 and 1);
    # the data page's G-stage walk looks up G 2 and 1 (hits). Warm: VS 2 and 1 hit, the
    # nested TLB hits for the l0 table, G 2 and 1 hit for the data page.
    assert on.counters["walk_cache_hits"] == 6 + 5
    assert on.counters["walk_cache_misses"] == 2 + 3 + 1 + 1


def test_flushes_reach_the_walk_cache():
    """After each fence the neighbouring page's walk finds nothing cached that the fence
    covers (and everything else still there)."""
    def second_walk(fence: str) -> list[tuple[int, int, int]]:
        m, _ = nested(True)
        m.step()  # the first load fills the caches
        code = assemble(f"{fence}\nhlv.d a2, (a3)\n1: j 1b")
        m.mem.write(m.hart.pc, bytes(code.sections[".text"].data))
        m.hart.x["t0"], m.hart.x["t1"] = VA1 + 0x1000, 7  # a VA, the VS ASID
        m.hart.x["t2"] = 5  # the VMID
        n = len(rows(m))
        m.step(2)
        assert m.hart.x["a2"] == 0x2222
        return rows(m)[n:]
    g1 = [(1, 2, CACHED), (1, 1, CACHED), (1, 0, LEAF)]
    g3 = [(1, 2, NEXT), (1, 1, NEXT), (1, 0, LEAF)]
    warm = [(0, 2, CACHED), (0, 1, CACHED), (1, 0, CACHED), (0, 0, LEAF)] + g1
    assert second_walk("nop") == warm
    # the guest's own translations go; its G-stage ones stay (nested TLB included)
    # (the nested TLB still translates each VS table's address: one row each)
    vs_gone = [(1, 0, CACHED), (0, 2, NEXT), (1, 0, CACHED), (0, 1, NEXT), (1, 0, CACHED),
               (0, 0, LEAF)] + g1
    for fence in ("hfence.vvma zero, zero", "hfence.vvma t0, zero", "hfence.vvma zero, t1",
                  "hfence.vvma t0, t1"):
        assert second_walk(fence) == vs_gone, fence
    assert second_walk("hfence.vvma zero, t2") == warm  # another ASID: nothing goes
    # the G-stage: everything of the VMID goes (VS entries too: they hold machine addresses)
    cold = g3 + [(0, 2, NEXT)] + g1 + [(0, 1, NEXT)] + g1 + [(0, 0, LEAF)] + g1
    for fence in ("hfence.gvma zero, zero", "hfence.gvma zero, t2"):
        assert second_walk(fence) == cold, fence
    assert second_walk("hfence.gvma zero, t1") == warm  # another VMID (7): nothing goes


def test_python_flush_and_snapshots_include_the_walk_cache():
    m = native(True)
    m.step()
    snap = m.snapshot()
    m.hart.flush_tlb()
    m.step()
    assert rows(m)[3:] == [(0, 2, NEXT), (0, 1, NEXT), (0, 0, LEAF)]  # flushed: cold again
    m.restore(snap)  # the cache as it was: warm
    m.step()
    assert rows(m)[3:] == [(0, 2, CACHED), (0, 1, CACHED), (0, 0, LEAF)]
    m.restore(snap)
    m.hart.flush_tlb(VA1 + 0x1000)  # sfence.vma va: the entries of regions holding va
    m.step()
    assert rows(m)[3:] == [(0, 2, NEXT), (0, 1, NEXT), (0, 0, LEAF)]
    m.restore(snap)
    m.walk_cache = False
    m.step()
    assert rows(m)[3:] == [(0, 2, NEXT), (0, 1, NEXT), (0, 0, LEAF)]
    assert m.walk_cache is False


def test_a_new_root_with_the_same_asid_never_hits():
    """An entry must come from the table the walk is in: a satp write (no fence, same
    ASID 0) to a copy of the tables elsewhere reads them."""
    m = native(True)
    m.step()
    root = (m.hart.csr["satp"] & PPN) << 12
    copy = RAM_BASE + 0x6_0000
    m.mem.write(copy, m.mem.read(root, 4096))
    m.hart.csr["satp"] = K.SATP_MODE_SV39 << 60 | copy >> 12
    m.step()
    assert rows(m)[3:] == [(0, 2, NEXT), (0, 1, CACHED), (0, 0, LEAF)]  # same l1 table
    assert m.events("walk")["pte_addr"].tolist()[3] == copy + 8 * (VA1 >> 30)


# ------------------------------------------------------------------- differential
HANDLER = """
    la t0, handler
    csrw mtvec, t0
    la s0, log
{body}
1:  j 1b
handler:            # a faulting HLV/HSV: log the cause, skip it (4 bytes)
    csrr t0, mcause
    sd t0, 0(s0)
    csrr t0, mtval2
    sd t0, 8(s0)
    addi s0, s0, 16
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    mret
    .balign 8
log:
    .zero 4096
"""
DATA_GPA = (0x4000_0000, 0x1_0000_0000, 0x7_FFE0_0000)  # away from the tables (0x8000_0000)
VA_BASE = (0, VA1, VA1 + 0x20_0000, 0x7F_C000_0000, 0x3F_FFE0_0000)


def world(seed: int) -> tuple[Machine, Machine, Guest, list[int], list[tuple[int, int, int]]]:
    """The same random two-stage world in two machines (walk cache off, on). Returns them,
    the mapped VAs and the page-table entries (stage, machine address, level)."""
    rng = random.Random(seed)
    vmid = rng.getrandbits(14)
    machines = []
    for on in (False, True):
        m = Machine(ram_mb=RAM_MB, walk_cache=on)
        g = Guest(m, random.Random(seed), vmid=vmid)
        root = g.guest_page()
        vas = []
        rng2 = random.Random(seed + 1)
        for _ in range(rng2.randrange(3, 9)):
            va = rng2.choice(VA_BASE) + rng2.randrange(3) * 0x1000
            gpa = rng2.choice(DATA_GPA) + rng2.randrange(4) * 0x1000
            if gpa >> 12 not in g.p2m:
                frame = g.frame()
                m.mem.write(frame, rng2.randbytes(4096))
                g.g_map(gpa, frame, V | R | W | X | U | rng2.choice((0, A, A | D)))
            g.vs_map(root, va, gpa, V | R | W | X | rng2.choice((0, U)) | rng2.choice((0, A,
                                                                                      A | D)))
            vas.append(va)
        machines.append((m, g, root))
    (off, g, root), (on, _, _) = machines
    ptes = []
    def scan(stage: int, table_gpa: int, level: int, n: int) -> None:
        addr = table_gpa if stage else g.gpa_to_machine(table_gpa)
        for i, pte in enumerate(np.frombuffer(off.mem.read(addr, 8 * n), "<u8").tolist()):
            if pte & V:
                ptes.append((stage, addr + 8 * i, level))
                if not pte & (R | X) and level:
                    scan(stage, ((pte >> 10) & PPN) << 12, level - 1, 512)
    scan(1, g.g_root, 2, 2048)
    scan(0, root, 2, 512)
    # G-stage leaves (of the guest's tables too) without D, or A (the MMU sets them), or
    # execute-only (readable while mstatus.MXR is set)
    for stage, addr, _ in ptes:
        pte = off.mem.read_u64(addr)
        if stage == 1 and pte & (R | X):
            pte &= ~rng.choice((0, 0, D, A | D, R | W))
            for m in (off, on):
                m.mem.write_u64(addr, pte)
    csrs = {"hgatp": g.hgatp, "vsatp": K.SATP_MODE_SV39 << 60 | 9 << 44 | root >> 12,
            "hstatus": K.HSTATUS_SPVP, "menvcfg": K.MENVCFG_ADUE,
            "mstatus": K.MSTATUS_MXR if rng.random() < 0.5 else 0,
            "henvcfg": K.MENVCFG_ADUE if rng.random() < 0.8 else 0}
    for m in (off, on):
        for name, value in csrs.items():
            m.hart.csr[name] = value
    return off, on, g, sorted(set(vas)), ptes


def program(draw, vas: list[int], ptes: list[tuple[int, int, int]], mem) -> str:  # noqa: ANN001
    """Random HLV/HLVX/HSV accesses, page-table edits and fences. The fence rules a
    correct kernel follows: an edit of a VS-stage entry that is a pointer to the next
    level is followed by hfence.vvma of the whole address space; an edit of a G-stage
    entry by hfence.gvma. A leaf's edit may go unfenced (the TLB, the same with and
    without the walk cache, answers as it will)."""
    current = {addr: mem.read_u64(addr) for _, addr, _ in ptes}
    lines = []
    for _ in range(draw(st.integers(1, 25))):
        op = draw(st.sampled_from(("load", "load", "store", "store", "hlvx", "edit", "edit",
                                   "vvma", "gvma", "spvp", "mxr")))
        va = draw(st.sampled_from(vas)) + 8 * draw(st.integers(0, 3))
        if op == "load":
            lines += [f"li a1, {va}", "hlv.d a0, (a1)", "sd a0, 0(s0)", "addi s0, s0, 8"]
        elif op == "hlvx":
            lines += [f"li a1, {va}", "hlvx.wu a0, (a1)", "sd a0, 0(s0)", "addi s0, s0, 8"]
        elif op == "store":
            lines += [f"li a1, {va}", f"li a2, {draw(st.integers(0, 2**63 - 1))}",
                      "hsv.d a2, (a1)"]
        elif op == "edit":
            stage, addr, level = draw(st.sampled_from(ptes))
            old = current[addr]
            kind = draw(st.sampled_from(("flip", "repoint", "execute-only")))
            if kind == "flip":  # never R or X: a pointer stays a pointer, a leaf a leaf
                new = old ^ draw(st.sampled_from((V, W, U, A, D)))
            elif kind == "execute-only" and old & (R | X):  # readable with MXR only
                new = old & ~(R | W) | X
            else:  # another entry's value of the same stage, level and kind
                same = [a for s, a, lv in ptes if s == stage and lv == level
                        and bool(current[a] & (R | X)) == bool(old & (R | X))]
                new = current[draw(st.sampled_from(same))]
            current[addr] = new
            lines += [f"li t1, {addr}", f"li t2, {new}", "sd t2, 0(t1)"]
            if stage == 1:
                lines.append(draw(st.sampled_from(("hfence.gvma zero, zero",
                                                   "hfence.gvma zero, t3"))))
            elif old & V and not old & (R | X):
                lines.append(draw(st.sampled_from(("hfence.vvma zero, zero",
                                                   "hfence.vvma zero, t4"))))
        elif op == "vvma":
            lines += [f"li t5, {va}", draw(st.sampled_from((
                "hfence.vvma zero, zero", "hfence.vvma t5, zero", "hfence.vvma t5, t4")))]
        elif op == "gvma":
            lines.append("hfence.gvma zero, zero")
        elif op == "mxr":  # no fence: MXR is no part of a cached entry
            lines += ["li t1, 0x80000", "csrc mstatus, t1" if draw(st.booleans())
                      else "csrs mstatus, t1"]
        else:
            lines += ["li t1, 0x100", "csrc hstatus, t1" if draw(st.booleans())
                      else "csrs hstatus, t1"]  # SPVP: the guest's U or S
    return HANDLER.format(body="\n".join(f"    {line}" for line in lines))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), data=st.data())
def test_walk_cache_changes_no_architectural_result(seed, data):
    off, on, g, vas, ptes = world(seed)
    src = program(data.draw, vas, ptes, off.mem)
    prog = assemble(src)
    for m in (off, on):
        csrs = {n: m.hart.csr[n] for n in ("hgatp", "vsatp", "hstatus", "menvcfg", "henvcfg",
                                           "mstatus")}
        m.load(prog)  # (a reset: the CSRs again)
        for name, value in csrs.items():
            m.hart.csr[name] = value
        m.hart.x["t3"], m.hart.x["t4"] = g.vmid, 9
        m.trace("trap", "write", "walk")
        m.run(max_steps=2000)
    assert off.hart.pc == on.hart.pc
    assert [off.hart.x[i] for i in range(32)] == [on.hart.x[i] for i in range(32)]
    for name in ("mcause", "mtval", "mtval2", "mtinst", "mstatus"):
        assert off.hart.csr[name] == on.hart.csr[name], name
    for family in ("trap", "write"):
        a, b = off.events(family), on.events(family)
        assert {k: v.tolist() for k, v in a.items()} == {k: v.tolist() for k, v in b.items()}
    assert off.mem.read(RAM_BASE, RAM_MB << 20) == on.mem.read(RAM_BASE, RAM_MB << 20)
    # only the walks differ: the same VS-stage leaves and faults, the same G-stage faults
    # (a G-stage leaf of a table's address may be the nested TLB's), fewer references
    faults = {K.WALK_INVALID, K.WALK_DENIED, K.WALK_MISALIGNED, K.WALK_AD_FAULT,
              K.WALK_ACCESS}

    def ends(w: dict) -> list[tuple[int, ...]]:
        return [row for row in zip(w["step"].tolist(), w["stage"].tolist(),
                                   w["pte_addr"].tolist(), w["pte"].tolist(),
                                   w["result"].tolist(), strict=True)
                if row[4] in faults or (row[1] == 0 and row[4] == K.WALK_LEAF)]
    assert ends(off.events("walk")) == ends(on.events("walk"))
    assert on.counters["pte_reads"] <= off.counters["pte_reads"]
    assert off.counters["walk_cache_hits"] == off.counters["walk_cache_misses"] == 0
    w_off, w_on = off.trace_dataset().vk.walks(), on.trace_dataset().vk.walks()
    assert int(w_off.translations) == int(w_on.translations)
    assert int(w_on.cached) == on.counters["walk_cache_hits"]


# ------------------------------------------------------------------- whole guests
@pytest.mark.parametrize("technique, options", [
    *((t, {}) for t in TECHNIQUES), ("trap-emulate", {"shadow": "simple"}),
    ("hardware", {"paging": "shadow"})])
def test_every_technique_runs_the_same_with_fewer_references(technique, options):
    """A guest kernel under each technique (shadow tables, direct paging and nested paging
    alike): the same console, retired instructions and translations; fewer references."""
    runs = []
    for on in (False, True):
        vm = VM("hello", technique, walk_cache=on, trace=("walk", "trap"), **options)
        res = vm.run()
        ds = vm.trace_dataset()
        runs.append((res.reason, vm.console, vm.machine.hart.instret,
                     ds.trap_cause.values.tolist(), ds.vk.walks()))
    (*same_off, w_off), (*same_on, w_on) = runs
    assert same_off == same_on and same_on[0] == "shutdown"
    assert int(w_off.translations) == int(w_on.translations)
    assert int(w_off.cached) == 0 and int(w_on.cached) > 0
    assert int(w_on.references) < int(w_off.references)


def test_two_domains_keep_their_walk_caches_apart_and_walks_splits_them():
    """Two hardware guests on one host (VMIDs tag their entries; world switches flush
    nothing): each runs as it does alone, and walks() splits the references per domain."""
    from vkernel.hv import Host

    def host(on: bool) -> Host:
        h = Host(machine_mb=48, walk_cache=on, trace="walk")
        h.create("hello", "hardware", name="a")
        h.create("page-fault", "hardware", n=10, name="b")
        h.run()
        return h
    off, on = host(False), host(True)
    assert [d.console for d in off.domains] == [d.console for d in on.domains]
    assert [d.result.reason for d in on.domains] == ["shutdown"] * 2
    w_off, w_on = off.trace_dataset().vk.walks(), on.trace_dataset().vk.walks()
    assert w_on.domain.values.tolist() == [1, 2]
    assert int(w_on.references_by_domain.sum()) == int(w_on.references)
    assert int(w_on.cached_by_domain.sum()) == int(w_on.cached)
    assert int(w_on.translations_by_domain.sum()) == int(w_on.translations)
    assert w_on.translations_by_domain.values.tolist() \
        == w_off.translations_by_domain.values.tolist()
    assert (w_on.references_by_domain < w_off.references_by_domain).all()
