"""The source-level directives of GNU as: ``.include``, ``.macro``/``.endm``,
``.rept``/``.irp``/``.irpc``/``.endr`` and conditional assembly (``.if`` and its
kin, ``.elseif``, ``.else``, ``.endif``).

:class:`Reader` turns the top-level source into the stream of statements the
assembler parses, one ``(line, statement, column offset)`` at a time. It keeps a stack
of *frames*: the top-level source, an included file, a macro expansion or a ``.rept``
body. It works as it is read, the way GNU as does, so a ``.rept`` count or a ``.if``
condition may use an ``.equ`` symbol defined just before it and a macro may be defined
by another macro's expansion. A conditional is decided when it is read, and a skipped
block is not executed at all: a ``.macro``, ``.include`` or ``.rept`` in it does nothing.

Every line remembers where it came from: its file and line number (for a macro body,
the line of the body in the file that defined the macro) and the chain of sites that
brought it in (``.include`` lines, macro invocations), so an error inside an included
file or a macro body names the file and line of the mistake and, like GNU as, the
invocation site::

    lib.inc:2:5: unknown instruction 'adi'
            adi a0, a0, 1
            ^
    main.s:7: info: macro invoked from here

Macro arguments follow GNU as: separated by commas or blanks (a blank next to an
operator does not separate: ``1 + 2`` is one argument), ``"quoted"`` arguments lose
their quotes, ``name=value`` gives an argument by name; in the body ``\\name`` is
replaced by the argument, ``\\()`` by nothing (a separator: ``\\reg\\()_save``) and
``\\@`` by the number of macro expansions made so far (unique labels per expansion).

>>> from vkernel.isa.asm import assemble
>>> prog = assemble('''
... .macro push reg, slot=0
...     sd \\\\reg, \\\\slot*8(sp)
... .endm
... .rept 2
...     push ra
... .endr
... .irp r, s0, s1
...     push \\\\r, 2
... .endr
... ''')
>>> prog.sections[".text"].data.hex()   # sd ra,0(sp) twice, sd s0,16(sp), sd s1,16(sp)
'23301100233011002338810023389100'
>>> assemble('''
... .macro clear reg
... .ifb \\\\reg
...     li a0, 0
... .else
...     li \\\\reg, 0
... .endif
... .endm
... clear
... clear a1
... ''').sections[".text"].data.hex()   # li a0,0; li a1,0
'1305000093050000'
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Collection, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from vkernel.errors import AsmError

MAX_DEPTH = 100            # nested includes + macro expansions (GNU as stops at 100 too)
MAX_REPEAT_LINES = 1 << 22  # a .rept this big is a typo, not a program

# where a frame's lines were brought in from: (file, line, note), innermost first
Context = tuple[tuple[str, int, str], ...]


class Line:
    """One source line, for error messages: file, line number, text and how it got here."""

    __slots__ = ("number", "text", "filename", "context")

    def __init__(self, number: int, text: str, filename: str, context: Context = ()) -> None:
        self.number = number
        self.text = text
        self.filename = filename
        self.context = context

    @property
    def top(self) -> int:
        """The line of the top-level source this line belongs to (the outermost site)."""
        return self.context[-1][1] if self.context else self.number

    def error(self, message: str, col: int = 1) -> AsmError:
        return AsmError(message, self.number, col, self.text.rstrip(), self.filename,
                        context=self.context)


# ------------------------------------------------------------------ comments, statements


def strip_comments(source: str) -> list[str]:
    """Blank out /* */ comments and '#' comments, keeping columns and line numbers."""
    out = []
    in_block = False
    for raw in source.split("\n"):
        if not in_block and not any(c in raw for c in "#/\"'"):
            out.append(raw)  # the common case: nothing to blank out
            continue
        chars = list(raw)
        i = 0
        quote = None
        while i < len(chars):
            c = chars[i]
            if in_block:
                if raw.startswith("*/", i):
                    chars[i] = chars[i + 1] = " "
                    in_block = False
                    i += 2
                    continue
                chars[i] = " "
            elif quote:
                if c == "\\":
                    i += 1
                elif c == quote:
                    quote = None
            elif c in "\"'":
                # a char constant like 'a' or '\n'; a lone ' is left for the lexer to reject
                quote = c if c == '"' or re.match(r"'(\\.|[^\\'])'", raw[i:]) else None
            elif raw.startswith("/*", i):
                in_block = True
                chars[i] = chars[i + 1] = " "
                i += 2
                continue
            elif c == "#":
                chars[i:] = " " * (len(chars) - i)
                break
            i += 1
        out.append("".join(chars))
    return out


def split_statements(text: str) -> list[tuple[str, int]]:
    """Split a line on ';' outside strings → (statement, column offset).

    >>> split_statements('nop; .ascii "a;b"')
    [('nop', 0), (' .ascii "a;b"', 4)]
    """
    if ";" not in text:
        return [(text, 0)]
    parts: list[tuple[str, int]] = []
    start = 0
    quote = None
    i = 0
    while i < len(text):
        c = text[i]
        if quote:
            if c == "\\":
                i += 1
            elif c == quote:
                quote = None
        elif c == '"':
            quote = c
        elif c == ";":
            parts.append((text[start:i], start))
            start = i + 1
        i += 1
    parts.append((text[start:], start))
    return parts


# labels, then the first word of a statement (a directive, an instruction or a macro)
_HEAD = re.compile(r"((?:\s*(?:[A-Za-z_.$][\w.$]*|[0-9]+)\s*:(?!=))*)\s*([A-Za-z_.$][\w.$]*)")
_NAME = re.compile(r"[A-Za-z_.$][\w.$]*")
# the conditionals: the method that reads each, and its argument
_CONDITIONALS = {
    ".if": ("_if_expr", "ne"), ".ifne": ("_if_expr", "ne"), ".ifeq": ("_if_expr", "eq"),
    ".ifge": ("_if_expr", "ge"), ".ifgt": ("_if_expr", "gt"), ".ifle": ("_if_expr", "le"),
    ".iflt": ("_if_expr", "lt"), ".ifdef": ("_if_def", True), ".ifndef": ("_if_def", False),
    ".ifnotdef": ("_if_def", False), ".ifb": ("_if_blank", True),
    ".ifnb": ("_if_blank", False), ".ifc": ("_if_same", True), ".ifnc": ("_if_same", False),
    ".elseif": ("_elseif", None), ".else": ("_else", None), ".elsec": ("_else", None),
    ".endif": ("_endif", None), ".endc": ("_endif", None),
}
_TESTS = {"ne": lambda v: v != 0, "eq": lambda v: v == 0, "ge": lambda v: v >= 0,
          "gt": lambda v: v > 0, "le": lambda v: v <= 0, "lt": lambda v: v < 0}
# GNU as reads these even in a skipped block (any .if*, .else*, .endif, .endc), so a
# misspelt one is an error there too
_NEVER_SKIPPED = re.compile(r"\.(if|else|endif|endc)", re.IGNORECASE)
_DIRECTIVES = frozenset((".include", ".macro", ".endm", ".exitm", ".purgem", ".rept",
                         ".irp", ".irpc", ".endr", *_CONDITIONALS))
_OPENS = {".macro": (".macro",), ".rept": (".rept", ".irp", ".irpc")}
_CLOSES = {".macro": ".endm", ".rept": ".endr"}


# ------------------------------------------------------------------------ macros


@dataclass
class Param:
    """A macro parameter: ``name[:req|:vararg][=default]``."""

    name: str
    default: str = ""
    required: bool = False
    vararg: bool = False


@dataclass
class Macro:
    """A macro: its parameters and body, as ``.macro`` defined it."""

    name: str
    params: list[Param]
    body: list[tuple[int, str]]  # (line number in `filename`, text without comments)
    filename: str


@dataclass
class _Frame:
    lines: list[tuple[int, str, str]]  # (number, text shown in errors, text to assemble)
    filename: str
    context: Context
    directory: Path | None = None      # where `.include` looks first
    path: Path | None = None           # the file itself (include cycle check)
    kind: str = "file"                 # file, macro (`.exitm` ends it) or repeat
    nest: int = 0                      # macro and repeat frames up to this one
    i: int = 0
    pending: list[tuple[str, int]] = field(default_factory=list)
    line: Line | None = None           # the line `pending` belongs to


@dataclass
class _Cond:
    """An open conditional: where it began and whether its current block is skipped."""

    line: Line
    col: int
    word: str                 # .if, .ifdef, ...
    nest: int                 # the frame nesting it was opened at (see _Frame.nest)
    skipping: bool
    decided: bool             # an earlier block was taken, or an enclosing one is skipped
    else_line: Line | None = None


_OPERATOR = "+-*/%&|^<>=!~"
_CHAR = re.compile(r"'(?:\\.|[^\\'])'")


def _squeeze(text: str) -> str:
    """Drop blanks next to an operator, a comma or a parenthesis, as GNU as's input
    scrubber does, so that the blanks left separate arguments (``1 + 2 x`` → ``1+2 x``,
    ``a0 (t0)`` → ``a0(t0)``)."""
    if " " not in text and "\t" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif c == "'" and (m := _CHAR.match(text, i)):
            out.append(m.group())
            i = m.end()
        elif c in " \t":
            j = i
            while j < n and text[j] in " \t":
                j += 1
            prev = out[-1][-1] if out else ""
            nxt = text[j] if j < n else ""
            if prev and nxt and prev not in _OPERATOR + ",(" and nxt not in _OPERATOR + ",()":
                out.append(" ")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _string_end(text: str, i: int) -> int:
    """Where the ``"string"`` opening at ``i`` ends (just after its closing quote, or the
    end of the text); a backslash escapes the next character."""
    j, n = i + 1, len(text)
    while j < n and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return min(j + 1, n)


def _skip_white(text: str, i: int) -> int:
    while i < len(text) and text[i] in " \t":
        i += 1
    return i


def _skip_comma(text: str, i: int) -> int:
    i = _skip_white(text, i)
    if i < len(text) and text[i] == ",":
        i = _skip_white(text, i + 1)
    return i


def _any_string(text: str, i: int) -> tuple[str, int]:
    """One argument starting at ``i`` and where it ends, as GNU as reads it: a
    ``"string"`` (without its quotes; ``""`` inside is one quote), or everything up to
    a blank (outside brackets) or a comma."""
    i = _skip_white(text, i)
    n = len(text)
    if i < n and text[i] == '"':
        out: list[str] = []
        while i < n and text[i] == '"':
            i += 1
            escaped = False
            while i < n:
                escaped = not escaped if text[i - 1] == "\\" else False
                c = text[i]
                i += 1
                if c == '"' and not escaped:
                    if i >= n or text[i] != '"':
                        break
                    i += 1  # "" is a quote
                out.append(c)
        return "".join(out), i
    start = i
    depth = 0
    while i < n and (depth or text[i] not in " \t") and text[i] != ",":
        c = text[i]
        if c in "\"'":
            if c == "'" and (m := _CHAR.match(text, i)):
                i = m.end()
                continue
            j = text.find(c, i + 1)
            i = n if j < 0 else j + 1
            continue
        if c in "([":
            depth += 1
        elif c in ")]" and depth:
            depth -= 1
        i += 1
    return text[start:i], i


def split_arguments(text: str) -> list[str]:
    """Macro (or ``.irp``) arguments as GNU as reads them: separated by commas or blanks,
    quotes removed from a ``"quoted"`` argument.

    >>> split_arguments('a0, 8(sp) 1 + 2, "x, y",, z')
    ['a0', '8(sp)', '1+2', 'x, y', '', 'z']
    """
    text = _squeeze(text.strip())
    args: list[str] = []
    i = 0
    while i < len(text):
        value, i = _any_string(text, i)
        args.append(value)
        i = _skip_comma(text, i)
    return args


def _substitute(text: str, values: dict[str, str], number: int | None) -> str:
    """A body line with ``\\name`` (and ``&name&``) replaced by ``values[name]``,
    ``\\(text)`` by ``text`` (``\\()`` is a separator) and ``\\@`` by ``number``.
    Character constants are left alone (GNU as has turned them into numbers by then)."""
    if "\\" not in text and "&" not in text:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "'" and (m := _CHAR.match(text, i)):
            out.append(m.group())
            i = m.end()
        elif c == "&" and (m := _NAME.match(text, i + 1)) and m.group() in values:
            out.append(values[m.group()])
            i = m.end() + (text.startswith("&", m.end()))
        elif c != "\\" or i + 1 == n:
            out.append(c)
            i += 1
        elif text[i + 1] == "@" and number is not None:
            out.append(str(number))
            i += 2
        elif text[i + 1] == "(":
            j = text.find(")", i + 2)
            out.append(text[i + 2:] if j < 0 else text[i + 2:j])
            i = n if j < 0 else j + 1
        elif (m := _NAME.match(text, i + 1)) and m.group() in values:
            out.append(values[m.group()])
            i = m.end()
        else:
            out.append(c)
            i += 1
    return "".join(out)


# ------------------------------------------------------------------------ the reader


class Reader:
    """The statements of ``source`` with ``.include``, macros and repetition expanded.

    ``absolute(line, text, col, what)`` evaluates an absolute expression (``what``: a
    ``.rept`` count, a ``.if`` condition) with the symbols defined so far;
    ``defined(name)`` says whether a label or symbol is defined so far (``.ifdef``);
    ``include_dirs`` are searched after the directory of the including file (for the
    top-level source: ``directory``); ``directives`` are the assembler's own, which no
    macro may be named after.

    >>> r = Reader(".rept 2\\nnop\\n.endr\\n.if 0\\nebreak\\n.endif\\nret", "x.s", None, [],
    ...            lambda ln, t, c, what: int(t))
    >>> [(line.number, statement) for line, statement, _ in r]
    [(2, 'nop'), (2, 'nop'), (7, 'ret')]
    """

    def __init__(self, source: str, filename: str, directory: Path | None,
                 include_dirs: Sequence[Path],
                 absolute: Callable[[Line, str, int, str], int],
                 directives: Collection[str] = (),
                 defined: Callable[[str], bool] = lambda name: False) -> None:
        self.include_dirs = list(include_dirs)
        self.directives = directives  # the assembler's: a macro cannot take their names
        self.absolute = absolute
        self.defined = defined
        self.macros: dict[str, Macro] = {}
        self.counter = 0  # macro expansions so far: the value of \@
        # open conditionals, innermost last. One stack for the whole input, as in GNU as:
        # a .if may end in another file, or in a macro body (but one opened in a macro
        # body must end there)
        self.conds: list[_Cond] = []
        path = Path(filename).resolve() if Path(filename).is_file() else None
        self.stack = [self._file_frame(source, filename, (), directory, path)]

    @staticmethod
    def _file_frame(source: str, filename: str, context: Context, directory: Path | None,
                    path: Path | None) -> _Frame:
        raw = source.split("\n")
        lines = [(n, raw[n - 1], text) for n, text in enumerate(strip_comments(source), 1)]
        return _Frame(lines, filename, context, directory, path)

    def __iter__(self) -> Iterator[tuple[Line, str, int]]:
        stack = self.stack
        while stack:
            frame = stack[-1]
            if frame.pending:
                line = frame.line
                statement, offset = frame.pending.pop(0)
            elif frame.i < len(frame.lines):
                number, shown, text = frame.lines[frame.i]
                frame.i += 1
                if not text.strip():
                    continue
                line = frame.line = Line(number, shown, frame.filename, frame.context)
                if ";" in text:
                    frame.pending = [p for p in split_statements(text) if p[0].strip()]
                    continue
                statement, offset = text, 0
            else:
                stack.pop()
                if frame.kind == "macro":
                    self._macro_ended(frame)
                continue
            assert line is not None
            if self.conds and self.conds[-1].skipping:
                # only conditionals are read in a skipped block; labels in front of one
                # make the whole statement skipped, as in GNU as
                m = _HEAD.match(statement)
                word = m.group(2).lower() if m and not m.group(1).strip() else ""
                if not _NEVER_SKIPPED.match(word):
                    continue
            if not self.macros and "." not in statement:
                yield line, statement, offset  # the common case: a plain instruction
                continue
            m = _HEAD.match(statement)
            word = m.group(2).lower() if m else ""
            if word not in _DIRECTIVES and word not in self.macros:
                yield line, statement, offset
                continue
            assert m is not None
            if m.group(1).strip():  # labels in front: the assembler defines them first
                if word == ".macro":  # GNU as would take the label as the macro's name
                    raise line.error("no label may stand in front of .macro (write "
                                     "'.macro name args' on a line of its own)",
                                     offset + len(statement) - len(statement.lstrip()) + 1)
                yield line, statement[:m.end(1)], offset
            col = offset + m.start(2) + 1
            rest = statement[m.end():]
            rest_col = offset + m.end() + 1
            if word in self.macros:
                self._invoke(frame, line, self.macros[word], rest, col, rest_col)
            elif word in _CONDITIONALS:
                method, arg = _CONDITIONALS[word]
                getattr(self, method)(line, word, arg, rest, col, rest_col)
            else:
                getattr(self, "_d_" + word[1:])(frame, line, rest, col, rest_col)
        if self.conds:
            c = self.conds[-1]
            raise c.line.error(f"{c.word} without a matching .endif (the input ended "
                               f"first{self._else_note(c, c.line)})", c.col)

    def _push(self, frame: _Frame, line: Line) -> None:
        if len(self.stack) >= MAX_DEPTH:
            raise line.error(f"macros and includes nested too deeply (more than {MAX_DEPTH} "
                             "levels: a macro or include that uses itself?)")
        frame.nest = self.stack[-1].nest + (frame.kind != "file")
        self.stack.append(frame)

    # --- .include -------------------------------------------------------------------

    def _d_include(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int
                   ) -> None:
        m = re.fullmatch(r'\s*"([^"]*)"\s*|\s*([^\s"]+)\s*', rest)
        if not m or not (m.group(1) or m.group(2)):
            raise line.error('.include needs a file name: .include "file.s"', col)
        name = m.group(1) or m.group(2)
        found = self._find(name)
        if found is None:
            where = [str(d) for d in self._search_dirs()]
            raise line.error(f"cannot find include file '{name}' (looked in "
                             f"{', '.join(where) if where else 'no directory'})",
                             rest_col + len(rest) - len(rest.lstrip()))
        shown, path = found
        active = [f.path for f in self.stack if f.path is not None]
        if path in active:
            chain = " -> ".join(p.name for p in active[active.index(path):] + [path])
            raise line.error(f"include cycle: {chain}", col)
        try:
            source = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise line.error(f"cannot read include file '{name}': "
                             f"{getattr(e, 'strerror', None) or e}", col) from e
        context = ((line.filename, line.number, "included from here"), *line.context)
        self._push(self._file_frame(source, shown, context, Path(shown).parent, path), line)

    def _search_dirs(self) -> list[Path]:
        # the including file's own directory, then the caller's include directories
        own = next((f.directory for f in reversed(self.stack) if f.directory is not None),
                   None)
        return ([own] if own is not None else []) + self.include_dirs

    def _find(self, name: str) -> tuple[str, Path] | None:
        """(the name the file goes by in messages, its resolved path) or None."""
        candidates = [Path(name)] if Path(name).is_absolute() else [
            d / name for d in self._search_dirs()]
        for p in candidates:
            if p.is_file():
                return os.path.normpath(p), p.resolve()
        return None

    # --- .macro ---------------------------------------------------------------------

    def _body(self, frame: _Frame, line: Line, kind: str, col: int) -> list[tuple[int, str]]:
        """The lines up to the ``.endm``/``.endr`` that closes a block opened on ``line``
        (nested blocks of the same kind included)."""
        if frame.pending:
            raise line.error(f"nothing may follow {kind} on its line", col)
        opens, close = _OPENS[".macro" if kind == ".macro" else ".rept"], _CLOSES[
            ".macro" if kind == ".macro" else ".rept"]
        depth = 1
        body: list[tuple[int, str]] = []
        while frame.i < len(frame.lines):
            number, _, text = frame.lines[frame.i]
            frame.i += 1
            m = _HEAD.match(text)
            word = m.group(2).lower() if m else ""
            if word in opens:
                depth += 1
            elif word == close:
                depth -= 1
                if depth == 0:
                    return body
            body.append((number, text))
        what = "in this file" if frame.kind == "file" else f"in this {frame.kind} body"
        raise line.error(f"{kind} without a matching {close} {what}", col)

    def _d_macro(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int
                 ) -> None:
        m = _NAME.match(rest.strip())
        if not m:
            raise line.error(".macro needs a name: .macro name arg1, arg2=default", col)
        name = m.group().lower()
        if name in self.directives or name in _DIRECTIVES:
            raise line.error(f"'{m.group()}' is a directive: a macro by that name could "
                             "never be invoked", rest_col + rest.index(m.group()))
        if name in self.macros:
            first = self.macros[name]
            raise line.error(f"macro '{name}' is already defined (in {first.filename}; "
                             ".purgem it first to redefine it)", col)
        params = self._params(line, rest.strip()[m.end():], rest_col)
        body = self._body(frame, line, ".macro", col)
        self.macros[name] = Macro(name, params, body, frame.filename)

    def _params(self, line: Line, text: str, col: int) -> list[Param]:
        params: list[Param] = []
        spec = re.compile(r"\s*,?\s*([A-Za-z_.$][\w.$]*)(?:\s*:\s*(\w+))?"
                          r"(?:\s*=\s*(\"[^\"]*\"|[^\s,]*))?")
        pos = 0
        text = text.rstrip()
        while pos < len(text):
            m = spec.match(text, pos)
            if not m or m.end() == pos:
                raise line.error(f"bad macro parameter list at '{text[pos:].strip()}'",
                                 col + pos)
            pname, qual, default = m.groups()
            p = Param(pname, (default or "").strip('"'))
            if qual is not None:
                if qual.lower() not in ("req", "vararg"):
                    raise line.error(f"unknown parameter qualifier ':{qual}' (known: :req, "
                                     ":vararg)", col + m.start(2))
                p.required = qual.lower() == "req"
                p.vararg = qual.lower() == "vararg"
            if params and params[-1].vararg:
                raise line.error(f"':vararg' must be the last parameter, not "
                                 f"'{params[-1].name}'", col + m.start(1))
            if any(q.name == pname for q in params):
                raise line.error(f"parameter '{pname}' is given twice", col + m.start(1))
            params.append(p)
            pos = m.end()
        return params

    def _d_endm(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int) -> None:
        raise line.error(".endm without .macro", col)

    def _d_endr(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int) -> None:
        raise line.error(".endr without .rept, .irp or .irpc", col)

    def _d_exitm(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int
                 ) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].kind == "macro":
                # GNU as leaves the innermost expansion only: in a .rept inside the macro,
                # that .rept, and the macro goes on after its .endr
                self.stack.pop()
                while self.conds and self.conds[-1].nest >= frame.nest:
                    self.conds.pop()  # the conditionals opened in it end with it
                return
            if self.stack[i].kind == "file":
                break  # .exitm cannot leave a file
        raise line.error(".exitm outside a macro", col)

    def _d_purgem(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int
                  ) -> None:
        name = rest.strip().lower()
        if name not in self.macros:
            raise line.error(f".purgem: no macro named '{rest.strip()}'", rest_col)
        del self.macros[name]

    def _invoke(self, frame: _Frame, line: Line, macro: Macro, rest: str, col: int,
                rest_col: int) -> None:
        values = self._bind(line, macro, rest, rest_col)
        number = self.counter
        self.counter += 1
        lines = [(n, text, text) for n, text in
                 ((n, _substitute(t, values, number)) for n, t in macro.body)]
        context = ((line.filename, line.number, "macro invoked from here"), *line.context)
        self._push(_Frame(lines, macro.filename, context, kind="macro"), line)

    def _bind(self, line: Line, macro: Macro, rest: str, col: int) -> dict[str, str]:
        """The value of each parameter for an invocation with arguments ``rest``."""
        params = macro.params
        by_name = {p.name: p for p in params}
        values: dict[str, str] = {}
        text = _squeeze(rest.strip())
        n = len(text)
        i = position = 0
        keyword = False
        while i < n:
            scan = i
            while scan < n and text[scan] not in " \t,\";()=":
                scan += 1
            if scan < n and text[scan] == "=":  # name=value
                m = _NAME.match(text, i)
                if not m or m.end() != scan:
                    raise line.error(f"bad keyword argument '{text[i:scan + 1]}'", col)
                if m.group() not in by_name:
                    raise line.error(f"macro '{macro.name}' has no parameter named "
                                     f"'{m.group()}'", col)
                values[m.group()], i = _any_string(text, scan + 1)
                keyword = True
            else:
                if keyword:
                    raise line.error("a positional argument cannot follow one given by "
                                     "name", col)
                if position >= len(params):
                    raise line.error(f"too many arguments for macro '{macro.name}' (it "
                                     f"takes {len(params)}"
                                     f"{': ' if params else ''}"
                                     f"{', '.join(p.name for p in params)})", col)
                p = params[position]
                position += 1
                if p.vararg:  # the rest of the line, commas and all
                    values[p.name], i = text[i:], n
                else:
                    values[p.name], i = _any_string(text, i)
            i = _skip_comma(text, i)
        for p in params:
            if not values.get(p.name):
                if p.required:
                    raise line.error(f"missing value for required parameter '{p.name}' of "
                                     f"macro '{macro.name}'", col)
                values[p.name] = p.default
        return values

    # --- .rept, .irp, .irpc ---------------------------------------------------------

    def _repeat(self, frame: _Frame, line: Line, body: list[tuple[int, str]],
                values: list[dict[str, str]], number: int | None) -> None:
        if len(body) * len(values) > MAX_REPEAT_LINES:
            raise line.error(f"repetition too large: {len(values)} times {len(body)} lines "
                             f"(at most {MAX_REPEAT_LINES} lines)")
        lines = []
        for v in values:
            for n, text in body:
                text = _substitute(text, v, number) if v or number is not None else text
                lines.append((n, text, text))
        self._push(_Frame(lines, frame.filename, frame.context, frame.directory,
                          kind="repeat"), line)

    def _d_rept(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int) -> None:
        if not rest.strip():
            raise line.error(".rept needs a count: .rept 4", col)
        count = self.absolute(line, rest, rest_col, "the count")
        if count < 0:
            raise line.error(f".rept count must not be negative, not {count}", rest_col)
        body = self._body(frame, line, ".rept", col)
        if body and count * len(body) > MAX_REPEAT_LINES:
            raise line.error(f"repetition too large: {count} times {len(body)} lines "
                             f"(at most {MAX_REPEAT_LINES} lines)")
        self._repeat(frame, line, body, [{}] * count if body else [], None)

    def _irp_head(self, line: Line, rest: str, col: int, kind: str) -> tuple[str, str]:
        m = re.match(r"\s*([A-Za-z_.$][\w.$]*)\s*(?:,\s*|\s+|$)", rest)
        if not m:
            raise line.error(f"{kind} needs a parameter name: {kind} name, "
                             f"{'a, b, c' if kind == '.irp' else 'abc'}", col)
        return m.group(1), rest[m.end():]

    def _d_irp(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int) -> None:
        name, values = self._irp_head(line, rest, col, ".irp")
        body = self._body(frame, line, ".irp", col)
        args = split_arguments(values) or [""]
        self._repeat(frame, line, body, [{name: a} for a in args], self.counter)

    def _d_irpc(self, frame: _Frame, line: Line, rest: str, col: int, rest_col: int
                ) -> None:
        name, text = self._irp_head(line, rest, col, ".irpc")
        body = self._body(frame, line, ".irpc", col)
        # each character; blanks are skipped outside "quotes", quotes themselves dropped
        chars: list[str] = []
        quoted = False
        for c in _squeeze(text.strip()):
            if c == '"':
                quoted = not quoted
            elif quoted or c not in " \t":
                chars.append(c)
        self._repeat(frame, line, body, [{name: c} for c in chars] or [{name: ""}],
                     self.counter)

    # --- .if, .ifdef, .ifb, .ifc, ..., .elseif, .else, .endif -----------------------

    def _open(self, line: Line, word: str, col: int, test: Callable[[], bool]) -> None:
        # inside a skipped block the condition is not even evaluated (as in GNU as)
        decided = bool(self.conds) and self.conds[-1].skipping
        skipping = decided or not test()
        self.conds.append(_Cond(line, col, word, self.stack[-1].nest, skipping, decided))

    def _if_expr(self, line: Line, word: str, test: str, rest: str, col: int,
                 rest_col: int) -> None:
        self._open(line, word, col,
                   lambda: _TESTS[test](self._condition(line, word, rest, col, rest_col)))

    def _condition(self, line: Line, word: str, rest: str, col: int, rest_col: int) -> int:
        if not rest.strip():
            raise line.error(f"{word} needs an expression: {word} N", col)
        return self.absolute(line, rest, rest_col, f"the {word} condition")

    def _if_def(self, line: Line, word: str, defined: bool, rest: str, col: int,
                rest_col: int) -> None:
        m = re.fullmatch(r"\s*([A-Za-z_.$][\w.$]*)\s*", rest)
        if not m:
            raise line.error(f"{word} needs one symbol name: {word} name", rest_col)
        self._open(line, word, col, lambda: self.defined(m.group(1)) == defined)

    def _if_blank(self, line: Line, word: str, blank: bool, rest: str, col: int,
                  rest_col: int) -> None:
        self._open(line, word, col, lambda: (not rest.strip()) == blank)

    def _if_same(self, line: Line, word: str, same: bool, rest: str, col: int,
                 rest_col: int) -> None:
        # GNU as compares the text as its input scrubber left it (see _scrub); the first
        # string ends at the first comma, the second at the end of the statement
        text = _scrub(rest)
        if "," not in text:
            raise line.error(f"{word} needs two strings separated by a comma: {word} a,b",
                             col)
        if "'" in text:
            # the manual allows 'quoted' strings, but GNU as for RISC-V garbles them
            raise line.error(f"{word} with a ' in it: GNU as does not compare those "
                             "reliably; compare the text unquoted", rest_col)
        first, second = text.split(",", 1)
        self._open(line, word, col, lambda: (first.strip() == second.strip()) == same)

    def _current(self, line: Line, word: str, col: int) -> _Cond:
        if not self.conds:
            raise line.error(f"{word} without a matching .if", col)
        return self.conds[-1]

    @staticmethod
    def _where(other: Line, line: Line) -> str:
        return (f"line {other.number}" if other.filename == line.filename
                else f"{other.filename}:{other.number}")

    def _else_note(self, c: _Cond, line: Line) -> str:
        return f"; its .else is on {self._where(c.else_line, line)}" if c.else_line else ""

    def _elseif(self, line: Line, word: str, arg: None, rest: str, col: int,
                rest_col: int) -> None:
        c = self._current(line, word, col)
        if c.else_line is not None:
            raise line.error(f".elseif after .else (the {c.word} on "
                             f"{self._where(c.line, line)} has its .else on "
                             f"{self._where(c.else_line, line)})", col)
        c.decided = c.decided or not c.skipping  # a block was taken: no later one is
        c.skipping = c.decided or self._condition(line, word, rest, col, rest_col) == 0

    def _else(self, line: Line, word: str, arg: None, rest: str, col: int,
              rest_col: int) -> None:
        c = self._current(line, word, col)
        if c.else_line is not None:
            raise line.error(f"a second .else for the {c.word} on "
                             f"{self._where(c.line, line)} (the first is on "
                             f"{self._where(c.else_line, line)})", col)
        _nothing_after(line, word, rest, rest_col)
        c.else_line = line
        c.skipping = c.decided or not c.skipping

    def _endif(self, line: Line, word: str, arg: None, rest: str, col: int,
               rest_col: int) -> None:
        self._current(line, word, col)
        _nothing_after(line, word, rest, rest_col)
        self.conds.pop()

    def _macro_ended(self, frame: _Frame) -> None:
        """A conditional opened in a macro body (or a .rept in it) must end there."""
        if self.conds and self.conds[-1].nest >= frame.nest:
            c = self.conds[-1]
            raise c.line.error(f"{c.word} without a matching .endif in this macro body "
                               f"(the expansion ended first{self._else_note(c, c.line)})",
                               c.col)


def _nothing_after(line: Line, word: str, rest: str, col: int) -> None:
    if rest.strip():
        raise line.error(f"nothing may follow {word} on its line",
                         col + len(rest) - len(rest.lstrip()))


_KEEP_BLANK = re.compile(r'[\w.$"\\]')


def _scrub(text: str) -> str:
    """Text as GNU as's input scrubber leaves it: blanks outside ``"strings"`` dropped,
    except one between two name characters (or quotes, backslashes).

    >>> _scrub('  a  b ( c ),  "x  y" ')
    'a b(c),"x  y"'
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = _string_end(text, i)
            out.append(text[i:j])
            i = j
        elif c in " \t":
            j = i
            while j < n and text[j] in " \t":
                j += 1
            if out and j < n and _KEEP_BLANK.match(out[-1][-1]) and _KEEP_BLANK.match(text[j]):
                out.append(" ")
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)
