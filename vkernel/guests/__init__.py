"""The guest software vkernel's hypervisors run: firmware, a small kernel, its workloads.

Three layers, each a file of assembly next to this one:

* ``sbi.s``: M-mode firmware at 0x8000_0000, an OpenSBI in miniature. It opens PMP,
  delegates traps to S, and answers the SBI calls a kernel needs (set timer, console
  write and write byte, reset).
  Only native runs use it: a hypervisor answers the same calls itself.
* ``kernel.s``: an S-mode kernel at 0x8020_0000 with Sv39 paging, processes, a
  round-robin scheduler driven by the SBI timer, and Linux-numbered system calls.
  ``kernel_pv.s`` is its para-virtualized twin (``kernel(..., paravirt=True)``): the same
  kernel, output and user memory, with every privileged operation replaced by a
  hypercall or a store to memory shared with the hypervisor (docs/paravirt.md). It runs
  only under ``VM(..., "paravirt")``. The twins share their code by ``.include``: the
  folder ``kernel/`` holds the shared parts (``memory.s``, ``process.s``, ``traps.s``,
  ...) and, side by side, each privileged operation in its two versions
  (``kernel/mmu.native.s`` and ``kernel/mmu.pv.s``, ``irq``, ``trap``, ``timer``, ...);
  the top of ``kernel.s`` is the map.
* ``user_*.s``: user programs. A *workload* is the set of programs one kernel image
  carries; the kernel starts one process per program at boot.

The assembler has no linker, so this module does the linking: it assembles each user
program on its own (each begins with ``.include "user_lib.s"``) at the user address
0x10000, flattens it into a page-padded memory image, and appends the images and a table
describing them to ``kernel.s`` (or ``kernel_pv.s``) before assembling the kernel (with
this folder as its include directory).
Assembled programs are cached: asking twice costs nothing.

>>> m = native("null-syscall", n=10)
>>> m.run().exit_code
0
>>> print(m.console.splitlines()[-2])
[1] null-syscall: 10 done
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from vkernel.isa.asm import assemble
from vkernel.isa.program import Program, Section
from vkernel.machine import Machine

HERE = Path(__file__).parent
PAGE = 4096

# The guest-physical layout (kernel.s's header explains it; these must agree with it)
FIRMWARE_BASE = 0x8000_0000
KERNEL_BASE = 0x8020_0000
GUEST_RAM = (0x8000_0000, 0x8080_0000)  # what the kernel believes is its RAM: 8 MiB
PT_POOL = (0x8030_0000, 0x8040_0000)    # page-table pages (the kernel image ends below)
USER_POOL = (0x8040_0000, 0x8080_0000)  # every page a process can see
# ... and the user virtual layout
USER_VA = 0x1_0000                      # program images start here
HEAP_VA = 0x4000_0000                   # demand-paged heap
STACK_TOP = 0x7FFF_F000                 # two stack pages below
STACK_PAGES = 2

DEFAULT_N = 1000  # BENCH_N in the benchmark programs
MAX_PAGES = 64    # a user image larger than this is a mistake


@dataclass(frozen=True)
class _Workload:
    description: str
    programs: tuple[tuple[str, tuple[tuple[str, int], ...]], ...]  # (file stem, .equ values)
    max_n: int | None = None  # None: the programs have no BENCH_N


def _bench(description: str, stem: str, max_n: int = 100_000, **consts: int) -> _Workload:
    return _Workload(description, ((stem, tuple(sorted(consts.items()))),), max_n)


_WORKLOADS: dict[str, _Workload] = {
    "hello": _Workload(
        "two processes: Fibonacci numbers (yielding between lines) and a prime sieve "
        "checked by trial division (preempted by the timer)",
        (("hello_fib", ()), ("hello_primes", ()))),
    "null-syscall": _bench("N getpid() system calls", "null_syscall"),
    "page-fault": _bench("N first touches of demand-paged heap pages (store page faults)",
                         "page_fault", max_n=1000),
    "exception": _bench("N breakpoints (ebreak, c.ebreak) the kernel steps over",
                        "exception"),
    "call-return": _bench("N calls and returns of an empty function, in the kernel",
                          "kbench", BENCH_KIND=0),
    "irq-mask": _bench("N csrc/csrs sstatus.SIE pairs, in the kernel", "kbench",
                       BENCH_KIND=1),
    "device": _bench("N byte loads of the UART's line status register, in the kernel",
                     "kbench", BENCH_KIND=2),
    "pte-update": _bench("N rewrites of a kernel PTE, each followed by sfence.vma",
                         "kbench", BENCH_KIND=3),
    "map-unmap": _bench("N maps, touches and unmaps of a user page, by the kernel",
                        "kbench", BENCH_KIND=4),
    "as-switch": _bench("N switches to a second address space and back, touching a page "
                        "in each, by the kernel", "kbench", BENCH_KIND=5),
    "fork-copy": _bench("N copies of the process's user mappings into a child's table, "
                        "read-only, with a switch there and back (fork's page-table work)",
                        "kbench", BENCH_KIND=6),
    "faults": _Workload(
        "three misbehaving processes: bad buffers to write() (-EFAULT), a store to an "
        "unmapped address, a privileged instruction in U (both killed)",
        (("efault", ()), ("segv", ()), ("illegal", ()))),
}

#: Every workload: name -> one-line description.
WORKLOADS: dict[str, str] = {name: w.description for name, w in _WORKLOADS.items()}


@dataclass(frozen=True)
class UserImage:
    """One user program as the kernel receives it.

    ``program`` is the assembled program (its symbols are user virtual addresses);
    ``image`` its memory from ``USER_VA`` on, padded to whole pages; the first
    ``ro_pages`` pages (code and constants) are mapped read-execute, the rest
    read-write.
    """

    name: str
    program: Program
    image: bytes
    ro_pages: int

    @property
    def pages(self) -> int:
        return len(self.image) // PAGE

    @property
    def entry(self) -> int:
        return self.program.entry


def _substitute(source: str, name: str, value: int, filename: str) -> str:
    """Replace the value of the ``.equ name, ...`` line of ``source``."""
    pattern = re.compile(rf"^(\s*\.equ\s+{re.escape(name)}\s*,\s*)\S+", re.MULTILINE)
    new, count = pattern.subn(lambda m: f"{m.group(1)}{value}", source)
    if count != 1:
        raise ValueError(f"{filename} has {count} '.equ {name}' lines, expected one")
    return new


def _pages(nbytes: int) -> int:
    return -(-nbytes // PAGE)


@functools.cache
def _user_image(stem: str, consts: tuple[tuple[str, int], ...]) -> UserImage:
    filename = f"user_{stem}.s"
    source = (HERE / filename).read_text()
    for name, value in consts:
        source = _substitute(source, name, value, filename)
    # each program begins with `.include "user_lib.s"`, found in this folder
    prog = assemble(source, base=USER_VA, name=stem, filename=filename, include_dirs=[HERE])
    if "_start" not in prog.symbols:
        raise ValueError(f"{filename} has no _start")
    sections = [s for s in prog.sections.values() if s.size]
    read_only = [s for s in sections if not s.writable]
    writable = [s for s in sections if s.writable]
    ro_end = max(s.end for s in read_only)
    if writable and min(s.addr for s in writable) < ro_end:
        raise ValueError(f"{filename}: writable sections must follow the read-only ones")
    end = max(s.end for s in sections)
    image = bytearray(_pages(end - USER_VA) * PAGE)
    for s in sections:
        image[s.addr - USER_VA:s.end - USER_VA] = s.data
    if len(image) > MAX_PAGES * PAGE:
        raise ValueError(f"{filename} needs {len(image) // PAGE} pages, more than "
                         f"{MAX_PAGES}")
    return UserImage(stem, prog, bytes(image), _pages(ro_end - USER_VA))


def _check(workload: str, n: int | None) -> _Workload:
    w = _WORKLOADS.get(workload)
    if w is None:
        raise ValueError(f"unknown workload {workload!r}; choose from "
                         f"{', '.join(_WORKLOADS)}")
    if n is not None:
        if w.max_n is None:
            raise ValueError(f"workload {workload!r} takes no n (only the benchmarks do: "
                             f"{', '.join(k for k, v in _WORKLOADS.items() if v.max_n)})")
        if not isinstance(n, int) or not 0 <= n <= w.max_n:
            raise ValueError(f"n for {workload!r} must be an integer from 0 to {w.max_n}, "
                             f"not {n!r}")
    return w


def user_images(workload: str, n: int | None = None) -> tuple[UserImage, ...]:
    """The user programs of a workload, in pid order (pid 1 first).

    >>> [(u.name, u.entry >= USER_VA, u.ro_pages <= u.pages) for u in user_images("hello")]
    [('hello_fib', True, True), ('hello_primes', True, True)]
    """
    w = _check(workload, n)
    out = []
    for stem, consts in w.programs:
        values = dict(consts)
        if w.max_n is not None:
            values["BENCH_N"] = DEFAULT_N if n is None else n
        out.append(_user_image(stem, tuple(sorted(values.items()))))
    return tuple(out)


def _workload_source(workload: str, images: tuple[UserImage, ...]) -> str:
    """The assembly appended to kernel.s: the workload's name, table and images."""
    lines = [
        "",
        f"# ==== the workload {workload!r}, generated by vkernel/guests/__init__.py ====",
        "        .section .rodata",
        "        .balign 8",
        "workload_name:",
        f'        .asciz "{workload}"',
        "        .balign 8",
        "workload_table:                         # count, then per program: image,",
        f"        .dword {len(images)}                       "
        "# read-only pages, pages, entry",
    ]
    for i, u in enumerate(images):
        lines.append(f"        .dword user_image_{i}, {u.ro_pages}, {u.pages}, {u.entry:#x}"
                     f"   # pid {i + 1}: user_{u.name}.s")
    for i, u in enumerate(images):
        lines += ["        .balign 4096", f"user_image_{i}:"]
        words = [int.from_bytes(u.image[k:k + 8], "little") for k in range(0, len(u.image), 8)]
        for k in range(0, len(words), 8):
            lines.append("        .dword " + ", ".join(f"{w:#x}" for w in words[k:k + 8]))
    return "\n".join(lines) + "\n"


