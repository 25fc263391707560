"""A virtual machine and its vCPU, and the loop every hypervisor is built around.

KVM's run loop, which this package follows::

    while True:
        exit = vcpu.run()          # the hardware runs the guest until something needs us
        if not vm.handle(exit):    # we emulate, inject, map, answer ...
            break

The "hardware" is vkernel's :class:`~vkernel.machine.Machine`. What differs between the
techniques is only *who owns which trap*, *which page tables the hardware walks* and *who
answers which device*; each technique is a small class (``native.py``, ``hardware.py``,
...) with two methods: ``boot()`` sets the machine up, ``handle(exit)`` deals with one VM
exit. Everything a technique does is recorded in the trace's ``hv`` family with its
modelled cost (:mod:`vkernel.hv.cost`).

>>> from vkernel import assemble
>>> guest = assemble('''
...     li a7, 0x4442434E        # SBI debug console: write one byte
...     li a6, 2
...     li a0, 'k'
...     ecall
...     li a7, 0x53525354        # SBI system reset: shut down
...     li a6, 0
...     li a0, 0
...     li a1, 0
...     ecall
... ''', base=0x8020_0000)
>>> vm = VM(guest, technique="hardware", ram_mb=4)
>>> vm.run()
VMResult(reason='shutdown', code=0, steps=11)
>>> vm.console
'k'
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from vkernel.errors import VkernelError
from vkernel.hv.cost import EVENT, CostModel
from vkernel.isa.program import Program
from vkernel.machine import Exit, Machine, TraceSpec
from vkernel.trace.schema import NO_MODE

if TYPE_CHECKING:
    import xarray as xr

TECHNIQUES = ("native", "trap-emulate", "binary-translation", "paravirt", "hardware")
MASK64 = (1 << 64) - 1


class HypervisorError(VkernelError):
    """Misuse of the hypervisor layer, or a guest the hypervisor cannot go on running."""


@dataclass(frozen=True)
class VMResult:
    """How :meth:`VM.run` ended: ``"shutdown"`` (the guest switched itself off; ``code``
    is the reason it gave: SBI system_reset's, or sched_op shutdown's for a para-virtual
    guest; 0 for a clean shutdown), ``"budget"`` (``max_steps`` spent),
    or ``"idle"`` (the guest waits for an interrupt nothing will send)."""

    reason: str
    code: int | None
    steps: int


class VCPU:
    """One virtual CPU: the machine's hart, seen by the hypervisor while a guest runs on
    it. :meth:`run` lets the guest run until a VM exit."""

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.machine = vm.machine

    @property
    def hart(self):  # noqa: ANN201 - a Hart (the machine's own: restore() replaces it)
        return self.machine.hart

    def run(self, max_steps: int | None = None) -> Exit:
        """Run the guest until the hardware hands control back: a trap that targets a
        level the hypervisor owns (``reason="host-exit"``), a halt, or the budget."""
        return self.machine.run(max_steps=max_steps, progress=False)

    @property
    def pc(self) -> int:
        return self.hart.pc

    @pc.setter
    def pc(self, value: int) -> None:
        self.hart.pc = value

    @property
    def x(self):  # noqa: ANN201
        return self.hart.x


class Technique:
    """How the CPU is virtualized. A subclass sets the machine up in :meth:`boot` and
    handles each VM exit in :meth:`handle` (True: let the guest go on)."""

    name = "?"
    hardware = False  # VM exits are hardware ones (the H extension): cost model's vm_exit

    def __init__(self, vm: VM) -> None:
        self.vm = vm
        self.machine = vm.machine

    def boot(self, guest: Program) -> None:
        raise NotImplementedError

    def handle(self, exit: Exit) -> bool:
        raise NotImplementedError

    def virtual_csrs(self) -> dict[str, int]:
        """The guest's view of its supervisor CSRs, where the technique keeps them."""
        return {}


