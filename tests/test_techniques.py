"""The same guest kernel under every technique: Popek and Goldberg's equivalence.

Each shipped workload runs natively (no hypervisor) and under every virtualization
technique; its console output and the final contents of its user programs' memory (the
kernel's user pool, in guest physical memory) must be identical. Timing is not compared:
the kernel's output does not depend on it (it prints each process's output in pid order
at the end), which is exactly the "except for timing" of the equivalence property.

With the Popek-Goldberg switch on (sstatus sensitive but unprivileged, as x86's POPF),
trap-and-emulate goes visibly wrong and the other techniques still match native.
"""

from __future__ import annotations

import importlib.util

import pytest

from vkernel import assemble, guests
from vkernel.hv import VM

USER_POOL = guests.USER_POOL
TECHNIQUES = ["trap-emulate", "binary-translation", "hardware"]
if importlib.util.find_spec("vkernel.hv.paravirt") is not None:
    TECHNIQUES.append("paravirt")
N = 60  # benchmark operations: enough to exercise every path, quick to run
# hardware assistance without a G-stage (first-generation VT-x): shadow tables in vsatp
PAGING = {"hardware-shadow": ("hardware", {"paging": "shadow"})}


def run(workload: str, technique: str, **kw) -> VM:  # noqa: ANN003
    n = N if guests._WORKLOADS[workload].max_n else None
    technique, more = PAGING.get(technique, (technique, {}))
    vm = VM(workload, technique=technique, ram_mb=8, n=n, **kw, **more)
    result = vm.run(max_steps=30_000_000)
    assert result.reason == "shutdown", (workload, technique, result, vm.console[-300:])
    return vm


def user_memory(vm: VM) -> bytes:
    return vm.memory.read(USER_POOL[0], USER_POOL[1] - USER_POOL[0])


_NATIVE: dict[tuple[str, bool], VM] = {}


def native(workload: str, switch: bool = False) -> VM:
    if (workload, switch) not in _NATIVE:
        _NATIVE[workload, switch] = run(workload, "native", sensitive_unprivileged=switch)
    return _NATIVE[workload, switch]


# the shadow paging schemes (vkernel.hv.base.SHADOWS): the default, write-protect, runs
# under every technique above that has shadows; the simple one here too
SIMPLE = [("trap-emulate", "simple"), ("binary-translation", "simple")]


@pytest.mark.parametrize(("technique", "shadow"),
                         [(t, None) for t in [*TECHNIQUES, *PAGING]] + SIMPLE)
@pytest.mark.parametrize("workload", list(guests.WORKLOADS))
def test_equivalence(workload, technique, shadow):
    base = native(workload)
    vm = run(workload, technique, shadow=shadow)
    assert vm.console == base.console
    assert vm.result.code == base.result.code == 0
    assert user_memory(vm) == user_memory(base)
    assert any(user_memory(vm))  # (the pool is not simply empty)


@pytest.mark.parametrize("technique", TECHNIQUES)
def test_popek_goldberg_switch(technique):
    """With sstatus sensitive but unprivileged, the guest kernel's `csrc sstatus, SIE`
    never reaches a trap-and-emulate hypervisor, nor does its `csrs`: its boot self-check
    waits for a timer tick that the hypervisor, believing interrupts are still off, never
    delivers, and the kernel panics. Binary translation rewrites those instructions, the
    para-virtual kernel does not use them, and the H extension gives the guest its own
    sstatus (vsstatus): they all still match the native machine (switch on too)."""
    base = native("hello", switch=True)
    vm = VM("hello", technique=technique, ram_mb=8, sensitive_unprivileged=True)
    result = vm.run(max_steps=30_000_000)
    if technique == "trap-emulate":
        assert "panic: timer interrupt not taken after csrs sstatus, SIE" in vm.console
        assert result.code == 1
        assert vm.console.splitlines()[:2] == base.console.splitlines()[:2]
    else:
        assert (result.reason, result.code) == ("shutdown", 0)
        assert vm.console == base.console


