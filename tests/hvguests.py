"""Small guest kernels and isolation checks shared by the hypervisor tests (test_hv.py,
test_paravirt.py, test_host.py).

* SBI guests (hardware, trap-emulate, binary-translation): :func:`guest` wraps a body in
  a VS-mode kernel at 0x8020_0000 with a trap handler that counts traps in s1 (cause in
  s2, tval in s3) and skips the faulting instruction; :data:`ATTACK` and
  :func:`attack_guest` load, store and swap at a table of addresses.
* para-virtual guests: :func:`pv_guest` with :data:`PV_HANDLER` (the same counting in
  s1, through the trap frame in the shared-info page); :data:`ATTACKER` is a PV kernel
  that tries every way the hypercall ABI offers to reach frames it does not own, with
  the results it must get in :data:`EXPECTED`.
* the invariants: :func:`leaves` (what a page table maps) and
  :func:`validated_tables_are_safe` (direct paging's rules, recomputed from memory).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from vkernel import assemble
from vkernel.hv.memory import PPN_MASK, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

EPERM, EFAULT, EINVAL, ENOSYS = -1, -14, -22, -38


# ---- SBI guests ---------------------------------------------------------------------------
SBI_PUTCHAR = """
    li a7, 0x4442434E
    li a6, 2
    ecall
"""
SBI_OFF = """
    li a7, 0x53525354
    li a6, 0
    li a0, 0
    ecall
"""
HANDLER = """
# the guest's trap handler: count the trap, remember the cause, skip the instruction
handler:
    addi s1, s1, 1
    csrr s2, scause
    csrr s3, stval
    csrr t6, sepc
    lhu t5, 0(t6)
    andi t5, t5, 3
    addi t6, t6, 2
    li t4, 3
    bne t5, t4, 1f
    addi t6, t6, 2
1:  csrw sepc, t6
    sret
"""


def guest(body: str) -> object:
    """A VS-mode test kernel at 0x8020_0000: paging off, a trap handler, ``body``, off."""
    return assemble(f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
{body}
{SBI_OFF}
{HANDLER}
""", base=0x8020_0000, name="test-guest")


ATTACK = """
    la s6, targets
    la s8, targets_end
    li s7, 0               # attempts
2:  beq s6, s8, 3f
    ld s0, 0(s6)
    ld a0, 0(s0)           # read it ...
    sd s6, 0(s0)           # ... and overwrite it
    sb s6, 7(s0)
    amoswap.d a1, s6, (s0)
    addi s7, s7, 4
    addi s6, s6, 8
    j 2b
3:
"""


