"""Shadow page tables (vkernel/hv/shadow.py), issue 15's acceptance tests, for both ways
of keeping them: ``simple`` (filled on hidden faults, forgotten on sfence.vma) and
``write-protect`` (the guest's page tables write-protected, every change to them emulated
and the shadow entries derived from it dropped, through a reverse map).

* **consistency**: a small guest kernel runs a random script of page-table edits (stores,
  compressed stores and AMOs into its own tables), sfence.vma, address-space switches,
  loads and stores through the mapped pages (some of them the tables themselves), first
  natively (the oracle), then under trap-and-emulate and binary translation: every value
  it reads, every fault it takes, the final contents of its tables (A and D bits as the
  hardware set them) and of its pages are the same; and at the end every shadow entry is
  the guest's translation composed with the p2m, never more permissive, never a writable
  mapping of a page table the shadows depend on (write-protect);
* **isolation**: the same with entries aimed outside the guest's RAM and at its own
  tables: no shadow leaf leads to a machine frame the domain does not own;
* **the figure**: write protection takes fewer hidden faults than the simple scheme on a
  workload that switches address spaces.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from vkernel import assemble
from vkernel.hv import VM
from vkernel.hv.binary_translation import TC_PAGES, TC_VA, VCPU_VA
from vkernel.hv.pagetable import (
    PAGE,
    PTE_A,
    PTE_D,
    PTE_R,
    PTE_V,
    PTE_W,
    PTE_X,
    make_pte,
    pte_page,
)

SHADOWS = ("simple", "write-protect")
TECHNIQUES = ("trap-emulate", "binary-translation")

# --- the guest: a script interpreter ------------------------------------------------------
# Each op is three doublewords (kind, a0, a1). Kinds: 1 sd a1, 0(a0); 2 ld from a0 (the
# value, or the fault, recorded); 3 sfence.vma; 4 sfence.vma a0; 5 csrw satp, a0;
# 6 amoswap.d a1, (a0); 7 c.sd a1, 0(a0). Stores and loads record t2 in the results: 0, the
# loaded value, or 0xFA00 | scause when the access faulted (the trap handler skips it).
KERNEL = assemble("""
    .equ SCRIPT, 0x80300000
    .equ RESULTS, 0x80380000
_start:
    j     main
trap:
    csrr  t3, scause
    li    t2, 0xFA00
    or    t2, t2, t3
    csrr  t3, sepc
    lhu   t4, 0(t3)
    andi  t4, t4, 3
    addi  t3, t3, 2
    li    t5, 3
    bne   t4, t5, 1f
    addi  t3, t3, 2
1:  csrw  sepc, t3
    sret
main:                            # (trap is 4-byte aligned, for stvec)
    la    t0, trap
    csrw  stvec, t0
    li    s0, SCRIPT
    li    s1, RESULTS
loop:
    ld    t0, 0(s0)
    ld    a0, 8(s0)
    ld    a1, 16(s0)
    addi  s0, s0, 24
    li    t2, 0
    beqz  t0, done
    li    t1, 1
    beq   t0, t1, op_sd
    li    t1, 2
    beq   t0, t1, op_ld
    li    t1, 3
    beq   t0, t1, op_fence
    li    t1, 4
    beq   t0, t1, op_fence_va
    li    t1, 5
    beq   t0, t1, op_satp
    li    t1, 6
    beq   t0, t1, op_amo
    c.sd  a1, 0(a0)
    j     record
op_sd:
    sd    a1, 0(a0)
    j     record
op_amo:
    amoswap.d t3, a1, (a0)
    j     record
op_ld:
    ld    t2, 0(a0)
    j     record
op_fence:
    sfence.vma
    j     loop
op_fence_va:
    sfence.vma a0
    j     loop
op_satp:
    csrw  satp, a0
    j     loop
record:
    sd    t2, 0(s1)
    addi  s1, s1, 8
    j     loop
done:
    li    a0, 0
    li    a1, 0
    li    a6, 0
    li    a7, 0x53525354
    ecall
