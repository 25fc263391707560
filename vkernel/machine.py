"""The machine: one RV64 hart, RAM and the devices of QEMU's ``virt`` board.

The hart runs in the numba core (:mod:`vkernel.core.kernel`) until something needs Python:
a device access, a store to HTIF ``tohost``, a full trace buffer, a breakpoint, an idle
``wfi`` or the end of the step budget. :meth:`Machine.run` handles those exits and returns
an :class:`Exit` when the caller has something to look at.

>>> import vkernel
>>> m = vkernel.Machine(ram_mb=1)
>>> prog = m.load(vkernel.assemble('''
...     li a0, 6
...     li a1, 7
...     mul a2, a0, a1
...     li t0, 0x100000          # the SiFive test finisher: 0x5555 = pass
...     li t1, 0x5555
...     sw t1, 0(t0)
... '''))
>>> m.run()
Exit(reason='halt', step=7, pc=0x8000001c, exit_code=0)
>>> m.hart.x["a2"], m.hart.mode.name
(42, 'M')
"""

from __future__ import annotations

import enum
import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from vkernel.core import kernel as K
from vkernel.devices import (
    BOARD,
    DEVICE_ID,
    UART_IRQ,
    VIRTIO_COUNT,
    VIRTIO_IRQ,
    CfiFlash,
    EmptyVirtioMmio,
    PcieHost,
    Plic,
    TestFinisher,
    Uart16550,
)
from vkernel.devices.bus import Bus
from vkernel.devices.virtio_blk import VirtioBlock
from vkernel.errors import LoadError, TraceError, VkernelError
from vkernel.isa.csr import CSR_NAME, CSR_NUMBER, cause_name
from vkernel.isa.program import Program, load_program
from vkernel.isa.table import ABI_NAMES
from vkernel.progress import compiling, progress_bar, watched
from vkernel.trace.schema import FAMILIES as SCHEMA
from vkernel.trace.schema import ISA, NO_MODE, RECORDABLE

if TYPE_CHECKING:
    import xarray as xr

    from vkernel.trace.recorder import Recorder

MASK64 = (1 << 64) - 1
# vkernel's hart retires this many instructions a second, by definition: the machine has
# no clock but its retired instructions, so this nominal 10 MIPS is what turns its ``time``
# into seconds (the device tree's timebase-frequency; the hypervisor's milliseconds)
STEPS_PER_SECOND = 10_000_000
# the core serves the CLINT and RAM from its own compile-time constants: the board's rows
if (BOARD["clint"].base, BOARD["clint"].size, BOARD["ram"].base) \
        != (K.CLINT_BASE, K.CLINT_SIZE, K.RAM_BASE):
    raise ImportError("vkernel.devices.BOARD and the core disagree on the CLINT or RAM")
_CORE_READY = False  # run() has compiled or loaded the core in this process
CHUNK = 1 << 24  # steps per call into the core: long enough to amortise, short for Ctrl-C
FAMILIES = RECORDABLE
TRACE_P2M = 128  # a host's p2m changes: recorded in Python (the core never looks)
_FAMILY_BIT = {"step": K.TRACE_STEP, "write": K.TRACE_WRITE, "trap": K.TRACE_TRAP,
               "walk": K.TRACE_WALK, "io": K.TRACE_IO, "sample": K.TRACE_SAMPLE,
               "hv": K.TRACE_HV, "p2m": TRACE_P2M}
TraceSpec = str | Sequence[str] | Mapping[str, Any] | None
# the columns of the core's event buffers: every variable of a family but its domain, which
# the core does not know (Machine._drain adds it)
_CORE_COLUMNS = {f: tuple(v for v in SCHEMA[f].variables if v.name != f"{f}_domain")
                 for f in FAMILIES}
_HV_TO_MODE = [v.name for v in SCHEMA["hv"].variables].index("hv_to_mode")  # in a row


class Mode(enum.IntEnum):
    """Privilege modes, numbered as in mstatus.MPP, plus 4 for the H extension's virtual
    modes (V=1): VU = 4 | U and VS = 4 | S, as in the trace's mode columns. With the H
    extension, S with V=0 is HS-mode."""

    U = K.PRV_U
    S = K.PRV_S
    M = K.PRV_M
    VU = 4 | K.PRV_U
    VS = 4 | K.PRV_S

    @property
    def v(self) -> int:
        """The virtualization mode bit V."""
        return int(self) >> 2


class MachineError(VkernelError):
    """Misuse of the machine API (an address outside RAM, an unknown CSR name, ...)."""


@dataclass(frozen=True)
class Exit:
    """Why :meth:`Machine.run` or :meth:`Machine.step` returned.

    ``reason`` is one of ``"budget"`` (the step budget is spent), ``"breakpoint"`` (the pc
    reached a breakpoint; running again steps over it), ``"halt"`` (the guest ended the
    machine through the test finisher or HTIF; see ``exit_code``), ``"host-exit"`` (a trap
    whose target level the host owns, see :attr:`Machine.host_traps`; ``cause`` and
    ``tval`` say which, ``from_mode`` and ``to_mode`` where it came from and went, ``gpa``
    the guest physical address of a guest-page fault) and ``"wfi-idle"`` (the hart waits
    for an interrupt that only outside input, such as :meth:`Machine.send_console`, can
    bring). ``step`` is the
    number of instructions retired so far.
    """

    reason: str
    step: int
    pc: int
    exit_code: int | None = None
    cause: int | None = None
    tval: int | None = None
    from_mode: Mode | None = None  # host exits: the mode the trap came from
    to_mode: Mode | None = None  # host exits: the level it targeted (the host owns)
    gpa: int | None = None  # host exits for a guest-page fault: the guest physical address

    def __repr__(self) -> str:
        extra = ""
        if self.exit_code is not None:
            extra += f", exit_code={self.exit_code}"
        if self.cause is not None:
            extra += f", cause={cause_name(self.cause)!r}, tval={self.tval:#x}"
        return f"Exit(reason={self.reason!r}, step={self.step}, pc={self.pc:#x}{extra})"


def _cause_bits(causes: set[int]) -> tuple[int, int]:
    """The core's two bit sets for a set of mcause values: exceptions, interrupts."""
    exc = intr = 0
    for c in causes:
        code = c & ~(1 << 63)
        if code >= 63:
            raise MachineError(f"no trap has cause {c:#x}")
        if c >> 63:
            intr |= 1 << code
        else:
            exc |= 1 << code
    return _signed(exc), _signed(intr)


def _signed(v: int) -> int:
    v &= MASK64
    return v - (1 << 64) if v >> 63 else v


BAR_DELAY = 1.0  # seconds a run lasts before its progress bar appears


class _LazyBar:
    """A run's progress bar (:func:`~vkernel.progress.progress_bar`), made only once the
    run has lasted :data:`BAR_DELAY`: a short run, such as each ``step()`` of a loop,
    costs nothing (in a notebook a bar is a handful of widgets, ~4 ms to make)."""

    def __init__(self, budget: int | None, name: str | None) -> None:
        self._budget, self._name, self._bar = budget, name, None
        self._clock = time.monotonic
        self._since = self._clock()

    def show(self, steps: int) -> None:
        """``steps`` taken so far in this run."""
        if self._bar is None:
            if self._clock() - self._since < BAR_DELAY:
                return
            self._bar = progress_bar(self._budget, self._name, delay=0, initial=steps)
            self._bar.start_t -= self._clock() - self._since  # its clock: the run's
            self._bar.refresh()
        self._bar.update(steps - self._bar.n)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


