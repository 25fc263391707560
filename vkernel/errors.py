"""Exceptions raised by vkernel's public API."""

from __future__ import annotations


class VkernelError(Exception):
    """Base class of every error vkernel raises on purpose."""


class AsmError(VkernelError):
    """Malformed assembly. Carries where it happened and shows it with a caret.

    ``filename``/``line``/``column`` locate the mistake (in an included file or a
    macro body, that file and line); ``context`` lists how that line was reached,
    innermost first, as ``(file, line, note)``: ``"included from here"`` for an
    ``.include``, ``"macro invoked from here"`` for a macro invocation.

    >>> import vkernel
    >>> try:
    ...     vkernel.assemble("addi a0, a0, 5000")
    ... except vkernel.AsmError as e:
    ...     print(e.line, e.column)
    1 14
    """

    def __init__(self, message: str, line: int = 0, column: int = 0, source_line: str = "",
                 filename: str = "<asm>",
                 context: tuple[tuple[str, int, str], ...] = ()) -> None:
        self.message = message
        self.line = line
        self.column = column
        self.source_line = source_line
        self.filename = filename
        self.context = tuple(context)
        super().__init__(self._render())

    def _render(self) -> str:
        if not self.line:
            return self.message
        text = f"{self.filename}:{self.line}:{self.column}: {self.message}"
        if self.source_line:
            caret = " " * max(self.column - 1, 0) + "^"
            text += f"\n    {self.source_line}\n    {caret}"
        i = 0
        while i < len(self.context):  # as GNU as: "file:line: Info: macro invoked from here"
            j = i
            while j + 1 < len(self.context) and self.context[j + 1] == self.context[i]:
                j += 1  # a macro that invokes itself: say it once, with a count
            filename, line, note = self.context[i]
            text += f"\n{filename}:{line}: info: {note}"
            if j > i:
                text += f" ({j - i + 1} times)"
            i = j + 1
        return text


class LoadError(VkernelError):
    """A file that is not a loadable RV64 RISC-V ELF executable, with the reason."""


class TraceError(VkernelError):
    """A Dataset or file that is not a valid vkernel trace (or one this version cannot
    read), with what is wrong with it."""
