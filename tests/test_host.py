"""The host: several domains on one machine (vkernel/hv/host.py), issue 14's acceptance
tests.

* **equivalence**: every workload under every technique gives the same console, shutdown
  code and user memory alone (``VM``) and sharing the machine with three other domains,
  world switches every few hundred steps; the same host twice gives the same trace;
* **isolation**: an adversarial domain under each technique, among victims of other
  techniques, on random schedules: no frame it does not own changes, no translation the
  hypervisor installs (nor any the TLB holds) leads outside the domain it is tagged for,
  and ``destroy`` gives back every frame, scrubbed, its TLB tags with them;
* **save and restore** of a host at any step continue bit-identically;
* **TLB tags**: two guests using the same virtual addresses never see each other's data.

The small guest kernels come from tests/hvguests.py (shared with test_hv.py and
test_paravirt.py) or are written here.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from unittest import mock

import numpy as np
import pytest
from hvguests import (
    ATTACKER,
    ATTACKER_DATA,
    EXPECTED,
    HANDLER,
    SBI_OFF,
    SBI_PUTCHAR,
    leaves,
    pv_guest,
    validated_tables_are_safe,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import assemble, guests
from vkernel.core import kernel as K
from vkernel.hv import VM, Credit, Host, HypervisorError, RoundRobin
from vkernel.hv.host import VCPU, Domain
from vkernel.hv.memory import GuestMemoryError
from vkernel.hv.shadow import ASIDS_PER_DOMAIN
from vkernel.machine import Memory

TECHNIQUES = ("trap-emulate", "binary-translation", "paravirt", "hardware")
SHADOWED = ("trap-emulate", "binary-translation")  # shadow page tables, kept two ways
WORKLOADS = list(guests.WORKLOADS)
USER_POOL = guests.USER_POOL
PAGE = 4096
N = 12  # a benchmark's operations: every path taken, quickly
BUDGET = 30_000_000


def n_for(workload: str, n: int = N) -> int | None:
    return n if guests._WORKLOADS[workload].max_n else None


# ---- what a guest leaves behind ----------------------------------------------------------
@dataclass(frozen=True)
class Outcome:
    """What the equivalence property compares: the console, the shutdown code, and the
    user pool (every page the guest kernel gave its processes, in guest physical
    memory)."""

    console: str
    code: int | None
    user_memory: bytes


def outcome(d: Domain) -> Outcome:
    pool = d.memory.read(USER_POOL[0], USER_POOL[1] - USER_POOL[0])
    return Outcome(d.console, d.result.code if d.result else None, pool)


@functools.cache
def alone(workload: str, technique: str, n: int | None) -> Outcome:
    """The workload on a machine of its own (cached: the reference of many tests)."""
    vm = VM(workload, technique=technique, ram_mb=8, n=n)
    result = vm.run(max_steps=BUDGET)
    assert result.reason == "shutdown", (workload, technique, vm.console[-300:])
    return outcome(vm.domain)


def write_words(d: Domain, program: Any, symbol: str, *values: int) -> None:  # noqa: ANN401
    """Put 64-bit ``values`` at ``symbol`` of the guest ``program`` in ``d``'s RAM."""
    for i, v in enumerate(values):
        d.memory.write_u64(program.symbols[symbol] + 8 * i, v)


def read_word(d: Domain, program: Any, symbol: str, i: int = 0) -> int:  # noqa: ANN401
    """The signed 64-bit word ``i`` at ``symbol`` of ``program`` in ``d``'s RAM."""
    v = d.memory.read_u64(program.symbols[symbol] + 8 * i)
    return v - (1 << 64) if v >> 63 else v


def turns(host: Host, d: Domain) -> int:
    """How many times ``d`` was switched in (after another domain ran)."""
    ids = [s[0] for s in host.segments]
    return sum(1 for before, now in zip(ids, ids[1:], strict=False) if now == d.domid != before)


def same_outcome(d: Domain, workload: str, n: int | None) -> None:
    got, want = outcome(d), alone(workload, d.technique_name, n)
    assert got.console == want.console, (d, got.console[-300:])
    assert got.code == want.code == 0, d
    assert got.user_memory == want.user_memory, d
    assert any(got.user_memory)  # (the pool is not simply empty)


# ---- equivalence -------------------------------------------------------------------------
@pytest.mark.parametrize("workload", WORKLOADS)
def test_each_workload_is_the_same_alone_and_on_a_shared_host(workload: str) -> None:
    """Four domains, one per technique, in a different order and with a different slice
    for each workload (a hundred-odd steps: switches land anywhere in the guests' code):
    each ends exactly as it does alone, which is exactly as it does natively."""
    i = WORKLOADS.index(workload)
    n = n_for(workload)
    order = TECHNIQUES[i % 4:] + TECHNIQUES[:i % 4]
    scheduler = RoundRobin(slice_ms=1) if i % 2 else Credit(slice_ms=1)
    host = Host(machine_mb=64, scheduler=scheduler, steps_per_ms=97 + 41 * i, seed=i)
    domains = [host.create(workload, t, memory_mb=8, n=n, name=t) for t in order]
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    native = alone(workload, "native", n)
    for d in domains:
        assert alone(workload, d.technique_name, n) == native
        same_outcome(d, workload, n)
    assert min(turns(host, d) for d in domains) > 100  # switched out and in, many times


@pytest.mark.parametrize("shadow", ["simple", "write-protect"])
def test_every_workload_at_once_with_mixed_neighbours(shadow: str) -> None:
    """All the workloads on one host (the techniques in turn), under the credit
    scheduler with tiny slices: each domain's neighbours run other programs. The
    shadowed ones keep their shadows either way (vkernel.hv.base.SHADOWS)."""
    host = Host(machine_mb=128, scheduler=Credit(slice_ms=1), steps_per_ms=61, seed=7)
    domains = [(host.create(w, TECHNIQUES[i % 4], n=n_for(w), name=w,
                            shadow=shadow if TECHNIQUES[i % 4] in SHADOWED else None), w)
               for i, w in enumerate(WORKLOADS)]
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    for d, w in domains:
        same_outcome(d, w, n_for(w))


