"""``ShadowPageTables``: one domain's guest page table, p2m and shadow table side by
side, live (front end ``widgets/shadow_page_tables.js``)."""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from vkernel.core import kernel as K
from vkernel.plots import PALETTE
from vkernel.trace.schema import HV_EVENT
from vkernel.widgets._common import ASSETS, _check_kwargs, _is_domain, _is_host, _is_vm, esm

PAGE = 4096
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U = 1, 2, 4, 8, 16
PTE_D = 128
PPN_MASK = (1 << 44) - 1
TOP = (1 << 64) - 1
MAX_ROWS = 4096  # the most rows a pane sends (a cap, not a view: these tables are small)

# the columns of ``guest``: one uint64 row per valid entry of the guest's table, in walk
# order (a table's entries after the entry that points to it)
GUEST_COLUMNS = ("level", "vaddr", "size", "pte_addr", "pte", "target", "kernel",
                 "protected")
# the columns of ``p2m``: one row per guest physical page a guest leaf names (of a
# superpage: the pages the shadow maps), with its machine frame
P2M_COLUMNS = ("gpa", "machine", "table", "shadowed")
# the columns of ``shadow``: one row per 4 KiB leaf of the shadow table the hardware walks
# (and one per 4 KiB guest leaf it has no entry for yet: ``missing``)
SHADOW_COLUMNS = ("vaddr", "machine", "pte", "state", "gpa")
# the columns of ``events``: the last hv rows that concern memory, and the exits behind them
EVENT_COLUMNS = ("row", "step", "event", "cause", "detail", "pc", "cycles")
# what a shadow leaf is, compared with the guest's table composed with the p2m
STATES = ("consistent", "read-only: a guest page table", "read-only: not dirty yet",
          "missing", "stale", "read-only: the technique's", "device", "the hypervisor's")
STATE_TITLES = (
    "the shadow entry equals the guest's translation composed with the p2m",
    "mapped read-only because the page it maps is a guest page table the shadow depends "
    "on: a store to it traps (a write-protect fault) and is emulated",
    "mapped read-only because the guest has not marked the page dirty: the first store "
    "traps, the hypervisor sets D in the guest's entry and makes the entry writable",
    "the guest maps this page but the shadow has no entry yet: the first access takes a "
    "hidden fault that fills it",
    "the shadow entry does not match the guest's table: the guest changed it and has not "
    "said so yet (sfence.vma), as a TLB may hold it",
    "mapped with fewer permissions than the guest's: the technique restricts it (binary "
    "translation write-protects the code it translated)",
    "the guest maps a page outside its RAM (a device): never in the shadow, so every "
    "access exits and the hypervisor emulates it",
    "a page of the hypervisor's own, not the guest's (binary translation maps its "
    "translation cache and the vCPU page into the guest kernel's shadow)")
CONSISTENT, TABLE, CLEAN, MISSING, STALE, RESTRICTED, DEVICE, OWN = range(8)
STATE_COLOURS = (PALETTE[1], PALETTE[2], PALETTE[6], PALETTE[9], PALETTE[7], PALETTE[5],
                 PALETTE[8], PALETTE[10])
MEMORY_EVENTS = ("hv_walk", "shadow_update", "shadow_drop", "wp_fault")
_CODE = {name: code for code, name in HV_EVENT.items()}


def _sign(va: int) -> int:
    """Sv39's canonical form: bit 38 copied up."""
    return va | (TOP ^ ((1 << 39) - 1)) if va >> 38 & 1 else va


def _rows(rows: list[tuple[int, ...]], width: int) -> bytes:
    return np.array(rows, np.uint64).reshape(-1, width).tobytes()


