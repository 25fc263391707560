"""``AddressTranslation``: one memory access's page walk drawn as the two-level mapping,
every page-table reference numbered in the order the MMU made it (front end
``widgets/address_translation.js``)."""

from __future__ import annotations

from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from vkernel.plots import MODE_COLOURS
from vkernel.trace.accessor import translation_ends
from vkernel.trace.schema import ACCESS, WALK_RESULT
from vkernel.widgets._common import ASSETS, _check_kwargs, esm
from vkernel.widgets.ring_timeline import _domain_info

_CACHED = {name: code for code, name in WALK_RESULT.items()}["cached"]
_LEAF = 1
# the columns of ``refs``, one uint64 row per page-table entry of the translation shown
REF_COLUMNS = ("number", "column", "stage", "level", "vaddr", "pte_addr", "pte", "result")
# the columns of ``nearby``, one uint64 row per translation in the list around it
NEARBY_COLUMNS = ("index", "step", "vaddr", "references", "access", "result", "domain",
                  "stages")

# the address spaces a translation goes through, [name, what it is], by kind of walk
SPACES = {
    "native": [["virtual", "what the program uses: mapped by the kernel's page tables (satp)"],
               ["physical", "the machine's RAM"]],
    "nested": [["guest virtual", "what the guest's programs use: mapped by the guest's own "
                "page tables (vsatp, the VS-stage)"],
               ["guest physical", "what the guest believes is its RAM: mapped by the "
                "hypervisor's G-stage table (hgatp, the p2m)"],
               ["machine", "the machine's real RAM"]],
    "shadow": [["guest virtual", "what the guest's programs use"],
               ["machine", "the machine's real RAM: the table walked is the hypervisor's "
                "shadow (or, paravirtualized, the guest's own validated table), which "
                "maps guest virtual straight to machine; guest physical never reaches "
                "the hardware"]],
}
# who owns the table walked, in the colour of the mode it runs in
STAGE_COLOURS = {"native": MODE_COLOURS["S"], "vs": MODE_COLOURS["VS"],
                 "g": MODE_COLOURS["S"], "shadow": MODE_COLOURS["M"]}


def _as_walked(c: dict[str, np.ndarray]) -> np.ndarray:
    """Each row's result, an entry the page-walk cache supplied read as what its value
    says: a leaf (R or X set) or a pointer on."""
    leaf = (c["pte"] & 0b1010) != 0  # R or X
    return np.where(c["result"] == _CACHED, np.where(leaf, _LEAF, 0), c["result"])


def _leaf_address(vaddr: int, pte: int, level: int) -> int:
    """Where a leaf entry at ``level`` maps ``vaddr`` (a superpage keeps more offset)."""
    mask = (1 << (12 + 9 * level)) - 1
    return ((pte >> 10 & ((1 << 44) - 1)) << 12) & ~mask | (vaddr & mask)


