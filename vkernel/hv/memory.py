"""Memory as a hypervisor sees it: machine frames, guest physical memory, page tables.

Three address spaces meet here (the names are KVM's and Xen's):

* **machine** addresses: the real RAM of the :class:`~vkernel.machine.Machine`. The
  hypervisor owns all of it and hands it out one 4 KiB *frame* at a time
  (:class:`FrameAllocator`), remembering who owns each frame.
* **guest physical** addresses: what a guest kernel believes is its RAM, from
  ``GUEST_RAM_BASE`` up, just like a real board. Each guest page is backed by some
  machine frame; the *p2m* table ("physical to machine") says which
  (:class:`GuestMemory`). The frames are handed out in a shuffled order on purpose: a
  guest's neighbouring pages land far apart in machine memory, so the second mapping is
  something you can see, not a constant offset.
* **guest virtual** addresses: what the guest's programs use, mapped by the guest's own
  Sv39 page tables (which live in guest physical memory). :func:`guest_walk` walks them
  the way the MMU would, for a hypervisor that has to look (to decode an instruction, or
  to build a shadow page table), with :mod:`vkernel.hv.pagetable`'s walk reading the
  guest's entries through the p2m.

:class:`GStageTable` builds the H extension's second-stage (Sv39x4) table from a p2m: the
table the hardware walks to turn guest physical addresses into machine ones.

>>> from vkernel import Machine
>>> m = Machine(ram_mb=8)
>>> frames = FrameAllocator(m, seed=1)
>>> ram = GuestMemory(frames, ram_mb=1, owner="guest")
>>> ram.write(GUEST_RAM_BASE + 0x1000, b"hello")
>>> m.mem.read(ram.machine_address(GUEST_RAM_BASE + 0x1000), 5)
b'hello'
>>> ram.machine_address(GUEST_RAM_BASE) + 0x1000 == ram.machine_address(GUEST_RAM_BASE + 0x1000)
False
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vkernel.core import kernel as K
from vkernel.hv.base import HypervisorError
from vkernel.hv.pagetable import (
    PAGE,
    PPN_MASK,
    PTE_A,
    PTE_D,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    SV39,
    SV39X4,
    map_page,
    unmap_page,
    walk,
)
from vkernel.isa.program import Program
from vkernel.machine import Machine

GUEST_RAM_BASE = 0x8000_0000  # where a guest's RAM starts, as on QEMU's virt board
HYPERVISOR = "hypervisor"  # the owner of frames holding the hypervisor's own structures
# a p2m entry with no machine frame behind it: a page ballooned out of the guest (Xen:
# INVALID_MFN). The guest's physical address space keeps its size; the page is a hole.
INVALID_FRAME = -1
# a p2m entry whose page the host wrote to its swap file (vkernel.hv.swap): still the
# guest's RAM, but with no frame until the host reads it back
SWAPPED = -2
# in the trace (an hv row's entry): no machine frame behind the page (a hole, or on disk)
NO_FRAME = (1 << 64) - 1


class GuestMemoryError(HypervisorError):
    """An address outside a guest's memory (or ballooned out of it), or a machine out of
    free frames. A HypervisorError: if a guest makes its hypervisor meet one while
    handling its exit, that guest crashes alone (Host's run loop), not the host."""


class FrameAllocator:
    """Hands out the machine's RAM in 4 KiB frames and records each frame's owner.

    ``reserve`` bytes at the bottom of RAM are kept back (for the hypervisor's aligned
    structures, which :meth:`alloc_contiguous` takes from there); the rest is shuffled
    with ``seed``, so the same seed always gives the same layout (runs stay
    deterministic).

    Every frame is also *charged* to an account: the domain it was taken for (its RAM,
    and the hypervisor's structures kept for it: shadow or G-stage tables, a translation
    cache), so that :meth:`usage` says what each domain costs the machine and
    :meth:`release` gives all of it back. :meth:`account` is the allocator a domain's
    technique uses: the same frames, charged to that domain.
    """

    def __init__(self, machine: Machine, *, seed: int = 0, reserve: int = 0x10_0000) -> None:
        self.machine = machine
        first = K.RAM_BASE + reserve
        self._free = list(range(first, K.RAM_BASE + machine.mem.size, PAGE))
        random.Random(seed).shuffle(self._free)
        self._low = K.RAM_BASE  # next free address of the reserved area
        self._low_end = first
        self._blocks: dict[int, int] = {}  # start -> size of each block taken there
        self._low_free: list[tuple[int, int]] = []  # released (start, size) blocks there
        self.owner: dict[int, str] = {}  # machine frame address -> owner
        self.charged: dict[int, str] = {}  # machine frame address -> account (a domain)
        # called when a frame is wanted and none is free: a host that swaps frees one
        self.on_empty: Callable[[], None] | None = None

    @property
    def free_frames(self) -> int:
        return len(self._free)

    def alloc(self, owner: str, *, account: str | None = None) -> int:
        """One zeroed frame for ``owner``, charged to ``account`` (by default the owner);
        returns its machine address."""
        if not self._free and self.on_empty is not None:
            self.on_empty()
        if not self._free:
            raise GuestMemoryError("the machine has no free frames left: give it more "
                                   "RAM (machine_mb)")
        frame = self._free.pop()
        self.machine.mem.write(frame, bytes(PAGE))
        self.owner[frame] = owner
        self.charged[frame] = account or owner
        return frame

    def alloc_contiguous(self, size: int, owner: str, *, account: str | None = None) -> int:
        """``size`` bytes (a multiple of 4 KiB) of zeroed, naturally aligned, contiguous
        frames from the reserved area (an Sv39x4 root needs 16 KiB aligned to 16 KiB)."""
        reused = next((b for b in self._low_free if b[1] == size), None)
        if reused is not None:
            self._low_free.remove(reused)
            start = reused[0]
        else:
            start = -(-self._low // size) * size
            if start + size > self._low_end:
                raise GuestMemoryError(f"no {size} contiguous bytes left in the reserved area")
            self._low = start + size
        self.machine.mem.write(start, bytes(size))
        for frame in range(start, start + size, PAGE):
            self.owner[frame] = owner
            self.charged[frame] = account or owner
        self._blocks[start] = size
        return start

    def free(self, frame: int) -> None:
        """Give one frame back, scrubbed: the next owner finds zeros, never the last one's
        data."""
        if frame not in self.owner:
            raise GuestMemoryError(f"machine frame {frame:#x} is not allocated")
        self.machine.mem.write(frame, bytes(PAGE))
        del self.owner[frame]
        del self.charged[frame]
        if frame >= self._low_end:
            self._free.append(frame)

    def release(self, account: str) -> int:
        """Free (scrubbed) every frame charged to ``account``; returns how many."""
        frames = sorted(f for f, a in self.charged.items() if a == account)
        for frame in frames:
            self.free(frame)
        for start in [s for s in self._blocks if s not in self.owner]:
            self._low_free.append((start, self._blocks.pop(start)))
        return len(frames)

    def usage(self) -> dict[str, int]:
        """Frames charged to each account."""
        out: dict[str, int] = {}
        for a in self.charged.values():
            out[a] = out.get(a, 0) + 1
        return out

    def account(self, name: str) -> DomainFrames:
        """This allocator, charging every frame it hands out to ``name``."""
        return DomainFrames(self, name)


class DomainFrames:
    """A domain's view of the host's :class:`FrameAllocator`: the same frames and owners,
    every allocation charged to the domain."""

    def __init__(self, frames: FrameAllocator, account: str) -> None:
        self.allocator = frames
        self.account = account

    @property
    def machine(self) -> Machine:
        return self.allocator.machine

    @property
    def owner(self) -> dict[int, str]:
        return self.allocator.owner

    @property
    def free_frames(self) -> int:
        return self.allocator.free_frames

    def alloc(self, owner: str) -> int:
        return self.allocator.alloc(owner, account=self.account)

    def alloc_contiguous(self, size: int, owner: str) -> int:
        return self.allocator.alloc_contiguous(size, owner, account=self.account)

    def free(self, frame: int) -> None:
        self.allocator.free(frame)


Frames = FrameAllocator | DomainFrames  # what a technique allocates from


class GuestMemory:
    """A guest's physical RAM: ``ram_mb`` MiB from ``GUEST_RAM_BASE``, every page backed
    by a machine frame from ``frames`` (the p2m table). Reads and writes here are the
    hypervisor copying to and from the guest (Xen's copy_to_guest / copy_from_guest).

    ``populated`` pages (all of them by default) are backed from the bottom up; the rest
    start as holes, ballooned out (Xen's ``memory`` below ``maxmem``). A hole's p2m entry
    is :data:`INVALID_FRAME`: it is not in the guest's RAM (``gpa in memory`` is False),
    and nothing here reads or writes it. :meth:`unpopulate` and :meth:`populate` move a
    page out and back in (ballooning, :mod:`vkernel.hv.balloon`)."""

    def __init__(self, frames: Frames, *, ram_mb: int, owner: str,
                 populated: int | None = None) -> None:
        self.frames = frames
        self.machine = frames.machine
        self.owner = owner
        self.base = GUEST_RAM_BASE
        self.size = ram_mb << 20
        pages = self.size // PAGE
        populated = pages if populated is None else min(populated, pages)
        # p2m[i]: the machine address backing guest page base + i * PAGE
        self.p2m = np.array([frames.alloc(owner) if i < populated else INVALID_FRAME
                             for i in range(pages)], np.int64)
        self.m2p = {int(mfn): self.base + i * PAGE for i, mfn in enumerate(self.p2m)
                    if mfn != INVALID_FRAME}
        # pages backed by a frame shared with other guest pages (vkernel.hv.sharing):
        # the hypervisor's own writes to one first break the sharing, as a guest's do
        self.shared: set[int] = set()
        self.on_shared_write: Callable[[int], object] | None = None
        self.swapped: dict[int, int] = {}  # page -> its slot in the host's swap file
        self.on_swapped_access: Callable[[int], int] | None = None  # reads it back

    @classmethod
    def direct(cls, machine: Machine, *, ram_mb: int) -> GuestMemory:
        """No hypervisor: guest physical addresses are machine addresses (native)."""
        self = cls.__new__(cls)
        self.frames = None  # type: ignore[assignment]
        self.machine = machine
        self.owner = "guest"
        self.base = GUEST_RAM_BASE
        self.size = ram_mb << 20
        self.p2m = np.arange(self.base, self.base + self.size, PAGE, dtype=np.int64)
        self.m2p = {int(m): int(m) for m in self.p2m}
        self.shared = set()
        self.on_shared_write = None
        self.swapped = {}
        self.on_swapped_access = None
        return self

    def __contains__(self, gpa: int) -> bool:
        """Whether ``gpa`` is the guest's RAM, backed by a frame (a ballooned page is not)."""
        return (self.base <= gpa < self.base + self.size
                and self.p2m[(gpa - self.base) // PAGE] != INVALID_FRAME)

    @property
    def populated(self) -> int:
        """How many of its pages have a machine frame behind them (Xen: tot_pages)."""
        return int(np.count_nonzero(self.p2m != INVALID_FRAME))

    def machine_address(self, gpa: int) -> int:
        """The machine address behind guest physical address ``gpa``."""
        if not self.base <= gpa < self.base + self.size:
            raise GuestMemoryError(f"guest physical address {gpa:#x} is not in the guest's "
                                   f"RAM ({self.base:#x}..{self.base + self.size:#x})")
        off = gpa - self.base
        frame = int(self.p2m[off // PAGE])
        if frame == INVALID_FRAME:
            raise GuestMemoryError(f"guest physical address {gpa:#x} is ballooned out: no "
                                   f"machine frame backs its page")
        if frame == SWAPPED:  # the hypervisor touches a swapped page: read it back first
            if self.on_swapped_access is None:
                raise GuestMemoryError(f"guest physical address {gpa:#x} is swapped out")
            frame = self.on_swapped_access(gpa - off % PAGE)
        return frame + off % PAGE

    def swap_out(self, gpa: int, slot: int) -> None:
        """Page ``gpa``'s contents are in swap ``slot`` now: its frame is the caller's."""
        page = gpa & ~(PAGE - 1)
        index = (page - self.base) // PAGE
        del self.m2p[int(self.p2m[index])]
        self.p2m[index] = SWAPPED
        self.swapped[page] = slot

    def swap_in(self, gpa: int, frame: int) -> None:
        """Swapped page ``gpa`` is back, in ``frame``."""
        page = gpa & ~(PAGE - 1)
        del self.swapped[page]
        self.p2m[(page - self.base) // PAGE] = frame
        self.m2p[frame] = page

    def unpopulate(self, gpa: int) -> int:
        """Take page ``gpa``'s frame away (the p2m entry becomes a hole); returns the
        frame, which the caller frees once no translation leads to it."""
        page = gpa & ~(PAGE - 1)
        frame = self.machine_address(page)
        self.p2m[(page - self.base) // PAGE] = INVALID_FRAME
        if self.m2p.get(frame) == page:
            del self.m2p[frame]
        # a frame page sharing gave several of its pages: the m2p names one of the others
        others = np.flatnonzero(self.p2m == frame)
        if len(others):
            self.m2p[frame] = self.base + int(others[0]) * PAGE
        return frame

    def populate(self, gpa: int, frame: int) -> None:
        """Back the hole at page ``gpa`` with machine ``frame``."""
        if not self.base <= gpa < self.base + self.size or gpa in self:
            raise GuestMemoryError(f"guest page {gpa:#x} is not a hole to populate")
        self.p2m[(gpa - self.base) // PAGE] = frame
        self.m2p[frame] = gpa & ~(PAGE - 1)

    def _pieces(self, gpa: int, n: int):  # noqa: ANN202
        while n > 0:
            chunk = min(n, PAGE - gpa % PAGE)
            yield self.machine_address(gpa), chunk
            gpa += chunk
            n -= chunk

    def read(self, gpa: int, n: int) -> bytes:
        if gpa % PAGE + n <= PAGE:  # within one page (an instruction, a PTE): one frame
            return self.machine.mem.read(self.machine_address(gpa), n)
        return b"".join(self.machine.mem.read(ma, k) for ma, k in self._pieces(gpa, n))

    def write(self, gpa: int, data: bytes) -> None:
        if self.shared and self.on_shared_write is not None:  # copy-on-write first
            for page in range(gpa & ~(PAGE - 1), gpa + len(data), PAGE):
                if page in self.shared:
                    self.on_shared_write(page)
        pos = 0
        for ma, k in self._pieces(gpa, len(data)):
            self.machine.mem.write(ma, data[pos:pos + k])
            pos += k

    def read_or_none(self, gpa: int, n: int) -> bytes | None:
        """``n`` bytes at ``gpa`` through the p2m, or ``None`` (and nothing read) unless
        the whole range is the guest's RAM: an SBI's ``read_guest``."""
        if not (self.base <= gpa and n <= self.size and gpa + n <= self.base + self.size):
            return None
        if any(page not in self for page in range(gpa & ~(PAGE - 1), gpa + n, PAGE)):
            return None  # a ballooned page on the way
        return self.read(gpa, n)

    def read_u64(self, gpa: int) -> int:
        if gpa % 8 == 0:  # aligned (a PTE): in one frame
            return self.machine.mem.read_u64(self.machine_address(gpa))
        return int.from_bytes(self.read(gpa, 8), "little")

    def write_u64(self, gpa: int, value: int) -> None:
        self.write(gpa, (value & ((1 << 64) - 1)).to_bytes(8, "little"))

    def load(self, program: Program) -> None:
        """Copy a program's sections into guest physical memory (its addresses are guest
        physical: the guest kernel is linked for the board it believes it runs on)."""
        for sec in program.sections.values():
            if sec.size:
                self.write(sec.addr, bytes(sec.size) if sec.nobits else bytes(sec.data))


class GStageTable:
    """The H extension's G-stage page table (Sv39x4) for one guest, built from its p2m:
    4 KiB leaves with R, W, X, U (G-stage accesses count as user accesses), A and D set.
    The root is 16 KiB (its index has 11 bits: guest physical addresses have 41), in the
    hypervisor's frames; only the guest's RAM is mapped, so any other guest physical
    address (a device, say) makes a guest-page fault the hypervisor sees."""

    def __init__(self, frames: Frames, memory: GuestMemory) -> None:
        self.frames = frames
        self.root = frames.alloc_contiguous(4 * PAGE, HYPERVISOR)
        flags = PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D
        for i, mfn in enumerate(memory.p2m):
            if mfn != INVALID_FRAME:  # a ballooned page: no leaf, a guest-page fault
                self.map(memory.base + i * PAGE, int(mfn), flags)

    @property
    def mem(self):  # noqa: ANN201 - the machine's Memory (restore() replaces it)
        return self.frames.machine.mem

    def hgatp(self, vmid: int) -> int:
        """The hgatp value that selects this table: Sv39x4, ``vmid``, the root's PPN."""
        return (K.HGATP_MODE_SV39X4 << 60) | (vmid << 44) | (self.root >> 12)

    def map(self, gpa: int, machine: int, flags: int) -> None:
        """Map guest-physical page ``gpa`` to machine page ``machine`` (a 4 KiB leaf)."""
        map_page(self.root, gpa, machine, flags, read_pte=self.mem.read_u64,
                 write_pte=self.mem.write_u64,
                 new_table=lambda: self.frames.alloc(HYPERVISOR), scheme=SV39X4)

    def unmap(self, gpa: int) -> None:
        """Forget guest-physical page ``gpa``'s leaf (a ballooned page). The caller flushes
        the TLB entries of this VMID (HFENCE.GVMA)."""
        unmap_page(self.root, gpa, read_pte=self.mem.read_u64, write_pte=self.mem.write_u64,
                   scheme=SV39X4)

    def translate(self, gpa: int) -> int | None:
        """The machine address behind guest-physical ``gpa``, found as the hardware finds
        it for a load (this table's walk; a G-stage access is a U-mode one), or ``None``
        when no readable leaf maps it."""
        return walk(self.root, gpa, self.mem.read_u64, scheme=SV39X4, access=K.ACC_LOAD,
                    user=True).pa


@dataclass(frozen=True)
class Translation:
    """The outcome of a guest page-table walk: a guest physical address and the leaf's
    flags, or ``fault`` with the page-fault cause the MMU would raise."""

    gpa: int | None
    flags: int = 0
    level: int = 0
    pte_gpa: int | None = None  # the leaf entry's guest physical address
    fault: int | None = None


def guest_walk(memory: GuestMemory, satp: int, va: int, access: int, *, user: bool,
               sum_: bool = False, mxr: bool = False) -> Translation:
    """Walk a guest's Sv39 page table (``satp`` as the guest wrote it) for one access
    (K.ACC_FETCH, ACC_LOAD or ACC_STORE) the way the MMU would, reading the tables from
    guest physical memory. A/D bits are not changed here: callers that act on the result
    (a shadow page table) set them as the hardware would. With satp Bare, va is the
    guest physical address."""
    if satp >> 60 & 0xF != K.SATP_MODE_SV39:
        return Translation(va, PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)

    def read_pte(gpa: int) -> int | None:
        return memory.read_u64(gpa) if gpa in memory else None

    w = walk((satp & PPN_MASK) << 12, va, read_pte, access=access, user=user, sum_=sum_,
             mxr=mxr)
    if w.leaf is None:
        # every failure is a page fault here, a table outside the guest's RAM too (where
        # the MMU would raise an access fault)
        return Translation(None, fault=SV39.page_faults[access])
    return Translation(w.pa, w.flags, w.level, w.leaf.pte_address)
