"""What a person watching sees while vkernel works: a notice before the numba core
compiles, and a progress display for runs whose length nobody knows in advance.

The core (:mod:`vkernel.core.kernel`) is compiled by numba and cached on disk. A process
that finds nothing in the cache for this CPU compiles the run loop itself, which takes
a minute or two; :func:`compiling` says so before it starts and shows the time passing,
instead of leaving a notebook cell silently busy. :func:`cold` tells, cheaply, whether a
first call would compile: it reads numba's cache index, it does not compile anything.

A run's step budget (``max_steps``) is an upper bound, not a length: most runs end long
before it (the guest halts, traps to the host, waits). So :func:`progress_bar` counts
steps and their rate and never shows a percentage or an estimated time left, and it
disappears when the run ends, however it ends.

>>> from vkernel.progress import cold
>>> cold(["run"]) in ([], ["run"])     # ["run"] until this CPU's cache holds the run loop
True
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import sys
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

# Said once, before the first compile in a process (see compiling()).
# (measured: ~1 min on an idle 2-core machine, 2-3 min on a busy one)
NOTICE = ("vkernel: compiling the machine core, once: a minute or two. numba keeps it in "
          "its cache, so later runs and other notebooks start at once "
          "(`vkernel warm` or `make lab` compile it ahead).")
_noticed = False  # the notice was given in this process
_active = False  # a compiling() display is showing (an inner one stays quiet)


def watched() -> bool:
    """Whether a person is likely watching this process: a notebook kernel, or standard
    error on a terminal. ``VKERNEL_PROGRESS=0`` (or 1) decides instead.

    >>> watched() in (True, False)     # under pytest: False (no terminal, no notebook)
    True
    """
    env = os.environ.get("VKERNEL_PROGRESS")
    if env in ("0", "1"):
        return env == "1"
    if in_notebook():
        return True
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (its output goes to a notebook cell)."""
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and getattr(shell, "kernel", None) is not None


def _tqdm() -> Any:
    """tqdm's class for here: in a notebook (with ipywidgets) :func:`_notebook_tqdm`'s,
    else tqdm's text bar."""
    if in_notebook():
        try:
            return _notebook_tqdm()
        except ImportError:  # no ipywidgets: the text bar, in the cell's output
            pass
    from tqdm.std import tqdm

    return tqdm


def _notebook_tqdm() -> type:
    """tqdm's notebook widget, shown under an IPython display id so that closing it
    removes it from the cell's outputs (tqdm's own only hides it, and a saved notebook
    still shows its text). A bar without a total is never turned red on closing."""
    from IPython.display import display
    from tqdm.notebook import tqdm as widget_tqdm

    class NotebookBar(widget_tqdm):
        _handle = None

        def display(self, msg: str | None = None, pos: int | None = None,
                    close: bool = False, bar_style: str | None = None,
                    check_delay: bool = True) -> None:
            # tqdm displays its widget itself, once `delay` has passed: do it here instead
            if check_delay and not self.displayed and not close:
                self._handle = display(self.container, display_id=True)
                self.displayed = True
            super().display(msg, pos, close=close, bar_style=bar_style, check_delay=False)

        def close(self) -> None:
            super().close()
            handle, self._handle = self._handle, None
            if handle is not None:
                # an output with nothing in it (tqdm's __del__ closes too, possibly while
                # the interpreter shuts down: nothing to update then)
                with contextlib.suppress(ImportError, AttributeError, TypeError):
                    handle.update({}, raw=True)

    return NotebookBar


def progress_bar(budget: int | None = None, name: str | None = None, *,
                 delay: float = 1.0, file: TextIO | None = None, initial: int = 0) -> Any:
    """A tqdm bar for a run: steps so far and steps per second, no total, so no
    percentage and no time left (``budget`` is only an upper bound: it is shown as such,
    never used as the run's length). It appears only after ``delay`` seconds (short runs
    stay quiet) and vanishes when closed (``leave=False``); in a notebook it is a widget,
    which, having no total, is never turned red ("danger") when closed. ``initial`` is
    the count to start from (steps already taken).

    >>> import io
    >>> bar = progress_bar(10_000, "hello", delay=0, file=io.StringIO())
    >>> bar.update(161); "%" in str(bar) or "<" in str(bar)
    False
    >>> bar.close()
    """
    from tqdm.std import tqdm as text_tqdm

    tqdm = text_tqdm if file is not None else _tqdm()
    postfix = None if budget is None else f"budget {tqdm.format_sizeof(budget)}"
    # tqdm's own format for a bar with no total, spelled out: the notebook widget's
    # default would add "n/?" and "elapsed<remaining"
    form = ("{desc}: " if name else "") + "{n_fmt}{unit} [{elapsed}, {rate_fmt}{postfix}]"
    # (display=False: NotebookBar shows itself, after `delay`, under a display id)
    options = {"display": False} if tqdm is not text_tqdm else {}
    return tqdm(total=None, desc=name, unit=" steps", unit_scale=True, delay=delay,
                leave=False, dynamic_ncols=True, file=file, postfix=postfix,
                bar_format=form, initial=initial, **options)