class Registers:
    """The integer registers, by number or ABI name; values read as unsigned 64-bit.

    Writes to ``x0``/``zero`` are ignored, as in hardware.
    """

    def __init__(self, x: np.ndarray) -> None:
        self._x = x

    @staticmethod
    def _index(key: int | str) -> int:
        if isinstance(key, str):
            name = key.lower()
            if name in ABI_NAMES:
                return ABI_NAMES.index(name)
            if name == "fp":
                return 8
            if name.startswith("x") and name[1:].isdigit() and int(name[1:]) < 32:
                return int(name[1:])
            raise MachineError(f"no register named {key!r}")
        if not 0 <= key < 32:
            raise MachineError(f"register number {key} is not in 0..31")
        return int(key)

    def __getitem__(self, key: int | str) -> int:
        return int(self._x[self._index(key)]) & MASK64

    def __setitem__(self, key: int | str, value: int) -> None:
        i = self._index(key)
        if i:
            self._x[i] = _signed(value)

    def __len__(self) -> int:
        return 32

    def __iter__(self) -> Iterator[int]:
        return (int(v) & MASK64 for v in self._x)

    def tolist(self) -> list[int]:
        return list(self)

    def __repr__(self) -> str:
        return "Registers(" + ", ".join(f"{n}={v:#x}" for n, v in zip(ABI_NAMES, self, strict=True)
                                        if v) + ")"


class CSRFile(Mapping[str, int]):
    """CSRs by name (or number), read and written as M-mode software would: writes go
    through the same WARL rules as a ``csrw`` instruction."""

    def __init__(self, machine: Machine) -> None:
        self._m = machine

    @staticmethod
    def _number(key: str | int) -> int:
        n = CSR_NUMBER.get(key) if isinstance(key, str) else key
        if n is None or not K.csr_exists(n):
            raise KeyError(f"no CSR {key!r} on this hart")
        return n

    def __getitem__(self, key: str | int) -> int:
        m = self._m
        return int(K.csr_read(m._s, m._csr, self._number(key), m._s[K.S_INSTRET])) & MASK64

    def __setitem__(self, key: str | int, value: int) -> None:
        m = self._m
        # csr_write's counter convention is "the writing instruction retires": undo it
        K.csr_write(m._s, m._csr, self._number(key), _signed(value), m._s[K.S_INSTRET] - 1)

    def __iter__(self) -> Iterator[str]:
        return (name for n, name in sorted(CSR_NAME.items()) if K.csr_exists(n))

    def __len__(self) -> int:
        return sum(1 for _ in self)


class Hart:
    """The architectural state of hart 0: ``pc``, ``x``, ``csr``, ``mode``."""

    def __init__(self, machine: Machine) -> None:
        self._m = machine
        self.x = Registers(machine._x)
        self.csr = CSRFile(machine)

    @property
    def pc(self) -> int:
        return int(self._m._s[K.S_PC]) & MASK64

    @pc.setter
    def pc(self, value: int) -> None:
        self._m._s[K.S_PC] = _signed(value)

    @property
    def mode(self) -> Mode:
        s = self._m._s
        return Mode(int(s[K.S_MODE]) | (int(s[K.S_V]) << 2))

    @mode.setter
    def mode(self, value: Mode | int | str) -> None:
        mode = Mode[value] if isinstance(value, str) else Mode(value)
        self._m._s[K.S_MODE] = int(mode) & 3
        self._m._s[K.S_V] = mode.v

    @property
    def instret(self) -> int:
        """Instructions retired since reset (the step counter of every event)."""
        return int(self._m._s[K.S_INSTRET])

    @property
    def mtime(self) -> int:
        s = self._m._s
        return int((s[K.S_INSTRET] + s[K.S_TIME_OFF]) // s[K.S_TIME_DIV])

    @property
    def mtimecmp(self) -> int:
        """The CLINT's timer compare register (a machine timer interrupt is pending while
        mtime >= mtimecmp)."""
        return int(self._m._s[K.S_MTIMECMP]) & MASK64

    @mtimecmp.setter
    def mtimecmp(self, value: int) -> None:
        self._m._s[K.S_MTIMECMP] = _signed(value)

    def flush_tlb(self, va: int | None = None, *, vmid: int | None = None) -> None:
        """Forget cached translations (the page-walk caches' entries too): every one
        (``sfence.vma`` with no operands, and every guest's), or those of ``va``'s page in
        every address space (``sfence.vma va, x0`` in HS/S). With ``vmid``, only guest
        (V=1) translations of that VMID: every one, or those of ``va``'s page in all its
        address spaces (``hfence.vvma va, x0``; its G-stage entries stay)."""
        if vmid is not None:
            K.tlb_flush(self._m._tlb, _signed(va or 0), 0, va is None, True, 1, vmid, False,
                        False)
        elif va is None:
            self._m._tlb[:] = 0
        else:
            K.tlb_flush(self._m._tlb, _signed(va), 0, False, True, 0, 0, True, False)

    def sleep_until_timer(self) -> bool:
        """What ``wfi`` does when nothing is pending: let time jump to the next timer
        deadline (retired instructions do not move). False when no timer is armed."""
        s, csr = self._m._s, self._m._csr
        deadline = int(K.timer_deadline(s, csr, s[K.S_INSTRET]))
        if deadline >= 1 << 62:
            return False
        s[K.S_TIME_OFF] += deadline - int(s[K.S_INSTRET])
        return True

    def __repr__(self) -> str:
        return f"Hart(pc={self.pc:#x}, mode={self.mode.name}, instret={self.instret})"


class Memory:
    """Physical memory as the hart sees it (RAM only; devices are not readable here)."""

    def __init__(self, ram: np.ndarray) -> None:
        self._ram = ram

    @property
    def base(self) -> int:
        return K.RAM_BASE

    @property
    def size(self) -> int:
        return int(self._ram.shape[0])

    def _offset(self, addr: int, n: int) -> int:
        off = addr - K.RAM_BASE
        if n < 0 or off < 0 or off + n > self.size:
            raise MachineError(f"{n} bytes at {addr:#x} are not inside RAM "
                               f"({K.RAM_BASE:#x}..{K.RAM_BASE + self.size:#x})")
        return off

    def read(self, addr: int, n: int) -> bytes:
        off = self._offset(addr, n)
        return self._ram[off:off + n].tobytes()

    def write(self, addr: int, data: bytes | bytearray | memoryview) -> None:
        off = self._offset(addr, len(data))
        self._ram[off:off + len(data)] = np.frombuffer(bytes(data), np.uint8)

    def read_u64(self, addr: int) -> int:
        return int.from_bytes(self.read(addr, 8), "little")

    def write_u64(self, addr: int, value: int) -> None:
        self.write(addr, (value & MASK64).to_bytes(8, "little"))


RAM_BASE = K.RAM_BASE
Image = Program | bytes | str | os.PathLike[str]  # what boot() loads: see Machine.boot


@dataclass(frozen=True)
class BootInfo:
    """Where :meth:`Machine.boot` put things: entry points (None: not loaded), the
    initrd's ``(start, end)``, the device tree's address and the kernel command line."""

    firmware_entry: int | None
    kernel_entry: int | None
    initrd: tuple[int, int] | None
    dtb: int | None
    append: str = ""

    def __repr__(self) -> str:
        def h(v: int | None) -> str:
            return "None" if v is None else f"{v:#x}"
        initrd = "None" if self.initrd is None else f"({self.initrd[0]:#x}, {self.initrd[1]:#x})"
        return (f"BootInfo(firmware_entry={h(self.firmware_entry)}, "
                f"kernel_entry={h(self.kernel_entry)}, initrd={initrd}, dtb={h(self.dtb)}, "
                f"append={self.append!r})")


def _raw(source: bytes | str | os.PathLike[str], what: str) -> bytes:
    """The bytes of a file, or the bytes given."""
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source)
    try:
        return Path(source).read_bytes()
    except OSError as e:
        raise LoadError(f"{what}: {source}: cannot read: {e.strerror}") from e


