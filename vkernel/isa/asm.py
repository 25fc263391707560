"""A GNU-as compatible RISC-V assembler, driven by the instruction table.

The assembler works in three passes, the way a textbook assembler does:

1. **parse**: each source line becomes labels plus one statement. Instructions are
   looked up in :mod:`vkernel.isa.table` (or expanded from a pseudo-instruction into
   table instructions), operands are parsed into expression trees, and, when
   ``.option rvc`` is in effect, an instruction with a compressed form is replaced by
   it, choosing the same form GNU as does.
2. **layout**: addresses are given to every item of every section. A branch to a
   label starts in its shortest form and grows (compressed → 32-bit → inverted
   branch over a ``jal``) until every target is in range, as GNU as relaxes them.
3. **encode**: expressions are evaluated, ranges checked, and bytes emitted.

Anything wrong raises :class:`vkernel.AsmError` with the line and column.

>>> from vkernel.isa.asm import assemble
>>> prog = assemble('''
... _start: la   a0, msg
...         li   a1, 0x123456789
...         ret
... .data
... msg:    .asciz "hi"
... ''')
>>> hex(prog.symbols["msg"]), prog.sections[".data"].data
('0x80001000', b'hi\\x00')
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

from vkernel.errors import AsmError
from vkernel.isa.csr import CSR_NUMBER
from vkernel.isa.preprocess import Line as _Line
from vkernel.isa.preprocess import Reader
from vkernel.isa.program import Program, Section
from vkernel.isa.table import (
    ABI_NAMES,
    BY_NAME,
    CSR,
    FENCE,
    FIELDS,
    LUI,
    PCREL,
    SP,
    XREG,
    XREG3,
    Field,
    InsnSpec,
    operand_fields,
)

# ------------------------------------------------------------------------- registers

REGISTERS: dict[str, int] = {name: i for i, name in enumerate(ABI_NAMES)}
REGISTERS.update({f"x{i}": i for i in range(32)})
REGISTERS["fp"] = 8

SECTION_ALIGN = 0x1000  # each section starts on its own page, so it can be mapped alone
MAX_FILL = 256 << 20    # .zero/.space beyond this is a typo, not a program

# ----------------------------------------------------------------------------- lexer

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<num>0[xX][0-9a-fA-F]+|0[bB][01]+(?![\w.$]))
  | (?P<localref>[0-9]+[bf](?![\w.$]))
  | (?P<dec>[0-9]+)
  | (?P<char>'(?:\\.|[^\\'])')
  | (?P<str>"(?:\\.|[^\\"])*")
  | (?P<badchar>')
  | (?P<badstr>")
  | (?P<reloc>%[A-Za-z_]+)
  | (?P<ident>[A-Za-z_.$][\w.$]*)
  | (?P<op><<|>>|&&|\|\||==|!=|<>|<=|>=|[-+*/%&|^~!(),:=<>])
""", re.VERBOSE)


@dataclass
class Tok:
    kind: str       # num, char, str, reloc, ident, op, localref, end
    text: str
    col: int        # 1-based column in the source line