@pytest.mark.parametrize("workload", ["hello", "faults"])
def test_both_kernels_print_a_line_per_call(workload):
    """A fair console: the native kernel prints with SBI DBCN console_write, a whole line
    per call, as its para-virtual twin prints a line per console_io hypercall (every line
    here is shorter than the kernel's 256-byte line buffer). Under the hardware technique
    each SBI call is one sbi_call row of the hv trace (extension, function)."""
    lines = native(workload).console.count("\n")
    hw = VM(workload, technique="hardware", ram_mb=8, trace="hv")
    pv = VM(workload, technique="paravirt", ram_mb=8, trace="hv")
    assert hw.run(max_steps=30_000_000).reason == pv.run(max_steps=30_000_000).reason
    assert hw.console == pv.console == native(workload).console
    sbi = hw.trace_dataset().vk.to_dataframe("hv")
    sbi = sbi[sbi.event == "sbi_call"]
    assert ((sbi.cause == 0x4442434E) & (sbi.detail == 0)).sum() == lines  # DBCN write
    assert ((sbi.cause == 0x4442434E) & (sbi.detail == 2)).sum() == 0      # no write_byte
    hyper = pv.trace_dataset().vk.to_dataframe("hv")
    assert ((hyper.event == "hypercall") & (hyper.cause == 18)).sum() == lines  # console_io


def test_binary_translation_timer_inside_an_expansion_that_ends_in_a_callout():
    """A regression: a machine-timer interrupt that lands inside the translation of one
    guest instruction whose expansion ends in a callout (with this kernel, in the
    call-return benchmark of 100 operations). The translator lets the expansion finish
    before it delivers the interrupt; it used to step the callout's ebreak forever."""
    vm = VM("call-return", technique="binary-translation", ram_mb=8, n=100)
    assert vm.run(max_steps=5_000_000).reason == "shutdown"
    base = VM("call-return", technique="native", ram_mb=8, n=100)
    base.run(max_steps=5_000_000)
    assert vm.console == base.console


# --- self-modifying kernel code -----------------------------------------------------------
# A small guest kernel patches an instruction of its own (``addi s0, s0, 1`` becomes
# ``addi s0, s0, 8``), runs fence.i, runs the patched code, prints a character of the sum
# and shuts down with the sum as its reason. Binary translation has translated the code it
# patches, so the store lands on a write-protected page of translated code. Two rounds, so
# every store but the first writes a page whose translations were made again.
OLD, NEW = "addi s0, s0, 1", "addi s0, s0, 8"
PLACES = {  # where the patched instruction is: (code before the store, the target, after)
    "ahead": ("", "patch", "patch: " + OLD),                 # later in the store's block
    "behind": ("patch: " + OLD, "patch", ""),                # earlier in the store's block
    "itself": ("", "store", ""),                             # the store overwrites itself
    "block": ("call bump", "bump", "call bump"),             # another, translated block
    "page": ("call far_bump", "far_bump", "call far_bump"),  # ... on another page
}
EXPECTED = {"ahead": 16, "behind": 9, "itself": 8, "block": 25, "page": 25}
# the unmodified kernel asks its SBI, the para-virtual twin makes hypercalls
SBI_CALLS = {
    "start": "la t0, trap\n    csrw stvec, t0",
    "dot": "li a0, '.'\n    li a6, 2\n    li a7, 0x4442434E",  # DBCN console_write_byte
    "print": "addi a0, s0, '0'\n    li a6, 2\n    li a7, 0x4442434E\n    ecall",
    "off": "li a0, 0\n    li a6, 0\n    li a7, 0x53525354\n    ecall",  # SRST, reason a1
}
HYPERCALLS = {
    "start": "la a0, trap\n    li a7, 0\n    ecall",  # set_trap_table
    "dot": "li a0, 0\n    li a1, 1\n    la a2, dot\n    li a7, 18",  # console_io
    "print": "addi t2, s0, '0'\n    la a2, out\n    sb t2, 0(a2)\n    li a0, 0\n"
             "    li a1, 1\n    li a7, 18\n    ecall",
    "off": "li a0, 2\n    li a7, 29\n    ecall",  # sched_op(SCHEDOP_shutdown, reason a1)
}


