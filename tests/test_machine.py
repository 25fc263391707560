"""The Machine API: running, exits, registers and CSRs, snapshots, events, devices."""

from __future__ import annotations

import numpy as np
import pytest

from vkernel import Machine, TraceError, assemble
from vkernel.machine import MachineError, Mode

COUNT = """
    li a0, 0
    li a1, {n}
loop:
    addi a0, a0, 1
    blt a0, a1, loop
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
"""

# a small kernel: M-mode timer interrupts counted in s0 while a loop runs, then ecall
TIMER = """
    la t0, handler
    csrw mtvec, t0
    li t0, 0x2004000          # mtimecmp
    li t1, 50
    sd t1, 0(t0)
    li t0, 1 << 7             # MTIE
    csrw mie, t0
    csrsi mstatus, 8          # MIE
    li s1, 0
2:  addi s1, s1, 1
    li t2, 5
    blt s0, t2, 2b
    li t0, 0x100000
    li t1, 0x5555
    sw t1, 0(t0)
    .align 2
handler:
    addi s0, s0, 1
    li t0, 0x2004000
    ld t1, 0(t0)
    addi t1, t1, 50           # next tick in 50 timer ticks
    sd t1, 0(t0)
    mret
"""


def machine(src: str, **kw) -> Machine:
    m = Machine(ram_mb=2, **kw)
    m.load(assemble(src))
    return m


def test_run_to_halt_and_registers():
    m = machine(COUNT.format(n=1000))
    ex = m.run()
    assert (ex.reason, ex.exit_code) == ("halt", 0)
    assert m.hart.x["a0"] == 1000 and m.hart.x[10] == 1000
    assert ex.step == m.hart.instret == 2 + 2 * 1000 + 3 + 1  # li+li, loop, li li sw
    assert m.exit_code == 0 and m.halted


def test_step_budget_and_continue():
    m = machine(COUNT.format(n=100))
    ex = m.step(7)
    assert (ex.reason, ex.step) == ("budget", 7)
    assert m.run().reason == "halt"
    assert m.hart.x["a0"] == 100


def test_breakpoints_stop_and_step_over():
    prog = assemble(COUNT.format(n=10))
    m = Machine(ram_mb=2)
    m.load(prog)
    loop = prog.symbols["loop"]
    m.breakpoints.add(loop)
    hits = 0
    while (ex := m.run()).reason == "breakpoint":
        assert ex.pc == loop
        hits += 1
        assert m.hart.x["a0"] == hits - 1
    assert hits == 10 and ex.reason == "halt"


def test_registers_and_csrs_by_name():
    m = machine("nop")
    m.hart.x["a0"] = -1
    assert m.hart.x["a0"] == 2**64 - 1
    m.hart.x["zero"] = 5
    assert m.hart.x[0] == 0
    m.hart.csr["mscratch"] = 0x1234
    assert m.hart.csr["mscratch"] == 0x1234 == m.hart.csr[0x340]
    m.hart.csr["mstatus"] = 2 << 11  # MPP=2 is reserved: WARL keeps the old value
    assert (m.hart.csr["mstatus"] >> 11) & 3 == 0
    m.hart.csr["minstret"] = 500
    assert m.hart.csr["minstret"] == 500
    assert m.hart.mode is Mode.M and "mstatus" in list(m.hart.csr)
    with pytest.raises(KeyError, match="no CSR"):
        m.hart.csr["hcontext"]  # no Sdtrig: this hart has no hypervisor context register
    with pytest.raises(MachineError, match="no register"):
        m.hart.x["q7"]


def test_memory_access_checks_bounds():
    m = machine("nop")
    m.mem.write(0x8000_1000, b"\x01\x02")
    assert m.mem.read(0x8000_1000, 2) == b"\x01\x02"
    with pytest.raises(MachineError, match="not inside RAM"):
        m.mem.read(0x8000_0000 + m.mem.size - 1, 2)


def test_timer_interrupts_are_deterministic():
    def run():
        m = machine(TIMER, trace=("step", "trap", "io"))
        ex = m.run(max_steps=100_000)
        return m, ex
    m1, ex1 = run()
    m2, ex2 = run()
    assert ex1.reason == "halt" and m1.hart.x["s0"] == 5
    traps = m1.events("trap")
    assert list(traps["cause"]) == [(1 << 63) + 7] * 5  # machine timer
    # ticks every 50 timer ticks of 10 instructions: the interrupts land 500 apart
    assert np.all(np.diff(traps["step"]) > 0)
    for fam in ("step", "trap", "io"):
        for col, v in m1.events(fam).items():
            np.testing.assert_array_equal(v, m2.events(fam)[col], err_msg=f"{fam}.{col}")


def test_snapshot_restore_continues_bit_identically():
    m = machine(TIMER, trace=("step", "trap"))
    m.run(max_steps=300)
    snap = m.snapshot()
    m.run(max_steps=2000)
    after = (m.hart.pc, m.hart.x.tolist(), m.hart.csr["mstatus"], m.hart.instret,
             m.events("step")["pc"].copy())
    m.restore(snap)
    assert m.hart.instret == 300 - m.events("trap")["step"].size  # 300 steps = insns + traps
    m.run(max_steps=2000)
    assert (m.hart.pc, m.hart.x.tolist(), m.hart.csr["mstatus"], m.hart.instret) == after[:4]
    np.testing.assert_array_equal(m.events("step")["pc"], after[4])