class AddressTranslation(anywidget.AnyWidget):
    """One translation of a trace's ``walk`` family, drawn as the two-level mapping.

    Across: the guest's page-table levels (the VS-stage under the H extension; natively,
    or under shadow paging, the only stage); down each column: the G-stage walk that
    turned that entry's guest physical address into a machine one, and last the G-stage
    walk of the final guest physical address: the 2-D walk of nested paging. Every
    reference is numbered in the order the core read it: a cold Sv39-over-Sv39x4 walk
    reads 3 × (3 + 1) + 3 = 15 entries; natively 3. An entry the page-walk cache supplied
    (``walk_result`` ``cached``) is drawn skipped, without a number. Each cell shows the
    entry's level, its (machine) address, its value (the PPN, the flags V R W X U G A D)
    and what the walk made of it.

    ``source`` is a trace Dataset, or a recording :class:`~vkernel.Machine`, VM or Host
    (re-read by :meth:`refresh`, and on every :meth:`show`: live with a linked
    :class:`MachineView`, which moves it to the latest translation at or before its
    step). Pick a translation with :meth:`select` (its index in
    :attr:`translations`), :meth:`show` (a step) or :meth:`find` (a virtual address; at
    a step where that page was not walked, the access hit the TLB: a translation of no
    references); or from the start with the keyword arguments ``index``, ``step`` or
    ``vaddr`` (with ``step``: as :meth:`find`). ``domain`` keeps one domain's walks of a
    host's trace; ``window`` is how many translations either side the front end lists.
    :attr:`translations` and :attr:`references` are the same data as DataFrames.

    >>> from vkernel.hv import VM
    >>> vm = VM("hello", technique="hardware", trace="walk")
    >>> _ = vm.run()
    >>> at = AddressTranslation(vm)
    >>> # 3 while the guest's paging is off (G-stage only), 11 for its kernel's 2 MiB
    >>> # pages, 15 for 4 KiB pages: (3 + 1) per guest level, and 3 for the final address
    >>> sorted(set(at.translations["references"]))
    [3, 11, 15]
    >>> at.find(0x10146)  # a user page of 4 KiB: a cold walk reads 15 entries
    >>> at.references["number"].tolist() == list(range(1, 16))
    True
    >>> va, gpa, ma = (int(a, 16) for a in at.info["addresses"])
    >>> hex(va), vm.memory.machine_address(gpa) == ma
    ('0x10146', True)
    """

    _esm = esm("address_translation.js")
    _css = ASSETS / "vkernel.css"

    index = traitlets.Int(-1).tag(sync=True)  # the translation shown; -1: none
    count = traitlets.Int(0).tag(sync=True)  # translations in the trace
    step = traitlets.Int(-1).tag(sync=True)  # the step followed (linked views share it)
    # the translation shown, uint64 rows of REF_COLUMNS: number (0: cached, no reference),
    # column (VS entries before it), stage (0 VS or only, 1 G), level, the address being
    # translated, the entry's machine address, its value, the walk's result
    refs = traitlets.Bytes(b"").tag(sync=True)
    # translations around it, uint64 rows of NEARBY_COLUMNS
    nearby = traitlets.Bytes(b"").tag(sync=True)
    # what the front end writes in words: step, access, domain, addresses (hex) through
    # each space, outcome, TLB hit
    info = traitlets.Dict().tag(sync=True)
    spaces = traitlets.List().tag(sync=True)  # [name, what it is] per address space
    colours = traitlets.Dict().tag(sync=True)  # per stage: "vs" (or only) and "g"
    results = traitlets.List(traitlets.Unicode(), list(WALK_RESULT.values())).tag(sync=True)
    accesses = traitlets.List(traitlets.Unicode(), list(ACCESS.values())).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    _KWARGS = ("index", "step", "vaddr", "domain", "window")
    LINK_TRAIT = "step"

    def __init__(self, source: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self.source = source
        self.domain = kwargs.get("domain")
        self.window = int(kwargs.get("window", 8))
        if self.window < 1:
            raise ValueError("window must be positive")
        self._hit: int | None = None  # the step of a TLB hit shown, if one is
        self.on_msg(self._on_msg)
        self.refresh()
        if kwargs.get("vaddr") is not None:
            self.find(int(kwargs["vaddr"]), kwargs.get("step"))
        elif kwargs.get("step") is not None:
            self.show(int(kwargs["step"]))
        elif kwargs.get("index") is not None:
            self.select(int(kwargs["index"]))
        elif self.count:
            self.select(0)

    # --- the trace ------------------------------------------------------------------------
    def _columns(self) -> dict[str, np.ndarray]:
        """The walk rows, one int64 array per column (named as in the schema without the
        ``walk_`` prefix); from a machine, its recording as it is now (``events``: no
        Dataset built, so following a stepping MachineView stays cheap)."""
        src = self.source
        if hasattr(src, "machine") and not hasattr(src, "dims"):  # a VM, a Host, a Domain
            src = src.machine
        if hasattr(src, "trace_dataset"):
            cols = src.events("walk")
            if "walk" not in src.tracing and not cols["step"].size:
                raise ValueError("AddressTranslation needs a machine recording the walk "
                                 "family: trace=('walk', ...)")
            if not hasattr(self, "_attrs"):  # the technique: once
                self._attrs = dict(src.trace_dataset().attrs)
            self._domains = {d: i.get("technique", "") for d, i in src.domain_info.items()}
        else:
            if "walk_result" not in src:
                raise ValueError("AddressTranslation needs the trace's walk family: "
                                 "record it with trace=('walk', ...)")
            self._attrs = dict(src.attrs)
            self._domains = {d: i.get("technique", "") for d, i in _domain_info(src).items()}
            cols = {v[5:]: src[v].values for v in src.data_vars if v.startswith("walk_")}
        cols = {k: np.asarray(v).astype(np.int64) for k, v in cols.items()}
        cols.setdefault("domain", np.zeros(cols["step"].size, np.int64))
        if self.domain is not None:
            keep = cols["domain"] == self.domain
            cols = {k: v[keep] for k, v in cols.items()}
        return cols

    def refresh(self) -> None:
        """Read the trace again (from the machine, if the source is one)."""
        self._cols = cols = self._columns()
        cols["walked"] = _as_walked(cols)
        ends = np.flatnonzero(translation_ends(cols["result"], cols["stage"], cols["step"],
                                               cols["access"], cols["pte"]))
        n = cols["step"].size
        if n and (not ends.size or ends[-1] != n - 1):
            ends = np.append(ends, n - 1)  # rows of a walk cut off: one translation more
        self._starts = np.r_[0, ends[:-1] + 1].astype(np.int64) if ends.size \
            else np.zeros(0, np.int64)
        self._ends = ends.astype(np.int64)
        self._technique = self._attrs.get("technique", "native")
        self._techniques = self._domains
        self._summarize()
        self.count = int(self._ends.size)
        self.note = "" if self.count else "no page walks recorded (paging off, or " \
            "every access hit the TLB)"
        if self.index >= self.count:
            self.index = self.count - 1
        self._update()

    def _summarize(self) -> None:
        """Per translation: its step, virtual address, access, references, outcome; and
        its first and last VS (or only) stage rows (-1: none)."""
        c, s, e = self._cols, self._starts, self._ends
        which = np.repeat(np.arange(s.size), e - s + 1)  # each row's translation
        vs = np.flatnonzero(c["stage"] == 0)
        self._first_vs = np.full(s.size, -1, np.int64)
        self._last_vs = np.full(s.size, -1, np.int64)
        self._first_vs[which[vs][::-1]] = vs[::-1]  # the first write of each wins
        self._last_vs[which[vs]] = vs
        two = np.bincount(which, c["stage"], minlength=s.size) > 0
        refs = np.bincount(which, c["result"] != _CACHED, minlength=s.size).astype(np.int64)
        # the virtual address: a VS (or only) row's; with none, the G-stage's (VS Bare)
        first = np.where(self._first_vs >= 0, self._first_vs, s)
        self._table = pd.DataFrame({
            "step": c["step"][s], "vaddr": c["vaddr"][first], "access": c["access"][s],
            "domain": c["domain"][s], "references": refs, "cached": (e - s + 1) - refs,
            "result": c["walked"][e], "stages": np.where(two, 2, 1)})

    @property
    def translations(self) -> pd.DataFrame:
        """Every translation in the trace: its step, virtual address, access, domain,
        references made, entries the page-walk cache supplied, the walk's last result
        (a code of the schema's WALK_RESULT) and its stages (1 or 2)."""
        t = self._table.copy()
        t["access"] = t["access"].map(ACCESS)
        t["result"] = t["result"].map(WALK_RESULT)
        return t

    @property
    def references(self) -> pd.DataFrame:
        """The translation shown, one row per entry read (or supplied by the page-walk
        cache, ``number`` 0), in order; a TLB hit has none."""
        rows = np.frombuffer(self.refs, "<u8").reshape(-1, len(REF_COLUMNS))
        frame = pd.DataFrame(rows.astype(np.int64), columns=list(REF_COLUMNS))
        frame["result"] = frame["result"].map(WALK_RESULT)
        return frame

    # --- picking one ----------------------------------------------------------------------
    def select(self, index: int) -> None:
        """Show translation ``index`` (0 is the first; negative counts from the end)."""
        if not self.count:
            raise IndexError("no translations in this trace")
        index = int(index) + (self.count if index < 0 else 0)
        if not 0 <= index < self.count:
            raise IndexError(f"translation {index} of {self.count}")
        self._hit = None
        self.index = index
        self.step = int(self._table["step"].iat[index])
        self._update()

    def show(self, step: int) -> None:
        """Follow ``step``: show the latest translation at or before it (where a linked
        MachineView or RingTimeline sends the widget). A live source is read again."""
        if not hasattr(self.source, "dims"):  # a machine, VM or host: its trace grew
            self.refresh()
        step = int(step)
        at = int(np.searchsorted(self._table["step"].to_numpy(), step, side="right")) - 1
        self._hit = None
        self.index = at
        self.step = step
        self._update()

    def find(self, vaddr: int, step: int | None = None) -> None:
        """Show how ``vaddr`` was translated at ``step`` (the end of the trace if None):
        the latest translation of its page at or before then. When that walk came before
        ``step``, the access at ``step`` found the entry in the TLB: no references, and
        the view says which walk filled it."""
        t = self._table
        ok = (t["result"].to_numpy() == _LEAF)
        level = self._leaf_levels()
        shift = np.where(ok, 12 + 9 * level, 12)
        same = (t["vaddr"].to_numpy() >> shift) == (int(vaddr) >> shift)
        if step is not None:
            same &= t["step"].to_numpy() <= int(step)
        found = np.flatnonzero(same)
        if not found.size:
            raise LookupError(f"no translation of {vaddr:#x}"
                              + (f" at or before step {step}" if step is not None else ""))
        index = int(found[-1])
        walked = int(t["step"].iat[index])
        self.index = index
        self._hit = int(step) if step is not None and int(step) > walked else None
        self._vaddr = int(vaddr)
        self.step = walked if self._hit is None else self._hit
        self._update()

    def _leaf_levels(self) -> np.ndarray:
        """The level of each translation's last VS (or only) stage row (else its last)."""
        last = np.where(self._last_vs >= 0, self._last_vs, self._ends)
        return self._cols["level"][last]

    # --- what the front end draws ---------------------------------------------------------
    def _kind(self, two: bool, domain: int) -> str:
        technique = self._techniques.get(domain) or self._technique
        if two:
            return "nested"
        return "native" if technique in ("native", "", None) else "shadow"

    def _update(self) -> None:
        i = self.index
        if i < 0 or i >= self.count:
            self.refs = b""
            self.info = {"step": self.step} if self.step >= 0 else {}
            self.nearby = self._nearby(max(i, 0))
            self.spaces = SPACES["native" if self._technique == "native" else "nested"]
            self.colours = self._colours("native")
            if self.count and i < 0:
                self.note = "no translation yet at this step"
            return
        c = self._cols
        a, b = int(self._starts[i]), int(self._ends[i])
        stage = c["stage"][a:b + 1]
        two = bool(stage.any())
        kind = self._kind(two, int(c["domain"][a]))
        number = np.cumsum(c["result"][a:b + 1] != _CACHED)
        number[c["result"][a:b + 1] == _CACHED] = 0
        column = np.cumsum(stage == 0) - (stage == 0)  # VS rows before each row
        rows = np.column_stack([number, column, stage, c["level"][a:b + 1],
                                c["vaddr"][a:b + 1], c["pte_addr"][a:b + 1],
                                c["pte"][a:b + 1], c["result"][a:b + 1]])
        hit = self._hit is not None
        self.refs = b"" if hit else rows.astype("<u8").tobytes()
        self.info = self._words(i, a, b, two, kind, hit)
        self.spaces = SPACES[kind]
        self.colours = self._colours(kind)
        self.nearby = self._nearby(i)
        self.note = ""

    def _colours(self, kind: str) -> dict[str, str]:
        only = {"native": "native", "nested": "vs", "shadow": "shadow"}[kind]
        return {"vs": STAGE_COLOURS[only], "g": STAGE_COLOURS["g"]}

    def _words(self, i: int, a: int, b: int, two: bool, kind: str,
               hit: bool) -> dict[str, Any]:
        """The addresses through each space and the outcome, for the header."""
        c = self._cols
        stage, result, level = c["stage"], c["walked"], c["level"]
        vs = [r for r in range(a, b + 1) if stage[r] == 0]
        va = int(self._table["vaddr"].iat[i])
        if hit:
            va = getattr(self, "_vaddr", va)
        addresses: list[str | None] = [f"{va:#x}"]
        outcome = WALK_RESULT[int(result[b])].replace("_", " ")
        ok = int(result[b]) == _LEAF
        middle = None  # the guest physical address (nested)
        if vs and int(result[vs[-1]]) == _LEAF:
            middle = _leaf_address(va, int(c["pte"][vs[-1]]), int(level[vs[-1]]))
        elif not vs and two:
            middle = int(c["vaddr"][a])  # VS-stage Bare: the address is guest physical
        final = None
        if ok:
            last = b
            target = middle if (two and middle is not None) else va
            final = _leaf_address(target, int(c["pte"][last]), int(level[last]))
        if two:
            addresses.append(f"{middle:#x}" if middle is not None else None)
        addresses.append(f"{final:#x}" if final is not None else None)
        where = "G-stage" if two and stage[b] == 1 else ("VS-stage" if two else "")
        fault = "guest-page fault" if where == "G-stage" else "page fault"
        if ok:
            text = f"{SPACES[kind][-1][0]} address {final:#x}"
        elif int(result[b]) == 6:
            text = "access fault: the entry's address is outside RAM"
        else:
            text = f"{fault}: {outcome} entry at {where + ' ' if where else ''}level " \
                   f"{int(level[b])}"
        filled = int(self._table["step"].iat[i])
        return {"index": i, "step": self._hit if hit else filled, "walked_at": filled,
                "followed": self.step,
                "access": ACCESS.get(int(c["access"][a]), "?"),
                "domain": int(c["domain"][a]), "stages": 2 if two else 1,
                "addresses": addresses, "outcome": text, "ok": ok, "tlb_hit": hit,
                "references": 0 if hit else int(self._table["references"].iat[i]),
                "cached": 0 if hit else int(self._table["cached"].iat[i])}

    def _nearby(self, i: int) -> bytes:
        lo, hi = max(0, i - self.window), min(self.count, i + self.window + 1)
        t = self._table.iloc[lo:hi]
        rows = np.column_stack([np.arange(lo, hi), *(t[c].to_numpy() for c in NEARBY_COLUMNS[1:])])
        return rows.astype("<u8").tobytes() if len(t) else b""

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        cmd = content.get("cmd")
        try:
            if cmd == "select":
                self.select(int(content.get("index", 0)))
            elif cmd == "find":
                text = str(content.get("vaddr", "")).strip().replace("_", "")
                self.find(int(text, 0))
        except (ValueError, LookupError, IndexError) as e:
            self.note = str(e)
