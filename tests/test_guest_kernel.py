"""The guest software of vkernel/guests, run natively: SBI firmware + kernel + workloads.

Every workload must halt cleanly with exactly the console output worked out here in
Python (Fibonacci numbers and primes are computed independently, not copied from a run);
the benchmarks must cause exactly the traps they promise (counted in the trace); the
timer must preempt; the guest-physical layout of user memory must not depend on timing;
and the boot self-check must catch a machine whose interrupt mask does not work.
"""

from __future__ import annotations

import collections
import shutil

import pytest

from vkernel import Machine, assemble
from vkernel.guests import (
    GUEST_RAM,
    KERNEL_BASE,
    PAGE,
    STACK_PAGES,
    USER_POOL,
    USER_VA,
    WORKLOADS,
    firmware,
    kernel,
    kernel_source,
    native,
    user_images,
)
from vkernel.guests import HERE as GUEST_DIR

BUDGET = 20_000_000       # steps; every workload needs far fewer
S_TIMER = (1 << 63) | 5   # scause of the S timer interrupt
U, S, M = 0, 1, 3         # trap_from_mode / trap_to_mode values
BENCH_NAMES = {"null-syscall", "page-fault", "exception", "call-return", "irq-mask",
               "device", "pte-update", "map-unmap", "as-switch", "fork-copy"}


# ---- what the console must say, worked out independently --------------------------------

def fibonacci(count: int) -> list[int]:
    out, a, b = [], 0, 1
    for _ in range(count):
        out.append(a)
        a, b = b, a + b
    return out


def primes_below(limit: int) -> list[int]:
    return [n for n in range(2, limit) if all(n % d for d in range(2, int(n**0.5) + 1))]


def process_lines(workload: str, n: int | None) -> list[list[str]]:
    """Each process's own output lines, in pid order."""
    if workload == "hello":
        fib = ["hello from process 1"] + [f"fib({i}) = {f}" for i, f in enumerate(fibonacci(10))]
        primes = primes_below(200)
        return [fib, [f"primes below 200: {len(primes)}, sum {sum(primes)}"]]
    if workload in BENCH_NAMES:
        return [[f"{workload}: {1000 if n is None else n} done"]]
    assert workload == "faults"
    segv, illegal = (u.program.symbols for u in user_images("faults")[1:])
    csrr_t0_sstatus = (0x100 << 20) | (2 << 12) | (5 << 7) | 0x73  # csrrs t0, sstatus, x0
    return [["efault: a buffer on the stack is fine", "efault: 4 bad buffers refused"],
            ["segv: storing to 0x20000000",
             f"killed: store page fault (pc {segv['faulting_store']:#x}, address 0x20000000)"],
            ["illegal: reading sstatus in user mode",
             f"killed: illegal instruction (pc {illegal['faulting_csrr']:#x}, "
             f"instruction {csrr_t0_sstatus:#x})"]]


def expected_console(workload: str, n: int | None = None) -> str:
    images = user_images(workload, n)
    lines = [f'boot: vkernel guest kernel, workload "{workload}"', "boot: paging on (Sv39)",
             "boot: interrupts off/on: ok"]
    lines += [f"boot: pid {pid}: {u.pages} program pages, {STACK_PAGES} stack pages"
              for pid, u in enumerate(images, 1)]
    outputs = process_lines(workload, n)
    for pid, out in enumerate(outputs, 1):
        lines += [f"[{pid}] {line}" for line in out]
    status = {"faults": [0, 139, 132]}.get(workload, [0] * len(images))
    lines += [f"halt: pid {pid} exit {s}" for pid, s in enumerate(status, 1)]
    return "\n".join(lines) + "\n"


def run(m: Machine) -> Machine:
    exit = m.run(max_steps=BUDGET)
    assert (exit.reason, exit.exit_code) == ("halt", 0), (exit, m.console)
    return m


def traced(workload: str, n: int | None = None, **kw: int) -> tuple[Machine, collections.Counter]:
    """Run with the trap trace on: the machine, and a Counter of (cause, from, to)."""
    m = native(workload, n, **kw)
    m.trace("trap")
    run(m)
    t = m.events("trap")
    return m, collections.Counter(zip(t["cause"].tolist(), t["from_mode"].tolist(),
                                      t["to_mode"].tolist(), strict=True))


def user_pa(workload: str, pid: int, va: int) -> int:
    """Where the kernel puts a process's program byte: user pages are handed out in pid
    order (each program's image, then its stack), so this is known in advance."""
    images = user_images(workload)
    first = sum(u.pages + STACK_PAGES for u in images[:pid - 1])
    return USER_POOL[0] + first * PAGE + (va - USER_VA)