@pytest.mark.parametrize("workload", ["hello", "page-fault", "pte-update", "faults"])
def test_hardware_with_and_without_nested_paging_share_a_host(workload: str) -> None:
    """Hardware-assisted domains with nested paging (a VMID and a G-stage each) and
    without (shadow tables in vsatp, hgatp Bare: VMID 0, told apart by their ASID blocks),
    and a trap-and-emulate one, switched every hundred-odd steps: each ends exactly as it
    does natively; every shadow leaf and TLB entry leads to its own domain's frames."""
    n = n_for(workload)
    host = Host(machine_mb=64, scheduler=RoundRobin(slice_ms=1), steps_per_ms=89, seed=3)
    kinds = ("shadow", "nested", "shadow", None)
    domains = [host.create(workload, "trap-emulate" if p is None else "hardware",
                           memory_mb=8, n=n, name=f"d{i}", paging=p)
               for i, p in enumerate(kinds)]
    assert [d.paging for d in domains] == list(kinds)
    for _ in range(20):
        host.run(max_steps=20_000)
        check_translations(host)
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    native = alone(workload, "native", n)
    for d in domains:
        assert outcome(d) == native, d
    assert min(turns(host, d) for d in domains) > 50


def test_a_native_guest_cannot_share_the_machine() -> None:
    host = Host(machine_mb=64)
    a = host.create("null-syscall", "hardware", n=3, name="a")
    usage = host.frames.usage()
    with pytest.raises(HypervisorError, match="native guest needs the whole machine"):
        host.create("null-syscall", "native", n=3)
    assert host.domains == [a] and host.frames.usage() == usage  # nothing left behind
    alone_host = Host(machine_mb=8)
    alone_host.create("null-syscall", "native", n=3)
    for technique in TECHNIQUES:
        with pytest.raises(HypervisorError, match="native guest owns the whole machine"):
            alone_host.create("null-syscall", technique, n=3)
    assert host.run().reason == alone_host.run().reason == "shutdown"
    same_outcome(a, "null-syscall", 3)
    assert alone_host.domains[0].console == a.console


MIX = (("hello", "hardware"), ("null-syscall", "paravirt"), ("pte-update", "trap-emulate"),
       ("faults", "binary-translation"))


def mixed_host(trace: Any = None, steps_per_ms: int = 157, slice_ms: int = 1) -> Host:  # noqa: ANN401
    """Four domains of mixed techniques and workloads."""
    host = Host(machine_mb=64, scheduler=Credit(slice_ms=slice_ms), steps_per_ms=steps_per_ms,
                trace=trace, seed=3)
    for w, t in MIX:
        host.create(w, t, n=n_for(w, 8), name=t)
    return host


def assert_same_trace(a: Any, b: Any) -> None:  # noqa: ANN401
    """Two trace Datasets hold the same rows, bit for bit (and the same attributes, but
    for when each was made)."""
    assert set(a.variables) == set(b.variables)
    for name in a.variables:
        x, y = a[name].values, b[name].values
        assert x.dtype == y.dtype and x.shape == y.shape, name
        assert x.tobytes() == y.tobytes(), name
    ignore = {"created_at"}
    assert {k: v for k, v in a.attrs.items() if k not in ignore} == \
        {k: v for k, v in b.attrs.items() if k not in ignore}


def test_the_same_host_twice_gives_the_same_trace() -> None:
    runs = []
    for _ in range(2):
        host = mixed_host(trace="all")
        assert host.run(max_steps=BUDGET).reason == "shutdown"
        runs.append(host)
    a, b = runs
    ds = a.trace_dataset()
    assert ds.sizes["step"] == a.machine.hart.instret and ds.sizes["hv"] > 1000
    assert_same_trace(ds, b.trace_dataset())
    assert [(d.console, d.result) for d in a.domains] == [(d.console, d.result)
                                                          for d in b.domains]
    assert a.usage().identical(b.usage())
    for d, (w, _) in zip(a.domains, MIX, strict=True):
        same_outcome(d, w, n_for(w, 8))


# ---- save and restore ----------------------------------------------------------------------
@dataclass
class HostState:
    arrays: dict[str, np.ndarray]
    domains: list[tuple[Any, ...]]
    counters: tuple[int, ...]
    trace: Any
    usage: Any


def host_state(host: Host) -> HostState:
    snap = host.machine.snapshot()
    return HostState({k: v.copy() for k, v in snap.arrays.items()},
                     [(d.name, d.console, d.result, d.state, d.exits, d.cpu_steps,
                       outcome(d).user_memory) for d in host.domains],
                     (host.steps, host.now, host.switches, host.exits, host.idle_steps),
                     host.trace_dataset() if host.machine.tracing else None, host.usage())


def assert_same_state(a: HostState, b: HostState) -> None:
    assert a.arrays.keys() == b.arrays.keys()
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
    assert a.domains == b.domains
    assert a.counters == b.counters
    if a.trace is not None:
        assert_same_trace(a.trace, b.trace)
    assert a.usage.identical(b.usage)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(k=st.integers(0, 400_000), m=st.integers(1, 150_000),
       steps_per_ms=st.integers(50, 3000), slice_ms=st.integers(1, 3))
def test_save_and_restore_continue_bit_identically(k: int, m: int, steps_per_ms: int,
                                                    slice_ms: int) -> None:
    """Saved after k steps, run m more, restored, run m again (twice): the machine, every
    domain and the trace from the restore point are what the first continuation made; and
    that is what a host that was never saved makes."""
    host = mixed_host(trace="all", steps_per_ms=steps_per_ms, slice_ms=slice_ms)
    host.run(max_steps=k)
    snap = host.save()
    host.run(max_steps=m)
    first = host_state(host)
    for _ in range(2):
        host.restore(snap)
        host.run(max_steps=m)
        assert_same_state(first, host_state(host))
    never_saved = mixed_host(trace="all", steps_per_ms=steps_per_ms, slice_ms=slice_ms)
    never_saved.run(max_steps=k)
    never_saved.run(max_steps=m)
    assert_same_state(first, host_state(never_saved))
    host.restore(snap)  # and to the end, as if nothing happened
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    for d, (w, _) in zip(host.domains, MIX, strict=True):
        same_outcome(d, w, n_for(w, 8))


@pytest.mark.parametrize("technique", ("native", *TECHNIQUES, "hardware-shadow"))
def test_vm_save_and_restore(technique: str) -> None:
    technique, paging = ("hardware", "shadow") if technique == "hardware-shadow" \
        else (technique, None)
    vm = VM("hello", technique=technique, trace=("hv", "trap", "step"), paging=paging)
    vm.run(max_steps=150_000)
    snap = vm.save()
    vm.run(max_steps=100_000)
    first = host_state(vm.host)
    vm.restore(snap)
    vm.run(max_steps=100_000)
    assert_same_state(first, host_state(vm.host))
    vm.restore(snap)
    assert vm.run(max_steps=BUDGET).reason == "shutdown"
    assert outcome(vm.domain) == alone("hello", technique, None)


