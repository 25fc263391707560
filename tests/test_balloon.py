"""Ballooning (vkernel/hv/balloon.py, the guest kernels' kernel/balloon*.s): memory moved
between domains by the guests' balloon drivers, with their workloads still correct, and
a page ballooned out never reachable by the guest that gave it."""

from __future__ import annotations

import functools

import pytest
from hvguests import guest

from vkernel import guests
from vkernel.hv import VM, Host
from vkernel.hv.base import HypervisorError
from vkernel.hv.memory import GuestMemoryError
from vkernel.hv.pagetable import PTE_R, PTE_U, PTE_V, PTE_W
from vkernel.hv.paravirt import EPERM
from vkernel.hv.scheduler import RoundRobin

BALLOONED = ("hardware", "hardware-shadow", "trap-emulate", "binary-translation", "paravirt")
PAGE = 4096
UPOOL_END = 0x8080_0000


@functools.cache
def native_console(workload: str, n: int | None = None) -> str:
    vm = VM(workload, "native", n=n)
    assert vm.run().reason == "shutdown"
    return vm.console


def symbol(domain, name: str) -> int:
    program = guests.kernel(domain.workload, n=domain.n,
                            paravirt=domain.technique_name == "paravirt")
    return domain.memory.read_u64(program.symbols[name])


def create(host: Host, workload: str, technique: str, name: str, *, n: int | None = None,
           **kw):
    if technique == "hardware-shadow":  # first-generation hardware assistance
        technique, kw["paging"] = "hardware", "shadow"
    d = host.create(workload, technique, name=name, n=n, **kw)
    d.workload, d.n = workload, n  # (for symbol)
    return d


def free_pages(domain) -> int:
    """The guest's free user pages, as its allocator sees them."""
    return (symbol(domain, "upool_end") - symbol(domain, "upool_next")) // PAGE


def run_until(host: Host, done, budget: int = 2_000_000) -> None:
    spent = 0
    while not done():
        assert spent < budget, "the balloon did not move in time"
        host.run(2_000)
        spent += 2_000


def frames_of(host: Host, domain) -> int:
    """Machine frames holding the domain's RAM (its account also pays for the tables the
    hypervisor keeps for it: a G-stage table for pages that come back, say)."""
    return sum(1 for owner in host.frames.owner.values() if owner == domain.name)


@pytest.mark.parametrize("technique", BALLOONED)
def test_half_the_free_memory_moves_to_another_domain_and_back(technique):
    """Two domains whose maximum the machine cannot hold at once: A gives half its free
    memory (its driver inflates), B takes as much (deflates), both workloads run on and
    print what they print natively; then it all goes back. (Round robin with short
    slices, so that both are still running when the memory goes back.)"""
    host = Host(machine_mb=16, scheduler=RoundRobin(slice_ms=1))
    a = create(host, "hello", technique, "a", memory_mb=8)
    b = create(host, "hello", technique, "b", memory_mb=5, max_mb=8)
    assert a.memory.populated + b.memory.populated + host.frames.free_frames < 2 * 2048
    assert symbol(b, "upool_end") == 0  # (not booted yet: the driver runs at boot)
    run_until(host, lambda: symbol(a, "nproc") == symbol(b, "nproc") == 2)  # both booted
    assert symbol(b, "balloon_pages") == 768  # it started with 3 MiB ballooned out
    assert symbol(b, "upool_end") == UPOOL_END - 768 * PAGE
    free = free_pages(a)
    move = 512
    assert move >= free // 2
    a_frames, b_frames = frames_of(host, a), frames_of(host, b)
    host.balloon(a, 6)  # 1536 pages
    host.balloon(b, 7)  # 1792
    run_until(host, lambda: a.memory.populated == 1536 and b.memory.populated == 1792
              and symbol(b, "balloon_pages") == 256)  # (and its driver has finished)
    assert frames_of(host, a) == a_frames - move
    assert frames_of(host, b) == b_frames + move
    usage = host.usage().memory_frames.values  # what the accounts say (tables included)
    assert usage[0] < a_frames and usage[1] >= b_frames + move
    assert symbol(a, "balloon_pages") == move and symbol(b, "balloon_pages") == 256
    assert symbol(a, "upool_end") == UPOOL_END - move * PAGE  # its pool is smaller
    # the page at the top of A's pool is a hole now; B's is RAM again
    with pytest.raises(GuestMemoryError, match="ballooned out"):
        a.memory.read(UPOOL_END - PAGE, 8)
    assert b.memory.read(UPOOL_END - 257 * PAGE, 8) == bytes(8)  # a fresh, zeroed frame
    host.balloon(a, 8)  # ... and back
    host.balloon(b, 5)
    assert host.run().reason == "shutdown"
    for d in (a, b):
        assert d.result.code == 0, d.error
        assert d.console == native_console("hello")
    assert a.memory.populated == 2048 and b.memory.populated == 1280
    assert frames_of(host, a) == a_frames and frames_of(host, b) == b_frames
    assert a.balloon.pages_out == a.balloon.pages_in == move
    assert b.balloon.pages_out == b.balloon.pages_in == move


