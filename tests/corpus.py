"""Seeded random assembly programs for the differential tests.

``table_program`` draws any table instruction with operands at and inside the limits of
its fields (explicit ``c.*`` forms included); ``pseudo_program`` draws pseudo-instructions,
relaxable branches, alignment and data. Both switch ``.option rvc`` on and off.
"""

from __future__ import annotations

import random

from vkernel.isa.csr import CSR_NAME
from vkernel.isa.table import (
    ABI_NAMES,
    CSR,
    FENCE,
    FIELDS,
    INSTRUCTIONS,
    LUI,
    PCREL,
    SP,
    XREG,
    XREG3,
    operand_fields,
)

TARGETS = ["start", "1f", "1b", "end"]
TWO_REGS = ["mv", "not", "neg", "negw", "sext.w", "zext.b", "seqz", "snez", "sltz", "sgtz"]


def _reg(rng: random.Random, nonzero: bool = False) -> str:
    r = rng.choice([0, 1, 2, 8, 9, 10, 15, 16, 31, rng.randrange(32)])
    return ABI_NAMES[10 if nonzero and r == 0 else r]


def _field_text(rng: random.Random, name: str) -> str:
    f = FIELDS[name]
    if f.kind == XREG:
        return _reg(rng, f.nonzero)
    if f.kind == XREG3:
        return ABI_NAMES[rng.randrange(8, 16)]
    if f.kind == SP:
        return "sp"
    if f.kind == CSR:
        return rng.choice(sorted(CSR_NAME.values()))
    if f.kind == FENCE:
        return rng.choice(["iorw", "rw", "r", "w", "io", "ow"])
    if f.kind == PCREL:
        return rng.choice(TARGETS)
    value = rng.choice([f.lo, f.hi, 0, f.scale, -f.scale, rng.randrange(f.lo, f.hi + 1)])
    value -= value % f.scale
    if not f.fits(value):
        value = f.scale if f.fits(f.scale) else f.hi
    return hex(value & 0xFFFFF) if f.kind == LUI else str(value)


def table_program(seed: int, n: int = 1500) -> str:
    """Random instructions from the table, in both compression modes."""
    rng = random.Random(seed)
    lines = [".option rvc", ".text", "start:"]
    rvc = True
    for i in range(n):
        if rng.random() < 0.02:
            rvc = not rvc
            lines.append(".option rvc" if rvc else ".option norvc")
        spec = rng.choice(INSTRUCTIONS)
        ops = []
        for syntax in spec.operands:
            names = operand_fields(syntax)
            if syntax.startswith("("):
                ops.append(f"({_field_text(rng, names[0])})")
            elif "(" in syntax:
                ops.append(f"{_field_text(rng, names[0])}({_field_text(rng, names[1])})")
            else:
                ops.append(_field_text(rng, names[0]))
        text = f"L{i}: 1: {spec.name} {', '.join(ops)}"
        if spec.name == "c.lui":  # c.lui sp is reserved (it is c.addi16sp's encoding)
            text = text.replace("c.lui sp,", "c.lui a0,")
        if spec.name.startswith("c.") and not rvc:  # GNU as needs rvc for c.* mnemonics
            lines += [".option rvc", text, ".option norvc"]
        else:
            lines.append(text)
    lines.append("end: nop")
    return "\n".join(lines) + "\n"


def _constant(rng: random.Random) -> int:
    kind = rng.randrange(7)
    if kind == 0:
        return rng.randrange(-64, 64)
    if kind == 1:
        return rng.randrange(-4096, 4096)
    if kind == 2:
        return rng.randrange(-(2**31), 2**31)
    if kind == 3:
        return rng.randrange(-(2**63), 2**64)
    if kind == 4:
        return rng.choice([0x1000, -4096, 0x1F000, 0x7FFFF800, 0x7FFFF7FF, 0x80000000, 2**32 - 1,
                           2**63 - 1, -(2**63), 2**64 - 1, 0x800, -0x801])
    if kind == 5:
        return rng.randrange(2**12) << rng.randrange(52)
    return (rng.randrange(2**20) << 12) * rng.choice([1, -1])


