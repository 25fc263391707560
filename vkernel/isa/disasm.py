"""Disassembler: bytes → :class:`Insn` objects printed the way objdump prints them.

Thirty-two-bit instructions are shown with objdump's pseudo-instructions (``li``,
``mv``, ``ret``, ``csrr``, ...) unless ``aliases=False``; compressed ones always keep
their ``c.*`` name, so every line assembles back to exactly the same bytes.

>>> from vkernel.isa.disasm import disassemble
>>> [str(i) for i in disassemble(bytes.fromhex("1305500082800100"), 0x80000000)]
['li a0,5', 'c.jr ra', 'c.nop']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vkernel.isa.csr import CSR_NAME
from vkernel.isa.decode import decode
from vkernel.isa.table import (
    ABI_NAMES,
    CSR,
    FENCE,
    FIELDS,
    LUI,
    PCREL,
    SP,
    XREG,
    XREG3,
    InsnSpec,
    operand_fields,
)

_HEX_IMMEDIATES = {"shamt6", "shamt5", "c_shamt"}  # objdump shows shift amounts in hex
_COUNTERS = {0xC00: "rdcycle", 0xC01: "rdtime", 0xC02: "rdinstret"}


@dataclass(frozen=True)
class Insn:
    """One decoded instruction (or a ``.word``/``.half``/``.byte`` for undecodable bytes).

    ``fields`` holds the decoded field values by table field name; ``target`` is the
    absolute address a branch or jump goes to.
    """

    addr: int
    size: int
    raw: int
    mnemonic: str
    operands: tuple[str, ...]
    spec: InsnSpec | None = field(default=None, compare=False, repr=False)
    fields: dict[str, int] = field(default_factory=dict, compare=False, repr=False)
    target: int | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.mnemonic} {','.join(self.operands)}" if self.operands else self.mnemonic


def _fmt(name: str, value: int, addr: int) -> str:
    f = FIELDS[name]
    if f.kind in (XREG, XREG3, SP):
        return ABI_NAMES[value]
    if f.kind == PCREL:
        return f"{(addr + value) & (2**64 - 1):#x}"
    if f.kind == LUI:
        return f"{value & 0xFFFFF:#x}"
    if f.kind == CSR:
        return CSR_NAME.get(value, f"{value:#x}")
    if f.kind == FENCE:
        return "".join(c for c, bit in zip("iorw", (8, 4, 2, 1), strict=True) if value & bit) \
            or "0"
    if name in _HEX_IMMEDIATES:
        return f"{value:#x}"
    return str(value)


def _operands(spec: InsnSpec, values: dict[str, int], addr: int) -> tuple[str, ...]:
    out = []
    for syntax in spec.operands:
        names = operand_fields(syntax)
        if syntax.startswith("("):
            out.append(f"({_fmt(names[0], values[names[0]], addr)})")
        elif "(" in syntax:
            out.append(f"{_fmt(names[0], values[names[0]], addr)}"
                       f"({_fmt(names[1], values[names[1]], addr)})")
        else:
            out.append(_fmt(names[0], values[names[0]], addr))
    return tuple(out)


def _alias(spec: InsnSpec, v: dict[str, int], addr: int) -> tuple[str, tuple[str, ...]] | None:
    """objdump's pseudo-instruction for a 32-bit instruction, if it prints one."""
    name = spec.name
    rd, rs1, rs2 = (ABI_NAMES[v[k]] if k in v else "" for k in ("rd", "rs1", "rs2"))
    imm = v.get("imm_i")
    if name == "addi":
        if v["rd"] == v["rs1"] == 0 and imm == 0:
            return "nop", ()
        if v["rs1"] == 0:
            return "li", (rd, str(imm))
        if imm == 0:
            return "mv", (rd, rs1)
    if name == "addiw" and imm == 0:
        return "sext.w", (rd, rs1)
    if name == "xori" and imm == -1:
        return "not", (rd, rs1)
    if name == "andi" and imm == 255:
        return "zext.b", (rd, rs1)
    if name == "sltiu" and imm == 1:
        return "seqz", (rd, rs1)
    if name in ("sub", "subw") and v["rs1"] == 0:
        return "neg" + name[3:], (rd, rs2)
    if name == "sltu" and v["rs1"] == 0:
        return "snez", (rd, rs2)
    if name == "slt" and v["rs2"] == 0:
        return "sltz", (rd, rs1)
    if name == "slt" and v["rs1"] == 0:
        return "sgtz", (rd, rs2)
    if spec.fmt == "B":
        target = _fmt("imm_b", v["imm_b"], addr)
        # objdump's order decides when both registers are zero: blez before bgez,
        # bltz before bgtz
        if name == "bge" and v["rs1"] == 0:
            return "blez", (rs2, target)
        zero_rs2 = {"beq": "beqz", "bne": "bnez", "bge": "bgez", "blt": "bltz"}
        if v["rs2"] == 0 and name in zero_rs2:
            return zero_rs2[name], (rs1, target)
        if name == "blt" and v["rs1"] == 0:
            return "bgtz", (rs2, target)
    if name == "jal" and v["rd"] in (0, 1):
        return ("j" if v["rd"] == 0 else "jal"), (_fmt("imm_j", v["imm_j"], addr),)
    if name == "jalr" and v["rd"] in (0, 1):
        if v["rd"] == 0 and v["rs1"] == 1 and imm == 0:
            return "ret", ()
        short = "jr" if v["rd"] == 0 else "jalr"
        return short, (rs1,) if imm == 0 else (f"{imm}({rs1})",)
    if name == "jalr" and imm == 0:
        return "jalr", (rd, rs1)
    if name in ("csrrs", "csrrw", "csrrc", "csrrsi", "csrrwi", "csrrci"):
        csr = _fmt("csr", v["csr"], addr)
        if name == "csrrw" and v["rd"] == 0 and v["csr"] == 0xC00 and v["rs1"] == 0:
            return "unimp", ()
        if name == "csrrs" and v["rs1"] == 0 and v["csr"] in _COUNTERS:
            return _COUNTERS[v["csr"]], (rd,)
        if name == "csrrs" and v["rs1"] == 0:
            return "csrr", (rd, csr)
        if v["rd"] == 0:
            short = "csr" + name[4:]
            operand = str(v["zimm5"]) if name.endswith("i") else rs1
            return short, (csr, operand)
    if name == "fence" and v["pred"] == v["succ"] == 0xF:
        return "fence", ()
    if name in ("sfence.vma", "hfence.vvma", "hfence.gvma") and v["rs2"] == 0:
        return name, () if v["rs1"] == 0 else (rs1,)
    return None


