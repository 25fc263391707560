"""The one RISC-V instruction table.

Every instruction vkernel knows is one :class:`InsnSpec` row below: its name, format,
``match``/``mask`` bits, extension and operand syntax. The decoder constants
(:mod:`vkernel.isa.decode`), the disassembler and the assembler are all derived from
this list, so an encoding is written down exactly once.

Operand syntax is a tuple with one string per comma-separated assembly operand. Each
string is made of *field* names (see :data:`FIELDS`) and literal parentheses, e.g.
``"imm_i(rs1)"`` is a load/store address and ``"(rs1)"`` an AMO address. A field knows
where its bits live in the instruction word and what values it accepts.

>>> from vkernel.isa.table import BY_NAME
>>> spec = BY_NAME["addi"]
>>> hex(spec.match), hex(spec.mask), spec.operands
('0x13', '0x707f', ('rd', 'rs1', 'imm_i'))
>>> hex(spec.encode(rd=10, rs1=0, imm_i=5))
'0x500513'
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

# Integer register names by number (the psABI names the assembler and disassembler use).
ABI_NAMES: tuple[str, ...] = (
    "zero", "ra", "sp", "gp", "tp", "t0", "t1", "t2", "s0", "s1",
    *(f"a{i}" for i in range(8)), *(f"s{i}" for i in range(2, 12)),
    *(f"t{i}" for i in range(3, 7)))

# ----------------------------------------------------------------------------- fields

# Kinds of field: how the assembler parses it and the disassembler prints it.
XREG = "xreg"      # integer register x0..x31 (5 bits)
XREG3 = "xreg3"    # compressed "prime" register x8..x15 (3 bits)
SP = "sp"          # operand that must be literally sp (x2); encodes no bits
IMM = "imm"        # plain immediate
PCREL = "pcrel"    # branch/jump target: encoded as target - pc
CSR = "csr"        # CSR number or name
FENCE = "fence"    # fence predecessor/successor set: subset of "iorw"
LUI = "lui"        # 20-bit upper immediate as lui/auipc/c.lui write it


@dataclass(frozen=True)
class Field:
    """An operand field: value bits scattered into the instruction word.

    ``segments`` are ``(insn_lsb, width, value_lsb)``: bits ``value[value_lsb +
    width - 1 : value_lsb]`` sit at ``insn[insn_lsb + width - 1 : insn_lsb]``.
    ``bits`` is the width of the value (including the sign bit when ``signed``);
    ``scale`` is the alignment the value must have (its low bits are not stored).
    """

    name: str
    kind: str
    segments: tuple[tuple[int, int, int], ...]
    bits: int = 0
    signed: bool = False
    scale: int = 1
    nonzero: bool = False

    @property
    def lo(self) -> int:
        """Smallest value the field accepts."""
        if self.kind in (XREG, XREG3, SP):
            return 8 if self.kind == XREG3 else 0
        return -(1 << (self.bits - 1)) if self.signed else 0

    @property
    def hi(self) -> int:
        """Largest value the field accepts."""
        if self.kind == XREG3:
            return 15
        if self.kind in (XREG, SP):
            return 31
        return (1 << (self.bits - 1)) - self.scale if self.signed else (1 << self.bits) - self.scale

    def fits(self, value: int) -> bool:
        """True when ``value`` is encodable in this field."""
        if self.kind == SP:
            return value == 2
        if value < self.lo or value > self.hi or value % self.scale:
            return False
        return not (self.nonzero and value == 0)

    def encode(self, value: int) -> int:
        """Bits to OR into the instruction word (the value is assumed to fit)."""
        if self.kind == XREG3:
            value -= 8
        word = 0
        for insn_lsb, width, value_lsb in self.segments:
            word |= ((value >> value_lsb) & ((1 << width) - 1)) << insn_lsb
        return word

    def decode(self, word: int) -> int:
        """The field's value in instruction ``word`` (sign-extended when signed)."""
        if self.kind == SP:
            return 2
        value = 0
        for insn_lsb, width, value_lsb in self.segments:
            value |= ((word >> insn_lsb) & ((1 << width) - 1)) << value_lsb
        if self.signed and value >> (self.bits - 1) & 1:
            value -= 1 << self.bits
        if self.kind == XREG3:
            value += 8
        return value

    @property
    def insn_mask(self) -> int:
        """Instruction bits this field occupies."""
        mask = 0
        for insn_lsb, width, _ in self.segments:
            mask |= ((1 << width) - 1) << insn_lsb
        return mask


