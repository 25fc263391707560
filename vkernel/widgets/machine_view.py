"""``MachineView``: step a machine, a VM or a host of several domains forwards and
backwards (front end ``widgets/machine_view.js``). A VM or a host steps back with the
host's own ``save``/``restore``, and the view learns of exits through its ``on_exit``
hook."""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import anywidget
import numpy as np
import traitlets

from vkernel.core import kernel as K
from vkernel.hv.pagetable import SV39, SV39X4, Scheme, walk
from vkernel.isa.disasm import decode_one
from vkernel.isa.table import ABI_NAMES
from vkernel.machine import CSRFile, MachineError, Mode, Registers
from vkernel.trace.accessor import short_cause
from vkernel.trace.schema import MODE
from vkernel.widgets._common import ASSETS, _check_kwargs, _is_domain, _is_host, _is_vm, esm

SHOWN_CSRS = ("mstatus", "mepc", "mcause", "mtval", "mtvec", "sstatus", "sepc", "scause",
              "stval", "stvec", "satp")
HYPERVISOR_CSRS = ("hstatus", "hgatp")  # shown too for a VM under the H extension
MASK64 = (1 << 64) - 1


def _who(domain: Any) -> str:
    """A domain in a few words: ``domain 2 · web (paravirt)``."""
    words = f"domain {domain.domid} · {domain.name}"
    return words if domain.technique_name == domain.name \
        else f"{words} ({domain.technique_name})"