def decode_one(data: bytes, offset: int, addr: int, aliases: bool = True) -> Insn:
    """Decode the instruction at ``data[offset:]``, which sits at address ``addr``."""
    left = len(data) - offset
    if left < 2:
        return Insn(addr, 1, data[offset], ".byte", (f"{data[offset]:#04x}",))
    half = int.from_bytes(data[offset:offset + 2], "little")
    if half & 3 == 3:
        if left < 4:
            return Insn(addr, 2, half, ".half", (f"{half:#06x}",))
        word = int.from_bytes(data[offset:offset + 4], "little")
        size = 4
    else:
        word, size = half, 2
    spec = decode(word)
    if spec is None:
        directive = ".word" if size == 4 else ".half"
        return Insn(addr, size, word, directive, (f"{word:#0{size * 2 + 2}x}",))
    values = spec.decode(word)
    target = None
    for name in spec.fields:
        if FIELDS[name].kind == PCREL:
            target = (addr + values[name]) & (2**64 - 1)
    alias = _alias(spec, values, addr) if aliases and size == 4 else None
    mnemonic, operands = alias or (spec.name, _operands(spec, values, addr))
    return Insn(addr, size, word, mnemonic, operands, spec, values, target)


def disassemble(data: bytes, addr: int = 0, *, aliases: bool = True) -> list[Insn]:
    """Decode every instruction in ``data``, the first one sitting at ``addr``.

    Never raises on bad input: undecodable words come out as ``.word``/``.half``, a
    trailing odd byte as ``.byte``. ``aliases=False`` prints every 32-bit instruction
    under its own name, as ``objdump -M no-aliases`` does.

    >>> [str(i) for i in disassemble(bytes.fromhex("73000000ffffffff01"))]
    ['ecall', '.word 0xffffffff', '.byte 0x01']
    """
    out: list[Insn] = []
    offset = 0
    data = bytes(data)
    addr = int(addr)  # a numpy integer (a pc from a trace) would overflow in the arithmetic
    while offset < len(data):
        insn = decode_one(data, offset, addr + offset, aliases)
        out.append(insn)
        offset += insn.size
    return out


def to_text(insns: list[Insn], symbols: dict[str, Any] | None = None) -> str:
    """objdump-like listing: ``address: raw  text``, with ``<label>:`` lines."""
    labels: dict[int, str] = {}
    for name, value in (symbols or {}).items():
        labels.setdefault(value, name)
    lines = []
    for insn in insns:
        if insn.addr in labels:
            lines.append(f"\n{insn.addr:016x} <{labels[insn.addr]}>:")
        raw = f"{insn.raw:0{insn.size * 2}x}"
        lines.append(f"{insn.addr:8x}:\t{raw:<8}\t{insn}")
    return "\n".join(lines).lstrip("\n")
