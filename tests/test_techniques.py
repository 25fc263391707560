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

from vkernel import guests
from vkernel.hv import VM

USER_POOL = guests.USER_POOL
TECHNIQUES = ["trap-emulate", "binary-translation", "hardware"]
if importlib.util.find_spec("vkernel.hv.paravirt") is not None:
    TECHNIQUES.append("paravirt")
N = 60  # benchmark operations: enough to exercise every path, quick to run


def run(workload: str, technique: str, **kw) -> VM:  # noqa: ANN003
    n = N if guests._WORKLOADS[workload].max_n else None
    vm = VM(workload, technique=technique, ram_mb=8, n=n, **kw)
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


@pytest.mark.parametrize("technique", TECHNIQUES)
@pytest.mark.parametrize("workload", list(guests.WORKLOADS))
def test_equivalence(workload, technique):
    base = native(workload)
    vm = run(workload, technique)
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