def _image(source: Image, base: int, what: str) -> Program:
    """A firmware or kernel image as a Program: a Program as it is; an ELF file or
    assembly source through :func:`load_program`; anything else (bytes, a raw ``.bin``)
    as one section at ``base``."""
    if isinstance(source, Program):
        return source
    if not isinstance(source, bytes | bytearray | memoryview):
        path = Path(source)
        if path.suffix in (".s", ".S", ".asm") or _raw(path, what)[:4] == b"\x7fELF":
            return load_program(path, base)
        name = path.name
    else:
        name = what
    from vkernel.isa.program import Section

    data = _raw(source, what)
    return Program({".image": Section(".image", base, data, executable=True, writable=True)},
                   {}, base, name=name)


@dataclass
class Snapshot:
    """Everything a machine is, copied: restoring it continues bit-identically."""

    arrays: dict[str, np.ndarray]
    devices: dict[str, Any]
    extra: dict[str, Any] = field(default_factory=dict)


_RVC_TABLE: np.ndarray | None = None


def _rvc_table_path() -> Path:
    """Where the RVC expansion table is cached: next to numba's cache, keyed by the core's
    source."""
    import hashlib

    src = Path(K.__file__)
    key = hashlib.sha1(src.read_bytes()).hexdigest()[:16]
    cache_dir = Path(os.environ.get("NUMBA_CACHE_DIR") or src.parent / "__pycache__")
    return cache_dir / f"rvc-{key}.npy"


def _rvc_table() -> np.ndarray:
    """The RVC expansion table, cached on disk (:func:`_rvc_table_path`) because loading
    the compiled builder costs more than reading 256 KiB."""
    global _RVC_TABLE
    if _RVC_TABLE is None:
        path = _rvc_table_path()
        cache_dir = path.parent
        try:
            table = np.load(path)
            if table.shape != (65536,) or table.dtype != np.uint32:
                raise ValueError("stale")
        except (OSError, ValueError):
            table = K.build_rvc_table()
            try:
                cache_dir.mkdir(parents=True, exist_ok=True)
                tmp = path.with_suffix(f".{os.getpid()}.npy")
                np.save(tmp, table)
                os.replace(tmp, path)
            except OSError:
                pass  # a read-only install: build it each time
        _RVC_TABLE = table
    return _RVC_TABLE