def _lex(line: _Line, text: str, offset: int) -> list[Tok]:
    """Tokens of ``text`` (a statement starting at column ``offset`` + 1)."""
    toks: list[Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m:
            raise line.error(f"unexpected character {text[pos]!r}", offset + pos + 1)
        kind = m.lastgroup
        value = m.group()
        col = offset + pos + 1
        pos = m.end()
        if kind == "ws":
            continue
        if kind == "badstr":
            raise line.error("unterminated string", col)
        if kind == "badchar":
            raise line.error("unterminated character constant", col)
        if kind == "dec":
            kind = "num"
        toks.append(Tok(kind, value, col))
    toks.append(Tok("end", "", offset + len(text.rstrip()) + 1))
    return toks


_ESCAPES = {"n": 10, "t": 9, "r": 13, "b": 8, "f": 12, "v": 11, "a": 7, "\\": 92, '"': 34,
            "'": 39, "e": 27}


def _unescape(line: _Line, body: str, col: int) -> bytes:
    out = bytearray()
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        i += 1
        if i >= len(body):
            raise line.error("unterminated string", col)
        c = body[i]
        if c in _ESCAPES:
            out.append(_ESCAPES[c])
            i += 1
        elif c in "01234567":
            m = re.match(r"[0-7]{1,3}", body[i:])
            assert m
            out.append(int(m.group(), 8) & 0xFF)
            i += len(m.group())
        elif c in "xX":
            m = re.match(r"[0-9a-fA-F]+", body[i + 1:])
            if not m:
                raise line.error("\\x used with no following hex digits", col + i)
            out.append(int(m.group(), 16) & 0xFF)
            i += 1 + len(m.group())
        else:
            out += c.encode()
            i += 1
    return bytes(out)


# ------------------------------------------------------------------------ expressions

# An expression is a small tree of tuples:
#   ("num", value) ("sym", name, col) ("dot",) ("neg"|"not"|"lnot", e)
#   ("bin", op, a, b) ("reloc", "%hi", e, col)
Expr = tuple

# GNU as's operator precedence (higher binds tighter), which differs from C's.
# GNU as's ranks (expr.c, not its manual, which puts + - with the comparisons and && with
# ||): 1 < 2 + 3 is true, 1 || 0 && 0 is 1
_BINARY = {"*": 6, "/": 6, "%": 6, "<<": 6, ">>": 6,
           "|": 5, "&": 5, "^": 5, "!": 5,
           "+": 4, "-": 4,
           "==": 3, "!=": 3, "<>": 3, "<": 3, ">": 3, "<=": 3, ">=": 3,
           "&&": 2, "||": 1}
RELOC_FUNCS = ("%hi", "%lo", "%pcrel_hi", "%pcrel_lo")


class _Parser:
    """Recursive-descent parser over one statement's tokens."""

    def __init__(self, asm: _Assembler, line: _Line, toks: list[Tok]) -> None:
        self.asm = asm
        self.line = line
        self.toks = toks
        self.i = 0

    @property
    def tok(self) -> Tok:
        toks = self.toks
        return toks[self.i] if self.i < len(toks) else toks[-1]

    def next(self) -> Tok:
        t = self.tok
        self.i += 1
        return t

    def at(self, text: str) -> bool:
        return self.tok.kind == "op" and self.tok.text == text

    def expect(self, text: str) -> Tok:
        if not self.at(text):
            raise self.error(f"expected '{text}'")
        return self.next()

    def error(self, message: str, tok: Tok | None = None) -> AsmError:
        t = tok or self.tok
        if t.kind == "end" and "found" not in message:
            message += " but found end of line"
        elif t.kind != "end" and "found" not in message:
            message += f" but found '{t.text}'"
        return self.line.error(message, t.col)

    def done(self) -> bool:
        return self.tok.kind == "end"

    def expr(self, min_prec: int = 1) -> Expr:
        left = self.unary()
        while self.tok.kind == "op" and _BINARY.get(self.tok.text, 0) >= min_prec:
            op = self.next().text
            right = self.expr(_BINARY[op] + 1)
            left = ("bin", op, left, right)
        return left

    def unary(self) -> Expr:
        t = self.tok
        if t.kind == "op" and t.text in "-~!+":
            self.next()
            inner = self.unary()
            return {"-": ("neg", inner), "~": ("not", inner), "!": ("lnot", inner),
                    "+": inner}[t.text]
        return self.primary()

    def primary(self) -> Expr:
        t = self.next()
        if t.kind == "num":
            text = t.text.lower()
            if text.startswith("0x"):
                return ("num", int(text, 16))
            if text.startswith("0b"):
                return ("num", int(text[2:], 2))
            if len(text) > 1 and text.startswith("0"):  # GNU as reads 010 as octal
                if not re.fullmatch(r"[0-7]+", text):
                    raise self.line.error(f"bad octal number '{t.text}'", t.col)
                return ("num", int(text, 8))
            return ("num", int(text))
        if t.kind == "char":
            data = _unescape(self.line, t.text[1:-1], t.col)
            return ("num", data[0] if data else 0)
        if t.kind == "localref":
            return ("sym", self.asm.local_ref(self.line, t), t.col)
        if t.kind == "ident":
            if t.text == ".":
                return ("dot",)
            value = self.asm.constant_now(t.text)
            if value is not None:
                return ("num", value)
            return ("sym", t.text, t.col)
        if t.kind == "reloc":
            if t.text not in RELOC_FUNCS:
                raise self.line.error(f"unknown relocation function '{t.text}'", t.col)
            self.expect("(")
            inner = self.expr()
            self.expect(")")
            return ("reloc", t.text, inner, t.col)
        if t.kind == "op" and t.text == "(":
            inner = self.expr()
            self.expect(")")
            return inner
        self.i -= 1
        raise self.error("expected an expression")

    def register(self, what: str = "register") -> tuple[int, Tok]:
        t = self.next()
        if t.kind == "ident" and t.text.lower() in REGISTERS:
            return REGISTERS[t.text.lower()], t
        self.i -= 1
        if t.kind == "ident":
            raise self.line.error(f"unknown register '{t.text}'", t.col)
        raise self.error(f"expected a {what}")

    def operand_tokens(self) -> list[list[Tok]]:
        """Split the remaining tokens on top-level commas."""
        groups: list[list[Tok]] = [[]]
        opened: list[Tok] = []
        while not self.done():
            t = self.next()
            if t.kind == "op" and t.text == "(":
                opened.append(t)
            elif t.kind == "op" and t.text == ")":
                if not opened:
                    raise self.line.error("unbalanced ')'", t.col)
                opened.pop()
            depth = len(opened)
            if t.kind == "op" and t.text == "," and depth == 0:
                if not groups[-1]:
                    raise self.line.error("missing operand before ','", t.col)
                groups.append([])
                last_comma = t
            else:
                groups[-1].append(t)
        if opened:
            raise self.line.error("missing ')'", opened[-1].col)
        if len(groups) > 1 and not groups[-1]:
            raise self.line.error("missing operand after ','", last_comma.col)
        return [] if groups == [[]] else groups


def _sext(value: int, bits: int) -> int:
    value &= (1 << bits) - 1
    return value - (1 << bits) if value >> (bits - 1) else value


def _hi20(value: int) -> int:
    return ((value + 0x800) >> 12) & 0xFFFFF


def _lo12(value: int) -> int:
    return _sext(value, 12)


def _symbols_in(e: Expr) -> list[str]:
    if e[0] == "sym":
        return [e[1]]
    return [n for x in e[1:] if isinstance(x, tuple) for n in _symbols_in(x)]


def _is_constant(e: Expr) -> bool:
    if e[0] == "num":
        return True
    if e[0] in ("sym", "dot", "reloc"):
        return False
    return all(_is_constant(x) for x in e[1:] if isinstance(x, tuple))


# ----------------------------------------------------------------------------- items


@dataclass
class _Operand:
    """A parsed value for one field: an expression plus where it was written."""

    expr: Expr
    col: int


@dataclass
class _Item:
    """Something placed in a section: bytes, data, an alignment, or an instruction."""

    line: _Line
    size: int = 0
    addr: int = 0


@dataclass
class _Label(_Item):
    name: str = ""


@dataclass
class _Bytes(_Item):
    data: bytes = b""


@dataclass
class _Data(_Item):
    width: int = 1
    values: list[_Operand] = field(default_factory=list)


@dataclass
class _Fill(_Item):
    value: int = 0


@dataclass
class _Align(_Item):
    boundary: int = 1
    fill: int | None = None
    max_skip: int | None = None
    code: bool = False


@dataclass
class _Insn(_Item):
    spec: InsnSpec | None = None
    operands: dict[str, _Operand] = field(default_factory=dict)
    # A branch or jump to a symbol that may grow: its forms (spec, operands, size),
    # shortest first, and which one is in use.
    forms: list[tuple[InsnSpec, dict[str, _Operand], int]] = field(default_factory=list)
    form: int = 0
    target: _Operand | None = None
    forward: bool = False  # the target names a label not yet defined where the branch is


@dataclass
class _Section:
    name: str
    executable: bool
    writable: bool
    nobits: bool
    items: list[_Item] = field(default_factory=list)
    align: int = 1
    addr: int = 0
    first_use: int = 0


def _section_kind(name: str) -> tuple[bool, bool, bool]:
    """(executable, writable, nobits) for a section by its conventional name."""
    if name.startswith(".text") or name == ".init":
        return True, False, False
    if name.startswith((".bss", ".sbss", ".tbss")):
        return False, True, True
    if name.startswith((".rodata", ".srodata")):
        return False, False, False
    return False, True, False


# ------------------------------------------------------------------------- assembler

class _Assembler:
    def __init__(self, base: int, filename: str) -> None:
        self.base = base
        self.filename = filename
        self.sections: dict[str, _Section] = {}
        self.section = self._switch(".text")
        self.section_stack: list[_Section] = []
        self.rvc = False
        self.option_stack: list[bool] = []
        self.labels: dict[str, tuple[_Label, _Line]] = {}
        self.equs: dict[str, tuple[Expr, _Line, int]] = {}  # symbols defined from labels
        self.consts: dict[str, int] = {}                     # symbols with constant values
        self.globals: set[str] = set()
        self.local_counts: dict[str, int] = {}
        self.symbols: dict[str, int] = {}
        self.dot = 0  # address of the item being evaluated
        self.evaluating: set[str] = set()  # .equ symbols being evaluated (cycle check)
        self.moved = False                  # during layout: labels ahead are stale
        self.stretch = 0
        self.fresh: set[str] = set()

    # --- symbols --------------------------------------------------------------------

    def _switch(self, name: str, flags: str | None = None, kind: str | None = None
                ) -> _Section:
        if name not in self.sections:
            executable, writable, nobits = _section_kind(name)
            if flags is not None:
                executable, writable = "x" in flags, "w" in flags
            if kind is not None:
                nobits = kind == "nobits"
            self.sections[name] = _Section(name, executable, writable, nobits)
        return self.sections[name]

    def constant_now(self, name: str) -> int | None:
        """Value of an ``.equ`` constant defined so far (GNU as binds them at parse time)."""
        return self.consts.get(name)

    def local_ref(self, line: _Line, tok: Tok) -> str:
        number, direction = tok.text[:-1], tok.text[-1]
        count = self.local_counts.get(number, 0)
        if direction == "b":
            if count == 0:
                raise line.error(f"undefined local label '{tok.text}': no '{number}:' before it",
                                 tok.col)
            return f".L{number}^{count}"
        return f".L{number}^{count + 1}"

    def define_label(self, line: _Line, name: str, col: int) -> None:
        if name.isdigit():
            self.local_counts[name] = self.local_counts.get(name, 0) + 1
            name = f".L{name}^{self.local_counts[name]}"
        self._check_new(line, name, col)
        label = _Label(line, name=name)
        self._place(label)
        self.labels[name] = (label, line)

    def _check_new(self, line: _Line, name: str, col: int) -> None:
        first = self.labels.get(name) or self.equs.get(name)
        if first is not None:
            where = (f"line {first[1].number}" if first[1].filename == line.filename
                     else f"{first[1].filename}:{first[1].number}")
            raise line.error(f"duplicate label '{name}' (first defined on {where})", col)

    def define_equ(self, line: _Line, name: str, e: Expr, col: int) -> None:
        if name in self.labels:
            self._check_new(line, name, col)
        if _is_constant(e):
            self.equs.pop(name, None)
            self.consts[name] = self._eval(line, e, col)
        else:
            self._check_new(line, name, col)
            self.equs[name] = (e, line, col)

    def lookup(self, line: _Line, name: str, col: int) -> int:
        if name in self.symbols:
            if self.moved and name in self.labels and name not in self.fresh:
                return self.symbols[name] + self.stretch  # a label this pass has not reached
            return self.symbols[name]
        if name in self.equs:
            if name in self.evaluating:
                raise line.error(f"symbol '{name}' is defined in terms of itself", col)
            e, eline, ecol = self.equs[name]
            self.evaluating.add(name)
            try:
                return self._eval(eline, e, ecol)
            finally:
                self.evaluating.discard(name)
        if name in self.consts:
            return self.consts[name]
        if name.startswith(".L") and "^" in name:
            number = name[2:name.index("^")]
            raise line.error(f"undefined local label '{number}f': no '{number}:' after it", col)
        raise line.error(f"undefined symbol '{name}'", col)

    # --- evaluation -----------------------------------------------------------------

    def _eval(self, line: _Line, e: Expr, col: int) -> int:
        kind = e[0]
        if kind == "num":
            return e[1]
        if kind == "sym":
            return self.lookup(line, e[1], e[2])
        if kind == "dot":
            return self.dot
        if kind == "neg":
            return _sext(-self._eval(line, e[1], col), 64)
        if kind == "not":
            return _sext(~self._eval(line, e[1], col), 64)
        if kind == "lnot":
            return int(not _sext(self._eval(line, e[1], col), 64))
        if kind == "reloc":
            raise line.error(f"'{e[1]}' is only allowed as a whole instruction operand", e[3])
        # GNU as holds values as signed 64-bit numbers: 0xffffffffffffffff is -1, so it
        # is < 0 and / 2 gives 0
        op = e[1]
        a, b = _sext(self._eval(line, e[2], col), 64), _sext(self._eval(line, e[3], col), 64)
        if op in ("/", "%") and b == 0:
            raise line.error("division by zero", col)
        if op in ("<<", ">>") and b < 0:
            raise line.error("negative shift count", col)
        result = {
            "+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b,
            "/": lambda: abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1),
            "%": lambda: a - b * (abs(a) // abs(b) * (1 if (a < 0) == (b < 0) else -1)),
            # GNU as shifts right logically, on the 64-bit pattern
            "<<": lambda: (a << b) if b < 64 else 0,
            ">>": lambda: ((a & (2**64 - 1)) >> b) if b < 64 else 0,
            "&": lambda: a & b, "|": lambda: a | b, "^": lambda: a ^ b, "!": lambda: a | ~b,
            "==": lambda: -int(a == b), "!=": lambda: -int(a != b), "<>": lambda: -int(a != b),
            "<": lambda: -int(a < b), ">": lambda: -int(a > b), "<=": lambda: -int(a <= b),
            ">=": lambda: -int(a >= b), "&&": lambda: int(bool(a) and bool(b)),
            "||": lambda: int(bool(a) or bool(b)),
        }[op]()
        return _sext(result, 64)  # arithmetic wraps at 64 bits, like GNU as on RV64

    def value(self, line: _Line, operand: _Operand, pc: int) -> int:
        """Evaluate an operand at ``pc``, applying %hi/%lo/%pcrel_* when present."""
        e = operand.expr
        self.dot = pc
        if e[0] != "reloc":
            return self._eval(line, e, operand.col)
        func, inner = e[1], e[2]
        if func == "%pcrel_lo":
            if inner[0] == "auipc":  # our own la/call expansions point straight at it
                auipc: _Insn = inner[1]
                target = self._eval(line, inner[2], operand.col)
                return _lo12(target - auipc.addr)
            where = self._eval(line, inner, operand.col)
            hi = self.pcrel_hi.get(where)
            if hi is None:
                raise line.error("%pcrel_lo needs a label on an auipc that uses %pcrel_hi",
                                 operand.col)
            return _lo12(hi - where)
        value = self._eval(line, inner, operand.col)
        if func == "%lo":
            return _lo12(value)
        if func == "%pcrel_hi":
            value -= pc
        if not -(1 << 31) <= value + 0x800 < (1 << 31):
            # lui/auipc sign-extend their 32-bit result on RV64, so this would go wrong
            what = "address" if func == "%hi" else "distance"
            raise line.error(f"{func}: {what} {value:#x} is not reachable with a signed "
                             f"32-bit value{' (use la for addresses)' if func == '%hi' else ''}",
                             operand.col)
        return _hi20(value)

    # --- statements -----------------------------------------------------------------

    def statement(self, line: _Line, text: str, offset: int) -> None:
        toks = _lex(line, text, offset)
        p = _Parser(self, line, toks)
        # labels: "name:" (possibly several) before the statement
        while (p.tok.kind in ("ident", "num") and p.toks[p.i + 1].kind == "op"
               and p.toks[p.i + 1].text == ":"):
            t = p.next()
            p.next()
            if t.kind == "num" and not t.text.isdigit():
                raise line.error(f"bad local label '{t.text}'", t.col)
            self.define_label(line, t.text, t.col)
        if p.done():
            return
        t = p.next()
        if t.kind != "ident":
            raise line.error(f"expected an instruction or directive but found '{t.text}'",
                             t.col)
        if p.at("=") and not t.text.startswith("."):
            p.next()
            self.define_equ(line, t.text, p.expr(), t.col)
            if not p.done():
                raise p.error("expected end of line")
            return
        name = t.text.lower()
        if name.startswith("."):
            directive = _DIRECTIVES.get(name)
            if directive is None:
                raise line.error(f"unknown directive '{t.text}'", t.col)
            directive(self, p, t)
            return
        self.instruction(line, p, name, t)

    def absolute(self, line: _Line, text: str, col: int, what: str = "the count") -> int:
        """The value of ``text`` (starting at column ``col``), an expression of constants
        and ``.equ`` symbols defined so far (``what``: a ``.rept`` count, a ``.if``
        condition), decided as the source is read, as GNU as does."""
        p = _Parser(self, line, _lex(line, text, col - 1))
        start = p.tok.col
        e = p.expr()
        if not _is_constant(e):
            raise line.error(f"{what} must be a constant expression: {self._why_not(e)}",
                             start)
        _end(p)
        return _sext(self._eval(line, e, start), 64)

    def _why_not(self, e: Expr) -> str:
        """Why ``e`` has no value while the source is still being read."""
        for name in _symbols_in(e):
            if name in self.labels or name in self.equs:
                what = "a label" if name in self.labels else "defined from a label"
                shown = f"{name[2:name.index('^')]}b" if "^" in name else name
                return (f"'{shown}' is {what}, whose address is known only once the whole "
                        "program is laid out")
            if "^" in name:
                return (f"'{name[2:name.index('^')]}f' is a label further down, whose address "
                        "is known only once the whole program is laid out")
            if name not in self.consts:
                return (f"'{name}' is not defined yet (the source is read top to bottom: "
                        "define it with .equ, .set or = above this line)")
        return "'.' (the address here) is known only once the program is laid out"

    def is_defined(self, name: str) -> bool:
        """Whether ``name`` is a label or symbol defined so far (``.ifdef``)."""
        return name in self.labels or name in self.equs or name in self.consts

    def add(self, item: _Item) -> None:
        if self.section.nobits and not isinstance(item, (_Fill, _Align, _Label)):
            raise item.line.error(f"only labels, .zero, .space and alignment are allowed in "
                                  f"{self.section.name}")
        self._place(item)

    def _place(self, item: _Item) -> None:
        if not self.section.items:  # sections of a kind are laid out in order of first use
            self.section.first_use = sum(1 for s in self.sections.values() if s.items)
        self.section.items.append(item)

    # --- instructions ---------------------------------------------------------------

    def instruction(self, line: _Line, p: _Parser, name: str, tok: Tok) -> None:
        groups = p.operand_tokens()
        pseudo = _PSEUDO.get(name)
        if pseudo is not None:
            pseudo(self, _Ops(self, line, tok, groups))
            return
        spec = BY_NAME.get(name)
        if spec is None:
            raise line.error(f"unknown instruction '{tok.text}'", tok.col)
        ops = _Ops(self, line, tok, groups)
        values = ops.match(spec)
        self.emit(line, spec, values)

    def emit(self, line: _Line, spec: InsnSpec, values: dict[str, _Operand],
             compress: bool = True) -> _Insn:
        """Add one table instruction; compress it when .option rvc says so.

        ``compress=False`` is for mnemonics GNU as never compresses (e.g. an explicit
        ``jal zero, x``, or the second half of ``la``).
        """
        pcrel = [f for f in spec.fields if FIELDS[f].kind == PCREL]
        item = _Insn(line, size=spec.size, spec=spec, operands=values)
        if pcrel and not _is_constant(values[pcrel[0]].expr):
            item.target = values[pcrel[0]]
            item.forward = any(n not in self.labels for n in _symbols_in(item.target.expr))
            item.forms = _branch_forms(spec, values, self.rvc and compress)
            item.spec, item.operands, item.size = item.forms[0]
        elif self.rvc and compress and spec.size == 4:
            small = _compress(line, spec, values, self)
            if small is not None:
                item.spec, item.operands = small
                item.size = 2
        self.add(item)
        return item

    def const(self, line: _Line, operand: _Operand) -> int | None:
        """The value of an operand if it is known now (needed to choose a compressed form)."""
        e = operand.expr
        return self._eval(line, e, operand.col) if _is_constant(e) else None

    # --- passes 2 and 3 -------------------------------------------------------------

    def layout(self) -> None:
        order = sorted(self.sections.values(),
                       key=lambda s: (not s.executable, s.writable, s.nobits, s.first_use))
        order = [s for s in order if s.items] or [self.sections[".text"]]
        for sec in order:  # GNU as pads the end of a code section to its alignment
            if sec.align > (2 if self.rvc else 4) and sec.items and sec.executable:
                sec.items.append(_Align(sec.items[-1].line, boundary=sec.align,
                                        code=sec.executable))
        self.order = order
        # GNU as lets a branch shrink as well as grow, starting a branch to a label not
        # yet defined at its longest; so do we, passing over the items in order with the
        # labels ahead moved by what changed behind them. If that ever oscillates, later
        # passes only let branches grow, which always ends.
        for n in range(200):
            if not self._layout_pass(first=n == 0, grow_only=n >= 100) and n:
                break
        else:
            raise AsmError("branch relaxation did not converge")
        self.stretch = 0
        self.moved = False

    def _layout_pass(self, first: bool, grow_only: bool) -> bool:
        """Give every item its address and every branch its form. True if a form changed."""
        changed = False
        addr = self.base
        self.fresh: set[str] = set()  # labels placed in this pass
        self.moved = True
        for i, sec in enumerate(self.order):
            if i:  # the first section starts exactly at base
                addr = _align_up(addr, max(SECTION_ALIGN, sec.align))
            sec.addr = addr
            for item in sec.items:
                self.stretch = addr - item.addr  # how far this pass moved what lies ahead
                item.addr = addr
                if isinstance(item, _Label):
                    self.symbols[item.name] = addr
                    self.fresh.add(item.name)
                elif isinstance(item, _Align):
                    item.size = self._align_size(item, addr)
                elif isinstance(item, _Insn) and item.target is not None:
                    form = self._choose_form(item, first, grow_only)
                    if form != item.form:
                        changed = True
                        item.form = form
                        item.spec, item.operands, item.size = item.forms[form]
                addr += item.size
        return changed

    def _align_size(self, item: _Align, addr: int) -> int:
        pad = _align_up(addr, item.boundary) - addr
        if item.max_skip is not None and pad > item.max_skip:
            return 0
        return pad

    def _choose_form(self, item: _Insn, first: bool, grow_only: bool) -> int:
        """The shortest form of a branch whose target is in range from where it is now."""
        assert item.target is not None
        last = len(item.forms) - 1
        if first and item.forward:
            return last
        try:
            offset = self.value(item.line, item.target, item.addr) - item.addr
        except AsmError:
            return item.form  # reported when encoding
        form = 0
        while form < last and offset % 2 == 0:
            spec = item.forms[form][0]
            target_field = next(FIELDS[f] for f in spec.fields if FIELDS[f].kind == PCREL)
            if target_field.fits(offset):
                break
            form += 1
        return max(form, item.form) if grow_only else form

    def encode(self) -> None:
        # auipc instructions with %pcrel_hi, so %pcrel_lo(label) can find their target
        self.pcrel_hi: dict[int, int] = {}
        for sec in self.order:
            for item in sec.items:
                if isinstance(item, _Insn) and item.spec and item.spec.name == "auipc":
                    e = item.operands["imm_u"].expr
                    if e[0] == "reloc" and e[1] == "%pcrel_hi":
                        self.dot = item.addr
                        self.pcrel_hi[item.addr] = self._eval(item.line, e[2], e[3])
        self.output: dict[str, bytes] = {}
        self.lines: dict[int, int] = {}
        for sec in self.order:
            out = bytearray()
            for item in sec.items:
                assert sec.addr + len(out) == item.addr
                out += self._encode_item(sec, item)
                if isinstance(item, _Insn):
                    self.lines[item.addr] = item.line.top
            self.output[sec.name] = bytes(out)

    def _encode_item(self, sec: _Section, item: _Item) -> bytes:
        if isinstance(item, _Label):
            return b""
        if isinstance(item, _Bytes):
            return item.data
        if isinstance(item, _Fill):
            return bytes([item.value & 0xFF]) * item.size
        if isinstance(item, _Align):
            if item.fill is not None or not item.code:
                return bytes([(item.fill or 0) & 0xFF]) * item.size
            return _nops(item.size)
        if isinstance(item, _Data):
            out = bytearray()
            for i, v in enumerate(item.values):
                value = self.value(item.line, v, item.addr + i * item.width)
                bits = item.width * 8
                if not -(1 << bits - 1) <= value < (1 << bits) and item.width < 8:
                    raise item.line.error(f"value {value} does not fit in {item.width} "
                                          f"byte{'s' if item.width > 1 else ''}", v.col)
                out += (value & ((1 << bits) - 1)).to_bytes(item.width, "little")
            return bytes(out)
        assert isinstance(item, _Insn) and item.spec is not None
        if item.size > 4:  # inverted branch over a jump (GNU as "branch relaxation")
            return self._encode_long_branch(item)
        word = self._encode_insn(item.line, item.spec, item.operands, item.addr)
        return word.to_bytes(item.spec.size, "little")

    def _encode_insn(self, line: _Line, spec: InsnSpec, operands: dict[str, _Operand],
                     pc: int) -> int:
        values: dict[str, int] = {}
        for name in spec.fields:
            f = FIELDS[name]
            if f.kind == SP:
                values[name] = 2
                continue
            op = operands[name]
            value = self.value(line, op, pc)
            if f.kind == PCREL:
                value -= pc
            _check_field(line, spec, f, value, op.col)
            values[name] = value
        return spec.encode(**values)

    def _encode_long_branch(self, item: _Insn) -> bytes:
        assert item.spec is not None
        spec = item.spec
        target_name = "c_imm_b" if spec.size == 2 else "imm_b"
        first_size = spec.size
        skip = dict(item.operands)
        skip[target_name] = _Operand(("num", item.addr + first_size + 4), 0)
        first = self._encode_insn(item.line, BY_NAME[_INVERT[spec.name]], skip, item.addr)
        jump = self._encode_insn(item.line, BY_NAME["jal"],
                                 {"rd": _Operand(("num", 0), 0),
                                  "imm_j": item.operands[target_name]}, item.addr + first_size)
        return first.to_bytes(first_size, "little") + jump.to_bytes(4, "little")


_INVERT = {"beq": "bne", "bne": "beq", "blt": "bge", "bge": "blt", "bltu": "bgeu",
           "bgeu": "bltu", "c.beqz": "c.bnez", "c.bnez": "c.beqz"}


def _branch_forms(spec: InsnSpec, values: dict[str, _Operand], rvc: bool
                  ) -> list[tuple[InsnSpec, dict[str, _Operand], int]]:
    """The forms a branch/jump to a label may take, shortest first (as GNU as relaxes).

    A conditional branch that is still out of range becomes the inverted branch over a
    ``jal``: 8 bytes, or 6 when the branch had a compressed form (``c.bnez`` + ``jal``).
    An explicit ``c.*`` branch never grows.
    """
    if spec.size == 2:  # GNU as relaxes an explicit c.j / c.beqz / c.bnez the same way
        small = (spec, values)
        spec, values = _expand_branch(spec, values)
    else:
        small = _compress_branch(spec, values) if rvc else None
    forms: list[tuple[InsnSpec, dict[str, _Operand], int]] = []
    if small is not None:
        forms.append((*small, 2))
    forms.append((spec, values, 4))
    if spec.fmt == "B":
        forms.append((*small, 6) if small is not None else (spec, values, 8))
    return forms


def _expand_branch(spec: InsnSpec, v: dict[str, _Operand]
                   ) -> tuple[InsnSpec, dict[str, _Operand]]:
    """The 32-bit instruction a compressed branch or jump stands for."""
    if spec.name == "c.j":
        return BY_NAME["jal"], {"rd": _num(0), "imm_j": v["c_imm_j"]}
    return BY_NAME[spec.name[2:5]], {"rs1": v["c_rs1p"], "rs2": _num(0), "imm_b": v["c_imm_b"]}


def _compress_branch(spec: InsnSpec, v: dict[str, _Operand]
                     ) -> tuple[InsnSpec, dict[str, _Operand]] | None:
    def reg(name: str) -> int:
        return v[name].expr[1]
    if spec.name == "jal" and reg("rd") == 0:
        return BY_NAME["c.j"], {"c_imm_j": v["imm_j"]}
    if spec.name in ("beq", "bne") and reg("rs2") == 0 and 8 <= reg("rs1") <= 15:
        return BY_NAME["c." + spec.name + "z"], {"c_rs1p": v["rs1"], "c_imm_b": v["imm_b"]}
    return None


def _check_field(line: _Line, spec: InsnSpec, f: Field, value: int, col: int) -> None:
    if f.fits(value):
        return
    what = {PCREL: "branch target", CSR: "CSR number", FENCE: "fence set"}.get(f.kind,
                                                                                "immediate")
    if f.kind in (XREG3,):
        raise line.error(f"{spec.name} needs a register from x8..x15 (s0, s1, a0..a5) here", col)
    if f.kind == XREG and f.nonzero:
        raise line.error(f"{spec.name} cannot use zero (x0) here", col)
    if f.kind == PCREL:
        if value % f.scale:
            raise line.error(f"misaligned branch target: offset {value} is not a multiple of "
                             f"{f.scale}", col)
        raise line.error(f"branch target out of range for {spec.name}: offset {value}, allowed "
                         f"{f.lo}..{f.hi}", col)
    if f.kind == LUI:
        raise line.error(f"immediate out of range for {spec.name}: {value:#x}, allowed "
                         f"{_lui_range(f)}", col)
    if f.nonzero and value == 0:
        raise line.error(f"immediate out of range for {spec.name}: must not be 0", col)
    if value % f.scale:
        raise line.error(f"immediate {value} for {spec.name} must be a multiple of {f.scale}",
                         col)
    raise line.error(f"{what} out of range for {spec.name}: {value}, allowed {f.lo}..{f.hi}",
                     col)


def _lui_range(f: Field) -> str:
    if f.signed:  # c.lui
        return "1..0x1f or 0xfffe0..0xfffff"
    return "0..0xfffff"


def _align_up(value: int, boundary: int) -> int:
    return (value + boundary - 1) // boundary * boundary


def _nops(n: int) -> bytes:
    """Code padding as GNU as makes it: a zero byte if odd, a c.nop if needed, then nops."""
    out = bytearray()
    if n % 2:
        out.append(0)
    if (n - len(out)) % 4 == 2:
        out += (0x0001).to_bytes(2, "little")
    while len(out) < n:
        out += (0x00000013).to_bytes(4, "little")
    return bytes(out)


# ---------------------------------------------------------------------- operand parsing


class _Ops:
    """The operands of one instruction statement, with helpers to read them."""

    def __init__(self, asm: _Assembler, line: _Line, tok: Tok, groups: list[list[Tok]]) -> None:
        self.asm = asm
        self.line = line
        self.tok = tok
        self.groups = groups
        self.mnemonic = tok.text.lower()

    def count(self, *allowed: int) -> int:
        if len(self.groups) not in allowed:
            want = " or ".join(str(a) for a in allowed)
            col = self.tok.col
            if len(self.groups) > max(allowed):  # point at the first extra operand
                col = self.groups[max(allowed)][0].col
            raise self.line.error(f"{self.mnemonic} takes {want} operand"
                                  f"{'s' if want != '1' else ''}, got {len(self.groups)}", col)
        return len(self.groups)

    def parser(self, i: int) -> _Parser:
        group = self.groups[i]
        if not group:
            raise self.line.error(f"missing operand {i + 1} of {self.mnemonic}", self.tok.col)
        end = Tok("end", "", group[-1].col + len(group[-1].text))
        return _Parser(self.asm, self.line, [*group, end])

    def reg(self, i: int) -> _Operand:
        p = self.parser(i)
        number, t = p.register()
        if not p.done():
            raise p.error("expected a register")
        return _Operand(("num", number), t.col)

    def is_reg(self, i: int) -> bool:
        g = self.groups[i]
        return len(g) == 1 and g[0].kind == "ident" and g[0].text.lower() in REGISTERS

    def imm(self, i: int) -> _Operand:
        p = self.parser(i)
        col = p.tok.col
        e = p.expr()
        if not p.done():
            raise p.error("expected end of operand")
        return _Operand(e, col)

    def mem(self, i: int) -> tuple[_Operand, _Operand]:
        """``offset(reg)`` → (offset, reg); the offset may be empty (0)."""
        group = self.groups[i]
        if not group or group[-1].kind != "op" or group[-1].text != ")":
            raise self.line.error(f"expected an address like 8(sp) for {self.mnemonic}",
                                  group[0].col if group else self.tok.col)
        depth = 0
        for j in range(len(group) - 1, -1, -1):
            if group[j].text == ")" and group[j].kind == "op":
                depth += 1
            elif group[j].text == "(" and group[j].kind == "op":
                depth -= 1
                if depth == 0:
                    break
        inner = group[j + 1:-1]
        end = Tok("end", "", group[-1].col)
        p = _Parser(self.asm, self.line, [*inner, end])
        number, t = p.register("base register")
        if not p.done():
            raise p.error("expected ')'")
        reg = _Operand(("num", number), t.col)
        if j == 0:
            return _Operand(("num", 0), group[0].col), reg
        head = group[:j]
        p = _Parser(self.asm, self.line, [*head, Tok("end", "", group[j].col)])
        e = p.expr()
        if not p.done():
            raise p.error("expected '('")
        return _Operand(e, head[0].col), reg

    def csr(self, i: int) -> _Operand:
        g = self.groups[i]
        if len(g) == 1 and g[0].kind == "ident" and g[0].text.lower() in CSR_NUMBER:
            return _Operand(("num", CSR_NUMBER[g[0].text.lower()]), g[0].col)
        if len(g) == 1 and g[0].kind == "ident" and self.asm.constant_now(g[0].text) is None:
            raise self.line.error(f"unknown CSR '{g[0].text}'", g[0].col)
        return self.imm(i)

    def fence_set(self, i: int) -> _Operand:
        g = self.groups[i]
        if len(g) == 1 and g[0].kind == "ident" and re.fullmatch(r"i?o?r?w?", g[0].text):
            bits = sum(b for c, b in zip("iorw", (8, 4, 2, 1), strict=True) if c in g[0].text)
            return _Operand(("num", bits), g[0].col)
        if len(g) == 1 and g[0].kind == "num" and g[0].text == "0":
            return _Operand(("num", 0), g[0].col)
        col = g[0].col if g else self.tok.col
        raise self.line.error("expected a fence set made of i, o, r, w in that order "
                              "(e.g. rw, iorw)", col)

    def match(self, spec: InsnSpec) -> dict[str, _Operand]:
        """Parse the operands against a table entry's syntax, keyed by field name."""
        syntax = spec.operands
        self.count(len(syntax))
        values: dict[str, _Operand] = {}
        for i, text in enumerate(syntax):
            names = operand_fields(text)
            if "(" in text:
                if text.startswith("("):  # "(rs1)": an AMO address; GNU as also takes 0(rs1)
                    offset, reg = self.mem(i)
                    if offset.expr != ("num", 0) and self.asm.const(self.line, offset) != 0:
                        raise self.line.error(f"{self.mnemonic} takes no offset: write "
                                              f"({ABI_NAMES[reg.expr[1]]})", offset.col)
                    values[names[0]] = reg
                else:
                    values[names[0]], values[names[1]] = self.mem(i)
                continue
            f = FIELDS[names[0]]
            if f.kind in (XREG, XREG3):
                values[f.name] = self.reg(i)
            elif f.kind == SP:
                op = self.reg(i)
                if op.expr[1] != 2:
                    raise self.line.error(f"{self.mnemonic} needs sp here", op.col)
                values[f.name] = op
            elif f.kind == CSR:
                values[f.name] = self.csr(i)
            elif f.kind == FENCE:
                values[f.name] = self.fence_set(i)
            else:
                values[f.name] = self.imm(i)
                if f.kind == LUI:
                    values[f.name] = self._lui_value(values[f.name], f)
        for name, op in values.items():
            if FIELDS[name].kind in (XREG, XREG3):
                _check_field(self.line, spec, FIELDS[name], op.expr[1], op.col)
        for name, reserved in spec.reserved_values:  # e.g. c.lui sp is c.addi16sp's encoding
            if values[name].expr == ("num", reserved):
                raise self.line.error(f"{spec.name} cannot use {ABI_NAMES[reserved]} here "
                                      "(that encoding is reserved)", values[name].col)
        return values

    def _lui_value(self, op: _Operand, f: Field) -> _Operand:
        """lui/c.lui take the upper 20 bits (0..0xfffff); c.lui's field is signed."""
        value = self.asm.const(self.line, op)
        if value is None:
            return op
        if not 0 <= value <= 0xFFFFF:
            raise self.line.error(f"lui expression not in range 0..1048575: {value}", op.col)
        if f.signed:
            value = _sext(value, 20)
            if not f.fits(value):
                raise self.line.error(f"immediate out of range for c.lui: {value & 0xFFFFF:#x}, "
                                      f"allowed {_lui_range(f)}", op.col)
        return _Operand(("num", value), op.col)


# ------------------------------------------------------------------------ compression


def _compress(line: _Line, spec: InsnSpec, v: dict[str, _Operand], asm: _Assembler
              ) -> tuple[InsnSpec, dict[str, _Operand]] | None:
    """The compressed form GNU as picks for a 32-bit instruction, if it has one.

    The rules and their order follow GNU as: it tries its compressed aliases of a
    mnemonic in table order and takes the first one whose operands fit.
    """
    regs = {k: o.expr[1] for k, o in v.items() if FIELDS[k].kind == XREG}
    imms: dict[str, int] = {}
    for k, o in v.items():
        if FIELDS[k].kind not in (XREG, XREG3, SP):
            value = asm.const(line, o)
            if value is None:
                return None  # needs a symbol's value: GNU as keeps the 32-bit form
            imms[k] = value
    rd, rs1, rs2 = regs.get("rd"), regs.get("rs1"), regs.get("rs2")
    imm = imms.get("imm_i", imms.get("imm_s", imms.get("shamt6")))

    def prime(r: int | None) -> bool:
        return r is not None and 8 <= r <= 15

    def n(value: int, col: int = 0) -> _Operand:
        return _Operand(("num", value), col)

    def fits(field_name: str, value: int | None) -> bool:
        return value is not None and FIELDS[field_name].fits(value)

    name = spec.name
    if name == "addi":
        if prime(rd) and rs1 == 2 and fits("c_addi4spn", imm):
            return BY_NAME["c.addi4spn"], {"c_rdp": v["rd"], "c_sp": n(2), "c_addi4spn": n(imm)}
        if rd == rs1 and rd != 0 and imm != 0 and fits("c_imm6", imm):
            return BY_NAME["c.addi"], {"c_rd": v["rd"], "c_imm6": n(imm)}
        if rd == rs1 == 0 and imm == 0:
            return BY_NAME["c.nop"], {}
        if rd == rs1 == 2 and fits("c_addi16sp", imm):
            return BY_NAME["c.addi16sp"], {"c_sp": n(2), "c_addi16sp": n(imm)}
        if rs1 == 0 and rd != 0 and fits("c_imm6", imm):
            return BY_NAME["c.li"], {"c_rd": v["rd"], "c_imm6": n(imm)}
        if imm == 0 and rd != 0 and rs1 != 0:
            return BY_NAME["c.mv"], {"c_rd": v["rd"], "c_rs2_nz": v["rs1"]}
        return None
    if name == "addiw":
        if rd == rs1 and rd != 0 and fits("c_imm6", imm):
            return BY_NAME["c.addiw"], {"c_rd_nz": v["rd"], "c_imm6": n(imm)}
        return None
    if name in ("add", "and", "or", "xor", "addw", "sub", "subw"):
        if name == "add":
            if rd != 0 and rs2 != 0 and rd == rs1:
                return BY_NAME["c.add"], {"c_rd": v["rd"], "c_rs2_nz": v["rs2"]}
            if rd != 0 and rs1 != 0 and rd == rs2:
                return BY_NAME["c.add"], {"c_rd": v["rd"], "c_rs2_nz": v["rs1"]}
            if rd != 0 and rs1 == 0 and rs2 != 0:
                return BY_NAME["c.mv"], {"c_rd": v["rd"], "c_rs2_nz": v["rs2"]}
            return None
        c = BY_NAME["c." + name]
        if prime(rd) and rd == rs1 and prime(rs2):
            return c, {"c_rs1p": v["rd"], "c_rdp": v["rs2"]}
        if name not in ("sub", "subw") and prime(rd) and rd == rs2 and prime(rs1):
            return c, {"c_rs1p": v["rd"], "c_rdp": v["rs1"]}
        return None
    if name == "andi":
        if prime(rd) and rd == rs1 and fits("c_imm6", imm):
            return BY_NAME["c.andi"], {"c_rs1p": v["rd"], "c_imm6": n(imm)}
        return None
    if name == "slli":
        if rd == rs1 and rd != 0 and fits("c_shamt", imm):
            return BY_NAME["c.slli"], {"c_rd": v["rd"], "c_shamt": n(imm)}
        return None
    if name in ("srli", "srai"):
        if prime(rd) and rd == rs1 and fits("c_shamt", imm):
            return BY_NAME["c." + name], {"c_rs1p": v["rd"], "c_shamt": n(imm)}
        return None
    if name == "lui":
        upper = _sext(imms["imm_u"], 20)
        if rd not in (0, 2) and fits("c_lui", upper):
            return BY_NAME["c.lui"], {"c_rd": v["rd"], "c_lui": n(upper)}
        return None
    if name in ("lw", "ld", "sw", "sd"):
        store = name[0] == "s"
        data = v["rs2"] if store else v["rd"]
        r = rs2 if store else rd
        sp_field = {"lw": "c_uimm_lwsp", "ld": "c_uimm_ldsp", "sw": "c_uimm_swsp",
                    "sd": "c_uimm_sdsp"}[name]
        if rs1 == 2 and (store or r != 0) and fits(sp_field, imm):
            reg_field = "c_rs2" if store else "c_rd_nz"
            return BY_NAME[f"c.{name}sp"], {reg_field: data, sp_field: n(imm),
                                            "c_sp": n(2)}
        small = "c_uimm_w" if name[1] == "w" else "c_uimm_d"
        if prime(r) and prime(rs1) and fits(small, imm):
            return BY_NAME["c." + name], {"c_rdp": data, small: n(imm), "c_rs1p": v["rs1"]}
        return None
    if name == "ebreak":
        return BY_NAME["c.ebreak"], {}
    return None


# --------------------------------------------------------------------- pseudo-instructions

PseudoHandler = Callable[[_Assembler, _Ops], None]
_PSEUDO: dict[str, PseudoHandler] = {}


def _pseudo(*names: str) -> Callable[[PseudoHandler], PseudoHandler]:
    def register(fn: PseudoHandler) -> PseudoHandler:
        for name in names:
            _PSEUDO[name] = fn
        return fn
    return register


def _num(value: int) -> _Operand:
    return _Operand(("num", value), 0)


_ZERO = _num(0)


def _emit(asm: _Assembler, o: _Ops, name: str, compress: bool = True, **values: _Operand
          ) -> _Insn:
    return asm.emit(o.line, BY_NAME[name], values, compress)


@_pseudo("nop")
def _nop(asm: _Assembler, o: _Ops) -> None:
    o.count(0)
    _emit(asm, o, "addi", rd=_ZERO, rs1=_ZERO, imm_i=_ZERO)


@_pseudo("li")
def _li(asm: _Assembler, o: _Ops) -> None:
    o.count(2)
    rd, op = o.reg(0), o.imm(1)
    value = asm.const(o.line, op)
    if value is None:
        raise o.line.error("li needs a constant (use la for the address of a label)", op.col)
    if not -(1 << 63) <= value < (1 << 64):
        raise o.line.error(f"li constant out of range for 64 bits: {value}", op.col)
    value = _sext(value, 64)
    if -2048 <= value < 2048:  # GNU as's li compresses only to c.li here, never c.nop
        small = asm.rvc and rd.expr[1] != 0 and FIELDS["c_imm6"].fits(value)
        if small:
            asm.emit(o.line, BY_NAME["c.li"], {"c_rd": rd, "c_imm6": _num(value)})
        else:
            _emit(asm, o, "addi", False, rd=rd, rs1=_ZERO, imm_i=_num(value))
        return
    _load_const(asm, o, rd, value)


def _load_const(asm: _Assembler, o: _Ops, rd: _Operand, value: int) -> None:
    """Build a 64-bit constant as GNU as does: lui/addiw, then shift-and-add chunks."""
    lower = _sext(value, 12)
    upper = _sext(value - lower, 64)  # int64 arithmetic, as in GNU as
    if not -(1 << 31) <= value < (1 << 31):
        shift = 12
        while (upper >> shift) & 1 == 0:
            shift += 1
        _load_const(asm, o, rd, _sext(upper >> shift, 64))
        _emit(asm, o, "slli", rd=rd, rs1=rd, shamt6=_num(shift))
        if lower:
            _emit(asm, o, "addi", rd=rd, rs1=rd, imm_i=_num(lower))
        return
    hi_reg = _ZERO
    if upper:
        _emit(asm, o, "lui", rd=rd, imm_u=_num((upper >> 12) & 0xFFFFF))
        hi_reg = rd
    if lower or hi_reg.expr[1] == 0:  # GNU as tests the register number: li zero adds one
        _emit(asm, o, "addiw", rd=rd, rs1=hi_reg, imm_i=_num(lower))


@_pseudo("la", "lla")
def _la(asm: _Assembler, o: _Ops) -> None:
    o.count(2)
    rd, target = o.reg(0), o.imm(1)
    auipc = _emit(asm, o, "auipc", rd=rd, imm_u=_Operand(("reloc", "%pcrel_hi", target.expr,
                                                          target.col), target.col))
    _emit(asm, o, "addi", False, rd=rd, rs1=rd,
          imm_i=_Operand(("reloc", "%pcrel_lo", ("auipc", auipc, target.expr), target.col),
                         target.col))


@_pseudo("call", "tail")
def _call(asm: _Assembler, o: _Ops) -> None:
    if o.mnemonic == "tail":
        o.count(1)
        link, temp, target = _ZERO, _num(6), o.imm(0)  # tail uses t1 (x6)
    elif o.count(1, 2) == 2:  # call rd, sym: GNU as goes through t1
        link, temp, target = o.reg(0), _num(6), o.imm(1)
    else:
        link = temp = _num(1)
        target = o.imm(0)
    auipc = _emit(asm, o, "auipc", rd=temp, imm_u=_Operand(("reloc", "%pcrel_hi", target.expr,
                                                            target.col), target.col))
    _emit(asm, o, "jalr", False, rd=link, rs1=temp,
          imm_i=_Operand(("reloc", "%pcrel_lo", ("auipc", auipc, target.expr), target.col),
                         target.col))


def _two_regs(name: str, rs1_zero: bool = False, imm: int | None = None,
              rs2_zero: bool = False) -> PseudoHandler:
    """A pseudo-instruction ``op rd, rs`` that is one table instruction.

    GNU as compresses a pseudo-instruction only through its own compressed aliases:
    ``mv`` to c.mv and ``sext.w`` to c.addiw; the others never.
    """
    def handler(asm: _Assembler, o: _Ops) -> None:
        o.count(2)
        rd, rs = o.reg(0), o.reg(1)
        r, s = rd.expr[1], rs.expr[1]
        if asm.rvc and name == "addi" and imm == 0 and r != 0 and s != 0:  # mv
            asm.emit(o.line, BY_NAME["c.mv"], {"c_rd": rd, "c_rs2_nz": rs})
            return
        if asm.rvc and name == "addiw" and r == s != 0:  # sext.w
            asm.emit(o.line, BY_NAME["c.addiw"], {"c_rd_nz": rd, "c_imm6": _ZERO})
            return
        spec = BY_NAME[name]
        if imm is not None:
            field_name = [f for f in spec.fields if f not in ("rd", "rs1")][0]
            asm.emit(o.line, spec, {"rd": rd, "rs1": rs, field_name: _num(imm)}, False)
        elif rs1_zero:
            asm.emit(o.line, spec, {"rd": rd, "rs1": _ZERO, "rs2": rs}, False)
        else:  # rs2_zero
            asm.emit(o.line, spec, {"rd": rd, "rs1": rs, "rs2": _ZERO}, False)
    return handler


for _name, _handler in {
    "mv": _two_regs("addi", imm=0),
    "not": _two_regs("xori", imm=-1),
    "neg": _two_regs("sub", rs1_zero=True),
    "negw": _two_regs("subw", rs1_zero=True),
    "sext.w": _two_regs("addiw", imm=0),
    "zext.b": _two_regs("andi", imm=255),
    "seqz": _two_regs("sltiu", imm=1),
    "snez": _two_regs("sltu", rs1_zero=True),
    "sltz": _two_regs("slt", rs2_zero=True),
    "sgtz": _two_regs("slt", rs1_zero=True),
}.items():
    _PSEUDO[_name] = _handler


_BRANCH_ZERO = {"beqz": ("beq", False), "bnez": ("bne", False), "blez": ("bge", True),
                "bgez": ("bge", False), "bltz": ("blt", False), "bgtz": ("blt", True)}
_BRANCH_SWAP = {"bgt": "blt", "ble": "bge", "bgtu": "bltu", "bleu": "bgeu"}


@_pseudo(*_BRANCH_ZERO)
def _branch_zero(asm: _Assembler, o: _Ops) -> None:
    o.count(2)
    name, zero_first = _BRANCH_ZERO[o.mnemonic]
    rs, target = o.reg(0), o.imm(1)
    rs1, rs2 = (_ZERO, rs) if zero_first else (rs, _ZERO)
    _emit(asm, o, name, rs1=rs1, rs2=rs2, imm_b=target)


@_pseudo(*_BRANCH_SWAP)
def _branch_swap(asm: _Assembler, o: _Ops) -> None:
    o.count(3)
    _emit(asm, o, _BRANCH_SWAP[o.mnemonic], rs1=o.reg(1), rs2=o.reg(0), imm_b=o.imm(2))


@_pseudo("j")
def _j(asm: _Assembler, o: _Ops) -> None:
    o.count(1)
    _emit(asm, o, "jal", rd=_ZERO, imm_j=o.imm(0))


@_pseudo("jal")
def _jal(asm: _Assembler, o: _Ops) -> None:
    if o.count(1, 2) == 1:
        _emit(asm, o, "jal", rd=_num(1), imm_j=o.imm(0))
    else:  # GNU as compresses only the j and one-operand forms
        _emit(asm, o, "jal", False, rd=o.reg(0), imm_j=o.imm(1))


@_pseudo("jr", "jalr")
def _jalr(asm: _Assembler, o: _Ops) -> None:
    """jr rs, jr off(rs), jr rs, off; jalr rs, jalr rd, rs, jalr rd, off(rs), jalr rd, rs, off."""
    link = _num(0) if o.mnemonic == "jr" else _num(1)
    n = o.count(1, 2) if o.mnemonic == "jr" else o.count(1, 2, 3)
    if o.mnemonic == "jalr" and n >= 2:
        link, rest = o.reg(0), 1
    else:
        rest = 0
    if n - rest == 1 and not o.is_reg(rest):
        offset, base = o.mem(rest)
    elif n - rest == 2:
        base, offset = o.reg(rest), o.imm(rest + 1)
    else:
        base, offset = o.reg(rest), _ZERO
    short = n - rest == 1 and o.is_reg(rest) and (o.mnemonic == "jr" or n == 1)
    if asm.rvc and short and base.expr[1] != 0:  # GNU as compresses only these short forms
        c = "c.jr" if link.expr[1] == 0 else "c.jalr"
        asm.emit(o.line, BY_NAME[c], {"c_rd_nz": base})
        return
    _emit(asm, o, "jalr", False, rd=link, rs1=base, imm_i=offset)


@_pseudo("ret")
def _ret(asm: _Assembler, o: _Ops) -> None:
    o.count(0)
    if asm.rvc:
        asm.emit(o.line, BY_NAME["c.jr"], {"c_rd_nz": _num(1)})
    else:
        _emit(asm, o, "jalr", rd=_ZERO, rs1=_num(1), imm_i=_ZERO)


@_pseudo("csrr")
def _csrr(asm: _Assembler, o: _Ops) -> None:
    o.count(2)
    _emit(asm, o, "csrrs", rd=o.reg(0), csr=o.csr(1), rs1=_ZERO)


@_pseudo("csrw", "csrs", "csrc", "csrwi", "csrsi", "csrci")
def _csr_write(asm: _Assembler, o: _Ops) -> None:
    o.count(2)
    base = {"csrw": "csrrw", "csrs": "csrrs", "csrc": "csrrc"}.get(o.mnemonic[:4])
    if o.mnemonic.endswith("i") or not o.is_reg(1):  # csrw csr, 5 means csrwi, as in GNU as
        _emit(asm, o, (base or "csrrw") + "i", rd=_ZERO, csr=o.csr(0), zimm5=o.imm(1))
    else:
        _emit(asm, o, base or "csrrw", rd=_ZERO, csr=o.csr(0), rs1=o.reg(1))


@_pseudo("rdcycle", "rdtime", "rdinstret")
def _rdcounter(asm: _Assembler, o: _Ops) -> None:
    o.count(1)
    _emit(asm, o, "csrrs", rd=o.reg(0), csr=_num(CSR_NUMBER[o.mnemonic[2:]]), rs1=_ZERO)


@_pseudo("fence")
def _fence(asm: _Assembler, o: _Ops) -> None:
    if o.count(0, 2) == 0:
        _emit(asm, o, "fence", pred=_num(0xF), succ=_num(0xF))
    else:
        _emit(asm, o, "fence", pred=o.fence_set(0), succ=o.fence_set(1))


@_pseudo("sfence.vma", "hfence.vvma", "hfence.gvma")
def _fence_vma(asm: _Assembler, o: _Ops) -> None:
    n = o.count(0, 1, 2)
    _emit(asm, o, o.mnemonic, rs1=o.reg(0) if n > 0 else _ZERO,
          rs2=o.reg(1) if n > 1 else _ZERO)


@_pseudo("unimp")
def _unimp(asm: _Assembler, o: _Ops) -> None:
    o.count(0)
    if asm.rvc:  # GNU as: c.unimp, the all-zero halfword, which is always illegal
        asm.emit(o.line, BY_NAME["c.unimp"], {})
    else:
        _emit(asm, o, "csrrw", rd=_ZERO, csr=_num(CSR_NUMBER["cycle"]), rs1=_ZERO)


@_pseudo("lb", "lh", "lw", "ld", "lbu", "lhu", "lwu", "sb", "sh", "sw", "sd")
def _load_store(asm: _Assembler, o: _Ops) -> None:
    """A load/store; ``lw rd, symbol`` and ``sw rs, symbol, temp`` go through auipc."""
    spec = BY_NAME[o.mnemonic]
    store = o.mnemonic[0] == "s"
    groups = o.groups
    if len(groups) >= 2 and groups[1] and groups[1][-1].text == ")":
        o.count(2)
        offset, base = o.mem(1)
        data = o.reg(0)
        imm = "imm_s" if store else "imm_i"
        asm.emit(o.line, spec, {("rs2" if store else "rd"): data, "rs1": base, imm: offset})
        return
    if store:
        o.count(3)
        data, target, temp = o.reg(0), o.imm(1), o.reg(2)
    else:
        o.count(2)
        data, target = o.reg(0), o.imm(1)
        temp = data
    auipc = _emit(asm, o, "auipc", rd=temp, imm_u=_Operand(("reloc", "%pcrel_hi", target.expr,
                                                            target.col), target.col))
    lo = _Operand(("reloc", "%pcrel_lo", ("auipc", auipc, target.expr), target.col), target.col)
    if store:
        asm.emit(o.line, spec, {"rs2": data, "rs1": temp, "imm_s": lo}, False)
    else:
        asm.emit(o.line, spec, {"rd": data, "rs1": temp, "imm_i": lo}, False)


# ----------------------------------------------------------------------------- directives

DirectiveHandler = Callable[[_Assembler, _Parser, Tok], None]
_DIRECTIVES: dict[str, DirectiveHandler] = {}


def _directive(*names: str) -> Callable[[DirectiveHandler], DirectiveHandler]:
    def register(fn: DirectiveHandler) -> DirectiveHandler:
        for name in names:
            _DIRECTIVES[name] = fn
        return fn
    return register


def _end(p: _Parser) -> None:
    if not p.done():
        raise p.error("expected end of line")


def _args(p: _Parser) -> list[_Operand]:
    """Comma-separated expressions up to the end of the line."""
    out: list[_Operand] = []
    if p.done():
        return out
    while True:
        col = p.tok.col
        out.append(_Operand(p.expr(), col))
        if p.done():
            return out
        p.expect(",")


def _const_arg(asm: _Assembler, p: _Parser, what: str) -> tuple[int, int]:
    col = p.tok.col
    e = p.expr()
    if not _is_constant(e):
        raise p.line.error(f"{what} must be a constant expression", col)
    return asm._eval(p.line, e, col), col


@_directive(".text", ".data", ".rodata", ".bss")
def _d_section_short(asm: _Assembler, p: _Parser, t: Tok) -> None:
    _end(p)
    asm.section = asm._switch(t.text.lower())


@_directive(".section")
def _d_section(asm: _Assembler, p: _Parser, t: Tok) -> None:
    """``.section name[, "flags"[, @progbits|@nobits]]``."""
    name_tok = p.next()
    if name_tok.kind not in ("ident", "str"):
        p.i -= 1
        raise p.error("expected a section name")
    flags = kind = None
    if p.at(","):
        p.next()
        flag_tok = p.next()
        if flag_tok.kind != "str" or not re.fullmatch(r'"[awxMSGT]*"', flag_tok.text):
            raise p.line.error('expected section flags like "ax" or "aw"', flag_tok.col)
        flags = flag_tok.text.strip('"')
        if p.at(","):
            p.next()
            kind_tok = p.next()  # '@nobits' reaches us as '%nobits' (see assemble)
            if kind_tok.text not in ("%progbits", "%nobits"):
                raise p.line.error("expected @progbits or @nobits", kind_tok.col)
            kind = kind_tok.text[1:]
    _end(p)
    asm.section = asm._switch(name_tok.text.strip('"'), flags, kind)


# GNU as writes section and symbol types with '@', which is not a token of ours
_AT_TYPE = re.compile(r",\s*@(progbits|nobits|function|object|note)\b")


@_directive(".globl", ".global")
def _d_globl(asm: _Assembler, p: _Parser, t: Tok) -> None:
    while True:
        name = p.next()
        if name.kind != "ident":
            p.i -= 1
            raise p.error("expected a symbol name")
        asm.globals.add(name.text)
        if p.done():
            return
        p.expect(",")


@_directive(".local", ".type", ".size", ".file", ".ident", ".attribute", ".weak",
            ".cfi_startproc", ".cfi_endproc", ".cfi_def_cfa_offset", ".cfi_offset",
            ".cfi_restore", ".cfi_sections", ".addrsig")
def _d_ignored(asm: _Assembler, p: _Parser, t: Tok) -> None:
    """Bookkeeping directives compilers emit; they change nothing in our output."""
    return


@_directive(".align", ".p2align", ".balign")
def _d_align(asm: _Assembler, p: _Parser, t: Tok) -> None:
    amount, col = _const_arg(asm, p, "alignment")
    fill = max_skip = None
    if p.at(","):
        p.next()
        if not p.at(","):
            fill, _ = _const_arg(asm, p, "fill value")
        if p.at(","):
            p.next()
            max_skip, _ = _const_arg(asm, p, "maximum skip")
    _end(p)
    if t.text.lower() == ".balign":
        if amount <= 0 or amount & (amount - 1):
            raise p.line.error(f"alignment must be a power of two, got {amount}", col)
        boundary = amount
    else:  # on RISC-V, .align is a power of two like .p2align
        if not 0 <= amount <= 16:
            raise p.line.error(f"alignment exponent out of range 0..16: {amount}", col)
        boundary = 1 << amount
    asm.section.align = max(asm.section.align, boundary)
    if asm.section.executable and fill is None and boundary <= (2 if asm.rvc else 4):
        return  # GNU as: code is never aligned below instruction size, so it pads nothing
    asm.add(_Align(p.line, boundary=boundary, fill=fill, max_skip=max_skip,
                   code=asm.section.executable))


_WIDTH = {".byte": 1, ".half": 2, ".short": 2, ".2byte": 2, ".word": 4, ".long": 4,
          ".4byte": 4, ".dword": 8, ".quad": 8, ".8byte": 8}


@_directive(*_WIDTH)
def _d_data(asm: _Assembler, p: _Parser, t: Tok) -> None:
    values = _args(p)
    width = _WIDTH[t.text.lower()]
    asm.add(_Data(p.line, size=width * len(values), width=width, values=values))


@_directive(".ascii", ".asciz", ".string")
def _d_string(asm: _Assembler, p: _Parser, t: Tok) -> None:
    data = bytearray()
    while True:
        s = p.next()
        if s.kind != "str":
            p.i -= 1
            raise p.error("expected a string in double quotes")
        data += _unescape(p.line, s.text[1:-1], s.col)
        if t.text.lower() != ".ascii":
            data.append(0)
        if p.done():
            break
        p.expect(",")
    asm.add(_Bytes(p.line, size=len(data), data=bytes(data)))


@_directive(".zero", ".space", ".skip")
def _d_space(asm: _Assembler, p: _Parser, t: Tok) -> None:
    count, col = _const_arg(asm, p, "size")
    if not 0 <= count <= MAX_FILL:
        raise p.line.error(f"size {count} out of range 0..{MAX_FILL}", col)
    value = 0
    if p.at(","):
        p.next()
        value, _ = _const_arg(asm, p, "fill value")
    _end(p)
    asm.add(_Fill(p.line, size=count, value=value))


@_directive(".equ", ".set", ".equiv")
def _d_equ(asm: _Assembler, p: _Parser, t: Tok) -> None:
    name = p.next()
    if name.kind != "ident":
        p.i -= 1
        raise p.error("expected a symbol name")
    p.expect(",")
    e = p.expr()
    _end(p)
    if t.text.lower() == ".equiv" and (name.text in asm.consts or name.text in asm.labels):
        raise p.line.error(f"symbol '{name.text}' is already defined", name.col)
    asm.define_equ(p.line, name.text, e, name.col)


@_directive(".option")
def _d_option(asm: _Assembler, p: _Parser, t: Tok) -> None:
    opt = p.next()
    _end(p)
    word = opt.text.lower()
    if word == "rvc":
        asm.rvc = True
    elif word == "norvc":
        asm.rvc = False
    elif word == "push":
        asm.option_stack.append(asm.rvc)
    elif word == "pop":
        if not asm.option_stack:
            raise p.line.error(".option pop with no matching .option push", opt.col)
        asm.rvc = asm.option_stack.pop()
    elif word in ("relax", "norelax", "pic", "nopic"):
        pass  # we link as we assemble: nothing is left for a linker to relax
    else:
        raise p.line.error(f"unknown .option '{opt.text}' (known: rvc, norvc, push, pop, "
                           "relax, norelax)", opt.col)


@_directive(".pushsection")
def _d_pushsection(asm: _Assembler, p: _Parser, t: Tok) -> None:
    asm.section_stack.append(asm.section)
    _d_section(asm, p, t)


@_directive(".popsection")
def _d_popsection(asm: _Assembler, p: _Parser, t: Tok) -> None:
    _end(p)
    if not asm.section_stack:
        raise p.line.error(".popsection with no matching .pushsection", t.col)
    asm.section = asm.section_stack.pop()


# ----------------------------------------------------------------------------- driver


def assemble(source: str, *, base: int = 0x8000_0000, name: str = "program",
             filename: str = "<asm>",
             include_dirs: Sequence[str | PathLike[str]] = ()) -> Program:
    """Assemble RISC-V (RV64IMAC, Zicsr, Zifencei, privileged, H) source into a Program.

    Sections are placed one after another from ``base`` (``.text`` first, then
    read-only data, data and ``.bss``), each after the first on a 4 KiB boundary. The entry point is
    ``_start`` if defined, else the start of ``.text``.

    ``filename`` names the source in error messages. ``.include "file"`` looks in the
    directory of the including file (for ``source`` itself: the directory of
    ``filename`` when that is an existing file, else the working directory), then in
    each of ``include_dirs`` in turn (GNU as's ``-I``).

    >>> prog = assemble("li a0, 1\\nebreak")
    >>> prog.sections[".text"].data.hex()
    '1305100073001000'
    >>> assemble("addi a0, a0, 4096")
    Traceback (most recent call last):
      ...
    vkernel.errors.AsmError: <asm>:1:14: immediate out of range for addi: 4096, allowed -2048..2047
        addi a0, a0, 4096
                     ^
    """
    if not isinstance(source, str):
        raise TypeError(f"assemble() takes source text (str), not {type(source).__name__}")
    if isinstance(include_dirs, (str, PathLike)):
        raise TypeError("include_dirs takes a list of directories, not one "
                        f"({include_dirs!r}): include_dirs=[{str(include_dirs)!r}]")
    asm = _Assembler(base, filename)
    own = Path(filename)
    directory = own.parent if own.is_file() else Path(".")
    reader = Reader(source, filename, directory, [Path(d) for d in include_dirs],
                    asm.absolute, _DIRECTIVES, asm.is_defined)
    line = _Line(0, "", filename)
    try:
        for line, statement, offset in reader:
            if "@" in statement:
                statement = _AT_TYPE.sub(lambda m: ", %" + m.group(1), statement)
            asm.statement(line, statement, offset)
        line = _Line(0, "", filename)
        asm.layout()
        asm.encode()
    except RecursionError:
        # a thousand nested parentheses, or a long chain of .equ symbols
        raise line.error("expression nested too deeply") from None
    sections = {
        s.name: Section(s.name, s.addr, asm.output[s.name], s.executable, s.writable, s.nobits)
        for s in asm.order
    }
    symbols = {n: a for n, a in asm.symbols.items() if "^" not in n}
    for n, value in asm.consts.items():
        symbols.setdefault(n, value & ((1 << 64) - 1))
    for n, (_, eline, ecol) in asm.equs.items():
        symbols[n] = asm.lookup(eline, n, ecol) & ((1 << 64) - 1)
    for g in asm.globals:
        if g not in symbols:
            raise AsmError(f"global symbol '{g}' is never defined")
    entry = symbols.get("_start", sections[".text"].addr if ".text" in sections
                        else next(iter(sections.values())).addr)
    return Program(sections=sections, symbols=symbols, entry=entry, name=name,
                   globals=set(asm.globals), lines=asm.lines, source=source)
