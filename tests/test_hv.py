"""The hypervisor layer: VMs, VM exits, SBI, MMIO emulation, the hv trace, isolation.

The guests here are small kernels written for the tests (tests/hvguests.py); the shipped
guest kernel and its workloads are checked under every technique in
tests/test_techniques.py.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from hvguests import HANDLER, SBI_OFF, SBI_PUTCHAR, attack_guest, guest, leaves
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import assemble
from vkernel.core import kernel as K
from vkernel.hv import VM, HypervisorError
from vkernel.hv.cost import CostModel
from vkernel.hv.memory import HYPERVISOR, GuestMemoryError

# "hardware-shadow": hardware assistance without a G-stage (paging="shadow", first-generation
# VT-x), which must keep a guest in its own memory just as well
TECHNIQUES = ["hardware", "hardware-shadow", "trap-emulate", "binary-translation"]


def make_vm(program, *, technique, **kw):  # noqa: ANN001, ANN003, ANN201
    """VM(program, technique=..., ...), "hardware-shadow" being hardware with paging="shadow"."""
    if technique == "hardware-shadow":
        return VM(program, technique="hardware", paging="shadow", **kw)
    return VM(program, technique=technique, **kw)


def test_sbi_console_and_shutdown_with_exits_in_the_trace():
    vm = VM(guest("\n".join(f"li a0, {ord(c)}\n{SBI_PUTCHAR}" for c in "hi!")), ram_mb=4,
            trace=("hv", "trap", "step"))
    result = vm.run()
    assert (result.reason, result.code) == ("shutdown", 0)
    assert vm.console == "hi!"
    ds = vm.trace_dataset()
    assert ds.attrs["technique"] == "hardware"
    events = ds.vk.to_dataframe("hv")
    # each SBI call: a VM exit (ecall from VS, cause 10) then the call emulated
    assert events["event"].tolist() == ["vm_exit", "sbi_call"] * 4
    assert set(events.loc[events.event == "vm_exit", "cause"]) == {10}
    assert len(ds.trap) == 0  # the exits never reached a handler in the machine
    cost = ds.vk.cost()
    model = CostModel()
    assert cost.loc["vm_exit", "cycles"] == 4 * model.vm_exit
    assert cost.loc["instructions", "events"] == ds.sizes["step"]
    assert cost.loc["total", "cycles"] == cost["cycles"].iloc[:-1].sum()
    cheaper = ds.vk.cost(CostModel(vm_exit=937))
    assert cheaper.loc["vm_exit", "cycles"] == 4 * 937
    assert (ds.step_mode.values == 5).all()  # every guest instruction ran in VS


def test_guest_traps_stay_in_the_guest():
    """An illegal instruction and a breakpoint in the guest are delegated to it (hedeleg):
    no VM exit, the guest's own handler runs in VS."""
    vm = VM(guest("unimp\nebreak\nmv a0, s1\naddi a0, a0, 48\n" + SBI_PUTCHAR), ram_mb=4,
            trace=("hv", "trap"))
    vm.run()
    assert vm.console == "2"
    ds = vm.trace_dataset()
    assert ds.trap_cause.values.tolist() == [2, 3]
    assert (ds.trap_to_mode.values == 5).all()
    assert ds.vk.cost().loc["vm_exit", "events"] == 2  # the two SBI calls only


