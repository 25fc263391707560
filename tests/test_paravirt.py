"""Para-virtualization (vkernel/hv/paravirt.py, docs/paravirt.md): the PV twin of the guest
kernel must behave exactly as the native one, cheaply, and the hypercall ABI must keep a
guest that tries to reach what it does not own inside its own frames.

The adversarial guests here are small PV kernels written for the test, as in test_hv.py.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from vkernel import assemble
from vkernel.core import kernel as K
from vkernel.guests import USER_POOL, WORKLOADS, kernel, native
from vkernel.hv import VM, HypervisorError
from vkernel.hv.memory import HYPERVISOR, PPN_MASK, PTE_R, PTE_U, PTE_V, PTE_W, PTE_X

EPERM, EFAULT, EINVAL, ENOSYS = -1, -14, -22, -38
POOL = (USER_POOL[0], USER_POOL[1] - USER_POOL[0])


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


# ---- the isolation invariant -------------------------------------------------------------
def validated_tables_are_safe(vm: VM) -> bool:
    """Direct paging's invariant, recomputed from memory: every entry of every validated
    table is one the rules allow (leaves map the guest's own frames, pointers lead to
    tables of the next level), no page-table frame is mapped writable, the hypervisor's
    count of writable mappings is right, and the machine walks a validated root (or the
    boot table)."""
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
    root = (vm.machine.hart.csr["satp"] & PPN_MASK) << 12
    if pv.boot_table is None:
        assert pv.level.get(root) == 2
    else:
        assert root == pv.boot_table.pages[0]
    return True


def foreign_frames(vm: VM) -> dict[int, bytes]:
    """Every machine frame that is not the guest's (the hypervisor's, other domains',
    free ones), as it is now."""
    owner, mem = vm.technique.frames.owner, vm.machine.mem
    return {a: mem.read(a, 4096) for a in range(K.RAM_BASE, K.RAM_BASE + mem.size, 4096)
            if owner.get(a) != "guest"}


# ---- the PV kernel against the native one -----------------------------------------------
@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_workload_prints_and_leaves_what_it_does_natively(workload: str) -> None:
    ref = VM(workload, "native")
    assert ref.run().reason == "shutdown"
    vm = VM(workload, "paravirt")
    result = vm.run(max_steps=20_000_000)
    assert (result.reason, result.code) == ("shutdown", 0), vm.console[-300:]
    assert vm.console == ref.console
    assert vm.memory.read(*POOL) == ref.machine.mem.read(*POOL)
    assert validated_tables_are_safe(vm)
    assert vm.technique.boot_table is None  # its own tables all along after boot


def exits(workload: str, n: int) -> Counter:
    """Counts of the hv rows of a paravirt run: events, and hypercalls by number."""
    vm = VM(workload, "paravirt", n=n, trace="hv")
    vm.run()
    rows = vm.trace_dataset().vk.to_dataframe("hv")
    counts = Counter(rows["event"].tolist())
    calls = rows[rows.event == "hypercall"]
    counts.update(f"hypercall {c}" for c in calls["cause"].tolist())
    return counts


def test_masking_events_makes_no_exits() -> None:
    """irq-mask: a mask/unmask pair is two byte stores; no exit per operation."""
    assert exits("irq-mask", 100) == exits("irq-mask", 200)


def test_page_table_updates_are_batched() -> None:
    """pte-update: sixteen rewrites of the PTE to an mmu_update (hypercall 1), each batch
    followed by one MMUEXT_INVLPG_LOCAL (in an mmuext_op, hypercall 26): 1/16 of each per
    operation, where trap-and-emulate exits three times per operation."""
    a, b = exits("pte-update", 160), exits("pte-update", 480)
    assert b["hypercall 1"] - a["hypercall 1"] == 320 // 16
    assert b["hypercall 26"] - a["hypercall 26"] == 320 // 16
    assert (b["vm_exit"] - a["vm_exit"]) / 320 == pytest.approx(2 / 16, abs=0.01)


def test_system_calls_and_device_accesses() -> None:
    """A system call: its trap and the kernel's iret, two exits (trap-and-emulate: ten);
    a device register read: one exit, emulated."""
    a, b = exits("null-syscall", 100), exits("null-syscall", 300)
    assert (b["vm_exit"] - a["vm_exit"]) / 200 == pytest.approx(2, abs=0.1)
    assert 200 <= b["hypercall 23"] - a["hypercall 23"] <= 210  # (and a timer tick's)
    a, b = exits("device", 100), exits("device", 300)
    assert b["vm_exit"] - a["vm_exit"] == b["mmio"] - a["mmio"] == 200


def test_self_check_catches_a_hypervisor_that_ignores_the_mask(monkeypatch) -> None:
    """kernel_pv.s's boot self-check: an event delivered while the mask byte is set
    panics the guest."""
    from vkernel.hv.paravirt import Paravirtual

    def careless(self: Paravirtual) -> None:  # delivers whatever the mask says
        if self.shared(0, 1):
            self.inject(K.IRQ_STI, 0, interrupt=True)

    monkeypatch.setattr(Paravirtual, "deliver_events", careless)
    vm = VM("hello", "paravirt")
    assert (vm.run(max_steps=1_000_000).code) == 1
    assert vm.console.endswith("panic: event delivered with events masked\n")


def test_builders() -> None:
    assert "trap_vector" in kernel("null-syscall", 5, paravirt=True).symbols
    assert kernel("hello", paravirt=True) is not kernel("hello")
    with pytest.raises(ValueError, match="runs only on its hypervisor"):
        native("hello", paravirt=True)


# ---- small PV guests: the ABI ------------------------------------------------------------
SHARED = 0x8000_1000
# a PV trap handler for the test guests: count the trap in s1, keep its cause in s2; an
# event is acknowledged (the pending flags cleared), a fault skipped (4-byte
# instructions: .option norvc); then iret
HANDLER = """
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
OFF = """
    li a0, 2                     # sched_op(SCHEDOP_shutdown, 0)
    li a1, 0
    li a7, 29
    ecall
"""