def cold(names: Iterable[str]) -> list[str]:
    """Those of the core's kernels (:mod:`vkernel.core.kernel` function names) that the
    next call would compile: not compiled in this process, and nothing in numba's on-disk
    cache for this CPU (``NUMBA_CPU_NAME`` counts) and this source. Cheap: it reads the
    cache's index files, a few hundred bytes each, and compiles nothing.

    >>> cold([])
    []
    """
    from vkernel.warm import dispatchers

    found = dispatchers()
    return [n for n in names if not found[n].signatures and not _in_cache(found[n])]


def _in_cache(dispatcher: Any) -> bool:
    """Whether numba's cache holds a compiled version of ``dispatcher`` for this target
    (CPU name and features) and this bytecode; any signature counts, as the machine calls
    every kernel with the same array types. The index is numba's own (numba/core/
    caching.py: a key is ``(signature, codegen.magic_tuple(), bytecode hashes)``)."""
    try:
        cache = dispatcher._cache
        index = cache._cache_file._load_index()
        if not index:
            return False
        probe = cache._index_key(None, dispatcher.targetctx.codegen())
    except (AttributeError, OSError, EOFError, ValueError, TypeError) as e:
        # numba changed its internals: say nothing rather than announce a compile
        # that may not happen (tests/test_progress.py notices on a real cold cache)
        warnings.warn(f"vkernel: cannot read numba's cache index ({e!r})", stacklevel=3)
        return True
    return any(key[1:] == probe[1:] for key in index)


def _compiled_count() -> int:
    """How many of the core's functions this process has compiled (or loaded)."""
    from vkernel.warm import dispatchers

    return sum(1 for d in dispatchers().values() if d.signatures)


def _clock(seconds: float) -> str:
    return f"{int(seconds) // 60:02d}:{int(seconds) % 60:02d}"


class _TermLine:
    """One line on a terminal, rewritten in place and wiped at the end."""

    def __init__(self, out: TextIO, text: str) -> None:
        self._out, self._width = out, 0
        self.show(text)

    def show(self, text: str) -> None:
        self._width = max(self._width, len(text))
        self._out.write("\r" + text.ljust(self._width))
        self._out.flush()

    def close(self) -> None:
        self._out.write("\r" + " " * self._width + "\r")
        self._out.flush()


class _CellLine:
    """One line in the running notebook cell's output, rewritten in place through an
    IPython display id, and emptied at the end (a saved notebook keeps nothing of it).
    Plain text, not a widget: any front end shows it, and it costs one message a tick."""

    def __init__(self, text: str) -> None:
        from IPython.display import display

        self._handle = display({"text/plain": text}, raw=True, display_id=True)

    def show(self, text: str) -> None:
        self._handle.update({"text/plain": text}, raw=True)

    def close(self) -> None:
        self._handle.update({}, raw=True)


@contextlib.contextmanager
def compiling(names: Iterable[str], *, show: bool | None = None, announce: bool = True,
              file: TextIO | None = None) -> Iterator[bool]:
    """Around a first call into the core: if it will compile ``names`` (see :func:`cold`),
    print :data:`NOTICE` once per process, then, while the block runs, a ticker of the
    seconds passed and the core's functions compiled so far; when the block ends the
    ticker vanishes and one line says how long it took. Yields whether it compiles.
    The count of functions is real progress: the run loop's ~60 functions compile one
    after another, the run loop itself last (the final tenth or so of the time).

    ``show`` (default: :func:`watched`) decides whether anything is printed, ``announce``
    whether the notice and the closing line are, or only the ticker (``vkernel warm``
    reports for itself). Output goes to the notebook cell in a notebook (standard
    output, as standard error is drawn red), else to standard error, or to ``file``.
    Nested uses show only the outermost.

    >>> with compiling(["run"], show=False) as compiles:
    ...     pass                       # the first machine run would go here
    """
    global _noticed, _active
    todo = cold(names)
    if show is None:
        show = watched()
    if not todo or not show or _active:
        yield bool(todo)
        return
    out = file or (sys.stdout if in_notebook() else sys.stderr)
    if announce and not _noticed:
        print(NOTICE, file=out, flush=True)
        _noticed = True
    before = _compiled_count()
    start = time.perf_counter()

    def status() -> str:
        n = _compiled_count() - before
        return (f"compiling the machine core: {_clock(time.perf_counter() - start)}, "
                f"{n} function{'' if n == 1 else 's'} compiled")

    line = _CellLine(status()) if file is None and in_notebook() else _TermLine(out, status())
    stop = threading.Event()

    def tick() -> None:
        while not stop.wait(0.5):
            line.show(status())

    # the thread runs in this cell's context: in ipykernel, what it displays goes to the
    # cell that started it (the parent header is a context variable)
    ticker = threading.Thread(target=contextvars.copy_context().run, args=(tick,),
                              name="vkernel-compile-ticker", daemon=True)
    ticker.start()
    _active = True
    try:
        yield True
    finally:
        _active = False
        stop.set()
        ticker.join()
        line.close()
    if announce:
        print(f"vkernel: compiled in {time.perf_counter() - start:.0f} s.", file=out,
              flush=True)