def pseudo_program(seed: int, n: int = 1500, data: bool = True) -> str:
    """Random pseudo-instructions, relaxable branches and, with ``data``, alignment and data."""
    rng = random.Random(seed)

    def r(nonzero: bool = False) -> str:
        return _reg(rng, nonzero)

    def t() -> str:
        return rng.choice(TARGETS)

    def imm12() -> int:
        return rng.randrange(-2048, 2048)

    makers = [
        lambda: f"li {r()}, {_constant(rng)}",
        lambda: f"{rng.choice(TWO_REGS)} {r()}, {r()}",
        lambda: f"{rng.choice(['beqz', 'bnez', 'blez', 'bgez', 'bltz', 'bgtz'])} {r()}, {t()}",
        lambda: f"{rng.choice(['bgt', 'ble', 'bgtu', 'bleu', 'beq', 'bne'])} {r()}, {r()}, {t()}",
        lambda: f"j {t()}", lambda: f"jal {t()}", lambda: f"jal {r()}, {t()}",
        lambda: f"jr {r(True)}", lambda: f"jalr {r(True)}", lambda: f"jalr {r()}, {r()}",
        lambda: f"jalr {r()}, {imm12()}({r()})", lambda: f"jr {imm12()}({r()})",
        lambda: f"jalr {r()}, {r()}, {imm12()}",
        lambda: "call start", lambda: f"call {r()}, end", lambda: "tail end", lambda: "ret",
        lambda: "nop", lambda: f"csrr {r()}, mstatus", lambda: f"csrw sscratch, {r()}",
        lambda: f"csrs sie, {r()}", lambda: f"csrc mip, {r()}",
        lambda: f"{rng.choice(['csrwi', 'csrsi', 'csrci'])} mscratch, {rng.randrange(32)}",
        lambda: f"csrw stvec, {rng.randrange(32)}",
        lambda: f"{rng.choice(['rdcycle', 'rdtime', 'rdinstret'])} {r()}",
        lambda: rng.choice(["fence", "fence rw, w", "fence.tso", "fence.i", "sfence.vma",
                            "unimp", "ebreak", "ecall"]),
        lambda: f"sfence.vma {r()}", lambda: f"hfence.gvma {r()}, {r()}",
        lambda: f"{rng.choice(['la', 'lla'])} {r(True)}, data",
        lambda: f"{rng.choice(['lw', 'ld', 'lbu'])} {r(True)}, data",
        lambda: f"{rng.choice(['sd', 'sw', 'sb'])} {r()}, data, {r(True)}",
        lambda: f"ld {r()}, {rng.choice([0, 8, 16, -8, 504, 512])}({r()})",
        lambda: f"sw {r()}, {rng.choice([0, 4, 124, 128, 252, 256])}({r()})",
        lambda: f"addi {r()}, {r()}, {rng.choice([0, 1, -1, 16, 32, -512, 496, 1020, 1024])}",
        lambda: f"{rng.choice(['add', 'and', 'or', 'xor', 'sub', 'addw', 'subw'])} "
                f"{r()}, {r()}, {r()}",
        lambda: f"{rng.choice(['slli', 'srli', 'srai'])} {r()}, {r()}, {rng.randrange(64)}",
        lambda: f"lui {r()}, {rng.randrange(2**20)}",
        lambda: f"{rng.choice(['andi', 'addiw'])} {r()}, {r()}, {rng.randrange(-40, 40)}",
    ]
    if data:
        makers += [
            lambda: f".align {rng.randrange(5)}", lambda: ".balign 8", lambda: ".half 5",
            lambda: f".byte {rng.randrange(256)}, 7", lambda: ".p2align 3, , 4",
            lambda: f".zero {rng.choice([2, 100, 600, 3000])}" if rng.random() < 0.2 else "nop",
        ]
    lines = [".option norvc", ".text", "start:"]
    for i in range(n):
        if rng.random() < 0.05:
            lines.append(rng.choice([".option rvc", ".option norvc"]))
        lines.append(f"L{i}: 1: {rng.choice(makers)()}")
    lines += ["end: nop", ".data", "data: .dword 5"]
    return "\n".join(lines) + "\n"