def test_restore_brings_back_a_destroyed_domain() -> None:
    host = mixed_host()
    host.run(max_steps=120_000)
    snap = host.save()
    victim = host.domains[1]
    host.destroy(victim)
    assert victim not in host.domains and victim.name not in host.frames.usage()
    host.restore(snap)
    assert [d.name for d in host.domains] == [t for _, t in MIX]
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    for d, (w, _) in zip(host.domains, MIX, strict=True):
        same_outcome(d, w, n_for(w, 8))


# ---- isolation: an attacker among victims ------------------------------------------------
CANARY = 0x6B1D_C0DE_CA9A_4121  # what a paused domain's RAM is full of
MAX_TARGETS = 64
OWN_RAM = (0x8000_0000, 0x8080_0000)  # every attacker's guest-physical RAM (8 MiB)
MACHINE_END = 0x8000_0000 + (64 << 20)

SV39_ON = """
    la t0, pt_root               # root[1] -> pt_l1, pt_l1[0] -> pt_l0; root[2]: RAM, 1:1
    la t1, pt_l1
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 8(t0)
    li t1, (0x80000000 >> 12 << 10) | 0xCF
    sd t1, 16(t0)
    la t0, pt_l1
    la t1, pt_l0
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 0(t0)
    la t0, pt_root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
"""
PAGE_TABLES = """
    .align 12
pt_root: .zero 4096
pt_l1: .zero 4096
pt_l0: .zero 4096
"""
# An SBI guest (hardware, trap-emulate, binary-translation) that pokes (loads, checks for
# the canary, stores, stores a byte, swaps) 1. every address in `targets`, 2. a sweep
# from `sweep` to `sweep_end` by `stride`, 3. VA 0x4000_0000 + 4 KiB * i, which its own
# page table maps to targets[i] as guest physical addresses; then 4. writes hgatp, and
# keeps its trap count (s1) and canary sightings (s9) in `results`; then, if `storm` is
# not zero, 5. points satp at it (a frame it does not own): a trap storm for ever. Else
# it prints "ok" and shuts down.
POKE = f"""
poke:                            # s0: an address it has no right to
    li a0, 0
    ld a0, 0(s0)
    li t0, {CANARY:#x}
    bne a0, t0, 1f
    addi s9, s9, 1
1:  sd s4, 0(s0)
    sb s4, 7(s0)
    amoswap.d a1, s4, (s0)
    ret
"""
SWEEP = """
    li s9, 0
    la s4, targets               # 1. the targets
    ld s5, ntargets
    slli s5, s5, 3
    add s5, s5, s4
1:  beq s4, s5, 2f
    ld s0, 0(s4)
    call poke
    addi s4, s4, 8
    j 1b
2:  ld s0, sweep                 # 2. the sweep
    ld s5, sweep_end
    ld s7, stride
3:  bgeu s0, s5, 4f
    call poke
    add s0, s0, s7
    j 3b
4:
"""
SBI_ATTACKER = f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
{SWEEP}
    la a0, pt_l0                 # 3. its page table: l0[i] -> targets[i]
    la s4, targets
    ld s5, ntargets
    li t0, 0
5:  beq t0, s5, 6f
    ld t1, 0(s4)
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 0xCF             # V R W X A D
    sd t1, 0(a0)
    addi a0, a0, 8
    addi s4, s4, 8
    addi t0, t0, 1
    j 5b
6:
{SV39_ON}
    li s0, 0x40000000
    ld s5, ntargets
7:  beqz s5, 8f
    call poke
    li t0, 4096
    add s0, s0, t0
    addi s5, s5, -1
    j 7b
8:  csrw satp, zero
    sfence.vma
    csrw hgatp, zero             # 4. the hypervisor's CSR
    la t0, results
    sd s1, 0(t0)
    sd s9, 8(t0)
    ld t0, storm                 # 5. a root it does not own
    beqz t0, 9f
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
9:  li a0, 'o'
{SBI_PUTCHAR}
    li a0, 'k'
{SBI_PUTCHAR}
{SBI_OFF}
{POKE}
{HANDLER}
    .data
{PAGE_TABLES}
    .align 3
results: .zero 16
ntargets: .dword 0
sweep: .dword 0
sweep_end: .dword 0
stride: .dword 8
storm: .dword 0
targets: .zero {8 * MAX_TARGETS}
"""
# The para-virtual attacker: the same pokes (1. and 2.) at virtual addresses outside its
# RAM, then 3. every hypercall that takes a machine frame, with each frame of `frames`
# (none may succeed: s9 counts successes too), then test_paravirt's ATTACKER (its own page
# tables, and every way of slipping another domain's frame into them).
PV_ATTACKER = f"""
{SWEEP}
    la s4, frames                # 3. hypercalls with frames it does not own
    ld s5, nframes
    slli s5, s5, 3
    add s5, s5, s4
1:  beq s4, s5, 2f
    ld s0, 0(s4)
    la t0, scratch               # mmu_update: an entry in that frame
    sd s0, 0(t0)
    sd zero, 8(t0)
    mv a0, t0
    li a1, 1
    li a2, 0
    li a7, 1
    ecall
    call refused
    li a0, 5                     # mmuext_op NEW_BASEPTR, PIN_L3_TABLE, NEW_USER_BASEPTR
    call frame_op
    li a0, 2
    call frame_op
    li a0, 15
    call frame_op
    addi s4, s4, 8
    j 1b
2:  la t0, pv_results
    sd s1, 0(t0)
    sd s9, 8(t0)
{ATTACKER}
    la t0, pv_results
    sd s1, 16(t0)
    j done
frame_op:                        # mmuext_op(a0, s0), refused
    la t0, scratch
    sd a0, 0(t0)
    sd s0, 8(t0)
    mv a0, t0
    li a1, 1
    li a2, 0
    li a7, 26
    ecall
refused:                         # a0: a hypercall's result, which must be an error
    bltz a0, 1f
    addi s9, s9, 1
1:  ret
{POKE}
done:
    la t0, pv_results
    sd s9, 24(t0)
"""
PV_ATTACKER_DATA = f"""
{ATTACKER_DATA}
    .balign 8