class ShadowPageTables(anywidget.AnyWidget):
    """One domain's memory virtualization by shadow paging, three panes side by side for
    the guest's current address space:

    1. **guest page table**: the guest's own Sv39 table (its satp root, walked in guest
       physical memory), every valid entry level by level, the user part and the kernel
       part apart; each leaf a virtual range -> a guest physical page, with its flags.
       Tables the hypervisor write-protects (``shadow.table_refs``) are marked.
    2. **p2m**: the machine frame behind each guest physical page those leaves name (of
       a superpage, the pages the shadow maps).
    3. **shadow table**: what the hardware really walks: virtual page -> machine frame,
       each leaf marked by :data:`STATES`: consistent (= guest table ∘ p2m), read-only
       (its page is a write-protected guest page table, or not dirty yet), stale, or
       missing (a 4 KiB guest leaf the shadow has not filled yet).

    And an event strip: the last hv rows that concern memory (``hv_walk``,
    ``shadow_update``, ``shadow_drop``, ``wp_fault``) with the ``vm_exit`` behind them
    and their modelled cycles. The latest write-protect fault is highlighted: the guest
    entry written (the ``wp_fault`` row's detail, :attr:`written`) in pane 1, the shadow
    entries dropped (:attr:`dropped`, virtual addresses) and installed again at once
    (:attr:`updated`, guest physical pages: prefetching) in pane 3. The hv rows come
    from the machine's recording: make the VM with ``trace="hv"`` (or more); without it
    the strip stays empty (and says so) while the panes still work.

    ``source`` is a :class:`~vkernel.hv.VM`, a domain, or a Host with ``domain=`` (a domid
    or a name; default: its first domain); its technique must keep shadows:
    trap-emulate, binary-translation, or hardware with ``paging="shadow"``. Read now, at
    :meth:`refresh`, after :meth:`step` and :meth:`run_until_event`, and at every step of
    a :class:`MachineView` of the same host linked with :func:`link`. ``events`` is how
    many hv rows the strip keeps.

    >>> from vkernel.hv import VM
    >>> vm = VM("hello", "trap-emulate", trace="hv")
    >>> _ = vm.run(max_steps=20_000)
    >>> spt = ShadowPageTables(vm)
    >>> s = spt.shadow_leaves
    >>> bool((s.state == "consistent").any()), sorted(spt.protected) == sorted(
    ...     vm.technique.shadow.table_refs)
    (True, True)
    """

    _esm = esm("shadow_page_tables.js")
    _css = ASSETS / "vkernel.css"

    guest = traitlets.Bytes(b"").tag(sync=True)  # uint64 rows of GUEST_COLUMNS
    p2m = traitlets.Bytes(b"").tag(sync=True)  # uint64 rows of P2M_COLUMNS
    shadow = traitlets.Bytes(b"").tag(sync=True)  # uint64 rows of SHADOW_COLUMNS
    events = traitlets.Bytes(b"").tag(sync=True)  # uint64 rows of EVENT_COLUMNS
    written = traitlets.Int(-1).tag(sync=True)  # guest PTE address of the latest wp_fault
    dropped = traitlets.Bytes(b"").tag(sync=True)  # uint64 VAs its exit dropped
    updated = traitlets.Bytes(b"").tag(sync=True)  # uint64 gpas its exit installed again
    info = traitlets.Dict().tag(sync=True)  # words: domain, technique, satps, counts
    states = traitlets.List().tag(sync=True)  # [name, colour, title] per state
    event_names = traitlets.Dict().tag(sync=True)  # hv event code -> name
    note = traitlets.Unicode("").tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)  # the step of a linked view it last followed

    _KWARGS = ("domain", "events")
    LINK_TRAIT = "step"

    def __init__(self, source: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        domain = kwargs.get("domain")
        if _is_vm(source):
            d = source.domain
        elif _is_domain(source):
            d = source
        elif _is_host(source):
            ds = source.domains
            if not ds:
                raise ValueError("this host has no domains")
            d = ds[0] if domain is None else next(
                (x for x in ds if domain in (x.domid, x.name)), None)
            if d is None:
                raise ValueError(f"no domain {domain!r}; the host has "
                                 f"{', '.join(f'{x.domid} {x.name!r}' for x in ds)}")
        else:
            raise TypeError("ShadowPageTables needs a vkernel.hv VM, a Domain, or a Host")
        mmu = getattr(d.technique, "shadow", None)
        if not hasattr(mmu, "table_refs") or not getattr(d.technique, "shadowed", True):
            how = d.technique_name + (f' with paging="{d.paging}"' if d.paging else "")
            raise ValueError(
                f"ShadowPageTables needs a technique that keeps shadow page tables "
                f"(trap-emulate, binary-translation, or hardware with paging=\"shadow\"); "
                f"domain {d.name!r} runs {how}, which keeps none"
                + (": its G-stage is the p2m (see AddressTranslation)"
                   if d.technique_name == "hardware" else ""))
        super().__init__()
        self.domain = d
        self.host = d.host
        self.keep = int(kwargs.get("events", 12))
        if self.keep < 1:
            raise ValueError("events must be positive")
        self.states = [[n, c, t] for n, c, t in zip(STATES, STATE_COLOURS, STATE_TITLES,
                                                     strict=True)]
        self.event_names = {str(c): n for c, n in HV_EVENT.items()}
        self.refresh()

    # --- what the hypervisor keeps ----------------------------------------------------
    @property
    def mmu(self) -> Any:  # noqa: ANN401 - the domain's ShadowMMU
        return self.domain.technique.shadow

    def current(self) -> Any:  # noqa: ANN401 - a ShadowTable, or None
        """The shadow table the hardware walks for this domain (satp's, or vsatp's under
        hardware assistance; of a domain switched out, what its world switch saved),
        found without making one; None before it has one."""
        shadowed = getattr(self.domain.technique, "shadowed", False)
        number = K.CSR_VSATP if shadowed else K.CSR_SATP
        loaded = getattr(self.host, "loaded", self.domain) in (self.domain, None)
        # its vCPU in the hart, or saved by the last world switch away from it
        want = int(self.host.machine._csr[number] if loaded
                   else self.domain.context.csr[number]) & TOP
        return next((t for t in self.mmu.tables.values() if t.satp == want), None)

    @property
    def protected(self) -> list[int]:
        """The guest frames write-protected as page tables (``shadow.table_refs``)."""
        return sorted(self.mmu.table_refs)

    # --- reading it all ---------------------------------------------------------------
    def refresh(self) -> None:
        """Read the guest's table, the p2m, the shadow and the hv rows again."""
        memory, mmu = self.domain.memory, self.mmu
        table = self.current()
        key = table.key if table is not None else (0, 0, False, False)
        satp = key[0]
        protected = set(mmu.table_refs)
        guest: list[tuple[int, ...]] = []
        leaves: list[tuple[int, int, int, int]] = []  # (va, size, gpa, pte)
        paged = satp >> 60 == 8
        self._read_events()  # first: the entry the latest wp_fault wrote is shown, valid or not
        if paged:
            self._walk_guest((satp & PPN_MASK) << 12, 2, 0, guest, leaves, protected)
        shadow_rows, shadowed = self._shadow_rows(table, leaves)
        gpages: dict[int, None] = {}
        for _va, size, gpa, _pte in leaves:
            if size == PAGE:
                gpages[gpa] = None
        for page in sorted(set(shadowed) - set(gpages)):
            gpages[page] = None
        p2m = []
        for page in sorted(gpages):
            if page in memory:
                p2m.append((page, memory.machine_address(page), int(page in protected),
                            int(page in shadowed)))
        self.guest = _rows(guest[:MAX_ROWS], len(GUEST_COLUMNS))
        self.p2m = _rows(p2m[:MAX_ROWS], len(P2M_COLUMNS))
        self.shadow = _rows(shadow_rows[:MAX_ROWS], len(SHADOW_COLUMNS))
        kind = self.domain.technique_name + (
            ' (paging="shadow")' if self.domain.paging == "shadow" else "")
        self.info = {
            "domain": self.domain.name, "technique": kind,
            "guest_satp": hex(satp), "shadow_satp": hex(table.satp) if table else "",
            "mode": "U" if key[1] else "S", "paging": bool(paged),
            "write_protect": bool(mmu.write_protect), "tables": len(mmu.tables),
            "fills": mmu.fills, "hidden_faults": mmu.hidden_faults,
            "wp_faults": mmu.wp_faults, "drops": mmu.drops,
            "steps": int(self.host.steps)}
        notes = []
        if not paged:
            notes.append("the guest's paging is off (satp Bare): its shadow maps guest "
                         "physical addresses straight to machine frames")
        if not mmu.write_protect:
            notes.append('shadows kept "simple": forgotten on sfence.vma, no table is '
                         "write-protected")
        self.note = "; ".join(notes)

    def _walk_guest(self, table: int, level: int, base: int, out: list,
                    leaves: list, protected: set[int], kernel: int = -1) -> None:
        memory = self.domain.memory
        if table not in memory:
            return
        for i in range(512):
            pte_addr = table + 8 * i
            pte = memory.read_u64(pte_addr)
            if not pte & PTE_V and pte_addr != self.written:  # (an entry the latest
                continue  # write-protect fault cleared: shown, to see what it did)
            va = _sign(base | i << (12 + 9 * level))
            size = PAGE << (9 * level)
            target = (pte >> 10 & PPN_MASK) << 12
            part = kernel
            if part < 0:  # a root entry: its part is the kernel's unless a leaf has U
                part = 0 if self._has_user(pte, level) else 1
            out.append((level, va, size, pte_addr, pte, target, part,
                        int(table in protected)))
            if not pte & PTE_V:
                continue
            if pte & (PTE_R | PTE_X):
                leaves.append((va, size, target, pte))
            elif level:
                self._walk_guest(target, level - 1, va, out, leaves, protected, part)

    def _has_user(self, pte: int, level: int) -> bool:
        """Whether a guest entry leads to a leaf with U set (it holds the user part)."""
        if pte & (PTE_R | PTE_X):
            return bool(pte & PTE_U)
        if not level:
            return False
        table = (pte >> 10 & PPN_MASK) << 12
        memory = self.domain.memory
        if table not in memory:
            return False
        return any(memory.read_u64(table + 8 * i) & PTE_V
                   and self._has_user(memory.read_u64(table + 8 * i), level - 1)
                   for i in range(512))

    def _shadow_rows(self, table: Any, leaves: list) -> tuple[list, dict[int, int]]:
        """The shadow's 4 KiB leaves, each with its state, then the 4 KiB guest leaves
        it has no entry for yet; and the guest pages the shadow maps (gpa -> count)."""
        rows: list[tuple[int, ...]] = []
        shadowed: dict[int, int] = {}
        if table is None:
            return rows, shadowed
        mmu, memory = self.mmu, self.domain.memory
        read = self.host.machine.mem.read_u64
        satp, user, sum_, mxr = table.key
        mapped = set()
        m2p = memory.m2p

        def visit(t: int, level: int, base: int) -> None:
            for i in range(512):
                pte = read(t + 8 * i)
                if not pte & PTE_V:
                    continue
                va = _sign(base | i << (12 + 9 * level))
                if not pte & (PTE_R | PTE_X):
                    if level:
                        visit((pte >> 10 & PPN_MASK) << 12, level - 1, va)
                    continue
                machine = (pte >> 10 & PPN_MASK) << 12
                g = mmu.walk(satp, va, None, user=bool(user), sum_=sum_, mxr=mxr)
                gpa = g.gpa & ~(PAGE - 1) if g.gpa is not None else TOP
                if machine not in m2p:  # no guest page's frame: the hypervisor's
                    state = OWN
                elif g.gpa is None or g.gpa not in memory \
                        or memory.machine_address(gpa) != machine:
                    state = STALE
                elif pte & PTE_W or not g.flags & PTE_W:
                    state = CONSISTENT
                elif gpa in mmu.table_refs:
                    state = TABLE
                elif not g.flags & PTE_D:
                    state = CLEAN
                else:
                    state = RESTRICTED
                if gpa != TOP:
                    shadowed[gpa] = shadowed.get(gpa, 0) + 1
                mapped.add(va)
                rows.append((va, machine, pte, state, gpa))

        visit(table.pages[0], 2, 0)
        for va, size, gpa, _pte in leaves:
            if size == PAGE and va not in mapped:
                rows.append((va, 0, 0, MISSING if gpa in memory else DEVICE, gpa))
        rows.sort()
        return rows, shadowed

    def _read_events(self) -> None:
        machine = self.host.machine
        if "hv" not in machine.tracing:
            self.events, self.written, self.dropped, self.updated = b"", -1, b"", b""
            self._event_note = "no hv rows: record them with trace=\"hv\" (or more)"
            return
        self._event_note = ""
        c = {k: np.asarray(v).astype(np.int64) for k, v in machine.events("hv").items()}
        n = c["step"].size
        if "domain" in c and len(self.host.domains) > 1:
            mine = c["domain"] == self.domain.domid
        else:
            mine = np.ones(n, bool)
        rows = np.flatnonzero(mine)
        ev = c["event"][rows]
        memory = np.isin(ev, [_CODE[e] for e in MEMORY_EVENTS])
        exit_ = ev == _CODE["vm_exit"]
        # each memory row's exit: the latest vm_exit row at or before it
        last_exit = np.maximum.accumulate(np.where(exit_, np.arange(rows.size), -1)) \
            if rows.size else np.zeros(0, np.int64)
        keep = set(np.flatnonzero(memory)[-self.keep:].tolist())
        keep |= {int(last_exit[i]) for i in keep if last_exit[i] >= 0}
        pick = rows[sorted(keep)]
        self.events = np.stack([pick] + [c[k][pick] for k in EVENT_COLUMNS[1:]],
                               axis=1).astype(np.uint64).tobytes() if pick.size else b""
        wp = np.flatnonzero(ev == _CODE["wp_fault"])
        if wp.size:
            at = wp[-1]
            self.written = int(c["detail"][rows[at]])
            after = np.arange(at + 1, rows.size)
            nxt = after[exit_[after]]
            end = int(nxt[0]) if nxt.size else rows.size
            def details(event: str) -> bytes:
                return np.array([c["detail"][rows[i]] for i in range(at + 1, end)
                                 if ev[i] == _CODE[event]], np.uint64).tobytes()
            self.dropped, self.updated = details("shadow_drop"), details("shadow_update")
            self._wp_step = int(c["step"][rows[at]])
        else:
            self.written, self.dropped, self.updated, self._wp_step = -1, b"", b"", -1

    # --- following the guest ----------------------------------------------------------
    def show(self, step: int) -> None:
        """Follow a linked view to ``step``: read everything again."""
        self.step = int(step)
        self.refresh()

    def run(self, n: int = 1) -> None:
        """Run the host ``n`` steps (VM exits included), then read everything again."""
        self.host.run(max_steps=int(n))
        self.refresh()

    def run_until_event(self, event: str = "wp_fault", max_steps: int = 200_000) -> bool:
        """Run one step at a time until the domain records a new hv row ``event`` (a name
        of the schema's HV_EVENT; needs ``trace="hv"``), or ``max_steps`` pass; True if
        it did. The panes then show the state just after the exit that recorded it."""
        if event not in _CODE:
            raise ValueError(f"unknown hv event {event!r}; choose from "
                             f"{', '.join(HV_EVENT.values())}")
        if "hv" not in self.host.machine.tracing:
            raise ValueError('run_until_event needs hv rows: make the VM with trace="hv"')
        code = _CODE[event]

        def count() -> int:
            c = self.host.machine.events("hv")
            return int(np.count_nonzero(c["event"] == code))

        before, start = count(), self.host.steps
        while self.host.steps - start < max_steps and self.domain.state != "shutdown":
            self.host.run(max_steps=1)
            if count() > before:
                self.refresh()
                return True
        self.refresh()
        return False

    # --- the same data as DataFrames ----------------------------------------------------
    def _frame(self, data: bytes, columns: tuple[str, ...]) -> pd.DataFrame:
        rows = np.frombuffer(data, "<u8").reshape(-1, len(columns))
        return pd.DataFrame({c: rows[:, i] for i, c in enumerate(columns)})

    @property
    def guest_entries(self) -> pd.DataFrame:
        """Pane 1: every valid entry of the guest's table (:data:`GUEST_COLUMNS`)."""
        return self._frame(self.guest, GUEST_COLUMNS)

    @property
    def p2m_pages(self) -> pd.DataFrame:
        """Pane 2: guest physical page -> machine frame (:data:`P2M_COLUMNS`)."""
        return self._frame(self.p2m, P2M_COLUMNS)

    @property
    def shadow_leaves(self) -> pd.DataFrame:
        """Pane 3: the shadow's leaves (and missing ones), ``state`` in words."""
        f = self._frame(self.shadow, SHADOW_COLUMNS)
        f["state"] = f["state"].map(dict(enumerate(STATES)))
        return f

    @property
    def event_rows(self) -> pd.DataFrame:
        """The event strip: hv rows, ``event`` in words."""
        f = self._frame(self.events, EVENT_COLUMNS)
        f["event"] = f["event"].map(HV_EVENT)
        return f
