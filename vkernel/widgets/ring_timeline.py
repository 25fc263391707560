"""``RingTimeline``: a trace's privilege levels over time, its traps, returns and VM exits
(front end ``widgets/ring_timeline.js``), with the lanes' names and the arrows' colours."""

from __future__ import annotations

import json
from typing import Any

import anywidget
import numpy as np
import pandas as pd
import traitlets

from vkernel.plots import CAUSE_COLOURS, MODE_COLOURS, SWITCH_COLOUR
from vkernel.trace.schema import HV_EVENT, MODE, NO_MODE, mode_names
from vkernel.widgets._common import ASSETS, _check_kwargs, esm

_MODE_VALUE = {name: value for value, name in MODE.items()}
_SWITCH = {name: code for code, name in HV_EVENT.items()}["switch"]

# Lane names. x86 has no mode for RISC-V's M (firmware's level; SMM is the nearest thing),
# and with the H extension the host's levels are VMX root and the guest's non-root.
RISCV_NAMES = {"M": "M", "S": "S", "U": "U", "VS": "VS", "VU": "VU"}
X86_NAMES = {"M": "M (≈ SMM)", "S": "ring 0", "U": "ring 3", "VS": "non-root ring 0",
             "VU": "non-root ring 3"}
# a trace with guests in VS/VU: S with V=0 is HS, the hypervisor's (VMX root), U the host's
HOST_NAMES = {"riscv": {"S": "HS", "U": "U"}, "x86": {"S": "root ring 0", "U": "root ring 3"}}
# under a software technique (trap-and-emulate, binary translation, paravirt) the machine
# runs the whole guest in U and the hypervisor owns M (on x86: the VMM in ring 0)
SOFTWARE_NAMES = {"riscv": {"M": "M (hypervisor)", "U": "U (guest)"},
                  "x86": {"M": "ring 0 (VMM)", "U": "ring 3 (guest)"}}
MODE_TITLES = {"M": "machine mode: firmware, owns the whole machine",
               "S": "supervisor mode: the operating system kernel",
               "U": "user mode: applications",
               "VS": "virtual supervisor: a guest kernel under a hypervisor",
               "VU": "virtual user: a guest's applications"}
HOST_TITLES = {"S": "HS-mode (S with V=0): the hypervisor's level. vkernel's hypervisor is "
                    "Python (vkernel.hv), so no instruction retires here: its work happens "
                    "between two steps of the guest, drawn at the step it interrupted",
               "U": "user mode with V=0: the host's applications (none here)"}
SOFTWARE_TITLES = {"M": "machine mode, which the hypervisor owns: every trap of the guest "
                        "comes here (vkernel.hv, in Python: its work happens between two "
                        "steps of the guest)",
                   "U": "user mode: the whole guest, its kernel deprivileged (it believes "
                        "it runs in S) and its programs"}
LANE_ORDER = ("M", "S", "VS", "VU", "U")  # most privileged on top, a guest's under its host


def _host_level(ds: Any, technique: str | None = None) -> str | None:
    """The mode a trace's VM exits go to ("S": HS, with the H extension; "M" under the
    software techniques), None for a trace of no virtual machine: the level the hv rows
    recorded (the one most of them say, should a host mix techniques), else (a trace of
    schema 2) the technique's (``technique``, or the trace's attribute)."""
    if "hv_level" in ds:
        level = ds["hv_level"].values
        counts = np.bincount(level[level != NO_MODE], minlength=8)
        if counts.any():
            return MODE[int(np.argmax(counts))]
    technique = technique or ds.attrs.get("technique", "native")
    if technique == "hardware":
        return "S"
    return None if technique == "native" else "M"


NEUTRAL = "var(--jp-ui-font-color2, #666)"  # returns and jumps: the theme's grey

