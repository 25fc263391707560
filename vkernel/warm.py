"""Compile the numba core ahead of time, so that a notebook's first run does not wait.

The hart's kernels (:mod:`vkernel.core.kernel`) are compiled with ``cache=True``: a process
that calls one loads it from numba's on-disk cache when an earlier process compiled it,
and compiles it (about a minute for the run loop) otherwise. :func:`warm` calls every
kernel that Python calls, through the public :class:`~vkernel.Machine` API, so that the
cache holds them all; ``vkernel warm`` runs it and prints what it did (on a terminal, with
the time passing while each step compiles), or, when the cache already holds everything
(:func:`is_warm`, a look at numba's cache index), says so at once. Binder's ``postBuild``
runs ``vkernel warm`` once, when the image is built; ``make lab`` before every JupyterLab.

numba keys its cache by CPU model: warm with the ``NUMBA_CPU_NAME`` the notebooks will
run with. Binder's ``start`` and ``postBuild`` both export ``NUMBA_CPU_NAME=generic``, so
the cache built on the build node is valid on whichever node runs the image; ``make lab``
runs ``vkernel warm`` and JupyterLab (whose kernels inherit its environment) with the same
setting, whatever the caller's.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vkernel.errors import VkernelError

# The kernels that Python calls (vkernel/machine.py); each compiles its callees with it.
# tests/test_binder.py checks that this list names every K.<kernel>(...) call in vkernel/.
ENTRY_POINTS = ("build_rvc_table", "csr_exists", "csr_read", "csr_write", "run",
                "raise_exception", "timer_deadline", "tlb_flush")

# Prints through the UART, takes an exception (a store nowhere in the memory map, which
# Python turns into an access fault with raise_exception), returns and switches off.
WARM_GUEST = """\
        .globl _start
_start: la    t0, handler
        csrw  mtvec, t0
        li    t1, 0x10000000      # UART
        li    t2, 'o'
        sb    t2, 0(t1)
        li    t2, 'k'
        sb    t2, 0(t1)
        li    t1, 0x40000000      # nothing answers here: a store access fault
        sd    zero, 0(t1)
        li    t1, 0x100000        # the test finisher: pass
        li    t2, 0x5555
        sw    t2, 0(t1)
1:      j     1b
        .balign 4
handler: csrr  t3, mepc
        addi  t3, t3, 4
        csrw  mepc, t3
        mret
"""


@dataclass(frozen=True)
class Warmed:
    """One step of the warm-up: what ran, how long it took, and what numba did for it:
    the functions it ``compiled`` (cache misses) and ``loaded`` from the cache (hits)."""

    what: str
    seconds: float
    compiled: tuple[str, ...]
    loaded: tuple[str, ...]
    note: str = ""


def dispatchers() -> dict[str, Any]:
    """The core's numba functions (``@njit`` dispatchers) by name."""
    from numba.core.dispatcher import Dispatcher

    from vkernel.core import kernel as K

    return {name: f for name, f in vars(K).items() if isinstance(f, Dispatcher)}


def cache_dir() -> Path | None:
    """Where numba caches the core's compiled code (None if it cannot cache)."""
    from vkernel.core import kernel as K

    path = getattr(getattr(K.run, "_cache", None), "_cache_path", None)
    return Path(path) if path else None


