"""CSR names and numbers, and trap cause names (RISC-V privileged spec, H extension).

>>> from vkernel.isa.csr import CSR_NUMBER, CSR_NAME, EXCEPTION_NAME
>>> hex(CSR_NUMBER["mstatus"]), CSR_NAME[0x14D], EXCEPTION_NAME[22]
('0x300', 'stimecmp', 'virtual instruction')
"""

from __future__ import annotations

_CSRS: list[tuple[int, str]] = [
    # Unprivileged counters / timers (user read-only)
    (0xC00, "cycle"), (0xC01, "time"), (0xC02, "instret"),
    *[(0xC00 + i, f"hpmcounter{i}") for i in range(3, 32)],
    # Supervisor
    (0x100, "sstatus"), (0x104, "sie"), (0x105, "stvec"), (0x106, "scounteren"),
    (0x10A, "senvcfg"), (0x140, "sscratch"), (0x141, "sepc"), (0x142, "scause"),
    (0x143, "stval"), (0x144, "sip"), (0x14D, "stimecmp"), (0x180, "satp"),
    (0x5A8, "scontext"),
    # Hypervisor
    (0x600, "hstatus"), (0x602, "hedeleg"), (0x603, "hideleg"), (0x604, "hie"),
    (0x605, "htimedelta"), (0x606, "hcounteren"), (0x607, "hgeie"), (0x60A, "henvcfg"),
    (0x643, "htval"), (0x644, "hip"), (0x645, "hvip"), (0x64A, "htinst"),
    (0x680, "hgatp"), (0x6A8, "hcontext"), (0xE12, "hgeip"),
    # Virtual supervisor (what S-CSR accesses reach when V=1)
    (0x200, "vsstatus"), (0x204, "vsie"), (0x205, "vstvec"), (0x240, "vsscratch"),
    (0x241, "vsepc"), (0x242, "vscause"), (0x243, "vstval"), (0x244, "vsip"),
    (0x24D, "vstimecmp"), (0x280, "vsatp"),
    # Machine
    (0xF11, "mvendorid"), (0xF12, "marchid"), (0xF13, "mimpid"), (0xF14, "mhartid"),
    (0xF15, "mconfigptr"),
    (0x300, "mstatus"), (0x301, "misa"), (0x302, "medeleg"), (0x303, "mideleg"),
    (0x304, "mie"), (0x305, "mtvec"), (0x306, "mcounteren"), (0x30A, "menvcfg"),
    (0x320, "mcountinhibit"),
    (0x340, "mscratch"), (0x341, "mepc"), (0x342, "mcause"), (0x343, "mtval"),
    (0x344, "mip"), (0x34A, "mtinst"), (0x34B, "mtval2"),
    *[(0x3A0 + i, f"pmpcfg{i}") for i in range(16)],
    *[(0x3B0 + i, f"pmpaddr{i}") for i in range(64)],
    (0x747, "mseccfg"),
    (0xB00, "mcycle"), (0xB02, "minstret"),
    *[(0xB00 + i, f"mhpmcounter{i}") for i in range(3, 32)],
    *[(0x320 + i, f"mhpmevent{i}") for i in range(3, 32)],
    # Debug / trigger
    (0x7A0, "tselect"), (0x7A1, "tdata1"), (0x7A2, "tdata2"), (0x7A3, "tdata3"),
    (0x7A8, "mcontext"),
    (0x7B0, "dcsr"), (0x7B1, "dpc"), (0x7B2, "dscratch0"), (0x7B3, "dscratch1"),
]

CSR_NUMBER: dict[str, int] = {name: num for num, name in _CSRS}
CSR_NAME: dict[int, str] = {num: name for num, name in _CSRS}

# Synchronous exception causes (mcause with the interrupt bit clear).
EXCEPTION_NAME: dict[int, str] = {
    0: "instruction address misaligned",
    1: "instruction access fault",
    2: "illegal instruction",
    3: "breakpoint",
    4: "load address misaligned",
    5: "load access fault",
    6: "store/AMO address misaligned",
    7: "store/AMO access fault",
    8: "environment call from U-mode or VU-mode",
    9: "environment call from HS-mode",
    10: "environment call from VS-mode",
    11: "environment call from M-mode",
    12: "instruction page fault",
    13: "load page fault",
    15: "store/AMO page fault",
    20: "instruction guest-page fault",
    21: "load guest-page fault",
    22: "virtual instruction",
    23: "store/AMO guest-page fault",
}

# Interrupt causes (mcause with the interrupt bit, bit 63, set).
INTERRUPT_NAME: dict[int, str] = {
    1: "supervisor software interrupt",
    2: "virtual supervisor software interrupt",
    3: "machine software interrupt",
    5: "supervisor timer interrupt",
    6: "virtual supervisor timer interrupt",
    7: "machine timer interrupt",
    9: "supervisor external interrupt",
    10: "virtual supervisor external interrupt",
    11: "machine external interrupt",
    12: "supervisor guest external interrupt",
}

INTERRUPT_BIT = 1 << 63


def cause_name(mcause: int) -> str:
    """Readable name of an ``mcause``/``scause`` value.

    >>> cause_name(8), cause_name((1 << 63) | 7)
    ('environment call from U-mode or VU-mode', 'machine timer interrupt')
    """
    if mcause & INTERRUPT_BIT:
        code = mcause & ~INTERRUPT_BIT
        return INTERRUPT_NAME.get(code, f"interrupt {code}")
    return EXCEPTION_NAME.get(mcause, f"exception {mcause}")
