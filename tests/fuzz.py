"""Fuzzing the core: random instruction words, modes, CSRs and Sv39 page tables.

:func:`make_case` draws one random machine set-up from a ``random.Random``; :func:`run_case`
runs it for its step budget and checks that the host survived and the machine stayed sane
(see :func:`check`). ``tests/test_fuzz_core.py`` feeds it from hypothesis,
``benchmarks/fuzz_core.py`` from seeds for as long as it is asked to.

Host memory safety is checked with guard zones: every array the core writes (state,
registers, CSRs, RAM, TLB, trace buffers) is replaced by a view into a larger array whose
ends are filled with a pattern, and a separate canary array sits next to the machine; the
numba core does no bounds checking, so a stray write would change one of them.
"""

from __future__ import annotations

import faulthandler
import random
from dataclasses import dataclass

import numpy as np

from vkernel import Machine, assemble
from vkernel.core import kernel as K
from vkernel.isa.csr import CSR_NUMBER
from vkernel.isa.decode import decode
from vkernel.isa.table import FIELDS, INSTRUCTIONS, PCREL, XREG, XREG3, InsnSpec
from vkernel.machine import Hart, Memory

MASK64 = (1 << 64) - 1
RAM_MB = 1
RAM_BASE = K.RAM_BASE
RAM_SIZE = RAM_MB << 20
CODE_BYTES = 0x1000  # random code at the start of RAM
TABLES = RAM_BASE + 0x10000  # page-table pages (Sv39)
N_TABLES = 6
DEVICES = [0x0010_0000, 0x0200_0000, 0x0200_4000, 0x0200_BFF8, 0x0C00_0000, 0x0C20_0004,
           0x1000_0000, 0x1000_0005, 0x1000_1000, 0x1000_1070]
EDGES = [0, 1, 2, 4, 8, MASK64, 1 << 63, (1 << 63) - 1, 1 << 31, (1 << 32) - 1,
         1 << 38, (1 << 38) - 8, MASK64 - (1 << 38) + 1, RAM_BASE + RAM_SIZE - 2,
         RAM_BASE + RAM_SIZE - 4, RAM_BASE + RAM_SIZE, RAM_BASE - 8]
# CSRs a random csr* instruction should often name (else any 12-bit number)
HOT_CSRS = [CSR_NUMBER[n] for n in (
    "mstatus", "sstatus", "satp", "mtvec", "stvec", "medeleg", "mideleg", "mie", "mip",
    "sie", "sip", "mepc", "sepc", "mcause", "scause", "mtval", "menvcfg", "stimecmp",
    "mcounteren", "scounteren", "time", "cycle", "instret", "mcycle", "minstret",
    "pmpcfg0", "pmpaddr0", "mscratch", "misa", "mhartid",
    # the H extension's
    "hstatus", "hedeleg", "hideleg", "hie", "hip", "hvip", "hgatp", "htval", "henvcfg",
    "hcounteren", "htimedelta", "vsstatus", "vsie", "vsip", "vstvec", "vsepc", "vscause",
    "vsatp", "vstimecmp", "mtval2")]
# the trace's mode numbers: VU = 4 | U, VS = 4 | S
MODES = {"M": K.PRV_M, "S": K.PRV_S, "U": K.PRV_U, "VS": 4 | K.PRV_S, "VU": 4 | K.PRV_U}
# privilege order: U and VU < VS < HS < M
RANK = {K.PRV_U: 0, 4 | K.PRV_U: 0, 4 | K.PRV_S: 1, K.PRV_S: 2, K.PRV_M: 3}
# causes the core may raise (instruction-address-misaligned cannot happen with C)
EXCEPTIONS = {K.EXC_FETCH_ACCESS, K.EXC_ILLEGAL, K.EXC_BREAKPOINT, K.EXC_LOAD_MISALIGNED,
              K.EXC_LOAD_ACCESS, K.EXC_STORE_MISALIGNED, K.EXC_STORE_ACCESS, K.EXC_ECALL_U,
              K.EXC_ECALL_S, K.EXC_ECALL_M, K.EXC_FETCH_PAGE, K.EXC_LOAD_PAGE,
              K.EXC_STORE_PAGE, K.EXC_ECALL_VS, K.EXC_FETCH_GUEST_PAGE,
              K.EXC_LOAD_GUEST_PAGE, K.EXC_STORE_GUEST_PAGE, K.EXC_VIRTUAL_INSTRUCTION}