def self_modifying_guest(place: str, ecall: bool, paravirt: bool = False) -> object:
    """``ecall``: an SBI call (a hypercall) right after the store, before fence.i."""
    calls = HYPERCALLS if paravirt else SBI_CALLS
    before, target, after = PLACES[place]
    new = int.from_bytes(assemble(NEW).sections[".text"].data, "little")
    return assemble(f"""
    .option norvc
_start:
    {calls["start"]}
    li s0, 0
    li s1, 2
round:
    {before}
    la t0, {target}
    li t1, {new:#x}
    {calls["dot"] if ecall else ""}
store:
    sw t1, 0(t0)
    {"ecall" if ecall else ""}
    fence.i
    {after}
    addi s1, s1, -1
    bnez s1, round
    {calls["print"]}
    mv a1, s0
    {calls["off"]}
trap:
    li a1, 99
    {calls["off"]}
bump:
    {OLD}
    ret
    .balign 4096
far_bump:
    {OLD}
    ret
    .data
dot: .ascii "."
out: .byte 0
""", base=0x8020_0000, name=f"smc-{place}")


@pytest.mark.parametrize("ecall", [False, True], ids=["fence", "ecall"])
@pytest.mark.parametrize("place", list(PLACES))
def test_self_modifying_kernel_code(place, ecall):
    """The guest sees its new instruction run, the same under every technique as on the
    bare machine (binary translation used to raise KeyError in the hypervisor: its exit
    handler kept a cache address across the flush that the store caused, and the store,
    translated again, faulted again forever)."""
    base = VM(self_modifying_guest(place, ecall), technique="native", ram_mb=8)
    assert base.run(max_steps=100_000).reason == "shutdown"
    assert base.result.code == EXPECTED[place]
    assert base.console == "." * 2 * ecall + chr(ord("0") + EXPECTED[place])
    for technique, shadow in [(t, None) for t in TECHNIQUES] + SIMPLE:
        guest = self_modifying_guest(place, ecall, paravirt=technique == "paravirt")
        vm = VM(guest, technique=technique, ram_mb=8, shadow=shadow)
        result = vm.run(max_steps=100_000)
        assert (result.reason, result.code, vm.console) == \
            ("shutdown", base.result.code, base.console), (technique, shadow)
        if technique == "binary-translation":  # each store and fence.i emptied the cache
            assert vm.technique.flushes == 4 - (place == "itself")  # (one store is gone)


def test_binary_translation_with_a_cache_that_keeps_filling_up(monkeypatch):
    """A one-page translation cache is flushed while callouts are handled: chaining must
    not patch the flushed cache, and the guest must never be left holding a cache address
    (an interrupt taken at a CSR callout: its sepc) that a flush takes away."""
    from vkernel.hv import binary_translation

    monkeypatch.setattr(binary_translation, "TC_PAGES", 1)
    for workload in ("hello", "faults", "irq-mask"):
        vm = run(workload, "binary-translation")
        assert vm.technique.flushes > 0
        assert vm.console == native(workload).console


@pytest.mark.parametrize("technique", [t for t in TECHNIQUES if t != "paravirt"])
def test_interrupt_taken_at_a_csr_write_has_the_guests_sepc(technique):
    """The guest's timer is pending when its kernel sets sstatus.SIE: the interrupt is
    taken right after that instruction, and sepc holds the guest's own address there
    (binary translation emulates the csrs in a callout: it used to leave a cache
    address in sepc)."""
    guest = assemble("""
_start:
    la t0, trap
    csrw stvec, t0
    li t0, 32                    # sie.STIE
    csrs sie, t0
    rdtime a0                    # SBI set_timer(now): the timer is due at once
    li a6, 0
    li a7, 0x54494D45
    ecall
1:  csrr t0, sip                 # wait until it is pending
    andi t0, t0, 32
    beqz t0, 1b
    csrsi sstatus, 2             # SIE: the interrupt comes right after this
next:
    j next
trap:
    csrr a1, sepc                # shut down with sepc - _start as the reason
    la t0, _start
    sub a1, a1, t0
    li a0, 0
    li a6, 0
    li a7, 0x53525354
    ecall
""", base=0x8020_0000)
    vm = VM(guest, technique=technique, ram_mb=8)
    result = vm.run(max_steps=100_000)
    assert (result.reason, result.code) == ("shutdown", guest.symbols["next"] - 0x8020_0000)
