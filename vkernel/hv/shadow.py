"""Shadow page tables: how a hypervisor without a second translation stage keeps a guest
in its own memory.

The guest kernel writes page tables that map its virtual addresses to *guest physical*
ones, but the hardware's MMU (satp) knows only one stage, and must map to *machine*
addresses. So the hypervisor points satp at a table of its own, the *shadow*, whose entries
it computes from the guest's: guest virtual page -> (guest's table) -> guest physical page
-> (p2m) -> machine frame. The guest never sees it.

Shadows are filled lazily, one 4 KiB page at a time, when the hardware faults on a page
the shadow does not have yet (a *hidden* fault, invisible to the guest):
:meth:`ShadowMMU.resolve` walks the guest's table and says what the fault was. They are
cached per guest root (and virtual mode, SUM, MXR), so an address-space switch rebuilds
nothing. Two ways keep them in step with the guest's tables (``shadow=``,
:data:`vkernel.hv.base.SHADOWS`):

* **simple**: forgotten when the guest says its translations changed: one page for
  ``sfence.vma va`` (or all of them if it came from a guest superpage), everything for a
  plain ``sfence.vma``. RISC-V requires the guest to say so, because a TLB may hold the
  old translation until then, and a shadow is just a big, slow TLB.
* **write-protect** (Xen's and VMware's way): every guest frame a fill's walk reads is a
  page table, mapped read-only in every shadow; a *reverse map* (guest PTE address -> the
  shadow entries derived from it) records what each entry came from. A guest store to a
  table traps; the technique emulates it and :meth:`ShadowMMU.write_pte` drops exactly the
  entries derived from what it changed (and, *prefetching*, installs a new leaf at once).
  The shadows are always in step (allowed: a TLB may refill at any time), so
  ``sfence.vma`` only flushes the machine's TLB.

Under the software techniques the guest kernel runs in U-mode, so every shadow entry has
U=1. (Hardware assistance without a G-stage, ``vs_stage=True``, keeps the guest's U bit: its
kernel runs in VS-mode, and the hardware checks U, SUM and MXR itself.) A guest kernel (virtual
S-mode) and its programs (virtual U-mode) may see different pages, so each virtual mode has
its own shadow table; the guest's SUM and MXR bits decide what its kernel may touch, so the
kernel's shadow is keyed by them too.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vkernel.core import kernel as K
from vkernel.hv.memory import HYPERVISOR, Frames, GuestMemory
from vkernel.hv.mmio import emulate_store
from vkernel.hv.pagetable import (
    ACC_STORE,
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
    leaf_allows,
    make_pte,
    map_page,
    unmap_page,
    walk,
)

ASIDS_PER_DOMAIN = 1024  # the block of ASIDs a host gives each domain (16-bit ASIDs)
# the most frames a guest's shadow tables may hold (2 MiB): a shadow is a cache, and one
# that is full starts afresh, so that no guest can take the machine's memory (with page
# tables of ever more address spaces, say) from the others (Xen: a per-domain pool)
SHADOW_POOL = 512
# (event, cause, detail, vaddr=, entry=, satp=): Domain.record's shape
Record = Callable[..., None]
Restrict = Callable[[int, int, bool], int]  # (gpa, flags, user mode) -> flags
# with write protection, the pages of a guest superpage one hidden fault fills (an aligned
# block): 16 would take the page-fault workload's kernel zeroing of a fresh page out of the
# hidden faults, but 1 keeps "one hidden fault per page" visible (notebook 03)
SUPERPAGE_FILL = 1
EVERY_SHADOW = 1  # a shadow_drop row's cause when every shadow went at once (a flush)


class ShadowTable:
    """One shadow Sv39 table in hypervisor frames: map() installs a 4 KiB translation."""

    def __init__(self, frames: Frames, free: list[int], asid: int, *,
                 vs_stage: bool = False) -> None:
        self.frames = frames
        self.vs_stage = vs_stage  # walked by the VS-stage: entries keep the guest's U bit
        self.free = free  # frames given back by dropped shadows, reused first
        self.pages = [self._frame()]  # every frame of this table; [0] is the root
        self.asid = asid
        self.key: tuple = ()  # what ShadowMMU.table found it by

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

    def map(self, va: int, machine: int, flags: int) -> int:
        """Map ``va``'s 4 KiB page to ``machine``'s with ``flags`` (R, W, X, and U for a
        VS-stage shadow); V, A and D are added, and U for a deprivileged guest (its kernel
        runs in U-mode). Returns the leaf entry written."""
        user = 0 if self.vs_stage else PTE_U
        pte = make_pte(machine, flags | PTE_V | user | PTE_A | PTE_D)
        map_page(self.pages[0], va, machine, flags | PTE_V | user | PTE_A | PTE_D,
                 read_pte=self.mem.read_u64, write_pte=self.mem.write_u64,
                 new_table=self._new_table)
        return pte

    def unmap(self, va: int) -> bool:
        """Drop the translation of ``va``'s 4 KiB page; False if this shadow had none."""
        return unmap_page(self.pages[0], va, read_pte=self.mem.read_u64,
                   write_pte=self.mem.write_u64)


