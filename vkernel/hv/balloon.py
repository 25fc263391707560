"""Ballooning: taking memory back from a running guest, and giving it back.

A hypervisor that has handed a guest its memory cannot simply take pages back: it does
not know which the guest uses. Waldspurger's answer (VMware ESX, OSDI 2002), and Xen's
balloon driver: ask the guest. A *balloon driver* inside the guest kernel allocates pages
from its own allocator when the host asks for memory (the balloon *inflates*) and hands
them to the host, which frees the machine frames behind them and can give them to another
domain. When the host gives memory back, the driver *deflates*: the host backs those
guest pages with fresh frames again and the driver frees them into its allocator. The
guest's own allocator decides what it can spare, so nothing it uses is ever taken.

The host side lives here, one :class:`Balloon` per domain: its *target* (the pages the host
wants the guest to have: Xen's ``memory/target``), and the two operations the driver
calls, through whichever interface its technique has (the SBI's balloon extension,
:mod:`vkernel.hv.sbi`; the para-virtual ``memory_op`` hypercall, :mod:`vkernel.hv.paravirt`):

* :meth:`Balloon.give` (inflate; Xen's ``XENMEM_decrease_reservation``): for each page,
  the technique may refuse (a para-virtual guest's page still mapped by its tables); else
  the p2m entry becomes a hole, every translation to the frame is dropped (a G-stage
  leaf, shadow entries, and the TLB), and the frame is scrubbed and freed;
* :meth:`Balloon.take` (deflate; ``XENMEM_populate_physmap``): for each hole, up to the
  target and while the host has free frames (beyond a small reserve for its own tables),
  a fresh zeroed frame charged to the domain.

Each page moved is an ``hv`` row ``balloon`` (cause 1: out of the guest, 0: back in;
detail: its guest physical address), and so is each change of the target (cause 2;
detail: the new target, in pages). When frames come back to the host, every domain still
below its target is asked again (its driver may have found no frames the first time).

Two parties set the target. The administrator (:meth:`Host.balloon
<vkernel.hv.host.Host.balloon>`, Xen's ``xl mem-set``) sets what the domain should have,
:attr:`Balloon.wanted`; the host's *memory reclamation* (:meth:`Host.reclaim
<vkernel.hv.host.Host.reclaim>`, ESX's balloon-before-swap, Xen's squeezed) lowers the
target below that when the machine runs short of free frames, never below
:attr:`Balloon.floor` (Xen's dynamic-min), and raises it back when the pressure is gone.

>>> from vkernel.hv import Host
>>> host = Host(machine_mb=32)
>>> d = host.create("hello", "hardware", memory_mb=7, max_mb=8, name="a")
>>> d.memory.populated, d.balloon.target      # 1 MiB of its 8 starts ballooned out
(1792, 1792)
>>> host.balloon(d, 6)                        # the guest is asked for 1 MiB more
>>> host.run().reason
'shutdown'
>>> d.memory.populated
1536
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vkernel.hv.base import HypervisorError
from vkernel.hv.memory import NO_FRAME
from vkernel.hv.pagetable import PAGE

if TYPE_CHECKING:
    from vkernel.hv.host import Domain

# the balloon row's cause: a page left the guest, or came back, or (a row that moves no
# page) the host set the target, the row's detail
OUT, IN, TARGET = 1, 0, 2
# frames a deflate leaves free for the hypervisor's own structures (shadow and G-stage
# tables, translation caches), so that a guest growing cannot starve them
HOST_RESERVE = 64


class Balloon:
    """The host's side of one domain's balloon (see the module's docstring)."""

    def __init__(self, domain: Domain, floor: int | None = None) -> None:
        self.domain = domain
        self.memory = domain.memory
        self.target = self.memory.populated  # pages: what the driver is told to have
        self.wanted = self.target  # pages: what the administrator set (Host.balloon)
        # the least the host's memory reclamation lowers the target to (pages)
        self.floor = min(self.target, self.target * 3 // 4 if floor is None else floor)
        self.pages_out = 0  # pages the guest gave (inflations), over its life
        self.pages_in = 0   # pages it took back (deflations)
        self.reclaimed = 0  # pages the host's reclamation took off the target, over its life

    @property
    def max_pages(self) -> int:
        """The most it may have (Xen's maxmem): the size of its guest physical RAM."""
        return len(self.memory.p2m)

    def set_target(self, pages: int) -> None:
        """Ask the guest to have ``pages`` pages (the administrator's target): its driver
        hears of it by a virtual interrupt (its technique's :meth:`balloon_interrupt`)
        and gives or takes."""
        if not isinstance(pages, int) or not 0 < pages <= self.max_pages:
            raise HypervisorError(f"a balloon target is 1..{self.max_pages} pages "
                                  f"(the domain's max), not {pages!r}")
        self.wanted = pages
        self.retarget(pages)

    def retarget(self, pages: int) -> None:
        """Set the target the driver sees (the host's reclamation moves it between
        :attr:`floor` and :attr:`wanted`), record it (a ``balloon`` row, cause 2) and ask
        the driver."""
        self.target = pages
        # a decision, not page work: not priced (and it moves no page: no p2m row)
        self.domain.record("balloon", TARGET, pages, units=0)
        self.ask()

    def ask(self) -> None:
        """Raise the guest's balloon interrupt, and wake it if it sleeps."""
        domain = self.domain
        if domain.state == "shutdown":
            return
        domain.technique.balloon_interrupt()
        domain.host.notify(domain)

    def _page(self, gpa: int, i: int) -> int | None:
        page = gpa + i * PAGE
        if gpa % PAGE or not self.memory.base <= page < self.memory.base + self.memory.size:
            return None
        return page

    def give(self, gpa: int, count: int) -> tuple[str | None, int]:
        """Pages ``gpa``, ``gpa + 4 KiB``, ... (``count`` of them) leave the guest.
        Returns (why it stopped, or None; pages done)."""
        technique, done = self.domain.technique, 0
        for i in range(count):
            page = self._page(gpa, i)
            if page is None or page not in self.memory:
                refused: str | None = "invalid"
            else:
                refused = technique.balloon_refuses(page)
            if refused:
                break
            frame = self.memory.unpopulate(page)
            technique.balloon_drop(page, frame)  # no translation may lead there any more
            if not self.domain.host.sharing.forget(self.domain, page, frame):
                self.domain.frames.free(frame)    # scrubbed: the next owner sees zeros
            self.domain.record("balloon", OUT, page, entry=NO_FRAME)  # a hole now
            done += 1
        else:
            refused = None
        self.pages_out += done
        if done:
            self.domain.host.balloon_released(self.domain)
        return refused, done

    def take(self, gpa: int, count: int) -> tuple[str | None, int]:
        """Holes ``gpa``, ... (``count`` of them) are backed by fresh frames again, while
        the guest is below its target and the host has frames. Returns (why it stopped,
        or None; pages done)."""
        technique, memory, done = self.domain.technique, self.memory, 0
        refused: str | None = None
        for i in range(count):
            page = self._page(gpa, i)
            if page is None or page in memory:
                refused = "invalid"
            elif memory.populated >= self.target:
                refused = "denied"  # the host promised those frames elsewhere
            elif self.domain.frames.free_frames <= HOST_RESERVE:
                refused = "no-memory"
            if refused:
                break
            frame = self.domain.frames.alloc(self.domain.name)  # zeroed, charged to it
            memory.populate(page, frame)
            technique.balloon_add(page, frame)
            self.domain.record("balloon", IN, page, entry=frame)
            done += 1
        self.pages_in += done
        return refused, done