def pv_guest(body: str, data: str = "") -> object:
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
{OFF}
{HANDLER}
    .data
    .balign 8
results: .zero 8 * 64
scratch: .zero 64
{data}
""", base=0x8020_0000, name="pv-test-guest")


def results(vm: VM, prog: object, count: int) -> list[int]:
    at = prog.symbols["results"]
    return [signed(vm.memory.read_u64(at + 8 * i)) for i in range(count)]


def test_start_info_events_and_the_small_hypercalls() -> None:
    body = """
    ld t0, 0(s11)                # results[0]: the magic
    la s0, results
    sd t0, 0(s0)
    li a0, 0                     # [1] xen_version
    li a7, 17
    ecall
    sd a0, 8(s0)
    li a7, 99                    # [2] no such hypercall
    ecall
    sd a0, 16(s0)
    la a1, scratch               # [3] grant_table_op(GNTTABOP_query_size)
    li a0, 6
    li a2, 1
    li a7, 20
    ecall
    sd a0, 24(s0)
    li t0, 3                     # [4] event_channel_op(EVTCHNOP_send, port 3), masked
    la a1, scratch
    sw t0, 32(a1)
    addi a1, a1, 32
    li a0, 4
    li a7, 32
    ecall
    sd a0, 32(s0)
    sd s1, 40(s0)                # [5] traps so far: none (masked)
    li t0, 0x80001000
    ld t1, 8(t0)                 # [6] evtchn_pending: bit 3
    sd t1, 48(s0)
    sb zero, 1(t0)               # unmask, and ask: the event comes now
    li a7, 17
    ecall
    sd s1, 56(s0)                # [7] one trap ...
    sd s2, 64(s0)                # [8] ... an event, port 3: cause 9
    rdtime a0                    # [9] set_timer_op, then block: the timer event
    addi a0, a0, 100
    li a7, 15
    ecall
    li a0, 1
    li a7, 29
    ecall
    sd s2, 72(s0)
    la a2, msg                   # console_io, a whole buffer
    li a1, 3
    li a0, 0
    li a7, 18
    ecall
    sd a0, 80(s0)                # [10] 3
"""
    prog = pv_guest(body, 'msg: .ascii "ok\\n"')
    vm = VM(prog, "paravirt", trace="hv")
    assert vm.run().reason == "shutdown"
    r = results(vm, prog, 11)
    assert r[0].to_bytes(8, "little") == b"vkpv-1.0"
    assert r[1:5] == [1 << 16, ENOSYS, 0, 0]
    assert vm.memory.read(prog.symbols["scratch"] + 4, 10) == bytes([1, 0, 0, 0, 1, 0, 0, 0,
                                                                      0, 0])
    assert r[5:] == [0, 1 << 3, 1, (1 << 63 | 9) - (1 << 64), (1 << 63 | 5) - (1 << 64), 3]
    assert vm.console == "ok\n"
    calls = vm.trace_dataset().vk.to_dataframe("hv").query("event == 'hypercall'")
    assert calls["cause"].tolist()[:3] == [0, 17, 99]
    csrs = vm.virtual_csrs()
    assert csrs["trap_entry"] == prog.symbols["handler"] and csrs["mode"] == 1
    assert csrs["shared_info"] == SHARED and csrs["kernel_root"] == 0


def test_a_trap_before_set_trap_table_stops_the_guest() -> None:
    vm = VM(assemble("unimp", base=0x8020_0000), "paravirt")
    with pytest.raises(HypervisorError, match="before set_trap_table"):
        vm.run()


# ---- small PV guests: attacks ------------------------------------------------------------
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


def test_guest_cannot_reach_frames_it_does_not_own() -> None:
    """Each attempt ends in an error returned to the guest, or a fault delivered to it;
    no frame the guest does not own changes, and the tables stay valid."""
    prog = pv_guest(ATTACKER, ATTACKER_DATA)
    vm = VM(prog, "paravirt", ram_mb=8, machine_mb=32)
    pv = vm.technique
    victim = pv.frames.alloc("victim")
    vm.machine.mem.write(victim, b"\xa5" * 4096)
    hvframe = pv.boot_table.pages[0]
    assert pv.frames.owner[hvframe] == HYPERVISOR
    vm.memory.write_u64(prog.symbols["victim"], victim)
    vm.memory.write_u64(prog.symbols["hvframe"], hvframe)
    vm.memory.write_u64(prog.symbols["evil"], ((victim >> 12) << 10) | 0xD7)
    before = foreign_frames(vm)
    assert vm.run(max_steps=2_000_000).reason == "shutdown"
    assert results(vm, prog, len(EXPECTED)) == EXPECTED
    x = vm.machine.hart.x
    assert x["s1"] == 3 + 2  # three stores to the tables, the stale store, the victim load
    assert x["s2"] == K.EXC_LOAD_PAGE  # the last one
    assert x["s6"] == 0
    assert vm.console == ""  # the refused console_io printed nothing
    assert foreign_frames(vm) == before
    evil = vm.memory.machine_address(prog.symbols["evil"])
    assert evil not in pv.level  # its validation failed: no trace of it left
    assert not any(vm.memory.read(FRESH, 4096))  # an empty L0 still
    root = vm.memory.read_u64(TABLES)
    assert root == 0  # the 'done' of [20] was not written into our root
    assert validated_tables_are_safe(vm)