pv_results: .zero 32
ntargets: .dword 0
sweep: .dword 0
sweep_end: .dword 0
stride: .dword 8
nframes: .dword 0
targets: .zero {8 * MAX_TARGETS}
frames: .zero {8 * MAX_TARGETS}
"""


@functools.cache
def attacker_program(technique: str) -> Any:  # noqa: ANN401
    if technique == "paravirt":
        return pv_guest(PV_ATTACKER, PV_ATTACKER_DATA)
    return assemble(SBI_ATTACKER, base=0x8020_0000, name="attacker")


def arm_words(d: Domain, symbol: str, *values: int) -> None:
    write_words(d, attacker_program(d.technique_name), symbol, *values)


def report(d: Domain, symbol: str, i: int = 0) -> int:
    return read_word(d, attacker_program(d.technique_name), symbol, i)


# ---- the invariants, on a whole host ------------------------------------------------------
def granted(d: Domain) -> set[int]:
    """The machine frames a domain's translations may lead to: its RAM, and the binary
    translator's cache and vCPU page (its own windows)."""
    frames = {int(f) for f in d.memory.p2m}
    if d.technique_name == "binary-translation":
        frames |= set(d.technique.tc_frames) | {d.technique.vcpu_frame}
    return frames


def read_only(d: Domain) -> set[int]:
    """Frames a domain may see but never write: the translations of its kernel, its page
    tables under direct paging."""
    if d.technique_name == "binary-translation":
        return set(d.technique.tc_frames)
    if d.technique_name == "paravirt":
        return set(d.technique.level)
    return set()


def tag_owner(host: Host, v: int, asid: int, vmid: int) -> Domain | None:
    """The domain a TLB tag belongs to: a VMID (hardware) or a block of ASIDs (the
    software techniques, whose guests run with V=0, and hardware without nested paging,
    whose hgatp is Bare: VMID 0)."""
    for d in host.domains:
        if v and d.technique_name == "hardware" and d.paging == "nested" and d.vmid == vmid:
            return d
        if v and d.technique_name == "hardware" and d.paging == "shadow" and vmid == 0 \
                and d.asid_base <= asid < d.asid_base + ASIDS_PER_DOMAIN:
            return d
        if not v and d.technique_name != "hardware" \
                and d.asid_base <= asid < d.asid_base + ASIDS_PER_DOMAIN:
            return d
    return None


def tlb_entries(host: Host) -> list[tuple[int, int, int, int, int]]:
    """Every valid TLB entry: (access kind, V, ASID, VMID, machine page)."""
    tlb, out = host.machine._tlb, []
    for acc in range(3):
        for i in np.nonzero(tlb[acc, K.TLB_KEY])[0].tolist():
            raw = int(tlb[acc, K.TLB_KEY, i]) - 1
            out.append((acc, raw >> 4 & 1, raw >> K.CTX_ASID_SHIFT & 0xFFFF,
                        raw >> K.CTX_VMID_SHIFT & ((1 << K.VMID_BITS) - 1),
                        int(tlb[acc, K.TLB_PAGE, i])))
    return out


def satp_of(d: Domain) -> int:
    return d.machine.hart.csr["satp"] if d.loaded else int(d.context.csr[K.CSR_SATP])


def check_translations(host: Host) -> None:
    """Every translation the hypervisor installed for a domain (its G-stage table, its
    shadow tables, its validated direct-paging tables) and every one the TLB holds (by its
    tag) leads only to that domain's frames; every free frame is all zeros."""
    mem = host.machine.mem
    for d in host.domains:
        t, mine = d.technique, granted(d)
        if d.technique_name == "hardware" and d.paging == "nested":
            assert sorted(leaves(mem, t.gstage.root, root_bits=11)) == sorted(mine), d
        elif d.technique_name == "paravirt":
            assert validated_tables_are_safe(d, satp_of(d))
            if t.boot_table is not None:
                assert set(leaves(mem, t.boot_table.pages[0])) <= mine, d
        else:
            for table in t.shadow.tables.values():
                assert set(leaves(mem, table.pages[0])) <= mine, d
    for acc, v, asid, vmid, page in tlb_entries(host):
        d = tag_owner(host, v, asid, vmid)
        assert d is not None, f"a TLB entry tagged for nobody: V={v} ASID={asid} VMID={vmid}"
        assert page in granted(d), f"{d} is given {page:#x} by its TLB"
        if acc == K.ACC_STORE:
            assert page not in read_only(d), f"{d} may write {page:#x}"
    assert_free_frames_are_zero(host)