class VM:
    """A virtual machine running one guest kernel under one technique.

    ``guest`` is the guest kernel: an assembled :class:`~vkernel.isa.program.Program`
    linked for guest physical addresses, or the name of a shipped workload
    (:data:`vkernel.guests.WORKLOADS`); ``technique`` one of :data:`TECHNIQUES`;
    ``ram_mb`` the guest's RAM; ``machine_mb`` the real machine's (the hypervisor's
    structures and the guest's frames come out of it); ``seed`` shuffles the machine
    frames that back the guest; ``cost`` the cycle costs; ``sensitive_unprivileged``
    Popek and Goldberg's switch (see :class:`~vkernel.machine.Machine`); ``trace`` what to
    record, as for a Machine (the ``hv`` family holds what the hypervisor did);
    ``n`` the operation count of a benchmark workload.
    """

    def __init__(self, guest: Program | str = "hello", technique: str = "hardware", *,
                 ram_mb: int = 8, machine_mb: int = 32, seed: int = 0,
                 cost: CostModel | None = None, sensitive_unprivileged: bool = False,
                 trace: TraceSpec = None, n: int | None = None) -> None:
        if technique not in TECHNIQUES:
            raise HypervisorError(f"unknown technique {technique!r}; choose from "
                                  f"{', '.join(TECHNIQUES)}")
        self.technique_name = technique
        self.ram_mb = ram_mb
        self.seed = seed
        self.cost = cost or CostModel()
        self.console_bytes = bytearray()
        self.on_console: Callable[[int], None] | None = None  # each byte the guest prints
        if technique == "native":
            machine_mb = ram_mb  # no hypervisor: the guest's RAM is the machine's
        self.machine = Machine(ram_mb=machine_mb, sensitive_unprivileged=sensitive_unprivileged)
        if technique != "native":
            self.machine.set_domain(1)  # the one guest: a host's first domain
        self.machine.on_console = lambda ch: self.on_console and self.on_console(ord(ch))
        self.machine.technique = technique
        self.vcpu = VCPU(self)
        self.technique = _technique_class(technique)(self)
        program = _guest_program(guest, technique, n)
        if technique != "native":
            self.machine.program = program  # what the trace's attributes name
        if trace is not None:
            if isinstance(trace, str):
                self.machine.trace(trace)
            elif isinstance(trace, dict):
                options = dict(trace)
                families = options.pop("families", ())
                self.machine.trace(*((families,) if isinstance(families, str) else families),
                                   **options)
            else:
                self.machine.trace(*trace)
        self.current_exit: Exit | None = None  # the exit being handled (run sets it)
        self.technique.boot(program)
        self.machine.complete_hv(int(self.machine.hart.mode))  # boot's rows: where it starts
        self.result: VMResult | None = None
        self.exits = 0  # VM exits handled

    @property
    def steps(self) -> int:
        """What budgets count: the machine's steps (instructions retired and traps taken
        inside it) and the VM exits the hypervisor handled, so that a guest that makes the
        hypervisor loop (a storm of exits) still runs out of budget."""
        return self.machine.steps + self.exits

    def __repr__(self) -> str:
        return f"<VM {self.technique_name}, {self.ram_mb} MiB, {self.steps} steps>"

    # --- running ------------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> VMResult:
        """Run the guest until it shuts down (or ``max_steps`` steps pass, VM exits included): the
        hypervisor's loop of ``vcpu.run()`` and ``handle(exit)``."""
        start = self.steps
        while self.result is None:
            left = None if max_steps is None else max_steps - (self.steps - start)
            if left is not None and left <= 0:
                return VMResult("budget", None, self.steps)
            exit = self.vcpu.run(left)
            if exit.reason == "budget":
                continue
            if exit.reason == "halt":  # a native guest's firmware switched the machine off
                code = exit.exit_code or 0
                self.result = VMResult("shutdown", code, self.steps)
            elif exit.reason == "wfi-idle":
                return VMResult("idle", None, self.steps)
            else:
                self.exits += 1  # a VM exit is a step of the budget, like a trap
                self.current_exit = exit
                going = self.technique.handle(exit)
                self.current_exit = None
                if not going:
                    break
                if self.result is None:  # the guest resumes (it did not shut down)
                    self.machine.complete_hv(int(self.machine.hart.mode))
        if self.result is None:
            raise HypervisorError(f"the {self.technique_name} hypervisor stopped the guest "
                                  f"without shutting it down")
        return self.result

    def shutdown(self, code: int) -> None:
        """The guest is finished (the technique calls this on an SBI reset)."""
        self.result = VMResult("shutdown", code, self.steps)

    # --- what the hypervisor did ------------------------------------------------------
    def record(self, event: str, cause: int = 0, detail: int = 0, *, units: int = 1,
               pc: int | None = None) -> None:
        """Record one ``hv`` row: ``event`` (a name of the schema's HV_EVENT) with its
        modelled cost, ``units`` times the event's price (a translation: instructions),
        the mode the guest exited from (of the exit being handled; none outside one) and
        the hypervisor's level (HS with the H extension, else M)."""
        cycles = self.cost.of(event, hardware=self.technique.hardware) * units
        exit = self.current_exit
        from_mode = int(exit.from_mode) if exit is not None and exit.from_mode is not None \
            else NO_MODE
        self.machine.record_hv(EVENT[event], cause, detail,
                               self.vcpu.pc if pc is None else pc, cycles,
                               from_mode=from_mode, level=1 if self.technique.hardware else 3)

    # --- looking at the guest ---------------------------------------------------------
    @property
    def console(self) -> str:
        """Everything the guest printed."""
        if self.technique_name == "native":
            return self.machine.console
        return self.console_bytes.decode("utf-8", errors="replace")

    def console_byte(self, b: int) -> None:
        self.console_bytes.append(b)
        if self.on_console is not None:
            self.on_console(b)

    def trace_dataset(self) -> xr.Dataset:
        """The recorded trace (hv rows included), with the technique in its attributes."""
        return self.machine.trace_dataset()

    def virtual_csrs(self) -> dict[str, int]:
        return self.technique.virtual_csrs()


def _technique_class(name: str) -> type[Technique]:
    if name == "native":
        from vkernel.hv.native import Native
        return Native
    if name == "hardware":
        from vkernel.hv.hardware import HardwareAssisted
        return HardwareAssisted
    if name == "trap-emulate":
        from vkernel.hv.trap_emulate import TrapAndEmulate
        return TrapAndEmulate
    if name == "paravirt":
        from vkernel.hv.paravirt import Paravirtual
        return Paravirtual
    if name == "binary-translation":
        from vkernel.hv.binary_translation import BinaryTranslation
        return BinaryTranslation
    raise HypervisorError(f"unknown technique {name!r}")


def _guest_program(guest: Any, technique: str, n: int | None) -> Program:
    if isinstance(guest, Program):
        return guest
    if isinstance(guest, str):
        from vkernel import guests

        if technique == "paravirt":  # the guest kernel's para-virtualized twin
            return guests.kernel(guest, n=n, paravirt=True)
        return guests.kernel(guest, n=n)
    raise HypervisorError(f"a guest is a Program or a workload name, not {guest!r}")
