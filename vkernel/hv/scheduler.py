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
BOOST). A policy of your own is a subclass with a ``pick``: here, whoever has run least
so far goes next, for one slice (with nobody runnable, the CPU idles for a slice):

>>> from vkernel import assemble
>>> from vkernel.hv import Host, Scheduler
>>> class Shortest(Scheduler):
...     name = "shortest"
...     def pick(self, now):
...         if not self.queue:
...             return None, self.slice
...         return min(self.queue, key=lambda d: d.cpu_steps), self.slice
>>> hog = assemble("loop: addi t0, t0, 1\\n j loop", base=0x8020_0000)  # CPU-bound
>>> host = Host(scheduler=Shortest())
>>> a = host.create(hog, memory_mb=4, name="a")
>>> b = host.create(hog, memory_mb=4, name="b", weight=1024)  # ignored by Shortest
>>> host.run(max_steps=1_000_000).reason
'budget'
>>> a.cpu_steps, b.cpu_steps
(500000, 500000)
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
        """``domain`` is off the queue: it runs now (the host took it), or it is no
        longer runnable (blocked, paused, shut down, destroyed)."""
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
    """Everyone in turn, one fixed slice each; weights and caps are ignored, and a woken
    domain waits for its turn at the back of the queue."""

    name = "round-robin"

    def __init__(self, slice_ms: int = 10) -> None:
        super().__init__()
        self.slice_ms = slice_ms

    def pick(self, now: int) -> tuple[Domain | None, int]:
        return (self.queue[0] if self.queue else None), self.slice