# a host's trace: one band per domain, titled with what its technique does
TECHNIQUE_TITLES = {
    "hardware": "hardware-assisted (the H extension): the guest runs in VS and VU; its VM "
                "exits go to the hypervisor in HS",
    "paravirt": "paravirtualized: the guest kernel knows it is a guest, runs in U and asks "
                "the hypervisor (in M) with hypercalls",
    "trap-emulate": "trap-and-emulate: the guest runs deprivileged in U; each privileged "
                    "instruction traps to the hypervisor in M, which emulates it",
    "binary-translation": "binary translation: the hypervisor (in M) rewrites the guest "
                          "kernel's sensitive instructions into callouts; the guest runs in U",
    "native": "no hypervisor: the guest owns the machine"}
BAND_NOTE = ("Bands: one per domain (a guest on this host), its lanes the modes its vCPU ran "
             "in and the level of the hypervisor that handles its exits; a band is empty "
             "while another domain runs. Only one vCPU is in the hart at a time: a world "
             "switch (dashed arrow) is the hypervisor saving one domain's vCPU (registers, "
             "CSRs, timer) and loading another's.")
SWITCH_LABEL = "world switch"


def _domain_info(ds: Any) -> dict[int, dict[str, str]]:
    """The trace's ``domains`` attribute (a host's: ``{domid: {"name", "technique"}}``)."""
    try:
        return {int(k): dict(v) for k, v in json.loads(ds.attrs.get("domains", "{}")).items()}
    except (TypeError, ValueError, AttributeError):
        return {}


def _band_words(domid: int, info: dict[str, str], host: str | None) -> tuple[str, str]:
    """A band's label (its domain id and, if known, name and technique) and its title."""
    name, technique = info.get("name"), info.get("technique")
    label = f"domain {domid}"
    if name:
        label += f" · {name}"
    if technique and technique != name:
        label += f" ({technique})"
    if technique in TECHNIQUE_TITLES:
        what = TECHNIQUE_TITLES[technique]
    elif host == "S":
        what = "its hypervisor runs in HS: hardware-assisted"
    elif host == "M":
        what = "its hypervisor runs in M: a software technique"
    else:
        what = "no hypervisor" if domid == 0 else "a domain"
    return label, f"{label}: {what}"


def _cause_colour(kind: str, cause: int) -> str:
    """One colour per group of causes (:data:`vkernel.plots.CAUSE_COLOURS`, none of them a
    lane's); the arrow's label says the cause in words, so colour is never the only cue."""
    if kind == "return":
        return NEUTRAL  # readable on both themes
    code = cause & ~(1 << 63)
    if kind == "interrupt":
        return CAUSE_COLOURS["interrupt"]
    if code == 8:
        return CAUSE_COLOURS["system call"]  # from user programs
    if code in (9, 10, 11):
        return CAUSE_COLOURS["call down"]  # to firmware or a hypervisor (SBI, hypercalls)
    if code in (12, 13, 15, 20, 21, 23):
        return CAUSE_COLOURS["page fault"]
    return CAUSE_COLOURS["instruction"]  # illegal / virtual instruction, access faults...


def _exit_colour(kind: str, cause: int, handled: str) -> str:
    """A VM exit's colour, by what it was for, in the groups of :func:`_cause_colour`."""
    did = set(handled.split())
    if kind == "callout" and not did & {"sbi_call", "hypercall"}:
        return CAUSE_COLOURS["instruction"] if cause else NEUTRAL  # emulate / jump
    if did & {"sbi_call", "hypercall"}:
        return CAUSE_COLOURS["call down"]
    if cause >> 63:
        return _cause_colour("interrupt", cause)
    if did & {"shadow_update", "mmio"} or cause in (12, 13, 15, 20, 21, 23):
        return CAUSE_COLOURS["page fault"]
    if cause == 8:
        return CAUSE_COLOURS["system call"]  # a program's system call, reflected
    return CAUSE_COLOURS["instruction"]


def _by_step(rows: np.ndarray) -> np.ndarray:
    """Mark rows in step order (a stable sort: rows at one step keep their order)."""
    return rows[np.argsort(rows[:, 0], kind="stable")] if len(rows) else rows


