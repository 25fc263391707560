"""``ShadowPageTables``: one domain's guest page table, p2m and shadow table side by
side, live or replayed from a trace (front end ``widgets/shadow_page_tables.js``).

Both ways read what they know into plain tables (the guest's entries, the p2m, the
shadow's leaves, the write-protected frames), and the same functions draw the panes from
them: :func:`walk_guest` (pane 1) and :func:`classify` (pane 3, each shadow entry's
state)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets
import xarray as xr

from vkernel.core import kernel as K
from vkernel.errors import TraceError
from vkernel.hv.pagetable import walk
from vkernel.plots import PALETTE
from vkernel.trace import tables
from vkernel.trace.schema import HV_EVENT
from vkernel.widgets._common import ASSETS, _check_kwargs, _is_domain, _is_host, _is_vm, esm
from vkernel.widgets.ring_timeline import _domain_info

PAGE = 4096
PTE_V, PTE_R, PTE_W, PTE_X, PTE_U = 1, 2, 4, 8, 16
PTE_A, PTE_D = 64, 128
PPN_MASK = (1 << 44) - 1
TOP = (1 << 64) - 1
NO_FRAME = TOP  # a page of the guest's RAM with no machine frame behind it now
INVALID_FRAME = -1  # (GuestMemory.p2m: a hole, not its RAM)
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


# --- the panes from plain tables: the live widget and the replay of a trace both ----------
# read what they know into dicts and ints, then these draw the same rows from them
Read = Callable[[int], "int | None"]  # a guest PTE by its address (None: not known)


def walk_guest(satp: int, read: Read, protected: set[int] | frozenset[int] = frozenset(),
               written: int = -1) -> tuple[list[tuple[int, ...]], list[tuple[int, ...]]]:
    """Pane 1: walk the guest's table from its ``satp`` with ``read`` (the guest's memory,
    or the entries a trace knows: an entry read as None is skipped), level by level:
    rows of :data:`GUEST_COLUMNS` in walk order (a table's entries after the entry that
    points to it), and its leaves, ``(va, size, gpa, pte)``. ``protected``: the guest
    frames write-protected (their entries are marked); ``written``: an entry shown even
    when not valid (the one the latest write-protect fault wrote)."""
    rows: list[tuple[int, ...]] = []
    leaves: list[tuple[int, ...]] = []
    if satp >> 60 == 8:  # Sv39 (Bare: no table)
        _walk(read, (satp & PPN_MASK) << 12, 2, 0, rows, leaves, protected, written)
    return rows, leaves


def _walk(read: Read, table: int, level: int, base: int, out: list, leaves: list,
          protected: set[int] | frozenset[int], written: int, kernel: int = -1) -> None:
    for i in range(512):
        pte_addr = table + 8 * i
        pte = read(pte_addr)
        if pte is None:
            continue
        if not pte & PTE_V and pte_addr != written:  # (an entry the latest write-
            continue  # protect fault cleared: shown, to see what it did)
        va = _sign(base | i << (12 + 9 * level))
        size = PAGE << (9 * level)
        target = (pte >> 10 & PPN_MASK) << 12
        part = kernel
        if part < 0:  # a root entry: its part is the kernel's unless a leaf has U
            part = 0 if _has_user(read, pte, level) else 1
        out.append((level, va, size, pte_addr, pte, target, part, int(table in protected)))
        if not pte & PTE_V:
            continue
        if pte & (PTE_R | PTE_X):
            leaves.append((va, size, target, pte))
        elif level:
            _walk(read, target, level - 1, va, out, leaves, protected, written, part)


def _has_user(read: Read, pte: int, level: int) -> bool:
    """Whether a guest entry leads to a leaf with U set (it holds the user part)."""
    if pte & (PTE_R | PTE_X):
        return bool(pte & PTE_U)
    if not level:
        return False
    table = (pte >> 10 & PPN_MASK) << 12
    entries = (read(table + 8 * i) for i in range(512))
    return any(e is not None and e & PTE_V and _has_user(read, e, level - 1)
               for e in entries)


def _shadow_leaves(read: Callable[[int], int], table: int, level: int, base: int,
                   out: dict[int, int]) -> None:
    """A shadow table's leaves, walked in machine memory: va -> entry, into ``out``."""
    for i in range(512):
        pte = read(table + 8 * i)
        if not pte & PTE_V:
            continue
        va = _sign(base | i << (12 + 9 * level))
        if pte & (PTE_R | PTE_X):
            out[va] = pte
        elif level:
            _shadow_leaves(read, (pte >> 10 & PPN_MASK) << 12, level - 1, va, out)


