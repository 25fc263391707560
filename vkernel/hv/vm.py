"""A virtual machine: one guest kernel on a machine of its own.

:class:`VM` is the shortcut for the commonest case, a :class:`~vkernel.hv.host.Host`
with a single domain: ``VM("hello", technique="hardware")`` builds the machine, the
hypervisor and the domain, and ``vm.run()`` runs the host's loop (:mod:`vkernel.hv.host`)
until the guest shuts down.

The "hardware" is vkernel's :class:`~vkernel.machine.Machine`. What differs between the
techniques is only *who owns which trap*, *which page tables the hardware walks* and *who
answers which device*; each technique is a small class (``native.py``, ``hardware.py``,
...) with two methods: ``boot()`` sets the machine up, ``handle(exit)`` deals with one VM
exit and says what happens next (:mod:`vkernel.hv.base`). Everything a technique does is
recorded in the trace's ``hv`` family with its modelled cost (:mod:`vkernel.hv.cost`).

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
from typing import TYPE_CHECKING, Any

from vkernel.hv.base import TECHNIQUES, HypervisorError, Technique, VMResult
from vkernel.hv.cost import CostModel
from vkernel.hv.host import VCPU, Domain, Host, HostSnapshot
from vkernel.isa.program import Program
from vkernel.machine import Machine, TraceSpec

if TYPE_CHECKING:
    import xarray as xr

__all__ = ["TECHNIQUES", "VCPU", "VM", "HypervisorError", "Technique", "VMResult"]


class VM:
    """A virtual machine running one guest kernel under one technique: a
    :class:`~vkernel.hv.host.Host` with one domain.

    ``guest`` is the guest kernel: an assembled :class:`~vkernel.isa.program.Program`
    linked for guest physical addresses, or the name of a shipped workload
    (:data:`vkernel.guests.WORKLOADS`); ``technique`` one of :data:`TECHNIQUES`;
    ``ram_mb`` the guest's RAM; ``machine_mb`` the real machine's (the hypervisor's
    structures and the guest's frames come out of it); ``seed`` shuffles the machine
    frames that back the guest; ``cost`` the cycle costs; ``sensitive_unprivileged``
    Popek and Goldberg's switch (see :class:`~vkernel.machine.Machine`); ``trace`` what to
    record, as for a Machine (the ``hv`` family holds what the hypervisor did);
    ``n`` the operation count of a benchmark workload; ``paging`` and ``shadow`` how
    its memory is virtualized, ``max_mb`` the most RAM it may have (see
    :meth:`Host.create`; :meth:`balloon` asks the guest for more or less);
    ``walk_cache`` gives the MMU page-walk caches (see :class:`~vkernel.machine.Machine`).
    """

    def __init__(self, guest: Program | str = "hello", technique: str = "hardware", *,
                 ram_mb: int = 8, machine_mb: int = 32, seed: int = 0,
                 cost: CostModel | None = None, sensitive_unprivileged: bool = False,
                 trace: TraceSpec = None, n: int | None = None, paging: str | None = None,
                 shadow: str | None = None, max_mb: int | None = None,
                 walk_cache: bool = False) -> None:
        if technique not in TECHNIQUES:
            raise HypervisorError(f"unknown technique {technique!r}; choose from "
                                  f"{', '.join(TECHNIQUES)}")
        if technique == "native":
            machine_mb = ram_mb  # no hypervisor: the guest's RAM is the machine's
        self.host = Host(machine_mb=machine_mb, seed=seed, cost=cost, trace=trace,
                         sensitive_unprivileged=sensitive_unprivileged, walk_cache=walk_cache)
        self.domain: Domain = self.host.create(guest, technique, memory_mb=ram_mb,
                                               name="guest", n=n, paging=paging,
                                               shadow=shadow, max_mb=max_mb)
        self.machine.technique = technique

    # --- the one domain, and its host -------------------------------------------------
    @property
    def machine(self) -> Machine:
        return self.host.machine

    @property
    def technique(self) -> Technique:
        return self.domain.technique

    @property
    def technique_name(self) -> str:
        return self.domain.technique_name

    @property
    def vcpu(self) -> VCPU:
        return self.domain.vcpu

    @property
    def memory(self) -> Any:  # noqa: ANN401 - its GuestMemory
        return self.domain.memory

    @property
    def ram_mb(self) -> int:
        return self.domain.ram_mb

    @property
    def seed(self) -> int:
        return self.host.seed

    @property
    def cost(self) -> CostModel:
        return self.host.cost

    @property
    def result(self) -> VMResult | None:
        return self.domain.result

    @property
    def exits(self) -> int:
        """VM exits handled."""
        return self.domain.exits

    @property
    def on_console(self) -> Callable[[int], None] | None:
        """Called with each byte the guest prints."""
        return self.domain.on_console

    @on_console.setter
    def on_console(self, callback: Callable[[int], None] | None) -> None:
        self.domain.on_console = callback

    @property
    def steps(self) -> int:
        """What budgets count: the machine's steps (instructions retired and traps taken
        inside it) and the VM exits the hypervisor handled, so that a guest that makes the
        hypervisor loop (a storm of exits) still runs out of budget."""
        return self.host.steps

    def __repr__(self) -> str:
        return f"<VM {self.technique_name}, {self.ram_mb} MiB, {self.steps} steps>"

    # --- running ------------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> VMResult:
        """Run the guest until it shuts down (or ``max_steps`` steps pass, VM exits
        included, or it waits for an interrupt nothing will send)."""
        if self.domain.result is not None:
            return self.domain.result
        ran = self.host.run(max_steps)
        if self.domain.error is not None:  # the host crashed it: alone, it is all there is
            raise self.domain.error
        if self.domain.result is not None:
            return self.domain.result
        return VMResult(ran.reason, None, self.steps)

    def balloon(self, target_mb: float) -> None:
        """Ask the guest to have ``target_mb`` MiB (see :meth:`Host.balloon`)."""
        self.host.balloon(self.domain, target_mb)

    def save(self) -> HostSnapshot:
        """The whole VM (machine, hypervisor, guest): :meth:`restore` of it continues
        bit-identically."""
        return self.host.save()

    def restore(self, snap: HostSnapshot) -> None:
        self.host.restore(snap)

    # --- what the hypervisor did ------------------------------------------------------
    def record(self, event: str, cause: int = 0, detail: int = 0, *, units: int = 1,
               pc: int | None = None) -> None:
        """Record one ``hv`` row (see :meth:`~vkernel.hv.host.Domain.record`)."""
        self.domain.record(event, cause, detail, units=units, pc=pc)

    # --- looking at the guest ---------------------------------------------------------
    @property
    def console(self) -> str:
        """Everything the guest printed."""
        return self.domain.console

    def console_byte(self, b: int) -> None:
        self.domain.console_byte(b)

    def trace_dataset(self) -> xr.Dataset:
        """The recorded trace (hv rows included), with the technique in its attributes."""
        return self.machine.trace_dataset()

    def virtual_csrs(self) -> dict[str, int]:
        return self.technique.virtual_csrs()