def assert_free_frames_are_zero(host: Host) -> None:
    ram = host.machine._ram.reshape(-1, PAGE)
    owned = np.zeros(len(ram), bool)
    owned[(np.fromiter(host.frames.owner, np.int64) - K.RAM_BASE) // PAGE] = True
    dirty = np.nonzero(ram.any(axis=1) & ~owned)[0]
    assert not len(dirty), [hex(K.RAM_BASE + PAGE * int(i)) for i in dirty[:8]]


class Ledger:
    """Who wrote where, while the host runs: every store the machine made (the trace's
    write family, attributed to the vCPU loaded at its step) and every write the
    hypervisor made in Python (attributed to the domain whose exit it was handling).
    Each must land in a frame charged to that domain; the hypervisor may also zero a
    free frame (as it takes it)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.runs: list[tuple[int, int, str]] = []  # (first step, end step, domain name)
        self.checked = 0  # write rows checked
        self.stray: list[str] = []
        self.active = False

    @contextmanager
    def watching(self):  # noqa: ANN201
        vcpu_run, write = VCPU.run, Memory.write
        ledger = self

        def run(vcpu: VCPU, max_steps: int | None = None) -> Any:  # noqa: ANN401
            start = vcpu.machine.hart.instret
            try:
                return vcpu_run(vcpu, max_steps)
            finally:
                ledger.runs.append((start, vcpu.machine.hart.instret, vcpu.domain.name))

        def python_write(mem: Memory, addr: int, data: bytes) -> None:
            if ledger.active:
                ledger.python_write(addr, bytes(data))
            write(mem, addr, data)

        with mock.patch.object(VCPU, "run", run), \
                mock.patch.object(Memory, "write", python_write):
            yield self

    def python_write(self, addr: int, data: bytes) -> None:
        loaded = self.host.loaded
        for frame in range(addr & ~(PAGE - 1), addr + len(data), PAGE):
            account = self.host.frames.charged.get(frame)
            if account is None and not any(data):
                continue  # a free frame zeroed as the allocator hands it out
            if loaded is None or account != loaded.name:
                self.stray.append(f"the hypervisor, for {loaded}, wrote {addr:#x} "
                                  f"({account}'s)")

    def run(self, max_steps: int) -> None:
        self.active = True
        try:
            self.host.run(max_steps=max_steps)
        finally:
            self.active = False
        self.check_machine_writes()

    def check_machine_writes(self) -> None:
        rows = self.host.machine.events("write")
        new = slice(self.checked, len(rows["kind"]))
        self.checked = new.stop
        memory = np.isin(rows["kind"][new], (K.WRITE_MEM, K.WRITE_PTE))
        step = rows["step"][new][memory].astype(np.int64)
        paddr = rows["paddr"][new][memory].astype(np.int64)
        starts, ends, names = zip(*self.runs, strict=True) if self.runs else ((), (), ())
        run = np.searchsorted(np.array(starts, np.int64), step, "right") - 1
        assert (run >= 0).all() and (step < np.array(ends, np.int64)[run]).all()
        # each frame's account, as a number: -1 for a free frame
        accounts = sorted(set(self.host.frames.charged.values()) | set(names))
        number = {a: i for i, a in enumerate(accounts)}
        charged = np.full(self.host.machine.mem.size // PAGE, -1, np.int64)
        for frame, account in self.host.frames.charged.items():
            charged[(frame - K.RAM_BASE) // PAGE] = number[account]
        frame = (paddr - K.RAM_BASE) // PAGE
        inside = (frame >= 0) & (frame < len(charged))
        writer = np.array([number[n] for n in names], np.int64)[run]
        wrong = ~inside | (charged[np.where(inside, frame, 0)] != writer)
        for i in np.nonzero(wrong)[0][:5].tolist():
            self.stray.append(f"{names[run[i]]}'s guest wrote {int(paddr[i]):#x} at step "
                              f"{int(step[i])}")
        assert not self.stray, self.stray[:5]


def frames_of(host: Host, d: Domain) -> list[int]:
    return sorted(f for f, a in host.frames.charged.items() if a == d.name)


def frame_bytes(host: Host, frames: list[int]) -> bytes:
    return b"".join(host.machine.mem.read(f, PAGE) for f in frames)


VICTIMS = ("null-syscall", "pte-update", "page-fault", "exception", "device", "irq-mask",
           "call-return")
VICTIM_N = 4


BT_WINDOWS = ((0x3F_0000_0000, 0x3F_0000_0000 + 64 * PAGE), ((1 << 64) - PAGE, 1 << 64))


def outside_bt_windows(a: int) -> bool:
    """Not where the binary translator shows its kernel its own cache and vCPU page."""
    return not any(lo <= a < hi for lo, hi in BT_WINDOWS)


# the attack tests also take hardware assistance without nested paging (paging="shadow")
ATTACK_TECHNIQUES = (*TECHNIQUES, "hardware-shadow")


def create(host: Host, what: Any, technique: str, **kw: Any) -> Domain:  # noqa: ANN401
    """host.create, "hardware-shadow" being hardware with paging="shadow"."""
    if technique == "hardware-shadow":
        return host.create(what, "hardware", paging="shadow", **kw)
    return host.create(what, technique, **kw)


@st.composite
def attacks(draw: Any) -> dict[str, Any]:  # noqa: ANN401
    return {
        "victims": draw(st.lists(st.tuples(st.sampled_from(VICTIMS),
                                           st.sampled_from(ATTACK_TECHNIQUES)),
                                 min_size=2, max_size=2)),
        "canary": draw(st.sampled_from(ATTACK_TECHNIQUES)),
        "position": draw(st.integers(0, 2)),
        "scheduler": draw(st.sampled_from(["credit", "round-robin"])),
        "slice_ms": draw(st.integers(1, 3)),
        "steps_per_ms": draw(st.integers(20, 3000)),
        "seed": draw(st.integers(0, 2**16)),
        "storm": draw(st.booleans()),
        "storm_steps": draw(st.integers(5_000, 30_000)),
        "checks": draw(st.lists(st.integers(1, 40_000), min_size=1, max_size=3)),
    }


def build_attack(technique: str, plan: dict[str, Any]) -> tuple[Host, Domain, list, Domain]:
    """The attacker among its victims, in the order drawn, and the canary (paused, full of
    CANARY), last."""
    scheduler = Credit(slice_ms=plan["slice_ms"]) if plan["scheduler"] == "credit" \
        else RoundRobin(slice_ms=plan["slice_ms"])
    host = Host(machine_mb=64, scheduler=scheduler, steps_per_ms=plan["steps_per_ms"],
                seed=plan["seed"], trace=("write",))
    victims = [(create(host, w, t, n=VICTIM_N, name=f"victim{i}"), w)
               for i, (w, t) in enumerate(plan["victims"][:plan["position"]])]
    attacker = create(host, attacker_program(technique), technique, name="attacker")
    victims += [(create(host, w, t, n=VICTIM_N, name=f"victim{i}"), w)
                for i, (w, t) in enumerate(plan["victims"]) if i >= plan["position"]]
    canary = create(host, "hello", plan["canary"], name="canary")
    host.pause(canary)
    canary.memory.write(canary.memory.base,
                        CANARY.to_bytes(8, "little") * (canary.memory.size // 8))
    return host, attacker, victims, canary


def arm(attacker: Domain, host: Host, draw: Any, storm: bool) -> dict[str, int]:  # noqa: ANN401
    """Write the attacker's targets into it; what it must report if it finishes."""
    mine = set(frames_of(host, attacker))
    others = sorted(set(host.frames.owner) - mine)
    beyond = [f for f in others if f >= OWN_RAM[1]]
    named = draw(st.lists(st.one_of(
        st.sampled_from(beyond).map(lambda f: f + 8 * (f // PAGE % 509)),
        st.integers(MACHINE_END, (1 << 64) - 8).filter(outside_bt_windows),
        st.integers(0, 0x0FFF_FFF8)),  # (below the UART: a device, emulated)
        min_size=1, max_size=16))
    named = [a & ~7 for a in named]
    start = draw(st.integers(OWN_RAM[1], MACHINE_END - PAGE)) & ~7
    stride = PAGE * draw(st.integers(1, 512))
    swept = draw(st.integers(1, 32))
    arm_words(attacker, "targets", *named)
    for symbol, value in (("ntargets", len(named)), ("sweep", start),
                          ("sweep_end", start + stride * swept), ("stride", stride)):
        arm_words(attacker, symbol, value)
    if attacker.technique_name == "paravirt":
        frames = draw(st.lists(st.sampled_from(others), min_size=1, max_size=16))
        arm_words(attacker, "frames", *frames)
        arm_words(attacker, "nframes", len(frames))
        canary = host.domain("canary")
        arm_words(attacker, "victim", int(canary.memory.p2m[0]))
        hv = [f for f in others if host.frames.owner[f] == "hypervisor"]
        arm_words(attacker, "hvframe", draw(st.sampled_from(hv)))
        arm_words(attacker, "evil", int(canary.memory.p2m[5]) >> 12 << 10 | 0xD7)
        return {"traps": 4 * (len(named) + swept)}
    if storm:
        arm_words(attacker, "storm", draw(st.sampled_from(beyond)))
    return {"traps": 4 * (2 * len(named) + swept) + 1}


@pytest.mark.parametrize("technique", ATTACK_TECHNIQUES)
@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_an_attacker_reaches_nothing_it_does_not_own(technique: str, data: Any) -> None:  # noqa: ANN401
    """An adversarial domain among two victims (random workloads and techniques) and a
    paused canary full of a pattern, on a random schedule. At random points every
    translation, every TLB entry and every free frame is checked, and every write
    attributed; then the attacker is destroyed (its frames come back, scrubbed), and the
    victims end as they do alone, the canary's frames untouched."""
    plan = data.draw(attacks())
    host, attacker, victims, canary = build_attack(technique, plan)
    expected = arm(attacker, host, data.draw, plan["storm"])
    canary_frames = frames_of(host, canary)
    canary_before = frame_bytes(host, canary_frames)
    ledger = Ledger(host)
    with ledger.watching():
        for steps in plan["checks"]:
            ledger.run(steps)
            check_translations(host)
        # the rest of the attack: to its end, or (a trap storm) for a while
        storm = plan["storm"] and technique != "paravirt"
        limit = host.steps + (plan["storm_steps"] if storm else 5_000_000)
        while attacker.state != "shutdown" and host.steps < limit:
            ledger.run(min(100_000, limit - host.steps))
            check_translations(host)
        assert storm or attacker.state == "shutdown"
        # what the attacker found, if it got to the end of its attack
        if attacker.state == "shutdown" and technique == "paravirt":
            assert [report(attacker, "results", i)
                    for i in range(len(EXPECTED))] == EXPECTED
            assert report(attacker, "pv_results") == expected["traps"]
            assert report(attacker, "pv_results", 1) == 0  # no canary, no success
            assert report(attacker, "pv_results", 3) == 0
        elif attacker.state == "shutdown":
            assert attacker.console == "ok"
            assert report(attacker, "results") == expected["traps"]
            assert report(attacker, "results", 1) == 0  # no canary seen
        gone = frames_of(host, attacker)
        free = host.frames.free_frames
        host.destroy(attacker)
        assert attacker.name not in host.frames.usage()
        assert all(f not in host.frames.owner for f in gone)
        assert all(host.machine.mem.read(f, PAGE) == bytes(PAGE) for f in gone)
        assert host.frames.free_frames == free + sum(f >= host.frames._low_end for f in gone)
        check_translations(host)
        while any(d.state != "shutdown" for d, _ in victims):
            ledger.run(2_000_000)
            assert host.steps < 20_000_000
        check_translations(host)
    for d, workload in victims:
        same_outcome(d, workload, VICTIM_N)
    assert canary.state == "paused"
    assert frame_bytes(host, canary_frames) == canary_before


# ---- destroy: every frame back, scrubbed; nothing of it for the next domain ---------------
def machine_frame(d: Domain, gpa: int) -> int:
    return d.memory.machine_address(gpa) & ~(PAGE - 1)


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_destroy_gives_every_frame_back_scrubbed(technique: str) -> None:
    """A domain destroyed mid-run: each frame charged to it (its RAM and the hypervisor's
    structures for it) is free again and all zeros. The next domain gets its TLB tags and
    many of its frames, and finds in its RAM its own kernel and nothing else."""
    host = Host(machine_mb=64, scheduler=RoundRobin(slice_ms=1), steps_per_ms=300)
    a = host.create("null-syscall", "hardware" if technique != "hardware" else "paravirt",
                    n=VICTIM_N, name="a")
    free = host.frames.free_frames
    d = host.create("hello", technique, name="d")
    b = host.create("pte-update", "trap-emulate", n=VICTIM_N, name="b")
    host.run(max_steps=150_000)
    assert d.state != "shutdown" and d.cpu_steps > 20_000  # in the middle of its work
    gone = frames_of(host, d)
    allocated_since = host.frames.free_frames
    host.destroy(d)
    assert "d" not in host.frames.usage() and d not in host.domains
    assert d.result.reason == "destroyed"
    assert not set(gone) & set(host.frames.owner)
    assert all(host.machine.mem.read(f, PAGE) == bytes(PAGE) for f in gone)
    assert host.frames.free_frames == allocated_since + sum(f >= host.frames._low_end
                                                            for f in gone)
    assert free - host.frames.free_frames == len(frames_of(host, b)) \
        - sum(f < host.frames._low_end for f in frames_of(host, b))  # (only b's are out)
    check_translations(host)
    e = host.create("hello", technique, name="e")
    assert (e.vmid, e.asid_base) == (d.vmid, d.asid_base)
    assert len(set(frames_of(host, e)) & set(gone)) > 1000
    fresh = VM("hello", technique=technique)
    start = 0x8020_0000 if technique == "paravirt" else e.memory.base  # (below: start info)
    assert e.memory.read(start, e.memory.base + e.memory.size - start) == \
        fresh.memory.read(start, e.memory.base + e.memory.size - start)
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    same_outcome(e, "hello", None)
    same_outcome(a, "null-syscall", VICTIM_N)
    same_outcome(b, "pte-update", VICTIM_N)


# ---- TLB tags -------------------------------------------------------------------------------
# A guest that reads `page` (a fresh page: zeros, or it says "stale"), writes its `pattern`
# there and reads it back `rounds` times (any other value: "leak"), then says "ok". With
# `paging` set it first maps the page at VA 0x4000_0000 with its own Sv39 table, and uses
# it there: the same virtual address in every domain that runs it, other frames behind.
def say(text: str, paravirt: bool) -> str:
    if paravirt:  # console_io(CONSOLEIO_write, len, buffer)
        return (f"    la a2, msg_{text}\n    li a1, {len(text) + 1}\n    li a0, 0\n"
                f"    li a7, 18\n    ecall\n")
    return "".join(f"    li a0, {ord(c)}\n{SBI_PUTCHAR}" for c in text + "\n")


PAGING = f"""
    la t0, pt_l0                 # pt_l0[0] -> page: VA 0x4000_0000
    la t1, page
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 0xCF
    sd t1, 0(t0)
{SV39_ON}
    li s5, 0x40000000
"""


def tag_body(paravirt: bool, paging: bool) -> str:
    return f"""
{PAGING if paging else "    la s5, page"}
    ld t0, 0(s5)
    beqz t0, 1f
{say("stale", paravirt)}
1:  ld s4, pattern
    sd s4, 0(s5)
    ld s6, rounds
2:  ld t0, 0(s5)
    bne t0, s4, 3f
    addi s6, s6, -1
    bnez s6, 2b
{say("ok", paravirt)}
    j 4f
3:
{say("leak", paravirt)}
4:
"""


TAG_DATA = f"""
    .data
{PAGE_TABLES}
page: .zero 4096
pattern: .dword 0
rounds: .dword 1
msg_stale: .ascii "stale\\n"
msg_ok: .ascii "ok\\n"
msg_leak: .ascii "leak\\n"
"""


@functools.cache
def tag_guest(technique: str, paging: bool = False) -> Any:  # noqa: ANN401
    if technique == "paravirt":  # (its boot table maps its RAM where it is: no paging)
        return pv_guest(tag_body(True, False), TAG_DATA.replace(".data", ""))
    return assemble(f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
{tag_body(False, paging)}
{SBI_OFF}
{HANDLER}
{TAG_DATA}
""", base=0x8020_0000, name="tag-guest")


def tag_domain(host: Host, technique: str, name: str, pattern: int, rounds: int,
               paging: bool = True) -> Domain:
    program = tag_guest(technique.removesuffix("-shadow"), paging)
    d = create(host, program, technique, name=name)
    write_words(d, program, "pattern", pattern)
    write_words(d, program, "rounds", rounds)
    return d


PAIRS = [("trap-emulate", "trap-emulate"), ("binary-translation", "binary-translation"),
         ("paravirt", "paravirt"), ("hardware", "hardware"), ("trap-emulate", "paravirt"),
         ("binary-translation", "hardware"), ("hardware-shadow", "hardware-shadow"),
         ("hardware-shadow", "hardware")]


@pytest.mark.parametrize(("first", "second"), PAIRS)
def test_same_virtual_address_different_data(first: str, second: str) -> None:
    """Three domains use the same virtual address for different data, switched every
    hundred-odd steps: each reads its own data only (the TLB entries of one are never
    those of another)."""
    host = Host(machine_mb=64, scheduler=RoundRobin(slice_ms=1), steps_per_ms=113)
    domains = [tag_domain(host, t, f"d{i}", 0x1111_1111_1111_1111 * (i + 1), 20_000)
               for i, t in enumerate((first, second, first))]
    assert host.run(max_steps=2_000_000).reason == "shutdown"
    assert [d.console for d in domains] == ["ok\n"] * 3
    assert min(turns(host, d) for d in domains) > 100


@pytest.mark.parametrize(("first", "second"),
                         [("trap-emulate", "trap-emulate"), ("paravirt", "paravirt"),
                          ("hardware", "hardware"), ("hardware-shadow", "hardware-shadow")])
def test_same_virtual_address_would_leak_without_tags(first: str, second: str,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The test above can fail: a host that gave every domain the same VMID and ASIDs
    leaks one guest's data into the other through the TLB."""
    init = Domain.__init__

    def same_tags(self: Domain, *args: Any, **kwargs: Any) -> None:  # noqa: ANN401
        init(self, *args, **{**kwargs, "vmid": 1, "asid_base": 0})

    monkeypatch.setattr(Domain, "__init__", same_tags)
    host = Host(machine_mb=64, scheduler=RoundRobin(slice_ms=1), steps_per_ms=113)
    domains = [tag_domain(host, t, f"d{i}", 0x1111_1111_1111_1111 * (i + 1), 20_000)
               for i, t in enumerate((first, second))]
    host.run(max_steps=2_000_000)
    assert [d.console for d in domains] != ["ok\n"] * 2  # one read the other's data


@pytest.mark.parametrize("technique", TECHNIQUES)
@pytest.mark.parametrize("flush", [True, False], ids=["flush", "no-flush"])
def test_a_reused_tag_sees_nothing_of_the_destroyed_domain(
        technique: str, flush: bool) -> None:
    """Create, destroy, create: the first domain writes and reads a page, warm in the TLB,
    and is destroyed; its frames go to someone else, who fills them; the next domain gets
    the first one's TLB tags (its VMID or ASIDs), runs the same program, and finds that
    page fresh. Without the TLB flush of ``destroy`` (no-flush), it reads the other's data
    through the first one's stale entry."""
    host = Host(machine_mb=64)
    old = tag_domain(host, technique, "old", 0x0123_4567_89AB_CDEF, 10**9, paging=False)
    host.run(max_steps=20_000)
    assert old.console == "" and old.loaded
    old_frame = machine_frame(old, tag_guest(technique).symbols["page"])
    reusable = [f for f in frames_of(host, old) if f >= host.frames._low_end]
    if flush:
        host.destroy(old)
    else:
        with mock.patch.object(type(host.machine.hart), "flush_tlb"):
            host.destroy(old)
    taken = [host.frames.alloc("someone else") for _ in reusable]  # (the last freed first)
    assert sorted(taken) == reusable
    for frame in taken:
        host.machine.mem.write(frame, b"\x5a" * PAGE)
    new = tag_domain(host, technique, "new", 0x7777_7777_7777_7777, 1000, paging=False)
    assert (new.vmid, new.asid_base) == (old.vmid, old.asid_base)
    assert old_frame in taken and machine_frame(new, tag_guest(technique).symbols["page"]) \
        not in taken
    host.run(max_steps=200_000 if flush else 20_000)
    if flush:
        assert new.console == "ok\n"
        check_translations(host)
    elif technique != "binary-translation":  # (whose boot flushes the TLB anyway)
        assert new.console != "ok\n"  # (it runs the other's bytes as its code, even)


# ---- what one domain does to the host stays with it -------------------------------------
SECRET = 0x5EC2_E7D0_0D1E_5EC2
SECRET_KEEPER = f"""
    li s0, {SECRET:#x}
    mv s2, s0
    mv t3, s0
    mv a5, s0
    la t0, 1f
    csrw stvec, t0
    csrw sscratch, s0
    csrw sepc, s0
1:  j 1b
"""


@pytest.mark.parametrize("technique", TECHNIQUES)
@pytest.mark.parametrize("successor", TECHNIQUES)
def test_a_destroyed_vcpu_leaves_nothing_in_the_hart(technique: str, successor: str) -> None:
    """Destroyed while loaded, a domain's registers and CSRs go too: the next domain
    created boots on a hart exactly like the one a new host gives it."""
    keeper = assemble(SECRET_KEEPER, base=0x8020_0000)
    host = Host(machine_mb=64)
    d = host.create(keeper, technique, name="d")
    host.run(max_steps=3_000)
    assert d.loaded
    host.destroy(d)
    host.create("null-syscall", successor, n=3, name="next")
    fresh = Host(machine_mb=64)
    fresh.create("null-syscall", successor, n=3, name="next")
    m, f = host.machine, fresh.machine
    assert SECRET not in m._x.tolist() + m._csr.tolist()
    assert m._x.tolist() == f._x.tolist()
    tables = [K.CSR_SATP, K.CSR_HGATP]  # (their roots are other frames)
    assert np.array_equal(np.delete(m._csr, tables), np.delete(f._csr, tables))
    assert (m.host_traps, m.host_traps_hs) == (f.host_traps, f.host_traps_hs)


def test_a_failed_create_leaves_nothing_behind() -> None:
    """A domain that does not fit: the create fails, and every frame it took is back; the
    domains there go on as if nothing happened, and one that fits can still be made."""
    host = Host(machine_mb=24)
    a = host.create("null-syscall", "hardware", n=3, name="a")
    host.run(max_steps=20_000)
    usage, free = host.frames.usage(), host.frames.free_frames
    for technique in TECHNIQUES:
        with pytest.raises(GuestMemoryError, match="no free frames"):
            host.create("hello", technique, memory_mb=32, name="big")
        assert (host.frames.usage(), host.frames.free_frames) == (usage, free)
        assert host.domains == [a]
    b = host.create("null-syscall", "paravirt", n=3, name="b")
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    same_outcome(a, "null-syscall", 3)
    same_outcome(b, "null-syscall", 3)


def test_a_capped_domain_waits_for_its_share() -> None:
    """A cap parks a domain until the next accounting period, with the CPU idle if no
    one else may run: the host waits for it (it used to report "idle" and stop)."""
    host = Host(machine_mb=64, scheduler=Credit(slice_ms=2))
    capped = host.create("hello", "paravirt", cap=30, name="capped")
    other = host.create("null-syscall", "hardware", n=3, name="other")
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    same_outcome(capped, "hello", None)
    same_outcome(other, "null-syscall", 3)
    assert host.idle_steps > capped.cpu_steps  # it waited, with nobody else to run


UART_AMO = """
    li s0, 0x10000000
    li a0, 'x'
    amoswap.w a1, a0, (s0)       # no device answers an AMO
"""
CRASHES = {
    "hardware": (assemble(UART_AMO, base=0x8020_0000), "amoswap.w is not a load or store"),
    "trap-emulate": (assemble(UART_AMO, base=0x8020_0000), "amoswap.w is not a load"),
    "binary-translation": (assemble("li t0, 0x3F00000028\njr t0", base=0x8020_0000),
                           "ran the translation cache at 0x3f00000028"),
    "paravirt": (assemble("unimp", base=0x8020_0000), "before set_trap_table"),
}


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_a_guest_the_hypervisor_cannot_run_crashes_alone(technique: str) -> None:
    """A guest does what its hypervisor cannot go on with: that domain crashes (Xen's
    domain_crash), the others run on to their ends; a VM, alone, raises it."""
    program, message = CRASHES[technique]
    host = Host(machine_mb=64, scheduler=RoundRobin(slice_ms=1), steps_per_ms=300)
    victim = host.create("null-syscall", "hardware", n=VICTIM_N, name="victim")
    bad = host.create(program, technique, name="bad")
    other = host.create("pte-update", technique, n=VICTIM_N, name="other")
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    assert bad.result.reason == "crashed" and message in str(bad.error)
    same_outcome(victim, "null-syscall", VICTIM_N)
    same_outcome(other, "pte-update", VICTIM_N)
    with pytest.raises(HypervisorError, match=message.split(" at ")[0]):
        VM(program, technique).run(max_steps=1000)


# A guest that makes its hypervisor build shadow tables for ever more address spaces:
# `spaces` roots (at 0x8040_0000 + 4 KiB * i, all sharing one L1 whose 64 entries share one
# L0), and in each it touches 64 pages 2 MiB apart (a shadow L0 each, and an L1 and a root).
HOG = """
    la t0, l1
    li t1, 0
    la t2, l0
    srli t2, t2, 12
    slli t2, t2, 10
    ori t2, t2, 1
1:  slli t3, t1, 3
    add t3, t3, t0
    sd t2, 0(t3)
    addi t1, t1, 1
    li t4, 64
    blt t1, t4, 1b
    la t0, l0
    la t1, data
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 0xC7
    sd t1, 0(t0)
    li s4, 0
    li s5, 0x80400000
2:  slli t0, s4, 12
    add t0, t0, s5
    la t1, l1
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 0(t0)
    li t1, (0x80000000 >> 12 << 10) | 0xCF
    sd t1, 16(t0)
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    li t2, 0
3:  slli t3, t2, 21
    ld t4, 0(t3)
    addi t2, t2, 1
    li t5, 64
    blt t2, t5, 3b
    addi s4, s4, 1
    ld t0, spaces
    blt s4, t0, 2b
    csrw satp, zero
"""


@pytest.mark.parametrize("technique", ["trap-emulate", "binary-translation"])
def test_a_guest_cannot_take_the_machines_memory(technique: str) -> None:
    """Shadow tables for a hundred address spaces would take every free frame of the
    machine (and the host would stop: no frame left for anyone); a domain's shadows are
    a cache of bounded size (SHADOW_POOL), which starts afresh when full."""
    from vkernel.hv.shadow import SHADOW_POOL

    program = assemble(f"""
    la t0, handler
    csrw stvec, t0
{HOG}
{SBI_OFF}
{HANDLER}
    .data
    .align 12
l1: .zero 4096
l0: .zero 4096
data: .zero 4096
spaces: .dword 100
""", base=0x8020_0000, name="hog")
    host = Host(machine_mb=32, scheduler=RoundRobin(slice_ms=1), steps_per_ms=500)
    victim = host.create("null-syscall", "hardware", n=VICTIM_N, name="victim")
    hog = host.create(program, technique, name="hog")
    free = host.frames.free_frames
    assert 100 * 66 > free  # what unbounded shadows would need
    assert host.run(max_steps=BUDGET).reason == "shutdown"
    assert hog.result.code == 0 and hog.technique.shadow.flushes > 5
    assert host.frames.usage()["hog"] <= len(hog.memory.p2m) + 65 + SHADOW_POOL + 4
    same_outcome(victim, "null-syscall", VICTIM_N)