@functools.cache
def firmware() -> Program:
    """The M-mode firmware (``sbi.s``), assembled at 0x8000_0000.

    >>> hex(firmware().entry)
    '0x80000000'
    """
    return assemble((HERE / "sbi.s").read_text(), base=FIRMWARE_BASE, name="sbi",
                    filename="sbi.s")


def kernel(workload: str, n: int | None = None, *, time_slice: int | None = None,
           paravirt: bool = False) -> Program:
    """The kernel (``kernel.s``) with a workload's user programs, assembled at 0x8020_0000.

    ``n`` sets ``BENCH_N``, the operations a benchmark performs (default 1000; only the
    benchmarks take it); ``time_slice`` the kernel's ``TIME_SLICE`` in ticks of ``time``
    (default 500); ``paravirt=True`` builds the para-virtualized twin ``kernel_pv.s``
    instead, with the same user programs. Unknown workloads raise :class:`ValueError`
    naming the choices.

    >>> k = kernel("hello")
    >>> hex(k.entry), k.symbols["TIME_SLICE"]
    ('0x80200000', 500)
    >>> "trap_vector" in kernel("hello", paravirt=True).symbols
    True
    >>> kernel("hullo")
    Traceback (most recent call last):
      ...
    ValueError: unknown workload 'hullo'; choose from hello, null-syscall, page-fault, \
exception, call-return, irq-mask, device, pte-update, map-unmap, as-switch, fork-copy, \
faults
    """
    _check(workload, n)
    if time_slice is not None and (not isinstance(time_slice, int) or time_slice < 1):
        raise ValueError(f"time_slice must be a positive integer, not {time_slice!r}")
    return _kernel(workload, n, time_slice, bool(paravirt))  # one cache key however called


