"""Para-virtualization (vkernel/hv/paravirt.py, docs/paravirt.md): the PV twin of the guest
kernel must behave exactly as the native one, cheaply, and the hypercall ABI must keep a
guest that tries to reach what it does not own inside its own frames.

The adversarial guests here are small PV kernels written for the tests (tests/hvguests.py).
"""

from __future__ import annotations

from collections import Counter

import pytest
from hvguests import (
    ATTACKER,
    ATTACKER_DATA,
    EXPECTED,
    FRESH,
    SHARED,
    TABLES,
    pv_guest,
    validated_tables_are_safe,
)

from vkernel import assemble
from vkernel.core import kernel as K
from vkernel.guests import USER_POOL, WORKLOADS, kernel, native
from vkernel.hv import VM, HypervisorError
from vkernel.hv.memory import HYPERVISOR

EPERM, EFAULT, EINVAL, ENOSYS = -1, -14, -22, -38
POOL = (USER_POOL[0], USER_POOL[1] - USER_POOL[0])


def signed(v: int) -> int:
    return v - (1 << 64) if v >> 63 else v


# ---- the isolation invariant -------------------------------------------------------------
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


def test_address_space_work_is_hypercalls() -> None:
    """The memory benchmarks' page-table work, para-virtualized. map-unmap: a map and an
    unmap, each one mmu_update (hypercall 1) and one INVLPG (mmuext_op, 26). as-switch:
    two switches, each one mmuext_op (NEW_BASEPTR and NEW_USER_BASEPTR together), no
    page-table write. fork-copy: the child's five PTEs in one mmu_update, two switches
    and the child's flush: three mmuext_ops."""
    per_op = {"map-unmap": (2, 2), "as-switch": (0, 2), "fork-copy": (1, 3)}
    for workload, (updates, mmuext) in per_op.items():
        a, b = exits(workload, 10), exits(workload, 30)
        assert (b["hypercall 1"] - a["hypercall 1"]) / 20 == updates, workload
        assert (b["hypercall 26"] - a["hypercall 26"]) / 20 == mmuext, workload


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
