"""Memory virtualization's tables redrawn from a trace (vkernel.trace.tables): the p2m,
the shadow tables and the guest entries a hypervisor saw, checked against the live
hypervisor's own structures at the step the trace ends."""

from __future__ import annotations

import numpy as np
import pytest

from vkernel.errors import TraceError
from vkernel.hv import VM, Host
from vkernel.hv.balloon import TARGET
from vkernel.hv.cost import EVENT
from vkernel.hv.pagetable import PAGE, PTE_V
from vkernel.hv.scheduler import RoundRobin
from vkernel.trace.tables import NO_FRAME

TOP = (1 << 64) - 1
PPN = (1 << 44) - 1
SHADOWED = [("trap-emulate", {}), ("trap-emulate", {"shadow": "simple"}),
            ("hardware", {"paging": "shadow"}), ("binary-translation", {})]
SHADOW_IDS = ["te-wp", "te-simple", "hw-shadow", "bt"]


def live_shadow_leaves(mmu) -> dict[tuple[int, int], int]:
    """Every leaf of every shadow table the hypervisor keeps now, walked in machine memory
    here (not by vkernel's walker): (shadow satp, canonical page) -> entry."""
    mem = mmu.frames.machine.mem
    out = {}
    for t in mmu.tables.values():
        todo = [(t.pages[0], 2, 0)]
        while todo:
            table, level, va = todo.pop()
            for i in range(512):
                pte = mem.read_u64(table + 8 * i)
                if not pte & PTE_V:
                    continue
                v = va | i << (12 + 9 * level)
                if pte & 0xE:  # R, W or X: a leaf
                    out[(t.satp, v | (TOP ^ ((1 << 39) - 1)) if v >> 38 & 1 else v)] = pte
                else:
                    todo.append(((pte >> 10 & PPN) << 12, level - 1, v))
    return out


def live_p2m(d) -> dict[int, int]:
    """The pages with a frame behind them now (not ballooned out, not on disk)."""
    m = d.memory
    return {m.base + i * PAGE: int(f) for i, f in enumerate(m.p2m) if f >= 0}


def redrawn_shadow(ds, **kw) -> dict[tuple[int, int], int]:
    s = ds.vk.shadow_entries(**kw)
    return dict(zip(zip(s.satp.tolist(), s.vaddr.tolist(), strict=True), s.entry.tolist(),
                    strict=True))


@pytest.mark.parametrize("technique,options", SHADOWED, ids=SHADOW_IDS)
@pytest.mark.parametrize("workload,steps", [("hello", 20_000), ("hello", 400_000),
                                            ("fork-copy", 300_000)])
def test_the_trace_redraws_the_shadow_tables_the_hypervisor_has(technique, options,
                                                               workload, steps):
    vm = VM(workload, technique, trace=("hv", "p2m"), **options)
    vm.run(max_steps=steps)
    ds = vm.trace_dataset()
    redrawn = redrawn_shadow(ds)
    live = live_shadow_leaves(vm.technique.shadow)
    assert redrawn, "no shadow entries: nothing was checked"
    own = {k: v for k, v in live.items() if k not in redrawn}
    if technique == "binary-translation":  # its translation cache and vCPU page: not rows
        from vkernel.hv.binary_translation import TC_VA, VCPU_VA
        assert all(va >= min(TC_VA, VCPU_VA) for _, va in own)
    else:
        assert not own
    assert {k: live[k] for k in redrawn} == redrawn
    # each entry maps the frame the p2m gives the guest physical page it was filled for
    p2m = _redrawn_p2m(ds, vm.domain.domid)
    s = ds.vk.shadow_entries()
    for gpa, machine in zip(s.gpa.tolist(), s.machine.tolist(), strict=True):
        assert p2m[gpa & ~(PAGE - 1)] == machine


def test_a_step_redraws_the_shadows_as_they_were_then():
    full = VM("fork-copy", "trap-emulate", trace="hv")
    full.run(max_steps=300_000)
    whole = full.trace_dataset()
    for stop in (30_000, 120_000):
        short = VM("fork-copy", "trap-emulate", trace="hv")
        short.run(max_steps=stop)
        part = short.trace_dataset()
        live = live_shadow_leaves(short.technique.shadow)
        assert redrawn_shadow(part) == {k: live[k] for k in redrawn_shadow(part)}
        # the same run, so the rows before the stop are the same (at the stop's own step
        # the longer run may have gone on handling an exit)
        assert redrawn_shadow(whole, step=stop - 1) == redrawn_shadow(part, step=stop - 1)
    assert redrawn_shadow(whole, step=30_000) != redrawn_shadow(whole)