def kernel_source(workload: str, n: int | None = None, *,
                  time_slice: int | None = None, paravirt: bool = False) -> str:
    """The source :func:`kernel` assembles: ``kernel.s`` (``kernel_pv.s`` with
    ``paravirt``; ``TIME_SLICE`` replaced when ``time_slice`` is given) followed by the
    generated workload part.

    >>> print(kernel_source("hello").split("# ==== the workload")[1].splitlines()[0])
     'hello', generated by vkernel/guests/__init__.py ====
    """
    images = user_images(workload, n)
    filename = "kernel_pv.s" if paravirt else "kernel.s"
    source = (HERE / filename).read_text()
    if time_slice is not None:
        if not isinstance(time_slice, int) or time_slice < 1:
            raise ValueError(f"time_slice must be a positive integer, not {time_slice!r}")
        source = _substitute(source, "TIME_SLICE", time_slice, filename)
    return source + _workload_source(workload, images)


@functools.cache
def _kernel(workload: str, n: int | None, time_slice: int | None, paravirt: bool) -> Program:
    source = kernel_source(workload, n, time_slice=time_slice, paravirt=paravirt)
    suffix = f"-n{n}" if n is not None else ""
    kind = "kernel-pv" if paravirt else "kernel"
    prog = assemble(source, base=KERNEL_BASE, name=f"{kind}-{workload}{suffix}",
                    filename="kernel_pv.s" if paravirt else "kernel.s", include_dirs=[HERE])
    end = max(s.end for s in prog.sections.values())
    if end > PT_POOL[0]:
        raise ValueError(f"the kernel image for {workload!r} ends at {end:#x}, inside the "
                         f"page-table pool at {PT_POOL[0]:#x}")
    return prog