@pytest.mark.parametrize("technique", BALLOONED)
def test_a_domain_uses_the_memory_it_was_given(technique):
    """B starts with 2 MiB ballooned out, too little for its workload (600 heap pages);
    A gives 2 MiB, B's balloon deflates, and B's workload completes as it does natively
    (without the memory its processes would be killed: out of memory). The targets
    are the administrator's alone: the host's memory reclamation is off (it would trim
    B again once binary translation's caches leave the machine 29 frames free)."""
    host = Host(machine_mb=16, reclaim_below=0)
    a = create(host, "hello", technique, "a", memory_mb=8)
    b = create(host, "page-fault", technique, "b", n=600, memory_mb=6, max_mb=8)
    host.balloon(a, 6)
    host.balloon(b, 8)
    assert host.run().reason == "shutdown"
    assert (a.result.code, b.result.code) == (0, 0), (a.error, b.error)
    assert a.console == native_console("hello")
    assert b.console == native_console("page-fault", 600)
    assert "600 done" in b.console
    assert b.memory.populated == 2048 and a.memory.populated == 1536


def test_without_the_memory_the_workload_fails():
    """(The test above can fail: the same B with its balloon left inflated runs out.)"""
    vm = VM("page-fault", "hardware", n=600, ram_mb=6, max_mb=8)
    vm.run()
    assert "600 done" not in vm.console


# ---- isolation ------------------------------------------------------------------------
GIVEN = 0x8070_0000  # the page the test guest gives away
RESULTS = 0x8060_0000  # where it writes what happened
BALLOON_GIVE = f"""
    li a7, 0x08424C4E
    li a6, 2
    li a0, {GIVEN}
    li a1, 1
    ecall                       # give(GIVEN, 1)
    li t0, {RESULTS}
    sd a0, 0(t0)                # error
    sd a1, 8(t0)                # done
    li t1, 20000                # let the other domain run (and get the frame)
1:  addi t1, t1, -1
    bnez t1, 1b
    li s1, 0
    li t1, {GIVEN}
    ld a2, 0(t1)                # a load from the page it gave: must fault
    sd s2, 16(t0)
    sd s1, 24(t0)
    sd a2, 48(t0)
    li s1, 0
    li a3, 0x1111
    sd a3, 0(t1)                # a store: must fault, and reach nothing
    sd s2, 32(t0)
    sd s1, 40(t0)
    li a7, 0x4442434E           # console_write(8 bytes at GIVEN): refused, nothing read
    li a6, 0
    li a0, 8
    li a1, {GIVEN}
    li a2, 0
    ecall
    sd a0, 56(t0)
    li a1, 0                    # (system_reset's reason)
"""


@pytest.mark.parametrize("technique", ["hardware", "hardware-shadow", "trap-emulate",
                                       "binary-translation"])
def test_a_ballooned_page_is_out_of_the_guests_reach(technique):
    """The guest gives a page, the frame goes to another domain, which fills it; the
    guest's load and store at that guest physical address then fault (an access fault,
    its own: on a real board a hole in physical memory), and the frame keeps the other
    domain's data."""
    host = Host(machine_mb=32)
    a = create(host, guest(BALLOON_GIVE), technique, "a")
    b = create(host, guest("    li t0, 1\n" * 100), technique, "b", memory_mb=7, max_mb=8)
    hole = UPOOL_END - PAGE  # one of b's
    frame = a.memory.machine_address(GIVEN)
    secret = bytes(range(1, 9)) * 512

    def b_deflates(domain, exit, action) -> None:  # right after a's give: b takes a page
        if GIVEN not in a.memory and hole not in b.memory:
            with pytest.raises(GuestMemoryError, match="ballooned out"):
                a.memory.read(GIVEN, 8)
            with pytest.raises(GuestMemoryError, match="ballooned out"):
                a.memory.machine_address(GIVEN)
            assert a.memory.read_or_none(GIVEN, 8) is None
            assert frame not in host.frames.owner  # freed, scrubbed
            b.balloon.set_target(b.memory.populated + 1)
            assert b.balloon.take(hole, 1) == (None, 1)
            assert b.memory.machine_address(hole) == frame  # another domain's now
            b.memory.write(hole, secret)

    host.on_exit.append(b_deflates)
    assert host.run().reason == "shutdown"
    assert a.result.code == 0, a.error
    r = [a.memory.read_u64(RESULTS + 8 * i) for i in range(8)]
    assert r[:2] == [0, 1]  # given
    assert (r[2], r[3]) == (5, 1)  # one load access fault
    assert (r[4], r[5]) == (7, 1)  # one store access fault
    assert r[6] == 0  # (the load's destination never got the other domain's data)
    assert r[7] == 2**64 - 3 and a.console == ""  # SBI_ERR_INVALID_PARAM: not its RAM
    assert hole in b.memory and host.machine.mem.read(frame, PAGE) == secret


