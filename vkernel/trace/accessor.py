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

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xarray as xr

from vkernel.errors import TraceError
from vkernel.isa.csr import cause_name
from vkernel.isa.disasm import decode_one
from vkernel.trace import tables
from vkernel.trace.files import json_attr, save
from vkernel.trace.schema import (
    DEVICE,
    DIRECTION,
    FAMILIES,
    HV_EVENT,
    MODE,
    MODE_ORDER,
    NO_MODE,
    WALK_RESULT,
    WALK_STAGE,
    mode_names,
    validate,
)

_MODE_VALUE = {name: value for value, name in MODE.items()}
_HV_CODE = {name: code for code, name in HV_EVENT.items()}
_TRAP, _EXIT, _STEP = 0, 1, 2  # kinds of event in the order of a run (_chain)
_GUEST_PAGE_FAULTS = (20, 21, 23)
_RETURNS = {0x30200073: "mret", 0x10200073: "sret"}
_CACHED = {name: code for code, name in WALK_RESULT.items()}["cached"]
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


def _translation_ends(ds: xr.Dataset) -> np.ndarray:
    """Which rows of ``ds``'s walk family end a translation (:func:`translation_ends`)."""
    return translation_ends(ds["walk_result"].values, ds["walk_stage"].values,
                            ds["walk_step"].values, ds["walk_access"].values,
                            ds["walk_pte"].values)


def translation_ends(result: np.ndarray, stage: np.ndarray, step: np.ndarray,
                     access: np.ndarray, pte: np.ndarray) -> np.ndarray:
    """Which walk rows (the walk family's columns) end a translation. One stage: the
    first row that is not a pointer to the next level. Two stages (the H extension): the
    walk interleaves G-stage rows (for each VS page-table entry's guest physical address,
    then for the final address) with VS-stage rows; it ends at a G-stage row that is not
    followed by a VS-stage row of the same access, or at a VS-stage fault. A ``cached``
    row (the page-walk cache supplied the entry) is a pointer to the next level, or, when
    its entry is a leaf (the nested TLB's G-stage translation of a VS page-table page), a
    G-stage leaf."""
    n = result.size
    same = np.zeros(n, bool)
    same[:-1] = (step[1:] == step[:-1]) & (access[1:] == access[:-1])
    next_stage = np.full(n, -1)
    next_stage[:-1] = stage[1:]
    cached = result == _CACHED
    cached_leaf = cached & ((pte.astype(np.int64) & 0xA) != 0)  # R or X
    result = np.where(cached, np.where(cached_leaf, 1, 0), result)
    last = result != 0  # not a pointer to the next level
    vs_end = (stage == 0) & last & ~((result == 1) & same & (next_stage == 1))
    g_end = (stage == 1) & last & ~(same & (next_stage == 0))
    return vs_end | g_end


def short_cause(mcause: int) -> str:
    """A cause in a few words, for labels on a chart (:func:`cause_name` says it in
    full): ``short_cause(8) == "ecall from U"``, ``short_cause(1 << 63 | 5) == "S timer"``."""
    if mcause >> 63:
        return _SHORT_INTERRUPT.get(mcause & ~(1 << 63), cause_name(mcause))
    return _SHORT_EXCEPTION.get(mcause, cause_name(mcause))


def _exit_label(callout: bool, cause: int, handled: int) -> str:
    """A VM exit in words, from its cause and what the hypervisor did about it
    (``handled``: a bit per HV_EVENT code)."""
    did = {name for code, name in HV_EVENT.items() if handled >> code & 1}
    if callout:
        if "sbi_call" in did:
            return "callout: SBI call"
        if "hypercall" in did:
            return "callout: hypercall"
        return "callout: privileged instruction" if cause else "callout: jump"
    if cause >> 63:
        what = short_cause(cause)
    elif "sbi_call" in did:
        what = "SBI call"
    elif "hypercall" in did:
        what = "hypercall"
    elif "mmio" in did:
        what = ("guest-page fault" if cause in _GUEST_PAGE_FAULTS else "page fault") + " (MMIO)"
    elif cause in _GUEST_PAGE_FAULTS:
        what = "guest-page fault"
    elif cause == 22:
        what = "virtual instruction"
    elif "emulation" in did:
        what = "privileged instruction"
    elif "wp_fault" in did:  # (before shadow_update: its prefetch may install an entry)
        what = "write-protect fault"
    elif "shadow_update" in did:
        what = "hidden page fault"
    elif "injection" in did:
        what = f"{short_cause(cause)} (reflected)"
    else:
        what = short_cause(cause)
    return f"VM exit: {what}"