def translation(leaves: list[tuple[int, ...]] | None) -> Callable[[int], tuple[int, int] | None]:
    """The guest's translation of a virtual address by its leaves (from
    :func:`walk_guest`): ``va -> (gpa, leaf flags)``, None where no leaf maps it. None
    for ``leaves``: paging off (Bare), every address is its own guest physical one."""
    if leaves is None:
        return lambda va: (va, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
    by_size: dict[int, dict[int, tuple[int, int]]] = {}
    for va, size, gpa, pte in leaves:
        by_size.setdefault(size, {})[va] = (gpa, pte & 0xFF)

    def find(va: int) -> tuple[int, int] | None:
        for size, table in by_size.items():
            hit = table.get(va & ~(size - 1))
            if hit is not None:
                return hit[0] | (va & (size - 1)), hit[1]
        return None
    return find


def classify(shadow: dict[int, int], leaves: list[tuple[int, ...]] | None,
             p2m: dict[int, int], protected: set[int]) -> tuple[list, dict[int, int]]:
    """Pane 3: each of a shadow's 4 KiB leaves (``shadow``: va -> entry) checked against
    the guest's table (its ``leaves`` from :func:`walk_guest`; None: paging off) composed
    with the ``p2m`` (guest physical page -> machine address, :data:`NO_FRAME` for a page
    of its RAM with no frame behind it now), and the ``protected`` guest frames (its
    write-protected page tables): rows of :data:`SHADOW_COLUMNS`, its state one of
    :data:`STATES`, then a ``missing`` (or ``device``) row for each 4 KiB guest leaf the
    shadow has no entry for; and the guest pages the shadow maps (gpa -> how often)."""
    guest = translation(leaves)
    owned = set(p2m.values()) - {NO_FRAME}  # the machine frames that are the guest's
    rows: list[tuple[int, ...]] = []
    shadowed: dict[int, int] = {}
    for va, pte in shadow.items():
        machine = (pte >> 10 & PPN_MASK) << 12
        g = guest(va)  # (gpa, flags) of the guest's own translation, or None
        gpa = g[0] & ~(PAGE - 1) if g is not None else TOP
        if machine not in owned:  # no guest page's frame: the hypervisor's
            state = OWN
        elif g is None or p2m.get(gpa, NO_FRAME) != machine:
            state = STALE
        elif pte & PTE_W or not g[1] & PTE_W:
            state = CONSISTENT
        elif gpa in protected:
            state = TABLE
        elif not g[1] & PTE_D:
            state = CLEAN
        else:
            state = RESTRICTED
        if gpa != TOP:
            shadowed[gpa] = shadowed.get(gpa, 0) + 1
        rows.append((va, machine, pte, state, gpa))
    for va, size, gpa, _pte in leaves or ():
        if size == PAGE and va not in shadow:
            rows.append((va, 0, 0, MISSING if gpa in p2m else DEVICE, gpa))
    rows.sort()
    return rows, shadowed


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

    **Replaying a recorded run**: :meth:`from_trace` builds the widget from a trace
    Dataset (``trace=("hv", "p2m")``) with no machine, at any step; :meth:`show` scrubs
    it (a linked :class:`RingTimeline` or :class:`MachineView` moves it too). The panes
    then hold what the rows say (:mod:`vkernel.trace.tables`): the shadows exactly, the
    p2m exactly, and of the guest's table only the entries its hypervisor read or wrote;
    the write-protected frames are the tables those walks read, for the shadow entries
    present then (what ``shadow.table_refs`` counts).

    >>> from vkernel.hv import VM
    >>> vm = VM("hello", "trap-emulate", trace="hv")
    >>> _ = vm.run(max_steps=20_000)
    >>> spt = ShadowPageTables(vm)
    >>> s = spt.shadow_leaves
    >>> bool((s.state == "consistent").any()), sorted(spt.protected) == sorted(
    ...     vm.technique.shadow.table_refs)
    (True, True)

    The same run replayed from its trace, at its end and at an earlier step:

    >>> replay = ShadowPageTables.from_trace(vm.trace_dataset())
    >>> def present(w):  # the entries the shadow has, with their states
    ...     s = w.shadow_leaves
    ...     return s[~s.state.isin(["missing", "device"])].values.tolist()
    >>> present(replay) == present(spt), replay.protected == spt.protected
    (True, True)
    >>> replay.show(5_000); len(present(replay)) < len(present(spt))
    True
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
    # (a replay: the trace step shown)

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
            raise TypeError("ShadowPageTables needs a vkernel.hv VM, a Domain, or a Host"
                            + ("; for a trace use ShadowPageTables.from_trace(ds)"
                               if hasattr(source, "dims") else ""))
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
        self.trace: xr.Dataset | None = None  # (a replay's: see from_trace)
        self._start(kwargs.get("events", 12))
        self.refresh()

    def _start(self, events: int) -> None:
        self.keep = int(events)
        if self.keep < 1:
            raise ValueError("events must be positive")
        self.states = [[n, c, t] for n, c, t in zip(STATES, STATE_COLOURS, STATE_TITLES,
                                                     strict=True)]
        self.event_names = {str(c): n for c, n in HV_EVENT.items()}

    # --- or replaying a trace ---------------------------------------------------------
    @classmethod
    def from_trace(cls, ds: xr.Dataset, step: int | None = None, *,
                   domain: int | str | None = None, satp: int | None = None,
                   shadow: int | None = None, write_protect: bool | None = None,
                   events: int = 12) -> ShadowPageTables:
        """The three panes and the strip redrawn from a recorded trace ``ds`` at trace
        ``step`` (None: its end), with no machine; :meth:`show` scrubs to another step
        (and a linked view's steps move it). Needs the ``hv`` family, and the ``p2m``
        family for pane 2 (``trace=("hv", "p2m")``).

        ``domain``: a domid or a name (needed when the trace holds several). The address
        space shown is ``satp`` (a guest satp) if given, else the guest's satp then
        (:func:`vkernel.trace.tables.guest_satp`); its shadow is ``shadow`` (a shadow satp) if
        given, else the one its latest hidden fault filled
        (:func:`vkernel.trace.tables.shadow_spaces`). ``write_protect``: whether the
        shadows were kept by write protection (None: yes if the trace has a
        ``wp_fault`` row of the domain, or no shadow entry maps a guest page table
        writable: the default ``shadow="write-protect"``).

        A trace without the hv family is a :class:`~vkernel.errors.TraceError`; a domain
        whose rows fill no shadow (nested paging, paravirt) a ValueError, as live."""
        if "hv" not in getattr(ds, "dims", {}):
            raise TraceError("ShadowPageTables.from_trace needs the hv family: record "
                             "the run with trace=(\"hv\", \"p2m\")")
        names = {int(k): v for k, v in _domain_info(ds).items()}
        if isinstance(domain, str):
            found = [d for d, i in names.items() if i.get("name") == domain]
            if not found:
                raise ValueError(f"no domain {domain!r} in this trace; it has "
                                 + ", ".join(f"{d} {i.get('name')!r}"
                                             for d, i in sorted(names.items())))
            domain = found[0]
        self = cls.__new__(cls)
        super(ShadowPageTables, self).__init__()
        self.domain = self.host = None
        self.trace = ds
        self._domid = tables._one_domain(ds["hv_domain"].values, domain)
        self._names = names.get(self._domid, {})
        kept = ds.hv_event.values[ds.hv_domain.values == self._domid] == _CODE["shadow_update"]
        if not kept.any():
            raise ValueError(
                f"domain {self._domid} ({self._names.get('technique', '?')}) has no "
                f"shadow_update row in this trace: its technique keeps no shadow page "
                f"tables (nested paging, paravirt), or it never filled one")
        self._satp, self._shadow, self._write_protect = satp, shadow, write_protect
        self._start(events)
        if step is None:  # its end: the latest row of any family the replay reads
            step = max([int(ds[f"{f}_step"].max()) for f in ("hv", "p2m")
                        if f in ds.dims and ds.sizes[f]] or [0])
        self.show(step)
        return self

    def _replay(self, step: int) -> None:
        """Redraw every pane from the trace's rows of steps up to ``step``: read the
        tables the rows give (vkernel.trace.tables) into dicts, then draw them as the
        live widget draws what it reads."""
        ds, dom = self.trace, self._domid
        shadows = tables.shadow_entries(ds, step, dom)  # every shadow's leaves
        known = tables.guest_entries(ds, step, dom)  # the guest entries the rows gave
        spaces = tables.shadow_spaces(ds, step, dom)  # shadow satp -> guest satp
        read = dict(zip(known.index.tolist(), known.pte.tolist(), strict=True)).get
        notes = []
        # the address space shown, and the shadow the hardware walked for it
        satp = self._satp if self._satp is not None else tables.guest_satp(ds, step, dom)
        satp = satp or 0
        mine = spaces[spaces.guest_satp == satp]
        current = self._shadow if self._shadow is not None else (
            int(mine.step.idxmax()) if len(mine) else None)
        if current is None:
            notes.append(f"no shadow of address space {satp:#x} at step {step:,}: pass "
                         f"shadow= (one of {', '.join(hex(s) for s in spaces.index)})")
        if "p2m" in ds.dims:
            p = tables.p2m(ds, step, dom)
            p2m = dict(zip(p.index.tolist(), p.machine.tolist(), strict=True))
        else:  # only what the shadows say: every entry then agrees with it
            p2m = {g & ~(PAGE - 1): m for g, m in zip(shadows.gpa.tolist(),
                                                       shadows.machine.tolist(), strict=True)}
            notes.append("no p2m family in this trace (record trace=(\"hv\", \"p2m\")): "
                         "pane 2 holds only the pages the shadows map, so no shadow entry "
                         "can be found stale")
        protected, wp = self._replay_protected(shadows, spaces, read)
        # the event strip first (the entry the latest wp_fault wrote is shown, valid or not)
        c = {k: ds[f"hv_{k}"].values.astype(np.int64)
             for k in ("step", "event", "cause", "detail", "pc", "cycles")}
        mask = c["step"] <= step
        if len(set(np.unique(ds.hv_domain.values).tolist()) - {0}) > 1:  # a host's
            mask &= ds.hv_domain.values == dom
        self._strip(c, np.flatnonzero(mask))
        # the panes, as live
        guest, leaves = walk_guest(satp, read, protected, self.written)
        shadow = {} if current is None else dict(zip(
            shadows.vaddr[shadows.satp == current].tolist(),
            shadows.entry[shadows.satp == current].tolist(), strict=True))
        paged = satp >> 60 == 8
        shadow_rows, shadowed = classify(shadow, leaves if paged else None, p2m, protected)
        self._fill_panes(guest, leaves, shadow_rows, shadowed, p2m, protected)
        self._protected = protected
        # the title's words, counted from the rows as the live ShadowMMU counts them
        mine_rows = (c["step"] <= step) & (ds.hv_domain.values == dom)
        ev, cause = c["event"][mine_rows], c["cause"][mine_rows]
        update = ev == _CODE["shadow_update"]
        technique = self._names.get("technique", "")
        guest_of = translation(leaves if paged else None)
        seen = [guest_of(va) for va in shadow]
        self.info = {
            "domain": self._names.get("name", f"domain {dom}"),
            "technique": technique + (' (paging="shadow")' if technique == "hardware"
                                      else ""),
            "guest_satp": hex(satp), "shadow_satp": hex(current) if current else "",
            # a software technique's shadow of virtual U-mode maps only the guest's U pages
            "mode": "U" if technique != "hardware" and seen and all(
                g is not None and g[1] & PTE_U for g in seen) else "S",
            "paging": paged, "write_protect": wp, "tables": len(spaces),
            "fills": int(update.sum()), "hidden_faults": int((update & (cause != 0)).sum()),
            "wp_faults": int((ev == _CODE["wp_fault"]).sum()),
            "drops": int(((ev == _CODE["shadow_drop"]) & (cause == 0)).sum()),
            "steps": int(step), "replay": True}
        notes.append(f"replayed from the trace at step {step:,}: the guest's table as far "
                     f"as the hypervisor read it ({len(known)} entries known)")
        self.note = "; ".join(notes)

    def _replay_protected(self, shadows: pd.DataFrame, spaces: pd.DataFrame,
                          read: Read) -> tuple[set[int], bool]:
        """The guest frames write-protected then, and whether the shadows were kept by
        write protection at all. A shadow entry depends on every guest entry its fill's
        walk read (the reverse map); under write protection none of those changed since
        without a wp_fault row that dropped the entry, so walking the known entries again
        for each entry present finds the same tables: what ``shadow.table_refs`` counts."""
        space_of = dict(zip(spaces.index.tolist(), spaces.guest_satp.tolist(), strict=True))
        walked: set[int] = set()
        for s, va in zip(shadows.satp.tolist(), shadows.vaddr.tolist(), strict=True):
            g = space_of.get(s, 0)
            if g >> 60 == 8:  # (a Bare guest reads no table)
                w = walk((g & PPN_MASK) << 12, va, read)
                if w.leaf is not None:
                    walked |= {level.pte_address & ~(PAGE - 1) for level in w.levels}
        wp = self._write_protect
        if wp is None:  # a wp_fault row says yes; a table mapped writable says no
            ds = self.trace
            wp = bool((ds.hv_event.values[ds.hv_domain.values == self._domid]
                       == _CODE["wp_fault"]).any()) or not any(
                e & PTE_W and g & ~(PAGE - 1) in walked
                for e, g in zip(shadows.entry.tolist(), shadows.gpa.tolist(), strict=True))
        return (walked if wp else set()), bool(wp)

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
        """The guest frames write-protected as page tables (``shadow.table_refs``; a
        replay: the frames of the entries the walks behind its shadow entries read)."""
        if self.trace is not None:
            return sorted(self._protected)
        return sorted(self.mmu.table_refs)

    # --- reading it all ---------------------------------------------------------------
    def refresh(self) -> None:
        """Read the guest's table, the p2m, the shadow and the hv rows again (a replay:
        redraw the trace at :attr:`step`)."""
        if self.trace is not None:
            self._replay(self.step)
            return
        memory, mmu = self.domain.memory, self.mmu
        table = self.current()
        key = table.key if table is not None else (0, 0, False, False)
        satp = key[0]
        protected = set(mmu.table_refs)
        self._read_events()  # first: the entry the latest wp_fault wrote is shown, valid or not

        def read(gpa: int) -> int | None:
            return memory.read_u64(gpa) if gpa in memory else None

        guest, leaves = walk_guest(satp, read, protected, self.written)
        # the p2m: every page of its RAM, NO_FRAME for one on the host's swap file
        frames = memory.p2m.tolist()
        p2m = {memory.base + i * PAGE: (f if f >= 0 else NO_FRAME)
               for i, f in enumerate(frames) if f != INVALID_FRAME}
        shadow: dict[int, int] = {}
        if table is not None:
            _shadow_leaves(self.host.machine.mem.read_u64, table.pages[0], 2, 0, shadow)
        shadow_rows, shadowed = classify(shadow, leaves if satp >> 60 == 8 else None, p2m,
                                         protected)
        self._fill_panes(guest, leaves, shadow_rows, shadowed, p2m, protected)
        kind = self.domain.technique_name + (
            ' (paging="shadow")' if self.domain.paging == "shadow" else "")
        paged = satp >> 60 == 8
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

    def _fill_panes(self, guest: list, leaves: list, shadow_rows: list, shadowed: dict[int, int],
              p2m: dict[int, int], protected: set[int]) -> None:
        """Fill the three panes' buffers; the p2m pane: the pages the 4 KiB guest leaves
        name and the pages the shadow maps, each that has a frame behind it."""
        pages = {gpa for _va, size, gpa, _pte in leaves if size == PAGE} | set(shadowed)
        rows = [(page, p2m[page], int(page in protected), int(page in shadowed))
                for page in sorted(pages) if p2m.get(page, NO_FRAME) != NO_FRAME]
        self.guest = _rows(guest[:MAX_ROWS], len(GUEST_COLUMNS))
        self.p2m = _rows(rows[:MAX_ROWS], len(P2M_COLUMNS))
        self.shadow = _rows(shadow_rows[:MAX_ROWS], len(SHADOW_COLUMNS))

    def _read_events(self) -> None:
        machine = self.host.machine
        if "hv" not in machine.tracing:
            self.events, self.written, self.dropped, self.updated = b"", -1, b"", b""
            self._event_note = "no hv rows: record them with trace=\"hv\" (or more)"
            return
        self._event_note = ""
        c = {k: np.asarray(v).astype(np.int64) for k, v in machine.events("hv").items()}
        if "domain" in c and len(self.host.domains) > 1:
            mine = c["domain"] == self.domain.domid
        else:
            mine = np.ones(c["step"].size, bool)
        self._strip(c, np.flatnonzero(mine))

    def _strip(self, c: dict[str, np.ndarray], rows: np.ndarray) -> None:
        """The event strip from hv columns ``c`` (a machine's ``events("hv")``, or a
        trace's ``hv_*`` variables without the prefix), of the hv rows ``rows``: the last
        memory rows with the exits behind them, and what the latest wp_fault did."""
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
        """Follow a linked view to ``step``: read everything again (a replay: redraw the
        trace at step ``step``)."""
        self.step = int(step)
        self.refresh()

    def _live(self, what: str) -> None:
        if self.trace is not None:
            raise ValueError(f"{what} needs a live machine: this widget replays a trace "
                             f"(scrub it with show(step))")

    def run(self, n: int = 1) -> None:
        """Run the host ``n`` steps (VM exits included), then read everything again."""
        self._live("run")
        self.host.run(max_steps=int(n))
        self.refresh()

    def run_until_event(self, event: str = "wp_fault", max_steps: int = 200_000) -> bool:
        """Run one step at a time until the domain records a new hv row ``event`` (a name
        of the schema's HV_EVENT; needs ``trace="hv"``), or ``max_steps`` pass; True if
        it did. The panes then show the state just after the exit that recorded it."""
        self._live("run_until_event")
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
