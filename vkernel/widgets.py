"""Jupyter widgets that show a machine at work (anywidget; front ends in ``widgets/``).

``MachineView(machine)`` steps a machine forwards and backwards and shows its registers
(the ones the last action changed highlighted), its CSRs, the disassembly around the pc,
its privilege mode and console. Reverse stepping restores the nearest checkpoint and
replays: the machine is deterministic, so the state it reaches is exactly the one it had.

``RingTimeline(trace)`` draws a trace's privilege levels over time, one lane per level,
with an arrow for every trap and return. ``link(timeline, view)`` keeps views on one
step: clicking a transition moves the MachineView there.

Arrays cross to the browser as binary buffers (``traitlets.Bytes``), and only what is
in view: a timeline of a million steps sends the few thousand segments on screen, or a
per-pixel summary when there are more, and its arrows one by one, or bundled by slice of
the view and kind when there are too many to draw.

>>> import vkernel
>>> from vkernel.widgets import MachineView
>>> m = vkernel.Machine(ram_mb=1)
>>> _ = m.load(vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3"))
>>> view = MachineView(m)
>>> view.do("step", 2); view.step, view.changed
(2, ['a0'])
>>> view.do("back"); view.step, m.hart.x["a0"]
(1, 1)
"""

from __future__ import annotations

import io
import pickle
import time
import types
from pathlib import Path
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from vkernel.isa.disasm import decode_one
from vkernel.isa.table import ABI_NAMES
from vkernel.plots import CAUSE_COLOURS, MODE_COLOURS
from vkernel.trace.accessor import short_cause
from vkernel.trace.schema import MODE, NO_MODE, mode_names

_MODE_VALUE = {name: value for value, name in MODE.items()}

_HERE = Path(__file__).resolve().parent
# an editable install finds the front ends in the checkout, a wheel in vkernel/_widgets
ASSETS = _HERE / "_widgets" if (_HERE / "_widgets").is_dir() else _HERE.parent / "widgets"
SHOWN_CSRS = ("mstatus", "mepc", "mcause", "mtval", "mtvec", "sstatus", "sepc", "scause",
              "stval", "stvec", "satp")
HYPERVISOR_CSRS = ("hstatus", "hgatp")  # shown too for a VM under the H extension


def _is_vm(source: Any) -> bool:
    """A :class:`vkernel.hv.VM` (duck-typed: the widgets need not import the layer)."""
    return hasattr(source, "virtual_csrs") and hasattr(source, "machine")


def _check_kwargs(cls: type, kwargs: dict[str, Any], valid: tuple[str, ...]) -> None:
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f"{cls.__name__}() got unknown keyword arguments {unknown}; "
                        f"valid ones are {', '.join(valid)}")


def _describe(ex: Any) -> str:
    """An Exit (or a VM's VMResult) in words for the status line (nothing when the steps
    simply ran out)."""
    if ex is None or ex.reason == "budget":
        return ""
    if ex.reason == "shutdown":
        return f"the guest shut down (SBI system reset, reason {ex.code})"
    if ex.reason == "idle":
        return "the guest waits for an interrupt nothing will send (wfi)"
    if ex.reason == "halt":
        return f"the guest ended the machine: exit code {ex.exit_code}"
    if ex.reason == "breakpoint":
        return f"breakpoint at {ex.pc:#x}"
    if ex.reason == "wfi-idle":
        return "waiting for an interrupt that only outside input can raise (wfi)"
    return repr(ex)


class _HypervisorState:
    """Saves and restores what a :class:`~vkernel.hv.VM` keeps in Python beside its
    machine (the technique's virtual CSRs, shadow-table bookkeeping, translation cache,
    virtual UART, the guest's console...), so that a MachineView can take a VM back to a
    checkpoint: the machine's own snapshot holds the rest.

    A pickle of the VM's and its technique's attributes, in which the machine and
    everything of it (hart, memory, their arrays), the VM, its vCPU and technique
    themselves, and functions stand for themselves: they are kept, not copied.
    """

    def __init__(self, vm: Any) -> None:
        self.vm = vm
        m = vm.machine
        self._arrays = [getattr(m, a) for a in ("_s", "_x", "_csr", "_ram", "_tlb")]

    _PLAIN = frozenset({int, float, str, bytes, bool, type(None), tuple, list, dict, set})

    def _keep(self, obj: Any) -> bool:
        if type(obj) in self._PLAIN:  # most of what there is: nothing to keep
            return False
        vm = self.vm
        if obj is vm or obj is vm.machine or obj is vm.vcpu or obj is vm.technique:
            return True
        if isinstance(obj, types.FunctionType | types.BuiltinFunctionType | type):
            return True
        if type(obj).__module__ == "vkernel.machine":  # Machine, Hart, Memory, Mode...
            return True
        return isinstance(obj, np.ndarray) and any(np.may_share_memory(obj, a)
                                                   for a in self._arrays)

    def save(self) -> tuple[bytes, list[Any]]:
        kept: list[Any] = []
        keep = self._keep

        class Pickler(pickle.Pickler):
            def persistent_id(self, obj: Any) -> int | None:
                if keep(obj):
                    kept.append(obj)
                    return len(kept) - 1
                return None

        vm = self.vm
        fields = {k: v for k, v in vm.__dict__.items() if k != "on_console"}
        buf = io.BytesIO()
        Pickler(buf, protocol=pickle.HIGHEST_PROTOCOL).dump((fields, vm.technique.__dict__))
        return buf.getvalue(), kept

    def restore(self, saved: tuple[bytes, list[Any]]) -> None:
        data, kept = saved

        class Unpickler(pickle.Unpickler):
            def persistent_load(self, pid: Any) -> Any:
                return kept[pid]

        fields, technique = Unpickler(io.BytesIO(data)).load()
        vm = self.vm
        tech = vm.technique
        on_console = vm.__dict__.get("on_console")
        vm.__dict__.clear()
        vm.__dict__.update(fields, on_console=on_console)
        tech.__dict__.clear()
        tech.__dict__.update(technique)