def test_trap_and_emulate_reflects_and_emulates():
    """The same guest deprivileged: each of its CSR instructions and sret traps and is
    emulated; its illegal instruction and breakpoint exit too and are reflected into its
    own handler (injections); the machine itself takes no trap in a handler."""
    prog = guest("unimp\nebreak\nmv a0, s1\naddi a0, a0, 48\n" + SBI_PUTCHAR)
    vm = VM(prog, ram_mb=4, technique="trap-emulate", trace=("hv", "trap", "step"))
    vm.run()
    assert vm.console == "2"
    ds = vm.trace_dataset()
    assert ds.sizes["trap"] == 0
    assert set(ds.step_mode.values.tolist()) == {0}  # the guest kernel ran in U-mode
    rows = ds.vk.to_dataframe("hv")
    inj = rows[rows.event == "injection"]
    assert inj["cause"].tolist() == [2, 3]
    emulated = rows[rows.event == "emulation"]["detail"].tolist()
    # csrw stvec, then per trap: csrr scause, stval, sepc, csrw sepc, sret (by its bits)
    sret = 0x10200073
    handler = [K.CSR_SCAUSE, K.CSR_STVAL, K.CSR_SEPC, K.CSR_SEPC, sret]
    assert emulated == [K.CSR_STVEC] + handler * 2
    cost = ds.vk.cost()
    # exits: 2 SBI calls, 2 reflected traps, 11 emulations, and 1 hidden page fault (the
    # first fetch: the shadow had no entry for the code's page yet)
    assert cost.loc["shadow_update", "events"] == 1
    assert cost.loc["vm_exit", "events"] == 2 + 2 + 11 + 1
    assert cost.loc["vm_exit", "cycles"] == 16 * CostModel().trap_exit
    assert vm.virtual_csrs()["stvec"] == prog.symbols["handler"]
    assert vm.machine.hart.csr["stvec"] == 0  # the machine's own was never touched


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_mmio_device_register_emulated(technique):
    """The UART is not mapped in the G-stage: every access exits (a guest-page fault) and
    the hypervisor performs it on the guest's virtual UART."""
    body = """
    li s0, 0x10000000
    lbu a0, 5(s0)          # LSR: transmitter empty (0x60)
    mv s4, a0
    li a0, 'u'
    sb a0, 0(s0)           # THR: a byte to the console
    lb a0, 5(s0)
"""
    vm = make_vm(guest(body), ram_mb=4, trace="hv", technique=technique)
    vm.run()
    assert vm.console == "u"
    assert vm.machine.hart.x["s4"] == 0x60
    rows = vm.trace_dataset().vk.to_dataframe("hv")
    mmio = rows[rows.event == "mmio"]
    assert mmio["detail"].tolist() == [0x1000_0005, 0x1000_0000, 0x1000_0005]


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_hypervisor_only_instructions_become_illegal_in_the_guest(technique):
    """hgatp and HLV belong to HS: from VS they raise virtual-instruction exceptions (from
    a deprivileged guest, illegal instructions), and the hypervisor gives the guest what
    it would see without them: an illegal-instruction exception."""
    body = "csrw hgatp, zero\nhlv.d a0, (sp)\ncsrr a0, hstatus\nmv s5, s1\n"
    vm = make_vm(guest(body), ram_mb=4, trace=("hv", "trap"), technique=technique)
    hgatp = vm.machine.hart.csr["hgatp"]
    vm.run()
    assert vm.machine.hart.x["s5"] == 3
    assert vm.machine.hart.csr["hgatp"] == hgatp
    rows = vm.trace_dataset().vk.to_dataframe("hv")
    inj = rows[rows.event == "injection"]
    assert inj["cause"].tolist() == [K.EXC_ILLEGAL] * 3


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_guest_physical_memory_is_scattered(technique):
    vm = make_vm(guest(""), ram_mb=4, technique=technique)
    p2m = vm.memory.p2m
    assert len(p2m) == 1024 and len(set(p2m.tolist())) == 1024
    steps = np.diff(p2m)
    assert np.count_nonzero(steps == 4096) < 50  # neighbours are rarely neighbours
    owners = vm.technique.frames.owner
    assert {owners[int(f)] for f in p2m} == {"guest"}
    root = {"hardware": "hgatp", "hardware-shadow": "vsatp"}.get(technique, "satp")
    assert owners[int(vm.machine.hart.csr[root] & ((1 << 44) - 1)) << 12] == HYPERVISOR
    with pytest.raises(GuestMemoryError, match="not in the guest's RAM"):
        vm.memory.read(0x9000_0000, 8)


def test_unknown_technique_and_guest():
    with pytest.raises(HypervisorError, match="choose from native, trap-emulate"):
        VM(guest(""), technique="magic")
    with pytest.raises(HypervisorError, match="Program or a workload name"):
        VM(42)


