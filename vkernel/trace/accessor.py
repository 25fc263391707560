"""``ds.vk``: analyses of a trace Dataset. Each returns a new object and never changes
``ds``.

>>> import vkernel
>>> m = vkernel.Machine(ram_mb=1, trace="all")
>>> _ = m.load(vkernel.assemble('''
...     la t0, handler
...     csrw mtvec, t0
...     ecall
... handler:
...     ebreak
... '''))
>>> _ = m.run(max_steps=5)          # 3 instructions retire, then ecall and ebreak trap
>>> ds = m.trace_dataset()
>>> ds.vk.disasm(2), ds.vk.modes()["steps"].sel(mode="M").item()
('csrw mtvec,t0', 3)
>>> ds.vk.traps()["by_cause"].to_series().to_dict()
{3: 1, 11: 1}
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vkernel.errors import TraceError
from vkernel.isa.csr import cause_name
from vkernel.isa.disasm import decode_one
from vkernel.trace.files import json_attr, save
from vkernel.trace.schema import (
    DEVICE,
    DIRECTION,
    FAMILIES,
    HV_EVENT,
    MODE,
    MODE_ORDER,
    WALK_RESULT,
    WALK_STAGE,
    mode_names,
    validate,
)

_MODE_VALUE = {name: value for value, name in MODE.items()}
_RETURNS = {0x30200073: "mret", 0x10200073: "sret"}
_SHORT_EXCEPTION = {0: "misaligned fetch", 1: "fetch access fault", 2: "illegal instruction",
                    3: "breakpoint", 4: "misaligned load", 5: "load access fault",
                    6: "misaligned store", 7: "store access fault", 8: "ecall from U",
                    9: "ecall from S", 10: "ecall from VS", 11: "ecall from M",
                    12: "fetch page fault", 13: "load page fault", 15: "store page fault",
                    20: "fetch guest-page fault", 21: "load guest-page fault",
                    22: "virtual instruction", 23: "store guest-page fault"}
_SHORT_INTERRUPT = {1: "S software", 2: "VS software", 3: "M software", 5: "S timer",
                    6: "VS timer", 7: "M timer", 9: "S external", 10: "VS external",
                    11: "M external", 12: "guest external"}


def short_cause(mcause: int) -> str:
    """A cause in a few words, for labels on a chart (:func:`cause_name` says it in
    full): ``short_cause(8) == "ecall from U"``, ``short_cause(1 << 63 | 5) == "S timer"``."""
    if mcause >> 63:
        return _SHORT_INTERRUPT.get(mcause & ~(1 << 63), cause_name(mcause))
    return _SHORT_EXCEPTION.get(mcause, cause_name(mcause))


@xr.register_dataset_accessor("vk")
class TraceAccessor:
    """Analyses of a vkernel trace, as ``ds.vk.<name>``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds
        self._steps: dict[str, np.ndarray] = {}  # <family>_step columns, read once

    # --- the file and its description -----------------------------------------------------
    def validate(self, *, values: bool = True) -> xr.Dataset:
        """Check the Dataset against the schema (see :func:`vkernel.trace.validate`)."""
        return validate(self._ds, values=values)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the trace to ``path``: ``.nc`` (netCDF-4) or ``.zarr`` (Zarr v3).
        :func:`vkernel.open_trace` reads it back identical.

        >>> import tempfile, vkernel
        >>> m = vkernel.Machine(ram_mb=1, trace="step")
        >>> _ = m.load(vkernel.assemble("nop\\nnop"))
        >>> _ = m.run(max_steps=2)
        >>> ds = m.trace_dataset()
        >>> with tempfile.TemporaryDirectory() as d:
        ...     vkernel.open_trace(ds.vk.save(f"{d}/run.nc")).identical(ds)
        True
        """
        return save(self._ds, path)

    @property
    def machine(self) -> dict[str, Any]:
        """The machine's configuration (the ``machine`` attribute, decoded)."""
        return json_attr(self._ds, "machine")

    @property
    def program(self) -> dict[str, Any]:
        """Name, SHA-256 and entry point of the program that ran."""
        return json_attr(self._ds, "program")

    @property
    def recording(self) -> dict[str, Any]:
        """How the trace was recorded, and the machine's counters at its start and end
        (``{"instret": [start, end], ...}``)."""
        return json_attr(self._ds, "recording")

    def _need(self, family: str, what: str) -> None:
        if family not in self._ds.dims:
            raise TraceError(f"{what} needs the {family!r} family, which this trace did not "
                             f"record: record it with machine.trace({family!r}, ...)")

    def _step_column(self, family: str) -> np.ndarray:
        if family not in self._steps:
            self._steps[family] = self._ds[f"{family}_step"].values
        return self._steps[family]

    # --- analyses -----------------------------------------------------------------------
    def modes(self) -> xr.Dataset:
        """Residency per privilege mode (``steps``, ``fraction``) and the transitions
        between modes (``transitions``, from_mode x to_mode: how often one step ran in
        ``from_mode`` and the next in ``to_mode``)."""
        self._need("step", "modes()")
        mode = self._ds["step_mode"].values
        names = mode_names(np.unique(mode))
        values = [_MODE_VALUE[n] for n in names]
        counts = np.bincount(mode, minlength=8)
        steps = np.array([counts[v] for v in values], np.int64)
        pair = np.zeros((8, 8), np.int64)
        if mode.size > 1:
            a, b = mode[:-1], mode[1:]
            changed = a != b
            np.add.at(pair, (a[changed], b[changed]), 1)
        transitions = pair[np.ix_(values, values)]
        total = max(int(steps.sum()), 1)
        return xr.Dataset(
            {"steps": ("mode", steps, {"description": "steps retired in each mode"}),
             "fraction": ("mode", steps / total, {"description": "share of the steps"}),
             "transitions": (("from_mode", "to_mode"), transitions,
                             {"description": "consecutive steps in from_mode then to_mode"})},
            coords={"mode": names, "from_mode": names, "to_mode": names})

    def transitions(self) -> pd.DataFrame:
        """Every change of privilege level, in order: each trap (an exception or an
        interrupt, including one handled at the level it came from) and each return
        (``mret``/``sret``: the mode changed with no trap). Columns: ``step`` (the first
        step at the new place: the handler's first instruction, or the one after the
        return), ``from_mode``, ``to_mode``, ``kind`` (``"exception"``, ``"interrupt"``,
        ``"return"``), ``cause`` (the mcause value; missing for a return) and ``label`` (a
        short name: ``"ecall from U"``, ``"S timer"``, ``"sret"``...). Needs the
        ``step`` and ``trap`` families."""
        self._need("step", "transitions()")
        self._need("trap", "transitions()")
        ds = self._ds
        steps = ds["step"].values
        mode = ds["step_mode"].values
        trap_step = self._step_column("trap")
        cause = ds["trap_cause"].values
        # Everything in the order it happened: at each step its traps, then the step.
        # Each event has a mode before and after (a trap: from and to; a step: its mode).
        # Where one event ends in another mode than the next begins, a return (mret,
        # sret) came in between: it retired as the step just before.
        key = np.concatenate([trap_step * 2, steps * 2 + 1])
        order = np.argsort(key, kind="stable")  # traps at one step keep their order
        before = np.concatenate([ds["trap_from_mode"].values, mode])[order]
        after = np.concatenate([ds["trap_to_mode"].values, mode])[order]
        gap = np.flatnonzero(after[:-1] != before[1:]) + 1  # a return just before event gap
        ret_step = key[order][gap] // 2
        insn = np.zeros(ret_step.size, np.uint32)  # the return instruction, if recorded
        if steps.size:
            row = np.minimum(np.searchsorted(steps, ret_step - 1), steps.size - 1)
            known = steps[row] == ret_step - 1
            insn[known] = ds["step_insn"].values[row[known]]
        ret_label = [_RETURNS.get(int(i)) or (
            decode_one(int(i).to_bytes(4, "little"), 0, 0).mnemonic if i else "return")
            for i in insn]
        # traps (already in event order) and returns, merged where they happened
        trap_at = np.flatnonzero(order < trap_step.size)
        merged = np.argsort(np.concatenate([trap_at, gap - 0.5]), kind="stable")
        names = np.array([MODE.get(v, "?") for v in range(8)])
        is_irq = (cause >> np.uint64(63)).astype(bool)
        columns = {
            "step": (trap_step, ret_step),
            "from_mode": (names[before[trap_at]], names[after[gap - 1]]),
            "to_mode": (names[after[trap_at]], names[before[gap]]),
            "kind": (np.where(is_irq, "interrupt", "exception"), np.full(gap.size, "return")),
            "cause": (cause, np.zeros(gap.size, np.uint64)),
            "label": (np.array([short_cause(int(c)) for c in cause], dtype=object),
                      np.array(ret_label, dtype=object)),
        }
        frame = pd.DataFrame({name: np.concatenate(parts)[merged]
                              for name, parts in columns.items()})
        # a return has no cause: missing, in an unsigned column (bit 63 marks interrupts)
        frame["cause"] = pd.arrays.IntegerArray(frame["cause"].to_numpy(np.uint64),
                                                (frame["kind"] == "return").to_numpy())
        return frame

    def traps(self) -> xr.Dataset:
        """Traps counted by cause and by handler level: ``count`` (cause x level),
        ``by_cause``, ``by_level``. The ``cause`` coordinate is the mcause value,
        ``cause_name`` says it in words."""
        self._need("trap", "traps()")
        cause = self._ds["trap_cause"].values
        level = self._ds["trap_to_mode"].values
        causes = np.unique(cause)
        levels = [m for m in MODE_ORDER if _MODE_VALUE[m] in set(level.tolist())] \
            or ["M"]
        table = np.zeros((causes.size, len(levels)), np.int64)
        ci = np.searchsorted(causes, cause)
        for j, name in enumerate(levels):
            sel = level == _MODE_VALUE[name]
            table[:, j] = np.bincount(ci[sel], minlength=causes.size)
        return xr.Dataset(
            {"count": (("cause", "level"), table, {"description": "traps taken"}),
             "by_cause": ("cause", table.sum(axis=1)),
             "by_level": ("level", table.sum(axis=0))},
            coords={"cause": causes,
                    "cause_name": ("cause", [cause_name(int(c)) for c in causes]),
                    "level": levels})

    def walks(self) -> xr.Dataset:
        """Page-walk references: in all, per translation, per stage, level and result;
        and the TLB's hit rate over the recorded span (from the machine's counters)."""
        self._need("walk", "walks()")
        ds = self._ds
        result = ds["walk_result"].values
        stage = ds["walk_stage"].values
        level = ds["walk_level"].values
        refs = int(result.size)
        # a translation ends at its first-stage row that is not a pointer to the next level
        translations = int(np.count_nonzero((result != 0) & (stage == 0)))
        counters = self.recording.get("counters", {})

        def span(name: str) -> int:
            start, end = counters.get(name, (0, 0))
            return int(end) - int(start)

        lookups, misses = span("tlb_lookups"), span("tlb_misses")
        by_result = np.bincount(result, minlength=len(WALK_RESULT))[:len(WALK_RESULT)]
        by_stage = np.bincount(stage, minlength=len(WALK_STAGE))[:len(WALK_STAGE)]
        by_level = np.bincount(level, minlength=3)
        return xr.Dataset(
            {"references": refs, "translations": translations,
             "references_per_translation": refs / translations if translations else np.nan,
             "by_stage": ("stage", by_stage), "by_level": ("level", by_level),
             "by_result": ("result", by_result),
             "tlb_lookups": lookups, "tlb_misses": misses,
             "tlb_hit_rate": 1 - misses / lookups if lookups else np.nan},
            coords={"stage": list(WALK_STAGE.values()), "level": np.arange(by_level.size),
                    "result": list(WALK_RESULT.values())})

    def cost(self, model: Any = None) -> pd.DataFrame:
        """Where the modelled cycles of the recorded span went: the guest's instructions,
        page-table entries read, traps taken inside the machine, and each kind of
        hypervisor action (the ``hv`` family). Columns ``events`` and ``cycles``, one row
        per source and a ``total``. With ``model`` (a :class:`vkernel.hv.cost.CostModel`)
        everything is re-priced from the recorded counts; without it the hv rows keep the
        cycles they were recorded with.

        >>> from vkernel.hv import VM
        >>> from vkernel import assemble
        >>> vm = VM(assemble("li a7, 0x10\\necall\\nli a7, 0x53525354\\nli a6, 0\\n"
        ...                  "li a1, 0\\necall", base=0x8020_0000), ram_mb=4, trace="hv")
        >>> vm.run().reason
        'shutdown'
        >>> vm.trace_dataset().vk.cost().loc[["vm_exit", "sbi_call"], "events"].tolist()
        [2, 2]
        """
        from vkernel.hv.cost import CostModel

        ds = self._ds
        priced = model or CostModel()
        counters = self.recording.get("counters", {})

        def span(name: str) -> int:
            start, end = counters.get(name, (0, 0))
            return int(end) - int(start)

        rows = {"instructions": (span("instret"), span("instret") * priced.instruction),
                "walk_references": (span("pte_reads"), span("pte_reads") * priced.walk_reference),
                "traps": (span("traps"), span("traps") * priced.trap)}
        if "hv" in ds.dims:
            event = ds["hv_event"].values
            cycles = ds["hv_cycles"].values.astype(np.int64)
            detail = ds["hv_detail"].values.astype(np.int64)
            hardware = ds.attrs.get("technique") == "hardware"
            for code, name in HV_EVENT.items():
                sel = event == code
                n = int(np.count_nonzero(sel))
                if not n:
                    continue
                if model is None:
                    total = int(cycles[sel].sum())
                elif name == "translation":  # priced per guest instruction translated
                    total = int(detail[sel].sum()) * priced.of(name)
                else:
                    total = n * priced.of(name, hardware=hardware)
                rows[name] = (n, total)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["events", "cycles"])
        frame.loc["total"] = [frame["events"].sum(), frame["cycles"].sum()]
        frame.index.name = "source"
        return frame

    def intervals(self) -> xr.Dataset:
        """Rates over time, from the ``sample`` family: for each interval between two
        sample rows (the last one ends where the recording does), its ``steps`` (retired
        instructions), ``traps``, ``tlb_lookups``, ``tlb_misses``, ``pte_reads``, and
        ``traps_per_kilostep`` and ``tlb_hit_rate``. The ``start`` coordinate is the
        interval's first step."""
        self._need("sample", "intervals()")
        ds = self._ds
        names = ("traps", "tlb_lookups", "tlb_misses", "pte_reads")
        end = {k: v[1] for k, v in self.recording.get("counters", {}).items()}
        step = np.append(ds["sample_step"].values, end.get("instret", 0))
        totals = {n: np.append(ds[f"sample_{n}"].values, end.get(n, 0)) for n in names}
        if step.size > 1 and step[-1] <= step[-2]:  # the recording ended on a sample
            step, totals = step[:-1], {n: v[:-1] for n, v in totals.items()}
        steps = np.diff(step)  # instructions retired in each interval
        out = {n: ("start", np.diff(v)) for n, v in totals.items()}
        out["steps"] = ("start", steps)
        with np.errstate(divide="ignore", invalid="ignore"):
            out["traps_per_kilostep"] = ("start", 1000 * out["traps"][1] / steps)
            out["tlb_hit_rate"] = ("start", 1 - out["tlb_misses"][1] / out["tlb_lookups"][1])
        return xr.Dataset(out, coords={"start": step[:-1]})

    def io(self) -> xr.Dataset:
        """Device accesses per device and direction (``count``) and the bytes moved."""
        self._need("io", "io()")
        ds = self._ds
        dev = ds["io_device"].values
        direction = ds["io_direction"].values
        size = ds["io_size"].values.astype(np.int64)
        devices = [d for d in sorted(DEVICE) if np.any(dev == d)]
        count = np.zeros((len(devices), 2), np.int64)
        nbytes = np.zeros((len(devices), 2), np.int64)
        for i, d in enumerate(devices):
            for j in (0, 1):
                sel = (dev == d) & (direction == j)
                count[i, j] = np.count_nonzero(sel)
                nbytes[i, j] = size[sel].sum()
        return xr.Dataset(
            {"count": (("device", "direction"), count, {"description": "register accesses"}),
             "bytes": (("device", "direction"), nbytes, {"units": "byte"})},
            coords={"device": [DEVICE[d] for d in devices],
                    "direction": [DIRECTION[0], DIRECTION[1]]})

    # --- around one step ----------------------------------------------------------------
    def disasm(self, step: int | slice | list[int] | np.ndarray) -> str | list[str]:
        """The instruction retired at ``step`` (a step number, as the ``step`` coordinate
        counts), in assembly; a list for several steps or a slice of them."""
        self._need("step", "disasm()")
        try:
            sel = self._ds[["step_pc", "step_insn"]].sel(step=step)
        except KeyError:
            steps = self._ds["step"]
            held = f"steps {int(steps[0])}..{int(steps[-1])}" if steps.size else "no steps"
            raise TraceError(f"step {step} is not in this trace (it holds {held})") from None
        pcs = np.atleast_1d(sel["step_pc"].values)
        raws = np.atleast_1d(sel["step_insn"].values)
        text = []
        for pc, raw in zip(pcs.tolist(), raws.tolist(), strict=True):
            size = 4 if raw & 3 == 3 else 2
            text.append(str(decode_one(raw.to_bytes(4, "little")[:size], 0, pc)))
        return text[0] if np.ndim(step) == 0 and not isinstance(step, slice) else text

    def window(self, step: int, before: int = 16, after: int = 16) -> xr.Dataset:
        """The trace from ``step - before`` to ``step + after`` (inclusive): those steps
        and every other family's rows that happened at them. What a widget shows around
        one step."""
        lo, hi = step - before, step + after
        ds = self._ds
        parts: dict[str, slice] = {}
        for family in FAMILIES:
            if family not in ds.dims:
                continue
            if family == "step":
                parts["step"] = slice(None)
                continue
            col = self._step_column(family)
            parts[family] = slice(int(np.searchsorted(col, lo, side="left")),
                                  int(np.searchsorted(col, hi, side="right")))
        out = ds.isel({f: s for f, s in parts.items() if f != "step"})
        if "step" in ds.dims:
            out = out.sel(step=slice(lo, hi))
        return out

    def to_dataframe(self, family: str, *, names: bool = True) -> pd.DataFrame:
        """One family's rows as a pandas DataFrame indexed by the family's coordinate,
        columns named without the family prefix. ``names=True`` turns enumerations
        (mode, cause, device, ...) into categorical columns of their names."""
        if family not in FAMILIES:
            raise TraceError(f"unknown event family {family!r}; choose from "
                             f"{', '.join(FAMILIES)}")
        self._need(family, f"to_dataframe({family!r})")
        data = {}
        for v in FAMILIES[family].variables:
            col = self._ds[v.name].values
            short = v.name[len(family) + 1:]
            if names and v.flags is not None:
                keys = np.array(sorted(v.flags), dtype=v.dtype)
                labels = [cause_name(int(k)) if v.name == "trap_cause" else v.flags[int(k)]
                          for k in keys]
                col = pd.Categorical.from_codes(np.searchsorted(keys, col), labels)
            data[short] = col
        index = pd.Index(self._ds[family].values, name=family)
        return pd.DataFrame(data, index=index)