def native(workload: str, n: int | None = None, ram_mb: int = 16, *,
           time_slice: int | None = None, paravirt: bool = False) -> Machine:
    """A :class:`~vkernel.machine.Machine` with the firmware and the kernel (with
    ``workload``) loaded, the hart at the firmware's entry: ready to ``run()``.
    (``paravirt=True`` is refused: that kernel needs its hypervisor, ``VM(workload,
    "paravirt")``.)

    >>> m = native("hello")
    >>> exit = m.run()
    >>> exit.reason, exit.exit_code
    ('halt', 0)
    >>> print(m.console.splitlines()[5])
    [1] hello from process 1
    """
    if paravirt:
        raise ValueError("the para-virtualized kernel (kernel_pv.s) makes hypercalls: it "
                         f"runs only on its hypervisor, VM({workload!r}, 'paravirt')")
    if ram_mb * (1 << 20) < GUEST_RAM[1] - GUEST_RAM[0]:
        raise ValueError(f"the guest needs {(GUEST_RAM[1] - GUEST_RAM[0]) >> 20} MiB of "
                         f"RAM, not {ram_mb}")
    m = Machine(ram_mb=ram_mb)
    m.load(kernel(workload, n, time_slice=time_slice))
    m.load(firmware())  # last: loading resets the hart to the program's entry
    return m


# ---- a hypervisor in machine code ----------------------------------------------------------
HS_RAM_MB = 64  # what hs_hypervisor.s assumes: the guest's RAM is backed at 0x8100_0000..


def _flat(prog: Program, base: int) -> bytes:
    """``prog``'s memory from ``base`` to the end of its last section with contents, as one
    page-padded image (``.bss`` is left out: the kernel zeroes its own)."""
    loaded = [s for s in prog.sections.values() if s.size and not s.nobits]
    end = max(s.end for s in loaded)
    image = bytearray(_pages(end - base) * PAGE)
    for s in loaded:
        image[s.addr - base:s.end - base] = s.data
    return bytes(image)