INTERRUPTS = {K.IRQ_SSI, K.IRQ_MSI, K.IRQ_STI, K.IRQ_MTI, K.IRQ_SEI, K.IRQ_MEI, K.IRQ_VSSI,
              K.IRQ_VSTI, K.IRQ_VSEI}
ECALL_FROM = {K.PRV_U: K.EXC_ECALL_U, 4 | K.PRV_U: K.EXC_ECALL_U, K.PRV_S: K.EXC_ECALL_S,
              4 | K.PRV_S: K.EXC_ECALL_VS, K.PRV_M: K.EXC_ECALL_M}
# instructions that must trap below M (mret) or in U (the rest)
PRIVILEGED = {"mret": K.PRV_M, "sret": K.PRV_S, "wfi": K.PRV_S, "sfence.vma": K.PRV_S}
CSR_OPS = {"csrrw", "csrrs", "csrrc", "csrrwi", "csrrsi", "csrrci"}
CONTROL = {"jal", "jalr", "beq", "bne", "blt", "bge", "bltu", "bgeu", "mret", "sret",
           "c.j", "c.jr", "c.jalr", "c.beqz", "c.bnez"}
HANDLERS = RAM_BASE + 0x3000  # trap handlers that step over the trapping parcel and return
HANDLER_SOURCE = """
    csrrw t6, {s}scratch, t6
    csrr t6, {s}epc
    addi t6, t6, {skip}
    csrw {s}epc, t6
    csrrw t6, {s}scratch, t6
    {s}ret
"""
HANDLER_CODE = {(level, skip): assemble(HANDLER_SOURCE.format(s=level, skip=skip))
                .sections[".text"].data for level in "ms" for skip in (2, 4)}
GUARD_BYTES = 1 << 16
PATTERN = 0xA5


@dataclass
class Case:
    """One random set-up: what :func:`build` makes into a machine."""

    code: bytes
    memory: list[tuple[int, bytes]]
    regs: list[int]
    csrs: dict[str, int]
    mode: str
    pc: int
    budget: int
    hardware_ad: bool = True
    record: tuple[str, ...] = ("step", "trap")
    buffer_rows: int = 4096
    mtimecmp: int = MASK64  # the CLINT's machine timer compare (time counts retired / 10)
    msip: int = 0  # the CLINT's machine software interrupt line


def _u64(rng: random.Random) -> int:
    return rng.getrandbits(64)


def _address(rng: random.Random) -> int:
    """A value a register might hold: mostly an address somewhere interesting."""
    kind = rng.randrange(8)
    if kind <= 2:
        return RAM_BASE + rng.randrange(RAM_SIZE)
    if kind == 3:
        return TABLES + rng.randrange(N_TABLES) * 0x1000 + 8 * rng.randrange(512)
    if kind == 4:
        return rng.choice(DEVICES) + rng.randrange(-8, 16)
    if kind == 5:
        return rng.choice(EDGES)
    if kind == 6:
        return rng.randrange(-2048, 2048) & MASK64
    return _u64(rng)