def test_paravirt_gives_only_frames_its_tables_do_not_map():
    """Direct paging: a frame still mapped by a validated table stays (busy); one given
    away is no longer the guest's for mmu_update (-EPERM), and no validated table maps it."""
    host = Host(machine_mb=32)
    d = create(host, "hello", "paravirt", "pv", memory_mb=8)
    pv = d.technique
    run_until(host, lambda: symbol(d, "nproc") == 2)
    top = UPOOL_END - PAGE
    frame = d.memory.machine_address(top)
    assert pv.mapped[frame] == 1  # the kernel's table maps its whole RAM
    assert d.balloon.give(top, 1) == ("busy", 0)
    host.balloon(d, 7)  # its driver unmaps 256 pages, then gives them
    run_until(host, lambda: d.memory.populated == 1792)
    assert top not in d.memory and frame not in pv.memory.m2p
    assert pv.mapped[frame] == 0
    for table, level in pv.level.items():  # no validated leaf leads to a given frame
        if level == 0:
            for i in range(512):
                pte = host.machine.mem.read_u64(table + 8 * i)
                if pte & PTE_V:
                    assert (pte >> 10 << 12) in d.memory.m2p
    leaf = next(t for t, lv in pv.level.items() if lv == 0)
    pte = (frame >> 12) << 10 | PTE_V | PTE_R | PTE_W | PTE_U
    assert pv.update_entry(leaf, pte) == -EPERM
    assert d.memory.read_u64(0x8000_2000 + 8 * ((top - 0x8000_0000) // PAGE)) == 2**64 - 1
    assert host.run().reason == "shutdown" and d.result.code == 0
    assert d.console == native_console("hello")


# ---- the host's side ---------------------------------------------------------------------
def test_targets_and_options_are_checked():
    host = Host(machine_mb=32)
    with pytest.raises(HypervisorError, match="max_mb"):
        host.create("hello", "hardware", memory_mb=8, max_mb=4)
    d = host.create("hello", "hardware", memory_mb=6, max_mb=8)
    with pytest.raises(HypervisorError, match="balloon target"):
        host.balloon(d, 9)
    with pytest.raises(HypervisorError, match="balloon target"):
        host.balloon(d, 0)
    native = VM("hello", "native")
    with pytest.raises(HypervisorError, match="no balloon"):
        native.balloon(4)


def test_save_and_restore_keep_the_balloon():
    """A host saved in the middle of ballooning continues bit-identically after restore."""
    host = Host(machine_mb=16, scheduler=RoundRobin(slice_ms=1))
    a = create(host, "hello", "trap-emulate", "a", memory_mb=8)
    b = create(host, "hello", "hardware", "b", memory_mb=5, max_mb=8)
    host.balloon(a, 6)
    host.balloon(b, 7)
    run_until(host, lambda: a.memory.populated < 2048)  # a is giving, b may be waiting
    snap = host.save()
    state = (a.memory.populated, b.memory.populated, dict(host.frames.owner))
    assert host.run().reason == "shutdown"
    first = [(d.console, d.memory.populated, d.balloon.pages_in) for d in (a, b)]
    owners = dict(host.frames.owner)
    host.restore(snap)
    assert (a.memory.populated, b.memory.populated, dict(host.frames.owner)) == state
    assert host.run().reason == "shutdown"
    assert [(d.console, d.memory.populated, d.balloon.pages_in) for d in (a, b)] == first
    assert dict(host.frames.owner) == owners
    assert first[1][1] == 1792 and first[0][1] == 1536