def _counts() -> dict[str, tuple[int, int]]:
    return {name: (sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
            for name, f in dispatchers().items()}


def _timed(what: str, action: Callable[[], str], kernels: Sequence[str]) -> Warmed:
    from vkernel.progress import compiling

    before = _counts()
    start = time.perf_counter()
    with compiling(kernels, announce=False):  # where someone watches: the time passing
        note = action()
    seconds = time.perf_counter() - start
    after = _counts()
    compiled = tuple(n for n in sorted(after) if after[n][1] > before[n][1])
    loaded = tuple(n for n in sorted(after) if after[n][0] > before[n][0])
    return Warmed(what, seconds, compiled, loaded, note)


def warm(report: Callable[[Warmed], None] | None = None) -> list[Warmed]:
    """Make every kernel Python calls compile (or load from the cache) in this process,
    and write the RVC expansion table next to the cache. Returns what each step did,
    and hands each to ``report`` as soon as it is done.

    Raises :class:`~vkernel.VkernelError` if the guest does not run as it should.
    """
    from vkernel import machine
    from vkernel.isa.asm import assemble

    steps = []

    def step(what: str, action: Callable[[], str], kernels: Sequence[str]) -> None:
        steps.append(_timed(what, action, kernels))
        if report:
            report(steps[-1])

    def table() -> str:
        machine._RVC_TABLE = None  # read from (or write to) the disk, as a new process does
        path = machine._rvc_table_path()
        existed = path.exists()
        machine._rvc_table()
        if not path.exists():
            return "not saved (a read-only install: each process builds it)"
        return f"{'read from' if existed else 'saved to'} {path}"

    step("RVC expansion table", table, ["build_rvc_table"])
    m = machine.Machine(ram_mb=1, trace="all")
    m.load(assemble(WARM_GUEST))

    def csrs() -> str:
        m.hart.csr["mscratch"] = 0x1234
        if m.hart.csr["mscratch"] != 0x1234:
            raise VkernelError("vkernel warm: mscratch did not keep the value written")
        m.hart.sleep_until_timer()  # (no timer is armed: nothing happens; Hart API)
        m.hart.flush_tlb(0x1000)  # (a hypervisor's sfence.vma of one page)
        return ""

    step("CSR access", csrs, ["csr_exists", "csr_read", "csr_write", "timer_deadline",
                              "tlb_flush"])

    def run() -> str:
        ex = m.run(max_steps=1000, progress=False)
        if ex.reason != "halt" or ex.exit_code != 0 or m.console != "ok":
            raise VkernelError(f"vkernel warm: the warm-up guest went wrong: {ex!r}, "
                               f"console {m.console!r}")
        traps = m.trace_dataset().sizes["trap"]
        if traps != 1:
            raise VkernelError(f"vkernel warm: expected one trap, the trace has {traps}")
        return f"{ex!r}"

    step("a guest run (traced)", run, ["run", "raise_exception"])
    missing = [n for n in ENTRY_POINTS if n != "build_rvc_table"
               and not dispatchers()[n].signatures]
    if missing:
        raise VkernelError(f"vkernel warm: never called {', '.join(missing)}")
    return steps


def is_warm() -> bool:
    """Whether numba's cache already holds every kernel Python calls, for this CPU name
    and this source, and the RVC table is saved: then :func:`warm` would only load them.
    Cheap (it reads the cache's index files; see :func:`vkernel.progress.cold`).

    >>> is_warm() in (True, False)
    True
    """
    from vkernel import machine
    from vkernel.progress import cold

    return machine._rvc_table_path().exists() and not cold(ENTRY_POINTS)


def _print_step(step: Warmed) -> None:
    done = []
    entry = [n for n in step.compiled if n in ENTRY_POINTS]
    if step.compiled:
        more = len(step.compiled) - len(entry)
        done.append(f"compiled {', '.join(entry) or 'nothing Python calls'}"
                    + (f" (+{more} functions called from there)" if more else ""))
    if step.loaded:
        names = [n for n in step.loaded if n in ENTRY_POINTS] or list(step.loaded)
        done.append(f"loaded {', '.join(names)} from the cache")
    if step.note:
        done.append(step.note)
    print(f"  {step.what:22} {step.seconds:6.1f} s  {'; '.join(done) or 'no numba'}",
          flush=True)


def main() -> int:
    """``vkernel warm``: warm the cache and print what was compiled and how long it took;
    when the cache is already warm, say so and return at once."""
    import os

    import numba

    import vkernel

    start = time.perf_counter()
    cpu = os.environ.get("NUMBA_CPU_NAME")
    print(f"vkernel warm: numba {numba.__version__}, vkernel {vkernel.__version__} in "
          f"{Path(vkernel.__file__).parent}", flush=True)
    print(f"  NUMBA_CPU_NAME={cpu}" if cpu else
          "  NUMBA_CPU_NAME is not set: this cache serves this CPU model only "
          "(Binder sets generic)", flush=True)
    if is_warm():
        print(f"vkernel warm: done in {time.perf_counter() - start:.1f} s; the core is "
              f"already compiled for this CPU, in {cache_dir()}", flush=True)
        return 0
    print("  compiling the machine core, once: a minute or two", flush=True)
    warm(report=_print_step)
    print(f"vkernel warm: done in {time.perf_counter() - start:.1f} s; numba cache in "
          f"{cache_dir()}", flush=True)
    return 0