def hs_hypervisor(workload: str | Program, n: int | None = None, *,
                  time_slice: int | None = None) -> Program:
    """A bare-metal hypervisor (``hs_hypervisor.s``) with the kernel of ``workload`` as its
    guest: one program for a machine with :data:`HS_RAM_MB` MiB of RAM, to load and run
    (or ``.to_elf()`` and boot on QEMU ``-machine virt -cpu rv64,h=true -bios none``).

    The hypervisor starts in M-mode at 0x8000_0000, drops to HS-mode, builds an Sv39x4
    G-stage table that scatters the guest's 8 MiB of guest-physical RAM over machine
    frames at 0x8100_0000.., copies the kernel image (added here as the section
    ``guest_image``, at the hypervisor's ``GUEST_IMAGE``) into the frames behind
    guest-physical 0x8020_0000, and runs the kernel in VS-mode, answering its SBI calls.
    ``n`` and ``time_slice`` are :func:`kernel`'s. ``workload`` may also be a guest of
    one's own: a :class:`Program` assembled at 0x8020_0000 (its ``.bss`` is not loaded).

    >>> m = Machine(ram_mb=HS_RAM_MB)
    >>> _ = m.load(hs_hypervisor("null-syscall", n=10))
    >>> m.run().exit_code
    0
    >>> print(m.console.splitlines()[-2])
    [1] null-syscall: 10 done
    """
    if isinstance(workload, Program):
        if n is not None or time_slice is not None:
            raise ValueError("n and time_slice are for workloads, not for a guest Program")
        if min(s.addr for s in workload.sections.values() if s.size) < KERNEL_BASE \
                or workload.entry != KERNEL_BASE:
            raise ValueError(f"a guest must be assembled at {KERNEL_BASE:#x} and start there")
        return _hs_program(_flat(workload, KERNEL_BASE), f"hs-hypervisor-{workload.name}")
    _check(workload, n)
    return _hs_hypervisor(workload, n, time_slice)


@functools.cache
def _hs_hypervisor(workload: str, n: int | None, time_slice: int | None) -> Program:
    suffix = f"-n{n}" if n is not None else ""
    return _hs_program(_flat(kernel(workload, n, time_slice=time_slice), KERNEL_BASE),
                       f"hs-hypervisor-{workload}{suffix}")


def _hs_program(image: bytes, name: str) -> Program:
    """hs_hypervisor.s assembled at 0x8000_0000 with ``image`` (guest-physical 0x8020_0000
    on) as the section ``guest_image``."""
    if len(image) > GUEST_RAM[1] - KERNEL_BASE:
        raise ValueError(f"a guest image of {len(image)} bytes does not fit in guest RAM")
    source = _substitute((HERE / "hs_hypervisor.s").read_text(), "GUEST_IMAGE_PAGES",
                         len(image) // PAGE, "hs_hypervisor.s")
    hyp = assemble(source, base=FIRMWARE_BASE, name=name, filename="hs_hypervisor.s")
    sym = hyp.symbols
    if sym["GUEST_ENTRY"] != KERNEL_BASE or (sym["GUEST_RAM"], sym["GUEST_RAM"] + (
            sym["GUEST_PAGES"] << 12)) != GUEST_RAM:
        raise ValueError("hs_hypervisor.s and kernel.s disagree on the guest's layout")
    staging = sym["GUEST_IMAGE"]
    hyp_end = max(s.end for s in hyp.sections.values())
    if hyp_end > sym["GSTAGE_ROOT"] or staging + len(image) > sym["GUEST_FRAMES"]:
        raise ValueError("hs_hypervisor.s: the hypervisor or the guest image overlaps what "
                         "follows it")
    sections = dict(hyp.sections)
    sections["guest_image"] = Section("guest_image", staging, image)
    return Program(sections, dict(sym), hyp.entry, name=name, globals=set(hyp.globals),
                   lines=dict(hyp.lines), source=hyp.source)
