"""What every part of the hypervisor layer shares: its error, the shape of a technique,
and the *actions* a technique answers a VM exit with.

KVM's run loop, which :class:`~vkernel.hv.host.Host` follows::

    while True:
        exit = vcpu.run()                    # the hardware runs the guest until it needs us
        action = technique.handle(exit)      # we emulate, inject, map, answer ...
        ...                                  # and the loop does what the action says

The technique never runs the loop itself and never decides who runs next: it says what
its exit means for its own vCPU, and the host's loop, the one place that dispatches,
acts on it:

* :data:`CONTINUE`: the vCPU goes on running (most exits);
* :class:`Yield`: the vCPU gives up the rest of its time slice (Xen's SCHEDOP_yield);
* :class:`Block`: the vCPU has nothing to do until an event (a ``wfi``, SCHEDOP_block):
  its own timer at ``timer`` on the domain's clock, or an event the host sends;
* :class:`Shutdown`: the guest switched itself off, with a reason ``code``.

>>> from vkernel.hv.base import CONTINUE, Block, Shutdown
>>> CONTINUE
Continue()
>>> Shutdown(0)
Shutdown(code=0)
>>> Block(timer=None).timer is None
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vkernel.errors import VkernelError

if TYPE_CHECKING:
    from vkernel.hv.host import Domain
    from vkernel.isa.program import Program
    from vkernel.machine import Exit

TECHNIQUES = ("native", "trap-emulate", "binary-translation", "paravirt", "hardware")
# How a hardware-assisted guest's memory is translated: by the G-stage (nested paging, the
# default), or, as on first-generation VT-x, by shadow tables the VS-stage walks.
PAGINGS = ("nested", "shadow")
# How shadow tables are kept: filled on hidden faults and forgotten on every sfence.vma
# ("simple"), or with the guest's page tables write-protected so that each change to them
# traps and updates exactly the shadow entries it affects ("write-protect").
SHADOWS = ("simple", "write-protect")


def memory_options(technique: str, paging: str | None,
                   shadow: str | None) -> tuple[str | None, str | None]:
    """Check ``paging`` and ``shadow`` for ``technique`` and fill in the defaults: the
    (paging, shadow) a domain runs with (None where a choice does not apply).

    >>> memory_options("hardware", None, None)
    ('nested', None)
    >>> memory_options("trap-emulate", None, None)
    (None, 'write-protect')
    """
    if paging is not None and technique != "hardware":
        raise HypervisorError(f"paging= chooses how hardware assistance translates memory; "
                              f"{technique} has no choice")
    if technique == "hardware":
        paging = paging or "nested"
        if paging not in PAGINGS:
            raise HypervisorError(f"unknown paging {paging!r}; choose from "
                                  f"{', '.join(PAGINGS)}")
    shadowed = technique in ("trap-emulate", "binary-translation") or paging == "shadow"
    if shadow is not None and not shadowed:
        raise HypervisorError(f"shadow= chooses how shadow page tables are kept; {technique}"
                              f"{' with nested paging' if paging else ''} has none")
    if shadowed:
        shadow = shadow or "write-protect"  # what real VMMs do
        if shadow not in SHADOWS:
            raise HypervisorError(f"unknown shadow {shadow!r}; choose from "
                                  f"{', '.join(SHADOWS)}")
    return paging, shadow
MASK64 = (1 << 64) - 1


class HypervisorError(VkernelError):
    """Misuse of the hypervisor layer, or a guest the hypervisor cannot go on running."""


# --- what a technique answers an exit with -------------------------------------------
@dataclass(frozen=True)
class Continue:
    """Let the vCPU go on running."""


@dataclass(frozen=True)
class Yield:
    """The vCPU gives the rest of its time slice to whoever the scheduler picks."""


@dataclass(frozen=True)
class Block:
    """The vCPU waits for an event. ``timer`` is when its own timer fires, on its domain's
    clock (in steps: the retired-instruction scale of ``mtime``), or ``None`` when only an
    event sent to the domain can wake it."""

    timer: int | None


@dataclass(frozen=True)
class Shutdown:
    """The guest switched itself off; ``code`` is the reason it gave (0: a clean
    shutdown)."""

    code: int


Action = Continue | Yield | Block | Shutdown
CONTINUE = Continue()


@dataclass(frozen=True)
class VMResult:
    """How a run ended: ``"shutdown"`` (the guest switched itself off; ``code``
    is the reason it gave: SBI system_reset's, or sched_op shutdown's for a para-virtual
    guest; 0 for a clean shutdown), ``"budget"`` (``max_steps`` spent),
    or ``"idle"`` (the guest waits for an interrupt nothing will send); on a host, also
    ``"crashed"`` (the guest did what its hypervisor cannot go on with: the domain's
    ``error`` says what) and ``"destroyed"``."""

    reason: str
    code: int | None
    steps: int


class Technique:
    """How the CPU is virtualized, for one domain. A subclass sets the machine up in
    :meth:`boot` and handles each VM exit of its domain in :meth:`handle`, returning an
    action (see the module's docstring). ``self.domain`` is the domain it serves: its
    vCPU, its memory, its console, and :meth:`~vkernel.hv.host.Domain.record` for the
    trace."""

    name = "?"
    hardware = False  # VM exits are hardware ones (the H extension): cost model's vm_exit

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.machine = domain.machine

    def boot(self, guest: Program) -> None:
        raise NotImplementedError

    def handle(self, exit: Exit) -> Action:
        raise NotImplementedError

    def virtual_csrs(self) -> dict[str, int]:
        """The guest's view of its supervisor CSRs, where the technique keeps them."""
        return {}

    # A method deep inside the handling of an exit (an emulated wfi, a shutdown hypercall)
    # asks for its action here; handle() returns it when the exit is dealt with.
    _request: Action | None = None

    def request(self, action: Action) -> None:
        """Ask for ``action`` once the exit being handled is dealt with."""
        self._request = action

    def take_request(self) -> Action:
        """The action asked for while handling this exit (:data:`CONTINUE` if none)."""
        action, self._request = self._request or CONTINUE, None
        return action

    # --- ballooning (vkernel.hv.balloon): what each technique does for a page ------------
    def balloon_interrupt(self) -> None:
        """Tell the guest's balloon driver that its target changed (a virtual interrupt)."""
        raise HypervisorError(f"{self.name} has no balloon")

    def balloon_refuses(self, gpa: int) -> str | None:
        """Why page ``gpa`` may not leave the guest now ("busy", ...), or None."""
        return None

    def balloon_drop(self, gpa: int, frame: int) -> None:
        """Page ``gpa`` (machine ``frame``) left the guest: drop every translation to it."""

    def balloon_add(self, gpa: int, frame: int) -> None:
        """Page ``gpa`` is backed by machine ``frame`` again."""

    # --- page sharing (vkernel.hv.sharing) ----------------------------------------------
    def share_map(self, gpa: int, frame: int) -> None:
        """Page ``gpa`` is backed by shared machine ``frame`` now: map it read-only, and
        let no translation to its old frame survive."""
        raise HypervisorError(f"{self.name} does not take part in page sharing")

    def unshare_map(self, gpa: int, frame: int) -> None:
        """Page ``gpa`` is backed by its own ``frame`` again: map it writable."""
        raise HypervisorError(f"{self.name} does not take part in page sharing")

    def copy_on_write(self, gpa: int) -> None:
        """Someone (the guest, or the hypervisor for it) is about to write page ``gpa``,
        which is shared: it gets a private copy first."""
        self.domain.host.sharing.unshare(self.domain, gpa)

    # --- swapping (vkernel.hv.swap) -----------------------------------------------------
    def swap_drop(self, gpa: int) -> None:
        """Page ``gpa`` went to the swap file: drop every translation to its frame."""
        raise HypervisorError(f"{self.name} does not take part in host swapping")

    def swap_map(self, gpa: int, frame: int) -> None:
        """Page ``gpa`` is back in ``frame``."""
        raise HypervisorError(f"{self.name} does not take part in host swapping")

    def read_back(self, gpa: int) -> int:
        """Swapped-out page ``gpa`` is needed: the host reads it back; its new frame."""
        return self.domain.host.swap.swap_in(self.domain, gpa)

    def on_share(self, shared: bool) -> None:
        """The domain is loaded on a CPU that is (``shared``) or is not shared with other
        domains. A technique whose guest would otherwise idle inside the hardware (``wfi``
        sleeping until its timer) makes that an exit while others could use the CPU."""