def _describe_host(ex: Any) -> str:
    """How a host's run ended, for the status line (nothing when its steps ran out)."""
    if ex is None or ex.reason == "budget":
        return ""
    if ex.reason == "shutdown":
        return "every domain has shut down"
    if ex.reason == "idle":
        return "every domain left waits for an event nothing will send"
    return repr(ex)


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
    supervisor CSRs), and steps back with the VM's own ``save()``/``restore()`` (the
    machine and the hypervisor's state together).

    Given a :class:`~vkernel.hv.Host` (or one of its domains), the view runs the host's
    loop (``host.run``: its scheduler, world switches and every domain's exits) and shows
    one domain's vCPU, the ``domain`` trait (a domid; a dropdown in the view): while that
    domain is loaded in the hart, the machine's registers and CSRs, else its saved context
    (``domain.context``: what the last world switch saved), and in both cases its virtual
    CSRs and its console. "To next trap" also stops at a world switch; the status line
    says which domain is running.

    >>> import vkernel
    >>> m = vkernel.Machine(ram_mb=1)
    >>> _ = m.load(vkernel.assemble("li a0, 7\\n1: addi a0, a0, -1\\nbnez a0, 1b\\nebreak"))
    >>> view = MachineView(m, checkpoint_every=4)
    >>> view.goto(9); view.step, view.register("a0")
    (9, 3)
    >>> view.goto(2); view.step, view.furthest
    (2, 9)
    """

    _esm = esm("machine_view.js")
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
    csr_title = traitlets.Unicode("").tag(sync=True)  # the CSRs' panel's title ("": default)
    # a host: the domain shown (its domid), the ones to choose from ([domid, label]; a
    # dropdown when more than one), and which one is running
    domain = traitlets.Int(0).tag(sync=True)
    domain_list = traitlets.List().tag(sync=True)
    running = traitlets.Unicode("").tag(sync=True)

    _KWARGS = ("window", "checkpoint_every", "run_slice")
    LINK_TRAIT = "instret"
    COMMANDS = ("step", "back", "trap", "reset", "goto", "run")

    def __init__(self, machine: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self._ready = False
        shown = None
        if _is_domain(machine):  # one domain of a host: the host, showing that one
            shown, machine = machine.domid, machine.host
        self.vm = machine if _is_vm(machine) else None
        self.host = self.vm.host if self.vm is not None \
            else machine if _is_host(machine) else None
        if self.host is not None:
            host = self.host
            machine = host.machine
            self._exits_seen, self._last_exit = 0, None
            host.on_exit.append(self._exited)
            if shown is None:
                first = self.vm.domain if self.vm is not None else \
                    host.loaded or host.current or (host.domains[0] if host.domains else None)
                if first is None:
                    raise ValueError("MachineView needs a host with a domain: "
                                     "host.create(...) first")
                shown = first.domid
            self.domain = shown
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
        self._last_regs: list[int] = self._cpu()[0]
        self._last_csrs: dict[str, int] = self._csr_values()
        self._last_vcsrs: dict[str, int] = self._vcsr_values()
        self.first = self.furthest = self._now()
        self.on_msg(self._on_msg)
        self._ready = True
        self._refresh(first=True)

    @traitlets.validate("domain")
    def _valid_domain(self, proposal: Any) -> int:
        domid = int(proposal["value"])
        if self.host is None:
            if domid:
                raise traitlets.TraitError("a machine has no domains to choose from: "
                                           "give MachineView a Host")
            return 0
        ids = [d.domid for d in self.host.domains]
        if domid not in ids:
            raise traitlets.TraitError(f"no domain {domid} on this host; its domains are "
                                       f"{', '.join(map(str, ids))}")
        return domid

    @traitlets.observe("domain")
    def _domain_chosen(self, _change: Any) -> None:
        if self._ready:  # another vCPU: nothing to compare it with, nothing highlighted
            self._refresh(first=True)

    # --- a machine, or a VM's ---------------------------------------------------------------
    def _now(self) -> int:
        """Steps taken: the machine's, and with a VM the exits its hypervisor handled
        (``vm.steps``, what ``VM.run``'s budget counts)."""
        vm = self.vm
        if vm is not None and isinstance(getattr(type(vm), "steps", None), property):
            return vm.steps
        if self.host is not None:
            return self.host.steps
        return self.machine.steps

    def _run(self, n: int) -> Any:
        """Run ``n`` steps: the machine's run, the VM's loop or the host's (an Exit, a
        VMResult or a HostResult)."""
        if self.vm is not None:
            return self.vm.run(max_steps=n)
        if self.host is not None:
            return self.host.run(max_steps=n)
        return self.machine.run(max_steps=n, progress=False)

    def _save(self) -> Any:
        return self.machine.snapshot() if self.host is None else self.host.save()

    def _restore(self, saved: Any) -> None:
        if self.host is None:
            self.machine.restore(saved)
        else:
            self.host.restore(saved)

    def _exited(self, domain: Any, exit: Any, action: Any) -> None:
        """The host's ``on_exit`` hook: note each VM exit the hypervisor handled (for the
        status line and "to next trap")."""
        self._exits_seen += 1
        # binary translation's callouts are ebreaks at sites it knows (until chained)
        self._last_exit = (exit, getattr(domain.technique, "callout_exit", False), domain)

    def _dom(self) -> Any:
        """The domain shown (None for a bare machine)."""
        return None if self.host is None else self.host.domain(self.domain)

    def _shows_hart(self) -> bool:
        """Whether the vCPU shown is the hart's (a machine, or a domain loaded in it)."""
        return self.host is None or self.host.loaded is self._dom()

    def _saved_csrs(self) -> CSRFile:
        """The shown domain's CSRs as its saved context has them, read as the hart would
        if it were loaded (the world switch's _load: its state words and clocks)."""
        from vkernel.hv.host import VCPU_STATE

        m, ctx = self.machine, self._dom().context
        s = m._s.copy()
        s[list(VCPU_STATE)] = ctx.state
        instret = int(s[K.S_INSTRET])
        s[K.S_TIME_OFF] = ctx.clock - instret
        s[K.S_CYCLE_OFF] = ctx.cycle - instret
        s[K.S_INSTRET_OFF] = ctx.instret - instret
        return CSRFile(SimpleNamespace(_s=s, _csr=ctx.csr.copy()))

    def _cpu(self) -> tuple[list[int], int, str, Any]:
        """The shown vCPU: its registers, pc, mode name and CSRs (by name): the hart's, or
        a domain's saved context."""
        if self._shows_hart():
            hart = self.machine.hart
            return hart.x.tolist(), hart.pc, hart.mode.name, hart.csr
        from vkernel.hv.host import VCPU_STATE

        ctx = self._dom().context
        pc = int(ctx.state[VCPU_STATE.index(K.S_PC)]) & MASK64
        return Registers(ctx.x).tolist(), pc, Mode(ctx.mode).name, self._saved_csrs()

    # --- actions ------------------------------------------------------------------------
    def do(self, cmd: str, n: int = 1) -> None:
        """What the buttons do: ``"step"`` (n steps), ``"back"`` (n steps back),
        ``"trap"`` (run to the next trap or exit), ``"reset"`` (back to the first
        checkpoint), ``"goto"`` (to step n), ``"run"`` (one slice of a run)."""
        m = self.machine
        exits = getattr(self, "_exits_seen", 0)
        switches = self._switches()
        if cmd == "step":
            self._forward(int(n))
        elif cmd == "back":
            self._goto(max(self._now() - int(n), self.first))
        elif cmd == "trap":  # a trap taken in the machine, a VM exit or a world switch
            traps = m.counters["traps"]
            for _ in range(10_000):
                ex = self._forward(1)
                if m.counters["traps"] != traps or ex.reason != "budget" \
                        or getattr(self, "_exits_seen", 0) != exits \
                        or self._switches() != switches:
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
        if self.host is not None and not self.halted:
            if self._exits_seen != exits:
                self.status = self._exit_words(self._exits_seen - exits)
            elif self._switches() != switches and self.host.loaded is not None \
                    and cmd in ("step", "trap", "run"):
                self.status = "world switch: the hypervisor loaded the vCPU of " \
                              f"{_who(self.host.loaded)}"
        self._refresh()

    def _switches(self) -> int:
        return 0 if self.host is None else self.host.switches

    def _exit_words(self, n: int) -> str:
        """The VM exits the last action went through, for the status line (on a host of
        several domains, whose)."""
        ex, callout, domain = self._last_exit
        words = self._exit_what(ex, callout, n)
        return words if self.vm is not None else f"{_who(domain)}: {words}"

    def _exit_what(self, ex: Any, callout: bool, n: int) -> str:
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
        """A register's value as the view shows it (``"a0"``, ``"x10"``...): the shown
        domain's, on a host."""
        if self._shows_hart():
            return self.machine.hart.x[name]
        return Registers(self._dom().context.x)[name]

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
        self.status = _describe_host(ex) if self.host is not None and self.vm is None \
            else _describe(ex)
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
        csr = self._cpu()[3]
        names = SHOWN_CSRS
        if self.host is not None and self._dom().technique_name == "hardware":
            names += HYPERVISOR_CSRS
        return {name: csr[name] for name in names}

    def _vcsr_values(self) -> dict[str, int]:
        """A VM's (or the shown domain's) vCPU as the guest sees it (nothing for a bare
        machine). Under the H extension those are the hart's VS CSRs, which are the
        loaded domain's: another domain's come from its saved context."""
        if self.host is None:
            return {}
        dom = self._dom()
        values = dict(dom.virtual_csrs())
        if dom.technique_name == "hardware" and not self._shows_hart():
            saved = self._saved_csrs()
            values = {name: saved["v" + name] for name in values}
        return values

    def _vcsr_text(self, name: str, value: int) -> str:
        if name == "mode":  # the vCPU's virtual privilege mode
            return f"{value:#x} ({MODE.get(value, '?')})"
        return f"{value:#x}"

    def _refresh(self, first: bool = False) -> None:
        # one message for all of it: a view that redraws on one trait must not see the
        # others of the step before (pc of one step, step of the next)
        with self.hold_sync():
            m = self.machine
            regs, pc, mode, _ = self._cpu()
            csrs = self._csr_values()
            self.changed = [] if first else [ABI_NAMES[i] for i in range(32)
                                             if regs[i] != self._last_regs[i]]
            self.csrs = [[n, f"{v:#x}", not first and v != self._last_csrs[n]]
                         for n, v in csrs.items()]
            self._last_regs, self._last_csrs = regs, csrs
            if self.host is not None:
                dom = self._dom()
                vcsrs = self._vcsr_values()
                self.vcsrs = [[n, self._vcsr_text(n, v),
                               not first and v != self._last_vcsrs.get(n, v)]
                              for n, v in vcsrs.items()]
                self._last_vcsrs = vcsrs
                hardware = dom.technique_name == "hardware"
                self.vcsr_title = (
                    "the guest's view: its VS CSRs (vsstatus, vsepc...), which the hart uses "
                    "in place of the S ones while V=1"
                    if hardware else
                    "the guest's view: what the hypervisor keeps for its vCPU, in Python (its "
                    "virtual CSRs and virtual mode); the machine runs the guest in U")
                if hardware and not self._shows_hart():
                    self.vcsr_title += "; another domain is in the hart, so they are read " \
                                       "from the context the world switch saved"
                self.csr_title = "" if self._shows_hart() \
                    else "CSRs (saved with its vCPU: another domain is in the hart)"
                self.domain_list = [[d.domid, _who(d)] for d in self.host.domains]
                self.running = self._running_words()
            self.regs = np.asarray(regs, dtype="<u8").tobytes()
            self.pc = f"{pc:#x}"
            self.mode = mode
            self.furthest = max(self.furthest, self._now())
            self.instret = m.hart.instret
            self.step = self._now()
            console = self._dom().console if self.host is not None else m.console
            self.console = console[-2000:]
            self.disasm = self._disassembly()

    def _running_words(self) -> str:
        """Which domain runs, and what the view shows (nothing for a VM: it has one)."""
        if self.vm is not None:
            return ""
        dom, loaded = self._dom(), self.host.loaded
        if dom is loaded:
            return f"{_who(dom)}: running, its vCPU in the hart"
        hart = "no vCPU is in the hart" if loaded is None \
            else f"{_who(loaded)} is running"
        return f"{_who(dom)}: {dom.state}, its vCPU as the last world switch saved it; {hart}"

    def _physical(self, va: int) -> int | None:
        """Where the hart would fetch ``va`` from: an Sv39 walk in Python
        (:mod:`vkernel.hv.pagetable`) that, unlike the core's, touches no TLB, counter or
        trace, and checks no permission (None when unmapped). In VS or VU mode
        the walk has two stages, as the H extension's: vsatp's tables (whose entries and
        leaves are guest physical) and the hypervisor's G-stage (hgatp, Sv39x4)."""
        _, _, mode, csr = self._cpu()
        if mode in ("VS", "VU"):
            hgatp = csr["hgatp"]

            def gstage(gpa: int | None) -> int | None:
                if gpa is None or hgatp >> 60 != 8:
                    return gpa
                return self._walk(lambda a: a, hgatp, gpa, SV39X4)

            vsatp = csr["vsatp"]
            if vsatp >> 60 != 8:
                return gstage(va)
            return gstage(self._walk(gstage, vsatp, va, SV39))
        satp = csr["satp"]
        if mode == "M" or satp >> 60 != 8:
            return va
        pa = self._walk(lambda a: a, satp, va, SV39)
        if pa is None and self.host is not None:
            # under a software technique satp is the hypervisor's shadow, filled only as
            # the guest faults: read through the guest's own tables instead
            return self._guest_physical(va)
        return pa

    def _guest_physical(self, va: int) -> int | None:
        """A VM's ``va`` through the guest's own page tables (its virtual satp) and the
        hypervisor's p2m (``vm.memory``), to a machine address."""
        memory = getattr(self._dom(), "memory", None)
        satp = self._vcsr_values().get("satp", 0)
        if memory is None:
            return None

        def machine(gpa: int | None) -> int | None:
            return memory.machine_address(gpa) if gpa is not None and gpa in memory \
                else None

        if satp >> 60 != 8:
            return machine(va)
        return machine(self._walk(machine, satp, va, SV39))

    def _walk(self, where: Any, atp: int, va: int, scheme: Scheme) -> int | None:
        """``va`` translated through the table that ``atp`` (a satp, vsatp or hgatp value)
        selects; ``where`` turns each table address into a machine one (None: no memory
        there)."""
        mem = self.machine.mem

        def read_pte(address: int) -> int | None:
            machine = where(address)
            try:
                return None if machine is None else mem.read_u64(machine)
            except MachineError:  # outside RAM
                return None

        return walk(scheme.root(atp), va, read_pte, scheme=scheme).pa

    def _disassembly(self) -> list[list[Any]]:
        """Instructions from the pc on, read where the hart would fetch them."""
        m = self.machine
        pc = self._cpu()[1]
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
