"""Jupyter widgets that show a machine at work (anywidget; front ends in ``widgets/``).

``MachineView(machine)`` steps a machine forwards and backwards and shows its registers
(the ones the last action changed highlighted), its CSRs, the disassembly around the pc,
its privilege mode and console. Reverse stepping restores the nearest checkpoint and
replays: the machine is deterministic, so the state it reaches is exactly the one it had.

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

from pathlib import Path
from typing import Any

import anywidget
import traitlets

from vkernel.isa.disasm import decode_one
from vkernel.isa.table import ABI_NAMES

_HERE = Path(__file__).resolve().parent
# an editable install finds the front ends in the checkout, a wheel in vkernel/_widgets
ASSETS = _HERE / "_widgets" if (_HERE / "_widgets").is_dir() else _HERE.parent / "widgets"
SHOWN_CSRS = ("mstatus", "mepc", "mcause", "mtval", "mtvec", "sstatus", "sepc", "scause",
              "stval", "stvec", "satp")


def _check_kwargs(cls: type, kwargs: dict[str, Any], valid: tuple[str, ...]) -> None:
    unknown = sorted(set(kwargs) - set(valid))
    if unknown:
        raise TypeError(f"{cls.__name__}() got unknown keyword arguments {unknown}; "
                        f"valid ones are {', '.join(valid)}")


class MachineView(anywidget.AnyWidget):
    """Step a :class:`~vkernel.Machine` forwards and backwards in a notebook.

    ``window`` is how many instructions of disassembly to show around the pc;
    ``checkpoint_every`` how many steps apart reverse stepping keeps snapshots (a step
    back replays at most that many steps). Keys in the view: ``s`` or → steps, ``b`` or ←
    steps back, ``t`` runs to the next trap.
    """

    _esm = ASSETS / "machine_view.js"
    _css = ASSETS / "vkernel.css"

    step = traitlets.Int(0).tag(sync=True)
    pc = traitlets.Unicode("").tag(sync=True)
    mode = traitlets.Unicode("").tag(sync=True)
    regs = traitlets.List(traitlets.Unicode()).tag(sync=True)  # 32 hex strings, x0..x31
    changed = traitlets.List(traitlets.Unicode()).tag(sync=True)  # names the action changed
    csrs = traitlets.List().tag(sync=True)  # [name, hex, changed]
    disasm = traitlets.List().tag(sync=True)  # [address hex, text, is the pc]
    console = traitlets.Unicode("").tag(sync=True)
    status = traitlets.Unicode("").tag(sync=True)

    _KWARGS = ("window", "checkpoint_every")

    def __init__(self, machine: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self.machine = machine
        self.window = int(kwargs.get("window", 8))
        self.checkpoint_every = int(kwargs.get("checkpoint_every", 1000))
        if self.window < 1 or self.checkpoint_every < 1:
            raise ValueError("window and checkpoint_every must be positive")
        # checkpoints copy RAM: hold at most ~256 MiB of them (and at least 4)
        self.max_checkpoints = max(4, (256 << 20) // machine.mem.size)
        self._checkpoints = {machine.steps: machine.snapshot()}
        self._last_regs: list[int] = list(machine.hart.x.tolist())
        self._last_csrs: dict[str, int] = self._csr_values()
        self.on_msg(self._on_msg)
        self._refresh(first=True)

    # --- actions ------------------------------------------------------------------------
    def do(self, cmd: str, n: int = 1) -> None:
        """What the buttons do: ``"step"`` (n steps), ``"back"`` (n steps back),
        ``"trap"`` (run to the next trap or exit), ``"reset"`` (back to the first
        checkpoint)."""
        m = self.machine
        if cmd == "step":
            self._forward(int(n))
        elif cmd == "back":
            self._goto(max(m.steps - int(n), min(self._checkpoints)))
        elif cmd == "trap":
            traps = m.counters["traps"]
            for _ in range(10_000):
                ex = self._forward(1)
                if m.counters["traps"] != traps or ex.reason != "budget":
                    break
        elif cmd == "reset":
            self._goto(min(self._checkpoints))
        else:
            raise ValueError(f"unknown command {cmd!r}")
        self._refresh()

    def _forward(self, n: int):  # noqa: ANN202 - an Exit
        m = self.machine
        ex = None
        left = n
        while left > 0:
            # stop at each checkpoint boundary so that reverse steps stay short
            edge = self.checkpoint_every - m.steps % self.checkpoint_every
            before = m.steps
            ex = m.run(max_steps=min(left, edge), progress=False)
            left -= m.steps - before
            if m.steps % self.checkpoint_every == 0 and m.steps not in self._checkpoints:
                self._checkpoints[m.steps] = m.snapshot()
                self._thin()
            if ex.reason != "budget" or m.steps == before:
                break
        self.status = repr(ex) if ex is not None else ""
        return ex

    def _thin(self) -> None:
        """Each checkpoint copies all of RAM: past the memory budget, keep every other one
        (the first always) and space new ones twice as far. A step back then replays
        more steps, which the core does at tens of millions a second."""
        if len(self._checkpoints) <= self.max_checkpoints:
            return
        steps = sorted(self._checkpoints)
        keep = {steps[0], *steps[2::2]}
        self._checkpoints = {s: snap for s, snap in self._checkpoints.items() if s in keep}
        self.checkpoint_every *= 2

    def _goto(self, target: int) -> None:
        """Restore the last checkpoint at or before ``target`` and replay up to it."""
        start = max(s for s in self._checkpoints if s <= target)
        self.machine.restore(self._checkpoints[start])
        if target > start:
            self.machine.run(max_steps=target - start, progress=False)
        self.status = f"back at step {self.machine.steps}"

    # --- state for the front end ----------------------------------------------------------
    def _csr_values(self) -> dict[str, int]:
        csr = self.machine.hart.csr
        return {name: csr[name] for name in SHOWN_CSRS}

    def _refresh(self, first: bool = False) -> None:
        m = self.machine
        regs = m.hart.x.tolist()
        csrs = self._csr_values()
        self.changed = [] if first else [ABI_NAMES[i] for i in range(32)
                                         if regs[i] != self._last_regs[i]]
        self.csrs = [[n, f"{v:#x}", not first and v != self._last_csrs[n]]
                     for n, v in csrs.items()]
        self._last_regs, self._last_csrs = regs, csrs
        self.regs = [f"{v:#018x}" for v in regs]
        self.pc = f"{m.hart.pc:#x}"
        self.mode = m.hart.mode.name
        self.step = m.steps
        self.console = m.console[-2000:]
        self.disasm = self._disassembly()

    def _physical(self, va: int) -> int | None:
        """Where the hart would fetch ``va`` from: an Sv39 walk in Python that, unlike the
        core's, touches no TLB, counter or trace (None when unmapped)."""
        m = self.machine
        satp = m.hart.csr["satp"]
        if m.hart.mode.name == "M" or satp >> 60 != 8:
            return va
        table = (satp & ((1 << 44) - 1)) << 12
        for level in (2, 1, 0):
            try:
                pte = m.mem.read_u64(table + ((va >> (12 + 9 * level)) & 0x1FF) * 8)
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
        if cmd in ("step", "back", "trap", "reset"):
            self.do(cmd, int(content.get("n", 1)))
