"""Content-based page sharing (vkernel.hv.sharing): merges, copy-on-write, isolation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel.hv import Host
from vkernel.hv.base import HypervisorError
from vkernel.hv.cost import EVENT
from vkernel.hv.memory import GUEST_RAM_BASE, GuestMemoryError
from vkernel.hv.pagetable import PAGE
from vkernel.hv.scheduler import RoundRobin
from vkernel.hv.sharing import SHARED, guest_page_tables
from vkernel.isa.asm import assemble

# (technique, options): every technique that takes part, both ways of keeping shadows
SHARING = [("hardware", {"paging": "nested"}), ("hardware", {"paging": "shadow"}),
           ("trap-emulate", {}), ("trap-emulate", {"shadow": "simple"}),
           ("binary-translation", {})]
IDS = ["nested", "hw-shadow", "trap-emulate", "trap-emulate-simple", "bt"]
TARGET = GUEST_RAM_BASE + 0x10_0000  # the pages the store guest writes: 8 of them
PAGES = 8


def store_guest(stores: list[tuple[int, int]]):
    """A guest kernel that reads each TARGET page (so that a translation of it exists
    before it writes: a shadow filled by a load), does ``stores`` ((page index, offset,
    value): 8-byte stores to the TARGET pages, with its MMU off) and switches itself off
    (SBI SRST)."""
    table = "\n".join(f".dword {TARGET + p * PAGE + off * 8:#x}, {v:#x}"
                      for p, off, v in stores)
    loads = "\n".join(f"    li t1, {TARGET + p * PAGE:#x}\n    ld t2, 0(t1)"
                      for p in range(PAGES))
    return assemble(f"""
_start:
{loads}
    la t0, stores
loop:
    ld t1, 0(t0)
    beqz t1, done
    ld t2, 8(t0)
    sd t2, 0(t1)
    addi t0, t0, 16
    j loop
done:
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    li a1, 0
    ecall
    j done