""", base=0x8020_0000, name="shadow-script")
SCRIPT, RESULTS = 0x8030_0000, 0x8038_0000
ROOTS = [0x8040_0000 + i * PAGE for i in range(2)]  # two address spaces
L1S = [0x8040_2000 + i * PAGE for i in range(2)]
L0S = [0x8040_4000 + j * PAGE for j in range(4)]
TABLES = ROOTS + L1S + L0S
DATA = [0x8041_0000 + k * PAGE for k in range(6)]
REGION = (0x8040_0000, 0x8042_0000)  # the tables and the pages: compared with native
VA = 0x4000_0000  # root[1]: L1[0] and L1[1] (2 MiB each), slots 0..7 of the L0 there
SLOTS = 8
SATP = [(8 << 60) | (i + 1) << 44 | ROOTS[i] >> 12 for i in range(2)]
KERNEL_LEAF = PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D  # root[2]: 1 GiB identity
NO_RAM = 0x4000_0000  # guest physical: neither RAM nor a device
PERMS = [0, PTE_V, PTE_V | PTE_R, PTE_V | PTE_R | PTE_W, PTE_V | PTE_R | PTE_A,
         PTE_V | PTE_R | PTE_W | PTE_A, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D,
         PTE_V | PTE_X | PTE_A, PTE_V | PTE_W]


def va_of(l1: int, slot: int) -> int:
    return VA + l1 * (2 << 20) + slot * PAGE


def set_up(vm: VM, script: list[tuple[int, int, int]]) -> None:
    """The guest's tables, pages and script, written into its memory before it runs."""
    mem = vm.memory
    for i, root in enumerate(ROOTS):
        mem.write_u64(root + 8 * 2, make_pte(0x8000_0000, KERNEL_LEAF))
        mem.write_u64(root + 8 * 1, make_pte(L1S[i], PTE_V))
        mem.write_u64(L1S[i], make_pte(L0S[i], PTE_V))
    for k, page in enumerate(DATA):
        mem.write(page, bytes([k + 1]) * PAGE)
        mem.write_u64(L0S[k % 2] + 8 * (k // 2), make_pte(page, PTE_V | PTE_R | PTE_W))
    words = [w for op in script for w in op] + [0, 0, 0]
    mem.write(SCRIPT, np.array(words, np.uint64).tobytes())


def run_script(technique: str, script: list, shadow: str | None = None, *,
               finishes: bool = True) -> VM:
    """Run ``script``; ``finishes``: assert that it shut down cleanly."""
    paging = None
    if technique == "hardware-shadow":  # first-generation hardware: VS-stage shadows
        technique, paging = "hardware", "shadow"
    vm = VM(KERNEL, technique=technique, ram_mb=8, shadow=shadow, paging=paging)
    set_up(vm, script)
    result = vm.run(max_steps=200_000)
    if finishes:
        assert (result.reason, result.code) == ("shutdown", 0), (technique, shadow, result)
    return vm


def observed(vm: VM, n_results: int) -> tuple[bytes, bytes]:
    return (vm.memory.read(RESULTS, 8 * n_results),
            vm.memory.read(REGION[0], REGION[1] - REGION[0]))


# --- the invariant, recomputed from memory ------------------------------------------------
def shadow_leaves(vm: VM):  # noqa: ANN201
    """Every 4 KiB leaf of every shadow: (key, va, machine address, flags)."""
    mem = vm.machine.mem

    def down(frame: int, level: int, base: int):  # noqa: ANN202
        ptes = np.frombuffer(mem.read(frame, PAGE), np.uint64).astype(np.int64)
        for i in np.flatnonzero(ptes & PTE_V).tolist():
            pte = int(ptes[i])
            va = base | i << (12 + 9 * level)
            if level == 2 and va >> 38:
                va |= -1 << 39  # sign-extended
            if pte & (PTE_R | PTE_X):
                yield va & ((1 << 64) - 1), pte_page(pte), pte & 0xFF
            else:
                yield from down(pte_page(pte), level - 1, va)

    for key, table in vm.technique.shadow.tables.items():
        for va, machine, flags in down(table.pages[0], 2, 0):
            yield key, va, machine, flags


def check_shadows(vm: VM) -> int:
    """Each shadow leaf is the guest's translation composed with the p2m, no more
    permissive than the guest's entry, and its frame the domain's; with write protection
    no leaf maps a page table the shadows depend on writable. Returns how many leaves."""
    tech, mem = vm.technique, vm.memory
    owner = vm.domain.frames.owner
    windows = {VCPU_VA} | {TC_VA + i * PAGE for i in range(TC_PAGES)}
    count = 0
    for (satp, user, sum_, mxr), va, machine, flags in shadow_leaves(vm):
        if va in windows and tech.name == "binary-translation":
            assert owner[machine] == "hypervisor"
            continue
        assert owner[machine] == vm.domain.name, f"{va:#x} -> {machine:#x}"
        for access, bit in ((1, PTE_R), (2, PTE_W), (0, PTE_X)):
            if not flags & bit:
                continue
            t = tech.shadow.walk(satp, va, access, user=bool(user), sum_=sum_, mxr=mxr)
            assert t.fault is None, f"shadow allows {access} at {va:#x}, the guest not"
            assert mem.machine_address(t.gpa & ~(PAGE - 1)) == machine, f"{va:#x}"
            need = PTE_A | (PTE_D if bit == PTE_W else 0)
            assert t.flags & need == need, f"{va:#x}: the guest's A/D bits are not set"
            if bit == PTE_W and tech.shadow.write_protect:
                assert not tech.shadow.is_table(t.gpa), f"{va:#x}: a table, writable"
        count += 1
    return count


# --- the script, generated ----------------------------------------------------------------
@st.composite
def scripts(draw, targets: list[int]) -> list[tuple[int, int, int]]:  # noqa: ANN001
    ops: list[tuple[int, int, int]] = [(5, SATP[0], 0)]
    for _ in range(draw(st.integers(1, 24))):
        what = draw(st.sampled_from(["leaf", "leaf", "pointer", "switch", "load", "load",
                                     "store"]))
        kind = draw(st.sampled_from([1, 6, 7]))  # sd, amoswap.d, c.sd
        if what == "leaf":  # an entry of an L0: a page, a table, or nowhere
            j, slot = draw(st.integers(0, 3)), draw(st.integers(0, SLOTS - 1))
            target = draw(st.sampled_from(targets))
            ops.append((kind, L0S[j] + 8 * slot, make_pte(target, draw(st.sampled_from(PERMS)))))
            if draw(st.booleans()):
                ops += [(4, va_of(0, slot), 0), (4, va_of(1, slot), 0)]
            else:
                ops.append((3, 0, 0))
        elif what == "pointer":  # an L1 entry: another L0, or none
            i, l1 = draw(st.integers(0, 1)), draw(st.integers(0, 1))
            j = draw(st.integers(-1, 3))
            ops += [(kind, L1S[i] + 8 * l1, make_pte(L0S[j], PTE_V) if j >= 0 else 0),
                    (3, 0, 0)]
        elif what == "switch":
            ops.append((5, SATP[draw(st.integers(0, 1))], 0))
        else:
            va = va_of(draw(st.integers(0, 1)), draw(st.integers(0, SLOTS - 1)))
            va += 8 * draw(st.integers(0, 3))
            if what == "load":
                ops.append((2, va, 0))
            else:  # perhaps into a table mapped there: a PTE, then a fence
                value = make_pte(draw(st.sampled_from(DATA)), draw(st.sampled_from(PERMS)))
                ops += [(kind, va, value), (3, 0, 0)]
    return ops


def results_of(script: list) -> int:
    return sum(op[0] in (1, 2, 6, 7) for op in script)


@pytest.mark.parametrize("shadow", SHADOWS)
@given(data=st.data())
@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_shadow_translation_matches_the_guests_own(shadow: str, data) -> None:  # noqa: ANN001
    """Random edits of the guest's tables, fences and switches, differential against the
    native machine, then the shadow invariant (see the module's docstring)."""
    script = data.draw(scripts(DATA + TABLES))
    base = run_script("native", script, finishes=False)
    assume(base.result.reason == "shutdown")  # (see the next test)
    for technique in TECHNIQUES:
        vm = run_script(technique, script, shadow)
        assert observed(vm, results_of(script)) == observed(base, results_of(script)), \
            technique
        check_shadows(vm)


@pytest.mark.parametrize("technique", TECHNIQUES)
@given(data=st.data())
@settings(max_examples=8, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_entries_aimed_outside_reach_nothing_it_does_not_own(technique: str, data) -> None:  # noqa: ANN001
    """Guest entries at frames beyond its RAM, below it (no memory, no device), and at its
    own tables, written through writable mappings of those tables: the guest sees what
    the bare machine would (an access fault outside its RAM), and no shadow leaf leads to
    a frame the domain does not own."""
    beyond = 0x8000_0000 + (8 << 20) + PAGE * data.draw(st.integers(0, 15))  # past 8 MiB
    script = data.draw(scripts(DATA + TABLES + [NO_RAM, beyond]))
    base = run_script("native", script, finishes=False)  # (natively too, nothing is there)
    # an entry aimed at the kernel's own tables can unmap its trap handler: a machine
    # that faults on every trap, natively too (an example that says nothing here)
    assume(base.result.reason == "shutdown")
    vm = run_script(technique, script, "write-protect")
    results = np.frombuffer(vm.memory.read(RESULTS, 8 * results_of(script)), np.uint64)
    faults = {int(r) & 0xFF for r in results if int(r) >> 8 == 0xFA}
    assert faults <= {5, 7, 13, 15}  # access faults and page faults only
    check_shadows(vm)
    assert observed(vm, results_of(script)) == observed(base, results_of(script))


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_a_store_through_a_writable_mapping_of_a_table_is_seen(technique: str) -> None:
    """The guest reads va(0, 0), maps its own L0 writable at va(0, 7) and, through it,
    rewrites the entry of va(0, 0) to point at another page, then reads va(0, 0) after a
    fence: it must read the new page. With write protection the fence keeps the shadows,
    so a store that bypassed the hypervisor would leave the old page there."""
    script = [(5, SATP[0], 0), (2, va_of(0, 0), 0),
              (1, L0S[0] + 8 * 7, make_pte(L0S[0], PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)),
              (3, 0, 0), (2, va_of(0, 7), 0),  # the L0's entry 0, read through the mapping
              (1, va_of(0, 7), make_pte(DATA[5], PTE_V | PTE_R | PTE_A)),
              (3, 0, 0), (2, va_of(0, 0), 0)]
    base = run_script("native", script)
    got = np.frombuffer(base.memory.read(RESULTS, 8 * 5), np.uint64)
    assert got[0] == int.from_bytes(bytes([1]) * 8, "little")  # DATA[0]'s bytes
    assert got[-1] == int.from_bytes(bytes([6]) * 8, "little")  # DATA[5]'s
    for shadow in SHADOWS:
        vm = run_script(technique, script, shadow)
        assert observed(vm, 5) == observed(base, 5), shadow
        check_shadows(vm)
        if shadow == "write-protect":
            assert vm.technique.shadow.wp_faults >= 2  # the fence-less store trapped


# --- hidden faults: write protection against the simple scheme ---------------------------
def hidden_faults(vm: VM) -> int:
    return vm.technique.shadow.hidden_faults


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_write_protect_takes_fewer_hidden_faults_switching_address_spaces(technique) -> None:  # noqa: ANN001
    """Two processes that yield to each other: the simple scheme forgets every shadow at
    each plain sfence.vma and refills them; with write protection they are kept."""
    runs = {}
    for shadow in SHADOWS:
        vm = VM("hello", technique=technique, ram_mb=8, shadow=shadow)
        assert vm.run(max_steps=30_000_000).reason == "shutdown"
        runs[shadow] = vm
    assert runs["simple"].console == runs["write-protect"].console
    assert hidden_faults(runs["write-protect"]) < hidden_faults(runs["simple"])
    assert runs["write-protect"].technique.shadow.flushes < \
        runs["simple"].technique.shadow.flushes


@pytest.mark.parametrize("technique", [*TECHNIQUES, "hardware-shadow"])
def test_a_store_it_cannot_emulate_unshadows_the_table(technique: str) -> None:
    """A misaligned sd into an L0 (the upper half of entry 0, the lower of entry 1, which
    becomes invalid) is not emulated: the hypervisor drops every shadow entry derived from
    that table and lets the store run. The guest sees what the bare machine shows it."""
    script = [(5, SATP[0], 0), (2, va_of(0, 0), 0), (2, va_of(0, 1), 0),
              (1, L0S[0] + 4, 0), (3, 0, 0), (2, va_of(0, 0), 0), (2, va_of(0, 1), 0)]
    base = run_script("native", script)
    got = np.frombuffer(base.memory.read(RESULTS, 8 * 5), np.uint64)
    assert got[1] == int.from_bytes(bytes([3]) * 8, "little")  # DATA[2], before
    assert (got[3], got[4]) == (got[0], 0xFA0D)  # after: entry 1 gone, a load page fault
    vm = run_script(technique, script, "write-protect")
    assert observed(vm, 5) == observed(base, 5)
    assert vm.technique.shadow.wp_faults == 0 and vm.technique.shadow.drops >= 2
    check_shadows(vm)