def test_a_snapshot_of_another_machine_is_refused_and_changes_nothing():
    small = machine(TIMER)
    small.run(max_steps=300)
    big = Machine(ram_mb=small.ram_mb * 2)
    big.load(assemble(TIMER))
    big.run(max_steps=100)
    before = (big.hart.pc, big.hart.x.tolist(), big.hart.instret, big.mem.read(0x8000_0000, 64))
    with pytest.raises(MachineError, match=f"{small.ram_mb} MiB of RAM, not {big.ram_mb}"):
        big.restore(small.snapshot())
    assert (big.hart.pc, big.hart.x.tolist(), big.hart.instret,
            big.mem.read(0x8000_0000, 64)) == before
    assert big.run(max_steps=100).reason == "budget"  # and it runs on


def test_host_owned_traps_exit_to_python():
    m = machine("li a7, 93\necall\nnop")
    m.host_traps.add(11)  # ecall from M-mode belongs to the host (as SBI calls would)
    ex = m.run(max_steps=100)
    assert ex.reason == "host-exit" and ex.cause == 11 and m.hart.x["a7"] == 93
    assert m.hart.csr["mcause"] == 0  # the guest's trap state was not touched


def test_wfi_idle_and_console_input_wakes_it():
    src = """
        li a1, 0x10000000
        li t0, 1
        sb t0, 1(a1)          # UART IER: receive interrupts
        li t0, 0x0c000028     # PLIC priority of source 10
        li t1, 1
        sw t1, 0(t0)
        li t0, 0x0c002000     # enable source 10 for context 0 (M)
        li t1, 1 << 10
        sw t1, 0(t0)
        li t0, 1 << 11        # MEIE; MIE stays off: wfi wakes without trapping
        csrw mie, t0
        wfi
        lbu a0, 0(a1)         # the byte that woke us
        li t0, 0x100000
        li t1, 0x5555
        sw t1, 0(t0)
    """
    m = machine(src)
    ex = m.run(max_steps=10_000)
    assert ex.reason == "wfi-idle"
    m.send_console("x")
    assert m.run(max_steps=10_000).reason == "halt"
    assert m.hart.x["a0"] == ord("x")


def test_uart_output_is_the_console():
    m = machine("""
        li a1, 0x10000000
        li t0, 'o'
        sb t0, 0(a1)
        li t0, 'k'
        sb t0, 0(a1)
        li t0, 0x100000
        li t1, 0x3333 | (3 << 16)
        sw t1, 0(t0)
    """, trace=("io",))
    ex = m.run(max_steps=100)
    assert (ex.reason, ex.exit_code, m.console) == ("halt", 3, "ok")
    io = m.events("io")
    assert list(io["device"]) == [2, 2, 5] and list(io["value"][:2]) == [ord("o"), ord("k")]


def test_unmapped_device_address_is_an_access_fault():
    m = machine("li t0, 0x3000\nlw a0, 0(t0)", trace=("trap",))
    m.run(max_steps=3)
    tr = m.events("trap")
    # the load faults (5); mtvec is 0, so the handler's fetch faults too (1)
    assert list(tr["cause"]) == [5, 1] and list(tr["tval"]) == [0x3000, 0]


def test_program_outside_ram_is_refused():
    from vkernel import LoadError
    m = Machine(ram_mb=1)
    with pytest.raises(LoadError, match="outside RAM"):
        m.load(assemble(".data\n.zero 16", base=0x9000_0000))


def test_bad_arguments():
    with pytest.raises(MachineError, match="ram_mb"):
        Machine(ram_mb=0)
    m = Machine(ram_mb=1)
    with pytest.raises(TraceError, match="unknown event families"):
        m.trace("steps")


@pytest.mark.parametrize("switch", [False, True])
def test_sensitive_unprivileged_switch(switch):
    """The Popek-Goldberg teaching deviation: with the switch, U-mode reads sstatus
    (the real value) and its writes vanish, like PUSHF/POPF in ring 3; without it both
    are illegal instructions, as RISC-V says."""
    m = Machine(ram_mb=1, sensitive_unprivileged=switch)
    m.load(assemble("csrr a0, sstatus\ncsrci sstatus, 2\ncsrr a1, sstatus\n1: j 1b"))
    m.hart.csr["mstatus"] = m.hart.csr["mstatus"] | 2  # SIE set: the host's, not the guest's
    m.hart.csr["mtvec"] = 0x8000_0100
    m.hart.mode = "U"
    m.trace("trap")
    m.run(max_steps=3)
    causes = m.events("trap")["cause"].tolist()
    if switch:
        assert causes == [] and m.hart.pc == 0x8000_000C
        assert m.hart.x["a0"] == m.hart.x["a1"] == m.hart.csr["sstatus"]
        assert m.hart.csr["sstatus"] & 2  # the write was ignored
    else:
        assert causes[0] == 2 and m.hart.mode.name == "M"