class MachineView(anywidget.AnyWidget):
    """Step a :class:`~vkernel.Machine` forwards and backwards in a notebook.

    ``window`` is how many instructions of disassembly to show around the pc;
    ``checkpoint_every`` how many steps apart reverse stepping keeps snapshots (a step
    back replays at most that many steps; 1000, or 10,000 for a VM). The slider goes to
    any step between the first and the furthest one the view has reached. Run keeps
    stepping, a slice of ``run_slice`` seconds per message so that Pause gets through,
    until the machine stops. Keys in the view: ``s`` or → steps, ``b`` or ← steps back,
    ``t`` runs to the next trap (or VM exit), space runs or pauses.

    Given a :class:`~vkernel.hv.VM`, the view runs the VM's loop (the hypervisor handles
    each VM exit, which counts as a step, as in ``VM.run``), shows the vCPU's virtual
    CSRs beside the machine's real ones (``vm.virtual_csrs()``: the guest's view of its
    supervisor CSRs), and steps back by restoring the hypervisor's Python state with the
    machine's.

    >>> import vkernel
    >>> m = vkernel.Machine(ram_mb=1)
    >>> _ = m.load(vkernel.assemble("li a0, 7\\n1: addi a0, a0, -1\\nbnez a0, 1b\\nebreak"))
    >>> view = MachineView(m, checkpoint_every=4)
    >>> view.goto(9); view.step, view.register("a0")
    (9, 3)
    >>> view.goto(2); view.step, view.furthest
    (2, 9)
    """

    _esm = ASSETS / "machine_view.js"
    _css = ASSETS / "vkernel.css"

    step = traitlets.Int(0).tag(sync=True)  # machine.steps: instructions retired + traps
    instret = traitlets.Int(0).tag(sync=True)  # instructions retired: a trace's step number
    first = traitlets.Int(0).tag(sync=True)  # the slider's range: first..furthest
    furthest = traitlets.Int(0).tag(sync=True)
    pc = traitlets.Unicode("").tag(sync=True)
    mode = traitlets.Unicode("").tag(sync=True)
    regs = traitlets.Bytes(b"").tag(sync=True)  # x0..x31, 32 little-endian uint64
    changed = traitlets.List(traitlets.Unicode()).tag(sync=True)  # names the action changed
    csrs = traitlets.List().tag(sync=True)  # [name, hex, changed]
    disasm = traitlets.List().tag(sync=True)  # [address hex, text, is the pc]
    console = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)
    halted = traitlets.Bool(False).tag(sync=True)  # the last run ended other than by budget
    vcsrs = traitlets.List().tag(sync=True)  # a VM's vCPU, the guest's view: [name, text, changed]
    vcsr_title = traitlets.Unicode("").tag(sync=True)  # what those are

    _KWARGS = ("window", "checkpoint_every", "run_slice")
    LINK_TRAIT = "instret"
    COMMANDS = ("step", "back", "trap", "reset", "goto", "run")

    def __init__(self, machine: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self.vm = machine if _is_vm(machine) else None
        if self.vm is not None:
            machine = self.vm.machine
            self._hv_state = _HypervisorState(self.vm)
            self._watch_exits()
        self.machine = machine
        self.window = int(kwargs.get("window", 8))
        # a VM's checkpoints also save the hypervisor's state, and its machine's RAM is
        # larger: take them further apart (replaying 10,000 steps takes milliseconds)
        self.checkpoint_every = int(kwargs.get("checkpoint_every",
                                               1000 if self.vm is None else 10_000))
        self.run_slice = float(kwargs.get("run_slice", 0.1))
        if self.window < 1 or self.checkpoint_every < 1 or self.run_slice <= 0:
            raise ValueError("window, checkpoint_every and run_slice must be positive")
        # checkpoints copy RAM: hold at most ~256 MiB of them (and at least 4)
        self.max_checkpoints = max(4, (256 << 20) // machine.mem.size)
        self._checkpoints = {self._now(): self._save()}
        self._instret_at = {self._now(): machine.hart.instret}  # of each checkpoint
        self._last_regs: list[int] = list(machine.hart.x.tolist())
        self._last_csrs: dict[str, int] = self._csr_values()
        self._last_vcsrs: dict[str, int] = self._vcsr_values()
        self.first = self.furthest = self._now()
        self.on_msg(self._on_msg)
        self._refresh(first=True)

    # --- a machine, or a VM's ---------------------------------------------------------------
    def _now(self) -> int:
        """Steps taken: the machine's, and with a VM the exits its hypervisor handled
        (``vm.steps``, what ``VM.run``'s budget counts)."""
        vm = self.vm
        if vm is not None and isinstance(getattr(type(vm), "steps", None), property):
            return vm.steps
        return self.machine.steps

    def _run(self, n: int) -> Any:
        """Run ``n`` steps: the machine's run, or the VM's loop (an Exit or a VMResult)."""
        if self.vm is not None:
            return self.vm.run(max_steps=n)
        return self.machine.run(max_steps=n, progress=False)

    def _save(self) -> Any:
        snap = self.machine.snapshot()
        return snap if self.vm is None else (snap, self._hv_state.save())

    def _restore(self, saved: Any) -> None:
        if self.vm is None:
            self.machine.restore(saved)
            return
        self.machine.restore(saved[0])
        self._hv_state.restore(saved[1])

    def _watch_exits(self) -> None:
        """Note each VM exit the hypervisor handles (for the status line and "to next
        trap"): the technique's ``handle``, wrapped on this instance."""
        self._exits_seen, self._last_exit = 0, None
        tech = self.vm.technique
        handle = type(tech).handle.__get__(tech)

        def handled(exit: Any) -> bool:
            self._exits_seen += 1
            # binary translation's callouts are ebreaks at sites it knows (until chained)
            callout = exit.cause == 3 and exit.pc in getattr(tech, "callouts", ())
            self._last_exit = (exit, callout)
            return handle(exit)

        tech.handle = handled

    # --- actions ------------------------------------------------------------------------
    def do(self, cmd: str, n: int = 1) -> None:
        """What the buttons do: ``"step"`` (n steps), ``"back"`` (n steps back),
        ``"trap"`` (run to the next trap or exit), ``"reset"`` (back to the first
        checkpoint), ``"goto"`` (to step n), ``"run"`` (one slice of a run)."""
        m = self.machine
        exits = getattr(self, "_exits_seen", 0)
        if cmd == "step":
            self._forward(int(n))
        elif cmd == "back":
            self._goto(max(self._now() - int(n), self.first))
        elif cmd == "trap":  # a trap taken in the machine, or a VM exit
            traps = m.counters["traps"]
            for _ in range(10_000):
                ex = self._forward(1)
                if m.counters["traps"] != traps or ex.reason != "budget" \
                        or getattr(self, "_exits_seen", 0) != exits:
                    break
        elif cmd == "reset":
            self._goto(self.first)
        elif cmd == "goto":
            self._goto(max(int(n), self.first))
        elif cmd == "run":
            self._run_slice()
        else:
            raise ValueError(f"unknown command {cmd!r}; the commands are "
                             f"{', '.join(self.COMMANDS)}")
        if self.vm is not None and self._exits_seen != exits and not self.halted:
            self.status = self._exit_words(self._exits_seen - exits)
        self._refresh()

    def _exit_words(self, n: int) -> str:
        """The VM exits the last action went through, for the status line."""
        ex, callout = self._last_exit
        where = f" from {ex.from_mode.name}" if ex.from_mode is not None else ""
        if callout:
            what = f"callout{where}"
        elif ex.cause is not None:
            what = f"VM exit{where}: {short_cause(ex.cause)}"
        else:
            what = "VM exit"
        if n > 1:
            return f"{n:,} VM exits handled by the hypervisor; the last: {what}"
        return f"{what}, handled by the hypervisor"

    def goto(self, step: int) -> None:
        """Move the machine to ``step``: back by checkpoint and replay, forwards by
        running (never before the first step the view saw)."""
        self.do("goto", step)

    def show(self, step: int) -> None:
        """Go to the moment a trace calls ``step``: ``step`` instructions retired, before
        any trap that comes at it (a Step then takes the trap). This is where a linked
        :class:`RingTimeline` sends the view."""
        m = self.machine
        step = int(step)
        if m.hart.instret >= step:  # back: from the last checkpoint before it
            start = max((s for s, n in self._instret_at.items() if n < step),
                        default=self.first)
            self._restore(self._checkpoints[start])
        # each run's budget counts traps too: run again until enough have retired
        while m.hart.instret < step:
            ex = self._forward(step - m.hart.instret)
            if ex is None or ex.reason != "budget":
                break
        self._refresh()

    def register(self, name: str) -> int:
        """A register's value as the view shows it (``"a0"``, ``"x10"``...)."""
        return self.machine.hart.x[name]

    def _forward(self, n: int):  # noqa: ANN202 - an Exit (a VMResult for a VM)
        m = self.machine
        ex = None
        left = n
        while left > 0:
            # stop at each checkpoint boundary so that reverse steps stay short
            now = self._now()
            edge = self.checkpoint_every - now % self.checkpoint_every
            before = now
            ex = self._run(min(left, edge))
            now = self._now()
            left -= now - before
            if now % self.checkpoint_every == 0 and now not in self._checkpoints:
                self._checkpoints[now] = self._save()
                self._instret_at[now] = m.hart.instret
                self._thin()
            if ex.reason != "budget" or now == before:
                break
        self.halted = ex is not None and ex.reason != "budget"
        self.status = _describe(ex)
        return ex

    def _run_slice(self) -> None:
        """Run for about ``run_slice`` seconds, in growing chunks."""
        deadline = time.perf_counter() + self.run_slice
        chunk = 1000
        while time.perf_counter() < deadline:
            ex = self._forward(chunk)
            if ex is None or ex.reason != "budget":
                break
            chunk = min(chunk * 2, 1 << 20)

    def _thin(self) -> None:
        """Each checkpoint copies all of RAM: past the memory budget, keep every other one
        (the first always) and space new ones twice as far. A step back then replays
        more steps, which the core does at tens of millions a second."""
        if len(self._checkpoints) <= self.max_checkpoints:
            return
        steps = sorted(self._checkpoints)
        keep = {steps[0], *steps[2::2]}
        self._checkpoints = {s: snap for s, snap in self._checkpoints.items() if s in keep}
        self._instret_at = {s: n for s, n in self._instret_at.items() if s in keep}
        self.checkpoint_every *= 2

    def _goto(self, target: int) -> None:
        """Restore the last checkpoint at or before ``target`` and replay up to it. When
        the target is ahead, run on from here if that is shorter, or if the machine is
        recording a trace (restoring a later checkpoint would leave a gap in it)."""
        m = self.machine
        start = max(s for s in self._checkpoints if s <= target)
        now = self._now()
        if now <= target and (start <= now or m.tracing):
            self._forward(target - now)
            return
        self._restore(self._checkpoints[start])
        self._forward(target - start)
        self.status = f"at step {self._now()}"

    # --- state for the front end ----------------------------------------------------------
    def _csr_values(self) -> dict[str, int]:
        csr = self.machine.hart.csr
        names = SHOWN_CSRS
        if self.vm is not None and self.vm.technique_name == "hardware":
            names += HYPERVISOR_CSRS
        return {name: csr[name] for name in names}

    def _vcsr_values(self) -> dict[str, int]:
        """A VM's vCPU as the guest sees it (nothing for a bare machine)."""
        return {} if self.vm is None else dict(self.vm.virtual_csrs())

    def _vcsr_text(self, name: str, value: int) -> str:
        if name == "mode":  # the vCPU's virtual privilege mode
            return f"{value:#x} ({MODE.get(value, '?')})"
        return f"{value:#x}"

    def _refresh(self, first: bool = False) -> None:
        m = self.machine
        regs = m.hart.x.tolist()
        csrs = self._csr_values()
        self.changed = [] if first else [ABI_NAMES[i] for i in range(32)
                                         if regs[i] != self._last_regs[i]]
        self.csrs = [[n, f"{v:#x}", not first and v != self._last_csrs[n]]
                     for n, v in csrs.items()]
        self._last_regs, self._last_csrs = regs, csrs
        if self.vm is not None:
            vcsrs = self._vcsr_values()
            self.vcsrs = [[n, self._vcsr_text(n, v),
                           not first and v != self._last_vcsrs.get(n, v)]
                          for n, v in vcsrs.items()]
            self._last_vcsrs = vcsrs
            self.vcsr_title = (
                "the guest's view: its VS CSRs (vsstatus, vsepc...), which the hart uses "
                "in place of the S ones while V=1"
                if self.vm.technique_name == "hardware" else
                "the guest's view: what the hypervisor keeps for its vCPU, in Python (its "
                "virtual CSRs and virtual mode); the machine runs the guest in U")
        self.regs = np.asarray(regs, dtype="<u8").tobytes()
        self.pc = f"{m.hart.pc:#x}"
        self.mode = m.hart.mode.name
        self.furthest = max(self.furthest, self._now())
        self.instret = m.hart.instret
        self.step = self._now()
        self.console = (self.vm.console if self.vm is not None else m.console)[-2000:]
        self.disasm = self._disassembly()

    def _physical(self, va: int) -> int | None:
        """Where the hart would fetch ``va`` from: an Sv39 walk in Python that, unlike the
        core's, touches no TLB, counter or trace (None when unmapped). In VS or VU mode
        the walk has two stages, as the H extension's: vsatp's tables (whose entries and
        leaves are guest physical) and the hypervisor's G-stage (hgatp, Sv39x4)."""
        m = self.machine
        csr = m.hart.csr
        mode = m.hart.mode.name
        if mode in ("VS", "VU"):
            hgatp = csr["hgatp"]

            def gstage(gpa: int | None) -> int | None:
                if gpa is None or hgatp >> 60 != 8:
                    return gpa
                return self._walk(lambda a: a, (hgatp & ((1 << 44) - 1)) << 12, gpa, 11)

            vsatp = csr["vsatp"]
            if vsatp >> 60 != 8:
                return gstage(va)
            return gstage(self._walk(gstage, (vsatp & ((1 << 44) - 1)) << 12, va, 9))
        satp = csr["satp"]
        if mode == "M" or satp >> 60 != 8:
            return va
        pa = self._walk(lambda a: a, (satp & ((1 << 44) - 1)) << 12, va, 9)
        if pa is None and self.vm is not None:
            # under a software technique satp is the hypervisor's shadow, filled only as
            # the guest faults: read through the guest's own tables instead
            return self._guest_physical(va)
        return pa

    def _guest_physical(self, va: int) -> int | None:
        """A VM's ``va`` through the guest's own page tables (its virtual satp) and the
        hypervisor's p2m (``vm.memory``), to a machine address."""
        memory = getattr(self.vm, "memory", None)
        satp = self._vcsr_values().get("satp", 0)
        if memory is None:
            return None

        def machine(gpa: int | None) -> int | None:
            return memory.machine_address(gpa) if gpa is not None and gpa in memory \
                else None

        if satp >> 60 != 8:
            return machine(va)
        return machine(self._walk(machine, (satp & ((1 << 44) - 1)) << 12, va, 9))

    def _walk(self, where: Any, table: int | None, va: int, top_bits: int) -> int | None:
        """A three-level Sv39 walk from ``table`` (``top_bits`` index bits at the root: 9,
        or 11 for Sv39x4); ``where`` turns each table address into a machine one."""
        mem = self.machine.mem
        for level in (2, 1, 0):
            bits = top_bits if level == 2 else 9
            entry = None if table is None \
                else where(table + ((va >> (12 + 9 * level)) & ((1 << bits) - 1)) * 8)
            if entry is None:
                return None
            try:
                pte = mem.read_u64(entry)
            except Exception:
                return None
            if not pte & 1:
                return None
            if pte & 0xA:  # R or X: a leaf
                size = 12 + 9 * level
                return ((pte >> 10 << 12) & ~((1 << size) - 1)) | (va & ((1 << size) - 1))
            table = (pte >> 10) << 12
        return None

    def _disassembly(self) -> list[list[Any]]:
        """Instructions from the pc on, read where the hart would fetch them."""
        m = self.machine
        pc = m.hart.pc
        out = []
        addr = pc
        for _ in range(self.window):
            pa = self._physical(addr)
            try:
                data = m.mem.read(pa, 4) if pa is not None else b""
            except Exception:  # outside RAM (or the last bytes of it)
                data = b""
            if len(data) < 2:
                break
            insn = decode_one(data, 0, addr)
            out.append([f"{addr:#x}", str(insn), addr == pc])
            addr += insn.size
        return out

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        cmd = content.get("cmd")
        if cmd in self.COMMANDS:
            self.do(cmd, int(content.get("n", 1)))
            # the answer: Run asks for the next slice until halted, the slider for the
            # position it wants by then
            self.send({"cmd": cmd, "halted": self.halted})


# --- RingTimeline -----------------------------------------------------------------------------
# Lane names. x86 has no mode for RISC-V's M (firmware's level; SMM is the nearest thing),
# and with the H extension the host's levels are VMX root and the guest's non-root.
RISCV_NAMES = {"M": "M", "S": "S", "U": "U", "VS": "VS", "VU": "VU"}
X86_NAMES = {"M": "M (≈ SMM)", "S": "ring 0", "U": "ring 3", "VS": "non-root ring 0",
             "VU": "non-root ring 3"}
# a trace with guests in VS/VU: S with V=0 is HS, the hypervisor's (VMX root), U the host's
HOST_NAMES = {"riscv": {"S": "HS", "U": "U"}, "x86": {"S": "root ring 0", "U": "root ring 3"}}
# under a software technique (trap-and-emulate, binary translation, paravirt) the machine
# runs the whole guest in U and the hypervisor owns M (on x86: the VMM in ring 0)
SOFTWARE_NAMES = {"riscv": {"M": "M (hypervisor)", "U": "U (guest)"},
                  "x86": {"M": "ring 0 (VMM)", "U": "ring 3 (guest)"}}
MODE_TITLES = {"M": "machine mode: firmware, owns the whole machine",
               "S": "supervisor mode: the operating system kernel",
               "U": "user mode: applications",
               "VS": "virtual supervisor: a guest kernel under a hypervisor",
               "VU": "virtual user: a guest's applications"}
HOST_TITLES = {"S": "HS-mode (S with V=0): the hypervisor's level. vkernel's hypervisor is "
                    "Python (vkernel.hv), so no instruction retires here: its work happens "
                    "between two steps of the guest, drawn at the step it interrupted",
               "U": "user mode with V=0: the host's applications (none here)"}
SOFTWARE_TITLES = {"M": "machine mode, which the hypervisor owns: every trap of the guest "
                        "comes here (vkernel.hv, in Python: its work happens between two "
                        "steps of the guest)",
                   "U": "user mode: the whole guest, its kernel deprivileged (it believes "
                        "it runs in S) and its programs"}
LANE_ORDER = ("M", "S", "VS", "VU", "U")  # most privileged on top, a guest's under its host


def _host_level(ds: Any) -> str | None:
    """The mode a trace's VM exits go to ("S": HS, with the H extension; "M" under the
    software techniques), None for a trace of no virtual machine: the level the hv rows
    recorded (the one most of them say, should a host mix techniques), else (a trace of
    schema 2) the technique's."""
    if "hv_level" in ds:
        level = ds["hv_level"].values
        counts = np.bincount(level[level != NO_MODE], minlength=8)
        if counts.any():
            return MODE[int(np.argmax(counts))]
    technique = ds.attrs.get("technique", "native")
    if technique == "hardware":
        return "S"
    return None if technique == "native" else "M"


NEUTRAL = "var(--jp-ui-font-color2, #666)"  # returns and jumps: the theme's grey


def _cause_colour(kind: str, cause: int) -> str:
    """One colour per group of causes (:data:`vkernel.plots.CAUSE_COLOURS`, none of them a
    lane's); the arrow's label says the cause in words, so colour is never the only cue."""
    if kind == "return":
        return NEUTRAL  # readable on both themes
    code = cause & ~(1 << 63)
    if kind == "interrupt":
        return CAUSE_COLOURS["interrupt"]
    if code == 8:
        return CAUSE_COLOURS["system call"]  # from user programs
    if code in (9, 10, 11):
        return CAUSE_COLOURS["call down"]  # to firmware or a hypervisor (SBI, hypercalls)
    if code in (12, 13, 15, 20, 21, 23):
        return CAUSE_COLOURS["page fault"]
    return CAUSE_COLOURS["instruction"]  # illegal / virtual instruction, access faults...


def _exit_colour(kind: str, cause: int, handled: str) -> str:
    """A VM exit's colour, by what it was for, in the groups of :func:`_cause_colour`."""
    did = set(handled.split())
    if kind == "callout" and not did & {"sbi_call", "hypercall"}:
        return CAUSE_COLOURS["instruction"] if cause else NEUTRAL  # emulate / jump
    if did & {"sbi_call", "hypercall"}:
        return CAUSE_COLOURS["call down"]
    if cause >> 63:
        return _cause_colour("interrupt", cause)
    if did & {"shadow_update", "mmio"} or cause in (12, 13, 15, 20, 21, 23):
        return CAUSE_COLOURS["page fault"]
    if cause == 8:
        return CAUSE_COLOURS["system call"]  # a program's system call, reflected
    return CAUSE_COLOURS["instruction"]


class RingTimeline(anywidget.AnyWidget):
    """Privilege levels over time: one lane per level (most privileged on top), the
    time spent in each, and an arrow for every transition, coloured and labelled by
    its cause (``ecall from U``, ``S timer``, ``store page fault``, ``sret``...).

    ``source`` is a trace Dataset, a :class:`~vkernel.Machine` that records the ``step``
    and ``trap`` families (its trace is read now; :meth:`refresh` reads it again), or a
    :class:`~vkernel.hv.VM` (its machine's trace). A virtual machine's trace with the
    ``hv`` family also shows the hypervisor at work: each VM exit (and binary
    translation's callout) goes from the guest's lane to the hypervisor's and back, at
    the step it interrupted (``ds.vk.vm_exits()``). ``names`` is ``"riscv"`` or
    ``"x86"`` (ring 3, ring 0; root and non-root). In the view: the wheel (or +/− with
    the pointer over the plot) zooms around the pointer, +/− elsewhere around the cursor;
    dragging or ←/→ pans, clicking an arrow (or ``n``/``p``: next, previous) moves the
    cursor there, and every view linked with :func:`link`.

    Zoomed out, when more than ``max_marks`` transitions (or exits) are in view, those of
    one kind within one of ``mark_bins`` slices of the view are sent as one bundle (a
    count and the last step on the row) and drawn as one thicker arrow: the view opens on
    the whole run's marks, and zooming in splits them until each stands for one.

    >>> import vkernel
    >>> guest = vkernel.assemble('''
    ...     la t0, user; csrw mepc, t0; la t0, trap; csrw mtvec, t0; csrw mstatus, zero
    ...     mret                           # to user mode (mstatus.MPP = U)
    ... user: ecall                        # back to machine mode
    ... trap: j trap''')
    >>> m = vkernel.Machine(ram_mb=1, trace="all")
    >>> _ = m.load(guest)
    >>> _ = m.run(max_steps=12)
    >>> tl = RingTimeline(m)
    >>> tl.transitions[["step", "from_mode", "to_mode", "label"]].values.tolist()
    [[8, 'M', 'U', 'mret'], [8, 'U', 'M', 'ecall from U']]
    """

    _esm = ASSETS / "ring_timeline.js"
    _css = ASSETS / "vkernel.css"

    names = traitlets.Unicode("riscv").tag(sync=True)
    lanes = traitlets.List().tag(sync=True)  # [mode, label, colour, title], top lane first
    first = traitlets.Int(0).tag(sync=True)  # recorded steps: first .. end - 1
    end = traitlets.Int(0).tag(sync=True)
    view = traitlets.List(traitlets.Float(), default_value=[0.0, 1.0]).tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)  # the cursor; -1: none yet
    # [label, colour, count, style]: style "arrow" (a transition), "exit" or "callout"
    legend = traitlets.List().tag(sync=True)
    # what is in view, as float64 rows: (start, end, lane) mode segments; or, zoomed out
    # past max_segments, the view's lo and hi then lanes x bins of the share of each bin
    # spent in each lane
    segments = traitlets.Bytes(b"").tag(sync=True)
    density = traitlets.Bytes(b"").tag(sync=True)
    # (step, from lane, to lane, legend index, cursor): the cursor a click gives is the
    # moment before the transition: the step of a trap, the one before for a return
    marks = traitlets.Bytes(b"").tag(sync=True)
    # VM exits: (step, guest's lane, hypervisor's lane, lane re-entered or -1, legend
    # index); a click puts the cursor on the step, the moment before the exit
    exits = traitlets.Bytes(b"").tag(sync=True)
    # both mark buffers end each row with (count, last step): count > 1 is a bundle
    # nothing in view: the steps of the nearest transition or exit before and after (-1:
    # none), for the arrows at the view's edges that lead to them
    nearby = traitlets.List(traitlets.Float(), default_value=[-1.0, -1.0]).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    _KWARGS = ("names", "max_marks", "max_segments", "bins", "mark_bins")
    LINK_TRAIT = "step"

    def __init__(self, source: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self.source = source
        self.max_marks = int(kwargs.get("max_marks", 400))
        self.max_segments = int(kwargs.get("max_segments", 4000))
        self.bins = int(kwargs.get("bins", 600))
        self.mark_bins = int(kwargs.get("mark_bins", 150))
        if min(self.max_marks, self.max_segments, self.bins, self.mark_bins) < 1:
            raise ValueError("max_marks, max_segments, bins and mark_bins must be positive")
        self.names = kwargs.get("names", "riscv")
        self.on_msg(self._on_msg)
        self.refresh()

    @traitlets.validate("names")
    def _valid_names(self, proposal: Any) -> str:
        if proposal["value"] not in ("riscv", "x86"):
            raise traitlets.TraitError(f"names must be 'riscv' or 'x86', not "
                                       f"{proposal['value']!r}")
        return proposal["value"]

    def refresh(self) -> None:
        """Read the trace again (from the machine, if the source is one)."""
        ds = self.source
        if _is_vm(ds):
            ds = ds.machine
        if hasattr(ds, "trace_dataset"):
            if not ds.tracing:
                raise ValueError("RingTimeline needs a recording machine: "
                                 "machine.trace('step', 'trap') before running it")
            ds = ds.trace_dataset()
        self.transitions = ds.vk.transitions()  # checks the families are there
        self.vm_exits = ds.vk.vm_exits() if "hv" in ds.dims else None
        steps = ds["step"].values
        mode = ds["step_mode"].values
        self._host = _host_level(ds)
        tr = self.transitions
        used = {MODE[int(v)] for v in np.unique(mode)} | set(tr["from_mode"].unique()) \
            | set(tr["to_mode"].unique())
        if self._host is None:  # U, S and M always, and the virtual modes in use
            order = [m for m in LANE_ORDER if m in set(mode_names(np.unique(mode))) | used]
        else:  # a virtual machine: the levels it used, and its hypervisor's
            order = [m for m in LANE_ORDER if m in used | {self._host}]
        lane = {name: i for i, name in enumerate(order)}
        value_lane = np.zeros(8, np.int64)
        for value, name in MODE.items():
            value_lane[value] = lane.get(name, 0)
        self._order = order
        # mode segments: run-length encoding of the step family's mode column
        cut = np.flatnonzero(mode[1:] != mode[:-1]) + 1
        starts = np.concatenate([[0], cut]).astype(np.int64)
        self._seg_start = steps[starts].astype(np.float64) if steps.size else np.zeros(0)
        self._seg_end = np.append(self._seg_start[1:], steps[-1] + 1.0) if steps.size \
            else np.zeros(0)
        self._seg_lane = value_lane[mode[starts]].astype(np.float64) if steps.size \
            else np.zeros(0)
        # lane residency before each segment, for the zoomed-out summary
        lengths = self._seg_end - self._seg_start
        self._cum = np.zeros((len(order), self._seg_start.size + 1))
        for i in range(len(order)):
            np.cumsum(np.where(self._seg_lane == i, lengths, 0), out=self._cum[i, 1:])
        # the arrows: traps and returns (a VM trace's exits and entries are drawn apart)
        arrows = tr[tr["kind"].isin(("exception", "interrupt", "return")).to_numpy()]
        step = arrows["step"].to_numpy(np.float64)
        legend: dict[str, list[Any]] = {}
        index = np.zeros(len(arrows))
        for i, (label, kind, cause) in enumerate(zip(arrows["label"], arrows["kind"],
                                                     arrows["cause"], strict=True)):
            colour = _cause_colour(kind, 0 if kind == "return" else int(cause))
            entry = legend.setdefault(label, [label, colour, 0, "arrow", len(legend)])
            entry[2] += 1
            index[i] = entry[4]
        self._marks = np.column_stack([
            step,
            value_lane[[_MODE_VALUE[m] for m in arrows["from_mode"]]].astype(np.float64),
            value_lane[[_MODE_VALUE[m] for m in arrows["to_mode"]]].astype(np.float64),
            index,
            step - (arrows["kind"] == "return").to_numpy()]) if len(arrows) \
            else np.zeros((0, 5))
        self._exits = self._exit_marks(lane, legend)
        self.legend = [e[:4] for e in legend.values()]
        # where n/p go: before each transition, and each VM exit
        self._cursors = np.unique(np.concatenate([self._marks[:, 4], self._exits[:, 0]]))
        self.first = int(steps[0]) if steps.size else 0
        self.end = int(steps[-1]) + 1 if steps.size else 0
        self._lanes()
        self.view = [float(self.first), float(max(self.end, self.first + 1))]
        self._window()

    def _exit_marks(self, lane: dict[str, int], legend: dict[str, list[Any]]) -> np.ndarray:
        """(step, guest's lane, hypervisor's lane, lane re-entered or -1, legend index)
        for each VM exit; their legend entries are added to ``legend``."""
        ex = self.vm_exits
        if ex is None or not len(ex):
            return np.zeros((0, 5))
        # by label (a few kinds among perhaps a million exits: no loop over the exits)
        codes, labels = pd.factorize(ex["label"])
        _, first = np.unique(codes, return_index=True)
        counts = np.bincount(codes, minlength=len(labels))
        entry_of = np.zeros(len(labels))
        for k, label in enumerate(labels):
            i = int(first[k])
            kind = ex["kind"].iat[i]
            entry = legend.setdefault(label, [
                label, _exit_colour(kind, int(ex["cause"].iat[i]), ex["handled"].iat[i]), 0,
                "callout" if kind == "callout" else "exit", len(legend)])
            entry[2] += int(counts[k])
            entry_of[k] = entry[4]

        def lanes(column: str) -> np.ndarray:
            which, modes = pd.factorize(ex[column])  # missing (never re-entered): -1
            lane_of = np.array([lane.get(m, 0) for m in modes] + [-1], np.float64)
            return lane_of[which]

        return np.column_stack([ex["step"].to_numpy(np.float64), lanes("from_mode"),
                                lanes("host_mode"), lanes("to_mode"), entry_of[codes]])

    @traitlets.observe("names")
    def _lanes(self, _change: Any = None) -> None:
        if not hasattr(self, "_order"):
            return
        words = X86_NAMES if self.names == "x86" else RISCV_NAMES
        label, title = dict(words), dict(MODE_TITLES)
        if self._host == "M":  # a software technique: the hypervisor owns M
            label.update(SOFTWARE_NAMES[self.names])
            title.update(SOFTWARE_TITLES)
        elif self._host == "S" or any(m in ("VS", "VU") for m in self._order):
            # with guests about, the host's levels get their H-extension names
            label.update(HOST_NAMES[self.names])
            title.update(HOST_TITLES)
        self.lanes = [[m, label[m], MODE_COLOURS[m], title[m]] for m in self._order]

    @traitlets.observe("view")
    def _view_moved(self, _change: Any) -> None:
        if hasattr(self, "_cum"):
            self._window()

    def _window(self) -> None:
        """Send what lies in ``view``: segments (or their per-bin summary) and arrows."""
        lo, hi = self.view
        i0 = int(np.searchsorted(self._seg_end, lo, "right"))
        i1 = int(np.searchsorted(self._seg_start, hi, "left"))
        notes: list[str] = []
        if i1 - i0 <= self.max_segments:
            rows = np.column_stack([self._seg_start[i0:i1], self._seg_end[i0:i1],
                                    self._seg_lane[i0:i1]])
            segments, density = rows.astype("<f8").tobytes(), b""
        else:
            # the bins' own range first: the front end may have moved on meanwhile
            summary = np.concatenate([[lo, hi], self._density(lo, hi).ravel()])
            segments, density = b"", summary.astype("<f8").tobytes()
        # what happens at the trace's end (the exit that shut a guest down) is in view
        # with the end
        side = "right" if hi >= self.end else "left"
        steps, at = self._marks[:, 0], self._exits[:, 0]
        t0 = int(np.searchsorted(steps, lo, "left"))
        t1 = int(np.searchsorted(steps, hi, side))
        e0, e1 = int(np.searchsorted(at, lo, "left")), int(np.searchsorted(at, hi, side))
        # a mark row is (its columns..., count, last step): one transition or exit (count
        # 1), or, where more are in view than max_marks, a bundle of those of one kind in
        # one of mark_bins slices of the view, drawn where its first one is
        marks = self._bundle(self._marks[t0:t1], lo, hi, key=(1, 2, 3))
        exits = self._bundle(self._exits[e0:e1], lo, hi, key=(1, 2, 3, 4))
        bundled = [f"{n:,} {what}" for n, what, rows in (
            (t1 - t0, "transitions", marks), (e1 - e0, "VM exits", exits))
            if len(rows) and rows[:, -2].max() > 1]
        if bundled:
            notes.append(f"{' and '.join(bundled)} in view, those close together drawn as "
                         "one (×n): zoom in to see each one")
        # nothing in view: where the nearest ones are, for arrows at the view's edges
        nearby = [-1.0, -1.0]
        if t0 == t1 and e0 == e1:
            before = [a[i - 1] for a, i in ((steps, t0), (at, e0)) if i > 0]
            after = [a[i] for a, i in ((steps, t1), (at, e1)) if i < a.size]
            nearby = [float(max(before)) if before else -1.0,
                      float(min(after)) if after else -1.0]
        with self.hold_sync():
            self.segments, self.density = segments, density
            self.marks = marks.astype("<f8").tobytes()
            self.exits = exits.astype("<f8").tobytes()
            self.nearby = nearby
            self.note = "; ".join(notes)

    def _bundle(self, rows: np.ndarray, lo: float, hi: float,
                key: tuple[int, ...]) -> np.ndarray:
        """``rows`` (sorted by step) with a count and a last step appended: each row on
        its own if there are at most ``max_marks``, else one row per slice of the view
        (``mark_bins`` of them) and kind (the ``key`` columns: lanes and legend index),
        carrying its first row's columns."""
        if len(rows) <= self.max_marks:
            return np.column_stack([rows, np.ones(len(rows)), rows[:, 0]])
        width = max(hi - lo, 1.0) / self.mark_bins
        slot = np.clip((rows[:, 0] - lo) // width, 0, self.mark_bins - 1)
        groups = np.column_stack([slot, rows[:, list(key)]])
        _, first, which, count = np.unique(groups, axis=0, return_index=True,
                                           return_inverse=True, return_counts=True)
        last = np.full(len(first), -np.inf)
        np.maximum.at(last, which.ravel(), rows[:, 0])
        order = np.argsort(first, kind="stable")  # by step, as single marks are
        return np.column_stack([rows[first], count, last])[order]

    def _density(self, lo: float, hi: float) -> np.ndarray:
        """lanes x bins: the share of each bin's steps spent in each lane."""
        edges = np.linspace(lo, hi, self.bins + 1)
        k = np.clip(np.searchsorted(self._seg_start, edges, "right") - 1, 0, None)
        inside = np.clip(edges - self._seg_start[k], 0,
                         self._seg_end[k] - self._seg_start[k])
        out = np.zeros((len(self._order), self.bins))
        for i in range(len(self._order)):
            before = self._cum[i, k] + np.where(self._seg_lane[k] == i, inside, 0)
            out[i] = np.diff(before)
        width = np.diff(edges)
        return out / np.where(width > 0, width, 1)

    # --- moving ---------------------------------------------------------------------------
    def goto(self, step: int) -> None:
        """Put the cursor on ``step`` (linked views follow), scrolling the view to it if
        it is outside."""
        step = int(step)
        lo, hi = self.view
        if not lo <= step < hi:
            half = (hi - lo) / 2
            self.view = [step - half, step + half]
        self.step = step

    show = goto  # what a link calls

    def zoom(self, lo: float, hi: float) -> None:
        """Show steps ``lo`` to ``hi``."""
        if not hi > lo:
            raise ValueError(f"zoom needs lo < hi, not {lo}, {hi}")
        self.view = [float(lo), float(hi)]

    def next(self, direction: int = 1) -> int | None:
        """Move the cursor to just before the next transition or VM exit
        (``direction=-1``: the previous one); returns the cursor's step, None at either
        end."""
        here, cursors = self.step, self._cursors
        if direction > 0:
            i = int(np.searchsorted(cursors, here, "right"))
        else:
            i = int(np.searchsorted(cursors, here, "left")) - 1
        if not 0 <= i < cursors.size:
            return None
        self.goto(int(cursors[i]))
        return self.step

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        cmd = content.get("cmd")
        if cmd == "next":
            self.next(int(content.get("direction", 1)))
        elif cmd == "goto":
            self.goto(int(content["step"]))


# --- linking --------------------------------------------------------------------------------
class Link:
    """Views kept on the same step (made by :func:`link`). The step is the trace's: the
    number of instructions retired; each view names the trait that holds it
    (``LINK_TRAIT``) and moves with ``show(step)``."""

    def __init__(self, views: tuple[Any, ...]) -> None:
        self.views = views
        self._busy = False
        for v in views:
            v.observe(self._moved, names=v.LINK_TRAIT)

    def _moved(self, change: Any) -> None:
        if self._busy or change["new"] < 0:
            return
        self._busy = True  # the views we move must not move us back
        try:
            for v in self.views:
                if v is not change["owner"] and getattr(v, v.LINK_TRAIT) != change["new"]:
                    v.show(change["new"])
        finally:
            self._busy = False

    def unlink(self) -> None:
        for v in self.views:
            v.unobserve(self._moved, names=v.LINK_TRAIT)


def link(*views: Any) -> Link:
    """Keep views on one step: clicking a transition in a :class:`RingTimeline` moves a
    linked :class:`MachineView` to just before it (press Step to watch it happen), and
    stepping the machine moves the timeline's cursor. Steps are the trace's: instructions
    retired since reset.

    >>> import vkernel
    >>> program = vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3\\nebreak")
    >>> m = vkernel.Machine(ram_mb=1, trace="all")
    >>> _ = m.load(program)
    >>> _ = m.run(max_steps=3)
    >>> tl = RingTimeline(m)
    >>> replay = vkernel.Machine(ram_mb=1)  # a second machine, stepped by the view
    >>> _ = replay.load(program)
    >>> view = MachineView(replay)
    >>> _ = link(tl, view)
    >>> tl.goto(2); view.instret, view.register("a0")
    (2, 2)
    >>> view.do("step"); tl.step
    3
    """
    if len(views) < 2:
        raise TypeError("link() needs two views or more")
    for v in views:
        if not (hasattr(v, "show") and v.has_trait(getattr(v, "LINK_TRAIT", ""))):
            raise TypeError(f"{type(v).__name__} cannot be linked: it has no step to follow")
    return Link(views)