@pytest.mark.parametrize("technique,options", SHADOWED[:3], ids=SHADOW_IDS[:3])
def test_shadow_spaces_name_the_guest_address_space_of_each_shadow(technique, options):
    from vkernel.trace.tables import guest_satp, shadow_spaces
    vm = VM("fork-copy", technique, trace="hv", **options)
    vm.run(max_steps=300_000)
    ds = vm.trace_dataset()
    spaces = shadow_spaces(ds)
    live = {t.satp: t.key[0] for t in vm.technique.shadow.tables.values()}
    assert len(spaces) >= (1 if options.get("shadow") == "simple" else 3)  # (flushed often)
    assert {s: int(g) for s, g in zip(spaces.index.tolist(), spaces.guest_satp,
                                      strict=True)} == {s: live[s] for s in spaces.index}
    # every shadow with entries is named (a shadow's first fill is a hidden fault's)
    assert set(ds.vk.shadow_entries().satp.tolist()) <= set(spaces.index.tolist())
    # the latest walk's address space: the one the guest runs in now (fork-copy's parent)
    assert guest_satp(ds) == vm.technique.shadow.tables[
        next(k for k in vm.technique.shadow.tables
             if vm.technique.shadow.tables[k].satp == int(spaces.step.idxmax()))].key[0]
    assert guest_satp(ds, step=0) == 0  # (paging off: no row has said otherwise)


@pytest.mark.parametrize("technique,options", SHADOWED[:3], ids=SHADOW_IDS[:3])
def test_guest_entries_under_write_protection_are_the_guests_memory(technique, options):
    vm = VM("fork-copy", technique, trace="hv", **options)
    vm.run(max_steps=300_000)
    ds = vm.trace_dataset()
    seen = ds.vk.guest_entries()
    mmu, memory = vm.technique.shadow, vm.domain.memory
    assert (seen.event == "hv_walk").any()
    if mmu.write_protect:
        assert (seen.event == "wp_fault").any()
        # a table a shadow depends on is written only through emulated stores: what the
        # trace last said of its entries is what the guest's memory holds
        protected = [a for a in seen.index.tolist() if mmu.is_table(a)]
        assert len(protected) > 10
        assert {a: memory.read_u64(a) for a in protected} == \
            {a: int(seen.pte[a]) for a in protected}
    wp = ds.hv_event.values == EVENT["wp_fault"]
    assert (ds.hv_satp.values[wp] >> 60 == 8).all()  # (the guest's Sv39 satp)


def test_paravirt_mmu_updates_redraw_its_validated_tables():
    vm = VM("fork-copy", "paravirt", trace="hv")
    vm.run(max_steps=300_000)
    pv, mem = vm.technique, vm.machine.mem
    bad = next(iter(pv.level)) + 8  # an entry of one of its tables ...
    assert pv.update_entry(bad, 0x1F) != 0  # ... aimed at frame 0: refused
    ds = vm.trace_dataset()
    rows = ds.hv_event.values == EVENT["mmu_update"]
    assert rows.sum() > 20
    last = np.flatnonzero(rows)[-1]
    assert (int(ds.hv_cause[last]), int(ds.hv_detail[last]), int(ds.hv_entry[last])) == \
        (1, bad, 0x1F)
    seen = ds.vk.guest_entries()
    assert set(seen.event) == {"mmu_update"} and bad not in seen.index or \
        int(seen.pte[bad]) != 0x1F
    in_tables = [a for a in seen.index.tolist() if a & ~(PAGE - 1) in pv.level]
    assert len(in_tables) > 10
    assert {a: mem.read_u64(a) for a in in_tables} == {a: int(seen.pte[a]) for a in in_tables}


def test_p2m_rows_at_creation_cover_the_domains_ram():
    vm = VM("hello", "hardware", trace=("hv", "p2m"), max_mb=16)  # (half of it: holes)
    ds = vm.trace_dataset()  # nothing run yet: only the creation's rows
    assert ds.sizes["p2m"] == vm.domain.memory.populated == 2048
    assert (ds.p2m_domain.values == vm.domain.domid).all() and not ds.p2m_step.values.any()
    assert "p2m" not in set(ds.vk.to_dataframe("hv").event)  # (no hv event: not priced)
    assert _redrawn_p2m(ds, vm.domain.domid) == live_p2m(vm.domain)
    with pytest.raises(TraceError, match="no p2m family"):
        VM("hello", "hardware", trace="hv").trace_dataset().vk.p2m()