# ------------------------------------------------------------------- isolation
def _foreign_frames(vm: VM) -> dict[int, bytes]:
    """Every machine frame that is neither the guest's nor the hypervisor's (free frames,
    and a victim's), as it is now: nothing may change them."""
    owner = vm.technique.frames.owner
    mem = vm.machine.mem
    return {a: mem.read(a, 4096) for a in range(K.RAM_BASE, K.RAM_BASE + mem.size, 4096)
            if owner.get(a) not in ("guest", HYPERVISOR)}


def _unchanged(vm: VM, before: dict[int, bytes]) -> bool:
    """Frames foreign before the run and still foreign (the hypervisor may have taken free
    ones for its own tables meanwhile) hold what they held."""
    after = _foreign_frames(vm)
    return all(after[a] == before[a] for a in after.keys() & before.keys())


def _hypervisor_maps_only_the_guest(vm: VM) -> bool:
    """The isolation invariant itself: every translation the hypervisor gives the
    hardware (the G-stage table, or every shadow table) leads to a guest frame."""
    owner = vm.technique.frames.owner
    mem = vm.machine.mem
    if vm.technique_name == "hardware" and vm.technique.gstage is not None:
        frames = leaves(mem, vm.technique.gstage.root, root_bits=11)
    else:
        frames = [f for table in vm.technique.shadow.tables.values()
                  for f in leaves(mem, table.pages[0])]
    granted = set()
    if vm.technique_name == "binary-translation":  # the guest kernel's own translations
        granted = set(vm.technique.tc_frames) | {vm.technique.vcpu_frame}  # and vCPU page
    return all(owner.get(f) == "guest" or f in granted for f in frames)


def _victim(vm: VM) -> int:
    """A frame owned by someone else (another domain), full of a pattern."""
    frame = vm.technique.frames.alloc("victim")
    vm.machine.mem.write(frame, b"\xa5" * 4096)
    return frame


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(
    st.integers(0x8200_0000, (1 << 41) - 8),  # beyond the guest's RAM (and the machine's)
    st.integers(0x8080_0000, 0x8200_0000 - 8),  # the machine's other frames, as GPAs
    st.integers(0, 0x0FFF_FFF8),  # low addresses (no device answers there for guests)
    st.integers(1 << 41, (1 << 64) - 8),  # beyond Sv39x4's 41 bits
), min_size=1, max_size=6))
@pytest.mark.parametrize("technique", TECHNIQUES)
def test_guest_cannot_touch_what_it_does_not_own(technique, addrs):
    """Loads, stores and AMOs at addresses outside the guest's RAM: every one faults inside
    the guest (nothing maps them: a guest-page fault in the G-stage, or a page fault in
    the shadow that the guest's own tables cannot explain, which the hypervisor turns into
    an access fault for the guest), and no frame the guest does not own changes."""
    addrs = [a & ~7 for a in addrs]
    probe = make_vm(guest(""), ram_mb=8, machine_mb=32, technique=technique)
    addrs.append(_victim(probe))  # the same seed: the same frame in the VM below
    vm = make_vm(attack_guest(addrs), ram_mb=8, machine_mb=32, trace="hv",
                 technique=technique)
    assert _victim(vm) == addrs[-1]
    before = _foreign_frames(vm)
    assert vm.run().reason == "shutdown"
    assert vm.machine.mem.read(addrs[-1], 4096) == b"\xa5" * 4096  # the victim's
    x = vm.machine.hart.x
    assert x["s7"] == 4 * len(addrs)
    # the victim's machine address may also be a guest physical address of the guest's
    # own RAM: then it reaches the guest's page there (that is what addresses mean)
    outside = [a for a in addrs if a not in vm.memory]
    if technique == "binary-translation":
        # the translator's reserved windows (as VMware reserved the top of the guest's
        # address space): the guest kernel reaches its own vCPU page and its translations
        # there, nothing foreign; so accesses there need not fault
        from vkernel.hv.binary_translation import TC_PAGES, TC_VA, VCPU_VA
        in_cache = [a for a in outside if TC_VA <= a < TC_VA + TC_PAGES * 4096]
        outside = [a for a in outside if a < VCPU_VA and a not in in_cache]
        # the translations are read-only: the three stores there fault, the load does not
        expected = 4 * len(outside) + 3 * len(in_cache)
    else:
        expected = 4 * len(outside)
    assert x["s1"] == expected, "every attempt outside its RAM faulted in the guest"
    assert _unchanged(vm, before)
    assert _hypervisor_maps_only_the_guest(vm)
    rows = vm.trace_dataset().vk.to_dataframe("hv")
    assert (rows.event == "injection").sum() == expected


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_guest_page_tables_cannot_reach_foreign_frames(technique):
    """The guest builds its own Sv39 table mapping a virtual page to the machine address
    of a hypervisor frame (as a guest physical address) and to its own G-stage root: the
    second stage still stands between it and the machine."""
    vm0 = make_vm(guest(""), ram_mb=8, machine_mb=32, technique=technique)
    owner = vm0.technique.frames.owner
    # a G-stage table of the hypervisor's, and a frame nobody owns (both above the guest's
    # RAM, so that as guest physical addresses they are not simply the guest's own pages)
    hv = sorted(a for a, o in owner.items() if o == HYPERVISOR and a >= 0x8080_0000)

    def victim_above(vm: VM) -> int:  # another domain's frame, above the guest's RAM
        while (frame := _victim(vm)) < 0x8080_0000:
            pass
        return frame
    victims = (hv[:1] + [victim_above(vm0), victim_above(vm0)])[:2]
    del vm0
    leaves = "\n".join(f"    .dword {(((v >> 12) << 10) | 0xCF):#x}" for v in victims)
    src = f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
    la t0, root            # root[0] -> l1; l1[0] -> l0; l0[0..] -> the victims
    la t1, l1
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 0(t0)
    la t0, l1
    la t1, l0
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 0(t0)
    la t0, identity        # l1[2] (VA 0x8000_0000.. 1 GiB... by 2 MiB megapages): code
    li t1, 0x80000000
    srli t1, t1, 12
    li t2, 4