@xr.register_dataset_accessor("vk")
class TraceAccessor:
    """Analyses of a vkernel trace, as ``ds.vk.<name>``."""

    def __init__(self, ds: xr.Dataset) -> None:
        self._ds = ds
        self._steps: dict[str, np.ndarray] = {}  # <family>_step columns, read once
        self._cache: dict[str, Any] = {}  # the order of events (_chain), worked out once

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
        ``step`` and ``trap`` families.

        A trace of a virtual machine with the ``hv`` family also has the hypervisor's
        excursions (see :meth:`vm_exits`): each VM exit (``kind`` ``"vm_exit"``, or
        ``"callout"`` for binary translation's), from the guest's mode to the
        hypervisor's (``"S"``, that is HS, under the H extension; ``"M"`` under the
        software techniques), and the ``"vm_entry"`` back at the same step (none after
        the exit that shut the guest down). Their ``label`` is :meth:`vm_exits`'s, or
        ``"VM entry"``; ``cause`` is the exit's trap cause (missing for callouts and
        entries). Chained, the rows give the mode of every step."""
        self._need("step", "transitions()")
        self._need("trap", "transitions()")
        ds = self._ds
        chain = self._chain()
        trap_step = self._step_column("trap")
        cause = ds["trap_cause"].values
        kind, before, after, at = (chain[k] for k in ("kind", "before", "after", "step"))
        gap = np.flatnonzero(after[:-1] != before[1:]) + 1  # a return just before event gap
        ret_step = at[gap]
        steps = ds["step"].values
        insn = np.zeros(ret_step.size, np.uint32)  # the return instruction, if recorded
        if steps.size:
            row = np.minimum(np.searchsorted(steps, ret_step - 1), steps.size - 1)
            known = steps[row] == ret_step - 1
            insn[known] = ds["step_insn"].values[row[known]]
        ret_label = [_RETURNS.get(int(i)) or (
            decode_one(int(i).to_bytes(4, "little"), 0, 0).mnemonic if i else "return")
            for i in insn]
        names = np.array([MODE.get(v, "?") for v in range(8)])
        is_irq = (cause >> np.uint64(63)).astype(bool)
        trap_at = np.flatnonzero(kind == _TRAP)  # traps, in event order = row order
        parts: dict[str, list[np.ndarray]] = {
            "where": [trap_at.astype(np.float64), gap - 0.5],
            "step": [trap_step, ret_step],
            "from_mode": [names[before[trap_at]], names[after[gap - 1]]],
            "to_mode": [names[after[trap_at]], names[before[gap]]],
            "kind": [np.where(is_irq, "interrupt", "exception"), np.full(gap.size, "return")],
            "cause": [cause, np.zeros(gap.size, np.uint64)],
            "label": [np.array([short_cause(int(c)) for c in cause], dtype=object),
                      np.array(ret_label, dtype=object)],
            "missing": [np.zeros(trap_at.size, bool), np.ones(gap.size, bool)],
        }
        ex = chain["exits"]
        if ex is not None and ex["step"].size:
            exit_at = np.flatnonzero(kind == _EXIT)
            hv = names[ex["hypervisor"]]
            callout = ex["kind"] == 1
            parts["where"].append(exit_at.astype(np.float64))
            parts["step"].append(ex["step"])
            parts["from_mode"].append(names[ex["from"]])
            parts["to_mode"].append(hv)
            parts["kind"].append(np.where(callout, "callout", "vm_exit"))
            parts["cause"].append(np.where(callout, 0, ex["cause"]).astype(np.uint64))
            parts["label"].append(ex["label"])
            parts["missing"].append(callout)
            entered = ex["to"] >= 0  # the guest came back (not after it shut down)
            n = int(entered.sum())
            parts["where"].append(exit_at[entered] + 0.25)
            parts["step"].append(ex["step"][entered])
            parts["from_mode"].append(hv[entered])
            parts["to_mode"].append(names[ex["to"][entered]])
            parts["kind"].append(np.full(n, "vm_entry"))
            parts["cause"].append(np.zeros(n, np.uint64))
            parts["label"].append(np.full(n, "VM entry", dtype=object))
            parts["missing"].append(np.ones(n, bool))
        merged = np.argsort(np.concatenate(parts.pop("where")), kind="stable")
        missing = np.concatenate(parts.pop("missing"))[merged]
        frame = pd.DataFrame({name: np.concatenate(p)[merged] for name, p in parts.items()})
        # a return has no cause: missing, in an unsigned column (bit 63 marks interrupts)
        frame["cause"] = pd.arrays.IntegerArray(frame["cause"].to_numpy(np.uint64), missing)
        return frame

    def vm_exits(self) -> pd.DataFrame:
        """The hypervisor's excursions, one row per VM exit (the ``hv`` rows whose event is
        ``vm_exit``) or callout (binary translation's cheap exit, ``callout``), in order.
        Columns: ``step`` (the exit came before the instruction that is this step; the
        hypervisor's work happens between steps), ``kind`` (``"vm_exit"`` or ``"callout"``),
        ``cause`` (the trap that made the guest exit, as mcause encodes it; a callout's is
        the instruction it emulates, 0 for a jump), ``label`` (in words: ``"VM exit: SBI
        call"``, ``"VM exit: guest-page fault (MMIO)"``, ``"VM exit: hidden page fault"``,
        ``"VM exit: write-protect fault"``, ``"VM exit: ecall from U (reflected)"``,
        ``"callout: jump"``...), ``handled`` (the hypervisor's other rows until the next
        exit: ``"sbi_call"``, ``"emulation injection"``...), ``from_mode`` (the guest's mode
        when it exited), ``host_mode`` (the hypervisor's level: ``"S"``, i.e. HS, under the
        H extension; ``"M"`` under the software techniques), ``to_mode`` (the mode the guest
        was entered in again; None if it never was: it shut down, or the recording ends),
        ``cycles`` (the modelled cost of the exit and its handling), ``pc`` and ``detail``
        (the exit row's). Needs the ``hv`` family. The modes are the exit row's
        ``hv_from_mode``, ``hv_level`` and ``hv_to_mode``; where a row does not know them (a
        trace of schema 2, whose hv rows had no modes) they are inferred from the ``step``
        and ``trap`` families, when those were recorded: the guest left from the mode of the
        event before (an ``ecall from VS`` comes from VS), came back in the mode of the
        event after, and the hypervisor ran in HS under the ``hardware`` technique, else in
        M.

        >>> from vkernel.hv import VM
        >>> vm = VM("hello", technique="hardware", trace=("step", "trap", "hv"))
        >>> _ = vm.run()
        >>> exits = vm.trace_dataset().vk.vm_exits()
        >>> exits.label.value_counts().to_dict()
        {'VM exit: SBI call': 41}
        >>> exits[["from_mode", "host_mode", "to_mode"]].iloc[0].tolist()
        ['VS', 'S', 'VS']
        """
        self._need("hv", "vm_exits()")
        ex = self._chain()["exits"]
        assert ex is not None
        names = np.array([MODE.get(v, "?") for v in range(8)] + [None], dtype=object)
        ds = self._ds
        rows = ex["row"]
        return pd.DataFrame({
            "step": ex["step"],
            "kind": np.where(ex["kind"] == 1, "callout", "vm_exit"),
            "cause": ex["cause"],
            "label": ex["label"],
            "handled": ex["handled"],
            "from_mode": names[ex["from"]],
            "host_mode": names[ex["hypervisor"]],
            "to_mode": names[ex["to"]],  # -1: the last entry of names, None
            "cycles": ex["cycles"],
            "pc": ds["hv_pc"].values[rows],
            "detail": ds["hv_detail"].values[rows],
        })

    def _hypervisor_mode(self) -> int:
        """The level a VM exit goes to, inferred (for rows with no ``hv_level``): HS (S)
        with the H extension, else M."""
        technique = self._ds.attrs.get("technique")
        if technique == "hardware":
            return _MODE_VALUE["S"]
        if technique in (None, "native") and "step" in self._ds.dims \
                and bool((self._ds["step_mode"].values >= 4).any()):
            return _MODE_VALUE["S"]
        return _MODE_VALUE["M"]

    def _exit_rows(self) -> dict[str, np.ndarray]:
        """The hv rows that are exits, with what the hypervisor did until the next one."""
        ds = self._ds
        event = ds["hv_event"].values
        is_exit = (event == _HV_CODE["vm_exit"]) | (event == _HV_CODE["callout"])
        rows = np.flatnonzero(is_exit)
        group = np.cumsum(is_exit) - 1  # the exit each row belongs to (-1: before any)
        inside = group >= 0
        handled = np.zeros(rows.size, np.int64)
        np.bitwise_or.at(handled, group[inside & ~is_exit],
                         np.left_shift(1, event[inside & ~is_exit].astype(np.int64)))
        cycles = np.zeros(rows.size, np.int64)
        np.add.at(cycles, group[inside], ds["hv_cycles"].values[inside].astype(np.int64))
        kind = (event[rows] == _HV_CODE["callout"]).astype(np.int8)
        cause = ds["hv_cause"].values[rows]
        label = np.empty(rows.size, dtype=object)
        did = np.empty(rows.size, dtype=object)
        if rows.size:  # in words, once for each kind of exit (there are a few)
            _, cause_code = np.unique(cause, return_inverse=True)
            key = (cause_code.ravel().astype(np.int64) * 2 + kind) << len(HV_EVENT) | handled
            _, first, inverse = np.unique(key, return_index=True, return_inverse=True)
            words = [_exit_label(bool(kind[i]), int(cause[i]), int(handled[i])) for i in first]
            done = [" ".join(name for code, name in HV_EVENT.items() if int(handled[i]) >> code
                             & 1) for i in first]
            label[:] = np.array(words, dtype=object)[inverse.ravel()]
            did[:] = np.array(done, dtype=object)[inverse.ravel()]
        # the modes the rows recorded (schema 3); NO_MODE where they did not
        recorded = {k: ds[f"hv_{k}"].values[rows].astype(np.int64) if f"hv_{k}" in ds
                    else np.full(rows.size, NO_MODE, np.int64)
                    for k in ("from_mode", "to_mode", "level")}
        return {"row": rows, "step": self._step_column("hv")[rows], "kind": kind,
                "cause": cause, "pc": ds["hv_pc"].values[rows], "label": label,
                "handled": did, "cycles": cycles, "recorded": recorded}

    def _chain(self) -> dict[str, Any]:
        """Traps, VM exits and steps in the order they happened, each with the mode
        before and after it (a trap: from and to; a step: its mode; an exit: the guest's
        mode when it left and when it came back). At one step, its traps and exits come
        before the step itself; an exit follows a trap at its step if it came from that
        trap's handler (the exit's pc is the handler's), else it precedes them."""
        if "chain" in self._cache:
            return self._cache["chain"]
        ds = self._ds
        if "step" in ds.dims:
            steps, mode = ds["step"].values, ds["step_mode"].values
        else:
            steps, mode = np.zeros(0, np.int64), np.zeros(0, np.uint8)
        if "trap" in ds.dims:
            trap_step = self._step_column("trap")
            t_from, t_to = ds["trap_from_mode"].values, ds["trap_to_mode"].values
        else:
            trap_step, t_from, t_to = np.zeros(0, np.int64), np.zeros(0, np.uint8), \
                np.zeros(0, np.uint8)
        nt = trap_step.size
        ex = self._exit_rows() if "hv" in ds.dims else None
        ne = ex["step"].size if ex is not None else 0
        # the events before each step (traps, exits) in order, then the steps
        pre_kind = np.concatenate([np.full(nt, _TRAP, np.int8), np.full(ne, _EXIT, np.int8)])
        pre_index = np.concatenate([np.arange(nt), np.arange(ne)])
        pre_step = trap_step if ex is None else np.concatenate([trap_step, ex["step"]])
        if ne:
            # sub-order at one step: exits before its traps (-1), trap j (2j), exits
            # that came from trap j's handler (2j + 1)
            after_trap = np.full(ne, -1, np.int64)
            lo = np.searchsorted(trap_step, ex["step"], "left")
            hi = np.searchsorted(trap_step, ex["step"], "right")
            handler = ds["trap_handler"].values if nt else np.zeros(0, np.uint64)
            for i in np.flatnonzero(hi > lo).tolist():
                match = np.flatnonzero(handler[lo[i]:hi[i]] == ex["pc"][i])
                if match.size:
                    after_trap[i] = lo[i] + match[-1]
            sub = np.concatenate([2 * np.arange(nt),
                                  np.where(after_trap >= 0, 2 * after_trap + 1, -1)])
            first = np.lexsort((np.arange(nt + ne), sub, pre_step))
            pre_kind, pre_index, pre_step = pre_kind[first], pre_index[first], \
                pre_step[first]
        key = np.concatenate([pre_step * 2, steps * 2 + 1])
        order = np.argsort(key, kind="stable")  # events at one step keep their order
        kind = np.concatenate([pre_kind, np.full(steps.size, _STEP, np.int8)])[order]
        index = np.concatenate([pre_index, np.arange(steps.size)])[order]
        # modes: a trap's from and to, a step's mode; exits filled in below
        pre_from = np.zeros(pre_kind.size, np.int64)
        pre_to = np.zeros(pre_kind.size, np.int64)
        is_trap = pre_kind == _TRAP
        pre_from[is_trap] = t_from[pre_index[is_trap]]
        pre_to[is_trap] = t_to[pre_index[is_trap]]
        before = np.concatenate([pre_from, mode.astype(np.int64)])[order]
        after = np.concatenate([pre_to, mode.astype(np.int64)])[order]
        if ex is not None:
            level = ex["recorded"]["level"]
            known = level != NO_MODE
            ex["hypervisor"] = level if known.all() else \
                np.where(known, level, self._hypervisor_mode())
            ex["from"], ex["to"] = self._exit_modes(kind, index, before, after, ex)
        self._cache["chain"] = {"kind": kind, "index": index, "before": before,
                                "after": after, "step": key[order] // 2, "exits": ex}
        return self._cache["chain"]

    def _exit_modes(self, kind: np.ndarray, index: np.ndarray, before: np.ndarray,
                    after: np.ndarray, ex: dict[str, Any]) -> tuple[np.ndarray, ...]:
        """Each exit's guest mode when it left and came back (-1: it did not): the ones
        its row recorded, else inferred from the events around it; ``before`` and
        ``after`` of the exits are filled in."""
        ne = ex["step"].size
        frm, to = np.full(ne, -1, np.int64), np.full(ne, -1, np.int64)
        if not ne:
            return frm, to
        pos = np.flatnonzero(kind == _EXIT)
        which = index[pos]  # the exit at each position
        other = np.flatnonzero(kind != _EXIT)
        nxt = np.searchsorted(other, pos)  # the next event that is not an exit
        has_next = nxt < other.size
        prv = nxt - 1
        has_prev = prv >= 0
        prev_pos = np.where(has_prev, other[np.maximum(prv, 0)], -1)
        prev_mode = np.where(has_prev, after[np.maximum(prev_pos, 0)], -1)
        next_mode = np.where(has_next, before[other[np.minimum(nxt, other.size - 1)]], -1)
        # the guest's mode between exits in a row: where it goes on, else where it was
        group = np.where(next_mode >= 0, next_mode, prev_mode)
        first = prev_pos == pos - 1  # the first exit of a run of exits
        last = np.append(pos[1:] != pos[:-1] + 1, True)  # the last one of a run
        f = np.where(first & has_prev, prev_mode, group)
        hardware = ex["hypervisor"][which] == _MODE_VALUE["S"]
        guest = np.where(hardware, _MODE_VALUE["VS"], _MODE_VALUE["U"])
        cause = ex["cause"][which]
        # an ecall from VS can only come from VS
        f = np.where(hardware & (ex["kind"][which] == 0) & (cause == 10), _MODE_VALUE["VS"], f)
        f = np.where(f >= 0, f, guest)
        t = np.where(last & ~has_next, -1, np.where(group >= 0, group, guest))
        # what the rows recorded, where they did, over what was inferred
        rec_from, rec_to = ex["recorded"]["from_mode"][which], ex["recorded"]["to_mode"][which]
        f = np.where(rec_from != NO_MODE, rec_from, f)
        t = np.where(rec_to != NO_MODE, rec_to, t)
        frm[which], to[which] = f, t
        before[pos] = f
        after[pos] = np.where(t >= 0, t, ex["hypervisor"][which])
        return frm, to

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
        """Page walks: ``references`` (page-table entries read from memory; a ``cached``
        row, an entry the page-walk cache supplied, is not one), ``cached`` (those rows),
        ``translations`` and ``references_per_translation``; references per stage and
        level (``by_stage``, ``by_level``) and rows per result (``by_result``); the TLB's
        and the page-walk cache's hit rates over the recorded span (from the machine's
        counters). When the trace holds several domains, ``*_by_domain`` variables split
        references, cached rows and translations along a ``domain`` dimension.

        >>> from vkernel.hv import VM
        >>> vm = VM("page-fault", "hardware", n=5, walk_cache=True, trace="walk")
        >>> _ = vm.run()
        >>> w = vm.trace_dataset().vk.walks()
        >>> off = VM("page-fault", "hardware", n=5, trace="walk")
        >>> _ = off.run()
        >>> w0 = off.trace_dataset().vk.walks()
        >>> # the same translations, a fifth of the references: the rest come from the cache
        >>> int(w.translations) == int(w0.translations), 5 * int(w.references) < int(w0.references)
        (True, True)
        >>> float(w.walk_cache_hit_rate) > 0.7, int(w0.cached)
        (True, 0)
        """
        self._need("walk", "walks()")
        ds = self._ds
        result = ds["walk_result"].values
        stage = ds["walk_stage"].values
        level = ds["walk_level"].values
        memory = result != _CACHED
        refs = int(np.count_nonzero(memory))
        ends = _translation_ends(ds)
        translations = int(np.count_nonzero(ends))
        counters = self.recording.get("counters", {})

        def span(name: str) -> int:
            start, end = counters.get(name, (0, 0))
            return int(end) - int(start)

        lookups, misses = span("tlb_lookups"), span("tlb_misses")
        hits, wc_misses = span("walk_cache_hits"), span("walk_cache_misses")
        by_result = np.bincount(result, minlength=len(WALK_RESULT))[:len(WALK_RESULT)]
        by_stage = np.bincount(stage[memory], minlength=len(WALK_STAGE))[:len(WALK_STAGE)]
        by_level = np.bincount(level[memory], minlength=3)
        out: dict[str, Any] = {
            "references": refs, "cached": result.size - refs, "translations": translations,
            "references_per_translation": refs / translations if translations else np.nan,
            "by_stage": ("stage", by_stage), "by_level": ("level", by_level),
            "by_result": ("result", by_result),
            "tlb_lookups": lookups, "tlb_misses": misses,
            "tlb_hit_rate": 1 - misses / lookups if lookups else np.nan,
            "walk_cache_hits": hits, "walk_cache_misses": wc_misses,
            "walk_cache_hit_rate": hits / (hits + wc_misses) if hits + wc_misses else np.nan}
        coords: dict[str, Any] = {"stage": list(WALK_STAGE.values()),
                                  "level": np.arange(by_level.size),
                                  "result": list(WALK_RESULT.values())}
        if "walk_domain" in ds:
            dom = ds["walk_domain"].values
            ids = np.unique(dom)
            if ids.size > 1:
                n_refs = np.array([np.count_nonzero(memory & (dom == d)) for d in ids])
                n_cached = np.array([np.count_nonzero(~memory & (dom == d)) for d in ids])
                n_trans = np.array([np.count_nonzero(ends & (dom == d)) for d in ids])
                with np.errstate(divide="ignore", invalid="ignore"):
                    per = np.where(n_trans > 0, n_refs / np.maximum(n_trans, 1), np.nan)
                out |= {"references_by_domain": ("domain", n_refs),
                        "cached_by_domain": ("domain", n_cached),
                        "translations_by_domain": ("domain", n_trans),
                        "references_per_translation_by_domain": ("domain", per)}
                coords["domain"] = ids.astype(np.int64)
        return xr.Dataset(out, coords=coords)

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
            # a VM exit's price depends on whether the hardware made it: the row's level
            # says (HS: the H extension), else (schema 2) the technique
            hardware = np.full(event.size, ds.attrs.get("technique") == "hardware")
            if "hv_level" in ds:
                level = ds["hv_level"].values
                hardware = np.where(level != NO_MODE, level == _MODE_VALUE["S"], hardware)
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
                    n_hw = int(np.count_nonzero(hardware[sel]))
                    total = n_hw * priced.of(name, hardware=True) \
                        + (n - n_hw) * priced.of(name, hardware=False)
                rows[name] = (n, total)
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["events", "cycles"])
        frame.loc["total"] = [frame["events"].sum(), frame["cycles"].sum()]
        frame.index.name = "source"
        return frame

    # --- memory virtualization's tables, redrawn (vkernel.trace.tables) ---------------
    def p2m(self, step: int | None = None, domain: int | None = None) -> pd.DataFrame:
        """One domain's p2m (guest physical page -> machine address) as it was after the
        hv rows of steps up to ``step`` (None: the end); ``domain`` may be left out when
        one domain has hv rows. See :func:`vkernel.trace.tables.p2m`."""
        return tables.p2m(self._ds, step, domain)

    def shadow_entries(self, step: int | None = None,
                       domain: int | None = None) -> pd.DataFrame:
        """One domain's shadow page-table leaves as they were after the hv rows of steps
        up to ``step``. See :func:`vkernel.trace.tables.shadow_entries`."""
        return tables.shadow_entries(self._ds, step, domain)

    def guest_entries(self, step: int | None = None,
                      domain: int | None = None) -> pd.DataFrame:
        """The guest page-table entries one domain's hypervisor had read or written
        after the hv rows of steps up to ``step``. See
        :func:`vkernel.trace.tables.guest_entries`."""
        return tables.guest_entries(self._ds, step, domain)

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

    # --- domains ------------------------------------------------------------------------
    @property
    def domains(self) -> list[int]:
        """The domains that have rows in this trace, in order (0: the control domain, or
        no hypervisor; a host numbers its guests from 1).

        >>> import vkernel
        >>> m = vkernel.Machine(ram_mb=1, trace=("step", "write"))
        >>> _ = m.load(vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3"))
        >>> _ = m.step()
        >>> m.set_domain(2)
        >>> _ = m.step(2)
        >>> m.trace_dataset().vk.domains
        [0, 2]
        """
        present: set[int] = set()
        for family in FAMILIES:
            if family in self._ds.dims and f"{family}_domain" in self._ds:
                present.update(np.unique(self._ds[f"{family}_domain"].values).tolist())
        return sorted(present)

    def domain(self, domid: int) -> xr.Dataset:
        """The rows of one domain: each family keeps the rows its ``<family>_domain`` says
        were recorded while ``domid``'s vCPU ran, with their coordinates (so the steps of
        a domain have gaps where others ran). The attributes are the trace's, but for
        ``recording``, which gains ``"domain"``; its counters stay the whole machine's.

        >>> import vkernel
        >>> m = vkernel.Machine(ram_mb=1, trace=("step", "write"))
        >>> _ = m.load(vkernel.assemble("li a0, 1\\nli a0, 2\\nli a0, 3"))
        >>> _ = m.step()
        >>> m.set_domain(2)
        >>> _ = m.step(2)
        >>> two = m.trace_dataset().vk.domain(2)
        >>> two.step.values.tolist(), two.write_value.values.tolist()
        ([1, 2], [2, 3])
        """
        ds = self._ds
        rows = {f: np.flatnonzero(ds[f"{f}_domain"].values == domid)
                for f in FAMILIES if f in ds.dims and f"{f}_domain" in ds}
        recording = json_attr(ds, "recording")
        recording["domain"] = int(domid)
        return ds.isel(rows).assign_attrs(recording=json.dumps(recording, sort_keys=True))

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