@pytest.mark.parametrize("technique,options", [("hardware", {}), ("trap-emulate", {})],
                         ids=["nested", "te-wp"])
def test_the_trace_redraws_every_p2m_through_balloon_sharing_and_swap(technique, options):
    host = Host(machine_mb=24, overcommit="swap", trace=("hv", "p2m"),
                scheduler=RoundRobin(slice_ms=2))
    a = host.create("hello", technique, memory_mb=8, name="a", **options)
    b = host.create("hello", technique, memory_mb=8, name="b", **options)
    host.run(max_steps=50_000)
    a.balloon.set_target(a.memory.populated - 64)  # A gives 64 pages back ...
    host.run(max_steps=50_000)
    host.share_pages()
    for _ in range(host.frames.free_frames - 90):
        host.frames.alloc("elsewhere")  # ... and breaking sharing must swap
    mid = host.trace_dataset()
    for d in (a, b):
        assert _redrawn_p2m(mid, d.domid) == live_p2m(d)
    host.run()
    assert all(d.result.code == 0 for d in (a, b)), (a.error, b.error)
    ds = host.trace_dataset()
    events = {name: int((ds.hv_event.values == EVENT[name]).sum())
              for name in ("balloon", "share", "unshare", "swap")}
    assert all(events.values()), events  # every kind of change was redrawn
    for d in (a, b):
        assert _redrawn_p2m(ds, d.domid) == live_p2m(d)
    with pytest.raises(TraceError, match="say which"):
        ds.vk.p2m()


def _redrawn_p2m(ds, domid: int, step: int | None = None) -> dict[int, int]:
    """The redrawn p2m's pages with a frame behind them."""
    p = ds.vk.p2m(step, domain=domid)
    return {g: m for g, m in zip(p.index.tolist(), p.machine.tolist(), strict=True)
            if m != NO_FRAME}


def test_the_memory_map_replays_a_trace_to_the_frames_the_host_has():
    from vkernel.widgets.memory_map import MemoryMap

    host = Host(machine_mb=24, overcommit="swap", trace="hv",
                scheduler=RoundRobin(slice_ms=2))
    a = host.create("hello", "hardware", memory_mb=8, name="a")
    host.create("hello", "hardware", memory_mb=8, name="b")
    host.run(max_steps=50_000)
    replayed = MemoryMap(host)  # the frames now; the rows from now on replay onto it
    before = host.trace_dataset().sizes["hv"]
    a.balloon.set_target(a.memory.populated - 64)
    host.run(max_steps=50_000)
    host.share_pages()
    for _ in range(host.frames.free_frames - 90):
        host.frames.alloc("elsewhere")
    host.run()
    ds = host.trace_dataset().isel(hv=slice(before, None))
    applied = replayed.replay(ds)
    moves = np.isin(ds.hv_event.values, [EVENT[e] for e in MemoryMap.REPLAYED]) \
        & ~((ds.hv_event.values == EVENT["balloon"]) & (ds.hv_cause.values == TARGET))
    assert applied == int(moves.sum()) > 100  # (a new balloon target moves no page)
    now = MemoryMap(host).counts
    # the frames taken by "elsewhere" are no domain's: the replay cannot know of them
    taken = sum(1 for o in host.frames.owner.values() if o == "elsewhere")
    want = dict(now)
    want["free"] += taken
    want["hypervisor (its own)"] -= taken
    assert replayed.counts == want
    assert not replayed.note


@pytest.mark.parametrize("technique,options", [("trap-emulate", {}),
                                               ("hardware", {"paging": "shadow"})],
                         ids=["te", "hw-shadow"])
def test_the_guest_address_space_is_known_at_every_step(technique, options):
    """An emulated satp access records the value satp holds after it, so the trace knows
    each switch of address space, with or without a hidden fault after it: stopped
    anywhere, the trace names the address space the hypervisor has for the guest."""
    from vkernel.trace.tables import guest_satp

    vm = VM("as-switch", technique, trace="hv", n=6, **options)
    seen = set()
    for _ in range(60):
        vm.run(max_steps=3_000)
        live = vm.technique.csrs.satp if technique == "trap-emulate" else vm.technique.satp
        assert guest_satp(vm.trace_dataset()) == live
        seen.add(live)
    assert len(seen) >= 3  # paging off, the kernel's space and the programs'