def _f(name: str, kind: str, segments: Iterable[tuple[int, int, int]], bits: int = 0,
       signed: bool = False, scale: int = 1, nonzero: bool = False) -> Field:
    return Field(name, kind, tuple(segments), bits, signed, scale, nonzero)


FIELDS: dict[str, Field] = {f.name: f for f in [
    # --- 32-bit formats (RISC-V unprivileged spec, chapter 2)
    _f("rd", XREG, [(7, 5, 0)]),
    _f("rs1", XREG, [(15, 5, 0)]),
    _f("rs2", XREG, [(20, 5, 0)]),
    _f("imm_i", IMM, [(20, 12, 0)], 12, signed=True),
    _f("imm_s", IMM, [(7, 5, 0), (25, 7, 5)], 12, signed=True),
    _f("imm_b", PCREL, [(8, 4, 1), (25, 6, 5), (7, 1, 11), (31, 1, 12)], 13, signed=True,
       scale=2),
    _f("imm_u", LUI, [(12, 20, 0)], 20),
    _f("imm_j", PCREL, [(21, 10, 1), (20, 1, 11), (12, 8, 12), (31, 1, 20)], 21,
       signed=True, scale=2),
    _f("shamt6", IMM, [(20, 6, 0)], 6),
    _f("shamt5", IMM, [(20, 5, 0)], 5),
    _f("csr", CSR, [(20, 12, 0)], 12),
    _f("zimm5", IMM, [(15, 5, 0)], 5),
    _f("pred", FENCE, [(24, 4, 0)], 4),
    _f("succ", FENCE, [(20, 4, 0)], 4),
    # --- 16-bit formats (RISC-V unprivileged spec, "C" chapter)
    _f("c_rd", XREG, [(7, 5, 0)]),                      # rd / rs1 in CR, CI
    _f("c_rd_nz", XREG, [(7, 5, 0)], nonzero=True),
    _f("c_rs2", XREG, [(2, 5, 0)]),
    _f("c_rs2_nz", XREG, [(2, 5, 0)], nonzero=True),
    _f("c_rdp", XREG3, [(2, 3, 0)]),                    # rd' / rs2' at [4:2]
    _f("c_rs1p", XREG3, [(7, 3, 0)]),                   # rs1' / rd' at [9:7]
    _f("c_sp", SP, []),
    _f("c_imm6", IMM, [(2, 5, 0), (12, 1, 5)], 6, signed=True),
    _f("c_shamt", IMM, [(2, 5, 0), (12, 1, 5)], 6, nonzero=True),
    # c.lui's operand is written like lui's (the upper 20 bits): 1..31 or 0xfffe0..0xfffff.
    _f("c_lui", LUI, [(2, 5, 0), (12, 1, 5)], 6, signed=True, nonzero=True),
    _f("c_addi16sp", IMM, [(6, 1, 4), (2, 1, 5), (5, 1, 6), (3, 2, 7), (12, 1, 9)], 10,
       signed=True, scale=16, nonzero=True),
    _f("c_addi4spn", IMM, [(6, 1, 2), (5, 1, 3), (11, 2, 4), (7, 4, 6)], 10, scale=4,
       nonzero=True),
    _f("c_uimm_w", IMM, [(6, 1, 2), (10, 3, 3), (5, 1, 6)], 7, scale=4),
    _f("c_uimm_d", IMM, [(10, 3, 3), (5, 2, 6)], 8, scale=8),
    _f("c_uimm_lwsp", IMM, [(4, 3, 2), (12, 1, 5), (2, 2, 6)], 8, scale=4),
    _f("c_uimm_ldsp", IMM, [(5, 2, 3), (12, 1, 5), (2, 3, 6)], 9, scale=8),
    _f("c_uimm_swsp", IMM, [(9, 4, 2), (7, 2, 6)], 8, scale=4),
    _f("c_uimm_sdsp", IMM, [(10, 3, 3), (7, 3, 6)], 9, scale=8),
    _f("c_imm_j", PCREL, [(3, 3, 1), (11, 1, 4), (2, 1, 5), (7, 1, 6), (6, 1, 7),
                          (9, 2, 8), (8, 1, 10), (12, 1, 11)], 12, signed=True, scale=2),
    _f("c_imm_b", PCREL, [(3, 2, 1), (10, 2, 3), (2, 1, 5), (5, 2, 6), (12, 1, 8)], 9,
       signed=True, scale=2),
]}