def _field(rng: random.Random, name: str) -> int:
    f = FIELDS[name]
    if f.kind in (XREG, XREG3) or f.name == "c_sp":
        return rng.randint(f.lo, f.hi)
    if f.kind == "csr" and rng.random() < 0.8:
        return rng.choice(HOT_CSRS)
    if f.kind == PCREL:
        return rng.randrange(-64, 64) * 2 if rng.random() < 0.8 else \
            rng.randrange(f.lo // 2, f.hi // 2 + 1) * 2
    v = rng.randrange(f.lo // f.scale, f.hi // f.scale + 1) * f.scale
    if f.nonzero and v == 0:
        v = f.scale
    return v


def random_insn(rng: random.Random) -> bytes:
    """One random instruction: raw 32-bit word, raw 16-bit parcel, or a table entry
    (any extension, H included) with random fields."""
    kind = rng.random()
    if kind < 0.25:
        return (rng.getrandbits(32) | 3).to_bytes(4, "little")
    if kind < 0.4:
        h = rng.getrandbits(16)
        if h & 3 == 3:
            h ^= rng.choice((1, 2))
        return h.to_bytes(2, "little")
    spec: InsnSpec = rng.choice(INSTRUCTIONS)
    values = {name: _field(rng, name) for name in spec.fields}
    # (a reserved combination of fields is as good a random word as any other)
    return spec.encode(**values).to_bytes(spec.size, "little")


def random_pte(rng: random.Random, level: int) -> int:
    """A page-table entry: a pointer to another table page, a leaf into RAM (maybe a
    superpage, maybe misaligned), or garbage."""
    kind = rng.randrange(6)
    flags = rng.getrandbits(8)
    if kind == 0:
        return _u64(rng)
    if kind <= 2 and level > 0:  # pointer to the next level
        ppn = (TABLES >> 12) + rng.randrange(N_TABLES)
        return (ppn << 10) | K.PTE_V | (flags & (K.PTE_U | K.PTE_G | K.PTE_A | K.PTE_D))
    # a leaf into RAM; at levels 1 and 2 usually aligned for a superpage
    page = (RAM_BASE >> 12) + rng.randrange(RAM_SIZE >> 12)
    if level and rng.random() < 0.6:
        page &= ~((1 << (9 * level)) - 1)
    if rng.random() < 0.7:
        flags |= K.PTE_V | K.PTE_R
        if rng.random() < 0.5:
            flags |= K.PTE_X
    return (page << 10) | flags | (rng.getrandbits(10) << 54 if rng.random() < 0.05 else 0)


def random_tables(rng: random.Random) -> list[tuple[int, bytes]]:
    """N_TABLES pages of PTEs. The entries on the way to the code, the tables and the
    first megabyte of RAM are set more often than the rest."""
    pages = []
    for t in range(N_TABLES):
        table = np.zeros(512, np.uint64)
        level = rng.choice((0, 1, 2)) if t else 2
        hot = [(RAM_BASE >> (12 + 9 * level)) & 0x1FF, 0, 511]
        for _ in range(rng.randrange(4, 40)):
            i = rng.choice(hot) if rng.random() < 0.5 else rng.randrange(512)
            table[i] = random_pte(rng, level)
        pages.append((TABLES + 0x1000 * t, table.tobytes()))
    return pages


def random_satp(rng: random.Random) -> int:
    kind = rng.randrange(4)
    if kind == 0:
        return _u64(rng)  # any mode: unsupported ones are ignored (WARL)
    if kind == 1:
        return 0
    root = (TABLES >> 12) + rng.randrange(N_TABLES) if rng.random() < 0.9 \
        else rng.getrandbits(44)
    return (K.SATP_MODE_SV39 << 60) | (rng.getrandbits(16) << 44) | root


def random_hgatp(rng: random.Random) -> int:
    kind = rng.randrange(4)
    if kind == 0:
        return _u64(rng)  # any mode: unsupported ones read as Bare (WARL)
    if kind == 1:
        return 0
    root = (TABLES >> 12) + 4 * rng.randrange(N_TABLES // 4) if rng.random() < 0.9 \
        else rng.getrandbits(44)
    return (K.HGATP_MODE_SV39X4 << 60) | (rng.getrandbits(14) << 44) | root


def random_vector(rng: random.Random, handler: int) -> int:
    kind = rng.randrange(8)
    if kind <= 3:
        return handler
    if kind == 4:
        base = RAM_BASE + rng.randrange(CODE_BYTES // 4) * 4  # into the random code
    elif kind == 2:
        base = RAM_BASE + rng.randrange(RAM_SIZE // 4) * 4
    elif kind == 3:
        base = rng.choice((0, 0x1000, RAM_BASE + RAM_SIZE, 1 << 38))  # unmapped: a storm
    else:
        base = _u64(rng) & ~3
    return base | rng.randrange(2)


def make_case(rng: random.Random, budget: int | None = None) -> Case:
    code = bytearray()
    while len(code) < CODE_BYTES:
        code += random_insn(rng)
    code = code[:CODE_BYTES]
    memory = random_tables(rng)
    memory.append((HANDLERS, HANDLER_CODE["m", rng.choice((2, 4))]))
    memory.append((HANDLERS + 0x100, HANDLER_CODE["s", rng.choice((2, 4))]))
    # a few random words scattered around RAM (data for loads, more code for jumps)
    for _ in range(rng.randrange(4)):
        memory.append((RAM_BASE + rng.randrange(0, RAM_SIZE - 64, 8),
                       b"".join(random_insn(rng) for _ in range(8))))
    mstatus = rng.getrandbits(64) if rng.random() < 0.3 else \
        rng.choice((0, K.MSTATUS_MPRV, K.MSTATUS_SUM | K.MSTATUS_MXR)) \
        | (rng.randrange(4) << K.MSTATUS_MPP_SHIFT) | rng.choice((0, K.MSTATUS_MIE,
                                                                  K.MSTATUS_SIE))
    csrs = {
        "mstatus": mstatus,
        "medeleg": rng.getrandbits(16),
        "mideleg": rng.getrandbits(12),
        "mie": rng.getrandbits(12) if rng.random() < 0.5 else 0,
        "mip": rng.getrandbits(12),
        "mtvec": random_vector(rng, HANDLERS),
        "stvec": random_vector(rng, HANDLERS + 0x100),
        "menvcfg": rng.choice((0, K.MENVCFG_ADUE, K.MENVCFG_STCE & MASK64,
                               (K.MENVCFG_STCE & MASK64) | K.MENVCFG_ADUE)),
        "mcounteren": rng.getrandbits(3),
        "scounteren": rng.getrandbits(3),
        "stimecmp": rng.randrange(0, 400),
        "mepc": _address(rng),
        "sepc": _address(rng),
        "satp": random_satp(rng),
        # the H extension: guests in VS/VU with random delegation, two-stage translation
        "hstatus": rng.getrandbits(64) if rng.random() < 0.3 else 0,
        "hedeleg": rng.getrandbits(16),
        "hideleg": rng.getrandbits(12),
        "hvip": rng.getrandbits(12) if rng.random() < 0.3 else 0,
        "henvcfg": rng.choice((0, K.MENVCFG_ADUE, K.MENVCFG_STCE & MASK64)),
        "hcounteren": rng.getrandbits(3),
        "vstvec": random_vector(rng, HANDLERS + 0x100),
        "vsepc": _address(rng),
        "vsstatus": rng.getrandbits(64) if rng.random() < 0.3 else 0,
        "vsatp": random_satp(rng),
        "hgatp": random_hgatp(rng),
    }
    regs = [_address(rng) for _ in range(31)]
    pc = RAM_BASE + rng.randrange(CODE_BYTES // 2) * 2 if rng.random() < 0.95 \
        else _address(rng) & ~1
    families = tuple(f for f in ("step", "trap", "write", "walk", "io") if f in ("step", "trap")
                     or rng.random() < 0.5)
    return Case(code=bytes(code), memory=memory, regs=regs, csrs=csrs,
                mode=rng.choice(list(MODES)), pc=pc,
                budget=budget if budget is not None else rng.randrange(1, 3000),
                hardware_ad=rng.random() < 0.7, record=families,
                buffer_rows=rng.choice((128, 200, 4096)),
                mtimecmp=rng.choice((MASK64, rng.randrange(400), _u64(rng))),
                msip=int(rng.random() < 0.2))


def storm_case(mode: str = "M", budget: int = 200_000, kind: str = "access") -> Case:
    """Every fetch faults: the pc and the trap vector are both where nothing is mapped
    (``kind="access"``), or translation is on with an empty root table (``"page"``)."""
    csrs = {"mtvec": 0x1000, "stvec": 0x1000, "medeleg": 0xFFFF}
    if kind == "page":
        csrs["satp"] = (K.SATP_MODE_SV39 << 60) | (TABLES >> 12)
        pc = RAM_BASE
    else:
        pc = 0x1000
    return Case(code=b"", memory=[], regs=[0] * 31, csrs=csrs, mode=mode, pc=pc,
                budget=budget, record=("step", "trap"), buffer_rows=1 << 12)


# --------------------------------------------------------------------------- running
def _guard(m: Machine) -> list[tuple[np.ndarray, int, int]]:
    """Move every array the core writes into the middle of a larger, patterned one."""
    guarded = []
    for name in Machine._ARRAYS:
        arr = getattr(m, name)
        pad = max(1, GUARD_BYTES // max(1, arr[:1].nbytes))
        big = np.empty((arr.shape[0] + 2 * pad,) + arr.shape[1:], arr.dtype)
        big.view(np.uint8).reshape(-1)[:] = PATTERN
        view = big[pad:pad + arr.shape[0]]
        view[...] = arr
        assert view.flags.c_contiguous
        setattr(m, name, view)
        guarded.append((big, pad, arr.shape[0]))
    m.hart = Hart(m)
    m.mem = Memory(m._ram)
    m.virtio.memory = m.mem
    return guarded


def guards_intact(guarded: list[tuple[np.ndarray, int, int]]) -> bool:
    for big, pad, n in guarded:
        for part in (big[:pad], big[pad + n:]):
            if not (part.view(np.uint8) == PATTERN).all():
                return False
    return True


def build(case: Case) -> tuple[Machine, list]:
    m = Machine(ram_mb=RAM_MB, hardware_ad=case.hardware_ad, buffer_rows=case.buffer_rows)
    m.mem.write(RAM_BASE, case.code)
    for addr, data in case.memory:
        m.mem.write(addr, data)
    for i, v in enumerate(case.regs, start=1):
        m.hart.x[i] = v
    for name, v in case.csrs.items():
        m.hart.csr[name] = v
    m.hart.pc = case.pc
    m.hart.mode = case.mode
    m._s[K.S_MTIMECMP] = case.mtimecmp - (1 << 64) if case.mtimecmp >> 63 else case.mtimecmp
    m._s[K.S_MSIP] = case.msip
    m.trace(*case.record)
    return m, _guard(m)


@dataclass
class Result:
    exit_reason: str
    steps: int
    retired: int
    traps: dict[int, int]  # mcause -> count


def run_case(case: Case, hang_seconds: float | None = None) -> Result:
    """Run a case to the end of its budget and check everything (AssertionError if not).

    With ``hang_seconds``, a run that takes longer is a hang: faulthandler prints every
    thread's stack and ends the process (a hang inside the compiled core cannot be
    interrupted any other way)."""
    canary_before = np.full(4096, PATTERN, np.uint8)
    m, guarded = build(case)
    canary_after = np.full(4096, PATTERN, np.uint8)
    ex = None
    if hang_seconds is not None:
        faulthandler.dump_traceback_later(hang_seconds, exit=True)
    try:
        for _ in range(case.budget + 1):
            traps = len(m.events("trap")["cause"]) if "trap" in case.record else 0
            left = case.budget - m.hart.instret - traps
            assert left >= 0, f"more steps ({m.hart.instret} + {traps}) than the budget"
            ex = m.run(max_steps=left)
            assert ex.reason in ("budget", "halt", "wfi-idle"), f"unexpected exit {ex!r}"
            if ex.reason != "wfi-idle":
                break
    finally:
        if hang_seconds is not None:
            faulthandler.cancel_dump_traceback_later()
    assert ex is not None and ex.reason in ("budget", "halt"), f"did not finish: {ex!r}"
    assert guards_intact(guarded), "the core wrote outside its arrays"
    assert (canary_before == PATTERN).all() and (canary_after == PATTERN).all(), \
        "host memory next to the machine changed"
    return check(m, case, ex)


def _vector(m: Machine, cause: int, to_mode: int) -> int:
    vec = m.hart.csr[{K.PRV_M: "mtvec", K.PRV_S: "stvec", 4 | K.PRV_S: "vstvec"}[to_mode]]
    base = vec & ~3
    if cause >> 63 and vec & 3 == 1:
        irq = cause & ~(1 << 63)
        if to_mode == 4 | K.PRV_S and irq in (K.IRQ_VSSI, K.IRQ_VSTI, K.IRQ_VSEI):
            irq -= 1  # the guest sees its own S-level interrupt
        base += 4 * irq
    return base & MASK64


def check(m: Machine, case: Case, ex) -> Result:  # noqa: ANN001
    """The state after a run is one the architecture allows."""
    steps = m.events("step")
    trap = m.events("trap")
    retired = m.hart.instret
    n_traps = len(trap["cause"])
    assert len(steps["pc"]) == retired, "one step row per retired instruction"
    if ex.reason == "budget":
        assert retired + n_traps == case.budget, \
            f"{retired} retired + {n_traps} traps is not the budget {case.budget}"
    assert m.hart.mode in RANK
    mstatus = m.hart.csr["mstatus"]
    assert (mstatus >> K.MSTATUS_MPP_SHIFT) & 3 != 2, "mstatus.MPP holds the reserved 2"
    assert m.hart.csr["mtvec"] & 3 < 2 and m.hart.csr["stvec"] & 3 < 2
    assert m.hart.csr["satp"] >> 60 in (0, K.SATP_MODE_SV39)
    assert m.hart.csr["vsatp"] >> 60 in (0, K.SATP_MODE_SV39)
    assert m.hart.csr["hgatp"] >> 60 in (0, K.HGATP_MODE_SV39X4)
    assert m.hart.x[0] == 0
    pc = m.hart.pc
    assert pc % 2 == 0, f"odd pc {pc:#x}"
    # every retired instruction was fetched from RAM (M-mode) or a canonical Sv39 address
    pcs = steps["pc"].view(np.uint64)
    modes = steps["mode"]
    in_ram = (pcs >= RAM_BASE) & (pcs <= RAM_BASE + RAM_SIZE - 2)
    bad = np.flatnonzero((modes == K.PRV_M) & ~in_ram)
    assert not len(bad), f"M-mode instruction retired at {int(pcs[bad[0]]):#x}"
    top = steps["pc"].view(np.int64) >> 38
    # (a guest with only the G-stage on runs at guest physical addresses: 41 bits)
    gpa = (modes >= 4) & ((pcs >> 41) == 0)
    bad = np.flatnonzero((modes != K.PRV_M) & (top != 0) & (top != -1) & ~gpa)
    assert not len(bad), f"instruction retired at non-canonical {int(pcs[bad[0]]):#x}"
    assert set(np.unique(modes).tolist()) <= set(RANK)
    # nothing retired at a privilege below the one it needs
    for raw, mode in {(int(r), int(md)) for r, md in zip(steps["insn"], modes, strict=True)}:
        spec = decode(raw)
        need = 0  # as a RANK: U/VU 0, VS 1, HS 2, M 3
        if spec is None:
            need = 4  # illegal: never retires
        elif spec.ext == "H":  # HS and M (HLV/HSV also U with hstatus.HU), never a guest
            need = 0 if spec.name.startswith(("hlv", "hsv")) and mode == K.PRV_U else 2
        elif spec.name in PRIVILEGED:
            need = {K.PRV_M: 3, K.PRV_S: 1}[PRIVILEGED[spec.name]]
        elif spec.name in CSR_OPS:
            need = (spec.decode(raw)["csr"] >> 8) & 3
        assert RANK[mode] >= need, f"{spec.name if spec else hex(raw)} ({raw:#x}) retired " \
            f"in mode {mode}"
    # every trap: a legal cause, taken to M or S, never to a lower privilege
    counts: dict[int, int] = {}
    for i in range(n_traps):
        cause = int(trap["cause"][i]) & MASK64
        frm, to = int(trap["from_mode"][i]), int(trap["to_mode"][i])
        counts[cause] = counts.get(cause, 0) + 1
        if cause >> 63:
            assert cause & ~(1 << 63) in INTERRUPTS, f"interrupt cause {cause:#x}"
        else:
            assert cause in EXCEPTIONS, f"exception cause {cause}"
            if cause in (K.EXC_ECALL_U, K.EXC_ECALL_S, K.EXC_ECALL_VS, K.EXC_ECALL_M):
                assert cause == ECALL_FROM[frm]
            if cause == K.EXC_BREAKPOINT:
                assert trap["tval"][i] == trap["epc"][i]
        assert frm in RANK and to in (K.PRV_S, K.PRV_M, 4 | K.PRV_S) \
            and RANK[to] >= RANK[frm] and (to < 4 or frm >= 4), \
            f"trap {cause:#x} from mode {frm} to {to}"
        assert trap["epc"][i] % 2 == 0
    # the final pc: a trap vector after a trap, else where the last instruction went
    last_trap_step = int(trap["step"][-1]) if n_traps else -1
    if last_trap_step == retired:
        cause = int(trap["cause"][-1]) & MASK64
        want = _vector(m, cause, int(trap["to_mode"][-1]))
        assert pc == want, f"pc {pc:#x} after a trap, not the vector {want:#x}"
    elif retired and ex.reason == "budget":
        last_pc = int(pcs[-1])
        raw = int(steps["insn"][-1])
        size = 4 if raw & 3 == 3 else 2
        spec = decode(raw)
        if spec is None or spec.name not in CONTROL:
            assert pc == (last_pc + size) & MASK64, \
                f"pc {pc:#x} after {spec.name if spec else hex(raw)} at {last_pc:#x}"
    # the trace of whatever a random machine did follows the schema and matches it
    if m.tracing:
        from vkernel.trace.schema import validate

        ds = validate(m.trace_dataset())
        assert ds.sizes.get("step", retired) == retired
        assert ds.sizes.get("trap", n_traps) == n_traps
        if "step" in ds.dims and n_traps:
            # the step after traps is the handler the last of them went to
            t_step = trap["step"]
            for s in np.unique(t_step[t_step < retired]):
                last = np.flatnonzero(t_step == s)[-1]
                assert int(ds.step_pc.values[s]) == int(trap["handler"][last]), \
                    f"step {s} is not the handler of the trap before it"
    return Result(ex.reason, retired + n_traps, retired, counts)
