"""Who runs next: scheduling policies for the host's domains.

Xen separates *mechanism* from *policy*: the hypervisor switches worlds, keeps time and
fires its timer; a scheduler only answers "who runs now, and for how long?". Here the
:class:`~vkernel.hv.host.Host` is the mechanism, and a :class:`Scheduler` the policy. A
scheduler keeps the *run queue* (the domains that could run, in order) and is told what
happens: a domain becomes runnable (:meth:`Scheduler.wake`), stops being runnable
(:meth:`Scheduler.sleep`), or has run for some steps (:meth:`Scheduler.charge`). The host
asks it :meth:`Scheduler.pick` at every scheduling point: the end of a time slice (the
host timer), a domain that blocks, yields or shuts down, and a domain woken by an event.

Time is virtual: steps of the machine (retired instructions, traps and VM exits), with
``host.steps_per_ms`` steps to the millisecond, so runs stay deterministic.

Two policies ship: :class:`RoundRobin` (everyone in turn, a fixed slice) and
:class:`Credit`, Xen's credit scheduler (weights, caps, a 30 ms accounting period,
BOOST). A policy of your own is a subclass with a ``pick``::

    class Shortest(Scheduler):
        '''Whoever has run least so far.'''
        def pick(self, now):
            return min(self.queue, key=lambda d: d.cpu_steps), self.slice

>>> from vkernel.hv.scheduler import Credit, RoundRobin
>>> Credit().period_ms, Credit().slice_ms
(30, 10)
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vkernel.hv.host import Domain, Host

# Xen's credit priorities (sched_credit.c): the lower, the sooner
BOOST, UNDER, OVER = 0, 1, 2
PRIORITY_NAME = {BOOST: "boost", UNDER: "under", OVER: "over"}


class Scheduler:
    """The policy interface. ``queue`` holds the runnable domains that are not running,
    oldest first; a subclass decides in :meth:`pick` which runs, and for how many
    steps. The other methods keep the queue; a subclass that overrides them calls
    ``super()``."""

    name = "?"
    slice_ms = 10  # a time slice, unless the policy says otherwise

    def __init__(self) -> None:
        self.host: Host | None = None
        self.queue: list[Domain] = []

    def attach(self, host: Host) -> None:
        self.host = host

    @property
    def slice(self) -> int:
        """One time slice, in steps."""
        assert self.host is not None
        return self.slice_ms * self.host.steps_per_ms

    # --- told by the host ---------------------------------------------------------------
    def wake(self, domain: Domain, now: int) -> bool:
        """``domain`` became runnable (created, unpaused, woken by an event). True when it
        should preempt the domain running now."""
        if domain not in self.queue:
            self.queue.append(domain)
        return False

    def sleep(self, domain: Domain, now: int) -> None:
        """``domain`` is no longer runnable (blocked, paused, shut down, destroyed)."""
        if domain in self.queue:
            self.queue.remove(domain)

    def requeue(self, domain: Domain, now: int) -> None:
        """``domain`` was running and is still runnable (its slice ended, it yielded):
        to the back of the queue."""
        self.sleep(domain, now)
        self.queue.append(domain)

    def charge(self, domain: Domain, steps: int, now: int) -> None:
        """``domain`` has just run for ``steps`` (accounting)."""

    # --- asked by the host --------------------------------------------------------------
    def pick(self, now: int) -> tuple[Domain | None, int]:
        """The domain to run now (taken from the queue by the host) and for at most how
        many steps; ``(None, n)`` to leave the CPU idle for ``n`` steps."""
        raise NotImplementedError

    def state(self, domain: Domain) -> dict[str, float | str]:
        """What the policy knows of ``domain`` (for tables and plots)."""
        return {}


class RoundRobin(Scheduler):
    """Everyone in turn, one fixed slice each; weights and caps are ignored."""

    name = "round-robin"

    def __init__(self, slice_ms: int = 10) -> None:
        super().__init__()
        self.slice_ms = slice_ms

    def pick(self, now: int) -> tuple[Domain | None, int]:
        return (self.queue[0] if self.queue else None), self.slice


class Credit(Scheduler):
    """Xen's credit scheduler (credit1, ``xen/common/sched/credit.c``), one CPU.

    * Every ``period_ms`` (30 ms) of host time, the CPU's credits for the period
      (``credits_per_ms`` × the period: 300) are shared among the active domains in
      proportion to their ``weight``. Running costs credits: ``credits_per_ms`` per
      millisecond run, charged exactly.
    * A domain with credit left is UNDER, one that has spent it OVER; UNDER domains run
      first, in turn, each for at most a slice (``slice_ms``). That is how weights become
      shares of the CPU.
    * A ``cap`` (percent of the CPU, 0 for none) is a limit, not a share: a domain that has
      run its cap's worth of a period is *parked* until the next period, even if the CPU
      would otherwise be idle.
    * A domain woken by an event (its timer, an event channel) while UNDER is BOOSTed: it
      preempts a running domain that is not BOOSTed, so an interactive domain answers
      quickly. The boost ends when it is next descheduled.

    Weights and caps changed mid-run are read at the next accounting, as in Xen.
    """

    name = "credit"

    def __init__(self, *, period_ms: int = 30, slice_ms: int = 10,
                 credits_per_ms: int = 10) -> None:
        super().__init__()
        self.period_ms = period_ms
        self.slice_ms = slice_ms
        self.credits_per_ms = credits_per_ms
        self.credit: dict[int, float] = {}  # domid -> credits
        self.priority: dict[int, int] = {}
        self.used: dict[int, int] = {}  # domid -> steps run in this period (for the cap)
        self.parked: set[int] = set()
        self.weights: dict[int, int] = {}  # as read at the last accounting
        self.caps: dict[int, int] = {}
        self.next_accounting = 0

    @property
    def period(self) -> int:
        assert self.host is not None
        return self.period_ms * self.host.steps_per_ms

    def _known(self, domain: Domain) -> None:
        if domain.domid not in self.credit:
            self.credit[domain.domid] = 0.0
            self.priority[domain.domid] = UNDER
            self.used[domain.domid] = 0
            self.weights[domain.domid] = domain.weight
            self.caps[domain.domid] = domain.cap

    def wake(self, domain: Domain, now: int) -> bool:
        self._known(domain)
        super().wake(domain, now)
        if domain.woken_by_event and self.priority[domain.domid] == UNDER:
            self.priority[domain.domid] = BOOST  # Xen: csched_vcpu_wake
        running = self.host.current if self.host is not None else None
        return (running is not None and running is not domain
                and self.priority[domain.domid] < self.priority.get(running.domid, OVER))

    def sleep(self, domain: Domain, now: int) -> None:
        super().sleep(domain, now)
        if domain.domid in self.priority and self.priority[domain.domid] == BOOST:
            self.priority[domain.domid] = UNDER

    def requeue(self, domain: Domain, now: int) -> None:
        super().requeue(domain, now)
        if self.priority.get(domain.domid) == BOOST:  # descheduled: the boost is over
            self.priority[domain.domid] = UNDER

    def charge(self, domain: Domain, steps: int, now: int) -> None:
        self._known(domain)
        assert self.host is not None
        self.credit[domain.domid] -= steps * self.credits_per_ms / self.host.steps_per_ms
        self.used[domain.domid] += steps
        if self.priority[domain.domid] != BOOST:
            self.priority[domain.domid] = UNDER if self.credit[domain.domid] > 0 else OVER
        cap = self.caps[domain.domid]
        if cap and self.used[domain.domid] * 100 >= cap * self.period:
            self.parked.add(domain.domid)

    def _account(self, now: int) -> None:
        """Xen's csched_acct: new credits for every domain, by weight; caps reset."""
        assert self.host is not None
        while now >= self.next_accounting:
            domains = [d for d in self.host.domains if d.state not in ("shutdown", "paused")]
            for d in domains:
                self._known(d)
                self.weights[d.domid], self.caps[d.domid] = d.weight, d.cap
            total_weight = sum(self.weights[d.domid] for d in domains) or 1
            credits = self.credits_per_ms * self.period_ms
            for d in domains:
                c = self.credit[d.domid] + credits * self.weights[d.domid] / total_weight
                # bounded both ways, so a long idle or a long hog does not echo for ever
                self.credit[d.domid] = max(-credits, min(credits, c))
                if self.priority[d.domid] != BOOST:
                    self.priority[d.domid] = UNDER if self.credit[d.domid] > 0 else OVER
                self.used[d.domid] = 0
            self.parked.clear()
            self.next_accounting += self.period

    def pick(self, now: int) -> tuple[Domain | None, int]:
        self._account(now)
        until_accounting = self.next_accounting - now
        ready = [d for d in self.queue if d.domid not in self.parked]
        if not ready:
            return None, until_accounting  # everyone runnable is parked by its cap
        for d in ready:
            self._known(d)
        best = min(ready, key=lambda d: self.priority[d.domid])  # first in queue order
        run = min(self.slice, until_accounting)
        cap = self.caps[best.domid]
        if cap:
            run = min(run, -(-cap * self.period // 100) - self.used[best.domid])
        return best, max(run, 1)

    def state(self, domain: Domain) -> dict[str, float | str]:
        self._known(domain)
        return {"credit": round(self.credit[domain.domid], 2),
                "priority": PRIORITY_NAME[self.priority[domain.domid]],
                "parked": domain.domid in self.parked}