# ------------------------------------------------------------------------ instructions


@dataclass(frozen=True)
class InsnSpec:
    """One instruction encoding.

    ``match``/``mask``: a word ``w`` is this instruction when ``w & mask == match``
    (and the fields named in ``reserved_zero`` are not zero, where the spec reserves
    the zero encoding). ``operands``: assembly syntax, one string per operand.
    """

    name: str
    fmt: str
    match: int
    mask: int
    ext: str
    operands: tuple[str, ...]
    reserved_zero: tuple[str, ...] = ()
    reserved_values: tuple[tuple[str, int], ...] = ()
    fields: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names: list[str] = []
        for op in self.operands:
            names.extend(operand_fields(op))
        object.__setattr__(self, "fields", tuple(names))

    @property
    def size(self) -> int:
        """Instruction length in bytes: 2 for compressed, else 4."""
        return 2 if self.match & 3 != 3 else 4

    def matches(self, word: int) -> bool:
        """True when ``word`` (already cut to :attr:`size`) is this instruction."""
        if word & self.mask != self.match:
            return False
        for name in self.reserved_zero:
            if FIELDS[name].decode(word) == 0:
                return False
        return all(FIELDS[name].decode(word) != value for name, value in self.reserved_values)

    def encode(self, **values: int) -> int:
        """Instruction word with the given field values (PC-relative fields as offsets)."""
        word = self.match
        for name in self.fields:
            word |= FIELDS[name].encode(values[name])
        return word

    def decode(self, word: int) -> dict[str, int]:
        """Field values of ``word``, keyed by field name."""
        return {name: FIELDS[name].decode(word) for name in self.fields}


def operand_fields(operand: str) -> list[str]:
    """Field names in one operand's syntax: ``"imm_i(rs1)"`` → ``["imm_i", "rs1"]``."""
    return operand.replace("(", " ").replace(")", " ").split()


def _ops(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split(",")) if text else ()


INSTRUCTIONS: list[InsnSpec] = []


def _add(name: str, fmt: str, match: int, mask: int, ext: str, operands: str,
         reserved_zero: tuple[str, ...] = (), reserved_values: tuple[tuple[str, int], ...] = ()
         ) -> None:
    INSTRUCTIONS.append(InsnSpec(name, fmt, match, mask, ext, _ops(operands), reserved_zero,
                                 reserved_values))


# Masks of the common shapes.
OPC = 0x7F                 # opcode only
F3 = 0x707F                # opcode + funct3
F7 = 0xFE00707F            # opcode + funct3 + funct7
F6 = 0xFC00707F            # opcode + funct3 + funct6 (RV64 shifts)
FULL = 0xFFFFFFFF

