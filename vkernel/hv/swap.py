"""Host swapping: the last resort of an overcommitted host.

When the domains' memory adds up to more than the machine's (page sharing makes that
possible, :mod:`vkernel.hv.sharing`) and a domain needs a frame that is not there, the
host can ask balloons first, refuse, or, as ESX and KVM can, **swap**: write some guest
page to a file of the host's, take its frame, and give that to whoever needed it. The
guest does not know: its p2m entry is marked :data:`~vkernel.hv.memory.SWAPPED`, every
translation to the frame is dropped (its G-stage leaf, its shadow entries), and its next
access faults into the hypervisor, which reads the page back (perhaps swapping another
out to make room). Waldspurger's paper explains why a host swaps only as a last resort:
the host does not know which pages the guest needs; the guest's own allocator does
(ballooning).

Swapping comes after ballooning: the host lowers balloon targets first when its free
memory runs low (:meth:`Host.reclaim <vkernel.hv.host.Host.reclaim>`), and swaps only
when the frames have actually run out.

Kept simple: one file in a temporary directory, a page per slot; a slot freed by a page
read back, or by a destroyed domain's page, is reused (the lowest first), so the file
grows only to the most pages ever out at once (a saved host keeps a copy of the file's
contents, which a restore writes back); victims are chosen by a *clock* hand
sweeping the domains' pages in order, skipping shared frames and page tables. The same
inputs give the same victims. Each page moved is an ``hv`` row ``swap`` (cause 1: out to
the file, 0: back in; detail: its guest physical address), on the domain it belongs to.

>>> from vkernel.hv import Host
>>> host = Host(machine_mb=12, overcommit="swap")
>>> a = host.create("hello", "hardware", memory_mb=8, name="a")
>>> _ = host.share_pages()
>>> b = host.create("hello", "hardware", memory_mb=8, name="b")
>>> host.run().reason, a.console == b.console
('shutdown', True)
"""

from __future__ import annotations

import heapq
import os
import tempfile
from typing import TYPE_CHECKING

from vkernel.hv.base import HypervisorError
from vkernel.hv.memory import NO_FRAME, GuestMemoryError
from vkernel.hv.pagetable import PAGE

if TYPE_CHECKING:
    from vkernel.hv.host import Domain, Host

OUT, IN = 1, 0  # the swap row's cause


class Swap:
    """The host's swap file and its clock hand (see the module's docstring)."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.path = os.path.join(tempfile.mkdtemp(prefix="vkernel-swap-"), "swap")
        self.slots = 0  # the file's size, in slots: the most pages ever out at once
        self.free_slots: list[int] = []  # slots below that holding nothing (a heap)
        self.hand = 0  # the clock hand: an index into every domain's pages, in order
        self.pages_out = 0
        self.pages_in = 0

    @staticmethod
    def can_swap(d: Domain) -> bool:
        """A paravirtual guest's tables hold machine frames: the host cannot take one."""
        return d.technique_name not in ("native", "paravirt") and d.memory is not None \
            and d.state != "shutdown"

    def _candidates(self) -> list[tuple[Domain, int]]:
        return [(d, d.memory.base + i * PAGE) for d in self.host.domains
                if self.can_swap(d) for i in range(len(d.memory.p2m))]

    def make_room(self) -> None:
        """The frame allocator is empty (the hypervisor wants a frame for its own tables,
        in the middle of building one): swap a page out, but never one whose shadows
        would all have to be flushed (simple shadows keep no reverse map), since the
        table being built may be one of them."""
        self.swap_out(precise=True)

    def swap_out(self, keep: tuple[Domain, int] | None = None, *,
                 precise: bool = False) -> None:
        """Write one victim page to the file and free its frame. ``keep`` (a domain's
        page) is never the victim: the page being brought in. ``precise``: only a page
        whose translations can be dropped one by one."""
        from vkernel.hv.sharing import guest_page_tables

        pages = self._candidates()
        owner = self.host.frames.owner
        tables: dict[int, set[int]] = {}
        for step in range(len(pages)):
            d, gpa = pages[(self.hand + step) % len(pages)]
            frame = int(d.memory.p2m[(gpa - d.memory.base) // PAGE])
            if frame < 0 or owner.get(frame) != d.name or (d, gpa) == keep:
                continue  # a hole, swapped already, shared, or the page coming in
            shadow = getattr(d.technique, "shadow", None)
            if precise and shadow is not None and not shadow.write_protect:
                continue
            if d.domid not in tables:
                tables[d.domid] = guest_page_tables(d)
            if gpa in tables[d.domid]:
                continue
            self.hand = (self.hand + step + 1) % len(pages)
            self._write_out(d, gpa, frame)
            return
        raise GuestMemoryError("the host has no page left to swap out")

    def _write_out(self, d: Domain, gpa: int, frame: int) -> None:
        if self.free_slots:
            slot = heapq.heappop(self.free_slots)
        else:
            slot, self.slots = self.slots, self.slots + 1
        with open(self.path, "r+b" if os.path.exists(self.path) else "wb") as f:
            f.seek(slot * PAGE)
            f.write(self.host.machine.mem.read(frame, PAGE))
        d.memory.swap_out(gpa, slot)
        d.technique.swap_drop(gpa)  # no translation may lead to the frame any more
        self.host.frames.free(frame)  # scrubbed
        self.pages_out += 1
        d.record("swap", OUT, gpa, entry=NO_FRAME)  # on disk: no frame behind it

    def swap_in(self, d: Domain, gpa: int) -> int:
        """Read ``d``'s page ``gpa`` back into a fresh frame; returns the frame."""
        page = gpa & ~(PAGE - 1)
        slot = d.memory.swapped.get(page)
        if slot is None:
            raise HypervisorError(f"{d.name}'s page {page:#x} is not swapped out")
        frame = self.host.frame_for(d, keep=page)
        with open(self.path, "rb") as f:
            f.seek(slot * PAGE)
            self.host.machine.mem.write(frame, f.read(PAGE))
        d.memory.swap_in(page, frame)
        heapq.heappush(self.free_slots, slot)  # free for the next page out
        d.technique.swap_map(page, frame)
        self.pages_in += 1
        d.record("swap", IN, page, entry=frame)
        return frame

    def forget_domain(self, d: Domain) -> None:
        """``d`` is being destroyed: the slots of its pages on the file are free."""
        memory = d.memory
        if memory is None:
            return
        for slot in memory.swapped.values():
            heapq.heappush(self.free_slots, slot)
        memory.swapped.clear()

    @property
    def in_use(self) -> int:
        """Slots holding a page now."""
        return self.slots - len(self.free_slots)

    def contents(self) -> bytes:
        """The file's bytes (a host's save keeps them: its slots are reused later)."""
        if not os.path.exists(self.path):
            return b""
        with open(self.path, "rb") as f:
            return f.read()

    def set_contents(self, data: bytes) -> None:
        """Put the file back as :meth:`contents` had it (a host's restore)."""
        with open(self.path, "wb") as f:
            f.write(data)