class Credit(Scheduler):
    """Xen's credit scheduler (credit1, ``xen/common/sched/credit.c``), one CPU.

    * **Accounting** (Xen's ``csched_acct``): every ``period_ms`` (30 ms) of host time,
      the period's credits (``credits_per_ms`` × the period: 300, the CPU's whole time)
      are shared among the *active* domains in proportion to their ``weight``. Running
      costs ``credits_per_ms`` per millisecond, charged exactly (``burn_credits``).
    * A domain with credit left is UNDER, one that has spent it OVER. UNDER domains run
      first, in queue order, each for at most a slice (``slice_ms``); OVER domains share
      what is left over the same way. That is how weights become shares of the CPU, and
      why the CPU never idles while someone could run (work-conserving).
    * **Active**: a domain earns (is active) from its creation, and from whenever the tick
      (every ``tick_ms``, 10 ms) finds it running, until its credit exceeds one period's
      worth: then it stops earning and its credit is halved. An inactive domain is not
      accounted: it stays UNDER. So a domain that mostly sleeps neither thins out the
      credits of those that compete for the CPU nor loses its BOOST. Credit never falls
      below minus one period's worth.
    * A ``cap`` (percent of the CPU, 0 for none) is a limit, not a share: a domain that has
      run its cap's worth of a period is *parked* until the next period, even if the CPU
      then idles (not work-conserving).
    * **BOOST**: a domain woken from a block (an event, its timer) while UNDER is BOOSTed:
      it goes before the UNDER ones and preempts a running domain that is not BOOSTed, so
      an interactive domain answers at once. The boost ends once it has run (Xen ends it
      at the next tick that finds it running).

    Weights and caps changed mid-run are read at the next accounting, as in Xen.

    Where this differs from credit1, and why: credit1 runs an UNDER domain a whole slice
    even if one millisecond of credit is left, and recomputes priorities only at each
    accounting; the debts are paid back in later periods, so shares come right only over
    many periods (seconds), and with 3 slices a period weights 1:2:4 get a third each of
    some periods. Here an UNDER domain's slice also ends when its credit runs out, and an
    active domain's priority follows its credit as it is charged (Xen's credit2 sizes its
    slices by credit too), so shares are right within every period. Caps park by the
    time run in the period (credit1 parks a domain whose credit falls below minus its
    cap's worth), which holds a cap within every period too. A new domain earns from the
    first accounting (credit1 waits until a tick finds it running, so CPU-bound domains
    would share the first period in turns whatever their weights).
    """

    name = "credit"

    def __init__(self, *, period_ms: int = 30, slice_ms: int = 10, tick_ms: int = 10,
                 credits_per_ms: int = 10) -> None:
        super().__init__()
        self.period_ms = period_ms
        self.slice_ms = slice_ms
        self.tick_ms = tick_ms
        self.credits_per_ms = credits_per_ms
        self.credit: dict[int, float] = {}  # domid -> credits
        self.priority: dict[int, int] = {}
        self.active: set[int] = set()  # the domids that earn credits at an accounting
        self.used: dict[int, int] = {}  # domid -> steps run in this period (for the cap)
        self.parked: set[int] = set()
        self.weights: dict[int, int] = {}  # as read at the last accounting
        self.caps: dict[int, int] = {}
        self.next_accounting = 0

    @property
    def period(self) -> int:
        """One accounting period, in steps."""
        assert self.host is not None
        return self.period_ms * self.host.steps_per_ms

    @property
    def period_credits(self) -> int:
        """What the CPU's whole time is worth in one period."""
        return self.credits_per_ms * self.period_ms

    def _known(self, domain: Domain) -> None:
        if domain.domid not in self.credit:  # new: UNDER, and earning from the next
            # accounting (Xen waits for a tick to find it running: a period's delay)
            self.credit[domain.domid] = 0.0
            self.priority[domain.domid] = UNDER
            self.active.add(domain.domid)
            self.used[domain.domid] = 0
            self.weights[domain.domid] = domain.weight
            self.caps[domain.domid] = domain.cap

    def _by_credit(self, domid: int) -> int:
        return UNDER if self.credit[domid] > 0 else OVER

    def wake(self, domain: Domain, now: int) -> bool:
        self._known(domain)
        super().wake(domain, now)
        d = domain.domid
        if domain.woken_by_event and self.priority[d] == UNDER and d not in self.parked:
            self.priority[d] = BOOST  # Xen: csched_vcpu_wake
        running = self.host.current if self.host is not None else None
        return (running is not None and running is not domain
                and self.priority[d] < self.priority.get(running.domid, OVER))

    def charge(self, domain: Domain, steps: int, now: int) -> None:
        self._known(domain)
        assert self.host is not None
        d = domain.domid
        self.credit[d] -= steps * self.credits_per_ms / self.host.steps_per_ms
        self.used[d] += steps
        tick = self.tick_ms * self.host.steps_per_ms
        if (now - steps) // tick != now // tick:  # a tick found it running: it competes
            self.active.add(d)  # for the CPU (Xen's csched_vcpu_acct)
        # a BOOST ends once it has run; an inactive domain is not accounted: it stays UNDER
        self.priority[d] = self._by_credit(d) if d in self.active else UNDER
        cap = self.caps[d]
        if cap and self.used[d] * 100 >= cap * self.period:
            self.parked.add(d)

    def _account(self, now: int) -> None:
        """Xen's csched_acct: new credits for every active domain, by weight, and its
        priority from its credit; weights and caps read afresh; parked domains unparked."""
        assert self.host is not None
        credits = self.period_credits
        while now >= self.next_accounting:
            domains = [d for d in self.host.domains if d.state not in ("shutdown", "paused")]
            for d in domains:
                self._known(d)
                self.weights[d.domid], self.caps[d.domid] = d.weight, d.cap
            earners = [d for d in domains if d.domid in self.active]
            total_weight = sum(self.weights[d.domid] for d in earners) or 1
            for d in earners:
                c = self.credit[d.domid] + credits * self.weights[d.domid] / total_weight
                if c > credits:  # more than it can use: it stops earning (sleeps a lot)
                    self.active.discard(d.domid)
                    c /= 2
                self.credit[d.domid] = max(c, -credits)
                if self.priority[d.domid] != BOOST:
                    self.priority[d.domid] = self._by_credit(d.domid)
            for d in domains:
                self.used[d.domid] = 0
            self.parked.clear()
            self.next_accounting += self.period

    def pick(self, now: int) -> tuple[Domain | None, int]:
        assert self.host is not None
        self._account(now)
        until_accounting = self.next_accounting - now
        ready = [d for d in self.queue if d.domid not in self.parked]
        if not ready:
            return None, until_accounting  # nobody runnable, or all of them parked
        best = min(ready, key=lambda d: self.priority[d.domid])  # first in queue order
        b = best.domid
        run = min(self.slice, until_accounting)
        if self.priority[b] != OVER and self.credit[b] > 0:  # until its credit runs out
            run = min(run, -(-int(self.credit[b] * self.host.steps_per_ms)
                             // self.credits_per_ms))
        if self.caps[b]:  # until it has run its cap's worth of the period
            run = min(run, -(-self.caps[b] * self.period // 100) - self.used[b])
        return best, max(run, 1)

    def state(self, domain: Domain) -> dict[str, float | str]:
        self._known(domain)
        return {"credit": round(self.credit[domain.domid], 2) + 0.0,  # + 0.0: never -0.0
                "priority": PRIORITY_NAME[self.priority[domain.domid]],
                "active": domain.domid in self.active,
                "parked": domain.domid in self.parked}