# --- RV64I
_add("lui", "U", 0x37, OPC, "I", "rd, imm_u")
_add("auipc", "U", 0x17, OPC, "I", "rd, imm_u")
_add("jal", "J", 0x6F, OPC, "I", "rd, imm_j")
_add("jalr", "I", 0x67, F3, "I", "rd, imm_i(rs1)")
for _i, _n in enumerate(["beq", "bne", None, None, "blt", "bge", "bltu", "bgeu"]):
    if _n:
        _add(_n, "B", 0x63 | _i << 12, F3, "I", "rs1, rs2, imm_b")
for _i, _n in enumerate(["lb", "lh", "lw", "ld", "lbu", "lhu", "lwu"]):
    _add(_n, "I", 0x03 | _i << 12, F3, "I", "rd, imm_i(rs1)")
for _i, _n in enumerate(["sb", "sh", "sw", "sd"]):
    _add(_n, "S", 0x23 | _i << 12, F3, "I", "rs2, imm_s(rs1)")
for _i, _n in [(0, "addi"), (2, "slti"), (3, "sltiu"), (4, "xori"), (6, "ori"), (7, "andi")]:
    _add(_n, "I", 0x13 | _i << 12, F3, "I", "rd, rs1, imm_i")
_add("slli", "I", 0x1013, F6, "I", "rd, rs1, shamt6")
_add("srli", "I", 0x5013, F6, "I", "rd, rs1, shamt6")
_add("srai", "I", 0x40005013, F6, "I", "rd, rs1, shamt6")
for _f7, _i, _n in [(0, 0, "add"), (0x20, 0, "sub"), (0, 1, "sll"), (0, 2, "slt"),
                    (0, 3, "sltu"), (0, 4, "xor"), (0, 5, "srl"), (0x20, 5, "sra"),
                    (0, 6, "or"), (0, 7, "and")]:
    _add(_n, "R", 0x33 | _i << 12 | _f7 << 25, F7, "I", "rd, rs1, rs2")
_add("addiw", "I", 0x1B, F3, "I", "rd, rs1, imm_i")
_add("slliw", "I", 0x101B, F7, "I", "rd, rs1, shamt5")
_add("srliw", "I", 0x501B, F7, "I", "rd, rs1, shamt5")
_add("sraiw", "I", 0x4000501B, F7, "I", "rd, rs1, shamt5")
for _f7, _i, _n in [(0, 0, "addw"), (0x20, 0, "subw"), (0, 1, "sllw"), (0, 5, "srlw"),
                    (0x20, 5, "sraw")]:
    _add(_n, "R", 0x3B | _i << 12 | _f7 << 25, F7, "I", "rd, rs1, rs2")
# FENCE: fm, rs1 and rd are reserved for future use and ignored by implementations.
_add("fence", "I", 0x0F, F3, "I", "pred, succ")
_add("fence.tso", "I", 0x8330000F, 0xFFF0707F, "I", "")
_add("ecall", "I", 0x73, FULL, "I", "")
_add("ebreak", "I", 0x100073, FULL, "I", "")

# --- Zifencei (imm, rs1 and rd are reserved and ignored)
_add("fence.i", "I", 0x100F, F3, "Zifencei", "")

# --- Zicsr
for _i, _n in [(1, "csrrw"), (2, "csrrs"), (3, "csrrc")]:
    _add(_n, "I", 0x73 | _i << 12, F3, "Zicsr", "rd, csr, rs1")
for _i, _n in [(5, "csrrwi"), (6, "csrrsi"), (7, "csrrci")]:
    _add(_n, "I", 0x73 | _i << 12, F3, "Zicsr", "rd, csr, zimm5")

# --- M
for _base, _suffix, _names in [(0x33, "", ["mul", "mulh", "mulhsu", "mulhu", "div", "divu",
                                           "rem", "remu"]),
                               (0x3B, "w", ["mul", None, None, None, "div", "divu", "rem",
                                            "remu"])]:
    for _i, _n in enumerate(_names):
        if _n:
            _add(_n + _suffix, "R", _base | _i << 12 | 1 << 25, F7, "M", "rd, rs1, rs2")