def _merged(frames: list[pd.DataFrame], domids: list[int], banded: bool) -> pd.DataFrame:
    """One frame of the bands' rows (transitions or VM exits), in step order, with a
    ``domain`` column when there are several domains."""
    if not banded:
        return frames[0]
    frame = pd.concat([f.assign(domain=d) for f, d in zip(frames, domids, strict=True)],
                      ignore_index=True)
    return frame.iloc[np.argsort(frame["step"].to_numpy(), kind="stable")] \
        .reset_index(drop=True)


class RingTimeline(anywidget.AnyWidget):
    """Privilege levels over time: one lane per level (most privileged on top), the
    time spent in each, and an arrow for every transition, coloured and labelled by
    its cause (``ecall from U``, ``S timer``, ``store page fault``, ``sret``...).

    ``source`` is a trace Dataset, a :class:`~vkernel.Machine` that records the ``step``
    and ``trap`` families (its trace is read now; :meth:`refresh` reads it again), a
    :class:`~vkernel.hv.VM` or a :class:`~vkernel.hv.Host` (its machine's trace). A
    virtual machine's trace with the ``hv`` family also shows the hypervisor at work:
    each VM exit (and binary translation's callout) goes from the guest's lane to the
    hypervisor's and back, at the step it interrupted (``ds.vk.vm_exits()``). ``names``
    is ``"riscv"`` or ``"x86"`` (ring 3, ring 0; root and non-root).

    A trace of several domains (a host's) is drawn as one band per domain (``bands``:
    its domid, name and technique), each with its own lanes, transitions and VM exits
    (from ``ds.vk.domain(n)``), and each world switch (the ``hv`` rows ``switch``) as a
    dashed arrow from the band of the domain left to the band of the one entered, in
    :data:`vkernel.plots.SWITCH_COLOUR`.

    In the view: the wheel (or +/− with the pointer over the plot) zooms around the
    pointer, +/− elsewhere around the cursor; dragging or ←/→ pans, clicking an arrow (or
    ``n``/``p``: next, previous) moves the cursor there, and every view linked with
    :func:`link`.

    Zoomed out, when more than ``max_marks`` transitions (or exits) are in view, those of
    one kind within one of ``mark_bins`` slices of the view are sent as one bundle (a
    count and the last step on the row) and drawn as one thicker arrow: the view opens on
    the whole run's marks, and zooming in splits them until each stands for one.

    >>> import vkernel
    >>> guest = vkernel.assemble('''
    ...     la t0, user; csrw mepc, t0; la t0, trap; csrw mtvec, t0; csrw mstatus, zero
    ...     mret                           # to user mode (mstatus.MPP = U)
    ... user: ecall                        # back to machine mode
    ... trap: j trap''')
    >>> m = vkernel.Machine(ram_mb=1, trace="all")
    >>> _ = m.load(guest)
    >>> _ = m.run(max_steps=12)
    >>> tl = RingTimeline(m)
    >>> tl.transitions[["step", "from_mode", "to_mode", "label"]].values.tolist()
    [[8, 'M', 'U', 'mret'], [8, 'U', 'M', 'ecall from U']]
    """

    _esm = esm("ring_timeline.js")
    _css = ASSETS / "vkernel.css"

    names = traitlets.Unicode("riscv").tag(sync=True)
    # [mode, label, colour, title, band], top lane first
    lanes = traitlets.List().tag(sync=True)
    # a host's trace of several domains: [domid, label, title] of each band, top first
    # (its lanes are those whose band is its index); none for one domain
    bands = traitlets.List().tag(sync=True)
    band_note = traitlets.Unicode("").tag(sync=True)  # what bands and switches are
    first = traitlets.Int(0).tag(sync=True)  # recorded steps: first .. end - 1
    end = traitlets.Int(0).tag(sync=True)
    view = traitlets.List(traitlets.Float(), default_value=[0.0, 1.0]).tag(sync=True)
    step = traitlets.Int(-1).tag(sync=True)  # the cursor; -1: none yet
    # [label, colour, count, style]: style "arrow" (a transition), "exit" or "callout"
    legend = traitlets.List().tag(sync=True)
    # what is in view, as float64 rows: (start, end, lane) mode segments; or, zoomed out
    # past max_segments, the view's lo and hi then lanes x bins of the share of each bin
    # spent in each lane
    segments = traitlets.Bytes(b"").tag(sync=True)
    density = traitlets.Bytes(b"").tag(sync=True)
    # (step, from lane, to lane, legend index, cursor): the cursor a click gives is the
    # moment before the transition: the step of a trap, the one before for a return
    marks = traitlets.Bytes(b"").tag(sync=True)
    # VM exits: (step, guest's lane, hypervisor's lane, lane re-entered or -1, legend
    # index); a click puts the cursor on the step, the moment before the exit
    exits = traitlets.Bytes(b"").tag(sync=True)
    # world switches between bands: (step, lane left or -1, lane entered, domain left,
    # domain entered); a click puts the cursor on the step
    switches = traitlets.Bytes(b"").tag(sync=True)
    # the mark buffers end each row with (count, last step): count > 1 is a bundle
    # nothing in view: the steps of the nearest transition or exit before and after (-1:
    # none), for the arrows at the view's edges that lead to them
    nearby = traitlets.List(traitlets.Float(), default_value=[-1.0, -1.0]).tag(sync=True)
    note = traitlets.Unicode("").tag(sync=True)

    _KWARGS = ("names", "max_marks", "max_segments", "bins", "mark_bins")
    LINK_TRAIT = "step"

    def __init__(self, source: Any, **kwargs: Any) -> None:
        _check_kwargs(type(self), kwargs, self._KWARGS)
        super().__init__()
        self.source = source
        self.max_marks = int(kwargs.get("max_marks", 400))
        self.max_segments = int(kwargs.get("max_segments", 4000))
        self.bins = int(kwargs.get("bins", 600))
        self.mark_bins = int(kwargs.get("mark_bins", 150))
        if min(self.max_marks, self.max_segments, self.bins, self.mark_bins) < 1:
            raise ValueError("max_marks, max_segments, bins and mark_bins must be positive")
        self.names = kwargs.get("names", "riscv")
        self.on_msg(self._on_msg)
        self.refresh()

    @traitlets.validate("names")
    def _valid_names(self, proposal: Any) -> str:
        if proposal["value"] not in ("riscv", "x86"):
            raise traitlets.TraitError(f"names must be 'riscv' or 'x86', not "
                                       f"{proposal['value']!r}")
        return proposal["value"]

    def refresh(self) -> None:
        """Read the trace again (from the machine, if the source is one)."""
        ds = self.source
        if hasattr(ds, "machine") and not hasattr(ds, "dims"):  # a VM, a Host, a Domain
            ds = ds.machine
        if hasattr(ds, "trace_dataset"):
            if not ds.tracing:
                raise ValueError("RingTimeline needs a recording machine: "
                                 "machine.trace('step', 'trap') before running it")
            ds = ds.trace_dataset()
        # a host's trace of several domains: one band each, from its own rows
        domains = ds.vk.domains
        info = _domain_info(ds)
        self._banded = len(domains) > 1
        parts = [(d, ds.vk.domain(d)) for d in domains] if self._banded \
            else [(domains[0] if domains else 0, ds)]
        bands: list[dict[str, Any]] = []
        order: list[tuple[int, str]] = []  # (band, mode) of each lane, top lane first
        lane_of: dict[tuple[int, str], int] = {}  # (domid, mode) -> lane
        for b, (domid, sub) in enumerate(parts):
            tr = sub.vk.transitions()  # checks the families are there
            ex = sub.vk.vm_exits() if "hv" in sub.dims else None
            mode = sub["step_mode"].values
            host = _host_level(sub, info.get(domid, {}).get("technique"))
            used = {MODE[int(v)] for v in np.unique(mode)} | set(tr["from_mode"].unique()) \
                | set(tr["to_mode"].unique())
            if host is None:  # U, S and M always, and the virtual modes in use
                modes = [m for m in LANE_ORDER if m in set(mode_names(np.unique(mode))) | used]
            else:  # a virtual machine: the levels it used, and its hypervisor's
                modes = [m for m in LANE_ORDER if m in used | {host}]
            label, title = _band_words(domid, info.get(domid, {}), host)
            bands.append({"domid": domid, "tr": tr, "ex": ex, "host": host, "label": label,
                          "title": title, "lanes": len(order), "modes": modes})
            for m in modes:
                lane_of[domid, m] = len(order)
                order.append((b, m))
        self._order, self._bands = order, bands
        self.transitions = _merged([b["tr"] for b in bands], [b["domid"] for b in bands],
                                   self._banded)
        self.vm_exits = None if "hv" not in ds.dims else _merged(
            [b["ex"] for b in bands], [b["domid"] for b in bands], self._banded)
        steps = ds["step"].values
        mode = ds["step_mode"].values
        domain = ds["step_domain"].values if self._banded else np.zeros(mode.size, np.int64)
        # mode segments: run-length encoding of the step family's mode (and domain) column
        key = domain.astype(np.int64) * 8 + mode
        cut = np.flatnonzero(key[1:] != key[:-1]) + 1
        starts = np.concatenate([[0], cut]).astype(np.int64)
        self._seg_start = steps[starts].astype(np.float64) if steps.size else np.zeros(0)
        self._seg_end = np.append(self._seg_start[1:], steps[-1] + 1.0) if steps.size \
            else np.zeros(0)
        kinds, which = np.unique(key[starts], return_inverse=True) if steps.size \
            else (np.zeros(0, np.int64), np.zeros(0, np.int64))
        lane_of_kind = np.array([lane_of.get((int(k) // 8 if self._banded else
                                              bands[0]["domid"], MODE[int(k) % 8]), 0)
                                 for k in kinds], np.float64)
        self._seg_lane = lane_of_kind[which.ravel()] if steps.size else np.zeros(0)
        # lane residency before each segment, for the zoomed-out summary
        lengths = self._seg_end - self._seg_start
        self._cum = np.zeros((len(order), self._seg_start.size + 1))
        for i in range(len(order)):
            np.cumsum(np.where(self._seg_lane == i, lengths, 0), out=self._cum[i, 1:])
        # the arrows: traps and returns (a VM trace's exits and entries are drawn apart)
        legend: dict[str, list[Any]] = {}
        marks = [self._arrow_marks(b, lane_of, legend) for b in bands]
        self._marks = _by_step(np.concatenate(marks))
        self._exits = _by_step(np.concatenate(
            [self._exit_marks(b["ex"], b["domid"], lane_of, legend) for b in bands]))
        self._switches = self._switch_marks(ds, lane_of, legend) if self._banded \
            else np.zeros((0, 5))
        self.legend = [e[:4] for e in legend.values()]
        # where n/p go: before each transition, each VM exit and each world switch
        self._cursors = np.unique(np.concatenate([self._marks[:, 4], self._exits[:, 0],
                                                  self._switches[:, 0]]))
        self.first = int(steps[0]) if steps.size else 0
        self.end = int(steps[-1]) + 1 if steps.size else 0
        self._lanes()
        self.view = [float(self.first), float(max(self.end, self.first + 1))]
        self._window()

    def _arrow_marks(self, band: dict[str, Any], lane_of: dict[tuple[int, str], int],
                     legend: dict[str, list[Any]]) -> np.ndarray:
        """(step, from lane, to lane, legend index, cursor) for each trap and return of a
        band; their legend entries are added to ``legend``."""
        tr, domid = band["tr"], band["domid"]
        arrows = tr[tr["kind"].isin(("exception", "interrupt", "return")).to_numpy()]
        if not len(arrows):
            return np.zeros((0, 5))
        step = arrows["step"].to_numpy(np.float64)
        index = np.zeros(len(arrows))
        for i, (label, kind, cause) in enumerate(zip(arrows["label"], arrows["kind"],
                                                     arrows["cause"], strict=True)):
            colour = _cause_colour(kind, 0 if kind == "return" else int(cause))
            entry = legend.setdefault(label, [label, colour, 0, "arrow", len(legend)])
            entry[2] += 1
            index[i] = entry[4]
        first = band["lanes"]
        lanes = np.array([lane_of.get((domid, MODE.get(v, "")), first) for v in range(8)],
                         np.float64)
        return np.column_stack([
            step,
            lanes[[_MODE_VALUE[m] for m in arrows["from_mode"]]],
            lanes[[_MODE_VALUE[m] for m in arrows["to_mode"]]],
            index,
            step - (arrows["kind"] == "return").to_numpy()])

    def _exit_marks(self, ex: pd.DataFrame | None, domid: int,
                    lane_of: dict[tuple[int, str], int],
                    legend: dict[str, list[Any]]) -> np.ndarray:
        """(step, guest's lane, hypervisor's lane, lane re-entered or -1, legend index)
        for each VM exit of a band; their legend entries are added to ``legend``."""
        if ex is None or not len(ex):
            return np.zeros((0, 5))
        # by label (a few kinds among perhaps a million exits: no loop over the exits)
        codes, labels = pd.factorize(ex["label"])
        _, first = np.unique(codes, return_index=True)
        counts = np.bincount(codes, minlength=len(labels))
        entry_of = np.zeros(len(labels))
        for k, label in enumerate(labels):
            i = int(first[k])
            kind = ex["kind"].iat[i]
            entry = legend.setdefault(label, [
                label, _exit_colour(kind, int(ex["cause"].iat[i]), ex["handled"].iat[i]), 0,
                "callout" if kind == "callout" else "exit", len(legend)])
            entry[2] += int(counts[k])
            entry_of[k] = entry[4]
        top = min(v for (d, _), v in lane_of.items() if d == domid)

        def lanes(column: str) -> np.ndarray:
            which, modes = pd.factorize(ex[column])  # missing (never re-entered): -1
            lane = np.array([lane_of.get((domid, m), top) for m in modes] + [-1], np.float64)
            return lane[which]

        return np.column_stack([ex["step"].to_numpy(np.float64), lanes("from_mode"),
                                lanes("host_mode"), lanes("to_mode"), entry_of[codes]])

    def _switch_marks(self, ds: Any, lane_of: dict[tuple[int, str], int],
                      legend: dict[str, list[Any]]) -> np.ndarray:
        """(step, lane left or -1, lane entered, domain left, domain entered) for each
        world switch (the hv rows ``switch``: cause is the domain switched from, detail
        the one switched to, 0 for none; the modes the vCPUs were saved and loaded in)."""
        if "hv" not in ds.dims:
            return np.zeros((0, 5))
        rows = np.flatnonzero(ds["hv_event"].values == _SWITCH)
        if not rows.size:
            return np.zeros((0, 5))
        step = ds["hv_step"].values[rows].astype(np.float64)
        left = ds["hv_cause"].values[rows].astype(np.int64)
        entered = ds["hv_detail"].values[rows].astype(np.int64)
        from_mode = ds["hv_from_mode"].values[rows]
        to_mode = ds["hv_to_mode"].values[rows]
        # a mode the band has no lane for (none recorded): the domain's guest lane nearest
        # the top (or, for the domain left, no start: the arrow comes from outside)
        band_of = {b["domid"]: b for b in self._bands}

        def lane(domid: int, mode: int, fallback: bool) -> float:
            if (domid, MODE.get(int(mode), "")) in lane_of:
                return float(lane_of[domid, MODE[int(mode)]])
            band = band_of.get(domid)
            if band is None or not fallback:
                return -1.0
            guest = [m for m in band["modes"] if m != band["host"]] or band["modes"]
            return float(lane_of[domid, guest[0]])

        from_lane = np.array([lane(d, m, False) for d, m in zip(left, from_mode, strict=True)])
        to_lane = np.array([lane(d, m, True) for d, m in zip(entered, to_mode, strict=True)])
        keep = to_lane >= 0  # into a domain the trace has rows of
        legend.setdefault(SWITCH_LABEL, [SWITCH_LABEL, SWITCH_COLOUR, int(keep.sum()),
                                         "switch", len(legend)])
        return np.column_stack([step, from_lane, to_lane, left.astype(np.float64),
                                entered.astype(np.float64)])[keep]

    @traitlets.observe("names")
    def _lanes(self, _change: Any = None) -> None:
        if not hasattr(self, "_order"):
            return
        words = X86_NAMES if self.names == "x86" else RISCV_NAMES
        lanes = []
        for b, band in enumerate(self._bands):
            label, title = dict(words), dict(MODE_TITLES)
            if band["host"] == "M":  # a software technique: the hypervisor owns M
                label.update(SOFTWARE_NAMES[self.names])
                title.update(SOFTWARE_TITLES)
            elif band["host"] == "S" or any(m in ("VS", "VU") for m in band["modes"]):
                # with guests about, the host's levels get their H-extension names
                label.update(HOST_NAMES[self.names])
                title.update(HOST_TITLES)
            lanes += [[m, label[m], MODE_COLOURS[m], title[m], b] for m in band["modes"]]
        with self.hold_sync():
            self.lanes = lanes
            # [domid, label, title] of each band, top first (none: one domain, no bands)
            self.bands = [[band["domid"], band["label"], band["title"]]
                          for band in self._bands] if self._banded else []
            self.band_note = BAND_NOTE if self._banded else ""

    @traitlets.observe("view")
    def _view_moved(self, _change: Any) -> None:
        if hasattr(self, "_cum"):
            self._window()

    def _window(self) -> None:
        """Send what lies in ``view``: segments (or their per-bin summary) and arrows."""
        lo, hi = self.view
        i0 = int(np.searchsorted(self._seg_end, lo, "right"))
        i1 = int(np.searchsorted(self._seg_start, hi, "left"))
        notes: list[str] = []
        if i1 - i0 <= self.max_segments:
            rows = np.column_stack([self._seg_start[i0:i1], self._seg_end[i0:i1],
                                    self._seg_lane[i0:i1]])
            segments, density = rows.astype("<f8").tobytes(), b""
        else:
            # the bins' own range first: the front end may have moved on meanwhile
            summary = np.concatenate([[lo, hi], self._density(lo, hi).ravel()])
            segments, density = b"", summary.astype("<f8").tobytes()
        # what happens at the trace's end (the exit that shut a guest down) is in view
        # with the end
        side = "right" if hi >= self.end else "left"
        # a mark row is (its columns..., count, last step): one transition, exit or
        # switch (count 1), or, where more are in view than max_marks, a bundle of those
        # of one kind in one of mark_bins slices of the view, drawn where its first one is
        sent, spans = [], []
        for rows, key, what in ((self._marks, (1, 2, 3), "transitions"),
                                (self._exits, (1, 2, 3, 4), "VM exits"),
                                (self._switches, (1, 2, 3, 4), "world switches")):
            at = rows[:, 0]
            i0, i1 = int(np.searchsorted(at, lo, "left")), int(np.searchsorted(at, hi, side))
            sent.append(self._bundle(rows[i0:i1], lo, hi, key=key))
            spans.append((at, i0, i1, what))
        bundled = [f"{i1 - i0:,} {what}" for (_, i0, i1, what), rows in zip(spans, sent,
                                                                           strict=True)
                   if len(rows) and rows[:, -2].max() > 1]
        if bundled:
            notes.append(f"{' and '.join(bundled)} in view, those close together drawn as "
                         "one (×n): zoom in to see each one")
        # nothing in view: where the nearest ones are, for arrows at the view's edges
        nearby = [-1.0, -1.0]
        if all(i0 == i1 for _, i0, i1, _ in spans):
            before = [at[i0 - 1] for at, i0, _, _ in spans if i0 > 0]
            after = [at[i1] for at, _, i1, _ in spans if i1 < at.size]
            nearby = [float(max(before)) if before else -1.0,
                      float(min(after)) if after else -1.0]
        marks, exits, switches = sent
        with self.hold_sync():
            self.segments, self.density = segments, density
            self.marks = marks.astype("<f8").tobytes()
            self.exits = exits.astype("<f8").tobytes()
            self.switches = switches.astype("<f8").tobytes()
            self.nearby = nearby
            self.note = "; ".join(notes)

    def _bundle(self, rows: np.ndarray, lo: float, hi: float,
                key: tuple[int, ...]) -> np.ndarray:
        """``rows`` (sorted by step) with a count and a last step appended: each row on
        its own if there are at most ``max_marks``, else one row per slice of the view
        (``mark_bins`` of them) and kind (the ``key`` columns: lanes and legend index),
        carrying its first row's columns."""
        if len(rows) <= self.max_marks:
            return np.column_stack([rows, np.ones(len(rows)), rows[:, 0]])
        width = max(hi - lo, 1.0) / self.mark_bins
        slot = np.clip((rows[:, 0] - lo) // width, 0, self.mark_bins - 1)
        groups = np.column_stack([slot, rows[:, list(key)]])
        _, first, which, count = np.unique(groups, axis=0, return_index=True,
                                           return_inverse=True, return_counts=True)
        last = np.full(len(first), -np.inf)
        np.maximum.at(last, which.ravel(), rows[:, 0])
        order = np.argsort(first, kind="stable")  # by step, as single marks are
        return np.column_stack([rows[first], count, last])[order]

    def _density(self, lo: float, hi: float) -> np.ndarray:
        """lanes x bins: the share of each bin's steps spent in each lane."""
        edges = np.linspace(lo, hi, self.bins + 1)
        k = np.clip(np.searchsorted(self._seg_start, edges, "right") - 1, 0, None)
        inside = np.clip(edges - self._seg_start[k], 0,
                         self._seg_end[k] - self._seg_start[k])
        out = np.zeros((len(self._order), self.bins))
        for i in range(len(self._order)):
            before = self._cum[i, k] + np.where(self._seg_lane[k] == i, inside, 0)
            out[i] = np.diff(before)
        width = np.diff(edges)
        return out / np.where(width > 0, width, 1)

    # --- moving ---------------------------------------------------------------------------
    def goto(self, step: int) -> None:
        """Put the cursor on ``step`` (linked views follow), scrolling the view to it if
        it is outside."""
        step = int(step)
        lo, hi = self.view
        if not lo <= step < hi:
            half = (hi - lo) / 2
            self.view = [step - half, step + half]
        self.step = step

    show = goto  # what a link calls

    def zoom(self, lo: float, hi: float) -> None:
        """Show steps ``lo`` to ``hi``."""
        if not hi > lo:
            raise ValueError(f"zoom needs lo < hi, not {lo}, {hi}")
        self.view = [float(lo), float(hi)]

    def next(self, direction: int = 1) -> int | None:
        """Move the cursor to just before the next transition or VM exit
        (``direction=-1``: the previous one); returns the cursor's step, None at either
        end."""
        here, cursors = self.step, self._cursors
        if direction > 0:
            i = int(np.searchsorted(cursors, here, "right"))
        else:
            i = int(np.searchsorted(cursors, here, "left")) - 1
        if not 0 <= i < cursors.size:
            return None
        self.goto(int(cursors[i]))
        return self.step

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        cmd = content.get("cmd")
        if cmd == "next":
            self.next(int(content.get("direction", 1)))
        elif cmd == "goto":
            self.goto(int(content["step"]))