1:  slli t3, t1, 10
    ori t3, t3, 0xCF       # V R W X A D
    sd t3, 0(t0)
    addi t0, t0, 8
    addi t1, t1, 512
    addi t2, t2, -1
    bnez t2, 1b
    la t0, root
    la t1, l1b
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 16(t0)
    la t0, root
    srli t0, t0, 12
    li t1, 8
    slli t1, t1, 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li s0, 0               # VA 0: the first victim, VA 0x1000: the second
    ld a0, 0(s0)
    sd s0, 0(s0)
    li s0, 0x1000
    ld a0, 0(s0)
    sd s0, 0(s0)
    mv s5, s1
{SBI_OFF}
{HANDLER}
    .align 12
root: .zero 4096
l1: .zero 4096
l1b:
identity: .zero 4096
l0:
{leaves}
    .zero {4096 - 8 * len(victims)}
"""
    vm = make_vm(assemble(src, base=0x8020_0000), ram_mb=8, machine_mb=32,
                 trace=("hv", "walk"), technique=technique)
    assert (hv[:1] + [victim_above(vm), victim_above(vm)])[:2] == victims  # same seed
    before = _foreign_frames(vm)
    hv_frames = {a: vm.machine.mem.read(a, 4096) for a in victims}
    assert vm.run().reason == "shutdown"
    assert vm.machine.hart.x["s5"] == 4
    assert _unchanged(vm, before)
    assert {a: vm.machine.mem.read(a, 4096) for a in victims} == hv_frames
    assert _hypervisor_maps_only_the_guest(vm)
    ds = vm.trace_dataset()
    if technique == "hardware":  # G-stage walks for guest physical addresses nobody gave
        g = ds.walk_vaddr.values[ds.walk_stage.values == 1]
        assert {int(v) for v in victims} <= {int(a) & ~0xFFF for a in g}
    else:  # the shadow never maps them: every attempt is a fault the guest's tables allow
        assert ds.vk.cost().loc["injection", "events"] == 4


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_guest_satp_aimed_at_foreign_memory_only_traps(technique):
    """A CSR write as the attack: the guest points its page-table root at a hypervisor
    frame's machine address (as a guest physical address, outside its RAM) and turns
    paging on. Its next fetch faults, and so does its trap vector's: a trap storm inside
    the guest (each fault delivered to it), bounded by the budget, the hypervisor intact."""
    probe = make_vm(guest(""), ram_mb=8, machine_mb=32, technique=technique)
    owner = probe.technique.frames.owner
    target = max(a for a, o in owner.items() if o == HYPERVISOR)
    if target < 0x8080_0000:  # as a guest physical address it must be outside guest RAM
        target = 0x81F0_0000
    body = f"""
    li t0, {(8 << 60) | (target >> 12):#x}
    csrw satp, t0
    sfence.vma
    li a0, '!'
{SBI_PUTCHAR}
"""
    vm = make_vm(guest(body), ram_mb=8, machine_mb=32, technique=technique, trace="hv")
    before = _foreign_frames(vm)
    hv_before = {a: vm.machine.mem.read(a, 4096) for a, o in
                 vm.technique.frames.owner.items() if o == HYPERVISOR}
    result = vm.run(max_steps=3000)
    assert result.reason == "budget" and vm.console == ""
    assert vm.virtual_csrs()["satp"] >> 60 == 8  # its own satp: it got what it asked for
    rows = vm.trace_dataset().vk.to_dataframe("hv")
    assert (rows.event == "injection").sum() > 100  # a storm of faults, in the guest
    assert _unchanged(vm, before)
    assert vm.machine.mem.read(target, 4096) == hv_before.get(target, bytes(4096)) \
        or target not in hv_before
    assert _hypervisor_maps_only_the_guest(vm)


# ------------------------------------------------------------------- SBI console_write
SBI_CONSOLE_WRITE = """
    li a7, 0x4442434E
    li a6, 0
    ecall
    sd a0, {slot}(s5)
    sd a1, {slot}+8(s5)
"""


def _operand(reg: str, value: str) -> str:
    """A number, or the address (message) or the value (victim, huge) of a label."""
    if value.lstrip("-")[0].isdigit():
        return f"li {reg}, {value}"
    return f"la {reg}, {value}" if value == "message" else f"ld {reg}, {value}"


def console_write_guest(calls: list[tuple[str, str, str]]) -> object:
    """A guest that prints "ok\\n" with one SBI console_write (DBCN FID 0), then makes
    ``calls`` (a0, a1, a2 as assembly operands: num_bytes, base low, base high), keeping
    each call's (a0, a1) in ``results``; ``victim`` is a slot the test fills."""
    body = ["la s5, results", "li a0, 3", "la a1, message", "li a2, 0",
            SBI_CONSOLE_WRITE.format(slot=0)]
    for i, (n, lo, hi) in enumerate(calls, start=1):
        body += [_operand("a0", n), _operand("a1", lo), f"li a2, {hi}",
                 SBI_CONSOLE_WRITE.format(slot=16 * i)]
    return assemble(f"""
    la t0, handler
    csrw stvec, t0
    li s1, 0
{chr(10).join(body)}
{SBI_OFF}
{HANDLER}
message: .ascii "ok\\n"
    .data                  # (not on a page of code: binary translation watches those)
    .align 3
victim:  .dword 0
huge:    .dword 0x8000000000000000
results: .zero {16 * (len(calls) + 1)}
""", base=0x8020_0000, name="console-writer")


@pytest.mark.parametrize("technique", ["native", *TECHNIQUES])
def test_sbi_console_write_reads_only_the_guests_own_ram(technique):
    """SBI console_write prints a buffer of the guest's own RAM, by its guest-physical
    address, in one call; a buffer that is not all the guest's -- a machine frame of
    someone else's, a range that runs off the end of its RAM, one that wraps around, an
    address above 2^64, a huge length -- is refused with SBI_ERR_INVALID_PARAM and nothing
    is printed (natively the firmware refuses what is not S-mode's RAM: its own code)."""
    ram_end = 0x8080_0000
    calls = [("victim", "victim", "0"),          # someone else's frame (natively: M's)
             ("8", f"{ram_end - 2:#x}", "0"),     # runs off the end of the guest's RAM
             ("huge", "message", "0"),            # 2^63 bytes
             ("16", "-8", "0"),                   # wraps around 2^64
             ("3", "message", "1"),               # base_addr_hi: above 2^64
             ("3", "0x10000000", "0"),            # the UART: a device, not RAM
             ("0", "message", "0")]               # nothing: fine
    prog = console_write_guest(calls)
    vm = make_vm(prog, ram_mb=8, machine_mb=32, trace="hv", technique=technique)
    if technique == "native":
        victim = 0x8000_0000  # the firmware: not S-mode's to pass
    else:
        victim = vm.technique.frames.alloc("victim")
        while victim < ram_end:  # a machine address that is no guest-physical one
            victim = vm.technique.frames.alloc("victim")
        vm.machine.mem.write(victim, b"\xa5" * 4096)
        before = _foreign_frames(vm)
    vm.memory.write_u64(prog.symbols["victim"], victim)
    result = vm.run()
    assert (result.reason, result.code) == ("shutdown", 0)
    assert vm.console == "ok\n"
    raw = vm.memory.read(prog.symbols["results"], 16 * (len(calls) + 1))
    got = [tuple(int.from_bytes(raw[k:k + 8], "little", signed=True) for k in (i, i + 8))
           for i in range(0, len(raw), 16)]
    assert got == [(0, 3)] + [(-3, 0)] * (len(calls) - 1) + [(0, 0)]
    if technique != "native":
        assert _unchanged(vm, before)
        rows = vm.trace_dataset().vk.to_dataframe("hv")
        calls_made = rows[rows.event == "sbi_call"]
        # one row per call, as for every SBI call: the extension and the function
        assert calls_made["cause"].tolist() == [0x4442434E] * (len(calls) + 1) + [0x53525354]
        assert calls_made["detail"].tolist() == [0] * (len(calls) + 2)


# ------------------------------------------------------------------- paging="shadow"
# A guest kernel that pokes (load, store, byte store, AMO) every address of `targets`
# 1. with paging off (satp Bare, as at boot), 2. through a table of its own that maps VA
# 0x4000_0000 + 4 KiB * i to targets[i] (as guest physical addresses), 3. with satp = 0
# written again, and keeps what it reads back from satp in s10; then 4. points satp at
# `root` (an address it does not own) and pokes `targets` once more: a fault storm.
SHADOW_ATTACK = """
    la t0, handler
    csrw stvec, t0
    li s1, 0
    call poke_all                # 1. Bare, as it booted
    la t0, root                  # 2. root[1] -> l1 -> l0; root[2]: its RAM, 1:1
    la t1, l1
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 8(t0)
    li t1, (0x80000000 >> 12 << 10) | 0xCF
    sd t1, 16(t0)
    la t0, l1
    la t1, l0
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 1
    sd t1, 0(t0)
    la a0, l0                    # l0[i] -> targets[i]
    la s4, targets
    ld s5, ntargets
1:  beqz s5, 2f
    ld t1, 0(s4)
    srli t1, t1, 12
    slli t1, t1, 10
    ori t1, t1, 0xCF             # V R W X A D
    sd t1, 0(a0)
    addi a0, a0, 8
    addi s4, s4, 8
    addi s5, s5, -1
    j 1b
2:  la t0, root
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    li s0, 0x40000000
    ld s5, ntargets
3:  beqz s5, 4f
    call poke
    li t0, 4096
    add s0, s0, t0
    addi s5, s5, -1
    j 3b
4:  csrw satp, zero              # 3. Bare again
    sfence.vma
    call poke_all
    csrr s10, satp
    mv s11, s1
    ld t0, foreign               # 4. a root it does not own
    srli t0, t0, 12
    li t1, 8 << 60
    or t0, t0, t1
    csrw satp, t0
    sfence.vma
    call poke_all
    li s11, -1                   # (never reached: its code is not mapped any more)
{SBI_OFF}
poke_all:                        # (the handler keeps s1, s2, s3)
    mv s9, ra
    la s4, targets
    ld s5, ntargets
1:  beqz s5, 2f
    ld s0, 0(s4)
    call poke
    addi s4, s4, 8
    addi s5, s5, -1
    j 1b
2:  mv ra, s9
    ret
poke:
    ld a0, 0(s0)
    sd s4, 0(s0)
    sb s4, 7(s0)
    amoswap.d a1, s4, (s0)
    ret
{HANDLER}
    .data
    .align 12
root: .zero 4096
l1: .zero 4096
l0: .zero 4096
    .align 3
foreign: .dword 0
ntargets: .dword 0
targets: .zero {8 * 32}
"""


@functools.cache
def shadow_attacker() -> object:
    return assemble(SHADOW_ATTACK.replace("{SBI_OFF}", SBI_OFF).replace("{HANDLER}", HANDLER)
                    .replace("{8 * 32}", str(8 * 32)), base=0x8020_0000, name="shadow-attack")


def _tlb_leads_only_to_the_guest(vm: VM) -> bool:
    """Every guest (V=1) translation the TLB holds leads to one of the guest's frames."""
    tlb, mine = vm.machine._tlb, {int(f) for f in vm.memory.p2m}
    pages = [int(tlb[acc, K.TLB_PAGE, i]) for acc in range(3)
             for i in np.nonzero(tlb[acc, K.TLB_KEY])[0].tolist()
             if (int(tlb[acc, K.TLB_KEY, i]) - 1) >> 4 & 1]
    return bool(pages) and all(p in mine for p in pages)


@settings(max_examples=12, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_shadow_paging_guest_never_reaches_a_frame_it_does_not_own(data):
    """Hardware assistance without a G-stage: the VS-stage maps straight to machine
    addresses, so a guest whose own satp reached vsatp would own the machine. It never
    does: with paging off (its Bare satp is a shadow of its RAM), through a table of its
    own, with satp = 0 written again, and with satp aimed at a frame it does not own (the
    hypervisor's shadow root, say), every access outside its RAM -- to the hypervisor's
    shadow tables, another domain's frame, free frames, no RAM at all -- faults inside the
    guest; no frame it does not own changes, every shadow leaf and every TLB entry leads
    to its own frames, and it reads back the satp it wrote."""
    prog = shadow_attacker()
    vm = VM(prog, ram_mb=8, machine_mb=32, technique="hardware", paging="shadow",
            trace="hv")
    victim = _victim(vm)
    owner = vm.technique.frames.owner
    # as guest physical addresses these are outside its RAM (else: its own page there)
    foreign = sorted(a for a, o in owner.items() if o != "guest" and a >= 0x8080_0000)
    shadow = [p for t in vm.technique.shadow.tables.values() for p in t.pages]
    targets = data.draw(st.lists(st.one_of(
        st.sampled_from(foreign), st.sampled_from(shadow), st.just(victim),
        st.integers(0x8080_0000, (1 << 39) - 8),  # free frames, and no RAM at all
    ), min_size=1, max_size=8))
    targets = [a & ~7 for a in targets]
    root = data.draw(st.sampled_from(shadow + [victim]))
    for i, a in enumerate(targets):
        vm.memory.write_u64(prog.symbols["targets"] + 8 * i, a)
    vm.memory.write_u64(prog.symbols["ntargets"], len(targets))
    vm.memory.write_u64(prog.symbols["foreign"], root)
    before = _foreign_frames(vm)
    hv_before = {a: vm.machine.mem.read(a, 4096) for a in shadow}
    outside = [a for a in targets if a not in vm.memory]
    result = vm.run(max_steps=3_000)  # (a step per exit: a thousand-odd in the storm)
    assert result.reason == "budget"
    assert vm.exits > 1000
    x = vm.machine.hart.x
    assert x["s10"] == 0  # satp reads back what the guest wrote
    assert x["s11"] == 3 * 4 * len(outside)  # every attempt faulted, in the guest
    assert vm.virtual_csrs()["satp"] == (8 << 60) | (root >> 12)
    assert vm.machine.hart.csr["vsatp"] == vm.technique.current_shadow().satp
    assert _unchanged(vm, before)
    assert vm.machine.mem.read(victim, 4096) == b"\xa5" * 4096
    # the hypervisor's tables change only as it fills them: each leaf is still the guest's
    assert _hypervisor_maps_only_the_guest(vm)
    assert _tlb_leads_only_to_the_guest(vm)
    assert all(vm.machine.mem.read(a, 4096) == hv_before[a]
               for a in hv_before if owner.get(a) != "hypervisor")
