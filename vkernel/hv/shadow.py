"""Shadow page tables: how a hypervisor without a second translation stage keeps a guest
in its own memory.

The guest kernel writes page tables that map its virtual addresses to *guest physical*
ones, but the hardware's MMU (satp) knows only one stage, and must map to *machine*
addresses. So the hypervisor points satp at a table of its own, the *shadow*, whose entries
it computes from the guest's: guest virtual page -> (guest's table) -> guest physical page
-> (p2m) -> machine frame. The guest never sees it.

This is a first, simple and correct version: shadows are filled lazily, one 4 KiB page at
a time, when the hardware faults on a page the shadow does not have yet (a *hidden* fault,
invisible to the guest), and forgotten when the guest says its translations changed: one
page for ``sfence.vma va`` (or all of them if it came from a guest superpage), everything
for a plain ``sfence.vma``. RISC-V requires the guest to say so, because a TLB may hold the
old translation until then, and a shadow is just a big, slow TLB.

Under the software techniques the guest kernel runs in U-mode, so every shadow entry has
U=1. (Hardware assistance without a G-stage, ``vs_stage=True``, keeps the guest's U bit: its
kernel runs in VS-mode, and the hardware checks U, SUM and MXR itself.) A guest kernel (virtual
S-mode) and its programs (virtual U-mode) may see different pages, so each virtual mode has
its own shadow table; the guest's SUM and MXR bits decide what its kernel may touch, so the
kernel's shadow is keyed by them too.
"""

from __future__ import annotations

from vkernel.core import kernel as K
from vkernel.hv.memory import HYPERVISOR, Frames, GuestMemory
from vkernel.hv.pagetable import (
    PAGE,
    PTE_A,
    PTE_D,
    PTE_R,
    PTE_U,
    PTE_V,
    PTE_W,
    PTE_X,
    map_page,
    unmap_page,
)

ASIDS_PER_DOMAIN = 1024  # the block of ASIDs a host gives each domain (16-bit ASIDs)
# the most frames a guest's shadow tables may hold (2 MiB): a shadow is a cache, and one
# that is full starts afresh, so that no guest can take the machine's memory (with page
# tables of ever more address spaces, say) from the others (Xen: a per-domain pool)
SHADOW_POOL = 512


class ShadowTable:
    """One shadow Sv39 table in hypervisor frames: map() installs a 4 KiB translation."""

    def __init__(self, frames: Frames, free: list[int], asid: int, *,
                 vs_stage: bool = False) -> None:
        self.frames = frames
        self.vs_stage = vs_stage  # walked by the VS-stage: entries keep the guest's U bit
        self.free = free  # frames given back by dropped shadows, reused first
        self.pages = [self._frame()]  # every frame of this table; [0] is the root
        self.asid = asid

    @property
    def mem(self):  # noqa: ANN201 - the machine's Memory (restore() replaces it)
        return self.frames.machine.mem

    def _frame(self) -> int:
        if self.free:
            frame = self.free.pop()
            self.mem.write(frame, bytes(PAGE))
            return frame
        return self.frames.alloc(HYPERVISOR)

    @property
    def satp(self) -> int:
        return (K.SATP_MODE_SV39 << 60) | (self.asid << 44) | (self.pages[0] >> 12)

    def _new_table(self) -> int:
        frame = self._frame()
        self.pages.append(frame)
        return frame

    def map(self, va: int, machine: int, flags: int) -> None:
        """Map ``va``'s 4 KiB page to ``machine``'s with ``flags`` (R, W, X, and U for a
        VS-stage shadow); V, A and D are added, and U for a deprivileged guest (its kernel
        runs in U-mode)."""
        user = 0 if self.vs_stage else PTE_U
        map_page(self.pages[0], va, machine, flags | PTE_V | user | PTE_A | PTE_D,
                 read_pte=self.mem.read_u64, write_pte=self.mem.write_u64,
                 new_table=self._new_table)

    def unmap(self, va: int) -> None:
        """Drop the translation of ``va``'s 4 KiB page, if this shadow has one."""
        unmap_page(self.pages[0], va, read_pte=self.mem.read_u64,
                   write_pte=self.mem.write_u64)


class ShadowMMU:
    """All the shadow tables of one guest, and the rules for filling them."""

    def __init__(self, frames: Frames, memory: GuestMemory, *, asid_base: int = 0,
                 vs_stage: bool = False) -> None:
        self.frames = frames
        # a shadow the VS-stage walks (hardware assistance without a G-stage): the guest's
        # kernel really runs in (VS) S-mode, so its entries keep the guest's U bit, and the
        # hardware applies SUM and MXR from vsstatus itself: one shadow per address space
        self.vs_stage = vs_stage
        self.memory = memory
        self.asid_base = asid_base  # its ASIDs: asid_base + 1 .. asid_base + 1023
        self.tables: dict[tuple[int, int, bool, bool], ShadowTable] = {}
        self.free: list[int] = []
        self.from_superpages: set[int] = set()  # 1 GiB regions filled from a guest superpage
        self.fills = 0  # shadow entries installed (hidden faults served)
        self.flushes = 0

    def table(self, guest_satp: int, user: bool, sum_: bool, mxr: bool) -> ShadowTable:
        """The shadow for this guest address space and virtual mode (made on first use;
        each gets its own ASID, so switching between them needs no TLB flush)."""
        if self.vs_stage:
            user = sum_ = mxr = False
        key = (guest_satp, int(user), sum_ and not user, mxr)
        if key not in self.tables:
            if len(self.tables) == ASIDS_PER_DOMAIN - 1 or self.full():
                # out of ASIDs, or of frames: start afresh
                self.flush()
                self.frames.machine.hart.flush_tlb()
            self.tables[key] = ShadowTable(self.frames, self.free,
                                           self.asid_base + len(self.tables) + 1,
                                           vs_stage=self.vs_stage)
        return self.tables[key]

    def full(self) -> bool:
        """Whether the shadows hold their pool's worth of frames."""
        return sum(len(t.pages) for t in self.tables.values()) >= SHADOW_POOL

    def flush(self) -> None:
        """The guest changed its translations: forget every shadow (frames are reused)."""
        for t in self.tables.values():
            self.free.extend(t.pages)
        self.tables.clear()
        self.from_superpages.clear()
        self.flushes += 1

    def invalidate(self, va: int) -> bool:
        """The guest changed the translation of ``va`` (``sfence.vma va``): drop that page
        from every shadow. False when that is not enough (the page was filled from one of
        the guest's superpages, whose other pages the guest may have changed too): then
        the caller flushes everything."""
        if (va >> 30) in self.from_superpages:
            return False
        for t in self.tables.values():
            t.unmap(va)
        return True

    def fill(self, table: ShadowTable, va: int, gpa: int, guest_flags: int,
             store: bool, level: int = 0) -> None:
        """Install the translation of ``va``'s page: the guest's permissions, except that
        a page the guest has not marked dirty is mapped read-only, so that its first
        store faults here and the hypervisor can set D in the guest's entry, as the
        guest's hardware would have."""
        flags = guest_flags & (PTE_R | PTE_X | (PTE_U if self.vs_stage else 0))
        if guest_flags & PTE_W and (guest_flags & PTE_D or store):
            flags |= PTE_W
        table.map(va & ~(PAGE - 1), self.memory.machine_address(gpa & ~(PAGE - 1)), flags)
        if level:
            self.from_superpages.add(va >> 30)
        self.fills += 1