# --- A: every operation in .w and .d, each with the four aq/rl orderings.
_AMO = [(0b00010, "lr"), (0b00011, "sc"), (0b00001, "amoswap"), (0b00000, "amoadd"),
        (0b00100, "amoxor"), (0b01100, "amoand"), (0b01000, "amoor"), (0b10000, "amomin"),
        (0b10100, "amomax"), (0b11000, "amominu"), (0b11100, "amomaxu")]
for _width, _w in [(2, "w"), (3, "d")]:
    for _f5, _op in _AMO:
        for _aqrl, _order in [(0, ""), (2, ".aq"), (1, ".rl"), (3, ".aqrl")]:
            _m = 0x2F | _width << 12 | _aqrl << 25 | _f5 << 27
            if _op == "lr":
                _add(f"lr.{_w}{_order}", "R", _m, 0xFFF0707F, "A", "rd, (rs1)")
            else:
                _add(f"{_op}.{_w}{_order}", "R", _m, F7, "A", "rd, rs2, (rs1)")

# --- C (RV64C, no floating point). Reserved encodings are excluded through
# reserved_zero / reserved_values; HINT encodings (e.g. rd=x0 for c.li, c.mv, c.add,
# c.slli, c.lui) decode as the instruction they extend, as GNU as and objdump treat them.
_add("c.unimp", "CIW", 0x0000, 0xFFFF, "C", "")  # all zeros: defined to be illegal
_add("c.addi4spn", "CIW", 0x0000, 0xE003, "C", "c_rdp, c_sp, c_addi4spn",
     reserved_zero=("c_addi4spn",))
_add("c.lw", "CL", 0x4000, 0xE003, "C", "c_rdp, c_uimm_w(c_rs1p)")
_add("c.ld", "CL", 0x6000, 0xE003, "C", "c_rdp, c_uimm_d(c_rs1p)")
_add("c.sw", "CS", 0xC000, 0xE003, "C", "c_rdp, c_uimm_w(c_rs1p)")
_add("c.sd", "CS", 0xE000, 0xE003, "C", "c_rdp, c_uimm_d(c_rs1p)")
_add("c.nop", "CI", 0x0001, 0xFFFF, "C", "")
_add("c.addi", "CI", 0x0001, 0xE003, "C", "c_rd, c_imm6")
_add("c.addiw", "CI", 0x2001, 0xE003, "C", "c_rd_nz, c_imm6", reserved_zero=("c_rd",))
_add("c.li", "CI", 0x4001, 0xE003, "C", "c_rd, c_imm6")
_add("c.addi16sp", "CI", 0x6101, 0xEF83, "C", "c_sp, c_addi16sp",
     reserved_zero=("c_addi16sp",))
_add("c.lui", "CI", 0x6001, 0xE003, "C", "c_rd, c_lui", reserved_zero=("c_lui",),
     reserved_values=(("c_rd", 2),))
_add("c.srli", "CB", 0x8001, 0xEC03, "C", "c_rs1p, c_shamt")
_add("c.srai", "CB", 0x8401, 0xEC03, "C", "c_rs1p, c_shamt")
_add("c.andi", "CB", 0x8801, 0xEC03, "C", "c_rs1p, c_imm6")
for _m, _n in [(0x8C01, "c.sub"), (0x8C21, "c.xor"), (0x8C41, "c.or"), (0x8C61, "c.and"),
               (0x9C01, "c.subw"), (0x9C21, "c.addw")]:
    _add(_n, "CA", _m, 0xFC63, "C", "c_rs1p, c_rdp")