# ---- the workloads ----------------------------------------------------------------------

@pytest.mark.parametrize("workload", list(WORKLOADS))
def test_workload_runs_natively_with_the_expected_output(workload: str) -> None:
    m = run(native(workload))
    assert m.console == expected_console(workload)
    # nothing was stored outside the firmware's and the kernel's memory
    fw_end = max(sec.end for sec in firmware().sections.values())
    assert not any(m.mem.read(fw_end, KERNEL_BASE - fw_end))
    assert not any(m.mem.read(GUEST_RAM[1], m.mem.size - (GUEST_RAM[1] - GUEST_RAM[0])))


def test_bench_n_is_substituted() -> None:
    m = run(native("call-return", n=7))
    assert m.console == expected_console("call-return", 7)
    assert kernel("call-return", 7) is kernel("call-return", n=7)  # assembled once


def test_hello_leaves_its_arrays_in_its_data_pages() -> None:
    m = run(native("hello"))
    fib, primes = (u.program.symbols for u in user_images("hello"))
    got = [m.mem.read_u64(user_pa("hello", 1, fib["fibs"]) + 8 * i) for i in range(10)]
    assert got == fibonacci(10)
    expected = primes_below(200)
    at = user_pa("hello", 2, primes["primes"])
    assert [m.mem.read_u64(at + 8 * i) for i in range(len(expected) + 1)] == expected + [0]


def test_page_fault_benchmark_takes_exactly_n_page_faults() -> None:
    for n in (1000, 123):
        _, traps = traced("page-fault", n)
        faults = {c: k for (c, f, to), k in traps.items() if c in (12, 13, 15)}
        assert faults == {15: n}  # one store page fault per page, none anywhere else
        assert traps[(15, U, S)] == n


def test_exception_benchmark_takes_exactly_n_breakpoints() -> None:
    _, traps = traced("exception")
    assert traps[(3, U, S)] == 1000
    assert sum(k for (c, *_), k in traps.items() if c == 3) == 1000


def test_null_syscall_benchmark_makes_n_ecalls() -> None:
    _, traps = traced("null-syscall", 500)
    assert traps[(8, U, S)] == 500 + 2  # and write() and exit()


def test_in_kernel_benchmarks_trap_only_for_their_own_syscalls() -> None:
    for workload in ("call-return", "irq-mask", "device", "pte-update", "map-unmap",
                     "as-switch", "fork-copy"):
        _, traps = traced(workload)
        assert traps[(8, U, S)] == 3, workload  # vk_bench, write, exit
        assert not any(c < 16 and c != 8 and to == S for (c, f, to) in traps), workload


def test_memory_benchmarks_touch_their_pages_n_times() -> None:
    """map-unmap stores to its page through the user mapping it has just made, as-switch
    to its page in the second address space: each page (the first user page after the
    process's own) counts the operations. (fork-copy only reads; a child's table without
    the copied mapping would make the kernel's load fault, and the kernel panic.)"""
    for workload in ("map-unmap", "as-switch"):
        m = run(native(workload, 37))
        u = user_images(workload, 37)[0]
        page = USER_POOL[0] + (u.pages + STACK_PAGES) * PAGE
        assert m.mem.read_u64(page) == 37, workload
        assert not any(m.mem.read(page + 8, PAGE - 8))


def test_the_timer_preempts_hello() -> None:
    _, traps = traced("hello")
    assert traps[(S_TIMER, U, S)] > 1
    assert traps[(S_TIMER, S, S)] == 1  # the boot self-check's tick, and no other


def test_user_memory_does_not_depend_on_the_time_slice() -> None:
    pool = (USER_POOL[0], USER_POOL[1] - USER_POOL[0])
    runs = []
    for time_slice in (500, 37):
        m, traps = traced("hello", time_slice=time_slice)
        runs.append((m.console, m.mem.read(*pool), traps[(S_TIMER, U, S)]))
    (console_a, memory_a, ticks_a), (console_b, memory_b, ticks_b) = runs
    assert ticks_a != ticks_b  # the runs really were scheduled differently
    assert console_a == console_b
    assert memory_a == memory_b
    assert any(memory_a)


def test_kernel_stays_in_its_memory() -> None:
    prog = kernel("hello")
    assert all(KERNEL_BASE <= s.addr and s.end <= 0x8030_0000 for s in prog.sections.values())


# ---- the boot self-check (Popek and Goldberg) -------------------------------------------

