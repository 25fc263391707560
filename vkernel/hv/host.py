"""One machine, several guests: the host, its domains, and the world switch.

A :class:`Host` is what a hypervisor is once it runs more than one guest (Xen calls the
guests *domains*, KVM *VMs*). It owns

* the :class:`~vkernel.machine.Machine` (one hart): its RAM is *machine memory*;
* a frame allocator (:class:`~vkernel.hv.memory.FrameAllocator`): every 4 KiB machine
  frame has an owner and is charged to a domain's account; a destroyed domain's frames
  are scrubbed and go back;
* the tags that keep the domains' translations apart in the one TLB: a VMID each for
  hardware-assisted domains (``hgatp.VMID``) and a block of ASIDs each for the software
  techniques' shadow or direct page tables;
* the domains, the scheduler (:mod:`vkernel.hv.scheduler`) and the trace.

Each :class:`Domain` has one vCPU. Only one vCPU is *loaded* in the hart at a time; to
run another, the host performs a **world switch**: it saves the running vCPU's context
(registers, pc, privilege mode, the CSR file — with a guest's VS CSRs, satp or the shadow
root, hgatp, pending interrupts — its timer, its counters and its clock) and loads the
other's. A switch is recorded as an ``hv`` event ``switch`` with its modelled cost.

**Time.** The host keeps virtual time in steps (``steps_per_ms`` to the millisecond). A
domain's own clock (``mtime``, ``rdtime``) runs while it runs and while it sleeps, and
stops while it waits for the CPU (Xen calls that *stolen* time). So a guest sees the same
time at the same instruction whether it runs alone or shares the machine: its output does
not depend on its neighbours.

**The run loop** is the one place that dispatches: it asks the scheduler who runs, runs
that vCPU until its slice ends (the host timer) or it exits, gives the exit to the
domain's technique, and acts on the action the technique returns
(:mod:`vkernel.hv.base`). A guest that does what its technique cannot go on with (a
HypervisorError) crashes alone, as Xen's domain_crash: the other domains go on. Observers
(widgets, notebooks) register an ``on_exit`` hook.

>>> from vkernel.hv import Host
>>> host = Host(machine_mb=32)
>>> a = host.create("null-syscall", technique="hardware", memory_mb=8, n=5, name="a")
>>> b = host.create("null-syscall", technique="paravirt", memory_mb=8, n=5, name="b")
>>> host.run().reason
'shutdown'
>>> [(d.name, d.result.code) for d in host.domains]
[('a', 0), ('b', 0)]
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vkernel.core import kernel as K
from vkernel.hv.balloon import HOST_RESERVE, TARGET, Balloon
from vkernel.hv.base import (
    CONTINUE,
    TECHNIQUES,
    Action,
    Block,
    HypervisorError,
    Shutdown,
    Technique,
    VMResult,
    Yield,
    memory_options,
)
from vkernel.hv.cost import EVENT, CostModel
from vkernel.hv.memory import NO_FRAME, PAGE, FrameAllocator, GuestMemoryError
from vkernel.hv.scheduler import Credit, Scheduler
from vkernel.hv.shadow import ASIDS_PER_DOMAIN
from vkernel.hv.sharing import PageSharing
from vkernel.hv.swap import Swap
from vkernel.isa.program import Program
from vkernel.machine import STEPS_PER_SECOND, TRACE_P2M, Exit, Machine, TraceSpec
from vkernel.trace.schema import NO_MODE

if TYPE_CHECKING:
    import xarray as xr

MASK64 = (1 << 64) - 1
MAX_DOMAINS = (1 << 16) // ASIDS_PER_DOMAIN  # as many as there are ASID blocks
STEPS_PER_MS = STEPS_PER_SECOND // 1000  # with 10 steps per mtime tick, a 1 MHz timebase
# the machine-state words that belong to the vCPU loaded in the hart (the rest of
# machine._s is the machine's: counters, time base, trace buffers)
VCPU_STATE = (K.S_PC, K.S_MODE, K.S_V, K.S_MTIMECMP, K.S_MSIP)
# what a domain that needs a frame meets when none is free (after asking the balloons):
# a refusal (a GuestMemoryError: that domain crashes), or a page of someone's swapped out
OVERCOMMIT = ("refuse", "swap")
MAX_HELD = 60_000  # ms: a policy that holds runnable domains back longer is broken
# memory reclamation's low-water mark by default, in free frames (Host(reclaim_below=))
RECLAIM_BELOW = 2 * HOST_RESERVE


@dataclass
class VCPUContext:
    """A vCPU that is not loaded: what the world switch saved of it."""

    x: np.ndarray = field(default_factory=lambda: np.zeros(32, np.int64))
    csr: np.ndarray = field(default_factory=lambda: np.zeros(4096, np.int64))
    state: np.ndarray = field(default_factory=lambda: np.zeros(len(VCPU_STATE), np.int64))
    clock: int = 0  # the domain's own time, in steps (mtime = clock // time_divider)
    cycle: int = 0  # its mcycle and minstret count its own instructions
    instret: int = 0
    host_traps: set[int] = field(default_factory=set)  # which of its traps exit to us
    host_traps_hs: set[int] = field(default_factory=set)

    @property
    def mode(self) -> int:
        """The privilege mode it was saved in (the trace's MODE encoding: VS is 5)."""
        return int(self.state[VCPU_STATE.index(K.S_MODE)]) \
            | int(self.state[VCPU_STATE.index(K.S_V)]) << 2


class VCPU:
    """A domain's virtual CPU, seen by the hypervisor. While the domain is loaded it *is*
    the machine's hart; :meth:`run` lets the guest run until a VM exit."""

    def __init__(self, domain: Domain) -> None:
        self.domain = domain
        self.machine = domain.machine

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


# the hv events that change a domain's p2m: each is a row of the p2m family too
P2M_EVENTS = ("balloon", "share", "unshare", "swap")


class Domain:
    """One guest on a :class:`Host`: its vCPU, its memory, its technique, its console, and
    what the host knows of it (state, weight and cap, CPU time used, exits).

    Made by :meth:`Host.create`; ``domid`` counts from 1 (0 is kept for a control domain,
    as in Xen)."""

    def __init__(self, host: Host, domid: int, name: str, technique: str, *,
                 memory_mb: int, weight: int, cap: int, seed: int, vmid: int,
                 asid_base: int, paging: str | None = None,
                 shadow: str | None = None, max_mb: int | None = None) -> None:
        self.host = host
        self.machine = host.machine
        self.domid = domid
        self.name = name
        self.technique_name = technique
        self.ram_mb = memory_mb  # the RAM it starts with (Xen's memory) ...
        self.max_mb = max_mb or memory_mb  # ... and the most it may grow to (maxmem)
        self.seed = seed
        self.weight = weight
        self.cap = cap
        self.cost = host.cost
        self.vcpu = VCPU(self)
        self.context = VCPUContext()
        self.frames = host.frames.account(name)
        self.asid_base = asid_base  # its block of ASIDs (software techniques)
        self.vmid = vmid  # its VMID (hardware assistance)
        self.paging = paging  # hardware assistance: "nested" or "shadow" (base.PAGINGS)
        self.shadow = shadow  # how its shadow tables are kept, if it has any (base.SHADOWS)
        self.console_bytes = bytearray()
        self.on_console: Callable[[int], None] | None = None  # each byte the guest prints
        self.state = "runnable"
        self.result: VMResult | None = None
        self.error: HypervisorError | None = None  # why it crashed, if it did
        self.exits = 0  # VM exits handled
        self.cpu_steps = 0  # host time it ran (steps, its exits included)
        self.woken_by_event = False
        self.blocked_since = 0
        self.wake_at: int | None = None  # host time its timer wakes it, while blocked
        self.wake_clock: int | None = None  # ... and its clock then
        self.current_exit: Exit | None = None  # the exit being handled
        self.technique: Technique = _technique_class(technique)(self)
        # the mode its hypervisor runs in: HS (1) with the H extension, else M (3)
        self.level = 1 if self.technique.hardware else 3
        self.memory: Any = None  # its GuestMemory, set by the technique's boot
        self.balloon: Balloon | None = None  # its balloon (vkernel.hv.balloon), if any

    def __repr__(self) -> str:
        return (f"<Domain {self.domid} {self.name!r}: {self.technique_name}, "
                f"{self.ram_mb} MiB, {self.state}>")

    # --- what the technique uses ------------------------------------------------------
    def record(self, event: str, cause: int = 0, detail: int = 0, *, units: int = 1,
               pc: int | None = None, vaddr: int = 0, entry: int = 0,
               satp: int = 0) -> None:
        """Record one ``hv`` row: ``event`` (a name of the schema's HV_EVENT) with its
        modelled cost, ``units`` times the event's price (a translation: instructions);
        a memory event's page, entry and address space in ``vaddr``, ``entry`` and
        ``satp`` (see the schema's ``hv`` family). An event that changes the p2m
        (``detail`` the page, ``entry`` its frame now) is a ``p2m`` row too."""
        if event in P2M_EVENTS and not (event == "balloon" and cause == TARGET):
            self.machine.record_p2m(self.domid, detail, None if entry == NO_FRAME else entry)
        if not self.machine._s[K.S_TRACE] & K.TRACE_HV:
            return  # not recorded: nothing to work out
        cycles = self.cost.of(event, hardware=self.technique.hardware) * units
        self.machine.record_hv(EVENT[event], cause, detail,
                               self.vcpu.pc if pc is None else pc, cycles,
                               from_mode=self.exit_mode, level=self.level,
                               vaddr=vaddr, entry=entry, satp=satp, domain=self.domid)

    def record_p2m(self) -> None:
        """Record its whole p2m as it is now (the ``p2m`` family, when it is being
        recorded): a row per guest page with a frame behind it. The host does this when
        it makes the domain; :meth:`record` adds a row for each page that changes later
        (balloon, share, unshare, swap), so a trace can redraw any domain's p2m at any
        step (``ds.vk.p2m(step)``)."""
        memory = self.memory
        if not self.machine._s[K.S_TRACE] & TRACE_P2M or memory is None \
                or getattr(memory, "frames", None) is None:  # (native: it is the machine)
            return
        for i, frame in enumerate(memory.p2m.tolist()):
            if frame >= 0:
                self.machine.record_p2m(self.domid, memory.base + i * PAGE, frame)

    @property
    def exit_mode(self) -> int:
        """The mode the guest left for the exit being handled (NO_MODE outside one)."""
        exit = self.current_exit
        if exit is None or exit.from_mode is None:
            return NO_MODE
        return int(exit.from_mode)



    def console_byte(self, b: int) -> None:
        self.console_bytes.append(b)
        if self.on_console is not None:
            self.on_console(b)

    # --- looking at the guest ---------------------------------------------------------
    @property
    def console(self) -> str:
        """Everything the guest printed."""
        if self.technique_name == "native":
            return self.machine.console
        return self.console_bytes.decode("utf-8", errors="replace")

    def virtual_csrs(self) -> dict[str, int]:
        return self.technique.virtual_csrs()

    @property
    def loaded(self) -> bool:
        """Whether this domain's vCPU is the one in the hart now."""
        return self.host.loaded is self


@dataclass(frozen=True)
class HostResult:
    """How :meth:`Host.run` ended: ``"shutdown"`` (every domain has switched itself off),
    ``"budget"`` (``max_steps`` spent) or ``"idle"`` (every domain left waits for an event
    nothing will send)."""

    reason: str
    steps: int


class Host:
    """A machine running several domains (see the module's docstring).

    ``machine_mb`` is the machine's RAM; ``seed`` shuffles the frames handed out;
    ``scheduler`` a :class:`~vkernel.hv.scheduler.Scheduler` (Xen's credit scheduler by
    default); ``cost`` the cycle costs; ``trace`` what to record (as for a Machine; the
    ``hv`` family holds what the hypervisor did); ``sensitive_unprivileged`` Popek and
    Goldberg's switch and ``walk_cache`` the MMU's page-walk caches (see
    :class:`~vkernel.machine.Machine`).

    **Memory pressure**, in the order the host meets it (ESX's "memory reclamation",
    balloon before swap; Xen's squeezed setting ``memory/target``):

    1. *ballooning*: when the free frames fall below ``reclaim_below`` (by default
       ``2 * HOST_RESERVE``, 128 frames, half a MiB; 0 turns reclamation off), checked at
       every scheduling decision and whenever a domain needs a frame
       (:meth:`frame_for`), :meth:`reclaim` lowers the balloon targets of the running
       domains, each by a share of the deficit proportional to its pages, never below
       its floor (``create(min_mb=)``), and asks their drivers. They give pages when they
       next run: asynchronously, as in reality. When the free frames are back above
       twice the mark, the targets go back up;
    2. only when the frames actually run out does ``overcommit`` decide: ``"refuse"``
       (the default: the domain that needed the frame crashes, a GuestMemoryError) or
       ``"swap"`` (a page of some domain goes to the host's swap file,
       :mod:`vkernel.hv.swap`).

    Every target change is an ``hv`` row ``balloon`` with cause 2 (detail: the target),
    so the trace shows the targets, then the pages ballooned, then any swapping."""

    def __init__(self, *, machine_mb: int = 64, seed: int = 0,
                 scheduler: Scheduler | None = None, cost: CostModel | None = None,
                 trace: TraceSpec = None, sensitive_unprivileged: bool = False,
                 steps_per_ms: int = STEPS_PER_MS, walk_cache: bool = False,
                 overcommit: str = "refuse", reclaim_below: int | None = None) -> None:
        self.machine = Machine(ram_mb=machine_mb, sensitive_unprivileged=sensitive_unprivileged,
                               walk_cache=walk_cache)
        self.seed = seed
        self.cost = cost or CostModel()
        self.steps_per_ms = steps_per_ms
        self.frames = FrameAllocator(self.machine, seed=seed)
        self.domains: list[Domain] = []
        self.scheduler = scheduler or Credit()
        self.scheduler.attach(self)
        self.loaded: Domain | None = None  # whose vCPU is in the hart
        self.current: Domain | None = None  # who the scheduler lets run now
        self.slice_end = 0
        self.exits = 0
        self.switches = 0
        self.idle_steps = 0  # host time with nobody to run
        self.on_exit: list[Callable[[Domain, Exit, Action], None]] = []
        # what ran when: (domid, start, end, exits), one row per uninterrupted run
        self.segments: list[tuple[int, int, int, int]] = []
        self.exit_log: dict[tuple[int, int], int] = {}  # (domid, ms) -> VM exits
        self._next_domid = 1
        self.sharing = PageSharing(self)  # content-based page sharing (share_pages)
        if overcommit not in OVERCOMMIT:
            raise HypervisorError(f"overcommit is one of {', '.join(OVERCOMMIT)}, "
                                  f"not {overcommit!r}")
        self.overcommit = overcommit  # what a domain needing a frame meets with none free
        if reclaim_below is None:
            reclaim_below = RECLAIM_BELOW
        if not isinstance(reclaim_below, int) or reclaim_below < 0:
            raise HypervisorError(f"reclaim_below is a number of free frames (0: never "
                                  f"reclaim), not {reclaim_below!r}")
        # memory reclamation: below this many free frames the host lowers balloon targets
        self.reclaim_below = reclaim_below
        self.swap = Swap(self) if overcommit == "swap" else None
        if self.swap is not None:  # the hypervisor's own allocations may swap too
            self.frames.on_empty = self.swap.make_room
        self.machine.on_console = self._native_console
        if trace is not None:
            _start_trace(self.machine, trace)

    def __repr__(self) -> str:
        return (f"<Host {self.machine.ram_mb} MiB, {len(self.domains)} domains, "
                f"{self.steps} steps>")

    # --- time ---------------------------------------------------------------------------
    @property
    def steps(self) -> int:
        """What budgets count: the machine's steps (instructions retired and traps taken
        inside it) and the VM exits the hypervisor handled, so that a guest that makes the
        hypervisor loop (a storm of exits) still runs out of budget."""
        return self.machine.steps + self.exits

    @property
    def now(self) -> int:
        """Host time, in steps: the steps run and the time nobody was running."""
        return self.steps + self.idle_steps

    # --- domains ------------------------------------------------------------------------
    def create(self, guest: Program | str = "hello", technique: str = "hardware", *,
               memory_mb: int = 8, weight: int = 256, cap: int = 0,
               name: str | None = None, n: int | None = None, paging: str | None = None,
               shadow: str | None = None, max_mb: int | None = None,
               min_mb: float | None = None) -> Domain:
        """Build a domain and boot its guest (ready to run; it runs in :meth:`run`).

        ``guest`` is the guest kernel: an assembled :class:`~vkernel.isa.program.Program`
        linked for guest physical addresses, or the name of a shipped workload
        (:data:`vkernel.guests.WORKLOADS`, whose ``n`` is the operation count);
        ``technique`` one of :data:`~vkernel.hv.base.TECHNIQUES`; ``memory_mb`` its RAM;
        ``weight`` its share of the CPU against the others' (Xen's default 256) and
        ``cap`` the most CPU it may have, in percent (0: no limit); ``paging`` how hardware
        assistance translates its memory (:data:`~vkernel.hv.base.PAGINGS`) and ``shadow``
        how shadow tables are kept (:data:`~vkernel.hv.base.SHADOWS`), where they apply.

        ``max_mb`` (Xen's maxmem; by default ``memory_mb``) is the most RAM the domain may
        have: its guest physical memory is that big, and the pages above ``memory_mb``
        start ballooned out, so that :meth:`balloon` can later let it grow. ``min_mb``
        (Xen's dynamic-min; by default three quarters of ``memory_mb``) is the least the
        host's memory reclamation (:meth:`reclaim`) lowers its balloon target to."""
        if technique not in TECHNIQUES:
            raise HypervisorError(f"unknown technique {technique!r}; choose from "
                                  f"{', '.join(TECHNIQUES)}")
        paging, shadow = memory_options(technique, paging, shadow)
        if any(d.technique_name == "native" for d in self.domains):
            raise HypervisorError("a native guest owns the whole machine: it cannot share it")
        if technique == "native" and self.domains:
            raise HypervisorError("a native guest needs the whole machine, and this host "
                                  "already runs domains")
        if len(self.domains) >= MAX_DOMAINS:
            raise HypervisorError(f"a host runs at most {MAX_DOMAINS} domains")
        if not isinstance(weight, int) or weight < 1:
            raise HypervisorError(f"a weight is a positive integer, not {weight!r}")
        if not isinstance(cap, int) or not 0 <= cap <= 100:
            raise HypervisorError(f"a cap is a percentage from 0 (none) to 100, not {cap!r}")
        if max_mb is not None and (not isinstance(max_mb, int) or max_mb < memory_mb):
            raise HypervisorError(f"max_mb is at least memory_mb ({memory_mb}), not {max_mb!r}")
        if min_mb is not None and (not isinstance(min_mb, (int, float))
                                   or not 0 < min_mb <= memory_mb):
            raise HypervisorError(f"min_mb is more than 0 and at most memory_mb "
                                  f"({memory_mb}), not {min_mb!r}")
        if max_mb not in (None, memory_mb) and technique == "native":
            raise HypervisorError("a native guest has no balloon: max_mb does not apply")
        domid = self._next_domid
        name = name or f"dom{domid}"
        if any(d.name == name for d in self.domains):
            raise HypervisorError(f"a domain named {name!r} exists already")
        program = _guest_program(guest, technique, n)
        # the TLB tags it gets: the lowest VMID and ASID block no live domain has
        vmid = min(set(range(1, MAX_DOMAINS + 1)) - {d.vmid for d in self.domains})
        block = min(set(range(MAX_DOMAINS)) - {d.asid_base // ASIDS_PER_DOMAIN
                                               for d in self.domains})
        domain = Domain(self, domid, name, technique, memory_mb=memory_mb, weight=weight,
                        cap=cap, seed=self.seed, vmid=vmid,
                        asid_base=block * ASIDS_PER_DOMAIN, paging=paging, shadow=shadow,
                        max_mb=max_mb)
        self._next_domid += 1
        self.machine.domain_info[domid] = {"name": name, "technique": technique}  # trace
        if technique != "native" and self.machine.program is None:
            self.machine.program = program  # what the trace's attributes name
        outgoing = self.loaded
        if outgoing is not None:
            self._save(outgoing)
            self._fresh_hart()
        self._tag(domid)
        try:
            domain.technique.boot(program)
        except Exception:  # (no room for it, say): nothing of it may stay behind
            self.frames.release(name)
            self._fresh_hart()
            if outgoing is not None:
                self._load(outgoing)
                self._tag(outgoing.domid)
            raise
        domain.record_p2m()
        self.machine.complete_hv(int(self.machine.hart.mode))  # boot's rows: where it starts
        if self.swap is not None and Swap.can_swap(domain):
            memory = domain.memory
            memory.on_swapped_access = domain.technique.read_back
        if technique != "native":  # its balloon, on the interface its technique offers
            domain.balloon = Balloon(domain, None if min_mb is None else int(min_mb * 256))
            sbi = getattr(domain.technique, "sbi", None)
            if sbi is not None:
                sbi.balloon = domain.balloon
        self.loaded = domain
        self.domains.append(domain)
        if outgoing is not None:  # the hart goes back to whoever was in it
            self._save(domain)
            self._load(outgoing)
            self._tag(outgoing.domid)
        self.scheduler.wake(domain, self.now)
        return domain

    def domain(self, which: int | str) -> Domain:
        """A domain by its domid or its name."""
        for d in self.domains:
            if which in (d.domid, d.name):
                return d
        raise HypervisorError(f"no domain {which!r} on this host")

    def pause(self, domain: Domain) -> None:
        """Stop scheduling ``domain`` (its state is kept) until :meth:`unpause`."""
        if domain.state == "shutdown":
            raise HypervisorError(f"{domain.name} has shut down")
        if domain.state in ("runnable", "running"):
            self.scheduler.sleep(domain, self.now)
            if self.current is domain:  # off the CPU now: the scheduler picks again
                self.current = None
        domain.state = "paused"

    def unpause(self, domain: Domain) -> None:
        if domain.state != "paused":
            raise HypervisorError(f"{domain.name} is not paused")
        domain.state = "runnable"
        domain.woken_by_event = False
        self.scheduler.wake(domain, self.now)

    def balloon(self, domain: Domain, target_mb: float) -> None:
        """Ask ``domain`` to have ``target_mb`` MiB of RAM (Xen's ``xl mem-set``): its
        guest's balloon driver gives pages back (inflates) or takes them (deflates) as it
        next runs (:mod:`vkernel.hv.balloon`). Frames it gives go back to the host, where
        a domain below its own target gets them."""
        if domain.balloon is None:
            raise HypervisorError(f"{domain.name} ({domain.technique_name}) has no balloon")
        if domain.state == "shutdown":
            raise HypervisorError(f"{domain.name} has shut down")
        domain.balloon.set_target(int(target_mb * 256))  # 256 pages of 4 KiB to the MiB

    def balloon_released(self, giver: Domain) -> None:
        """``giver`` gave frames back: every other domain still below its target is asked
        again (its driver may have found no free frame before)."""
        for d in self.domains:
            if d is not giver and d.balloon is not None and d.state != "shutdown" \
                    and d.memory.populated < d.balloon.target:
                d.balloon.ask()

    def share_pages(self) -> int:
        """Scan the domains' memory and merge identical pages into shared, read-only,
        copy-on-write frames (VMware ESX's content-based page sharing,
        :mod:`vkernel.hv.sharing`). Returns how many frames that freed."""
        return self.sharing.scan()

    def frame_for(self, domain: Domain, *, keep: int | None = None) -> int:
        """A fresh frame for ``domain`` (a copy-on-write break, a page read back from
        swap: ``keep``). Ballooning first: below the low-water mark the host lowers
        balloon targets (:meth:`reclaim`), which frees frames as the drivers next run.
        Then, with ``overcommit="swap"`` and no more free frames than the hypervisor keeps
        for its own tables (balloon.HOST_RESERVE), a victim page goes to the swap file.
        With no frame free, the request is refused: a GuestMemoryError, which crashes the
        domain that needed it, never the host."""
        self.reclaim()
        if self.swap is not None and self.frames.free_frames <= HOST_RESERVE:
            self.swap.swap_out(keep=None if keep is None else (domain, keep))
        if not self.frames.free_frames:
            raise GuestMemoryError(
                f"{domain.name} needs a frame for a copy-on-write break and the machine "
                f"has none free: the host is overcommitted (shared pages are promised "
                f"memory); balloon a domain down or give the machine more RAM")
        return domain.frames.alloc(domain.name)

    def reclaim(self) -> int:
        """Memory reclamation by ballooning (see the class's docstring); returns the pages
        taken off the targets. The host counts the free frames there will be once every
        driver has done what it was asked (with what the domains above their target
        still owe, less what the ones below may still take). Below ``reclaim_below``,
        it wants them back up to twice the mark: it lowers the targets of the domains
        on target (neither giving nor taking pages now), each by a share of what is
        missing proportional to its target, never below its floor. A driver gives free
        pages of its own when it next runs; the frames behind them come back (a page
        shared with others frees nothing: it was one frame already). Above twice the
        mark, the targets the host lowered go back up towards what the administrator
        set, by what is free beyond twice the mark (so that taking it does not bring the
        pressure back at once), and the drivers take pages again."""
        mark = self.reclaim_below
        if not mark:
            return 0
        balloons = [d.balloon for d in self.domains if d.balloon is not None
                    and d.state in ("runnable", "running", "blocked")]
        # the free frames once every driver has done what it was asked: what the ones
        # above their target still owe the host, less what the ones below may still take
        free = self.frames.free_frames + sum(b.memory.populated - b.target for b in balloons)
        lowered = 0
        if free >= 2 * mark:  # the pressure is gone: give back what reclamation took
            spare = free - 2 * mark
            for b in balloons:
                if spare > 0 and b.target < b.wanted:
                    up = min(b.wanted - b.target, spare)
                    spare -= up
                    b.retarget(b.target + up)
        elif free < mark:  # lower the targets of the domains with pages to spare
            missing = 2 * mark - free
            able = [b for b in balloons if b.floor < b.target == b.memory.populated]
            total = sum(b.target for b in able)
            for b in able:
                share = -(-missing * b.target // total)  # (rounded up)
                target = max(b.target - share, b.floor)
                b.reclaimed += b.target - target
                lowered += b.target - target
                b.retarget(target)
        return lowered

    def notify(self, domain: Domain) -> None:
        """An event for ``domain`` from outside (a device, another domain): a blocked
        domain wakes, and the scheduler may let it preempt the running one."""
        if domain.state == "blocked":
            self._wake(domain, by_event=True)

    def destroy(self, domain: Domain) -> None:
        """Take ``domain`` off the host: every frame it had (its RAM, and the hypervisor's
        structures for it) is scrubbed and returned to the allocator."""
        if domain not in self.domains:
            raise HypervisorError(f"{domain.name} is not on this host")
        self.scheduler.sleep(domain, self.now)
        if self.current is domain:
            self.current = None
        if self.loaded is domain:  # its registers and CSRs must not outlive it either:
            self.loaded = None       # the next domain created would boot on them
            self._fresh_hart()
        domain.state = "shutdown"
        if domain.result is None:
            domain.result = VMResult("destroyed", None, self.steps)
        self.sharing.forget_domain(domain)  # its shared pages: freed when nobody else uses them
        if self.swap is not None:  # its pages on the swap file: their slots are free
            self.swap.forget_domain(domain)
        self.frames.release(domain.name)
        self.machine.hart.flush_tlb()  # no translation of its frames may outlive them
        self.domains.remove(domain)

    # --- the run loop -------------------------------------------------------------------
    def run(self, max_steps: int | None = None) -> HostResult:
        """Run the domains until all have shut down, ``max_steps`` steps have passed (VM
        exits included), or nobody is left who could run."""
        start = self.steps
        idle_since: int | None = None  # host time the CPU has idled from, with work queued
        while True:
            if all(d.state == "shutdown" for d in self.domains):
                return HostResult("shutdown", self.steps)
            left = None if max_steps is None else max_steps - (self.steps - start)
            if left is not None and left <= 0:
                return HostResult("budget", self.steps)
            self._wake_sleepers()
            if self.current is None or self.now >= self.slice_end:
                self._schedule()
            d = self.current
            if d is None:  # nobody to run now: the CPU idles until a timer, or until the
                # scheduler decides again (a domain parked by its cap runs next period)
                wake = self._next_wake()
                if wake is None and not self.scheduler.queue:
                    return HostResult("idle", self.steps)
                until = self.slice_end if wake is None else min(wake, self.slice_end)
                if idle_since is None:
                    idle_since = self.now
                elif wake is None and self.now - idle_since > MAX_HELD * self.steps_per_ms:
                    raise HypervisorError(
                        f"the {self.scheduler.name} scheduler has kept every runnable domain "
                        f"waiting for {MAX_HELD / 1000:g} s of host time")
                self.idle_steps += max(until - self.now, 1)
                continue
            idle_since = None
            self._run_vcpu(d, left)

    def _run_vcpu(self, d: Domain, left: int | None) -> None:
        """Run the current domain until its slice ends, a sleeper's timer is due (it may
        preempt), its exit asks for something other than to continue, or ``left`` steps
        are spent; then account for it and act on what happened."""
        if self.loaded is not d:
            self._switch_to(d)
        s = self.machine._s
        instret, traps, time_offset = K.S_INSTRET, K.S_TRAPS, K.S_TIME_OFF
        before, steps, exits = self.now, self.steps, self.exits
        end = self.slice_end
        wake = self._next_wake()
        if wake is not None:
            end = min(end, max(wake, before + 1))
        if left is not None:
            end = min(end, before + left)
        action: Action = CONTINUE
        slept = 0
        now = before
        run = d.vcpu.run
        while True:  # one exit after another, until something else is to happen
            limit = end if end < self.slice_end else self.slice_end
            time_off = s[time_offset]
            exit = run(max(limit - now, 1))
            reason = exit.reason
            # a lone domain's wfi sleeps inside the hart until its timer (its clock jumps):
            # that time the CPU idled, and host time moves on with the domain's clock
            slept = int(s[time_offset] - time_off)
            if reason == "budget":
                pass
            elif reason == "halt":  # a native guest's firmware switched the machine off
                action = Shutdown(exit.exit_code or 0)
            elif reason == "wfi-idle":  # nothing inside the machine could wake it
                action = Block(None)
            else:
                action = self._exit(d, exit, int(s[instret] + s[traps]) + self.exits
                                    + self.idle_steps)
            now = int(s[instret] + s[traps]) + self.exits + self.idle_steps
            if action is not CONTINUE or reason == "budget" or slept or now >= limit:
                break
        slept = max(slept, 0)
        ran = self.steps - steps
        d.cpu_steps += ran
        last = self.segments[-1] if self.segments else None
        if last is not None and last[0] == d.domid and last[2] == before:  # still running
            self.segments[-1] = (d.domid, last[1], now, last[3] + self.exits - exits)
        else:
            self.segments.append((d.domid, before, now, self.exits - exits))
        self.scheduler.charge(d, ran, now)
        self.idle_steps += slept
        if action is not CONTINUE:
            self._act(d, action)

    def _exit(self, d: Domain, exit: Exit, now: int) -> Action:
        """One VM exit: the domain's technique handles it and says what happens next."""
        self.exits += 1  # a VM exit is a step of the budget, like a trap
        d.exits += 1
        key = (d.domid, now // self.steps_per_ms)  # exits per millisecond
        self.exit_log[key] = self.exit_log.get(key, 0) + 1
        d.current_exit = exit
        try:
            action = d.technique.handle(exit)
        except HypervisorError as error:  # the guest did what its hypervisor cannot go
            d.error = error               # on with: it crashes alone, and the others go
            action = Shutdown(-1)         # on (Xen's domain_crash)
        d.current_exit = None
        if self.machine._hv_rows and not isinstance(action, Shutdown):
            self.machine.complete_hv(int(self.machine.hart.mode))  # where the guest resumes
        for hook in self.on_exit:
            hook(d, exit, action)
        return action

    def _act(self, d: Domain, action: Action) -> None:
        """What the technique's answer to an exit means for the domain."""
        if isinstance(action, Shutdown):
            d.result = VMResult("shutdown", action.code, self.steps) if d.error is None \
                else VMResult("crashed", None, self.steps)
            d.state = "shutdown"
            self.scheduler.sleep(d, self.now)
            self.current = None
        elif isinstance(action, Block):
            self._block(d, action.timer)
        elif isinstance(action, Yield):
            self.scheduler.requeue(d, self.now)
            d.state = "runnable"
            self.current = None

    # --- scheduling ---------------------------------------------------------------------
    def _schedule(self) -> None:
        """The scheduler picks who runs next, and for how long (the host timer). First
        the host looks at its free memory (:meth:`reclaim`): a cheap check, each time."""
        rows = len(self.machine._hv_rows)
        self.reclaim()
        if len(self.machine._hv_rows) > rows:  # target rows: they belong to no exit
            self.machine.complete_hv(NO_MODE)
        previous = self.current
        if previous is not None and previous.state == "running":
            previous.state = "runnable"
            self.scheduler.requeue(previous, self.now)
        chosen, budget = self.scheduler.pick(self.now)
        if chosen is not None:
            self.scheduler.sleep(chosen, self.now)  # off the queue while it runs
            chosen.state = "running"
        self.current = chosen
        self.slice_end = self.now + max(int(budget), 1)

    def _block(self, d: Domain, timer: int | None) -> None:
        """``d`` waits for an event: its timer (on its own clock) or a notify()."""
        d.state = "blocked"
        self.scheduler.sleep(d, self.now)
        self.current = None
        d.blocked_since = self.now
        if self.loaded is d:  # it stays in the hart until someone else needs it: its clock
            d.context.clock = self.machine.hart.instret + int(self.machine._s[K.S_TIME_OFF])
        if timer is None:
            d.wake_at = d.wake_clock = None
        else:
            d.wake_clock = timer
            d.wake_at = self.now + max(timer - d.context.clock, 0)

    def _wake(self, d: Domain, *, by_event: bool) -> None:
        """``d`` becomes runnable. Its clock ran while it slept, up to its timer."""
        slept = self.now - d.blocked_since
        clock = d.context.clock + slept
        if d.wake_clock is not None:
            clock = min(clock, d.wake_clock) if by_event else d.wake_clock
        d.context.clock = max(clock, d.context.clock)
        if self.loaded is d:  # still in the hart: its clock moves there
            self.machine._s[K.S_TIME_OFF] = d.context.clock - self.machine.hart.instret
        d.wake_at = d.wake_clock = None
        d.state = "runnable"
        d.woken_by_event = True
        if self.scheduler.wake(d, self.now) and self.current is not None:
            self.slice_end = self.now  # it preempts the running domain at once

    def _wake_sleepers(self) -> None:
        for d in self.domains:
            if d.state == "blocked" and d.wake_at is not None and d.wake_at <= self.now:
                self._wake(d, by_event=False)

    def _next_wake(self) -> int | None:
        times = [d.wake_at for d in self.domains
                 if d.state == "blocked" and d.wake_at is not None]
        return min(times) if times else None

    # --- the world switch ---------------------------------------------------------------
    def _switch_to(self, d: Domain) -> None:
        """Save the vCPU in the hart, load ``d``'s, and record it."""
        outgoing = self.loaded
        if outgoing is not None:
            self._save(outgoing)
        self._tag(d.domid)
        self._load(d)
        self.switches += 1
        self.machine.record_hv(EVENT["switch"], outgoing.domid if outgoing else 0, d.domid,
                               self.machine.hart.pc, self.cost.of("switch"),
                               from_mode=outgoing.context.mode if outgoing else NO_MODE,
                               level=d.level)
        self.machine.complete_hv(int(self.machine.hart.mode))

    def _save(self, d: Domain) -> None:
        m, ctx = self.machine, d.context
        s = m._s
        np.copyto(ctx.x, m._x)
        np.copyto(ctx.csr, m._csr)
        ctx.state[:] = s[list(VCPU_STATE)]
        instret = int(s[K.S_INSTRET])
        ctx.clock = instret + int(s[K.S_TIME_OFF])
        ctx.cycle = instret + int(s[K.S_CYCLE_OFF])
        ctx.instret = instret + int(s[K.S_INSTRET_OFF])
        ctx.host_traps = set(m.host_traps)
        ctx.host_traps_hs = set(m.host_traps_hs)
        if self.loaded is d:
            self.loaded = None

    def _load(self, d: Domain) -> None:
        m, ctx = self.machine, d.context
        s = m._s
        np.copyto(m._x, ctx.x)
        np.copyto(m._csr, ctx.csr)
        s[list(VCPU_STATE)] = ctx.state
        instret = int(s[K.S_INSTRET])
        s[K.S_TIME_OFF] = ctx.clock - instret
        s[K.S_CYCLE_OFF] = ctx.cycle - instret
        s[K.S_INSTRET_OFF] = ctx.instret - instret
        s[K.S_RES_ADDR] = -1  # an LR reservation does not survive a switch
        m.host_traps = set(ctx.host_traps)
        m.host_traps_hs = set(ctx.host_traps_hs)
        self.loaded = d
        d.technique.on_share(len(self.domains) > 1)

    def _fresh_hart(self) -> None:
        """The hart as a new vCPU finds it: as at reset (the machine's counters and time
        base stay)."""
        m = self.machine
        s, csr = m._s, m._csr
        m._x[:] = 0
        csr[:] = 0
        s[list(VCPU_STATE)] = 0
        s[K.S_MODE] = K.PRV_M
        s[K.S_MTIMECMP] = -1
        s[K.S_RES_ADDR] = -1
        instret = int(s[K.S_INSTRET])
        s[K.S_TIME_OFF] = s[K.S_CYCLE_OFF] = s[K.S_INSTRET_OFF] = -instret
        csr[K.CSR_MSTATUS] = K.MSTATUS_UXL_SXL
        csr[K.CSR_MENVCFG] = K.MENVCFG_ADUE if m.hardware_ad else 0
        m.host_traps = set()
        m.host_traps_hs = set()

    def _tag(self, domid: int) -> None:
        """From now on, what the machine records is ``domid``'s."""
        self.machine.set_domain(domid)

    def _native_console(self, ch: str) -> None:
        for d in self.domains:
            if d.technique_name == "native" and d.on_console is not None:
                d.on_console(ord(ch))

    # --- looking at it ------------------------------------------------------------------
    def trace_dataset(self) -> xr.Dataset:
        """The recorded trace (hv rows included)."""
        return self.machine.trace_dataset()

    def usage(self, interval_ms: int = 30) -> xr.Dataset:
        """Resource accounting as a Dataset: for each ``interval_ms`` of host time, each
        domain's CPU share (``cpu``: the fraction of the interval it ran), its ``steps``
        and ``exits``, and the host's ``idle`` fraction and world ``switches``; plus each
        domain's memory (``memory_frames``: frames charged to it, its RAM and the
        hypervisor's structures for it)."""
        import xarray as xr

        width = interval_ms * self.steps_per_ms
        n = max(-(-self.now // width), 1)
        ids = [d.domid for d in self.domains] + sorted(
            {s[0] for s in self.segments} - {d.domid for d in self.domains})
        index = {domid: i for i, domid in enumerate(ids)}
        steps = np.zeros((len(ids), n), np.int64)
        exits = np.zeros((len(ids), n), np.int64)
        for domid, lo, hi, _ in self.segments:
            i = index[domid]
            while lo < hi:
                b = lo // width
                end = min(hi, (b + 1) * width)
                steps[i, b] += end - lo
                lo = end
        for (domid, ms), k in self.exit_log.items():
            exits[index[domid], min(ms // interval_ms, n - 1)] += k
        live = {d.domid: d for d in self.domains}  # (the others were destroyed)
        names = [live[i].name if i in live else f"dom{i}" for i in ids]
        start = np.arange(n) * width
        length = np.minimum(start + width, max(self.now, 1)) - start
        cpu = steps / np.maximum(length, 1)
        accounts = self.frames.usage()
        return xr.Dataset(
            {"cpu": (("domain", "interval"), cpu, {"units": "1",
                     "description": "fraction of the interval the domain ran"}),
             "steps": (("domain", "interval"), steps, {"units": "step"}),
             "exits": (("domain", "interval"), exits, {"units": "1"}),
             "idle": (("interval",), 1 - cpu.sum(axis=0), {"units": "1"}),
             "memory_frames": (("domain",), [accounts.get(nm, 0) for nm in names],
                               {"units": "4 KiB frame"}),
             "weight": (("domain",), [live[i].weight if i in live else 0 for i in ids]),
             "cap": (("domain",), [live[i].cap if i in live else 0 for i in ids])},
            coords={"domain": ids, "name": ("domain", names),
                    "interval": np.arange(n), "start_ms": ("interval", start / self.steps_per_ms)},
            attrs={"interval_ms": interval_ms, "steps_per_ms": self.steps_per_ms,
                   "scheduler": self.scheduler.name, "switches": self.switches,
                   "free_frames": self.frames.free_frames})

    # --- save and restore ---------------------------------------------------------------
    def save(self) -> HostSnapshot:
        """Everything the host is: the machine, and every domain's and the hypervisor's
        state. :meth:`restore` of it continues bit-identically."""
        machine = self.machine.snapshot()
        swapped = self.swap.contents() if self.swap is not None else None
        return HostSnapshot(machine, _copy_state(self, self.machine), swapped)

    def restore(self, snap: HostSnapshot) -> None:
        """Go back to ``snap``. Domain objects stay the same objects (references to them
        stay good); their state becomes the saved one."""
        self.machine.restore(snap.machine)
        _restore_state(self, snap.state, self.machine)
        if self.swap is not None and snap.swap_file is not None:
            self.swap.set_contents(snap.swap_file)  # (slots reused since hold other pages)


@dataclass
class HostSnapshot:
    machine: Any
    state: dict[str, Any]
    swap_file: bytes | None = None  # the swap file as it was (its slots are reused)


# Observers are the caller's, not the host's state: a save keeps none, a restore keeps
# the ones registered now.
_OBSERVERS = ("on_exit", "on_console")


def _without_observers(obj: Any) -> dict[str, Any]:
    return {k: v for k, v in obj.__dict__.items() if k not in _OBSERVERS}


def _copy_state(host: Host, machine: Machine) -> dict[str, Any]:
    """A deep copy of the host's Python state: its domains, their techniques, memory maps
    and devices, the scheduler, the frame allocator. The machine (saved separately) and
    the host object itself are referenced, not copied."""
    memo: dict[int, Any] = {id(machine): machine, id(host): host}
    # which traps exit to the hypervisor is the loaded vCPU's, kept by the machine outside
    # its arrays (so outside its snapshot)
    traps = (set(machine.host_traps), set(machine.host_traps_hs))
    return copy.deepcopy({"host": _without_observers(host),
                          "domains": [(d, _without_observers(d)) for d in host.domains],
                          "host_traps": traps}, memo)


def _restore_state(host: Host, saved: dict[str, Any], machine: Machine) -> None:
    """Put a saved state back into the live objects. Each saved domain is mapped to the
    live domain with its domid (so references to it stay good), and everything else is
    copied afresh from the saved state (so it can be restored again)."""
    live = {d.domid: d for d in host.domains}
    memo: dict[int, Any] = {id(machine): machine, id(host): host}
    for saved_domain, _ in saved["domains"]:
        memo[id(saved_domain)] = live.get(saved_domain.domid) or Domain.__new__(Domain)
    host_state = copy.deepcopy(saved["host"], memo)
    for saved_domain, state in saved["domains"]:
        domain = memo[id(saved_domain)]
        observer = getattr(domain, "on_console", None)
        domain.__dict__.clear()
        domain.__dict__.update(copy.deepcopy(state, memo))
        domain.on_console = observer
    observers = host.on_exit
    host.__dict__.clear()
    host.__dict__.update(host_state)
    host.on_exit = observers
    machine.host_traps, machine.host_traps_hs = (set(t) for t in saved["host_traps"])


def _start_trace(machine: Machine, trace: TraceSpec) -> None:
    if isinstance(trace, str):
        machine.trace(trace)
    elif isinstance(trace, dict):
        options = dict(trace)
        families = options.pop("families", ())
        machine.trace(*((families,) if isinstance(families, str) else families), **options)
    else:
        machine.trace(*trace)


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


__all__ = ["Domain", "Host", "HostResult", "HostSnapshot", "VCPU",
           "VCPUContext"]