def attack_guest(targets: list[int]) -> object:
    table = "\n".join(f"    .dword {t:#x}" for t in targets)
    return assemble(f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
{ATTACK}
{SBI_OFF}
{HANDLER}
    .align 3
targets:
{table}
targets_end:
""", base=0x8020_0000, name="attacker")


# ---- para-virtual guests -------------------------------------------------------------
SHARED = 0x8000_1000
# a PV trap handler for the test guests: count the trap in s1, keep its cause in s2; an
# event is acknowledged (the pending flags cleared), a fault skipped (4-byte
# instructions: .option norvc); then iret
PV_HANDLER = """
handler:
    addi s1, s1, 1
    li t0, 0x80001000
    ld s2, 64(t0)                # cause
    bltz s2, 1f
    ld t1, 72(t0)                # epc: step over the faulting instruction
    addi t1, t1, 4
    sd t1, 72(t0)
    j 2f
1:  sb zero, 0(t0)               # an event: acknowledge it
    sd zero, 8(t0)
2:  li a7, 23                    # iret
    ecall
"""
PV_OFF = """
    li a0, 2                     # sched_op(SCHEDOP_shutdown, 0)
    li a1, 0
    li a7, 29
    ecall
"""


def pv_guest(body: str, data: str = "") -> object:
    """A para-virtual test kernel at 0x8020_0000: s11 = its start info, the trap table
    set to PV_HANDLER, ``body``, shutdown; ``results`` and ``scratch`` in its data."""
    return assemble(f"""
    .option norvc
    .text
_start:
    mv s11, a0                   # the start info
    li s1, 0
    la a0, handler
    li a7, 0                     # set_trap_table
    ecall
{body}
{PV_OFF}
{PV_HANDLER}
    .data
    .balign 8
results: .zero 8 * 64
scratch: .zero 64
{data}
""", base=0x8020_0000, name="pv-test-guest")


TABLES = 0x8030_0000  # the attacker's own table: root, L1, four L0s (identity, 8 MiB)
LEAF_SLOT = TABLES + 0x5000 + 511 * 8  # the PTE of VA 0x807F_F000 (a page nobody uses)
L1_SLOT = TABLES + 0x1000 + 5 * 8  # VA 0x80A0_0000.. (nothing mapped there)
# a page of the attacker's, mapped writable; its TLB index (the page number's low 8 bits)
# is one no other page the attack touches uses, so that its stale entry stays
FRESH = 0x8040_7000

ATTACKER = f"""
    mv s10, s11                  # s10 = mfn_list
    ld s10, 24(s10)
    li s8, 0                     # results recorded
    li a0, {TABLES}              # [0] pin before our first table: every frame is mapped
    call ma_of                   # writable by the boot table: -EINVAL
    mv a1, a0
    li a0, 2
    call mmuext1
    call record
    # our table, with plain stores: all of RAM R W X U, except the table itself: R U
    li t2, 0
    mv t4, s10
    li t5, {TABLES + 0x2000}
1:  ld t0, 0(t4)
    slli t0, t0, 10
    li t1, 0xDF
    li t3, 0x300
    blt t2, t3, 2f
    li t3, 0x306
    bge t2, t3, 2f
    li t1, 0x53
2:  or t0, t0, t1
    sd t0, 0(t5)
    addi t4, t4, 8
    addi t5, t5, 8
    addi t2, t2, 1
    li t3, 2048
    blt t2, t3, 1b
    li s3, 0                     # L1[0..3] -> the L0s, root[2] -> L1
3:  slli a0, s3, 12
    li t0, {TABLES + 0x2000}
    add a0, a0, t0
    call pointer_to
    slli t0, s3, 3
    li t1, {TABLES + 0x1000}
    add t0, t0, t1
    sd a0, 0(t0)
    addi s3, s3, 1
    li t0, 4
    blt s3, t0, 3b
    li a0, {TABLES + 0x1000}
    call pointer_to
    li t0, {TABLES}
    sd a0, 16(t0)
    li a0, {TABLES}              # [1] NEW_BASEPTR: validated, the boot table goes: 0
    call ma_of
    mv a1, a0
    li a0, 5
    call mmuext1
    call record
    li a0, {LEAF_SLOT}
    call ma_of
    mv s2, a0                    # s2: a leaf slot of ours
    li a0, {L1_SLOT}
    call ma_of
    mv s3, a0                    # s3: a pointer slot of ours
    ld a1, victim                # [2] a leaf to another domain's frame: -EPERM
    call leaf_rw
    mv a0, s2
    call update
    call record
    ld a1, hvframe               # [3] a leaf to a hypervisor frame: -EPERM
    call leaf_rw
    mv a0, s2
    call update
    call record
    li a0, {TABLES + 0x2000}     # [4] a writable leaf to our own page table: -EINVAL
    call ma_of
    mv a1, a0
    call leaf_rw
    mv a0, s2
    call update
    call record
    li a0, {TABLES + 0x2000}     # [5] ... read-only is fine: 0
    call ma_of
    srli a1, a0, 12
    slli a1, a1, 10
    ori a1, a1, 0x53
    mv a0, s2
    call update
    call record
    ld a1, hvframe               # [6] a pointer to a hypervisor frame: -EPERM
    call pointer_ma
    mv a0, s3
    call update
    call record
    ld a1, victim                # [7] a pointer to another domain's frame: -EPERM
    call pointer_ma
    mv a0, s3
    call update
    call record
    li a0, 0x80400000            # [8] a superpage (a leaf in an L1): -EINVAL
    call ma_of
    mv a1, a0
    call leaf_rw
    mv a0, s3
    call update
    call record
    li a0, {TABLES}              # [9] a pointer from our L1 to our root: -EINVAL
    call pointer_to
    mv a1, a0
    mv a0, s3
    call update
    call record
    li a0, {TABLES + 0x1000}     # [10] ... to the L1 itself: -EINVAL
    call pointer_to
    mv a1, a0
    mv a0, s3
    call update
    call record
    ld a1, victim                # [11] NEW_BASEPTR: another domain's frame: -EPERM
    li a0, 5
    call mmuext1
    call record
    ld a1, hvframe               # [12] ... the hypervisor's: -EPERM
    li a0, 5
    call mmuext1
    call record
    ld a1, victim                # [13] NEW_USER_BASEPTR: another domain's frame: -EPERM
    li a0, 15
    call mmuext1
    call record
    li a0, 0x80400000            # [14] pin a page of ours that is mapped writable: -EINVAL
    call ma_of
    mv a1, a0
    li a0, 2
    call mmuext1
    call record
    li a0, 0x80400000            # [15] ptr in a page of ours that is not a table: -EINVAL
    call ma_of
    li a1, 0
    call update
    call record
    ld a0, victim                # [16] ptr in another domain's frame: -EPERM
    li a1, 0
    call update
    call record
    ld a0, hvframe               # [17] ptr in a hypervisor frame: -EPERM
    li a1, 0
    call update
    call record
    li a0, 0                     # [18] console_io from an address nothing maps: -EFAULT
    li a1, 8
    li a2, 0x90000000
    li a7, 18
    ecall
    call record
    li a0, 0                     # [19] ... running off the end of our memory: -EFAULT
    li a1, 64
    li a2, 0x807FFFF0
    li a7, 18
    ecall
    call record
    la t0, scratch               # [20] mmu_update with 'done' in a page table (read-only
    sd s2, 0(t0)                 # to us): the update is done, the count is not: -EFAULT
    sd zero, 8(t0)
    mv a0, t0
    li a1, 1
    li a2, {TABLES}
    li a7, 1
    ecall
    call record
    li a0, 0x90000000            # [21] mmu_update with requests nothing maps: -EFAULT
    li a1, 1
    li a2, 0
    li a7, 1
    ecall
    call record
    la a0, evil                  # [22] our mapping of 'evil' read-only: 0
    call linear_slot
    mv s4, a0
    la a0, evil
    call ma_of
    srli a1, a0, 12
    slli a1, a1, 10
    ori a1, a1, 0x53
    mv a0, s4
    call update
    call record
    la a0, evil                  # [23] 'evil' (its entry 0 maps another domain's frame)
    call pointer_to              # as an L0 table: its entries are checked: -EPERM
    mv a1, a0
    mv a0, s3
    call update
    call record
    li a0, 0x80001000            # [24] the shared-info page read-only (0) ...
    call linear_slot
    mv s4, a0
    li a0, 0x80001000
    call ma_of
    srli a1, a0, 12
    slli a1, a1, 10
    ori a1, a1, 0x53
    mv a0, s4
    call update
    call record
    li a0, 0x80001000            # [25] ... as a page table: -EINVAL
    call pointer_to
    mv a1, a0
    mv a0, s3
    call update
    call record
    li a0, 0x80001000            # [26] ... and writable again: 0
    call ma_of
    srli a1, a0, 12
    slli a1, a1, 10
    ori a1, a1, 0xD7
    mv a0, s4
    call update
    call record
    # plain stores to our page tables fault, and come back to us (s1 counts them)
    li s4, {TABLES}
    sd zero, 0(s4)
    li s4, {TABLES + 0x2000}
    sb zero, 8(s4)
    amoswap.d zero, zero, (s4)
    # a stale TLB entry: store to FRESH (writable: the TLB has it now), make our mapping
    # read-only WITHOUT a flush, make FRESH a table: the hypervisor must flush
    li s4, {FRESH}
    sd zero, 0(s4)
    li a0, {FRESH}               # [27] read-only, no INVLPG: 0
    call linear_slot
    mv s5, a0
    li a0, {FRESH}
    call ma_of
    srli a1, a0, 12
    slli a1, a1, 10
    ori a1, a1, 0x53
    mv a0, s5
    call update
    call record
    li a0, {FRESH}               # [28] FRESH hooked as an L0 for VA 0x80A0_0000: 0
    call pointer_to
    mv a1, a0
    mv a0, s3
    call update
    call record
    ld a1, victim                # through the stale translation: must fault
    call leaf_rw
    sd a1, 0(s4)
    li s4, 0x80A00000            # (had it worked, this would read the victim's frame)
    ld s6, 0(s4)
    j finished

# helpers (leaf functions: they change a0, a1, t0..t2 only)
record:                          # results[s8++] = a0
    la t0, results
    slli t1, s8, 3
    add t0, t0, t1
    sd a0, 0(t0)
    addi s8, s8, 1
    ret
ma_of:                           # a0 = pseudo-physical address -> its machine address
    li t0, 0x80000000
    sub t1, a0, t0
    srli t1, t1, 12
    slli t1, t1, 3
    add t1, t1, s10
    ld t1, 0(t1)
    slli t1, t1, 12
    slli a0, a0, 52
    srli a0, a0, 52
    or a0, a0, t1
    ret
pointer_to:                      # a0 = pseudo-physical page -> a pointer PTE to it
    mv t2, ra
    call ma_of
    mv ra, t2
    srli a0, a0, 12
    slli a0, a0, 10
    ori a0, a0, 1
    ret
pointer_ma:                      # a1 = machine address -> a1 = a pointer PTE to it
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, 1
    ret
leaf_rw:                         # a1 = machine address -> a1 = a V R W U A D leaf to it
    srli a1, a1, 12
    slli a1, a1, 10
    ori a1, a1, 0xD7
    ret
linear_slot:                     # a0 = our page -> the machine address of its PTE
    li t0, 0x80000000
    sub a0, a0, t0
    srli a0, a0, 12
    slli a0, a0, 3
    li t0, {TABLES + 0x2000}
    add a0, a0, t0
    j ma_of
update:                          # mmu_update of one request (a0 = ptr, a1 = val)
    la t0, scratch
    sd a0, 0(t0)
    sd a1, 8(t0)
    mv a0, t0
    li a1, 1
    li a2, 0
    li a7, 1
    ecall
    ret
mmuext1:                         # mmuext_op of one operation (a0 = cmd, a1 = arg)
    la t0, scratch
    sd a0, 0(t0)
    sd a1, 8(t0)
    mv a0, t0
    li a1, 1
    li a2, 0
    li a7, 26
    ecall
    ret
finished:
"""
ATTACKER_DATA = """
victim: .dword 0                 # filled in by the test
hvframe: .dword 0
    .balign 4096
evil: .zero 4096                 # entry 0 filled in by the test
"""
EXPECTED = [EINVAL, 0, EPERM, EPERM, EINVAL, 0, EPERM, EPERM, EINVAL, EINVAL, EINVAL, EPERM,
            EPERM, EPERM, EINVAL, EINVAL, EPERM, EPERM, EFAULT, EFAULT, EFAULT, EFAULT, 0,
            EPERM, 0, EINVAL, 0, 0, 0]


# ---- the invariants ------------------------------------------------------------------
def leaves(mem, root: int, root_bits: int = 9) -> list[int]:  # noqa: ANN001
    """The machine frames an Sv39 (or, with root_bits=11, Sv39x4) table's leaves map."""
    out = []

    def walk(table: int, level: int) -> None:
        entries = 1 << (root_bits if level == 2 else 9)
        ptes = np.frombuffer(mem.read(table, 8 * entries), np.uint64).astype(np.int64)
        for pte in ptes[ptes & 1 == 1].tolist():
            ppn = (pte >> 10) & ((1 << 44) - 1)
            if pte & 0xA:  # R or X: a leaf
                out.extend(ppn + k << 12 for k in range(1 << (9 * level)))
            elif level:
                walk(ppn << 12, level - 1)
    walk(root, 2)
    return out


def validated_tables_are_safe(vm: Any, satp: int | None = None) -> bool:  # noqa: ANN401
    """Direct paging's invariant, recomputed from memory: every entry of every validated
    table is one the rules allow (leaves map the guest's own frames, pointers lead to
    tables of the next level), no page-table frame is mapped writable, the hypervisor's
    count of writable mappings is right, and the machine walks a validated root (or the
    boot table). ``vm`` is a paravirtual VM or Domain; ``satp`` what its vCPU runs with
    (by default the machine's: the vCPU loaded)."""
    pv, mem = vm.technique, vm.machine.mem
    guest = set(vm.memory.m2p)
    writable: Counter[int] = Counter()
    for frame, level in pv.level.items():
        assert frame in guest
        for pte in np.frombuffer(mem.read(frame, 4096), np.uint64).tolist():
            if not pte & PTE_V:
                continue
            target = ((pte >> 10) & PPN_MASK) << 12
            if pte & (PTE_R | PTE_X):
                assert level == 0 and target in guest and pte & PTE_U, hex(pte)
                if pte & PTE_W:
                    assert target not in pv.level, f"page table {target:#x} mapped writable"
                    writable[target] += 1
            else:
                assert level > 0 and pv.level.get(target) == level - 1, hex(pte)
    assert +writable == +pv.writable
    if satp is None:
        satp = vm.machine.hart.csr["satp"]
    root = (satp & PPN_MASK) << 12
    if pv.boot_table is None:
        assert pv.level.get(root) == 2
    else:
        assert root == pv.boot_table.pages[0]
    return True
