"""Content-based page sharing: one machine frame for many identical guest pages.

Two guests booted from the same kernel hold many pages with the same bytes: the kernel's
code, its read-only data, and above all pages of zeros. Waldspurger's answer (VMware ESX,
"Memory Resource Management in VMware ESX Server", OSDI 2002) needs no help from the
guests: the host *scans* their memory, hashes each page's contents, compares the pages
whose hashes match byte for byte (a hash match is only a hint), and points every p2m
entry of a set of identical pages at one machine frame. The other frames go back to the
free pool: that is the memory saved.

A shared frame belongs to no domain: its owner and account are :data:`SHARED`, so
``host.frames.usage()`` and the memory map show it apart. It is mapped **read-only**
everywhere, so a guest cannot change what another guest reads. The first store to it
faults into the hypervisor (under nested paging, a store guest-page fault: the G-stage
leaf has no W), which *breaks* the sharing for that guest page: a private frame, a copy of
the contents, a writable mapping for that guest only (copy-on-write). The last user of a
shared frame takes it over without a copy. Each merge is an ``hv`` row ``share`` and each
break an ``unshare`` (cause: the domain, detail: the guest physical address).

Which domains take part:

* **hardware-assisted with nested paging**: the G-stage is the hypervisor's alone, so
  making a page read-only is one leaf without W (and an HFENCE.GVMA). The guest's
  current page tables are left out of the scan (every A/D update would break them
  again at once); a table the scan does not know of is still safe, since the hardware's
  A/D update through a read-only G-stage leaf faults here too;
* **shadow paging** (trap-and-emulate, binary translation, hardware with
  ``paging="shadow"``): their shadow entries map machine frames taken from the p2m when
  they were filled, so a merge drops each entry of the page (exactly, through the reverse
  map, with write-protected shadows; otherwise by flushing the domain's shadows), and a
  fill never gives W to a shared page: a store is a hidden fault that breaks the sharing
  first. Tables the shadows write-protect are never shared;
* **paravirtual**: left out. A PV guest's page tables hold *machine* frame numbers that
  it writes itself (Xen validates them), so the host cannot swap a frame under it
  without its cooperation: Xen's sharing (``XENMEM_sharing_op``) is for HVM guests only.

>>> from vkernel.hv import Host
>>> host = Host(machine_mb=32)
>>> a = host.create("hello", "hardware", memory_mb=4, name="a")
>>> b = host.create("hello", "hardware", memory_mb=4, name="b")
>>> saved = host.share_pages()
>>> saved > 1000                  # two 4 MiB guests, mostly zeros and the same kernel
True
>>> host.run().reason, a.console == b.console
('shutdown', True)
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING

from vkernel.core import kernel as K
from vkernel.hv.pagetable import PAGE, PPN_MASK, PTE_R, PTE_V, PTE_W, PTE_X

if TYPE_CHECKING:
    from vkernel.hv.host import Domain, Host

SHARED = "shared"  # the owner (and account) of every frame more than one guest page uses
User = tuple[int, int]  # (domid, guest physical page address)


class PageSharing:
    """The host's content-based page sharing (see the module's docstring): which frames
    are shared, by whom, and the scan and copy-on-write break that change it."""

    def __init__(self, host: Host) -> None:
        self.host = host
        self.users: dict[int, set[User]] = {}  # shared frame -> the guest pages on it
        self.merges = 0  # guest pages pointed at a shared frame, over the host's life
        self.breaks = 0  # copy-on-write breaks
        self.frames_saved = 0  # frames freed by merges, over the host's life

    @staticmethod
    def excluded(d: Domain) -> str | None:
        """Why domain ``d`` takes no part in sharing, or None."""
        if d.state == "shutdown" or d.memory is None:
            return "it has shut down"
        if d.technique_name == "paravirt":
            return ("a paravirtual guest's tables hold machine frames it writes itself: "
                    "the host cannot move one under it (Xen shares HVM guests only)")
        if d.technique_name == "native":
            return "a native guest owns the machine: there is no p2m to change"
        return None

    @property
    def shared_frames(self) -> int:
        return len(self.users)

    # --- the scan ---------------------------------------------------------------------
    def scan(self) -> int:
        """Hash every page of every taking-part domain, compare the pages whose hashes
        match byte for byte, and merge the identical ones. Returns the frames freed."""
        mem = self.host.machine.mem
        buckets: dict[bytes, list[tuple[Domain, int, int]]] = {}
        for d in self.host.domains:
            if self.excluded(d):
                continue
            tables = guest_page_tables(d)
            memory = d.memory
            for i, frame in enumerate(memory.p2m.tolist()):
                gpa = memory.base + i * PAGE
                if frame < 0 or gpa in tables:  # a hole, or swapped out
                    continue
                digest = hashlib.blake2b(mem.read(frame, PAGE), digest_size=16).digest()
                buckets.setdefault(digest, []).append((d, gpa, frame))
        freed = 0
        for candidates in buckets.values():
            frames = {f for _, _, f in candidates}
            if len(frames) > 1:
                freed += self._merge(candidates)
        self.frames_saved += freed
        if self.host.machine._hv_rows:
            self.host.machine.complete_hv(int(self.host.machine.hart.mode))
        return freed

    def _merge(self, candidates: list[tuple[Domain, int, int]]) -> int:
        """Point every candidate whose page equals the chosen one's at one frame (one
        already shared if there is one: the oldest stays). Returns the frames freed."""
        mem, allocator = self.host.machine.mem, self.host.frames
        keep = min((f for _, _, f in candidates if f in self.users),
                   default=candidates[0][2])
        contents = mem.read(keep, PAGE)
        freed = 0
        for d, gpa, frame in candidates:
            if frame == keep and keep in self.users:
                continue  # already on it
            if frame != keep and mem.read(frame, PAGE) != contents:
                continue  # the same hash, other bytes: a collision, never merged
            if keep not in self.users:  # the chosen frame leaves its domain
                allocator.owner[keep] = allocator.charged[keep] = SHARED
                self.users[keep] = set()
            self._point(d, gpa, keep)
            self.users[keep].add((d.domid, gpa))
            if frame != keep and frame not in self.users:
                allocator.free(frame)  # (scrubbed) the memory saved
                freed += 1
            self.merges += 1
            d.record("share", d.domid, gpa, entry=keep)
        return freed

    def _point(self, d: Domain, gpa: int, frame: int) -> None:
        """Guest page ``gpa`` of ``d`` is backed by shared ``frame``, read-only."""
        memory = d.memory
        old = int(memory.p2m[(gpa - memory.base) // PAGE])
        memory.p2m[(gpa - memory.base) // PAGE] = frame
        if memory.m2p.get(old) == gpa:
            del memory.m2p[old]
        memory.m2p[frame] = gpa
        memory.shared.add(gpa)
        memory.on_shared_write = d.technique.copy_on_write
        d.technique.share_map(gpa, frame)

    # --- copy-on-write ----------------------------------------------------------------
    def is_shared(self, d: Domain, gpa: int) -> bool:
        return gpa & ~(PAGE - 1) in d.memory.shared

    def unshare(self, d: Domain, gpa: int) -> int:
        """Break the sharing of ``d``'s page ``gpa`` (its guest wants to write it): a
        private copy, mapped writable for ``d`` alone; the last user keeps the frame
        without a copy. Returns the machine frame that backs the page now."""
        memory, page = d.memory, gpa & ~(PAGE - 1)
        index = (page - memory.base) // PAGE
        frame = int(memory.p2m[index])
        users = self.users[frame]
        users.discard((d.domid, page))
        memory.shared.discard(page)
        allocator = self.host.frames
        if not users:  # the last one: the frame becomes private again, no copy
            del self.users[frame]
            allocator.owner[frame] = allocator.charged[frame] = d.name
            private = frame
        else:
            private = self.host.frame_for(d)
            self.host.machine.mem.write(private, self.host.machine.mem.read(frame, PAGE))
            memory.p2m[index] = private
            if memory.m2p.get(frame) == page:
                del memory.m2p[frame]
            memory.m2p[private] = page
        self.breaks += 1
        d.technique.unshare_map(page, private)
        d.record("unshare", d.domid, page, entry=private)
        return private

    def forget(self, d: Domain, gpa: int, frame: int) -> bool:
        """``d``'s page ``gpa`` no longer uses ``frame`` (ballooned out, or ``d`` is
        destroyed). True if ``frame`` was shared (the caller must not free it: it is
        freed here once nobody uses it)."""
        users = self.users.get(frame)
        if users is None:
            return False
        users.discard((d.domid, gpa & ~(PAGE - 1)))
        d.memory.shared.discard(gpa & ~(PAGE - 1))
        if not users:
            del self.users[frame]
            self.host.frames.free(frame)
        return True

    def forget_domain(self, d: Domain) -> None:
        """Every shared page of ``d`` is given up (``d`` is being destroyed)."""
        if d.memory is None:
            return
        for page in sorted(d.memory.shared):
            self.forget(d, page, d.memory.machine_address(page))


def guest_page_tables(d: Domain) -> set[int]:
    """The guest physical pages of ``d``'s current Sv39 page tables (from the satp it
    wrote), and every table its shadows write-protect: pages the scan leaves alone (its
    MMU writes A and D bits into them, its kernel changes them)."""
    t = d.technique
    shadow = getattr(t, "shadow", None)
    protected = set(shadow.table_refs) if shadow is not None else set()
    if hasattr(t, "csrs"):  # deprivileged: the hypervisor keeps its satp
        satp = t.csrs.satp
    elif getattr(t, "shadowed", False):  # hardware, paging="shadow": likewise
        satp = t.satp
    elif d.loaded:  # nested paging: its vsatp, in the hart or saved
        satp = d.machine.hart.csr["vsatp"]
    else:
        satp = int(d.context.csr[K.CSR_VSATP])
    if satp >> 60 & 0xF != K.SATP_MODE_SV39:
        return protected
    memory, found = d.memory, set()
    todo = [((satp & PPN_MASK) << 12, 2)]
    while todo:
        table, level = todo.pop()
        if table in found or table not in memory or table in memory.swapped:
            continue  # (a swapped-out table is read back when the guest walks it)
        found.add(table)
        if level == 0:
            continue
        for i in range(512):
            pte = memory.read_u64(table + 8 * i)
            if pte & PTE_V and not pte & (PTE_R | PTE_W | PTE_X):  # a pointer to a table
                todo.append((((pte >> 10) & PPN_MASK) << 12, level - 1))
    return found | protected