class Machine:
    """A QEMU-``virt``-compatible RISC-V machine with one RV64IMAC hart.

    ``ram_mb`` sets RAM (at 0x8000_0000); ``disk`` a raw image for the virtio block
    device; ``time_divider`` the retired instructions per timer tick (time is derived
    from retired instructions, so runs are deterministic); ``hardware_ad=False`` makes
    the MMU raise page faults instead of setting A/D bits (menvcfg.ADUE resets to 0);
    ``trace`` what is recorded from the start: family names (``"all"``, ``"step"``,
    ``("step", "trap")``, ...) or a dict of :meth:`trace`'s arguments;
    ``buffer_rows`` the rows of each of the core's event buffers.

    ``sensitive_unprivileged=True`` is a TEACHING DEVIATION FROM RISC-V (Popek &
    Goldberg's switch): in U-mode (and VU-mode), reading ``sstatus`` returns the real
    value (in VU, the guest's vsstatus) and writing it is silently ignored, the way
    x86's PUSHF/POPF behave in ring 3, instead of raising an illegal-instruction
    exception. Trap-and-emulate then cannot see a deprivileged guest kernel touch its
    interrupt-enable bit.

    ``walk_cache=True`` gives the MMU page-walk caches: on a TLB miss, a non-leaf page-table
    entry it holds (VS-stage or single-stage, G-stage, and the G-stage translations of the
    guest's page-table pages) is not read from memory; the walk family records it as a
    ``cached`` row and the counters ``walk_cache_hits``/``walk_cache_misses`` count the
    look-ups (see docs/machine.md). Architectural results are the same either way.

    >>> m = Machine(ram_mb=1, trace={"families": "all", "mode": "last", "last": 1000})
    >>> m.tracing
    ('step', 'write', 'trap', 'walk', 'io', 'sample', 'hv', 'p2m')
    """

    def __init__(self, ram_mb: int = 128, disk: str | os.PathLike[str] | None = None, *,
                 time_divider: int = 10, hardware_ad: bool = True,
                 sensitive_unprivileged: bool = False, walk_cache: bool = False,
                 trace: TraceSpec = None, buffer_rows: int = 1 << 16) -> None:
        if not isinstance(ram_mb, int) or not 1 <= ram_mb <= 4096:
            raise MachineError(f"ram_mb must be an integer from 1 to 4096, not {ram_mb!r}")
        if time_divider < 1:
            raise MachineError("time_divider must be at least 1")
        self.ram_mb = ram_mb
        self.time_divider = time_divider
        self.hardware_ad = hardware_ad
        self.sensitive_unprivileged = bool(sensitive_unprivileged)
        self._walk_cache = bool(walk_cache)
        self._s = np.zeros(K.S_SIZE, np.int64)
        self._x = np.zeros(32, np.int64)
        self._csr = np.zeros(4096, np.int64)
        self._ram = np.zeros(ram_mb << 20, np.uint8)
        # the TLBs and, in plane K.WC, the page-walk caches
        self._tlb = np.zeros((K.TLB_PLANES, K.TLB_COLS, K.TLB_SIZE), np.int64)
        self._rows = buffer_rows
        self._alloc_buffers(0)
        self.hart = Hart(self)
        self.mem = Memory(self._ram)
        self.breakpoints: set[int] = set()
        self.program: Program | None = None
        self.boot_info: BootInfo | None = None  # what boot() placed where (None: load())
        self.on_console: Callable[[str], None] | None = None
        self.uart = Uart16550(on_output=self._console_byte)
        self.plic = Plic()
        self.finisher = TestFinisher()
        # the eight virtio-mmio transports: the disk in the first (0x1000_1000, where
        # xv6 and vkernel's guests look, as QEMU's -device ...,bus=virtio-mmio-bus.0), the
        # rest empty, as QEMU's
        self.virtio = VirtioBlock(disk, self.mem)
        self.transports: list[VirtioBlock | EmptyVirtioMmio] = \
            [self.virtio] + [EmptyVirtioMmio() for _ in range(1, VIRTIO_COUNT)]
        self.pcie = PcieHost()  # an empty PCIe bus: firmware finds the host bridge alone
        self.flash = [CfiFlash(), CfiFlash()]  # two blank CFI flash banks
        self.bus = Bus({"finisher": self.finisher, "plic": self.plic, "uart": self.uart,
                        **{f"virtio{i}": t for i, t in enumerate(self.transports)},
                        "pcie": self.pcie, "flash0": self.flash[0], "flash1": self.flash[1]})
        # the devices that live in Python and have an interrupt line: PLIC source -> device
        self._irq_lines = {UART_IRQ: self.uart,
                           **{VIRTIO_IRQ + i: t for i, t in enumerate(self.transports)}}
        self._htif_console = bytearray()
        self._console = bytearray()
        self._recorder: Recorder | None = None  # where drained events go
        self._hv_rows: list[list[int]] = []  # hv rows not drained yet, as record_hv has them
        self._hv_open = 0  # the first of them complete_hv has not seen
        self._p2m_rows: list[tuple[int, int, int, int]] = []  # p2m rows not drained yet
        # the domain whose vCPU runs (a host's, see set_domain): every row is tagged with it
        self.domain = 0
        self.exit_code: int | None = None
        # trap causes (mcause values: an interrupt has bit 63 set) whose trap into M, or
        # into (H)S, returns to the host as a "host-exit" instead of entering the handler
        self.host_traps: set[int] = set()
        self.host_traps_hs: set[int] = set()
        self.technique = "native"  # the hypervisor layer sets its own
        # a host's domains, {domid: {"name": ..., "technique": ...}}: the trace's "domains"
        self.domain_info: dict[int, dict[str, str]] = {}
        self.reset()
        if isinstance(trace, Mapping):
            options = dict(trace)
            families = options.pop("families", ())
            self.trace(*((families,) if isinstance(families, str) else families), **options)
        elif isinstance(trace, str):
            self.trace(trace)
        elif trace is not None:
            self.trace(*trace)

    # --- state --------------------------------------------------------------------------
    def _alloc_buffers(self, trace: int) -> None:
        def rows(bit: int) -> int:
            # a family that is off still gets a small buffer: its fill check never fires
            return self._rows if trace & bit else 2 * K.MARGIN
        self._st_pc = np.zeros(rows(K.TRACE_STEP), np.int64)
        self._st_insn = np.zeros(rows(K.TRACE_STEP), np.uint32)
        self._st_mode = np.zeros(rows(K.TRACE_STEP), np.uint8)
        self._wr = np.zeros((rows(K.TRACE_WRITE), K.WRITE_COLS), np.int64)
        self._tr = np.zeros((rows(K.TRACE_TRAP), K.TRAP_COLS), np.int64)
        self._wk = np.zeros((rows(K.TRACE_WALK), K.WALK_COLS), np.int64)
        self._io = np.zeros((rows(K.TRACE_IO), K.IO_COLS), np.int64)
        self._sm = np.zeros((rows(K.TRACE_SAMPLE), K.SAMPLE_COLS), np.int64)

    def reset(self) -> None:
        """Power-on state: M-mode, registers zero, pc at the program's entry (or RAM)."""
        s, csr = self._s, self._csr
        trace, every = s[K.S_TRACE], s[K.S_SAMPLE_EVERY]
        s[:] = 0
        s[K.S_TRACE] = trace  # what is being recorded survives a reset: a new run starts
        s[K.S_SAMPLE_EVERY] = every
        self._x[:] = 0
        csr[:] = 0
        self._tlb[:] = 0
        s[K.S_PC] = self.program.entry if self.program else K.RAM_BASE
        boot = self.boot_info
        if boot is not None:  # QEMU's reset vector: a0 = hart id (0), a1 = the device tree
            s[K.S_PC] = boot.firmware_entry or boot.kernel_entry
            self._x[11] = boot.dtb or 0
        s[K.S_MODE] = K.PRV_M
        s[K.S_TIME_DIV] = self.time_divider
        s[K.S_MTIMECMP] = -1
        s[K.S_RES_ADDR] = -1
        s[K.S_BP_SKIP] = -1
        s[K.S_TOHOST] = -1
        s[K.S_ENV_FLAGS] = (K.ENV_SENSITIVE_UNPRIVILEGED if self.sensitive_unprivileged else 0) \
            | (K.ENV_WALK_CACHE if self._walk_cache else 0)
        if self.program is not None and "tohost" in self.program.symbols:
            s[K.S_TOHOST] = self.program.symbols["tohost"]
        csr[K.CSR_MSTATUS] = K.MSTATUS_UXL_SXL
        csr[K.CSR_MENVCFG] = K.MENVCFG_ADUE if self.hardware_ad else 0
        self.exit_code = None
        if self._recorder is not None and self._recorder.end_counters is None:
            self._recorder.restart(0, self.counters)

    @property
    def walk_cache(self) -> bool:
        """Whether the MMU has page-walk caches (switching them empties them).

        >>> m = Machine(ram_mb=1, walk_cache=True)
        >>> m.walk_cache, m.counters["walk_cache_hits"]
        (True, 0)
        """
        return bool(self._s[K.S_ENV_FLAGS] & K.ENV_WALK_CACHE)

    @walk_cache.setter
    def walk_cache(self, on: bool) -> None:
        self._walk_cache = bool(on)
        self._s[K.S_ENV_FLAGS] = (self._s[K.S_ENV_FLAGS] & ~K.ENV_WALK_CACHE) \
            | (K.ENV_WALK_CACHE if on else 0)
        self._tlb[K.WC] = 0

    def load(self, program: Program | str | os.PathLike[str]) -> Program:
        """Load a program (an assembled :class:`Program`, or a path to an ELF file or an
        assembly source ``.s``) into RAM and reset the hart to its entry point: a
        bare-metal run, as QEMU's ``-bios none -kernel FILE``."""
        if not isinstance(program, Program):
            program = load_program(program)
        self._place(program)
        self.program = program
        self.boot_info = None
        self.reset()
        return program

    def boot(self, kernel: Image | None = None, *, bios: Image | str | None = "vkernel",
             initrd: Image | None = None, append: str = "",
             dtb: bytes | str | os.PathLike[str] | None = None) -> BootInfo:
        """Load firmware, a kernel, an initrd and a device tree the way QEMU's ``virt``
        board does for ``-bios BIOS -kernel KERNEL -initrd INITRD -append ARGS -dtb DTB``,
        and reset the hart to the firmware.

        * ``bios``: the M-mode firmware, at 0x8000_0000 (an ELF at its own addresses).
          ``"vkernel"`` (the default) is vkernel's own small SBI firmware
          (vkernel/guests/sbi.s); ``"none"`` (or None) runs ``kernel`` bare-metal, as
          QEMU's ``-bios none``: the hart starts at the kernel's entry.
        * ``kernel``: an ELF is loaded at its own addresses; a raw image at the next
          2 MiB boundary past the firmware (0x8020_0000 for a small firmware: what
          OpenSBI's generic ``fw_jump`` jumps to, its FW_JUMP_ADDR), as QEMU's
          ``riscv_calc_kernel_start_addr``.
        * ``initrd``: raw bytes at kernel entry + min(RAM / 2, 128 MiB), as QEMU's
          ``riscv_load_initrd``.
        * ``dtb``: a flattened device tree (bytes or a file), placed as QEMU's
          ``riscv_compute_fdt_addr`` places it: at the 2 MiB boundary at or below
          min(RAM end, 3 GiB) minus its size. None means the machine's own device tree
          (:meth:`dtb`, with ``append`` and the initrd's range in its ``/chosen``).
        * ``append``: the kernel command line. QEMU also writes it into a given device
          tree, and the initrd's range into any; vkernel does not edit a given tree yet,
          so there they are only recorded in the returned :class:`BootInfo`.

        Images are a :class:`Program`, a path (ELF, assembly source or raw binary) or
        bytes (raw). At reset, as after QEMU's reset vector: pc = the firmware's entry (the
        kernel's with ``bios="none"``),
        a0 = the hart id (0), a1 = the device tree's address (0 without one); a2, the
        address of QEMU's ``fw_dynamic`` info, is 0: boot ``fw_jump`` firmware, not
        ``fw_dynamic``.

        >>> import vkernel
        >>> m = vkernel.Machine(ram_mb=128)
        >>> info = m.boot(vkernel.assemble("li a0, 7", base=0x8020_0000))
        >>> hex(m.hart.pc), hex(info.kernel_entry), hex(m.hart.x["a1"])
        ('0x80000000', '0x80200000', '0x87e00000')
        >>> m.mem.read(info.dtb, 4).hex()     # the machine's own device tree
        'd00dfeed'

        """
        bare = bios is None or bios == "none"
        if bios == "vkernel":
            from vkernel.guests import firmware

            bios = firmware()
        firmware_program = None if bare else _image(bios, RAM_BASE, "bios")
        if firmware_program is not None:
            self._place(firmware_program)
        firmware_end = RAM_BASE if firmware_program is None else \
            max(sec.end for sec in firmware_program.sections.values())
        kernel_program = None
        if kernel is not None:
            # QEMU's riscv_calc_kernel_start_addr (RV64): the firmware's end, 2 MiB aligned
            kernel_program = _image(kernel, -(-firmware_end // (2 << 20)) * (2 << 20), "kernel")
            self._place(kernel_program)
        elif bare:
            raise MachineError("bios='none' runs the kernel bare-metal: give a kernel")
        kernel_entry = kernel_program.entry if kernel_program else None
        initrd_range = None
        if initrd is not None:
            if kernel_entry is None:
                raise MachineError("an initrd is placed after the kernel: give a kernel")
            data = _raw(initrd, "initrd")
            start = kernel_entry + min((self.ram_mb << 20) // 2, 128 << 20)
            self.mem.write(start, data)
            initrd_range = (start, start + len(data))
        if dtb is None:
            blob = self.dtb(bootargs=append, initrd=initrd_range)  # the machine's own
        else:
            blob = _raw(dtb, "dtb")
        dtb_addr = 0
        if blob is not None:
            if blob[:4] != b"\xd0\x0d\xfe\xed":
                raise LoadError("dtb: not a flattened device tree (no 0xd00dfeed magic)")
            size = max(int.from_bytes(blob[4:8], "big"), len(blob))
            ram_end = RAM_BASE + (self.ram_mb << 20)
            top = min(ram_end, 3 << 30) if RAM_BASE < 3 << 30 else ram_end
            dtb_addr = (top - size) // (2 << 20) * (2 << 20)
            self.mem.write(dtb_addr, bytes(blob) + bytes(size - len(blob)))
        self.program = kernel_program if bare else firmware_program
        self.boot_info = BootInfo(
            firmware_entry=None if bare else firmware_program.entry,
            kernel_entry=kernel_entry, initrd=initrd_range, dtb=dtb_addr or None,
            append=append)
        self.reset()
        return self.boot_info

    def _place(self, program: Program) -> None:
        """Copy a program's sections into RAM."""
        for sec in program.sections.values():
            if sec.size == 0:
                continue
            off = sec.addr - K.RAM_BASE
            if off < 0 or off + sec.size > self._ram.shape[0]:
                raise LoadError(f"section {sec.name} ({sec.addr:#x}..{sec.end:#x}) of "
                                f"{program.name} is outside RAM ({K.RAM_BASE:#x}.."
                                f"{K.RAM_BASE + self._ram.shape[0]:#x}); "
                                f"try a larger ram_mb")
            self._ram[off:off + sec.size] = np.frombuffer(bytes(sec.data), np.uint8) \
                if not sec.nobits else 0

    # --- recording ----------------------------------------------------------------------
    def trace(self, *families: str, mode: str = "all", last: int = 100_000,
              path: str | os.PathLike[str] | None = None,
              chunk_rows: int = 1 << 20, sample_every: int = 1024) -> None:
        """Record event families from now on: any of ``step``, ``write``, ``trap``,
        ``walk``, ``io``, ``sample`` (the machine's counters every ``sample_every`` steps),
        or ``"all"``. ``mode`` says where the rows go: ``"all"`` keeps every row in memory,
        ``"last"`` a ring of the ``last`` steps, ``"stream"`` appends them to the Zarr store
        ``path`` in chunks of ``chunk_rows`` as the run goes (memory stays flat). No
        families stops recording and keeps what was recorded for :meth:`trace_dataset`; a
        new recording replaces the old one.

        >>> m = Machine(ram_mb=1)
        >>> m.trace("step", "trap", mode="last", last=10_000)
        >>> m.tracing
        ('step', 'trap')
        """
        if len(families) == 1 and not isinstance(families[0], str):
            families = tuple(families[0])  # trace(["step", "trap"]) too
        if "all" in families:
            families = FAMILIES
        unknown = set(families) - set(FAMILIES)
        if unknown:
            raise TraceError(f"unknown event families {sorted(unknown)}; "
                             f"choose from {', '.join(FAMILIES)} or 'all'")
        if not isinstance(sample_every, int) or sample_every < 1:
            raise TraceError(f"sample_every must be a positive number of steps, not "
                             f"{sample_every!r}")
        self._drain()
        old = self._recorder
        if not families:
            if old is not None and old.end_counters is None:
                old.stop(self.counters)
            self._alloc_buffers(0)
            self._s[K.S_TRACE] = 0
            return
        from vkernel.trace.recorder import Recorder

        path = Path(path) if path is not None else None
        if old is not None and old.path is not None and old.path == path:
            old.close()  # the new stream replaces the old one's store: let its writer finish
        families = tuple(f for f in FAMILIES if f in families)
        new = Recorder(families, self.hart.instret, self.counters, mode=mode, last=last,
                       path=path, chunk_rows=chunk_rows, attrs=self._trace_attrs(),
                       sample_every=sample_every if "sample" in families else None)
        if old is not None:
            old.close()  # only now: bad arguments leave the recording as it was
        self._recorder = new
        bits = 0
        for f in families:
            bits |= _FAMILY_BIT[f]
        self._alloc_buffers(bits)
        self._s[K.S_TRACE] = bits
        self._s[K.S_SAMPLE_EVERY] = sample_every
        self._s[K.S_NEXT_SAMPLE] = self.hart.instret  # the first row: where recording starts

    @property
    def tracing(self) -> tuple[str, ...]:
        """The families being recorded now."""
        return tuple(f for f in FAMILIES if self._s[K.S_TRACE] & _FAMILY_BIT[f])

    @property
    def counters(self) -> dict[str, int]:
        """The core's event counters since reset (the trace's totals are checked
        against these)."""
        s = self._s
        return {"instret": int(s[K.S_INSTRET]), "traps": int(s[K.S_TRAPS]),
                "tlb_lookups": int(s[K.S_TLB_LOOKUPS]), "tlb_misses": int(s[K.S_TLB_MISSES]),
                "pte_reads": int(s[K.S_WALKS]), "walk_cache_hits": int(s[K.S_WC_HITS]),
                "walk_cache_misses": int(s[K.S_WC_MISSES])}

    def _trace_attrs(self) -> dict[str, Any]:
        """The Dataset attributes that describe this machine and program."""
        import datetime
        import json

        import vkernel
        from vkernel.trace.schema import SCHEMA_VERSION

        disk = self.virtio.path
        machine = {"ram_mb": self.ram_mb, "time_divider": self.time_divider,
                   "hardware_ad": self.hardware_ad,
                   "disk": None if disk is None else {"name": Path(disk).name,
                                                      "bytes": int(self.virtio.disk.size)}}
        p = self.program
        program = {"name": p.name, "sha256": p.sha256(), "entry": p.entry} if p else \
            {"name": None, "sha256": None, "entry": None}
        attrs = {"trace_schema": SCHEMA_VERSION, "vkernel_version": vkernel.__version__,
                 "isa": ISA, "technique": self.technique,
                 "created_at": datetime.datetime.now(datetime.UTC).isoformat(
                     timespec="seconds"),
                 "machine": json.dumps(machine, sort_keys=True),
                 "program": json.dumps(program, sort_keys=True)}
        if self.domain_info:  # under a host: who its domains are
            attrs["domains"] = json.dumps({str(d): v for d, v in self.domain_info.items()},
                                          sort_keys=True)
        return attrs

    def trace_dataset(self) -> xr.Dataset:
        """The recorded trace as an :class:`xarray.Dataset` (schema: docs/trace-schema.md).
        It can be asked for at any point; a streamed trace is flushed and opened from its
        store. An in-memory trace shares its arrays with the recording (no copy): copy
        before writing into them.

        >>> import vkernel
        >>> m = Machine(ram_mb=1, trace="all")
        >>> _ = m.load(vkernel.assemble("li a0, 1\\nli a1, 2\\nebreak"))
        >>> _ = m.run(max_steps=3)
        >>> ds = m.trace_dataset()
        >>> ds.sizes["step"], ds.vk.disasm(1), int(ds.trap_cause[0])
        (2, 'li a1,2', 3)
        """
        if self._recorder is None:
            raise TraceError("nothing was recorded: call machine.trace(...) (or pass "
                             "trace=... to Machine) before running")
        self._drain()
        return self._recorder.dataset(self._trace_attrs(), self.hart.instret, self.counters)

    def _drain(self) -> None:
        """Move the rows in the core's buffers to the recorder; the buffers are then
        reused. Every row gets the current :attr:`domain`: the core knows nothing of
        domains, and a host changes the domain only through :meth:`set_domain`, which
        drains first, so the rows in the buffers are all of the current one."""
        s = self._s
        rec = self._recorder
        now = int(s[K.S_INSTRET])
        n = int(s[K.S_N_STEP])
        if n and rec is not None:
            rec.add("step", {"step_pc": self._st_pc[:n].view(np.uint64).copy(),
                             "step_insn": self._st_insn[:n].copy(),
                             "step_mode": self._st_mode[:n].copy(),
                             "step_domain": self._domain_column(n)}, now)
        s[K.S_N_STEP] = 0
        for fam, buf, idx in (("write", self._wr, K.S_N_WRITE), ("trap", self._tr, K.S_N_TRAP),
                              ("walk", self._wk, K.S_N_WALK), ("io", self._io, K.S_N_IO),
                              ("sample", self._sm, K.S_N_SAMPLE)):
            n = int(s[idx])
            if n and rec is not None:
                rows = buf[:n]
                cols = {v.name: rows[:, i].astype(v.dtype)
                        for i, v in enumerate(_CORE_COLUMNS[fam])}
                cols[f"{fam}_domain"] = self._domain_column(n)
                rec.add(fam, cols, now)
            s[idx] = 0
        if self._hv_rows:
            if rec is not None and "hv" in rec.families:
                cols = np.array(self._hv_rows, dtype=np.uint64).reshape(
                    -1, len(SCHEMA["hv"].variables))
                rec.add("hv", {v.name: cols[:, i].astype(v.dtype)
                               for i, v in enumerate(SCHEMA["hv"].variables)}, now)
            self._hv_rows.clear()
            self._hv_open = 0
        if self._p2m_rows:
            if rec is not None and "p2m" in rec.families:
                cols = np.array(self._p2m_rows, dtype=np.uint64).reshape(-1, 4)
                rec.add("p2m", {v.name: cols[:, i].astype(v.dtype)
                                for i, v in enumerate(SCHEMA["p2m"].variables)}, now)
            self._p2m_rows.clear()

    def _domain_column(self, n: int) -> np.ndarray:
        return np.full(n, self.domain, np.uint16)

    def set_domain(self, domid: int) -> None:
        """Make ``domid`` the domain whose vCPU runs from now on: the rows recorded so far
        keep the domain they were recorded in (they are drained first), the rows from now
        on get ``domid``. A host calls this at each world switch; its domains are numbered
        from 1, in the order it created them (0 is the control domain, as in Xen, and what
        a machine with no hypervisor records).

        >>> import vkernel
        >>> m = Machine(ram_mb=1, trace="step")
        >>> _ = m.load(vkernel.assemble("nop\\nnop"))
        >>> _ = m.step()
        >>> m.set_domain(2)
        >>> _ = m.step()
        >>> m.events("step")["domain"].tolist()
        [0, 2]
        """
        if isinstance(domid, bool) or not isinstance(domid, int | np.integer) \
                or not 0 <= domid < 1 << 16:
            raise MachineError(f"a domain is a number from 0 to 65535, not {domid!r}")
        self._drain()
        self.domain = int(domid)

    def record_hv(self, event: int, cause: int = 0, detail: int = 0, pc: int = 0,
                  cycles: int = 0, *, from_mode: int = NO_MODE, level: int = NO_MODE,
                  vaddr: int = 0, entry: int = 0, satp: int = 0,
                  domain: int | None = None) -> None:
        """Record one row of the ``hv`` family (when it is being recorded): something the
        hypervisor layer did at the current step (see the schema's HV_EVENT), in the
        current :attr:`domain` (or ``domain``: a host's work for a domain not running, such
        as sharing its pages). ``from_mode`` is the mode the guest was in when it exited
        (for the rows of an exit), ``level`` the mode the hypervisor handled it in (M for
        a software technique, S, that is HS, under the H extension); both in the schema's
        MODE encoding, :data:`~vkernel.trace.schema.NO_MODE` when not known. The row's
        mode the guest went back to is set later, by :meth:`complete_hv`. A memory event
        says which page (``vaddr``), the entry written or read (``entry``) and the
        address space (``satp``), as the schema's ``hv`` family describes them."""
        if self._s[K.S_TRACE] & K.TRACE_HV:
            self._hv_rows.append([int(self._s[K.S_INSTRET]), event, cause & MASK64,
                                  detail & MASK64, vaddr & MASK64, entry & MASK64,
                                  satp & MASK64, pc & MASK64, cycles, from_mode, NO_MODE,
                                  level, self.domain if domain is None else domain])

    def record_p2m(self, domain: int, gpa: int, machine: int | None) -> None:
        """Record one row of the ``p2m`` family (when it is being recorded): guest page
        ``gpa`` of ``domain`` is backed by ``machine`` from now on (None: by no frame)."""
        if self._s[K.S_TRACE] & TRACE_P2M:
            self._p2m_rows.append((int(self._s[K.S_INSTRET]), gpa & MASK64,
                                   MASK64 if machine is None else machine & MASK64, domain))

    def complete_hv(self, to_mode: int) -> None:
        """The hypervisor has finished with one exit and the guest resumes in ``to_mode``
        (the schema's MODE encoding): every hv row not drained yet whose ``to_mode`` is
        still unknown gets this one. A host calls it after handling each exit, so
        all the rows of an exit say where the guest went back to."""
        rows = self._hv_rows
        for i in range(self._hv_open, len(rows)):  # only the rows since the last call
            if rows[i][_HV_TO_MODE] == NO_MODE:
                rows[i][_HV_TO_MODE] = int(to_mode)
        self._hv_open = len(rows)

    def events(self, family: str) -> dict[str, np.ndarray]:
        """The rows of one family recorded so far, as numpy columns named as in the
        schema without the family prefix (``events("trap")["cause"]``): the raw material
        of :meth:`trace_dataset`, for code that wants arrays."""
        if family not in FAMILIES:
            raise TraceError(f"unknown event family {family!r}; choose from "
                             f"{', '.join(FAMILIES)}")
        self._drain()
        cols = self._recorder.columns(family) if self._recorder is not None else \
            {v.name: np.zeros(0, v.dtype) for v in SCHEMA[family].variables}
        return {k[len(family) + 1:]: v for k, v in cols.items()}

    # --- console ------------------------------------------------------------------------
    def _console_byte(self, b: int) -> None:
        self._console.append(b)
        if self.on_console is not None:
            self.on_console(bytes([b]).decode("latin-1"))

    @property
    def console(self) -> str:
        """Everything the guest printed (UART and HTIF console) so far."""
        return self._console.decode("utf-8", errors="replace")

    def send_console(self, text: str | bytes) -> None:
        """Type ``text`` at the guest's console (the UART receive FIFO)."""
        self.uart.receive(text.encode() if isinstance(text, str) else bytes(text))
        self._update_irqs()

    # --- running ------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """Steps taken since reset: instructions retired plus traps taken (what budgets
        count)."""
        return int(self._s[K.S_INSTRET] + self._s[K.S_TRAPS])

    @property
    def halted(self) -> bool:
        return self.exit_code is not None

    def step(self, n: int = 1) -> Exit:
        """Execute ``n`` steps (instructions retired or traps taken)."""
        return self.run(max_steps=n)

    def run(self, max_steps: int | None = None, *, progress: bool | None = None) -> Exit:
        """Run until the guest halts, a breakpoint, a host-owned trap, an idle ``wfi``,
        or ``max_steps`` steps (retired instructions and traps taken).

        ``progress`` shows a tqdm bar (in a notebook, a widget) once a run has taken more
        than a second; by default only where someone watches: a notebook or a terminal.
        It counts steps and their rate (``max_steps`` is a limit, not the run's length)
        and vanishes when the run returns. Whatever ``progress`` says, where someone
        watches, a run that must first compile the core (nothing in numba's cache for
        this CPU) says so before it starts and shows the compile's progress
        (:func:`vkernel.progress.compiling`).
        """
        if max_steps is not None and max_steps < 0:
            raise MachineError("max_steps must not be negative")
        if not _CORE_READY:
            self._compile_core()
        bar = _LazyBar(max_steps, self.program.name if self.program else None) \
            if (progress is None and watched()) or progress else None
        try:
            return self._run(max_steps, bar)
        finally:
            if bar is not None:
                bar.close()

    def _compile_core(self) -> None:
        """Compile (or load from numba's cache) what every run calls, before the run and
        its progress bar start, under a notice when that means compiling."""
        global _CORE_READY
        table = [] if _RVC_TABLE is not None or _rvc_table_path().exists() \
            else ["build_rvc_table"]
        with compiling(["run", *table]):
            _rvc_table()
            if not K.run.signatures:
                import numba

                # for the types of this call: the later calls find it and run at once
                K.run.compile(tuple(numba.typeof(a) for a in self._core_args(
                    np.zeros(0, dtype=np.int64), 0)))
        _CORE_READY = True

    def _run(self, max_steps: int | None, bar: _LazyBar | None) -> Exit:
        s = self._s
        remaining = max_steps
        bps = np.array(sorted(b - (1 << 64) if b >> 63 else b for b in self.breakpoints),
                       dtype=np.int64)
        s[K.S_HOST_EXC], s[K.S_HOST_INT] = _cause_bits(self.host_traps)
        s[K.S_HOST_S_EXC], s[K.S_HOST_S_INT] = _cause_bits(self.host_traps_hs)
        start = int(s[K.S_INSTRET] + s[K.S_TRAPS])
        while True:
            if self.halted:
                return self._exit("halt")
            if max_steps is not None:
                # counted from the start, so a trap raised here in Python (an MMIO access
                # fault) uses up a step of the budget as well
                remaining = max(max_steps - int(s[K.S_INSTRET] + s[K.S_TRAPS] - start), 0)
            if remaining == 0:
                return self._exit("budget")
            chunk = CHUNK if remaining is None else min(remaining, CHUNK)
            reason = self._core_run(bps, chunk)
            if bar is not None:
                bar.show(int(s[K.S_INSTRET] + s[K.S_TRAPS]) - start)
            if reason == K.EXIT_BUDGET:
                continue
            if reason == K.EXIT_BUFFER:
                self._drain()
                continue
            if reason == K.EXIT_MMIO:
                self._mmio()
                continue
            if reason == K.EXIT_HTIF:
                self._htif()
                continue
            if reason == K.EXIT_BREAKPOINT:
                s[K.S_BP_SKIP] = s[K.S_PC]
                return self._exit("breakpoint")
            if reason == K.EXIT_WFI:
                if self._update_irqs():
                    continue
                return self._exit("wfi-idle")
            if reason == K.EXIT_HOST_TRAP:
                cause = int(s[K.S_EXIT_A]) & MASK64
                where = int(s[K.S_EXIT_C])
                guest_page = cause in (K.EXC_FETCH_GUEST_PAGE, K.EXC_LOAD_GUEST_PAGE,
                                       K.EXC_STORE_GUEST_PAGE)
                return self._exit("host-exit", cause=cause, tval=int(s[K.S_EXIT_B]) & MASK64,
                                  from_mode=Mode(where & 7),
                                  to_mode=Mode.S if where & 8 else Mode.M,
                                  gpa=int(s[K.S_TRAP_GPA]) if guest_page else None)
            raise VkernelError(f"the core stopped for an unknown reason {reason}")

    def _core_run(self, bps: np.ndarray, budget: int) -> int:
        """One call into the numba core: run up to ``budget`` steps."""
        return K.run(*self._core_args(bps, budget))

    def _core_args(self, bps: np.ndarray, budget: int) -> tuple:
        ram = self._ram
        return (self._s, self._x, self._csr, ram, ram.view(np.uint16), ram.view(np.uint32),
                ram.view(np.int64), self._tlb, _rvc_table(), bps, self._st_pc, self._st_insn,
                self._st_mode, self._wr, self._tr, self._wk, self._io, self._sm, budget)

    def _exit(self, reason: str, **kw: Any) -> Exit:
        return Exit(reason, self.hart.instret, self.hart.pc,
                    exit_code=self.exit_code if reason == "halt" else None, **kw)

    # --- devices ------------------------------------------------------------------------
    @property
    def timebase_frequency(self) -> int:
        """How many times a second ``time`` (the CLINT's mtime) ticks: the nominal
        :data:`STEPS_PER_SECOND` over ``time_divider`` (rounded, if it does not divide).

        >>> [Machine(ram_mb=1, time_divider=d).timebase_frequency for d in (10, 1)]
        [1000000, 10000000]
        """
        return round(STEPS_PER_SECOND / self.time_divider)

    def dtb(self, bootargs: str = "", initrd: tuple[int, int] | None = None) -> bytes:
        """The machine's flattened device tree (a DTB, as QEMU's ``virt`` board gives its
        guest in a1): its RAM, its hart (ISA string, Sv39, the timebase of its ``time``),
        CLINT, PLIC, UART, eight virtio-mmio transports, the test finisher as syscon
        poweroff/reboot, and ``/chosen`` with the console and ``bootargs``, the kernel's
        command line (and ``initrd``, an initial ramdisk's ``(start, end)``, as
        :meth:`boot` places it). Generated from :data:`vkernel.devices.BOARD`
        (:mod:`vkernel.devices.dtb`); :meth:`dts` is the same tree as source.

        >>> blob = Machine(ram_mb=16).dtb("console=ttyS0")
        >>> blob[:4].hex(), int.from_bytes(blob[4:8], "big") == len(blob)
        ('d00dfeed', True)
        """
        from vkernel.devices.dtb import to_dtb

        return to_dtb(self._device_tree(bootargs, initrd))

    def dts(self, bootargs: str = "") -> str:
        """The device tree of :meth:`dtb` as device tree source, to read.

        >>> print(Machine(ram_mb=16).dts())   # doctest: +ELLIPSIS
        /dts-v1/;
        ...
            memory@80000000 {
                device_type = "memory";
                reg = <0x0 0x80000000 0x0 0x1000000>;
            };
        ...
        """
        from vkernel.devices.dtb import to_dts

        return to_dts(self._device_tree(bootargs))

    def _device_tree(self, bootargs: str,  # noqa: ANN202  (an fdt.FDT)
                     initrd: tuple[int, int] | None = None):
        from vkernel.devices.dtb import device_tree

        return device_tree(ram_size=self._ram.shape[0], bootargs=bootargs, initrd=initrd,
                           timebase_frequency=self.timebase_frequency)

    def _mmio(self) -> None:
        s = self._s
        addr = int(s[K.S_MMIO_ADDR])
        size = int(s[K.S_MMIO_SIZE])
        write = bool(s[K.S_MMIO_WRITE])
        found = self.bus.find(addr)
        if found is None:
            # nothing answers at this address: an access fault, taken at the instruction
            cause = K.EXC_STORE_ACCESS if write else K.EXC_LOAD_ACCESS
            K.raise_exception(s, self._csr, self._tr, cause, s[K.S_EXIT_B])
            return
        name, dev, off = found
        if write:
            value = int(s[K.S_MMIO_DATA]) & ((1 << (8 * size)) - 1)
            dev.write(off, size, value)
        else:
            value = dev.read(off, size) & ((1 << (8 * size)) - 1)
            s[K.S_MMIO_DATA] = _signed(value)
        s[K.S_MMIO_DONE] = 1
        if s[K.S_TRACE] & K.TRACE_IO:
            n = int(s[K.S_N_IO])
            self._io[n] = (s[K.S_INSTRET], DEVICE_ID[name], off, int(write), _signed(value), size)
            s[K.S_N_IO] = n + 1
        self._update_irqs()
        if self.finisher.exit_code is not None:
            # retire the store that ended the machine, so the step count includes it
            self._core_run(np.zeros(0, np.int64), 1)
            self.exit_code = self.finisher.exit_code

    def _update_irqs(self) -> bool:
        """Feed the device lines to the PLIC and the PLIC's outputs to the hart. True when
        an external interrupt line into the hart is up."""
        lines = self._irq_lines
        raised = [src for src, dev in lines.items() if dev.raised]
        for dev in lines.values():
            dev.raised = False
        self.plic.update({src: dev.irq for src, dev in lines.items()}, raised)
        m, s_ = self.plic.outputs()
        self._s[K.S_EXT_M] = int(m)
        self._s[K.S_EXT_S] = int(s_)
        return m or s_

    def _htif(self) -> None:
        """A store to tohost: exit (bit 0 set) or a console character (device 1, cmd 1)."""
        s = self._s
        addr = int(s[K.S_TOHOST])
        value = self.mem.read_u64(addr)
        if value == 0:
            return
        device, cmd, payload = value >> 56, (value >> 48) & 0xFF, value & ((1 << 48) - 1)
        if device == 0 and cmd == 0 and payload & 1:
            self.exit_code = payload >> 1
        elif device == 1 and cmd == 1:
            self._console_byte(payload & 0xFF)
            self.mem.write_u64(addr, 0)  # the host consumed it: the guest may send the next
        else:
            self.mem.write_u64(addr, 0)  # a request we do not serve (e.g. proxied syscalls)
        if s[K.S_TRACE] & K.TRACE_IO:
            n = int(s[K.S_N_IO])
            self._io[n] = (s[K.S_INSTRET], DEVICE_ID["htif"], 0, 1, _signed(value), 8)
            s[K.S_N_IO] = n + 1

    # --- snapshots ----------------------------------------------------------------------
    _ARRAYS = ("_s", "_x", "_csr", "_ram", "_tlb")

    def snapshot(self) -> Snapshot:
        """Copy the whole machine. ``restore`` of it continues bit-identically, and cuts
        the trace being recorded back to this point."""
        self._drain()  # the core's event buffers are empty now: no need to copy them
        rec = self._recorder
        return Snapshot(
            arrays={a: getattr(self, a).copy() for a in self._ARRAYS},
            devices={name: dev.state() for name, dev in self.bus.devices.items()},
            extra={"console": bytes(self._console), "exit_code": self.exit_code,
                   "program": self.program, "boot_info": self.boot_info,
                   "domain": self.domain,
                   "trace": (rec.epoch, rec.mark()) if rec is not None else None})

    def restore(self, snap: Snapshot) -> None:
        """Return to a snapshot. What is being recorded stays as it is now; the trace
        loses the rows recorded after the snapshot (or, restoring to a point it never
        recorded, starts again there). A snapshot of another kind of machine (other RAM,
        another vkernel's state layout) is refused before anything changes."""
        for a, arr in snap.arrays.items():
            mine = getattr(self, a)
            if mine.shape != arr.shape or mine.dtype != arr.dtype:
                what = f"{arr.nbytes >> 20} MiB of RAM, not {self.ram_mb}" if a == "_ram" \
                    else f"its {a.strip('_')} array is {arr.dtype}{list(arr.shape)}, not " \
                         f"{mine.dtype}{list(mine.shape)}"
                raise MachineError(f"this snapshot is of another kind of machine ({what}): "
                                   f"restore it on one like the machine it was taken of")
        self._drain()
        tracing, every = self._s[K.S_TRACE], self._s[K.S_SAMPLE_EVERY]
        for a, arr in snap.arrays.items():
            np.copyto(getattr(self, a), arr)
        if self._s[K.S_SAMPLE_EVERY] != every or self._s[K.S_TRACE] != tracing:
            self._s[K.S_NEXT_SAMPLE] = self._s[K.S_INSTRET]  # sampled differently then
        self._s[K.S_TRACE] = tracing
        self._s[K.S_SAMPLE_EVERY] = every
        self._walk_cache = self.walk_cache  # as it was then (its entries are in _tlb)
        rec = self._recorder
        if rec is not None and rec.end_counters is None:
            mark = snap.extra["trace"]
            if mark is not None and mark[0] == rec.epoch:
                rec.truncate(mark[1], self.hart.instret, self.counters)
            else:
                rec.restart(self.hart.instret, self.counters)
        self.mem = Memory(self._ram)
        self.hart = Hart(self)
        self.virtio.memory = self.mem
        for name, dev in self.bus.devices.items():
            dev.set_state(snap.devices[name])
        self._console = bytearray(snap.extra["console"])
        self.exit_code = snap.extra["exit_code"]
        self.program = snap.extra["program"]
        self.boot_info = snap.extra.get("boot_info")
        self.domain = snap.extra["domain"]

    def __repr__(self) -> str:
        name = self.program.name if self.program else "nothing loaded"
        return f"<Machine {self.ram_mb} MiB, {name}, {self.hart!r}>"