_add("c.j", "CJ", 0xA001, 0xE003, "C", "c_imm_j")
_add("c.beqz", "CB", 0xC001, 0xE003, "C", "c_rs1p, c_imm_b")
_add("c.bnez", "CB", 0xE001, 0xE003, "C", "c_rs1p, c_imm_b")
_add("c.slli", "CI", 0x0002, 0xE003, "C", "c_rd, c_shamt")
_add("c.lwsp", "CI", 0x4002, 0xE003, "C", "c_rd_nz, c_uimm_lwsp(c_sp)",
     reserved_zero=("c_rd",))
_add("c.ldsp", "CI", 0x6002, 0xE003, "C", "c_rd_nz, c_uimm_ldsp(c_sp)",
     reserved_zero=("c_rd",))
_add("c.jr", "CR", 0x8002, 0xF07F, "C", "c_rd_nz", reserved_zero=("c_rd",))
_add("c.mv", "CR", 0x8002, 0xF003, "C", "c_rd, c_rs2_nz", reserved_zero=("c_rs2",))
_add("c.ebreak", "CR", 0x9002, 0xFFFF, "C", "")
_add("c.jalr", "CR", 0x9002, 0xF07F, "C", "c_rd_nz", reserved_zero=("c_rd",))
_add("c.add", "CR", 0x9002, 0xF003, "C", "c_rd, c_rs2_nz", reserved_zero=("c_rs2",))
_add("c.swsp", "CSS", 0xC002, 0xE003, "C", "c_rs2, c_uimm_swsp(c_sp)")
_add("c.sdsp", "CSS", 0xE002, 0xE003, "C", "c_rs2, c_uimm_sdsp(c_sp)")

# --- Privileged (machine and supervisor)
_add("mret", "I", 0x30200073, FULL, "Priv", "")
_add("sret", "I", 0x10200073, FULL, "Priv", "")
_add("wfi", "I", 0x10500073, FULL, "Priv", "")
_add("sfence.vma", "R", 0x12000073, 0xFE007FFF, "Priv", "rs1, rs2")

# --- H (hypervisor extension)
_add("hfence.vvma", "R", 0x22000073, 0xFE007FFF, "H", "rs1, rs2")
_add("hfence.gvma", "R", 0x62000073, 0xFE007FFF, "H", "rs1, rs2")
for _m, _n in [(0x60004073, "hlv.b"), (0x60104073, "hlv.bu"), (0x64004073, "hlv.h"),
               (0x64104073, "hlv.hu"), (0x64304073, "hlvx.hu"), (0x68004073, "hlv.w"),
               (0x68104073, "hlv.wu"), (0x68304073, "hlvx.wu"), (0x6C004073, "hlv.d")]:
    _add(_n, "R", _m, 0xFFF0707F, "H", "rd, (rs1)")
for _m, _n in [(0x62004073, "hsv.b"), (0x66004073, "hsv.h"), (0x6A004073, "hsv.w"),
               (0x6E004073, "hsv.d")]:
    _add(_n, "R", _m, 0xFE007FFF, "H", "rs2, (rs1)")

BY_NAME: dict[str, InsnSpec] = {s.name: s for s in INSTRUCTIONS}
EXTENSIONS: tuple[str, ...] = ("I", "M", "A", "C", "Zicsr", "Zifencei", "Priv", "H")

# Pairs of entries whose encodings overlap on purpose, with the spec's reason. The
# decoder takes the entry with the larger mask (the special case).
ALLOWED_OVERLAPS: dict[frozenset[str], str] = {
    frozenset({"fence", "fence.tso"}):
        "FENCE.TSO is a FENCE with fm=1000, pred=succ=RW (unprivileged spec, FENCE.TSO)",
    frozenset({"c.nop", "c.addi"}):
        "C.NOP is the C.ADDI encoding with rd=x0, nzimm=0 (unprivileged spec, C chapter)",
}

del _i, _n, _f7, _base, _suffix, _names, _width, _w, _f5, _op, _aqrl, _order, _m