def test_self_check_catches_an_interrupt_mask_that_does_not_mask(tmp_path) -> None:
    # a stand-in for a machine where `csrc sstatus, SIE` silently does nothing: the
    # kernel's own source, with its masking instruction (irq_off, kernel/irq.native.s)
    # turned into unmasking in a copy of the kernel's files
    masking = "        csrc  sstatus, 2                # SIE = 0: interrupts off\n"
    parts = tmp_path / "kernel"
    shutil.copytree(GUEST_DIR / "kernel", parts)
    irq = (parts / "irq.native.s").read_text()
    assert irq.count(masking) == 1
    (parts / "irq.native.s").write_text(irq.replace(masking, "        csrs  sstatus, 2\n"))
    # the copy first, then the shipped folder for what the copy lacks (syscalls.inc)
    broken = assemble(kernel_source("hello"), base=KERNEL_BASE,
                      include_dirs=[tmp_path, GUEST_DIR])
    assert broken.sections[".text"].data != kernel("hello").sections[".text"].data
    m = Machine(ram_mb=16)
    m.load(broken)
    m.load(firmware())
    exit = m.run(max_steps=BUDGET)
    assert (exit.reason, exit.exit_code) == ("halt", 1)
    assert m.console.endswith("panic: interrupt taken with interrupts off\n")


def test_sensitive_unprivileged_csr_read_is_not_caught_in_user_mode() -> None:
    # vkernel's teaching switch makes `csrr sstatus` in U work instead of trapping: the
    # "illegal" process of the faults workload is then not killed
    m = Machine(ram_mb=16, sensitive_unprivileged=True)
    m.load(kernel("faults"))
    m.load(firmware())
    run(m)
    assert "[3] FAILED: csrr sstatus worked in user mode\n" in m.console
    assert m.console.endswith("halt: pid 3 exit 1\n")


# ---- the firmware on its own ------------------------------------------------------------

SBI_PROBE = """
        .equ EID_DBCN, 0x4442434E
        .equ EID_SRST, 0x53525354
_start: li    a7, 0x10                  # the BASE extension: not offered
        li    a6, 0
        li    s1, 12345                 # must survive the calls
        ecall
        li    t0, -2
        bne   a0, t0, bad
        li    a7, EID_DBCN              # console: one byte
        li    a6, 2
        li    a0, 'K'
        ecall
        bnez  a0, bad
        li    a7, EID_DBCN              # console: a buffer, by its physical address
        li    a6, 0
        li    a0, 2
        la    a1, text
        li    a2, 0
        ecall
        bnez  a0, bad
        li    t0, 2
        bne   a1, t0, bad               # both bytes written
        li    a0, 2                     # the firmware's own memory: not S's to print
        li    a1, 0x80000000
        ecall
        li    t0, -3                    # SBI_ERR_INVALID_PARAM
        bne   a0, t0, bad
        bnez  a1, bad
        li    a0, 2                     # a range that runs off the kernel's RAM
        li    a1, 0x807fffff
        ecall
        li    t0, -3
        bne   a0, t0, bad
        li    a6, 1                     # DBCN function 1 (read): not offered
        ecall
        li    t0, -2
        bne   a0, t0, bad
        bnez  a2, bad                   # a2 survives the calls too
        li    t0, 12345
        bne   s1, t0, bad
        csrr  t0, time                  # mcounteren lets S read the clock
        beqz  t0, bad
        li    a7, EID_SRST
        li    a6, 0
        li    a0, 0
        li    a1, REASON
        ecall
bad:    li    a7, EID_SRST
        li    a6, 0
        li    a1, 99
        ecall
text:   .ascii "OK"
"""


@pytest.mark.parametrize("reason", [0, 5])
def test_firmware_answers_sbi_calls(reason: int) -> None:
    m = Machine(ram_mb=16)
    m.load(assemble(f".equ REASON, {reason}\n" + SBI_PROBE, base=KERNEL_BASE))
    m.load(firmware())
    exit = m.run(max_steps=100_000)
    assert (exit.reason, exit.exit_code, m.console) == ("halt", reason, "KOK")


# ---- the Python side --------------------------------------------------------------------

def test_builder_errors_name_the_choices() -> None:
    with pytest.raises(ValueError, match="unknown workload 'nope'; choose from hello, "):
        kernel("nope")
    with pytest.raises(ValueError, match="takes no n"):
        kernel("hello", 10)
    with pytest.raises(ValueError, match="from 0 to 1000"):
        kernel("page-fault", 1001)
    with pytest.raises(ValueError, match="time_slice"):
        kernel("hello", time_slice=0)
    assert firmware() is firmware()