Entry = tuple[ShadowTable, int]  # one shadow entry: its table and the page's virtual address


class ShadowMMU:
    """All the shadow tables of one guest, and the rules for filling and keeping them.

    ``write_protect`` chooses how they are kept in step with the guest's tables (see the
    module's docstring): False, forgotten on ``sfence.vma`` (:meth:`invalidate`,
    :meth:`flush`); True, every guest page table a fill walks is write-protected and its
    changes come to :meth:`write_pte`, which drops exactly the entries they affect.
    ``record(event, cause, detail, vaddr=, entry=, satp=)`` (a domain's
    :meth:`~vkernel.hv.host.Domain.record`) receives a row for every software walk of a
    hidden fault (``hv_walk``), every entry installed (``shadow_update``) and dropped
    (``shadow_drop``) and every store emulated (``wp_fault``), each with the page, the entry
    and the address space it concerns, so the trace can redraw the shadows at any step
    (:meth:`vkernel.trace.accessor.TraceAccessor.shadow_entries`).

    >>> from vkernel import Machine
    >>> from vkernel.hv.memory import FrameAllocator
    >>> from vkernel.hv.pagetable import make_pte
    >>> frames = FrameAllocator(Machine(ram_mb=8), seed=1)
    >>> ram = GuestMemory(frames, ram_mb=1, owner="guest")
    >>> root, l1, l0, page = (0x8000_0000 + i * PAGE for i in range(4))
    >>> ram.write_u64(root, make_pte(l1, PTE_V)); ram.write_u64(l1, make_pte(l0, PTE_V))
    >>> ram.write_u64(l0 + 8, make_pte(page, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D))
    >>> mmu = ShadowMMU(frames, ram, write_protect=True)
    >>> satp = (8 << 60) | root >> 12
    >>> table = mmu.table(satp, False, False, False)
    >>> r = mmu.resolve(table, satp, 0x1000, K.ACC_LOAD, user=False)
    >>> r.kind, hex(r.gpa), mmu.translate(table, 0x1000) == ram.machine_address(page)
    ('filled', '0x80003000', True)
    >>> sorted(hex(f) for f in mmu.table_refs)  # the guest's tables are protected now
    ['0x80000000', '0x80001000', '0x80002000']
    >>> ram.write_u64(l0 + 8, 0)  # the guest unmaps the page (the store, emulated) ...
    >>> mmu.write_pte(l0 + 8)     # ... and the shadow entry derived from it goes
    [4096]
    >>> mmu.translate(table, 0x1000) is None
    True
    """

    def __init__(self, frames: Frames, memory: GuestMemory, *, asid_base: int = 0,
                 vs_stage: bool = False, write_protect: bool = False,
                 record: Record | None = None, restrict: Restrict | None = None,
                 prefetch: bool = True) -> None:
        self.frames = frames
        # a shadow the VS-stage walks (hardware assistance without a G-stage): the guest's
        # kernel really runs in (VS) S-mode, so its entries keep the guest's U bit, and the
        # hardware applies SUM and MXR from vsstatus itself: one shadow per address space
        self.vs_stage = vs_stage
        self.memory = memory
        self.asid_base = asid_base  # its ASIDs: asid_base + 1 .. asid_base + 1023
        self.write_protect = write_protect
        self.record = record or (lambda event, cause, detail, **where: None)
        # restrict(gpa, flags, user): the permissions a technique lets a shadow entry have
        # (binary translation write-protects the code it has translated)
        self.restrict = restrict or (lambda gpa, flags, user: flags)
        # with write protection, install the translation an emulated PTE write creates
        # at once (and fill SUPERPAGE_FILL pages of a guest superpage at a time)
        self.prefetch = prefetch and write_protect
        self.tables: dict[tuple[int, int, bool, bool], ShadowTable] = {}
        self.free: list[int] = []
        self.from_superpages: set[int] = set()  # 1 GiB regions filled from a guest superpage
        self.fills = 0  # shadow entries installed
        self.hidden_faults = 0  # faults on a shadow the guest never saw, served by a fill
        self.flushes = 0
        self.wp_faults = 0  # guest stores to its page tables, emulated
        self.drops = 0  # shadow entries dropped because the guest changed its tables
        # --- write protection: the reverse map (Xen's shadow "back pointers") ---------
        # guest PTE address -> the shadow entries whose fill read it
        self.rmap: dict[int, set[Entry]] = {}
        # shadow entry -> the guest PTE addresses its fill read, and the frame it maps
        self.derived: dict[Entry, tuple[tuple[int, ...], int]] = {}
        # guest frame -> how many (shadow entry, PTE read) pairs lie in it: > 0 while
        # it is a page table some shadow depends on, write-protected in every shadow
        self.table_refs: dict[int, int] = {}
        # guest frame -> the shadow entries that map it writable
        self.writable: dict[int, set[Entry]] = {}
        # guest table frame -> (shadow, va of the table's first page, level) it was
        # reached at: where a new entry of it would appear (for prefetching)
        self.reached: dict[int, set[tuple[ShadowTable, int, int]]] = {}

    def table(self, guest_satp: int, user: bool, sum_: bool, mxr: bool) -> ShadowTable:
        """The shadow for this guest address space and virtual mode (made on first use,
        then found again: an address-space switch rebuilds nothing; each gets its own
        ASID, so switching between them needs no TLB flush)."""
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
            self.tables[key].key = key
        return self.tables[key]

    def full(self) -> bool:
        """Whether the shadows hold their pool's worth of frames."""
        return sum(len(t.pages) for t in self.tables.values()) >= SHADOW_POOL

    def flush(self) -> None:
        """Forget every shadow (frames are reused), and with them every protection: one
        ``shadow_drop`` row with cause 1 (every shadow)."""
        if self.tables:
            self.record("shadow_drop", EVERY_SHADOW, 0)
        for t in self.tables.values():
            self.free.extend(t.pages)
        self.tables.clear()
        self.from_superpages.clear()
        self.rmap.clear()
        self.derived.clear()
        self.table_refs.clear()
        self.writable.clear()
        self.reached.clear()
        self.flushes += 1

    def invalidate(self, va: int) -> bool:
        """The guest changed the translation of ``va`` (``sfence.vma va``): drop that page
        from every shadow. False when that is not enough (the page was filled from one of
        the guest's superpages, whose other pages the guest may have changed too): then
        the caller flushes everything."""
        if (va >> 30) in self.from_superpages:
            return False
        for t in self.tables.values():
            if t.unmap(va):
                self._forget((t, va & ~(PAGE - 1)))
                self.record("shadow_drop", 0, va & ~(PAGE - 1), vaddr=va & ~(PAGE - 1),
                            satp=t.satp)
        return True

    def translate(self, table: ShadowTable, va: int) -> int | None:
        """The machine address ``table`` maps ``va`` to now, or None (no entry yet)."""
        w = walk(table.pages[0], va, table.mem.read_u64)
        return w.pa if w.leaf is not None and w.leaf.pte & PTE_V else None

    # --- resolving a fault on a shadow ----------------------------------------------------
    def resolve(self, table: ShadowTable, guest_satp: int, va: int, access: int, *,
                user: bool, sum_: bool = False, mxr: bool = False) -> Resolution:
        """The machine faulted on ``table`` at ``va``: walk the guest's own table (as the
        guest's MMU would, for ``access`` in U-mode if ``user``, with SUM and MXR) and say
        what the fault was (a :class:`Resolution`):

        * ``"guest"``: its tables deny the access: reflect ``cause`` to the guest;
        * ``"outside"``: they lead outside its RAM (``gpa``; A and D set as its MMU
          would): a device, or nothing;
        * ``"write-protect"``: a store the guest's tables allow, to one of its own page
          tables (``gpa``; A and D set in the leaf that allows it): emulate it
          (:meth:`emulate_write`);
        * ``"filled"``: a hidden fault: A (and D for a store) set in the guest's entry as
          its hardware would, and the entry installed, with the permissions the guest's
          MMU grants in that mode, less what ``restrict`` takes away.

        A technique does the rest (inject, emulate), and keeps the pool bounded first
        (:meth:`full`); every deprivileged technique and a hardware-assisted one over
        VS-stage shadows can share this."""
        t = self.walk(guest_satp, va, access, user=user, sum_=sum_, mxr=mxr)
        if t.fault is not None:
            return Resolution("guest", cause=t.fault)
        assert t.gpa is not None
        if t.gpa not in self.memory:  # (the guest's MMU sets A, and D for a store, on
            self.set_accessed(t, access)  # a translation that succeeds, device or not)
            return Resolution("outside", gpa=t.gpa)
        # a hidden fault: its walk is the hypervisor's work (a reflected fault's and a
        # device access's walks are priced in their own events)
        cause = SV39.page_faults[access]
        if access == ACC_STORE and self.write_protect and t.gpa >> 12 << 12 in self.table_refs:
            flags = self.set_accessed(t, ACC_STORE)  # the store will happen, one way or
            self.record_walk(t, va, guest_satp, cause)  # another (emulated, or run)
            return Resolution("write-protect", gpa=t.gpa, pte_gpa=t.pte_gpa, flags=flags,
                              va=va, satp=guest_satp)
        if access == ACC_STORE and t.gpa >> 12 << 12 in self.memory.shared \
                and self.memory.on_shared_write is not None:
            self.memory.on_shared_write(t.gpa)  # a shared page: copy-on-write, then fill
            if self.tables.get(table.key) is not table:  # (the break flushed the shadows)
                table = self.table(*table.key)
        flags = self.grant(self.set_accessed(t, access), user, sum_, mxr)
        self.record_walk(t, va, guest_satp, cause)  # (the leaf as A and D left it)
        flags = self.restrict(t.gpa, flags, user)
        if self.memory.swapped:  # a page read back from swap may have sent another out,
            self.memory.machine_address(t.gpa)  # and dropped shadows with it: first
            if self.tables.get(table.key) is not table:
                table = self.table(*table.key)
        self.fill(table, va, t.gpa, flags, access == ACC_STORE, t.level, ptes=t.ptes,
                  cause=cause)
        self.hidden_faults += 1
        if self.prefetch and t.level and SUPERPAGE_FILL > 1 and not self.full():
            self.fill_around(table, va, t, user, sum_, mxr)
        return Resolution("filled", gpa=t.gpa, pte_gpa=t.pte_gpa, flags=flags)

    def grant(self, flags: int, user: bool, sum_: bool, mxr: bool) -> int:
        """A guest leaf's ``flags`` with R, W and X as its MMU grants them in this mode (a
        load with MXR may read an execute-only page; S-mode never executes a U page).
        A VS-stage shadow keeps them as they are: the hardware checks the mode."""
        if self.vs_stage:
            return flags
        out = flags & ~(PTE_R | PTE_W | PTE_X)
        for access, bit in ((K.ACC_LOAD, PTE_R), (ACC_STORE, PTE_W), (K.ACC_FETCH, PTE_X)):
            if leaf_allows(flags, access, user=user, sum_=sum_, mxr=mxr):
                out |= bit
        return out

    def fill_around(self, table: ShadowTable, va: int, t: GuestWalk, user: bool,
                    sum_: bool, mxr: bool) -> None:
        """Fill the other pages of the aligned block of SUPERPAGE_FILL pages around ``va``
        from the same guest superpage leaf (a TLB may refill at any time), where that leaf
        has A set and the shadow has nothing yet: one hidden fault instead of many."""
        if not t.flags & PTE_A:
            return
        flags = self.grant(t.flags, user, sum_, mxr)
        size = PAGE << (9 * t.level)
        first = va & ~(SUPERPAGE_FILL * PAGE - 1)
        for page in range(first, first + SUPERPAGE_FILL * PAGE, PAGE):
            if page == va & ~(PAGE - 1) or self.translate(table, page) is not None:
                continue
            gpa = (t.gpa & ~(size - 1)) | (page & (size - 1))
            self.fill(table, page, gpa, self.restrict(gpa, flags, user), False, t.level,
                      ptes=t.ptes)

    def walk(self, guest_satp: int, va: int, access: int | None, *, user: bool,
             sum_: bool = False, mxr: bool = False) -> GuestWalk:
        """The guest's own translation of ``va`` (see :func:`~vkernel.hv.memory.guest_walk`)
        and the guest physical address of every entry the walk read."""
        if guest_satp >> 60 & 0xF != K.SATP_MODE_SV39:  # Bare: va is guest physical,
            return GuestWalk(va, PTE_R | PTE_W | PTE_X | PTE_A | PTE_D  # anything goes
                             | (PTE_U if user else 0))
        memory = self.memory

        def read_pte(gpa: int) -> int | None:
            return memory.read_u64(gpa) if gpa in memory else None

        w = walk((guest_satp & PPN_MASK) << 12, va, read_pte, access=access, user=user,
                 sum_=sum_, mxr=mxr)
        if w.leaf is None:  # a table outside its RAM too is a page fault here
            return GuestWalk(None, fault=SV39.page_faults[K.ACC_LOAD if access is None
                                                           else access])
        return GuestWalk(w.pa, w.flags, w.level, w.leaf.pte_address,
                         ptes=tuple(level.pte_address for level in w.levels))

    def record_walk(self, t: GuestWalk, va: int, guest_satp: int, cause: int) -> None:
        """An ``hv_walk`` row for each guest entry the software walk ``t`` of ``va`` read,
        root first (as the ``walk`` family records the hardware's): its guest physical
        address and value (after the A and D bits the walk set), the address space, and
        the fault it served."""
        for pte in t.ptes:
            self.record("hv_walk", cause, pte, vaddr=va, entry=self.memory.read_u64(pte),
                        satp=guest_satp)

    def set_accessed(self, t: GuestWalk, access: int) -> int:
        """Set A, and D for a store, in the guest's leaf, as its MMU would (the
        hypervisor's own write: no trap); the leaf's flags after."""
        flags = t.flags
        if t.pte_gpa is not None:
            need = PTE_A | (PTE_D if access == ACC_STORE else 0)
            if flags & need != need:
                self.memory.write_u64(t.pte_gpa, self.memory.read_u64(t.pte_gpa) | need)
                flags |= need
        return flags

    def fill(self, table: ShadowTable, va: int, gpa: int, guest_flags: int,
             store: bool, level: int = 0, *, ptes: tuple[int, ...] = (),
             cause: int = 0) -> None:
        """Install the translation of ``va``'s page: the guest's permissions, except that
        a page the guest has not marked dirty is mapped read-only, so that its first
        store faults here and the hypervisor can set D in the guest's entry, as the
        guest's hardware would have. With write protection, ``ptes`` (the guest entries
        the walk read) go into the reverse map, the tables they lie in become protected,
        and a page that is one of those tables is mapped read-only. A ``shadow_update``
        row says what was installed (``cause``: the fault that asked for it, 0 for a
        prefetch)."""
        flags = guest_flags & (PTE_R | PTE_X | (PTE_U if self.vs_stage else 0))
        if guest_flags & PTE_W and (guest_flags & PTE_D or store):
            flags |= PTE_W
        page = gpa & ~(PAGE - 1)
        entry = (table, va & ~(PAGE - 1))
        if self.write_protect:
            self._forget(entry)  # what it held before (a read-only entry, now writable)
            self._protect(entry, ptes, page)
            if page in self.table_refs:
                flags &= ~PTE_W
        if page in self.memory.shared:  # one frame for many guest pages: never writable
            flags &= ~PTE_W
        pte = table.map(va & ~(PAGE - 1), self.memory.machine_address(page), flags)
        self.record("shadow_update", cause, gpa, vaddr=va & ~(PAGE - 1), entry=pte,
                    satp=table.satp)
        if self.write_protect and flags & PTE_W:
            self.writable.setdefault(page, set()).add(entry)
        if level:
            self.from_superpages.add(va >> 30)
        self.fills += 1

    # --- write protection -----------------------------------------------------------------
    def is_table(self, gpa: int) -> bool:
        """Whether ``gpa``'s page is a guest page table some shadow entry depends on."""
        return gpa & ~(PAGE - 1) in self.table_refs

    def _protect(self, entry: Entry, ptes: tuple[int, ...], page: int) -> None:
        self.derived[entry] = (ptes, page)
        table, va = entry
        for i, pte in enumerate(ptes):
            self.rmap.setdefault(pte, set()).add(entry)
            frame = pte & ~(PAGE - 1)
            level = 2 - i  # ptes are root first
            start = va & ~((PAGE << (9 * (level + 1))) - 1) & ((1 << 64) - 1)
            self.reached.setdefault(frame, set()).add((table, start, level))
            if frame not in self.table_refs:  # a page table now: no writable mapping of it
                self.table_refs[frame] = 0
                for other in list(self.writable.pop(frame, ())):
                    self.drop(other)
            self.table_refs[frame] += 1

    def _forget(self, entry: Entry) -> None:
        """Take a shadow entry out of the reverse map (it is gone or about to change)."""
        ptes, page = self.derived.pop(entry, ((), 0))
        for pte in ptes:
            entries = self.rmap.get(pte)
            if entries is not None:
                entries.discard(entry)
                if not entries:
                    del self.rmap[pte]
            frame = pte & ~(PAGE - 1)
            self.table_refs[frame] -= 1
            if not self.table_refs[frame]:  # no longer a table anything depends on: its
                del self.table_refs[frame]   # read-only mappings regain W on their next
                                             # store fault (lazily: "unshadow")
        mapped = self.writable.get(page)
        if mapped is not None:
            mapped.discard(entry)
            if not mapped:
                del self.writable[page]

    def drop(self, entry: Entry) -> None:
        """Drop one shadow entry (and what the machine's TLB holds of it)."""
        table, va = entry
        self._forget(entry)
        table.unmap(va)
        # a VS-stage shadow's translations are the guest's (V=1, VMID 0 with hgatp Bare)
        self.frames.machine.hart.flush_tlb(va, **({"vmid": 0} if self.vs_stage else {}))
        self.drops += 1
        self.record("shadow_drop", 0, va, vaddr=va, satp=table.satp)

    def write_pte(self, gpa: int, size: int = 8) -> list[int]:
        """The guest wrote ``size`` bytes at ``gpa`` in one of its page tables (the write
        is done): drop exactly the shadow entries derived from the entries it touched.
        Returns their guest virtual addresses."""
        dropped = []
        for pte in range(gpa & ~7, gpa + size, 8):
            for entry in list(self.rmap.get(pte, ())):
                self.drop(entry)
                dropped.append(entry[1])
        if self.prefetch and size <= 8:
            self.prefetch_entry(gpa & ~7)
        return dropped

    def prefetch_entry(self, pte_gpa: int) -> None:
        """The guest wrote a level-0 entry: where a shadow reached that table, install
        the new translation at once (a TLB may refill at any time; only for an entry
        with A set, so no A bit is set before the guest's first access), so the access
        the guest retries does not fault."""
        value = self.memory.read_u64(pte_gpa)
        if not value & PTE_V or not value & (PTE_R | PTE_X) or not value & PTE_A:
            return
        frame, index = pte_gpa & ~(PAGE - 1), (pte_gpa % PAGE) // 8
        for table, start, level in list(self.reached.get(frame, ())):
            if level or self.tables.get(table.key) is not table or self.full():
                continue
            va = start | index << 12
            satp, user, sum_, mxr = table.key
            t = self.walk(satp, va, None, user=bool(user), sum_=sum_, mxr=mxr)
            if t.gpa is None or t.gpa not in self.memory or t.pte_gpa != pte_gpa:
                continue  # (that shadow no longer reaches the table there)
            flags = self.restrict(t.gpa, self.grant(t.flags, bool(user), sum_, mxr),
                                  bool(user))
            if flags & (PTE_R | PTE_W | PTE_X):
                self.fill(table, va, t.gpa, flags, False, ptes=t.ptes)

    def emulate_write(self, r: Resolution, insn: int, x: Any, cause: int) -> bool:
        """A write-protect fault (``r``, from :meth:`resolve`, which set A and D in the
        leaf that let it write there, as its MMU would): do the guest's store ``insn``
        (its registers ``x``) to its page table for it, and drop exactly the shadow entries
        derived from the entry it changed (a ``wp_fault`` row, with the cause of the
        exit). False when the store cannot be emulated (a misaligned one, an sc): then
        the page is unshadowed instead, and the caller lets the store run as it is."""
        store = emulate_store(insn, x, r.gpa, self.memory.read, self.memory.write)
        if store is None:
            self.unshadow(r.gpa)
            return False
        self.wp_faults += 1
        self.record("wp_fault", cause, r.gpa & ~7, vaddr=r.va, satp=r.satp,
                    entry=self.memory.read_u64(r.gpa & ~7))
        self.write_pte(r.gpa, store)
        return True

    def unshadow(self, gpa: int) -> list[int]:
        """Stop protecting ``gpa``'s page: drop every shadow entry derived from it (a
        write the hypervisor cannot emulate then runs as it is, and the page is a table
        again, protected, the next time a fill walks it)."""
        frame = gpa & ~(PAGE - 1)
        return self.write_pte(frame, PAGE)

    def drop_page(self, gpa: int) -> bool:
        """Drop every shadow entry that maps guest page ``gpa`` (its machine frame is
        changing: page sharing). False when the shadows keep no record of what they map
        (without write protection): the caller then flushes them all."""
        if not self.write_protect:
            return False
        page = gpa & ~(PAGE - 1)
        for entry in [e for e, (_, mapped) in self.derived.items() if mapped == page]:
            self.drop(entry)
        return True

    def revoke_writes(self, gpa: int) -> None:
        """No shadow may map ``gpa``'s page writable any more (binary translation has
        translated code there): drop the entries that do; they refill read-only."""
        for entry in list(self.writable.pop(gpa & ~(PAGE - 1), ())):
            self.drop(entry)


@dataclass(frozen=True)
class GuestWalk:
    """A guest page-table walk (see :class:`~vkernel.hv.memory.Translation`) and the guest
    physical addresses of the entries it read, root first (``ptes``)."""

    gpa: int | None
    flags: int = 0
    level: int = 0
    pte_gpa: int | None = None
    fault: int | None = None
    ptes: tuple[int, ...] = ()


@dataclass(frozen=True)
class Resolution:
    """What a fault on a shadow was (:meth:`ShadowMMU.resolve`)."""

    kind: str  # "guest", "outside", "write-protect" or "filled"
    cause: int = 0  # "guest": the page fault to reflect
    gpa: int = 0  # the guest physical address the access reached
    pte_gpa: int | None = None  # the guest's leaf entry
    flags: int = 0  # its flags (after A and D were set, for "filled")
    va: int = 0  # "write-protect": the store's address
    satp: int = 0  # "write-protect": the guest's satp it was walked with