.align 3
stores:
{table}
.dword 0, 0
""", name="stores")


def two_hello(technique="hardware", options=None, mb=8, steps=50_000):
    host = Host(machine_mb=48, trace="hv", scheduler=RoundRobin(slice_ms=2))
    a = host.create("hello", technique, memory_mb=mb, name="a", **(options or {}))
    b = host.create("hello", technique, memory_mb=mb, name="b", **(options or {}))
    host.run(max_steps=steps)  # booted partway: page tables, a process or two
    return host, a, b


@pytest.mark.parametrize("technique,options", SHARING, ids=IDS)
def test_two_hello_domains_share_most_frames_and_print_what_they_print_alone(technique,
                                                                               options):
    alone = Host(machine_mb=48)
    ref = alone.create("hello", "native", memory_mb=8)
    assert alone.run().reason == "shutdown"
    host, a, b = two_hello(technique, options)
    before = host.frames.free_frames
    saved = host.share_pages()
    assert saved == host.frames.free_frames - before
    assert saved > 3500  # of 2 x 2048 pages: a booting kernel's pages are mostly zeros
    assert host.frames.usage()[SHARED] == host.sharing.shared_frames
    assert host.run().reason == "shutdown"
    for d in (a, b):
        assert d.result.code == 0 and d.console == ref.console
    assert host.sharing.breaks > 0  # they wrote to pages that were shared
    ds = host.trace_dataset()
    events = ds.hv_event.values
    assert (events == EVENT["share"]).sum() == host.sharing.merges
    assert (events == EVENT["unshare"]).sum() == host.sharing.breaks


def test_accounting_adds_up_through_merges_and_breaks():
    host, a, b = two_hello()
    total = host.frames.free_frames + sum(host.frames.usage().values())
    host.share_pages()
    assert host.frames.free_frames + sum(host.frames.usage().values()) == total
    host.run()
    assert host.frames.free_frames + sum(host.frames.usage().values()) == total
    # every shared frame is used by at least two guest pages, or by one that has not
    # written it since the other broke away; every p2m entry points at a frame it owns
    for frame, users in host.sharing.users.items():
        assert users and host.frames.owner[frame] == SHARED
    for d in (a, b):
        for i, frame in enumerate(d.memory.p2m.tolist()):
            gpa = GUEST_RAM_BASE + i * PAGE
            assert host.frames.owner[frame] == (SHARED if gpa in d.memory.shared else d.name)
    host.destroy(a)
    host.destroy(b)
    assert host.sharing.users == {} and SHARED not in host.frames.usage()
    assert host.frames.free_frames == Host(machine_mb=48).frames.free_frames  # all back


def test_page_tables_and_hypervisor_frames_are_never_shared():
    host, a, b = two_hello()
    tables = {d.name: guest_page_tables(d) for d in (a, b)}
    assert all(len(t) >= 3 for t in tables.values())  # paging is on: root, l1, l0
    host.share_pages()
    for d in (a, b):
        assert not tables[d.name] & d.memory.shared
        shared = {int(d.memory.p2m[(g - GUEST_RAM_BASE) // PAGE]) for g in d.memory.shared}
        # no G-stage table, no hypervisor frame: only guest RAM is ever a candidate
        assert all(host.frames.owner[f] == SHARED for f in shared)
    hv = {f for f, o in host.frames.owner.items() if o == "hypervisor"}
    assert not hv & set(host.sharing.users)


def test_a_shared_page_is_read_only_in_the_g_stage_and_a_write_copies_it():
    host, a, b = two_hello()
    host.share_pages()
    page = max(a.memory.shared & b.memory.shared)
    frame = a.memory.machine_address(page)
    assert frame == b.memory.machine_address(page)
    a.memory.write(page, b"mine")  # the hypervisor writing for a (copy_to_guest)
    assert a.memory.read(page, 4) == b"mine"
    assert b.memory.read(page, 4) == bytes(4)
    assert a.memory.machine_address(page) != frame
    assert a.technique.gstage.translate(page) == a.memory.machine_address(page)
    assert b.technique.gstage.translate(page) == frame


def test_save_and_restore_keep_shared_pages():
    host, a, b = two_hello()
    host.share_pages()
    snap = host.save()
    first = host.run()
    out = (a.console, b.console, host.sharing.breaks, host.frames.usage())
    host.restore(snap)
    assert host.sharing.breaks == 0 or host.sharing.breaks < out[2]
    second = host.run()
    assert second == first
    assert (a.console, b.console, host.sharing.breaks, host.frames.usage()) == out


def test_paravirtual_domains_are_left_out_with_a_reason():
    host, a, b = two_hello("paravirt")
    assert "machine frames" in host.sharing.excluded(a)
    assert host.share_pages() == 0
    assert host.run().reason == "shutdown"


def test_a_break_with_no_free_frame_crashes_that_domain_only():
    host, a, b = two_hello()
    host.share_pages()
    hog = [host.frames.alloc("hog") for _ in range(host.frames.free_frames)]
    host.run()
    crashed = [d for d in (a, b) if d.result.reason == "crashed"]
    assert crashed and all(isinstance(d.error, GuestMemoryError) for d in crashed)
    assert "overcommitted" in str(crashed[0].error)
    for f in hog:
        host.frames.free(f)


def _isolation(technique, options, stores_a, stores_b, seed):
    host = Host(machine_mb=24, seed=seed)
    doms = [host.create(store_guest(s), technique, memory_mb=2, name=n, **options)
            for n, s in (("a", stores_a), ("b", stores_b))]
    pattern = np.random.default_rng(seed).integers(0, 256, PAGES * PAGE, np.uint8).tobytes()
    for d in doms:  # the same contents in both: shared
        d.memory.write(TARGET, pattern)
    host.share_pages()
    assert all({TARGET + p * PAGE for p in range(PAGES)} <= d.memory.shared for d in doms)
    assert host.run().reason == "shutdown"
    for d, stores in zip(doms, (stores_a, stores_b), strict=True):
        assert d.result.code == 0, d.error
        expect = bytearray(pattern)  # what a private run would leave
        for p, off, v in stores:
            expect[p * PAGE + off * 8:p * PAGE + off * 8 + 8] = v.to_bytes(8, "little")
        assert d.memory.read(TARGET, PAGES * PAGE) == bytes(expect)


STORES = st.lists(st.tuples(st.integers(0, PAGES - 1), st.integers(0, PAGE // 8 - 1),
                            st.integers(0, 2**64 - 1)), max_size=12)


@pytest.mark.parametrize("technique,options", SHARING, ids=IDS)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stores_a=STORES, stores_b=STORES, seed=st.integers(0, 1000))
def test_a_write_to_a_shared_page_never_changes_the_other_domains_copy(
        technique, options, stores_a, stores_b, seed):
    _isolation(technique, options, stores_a, stores_b, seed)


@pytest.mark.parametrize("technique,options", SHARING, ids=IDS)
def test_a_domain_cannot_write_through_to_its_neighbour_even_in_one_page(technique,
                                                                         options):
    # adversarial: both write the same word of the same shared page, different values,
    # and then the next word of the page the other one wrote
    _isolation(technique, options, [(0, 0, 0xAAAA), (1, 1, 0xA1)],
               [(0, 0, 0xBBBB), (1, 2, 0xB2), (0, 0, 0xBBBC)], 1)


def test_share_rows_name_the_domain_and_the_page():
    host, a, b = two_hello()
    host.share_pages()
    ds = host.trace_dataset()
    rows = ds.hv_event.values == EVENT["share"]
    assert set(ds.hv_cause.values[rows].tolist()) == {a.domid, b.domid}
    details = ds.hv_detail.values[rows]
    assert details.min() >= GUEST_RAM_BASE and not (details % PAGE).any()


def test_a_technique_without_sharing_says_so():
    host = Host(machine_mb=32)
    d = host.create("hello", "native", memory_mb=8)
    assert "native" in host.sharing.excluded(d)
    with pytest.raises(HypervisorError):
        d.technique.share_map(GUEST_RAM_BASE, 0)


def test_memory_map_shows_shared_frames_and_replays_share_rows():
    from vkernel.widgets.memory_map import MemoryMap

    host, a, b = two_hello()
    replayed = MemoryMap(host)  # the frames before the scan
    assert replayed.counts["shared (copy-on-write)"] == 0
    assert {"share", "unshare"} <= set(replayed.replayers)
    host.share_pages()
    host.run()
    now = MemoryMap(host).counts
    assert now["shared (copy-on-write)"] == host.sharing.shared_frames > 0
    applied = replayed.replay(host.trace_dataset())
    assert applied == host.sharing.merges + host.sharing.breaks
    assert replayed.counts["shared (copy-on-write)"] == now["shared (copy-on-write)"]
    assert "share" not in replayed.note


def test_sharing_lets_guest_memory_exceed_machine_memory():
    host = Host(machine_mb=12, scheduler=RoundRobin(slice_ms=2))
    doms = []
    for name in "abc":  # 3 x 8 MiB of guest RAM on a 12 MiB machine
        doms.append(host.create("hello", "hardware", memory_mb=8, name=name))
        assert host.share_pages() >= 2040  # (mostly zero pages: one frame for them all)
    assert sum(d.ram_mb for d in doms) > host.machine.ram_mb
    with pytest.raises(GuestMemoryError):  # without a scan first, a fourth does not fit
        host.create("hello", "hardware", memory_mb=12, name="d")
    assert host.run().reason == "shutdown"
    assert all(d.result.code == 0 and d.console == doms[0].console for d in doms)


def _swapping(technique="hardware", options=None, left=90):
    """Two hello guests sharing their pages on a host with ``left`` frames free beyond
    the sharing (the rest taken): copy-on-write breaks must swap pages out."""
    host = Host(machine_mb=24, overcommit="swap", trace="hv",
                scheduler=RoundRobin(slice_ms=2))
    a = host.create("hello", technique, memory_mb=8, name="a", **(options or {}))
    b = host.create("hello", technique, memory_mb=8, name="b", **(options or {}))
    host.run(max_steps=50_000)
    host.share_pages()
    for _ in range(host.frames.free_frames - left):
        host.frames.alloc("elsewhere")  # another user of the machine's memory
    return host, a, b


@pytest.mark.parametrize("technique,options", SHARING, ids=IDS)
def test_an_overcommitted_host_swaps_and_its_guests_still_print_what_they_print_alone(
        technique, options):
    alone = Host(machine_mb=48)
    ref = alone.create("hello", "native", memory_mb=8)
    alone.run()
    # (binary translation's caches take frames of their own: it needs more room)
    host, a, b = _swapping(technique, options, left=150 if technique == "binary-translation"
                           else 90)
    assert host.run().reason == "shutdown"
    for d in (a, b):
        assert d.result.code == 0 and d.console == ref.console, d.error
    swap = host.swap
    assert swap.pages_out > 0 and swap.pages_in >= 0
    assert swap.pages_out - swap.pages_in == sum(len(d.memory.swapped) for d in (a, b))
    ds = host.trace_dataset()
    assert (ds.hv_event.values == EVENT["swap"]).sum() == swap.pages_out + swap.pages_in
    assert host.frames.free_frames >= 0


def test_swapping_is_deterministic_and_survives_save_and_restore():
    host, a, b = _swapping()
    snap = host.save()
    host.run()
    first = host.trace_dataset()
    rows = first.hv_event.values == EVENT["swap"]
    out = (a.console, b.console, first.hv_detail.values[rows].tolist())
    host.restore(snap)
    host.run()
    again = host.trace_dataset()
    rows = again.hv_event.values == EVENT["swap"]
    assert (a.console, b.console, again.hv_detail.values[rows][-len(out[2]):].tolist()) \
        == out
    other, c, d = _swapping()
    other.run()
    assert other.swap.pages_out == host.swap.pages_out
    assert (c.console, d.console) == out[:2]


def test_refusing_overcommit_is_the_default_and_an_unknown_policy_is_an_error():
    assert Host(machine_mb=16).swap is None
    with pytest.raises(HypervisorError, match="overcommit"):
        Host(machine_mb=16, overcommit="hope")
