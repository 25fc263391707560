"""Memory virtualization's tables redrawn from a trace: a domain's p2m, its shadow page
tables and the guest page-table entries its hypervisor saw, as they were at any step.

The ``p2m`` family records every p2m entry set, and the ``hv`` family every change to the
other two, each row with the page (``hv_vaddr`` or ``hv_detail``), the entry (``hv_entry``)
and the address space (``hv_satp``) it concerns (see docs/trace-schema.md). Replaying a
domain's rows up to a step rebuilds the tables as they were then, without the machine:
what ``ds.vk.p2m()``, ``ds.vk.shadow_entries()`` and ``ds.vk.guest_entries()`` return.

* **p2m** (guest physical page -> machine frame): the ``p2m`` family, a row per page
  when the domain was made, then one per page ballooned, shared, unshared or swapped.
* **shadow tables** (guest virtual page -> machine frame, per shadow): every
  ``shadow_update`` installs a leaf, every ``shadow_drop`` takes one away (cause 1: every
  shadow at once). The hypervisor's own mappings (binary translation's translation cache
  and vCPU page, mapped when a shadow is made) are not rows.
* **guest entries**: the guest PTEs a shadow-paging hypervisor read in its software walks
  (``hv_walk``: every level) and the ones it wrote for the guest (``wp_fault``: the entry
  after an emulated store), and a para-virtual guest's validated ``mmu_update``\\ s. Under
  write protection every store to a table a shadow depends on is a ``wp_fault``, so
  these are the guest's entries as they are in its memory; a guest's stores to tables no
  shadow depends on (and every store under simple shadows or nested paging) are not hv
  rows: the ``write`` family has them.

Two more answer which address space a shadow stands for (the rows of a shadow name only
its own satp): :func:`shadow_spaces` and :func:`guest_satp`; ``ShadowPageTables.from_trace``
uses them all to draw its panes at any step.

>>> from vkernel.hv import VM
>>> vm = VM("hello", "trap-emulate", trace=("hv", "p2m"))
>>> _ = vm.run(max_steps=50_000)
>>> ds = vm.trace_dataset()
>>> p2m = ds.vk.p2m()
>>> int(p2m.loc[0x8000_0000, "machine"]) == vm.domain.memory.machine_address(0x8000_0000)
True
>>> shadow = ds.vk.shadow_entries()
>>> len(shadow) > 0, bool((shadow.machine % 4096 == 0).all())
(True, True)
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from vkernel.errors import TraceError
from vkernel.trace.files import json_attr
from vkernel.trace.schema import HV_EVENT

_CODE = {name: code for code, name in HV_EVENT.items()}
PAGE = 4096
PPN_MASK = (1 << 44) - 1
NO_FRAME = (1 << 64) - 1  # an entry with no machine frame behind the page
EVERY_SHADOW = 1  # a shadow_drop's cause when every shadow went at once
REFUSED = 1  # an mmu_update's cause when the hypervisor refused it
CSR_SATP = 0x180


def _rows(ds: xr.Dataset, domain: int | None, step: int | None,
          events: tuple[str, ...]) -> dict[str, np.ndarray]:
    """The hv rows of ``events`` for one domain, recorded at steps up to ``step``, in
    the order they were recorded."""
    if "hv" not in ds.dims:
        raise TraceError("this trace has no hv family: record it (trace='hv' or more) to "
                         "redraw the tables")
    if "hv_entry" not in ds or "schema_upgraded_from" in json_attr(ds, "recording"):
        raise TraceError("this trace was recorded before schema 5: its hv rows do not say "
                         "which entries changed, so the tables cannot be redrawn")
    domains = ds["hv_domain"].values
    event = ds["hv_event"].values
    keep = (domains == _one_domain(domains, domain)) & np.isin(event,
                                                               [_CODE[e] for e in events])
    if step is not None:
        keep &= ds["hv_step"].values <= step
    index = np.flatnonzero(keep)
    return {name: ds[f"hv_{name}"].values[index]
            for name in ("step", "event", "cause", "detail", "vaddr", "entry", "satp")}


def p2m(ds: xr.Dataset, step: int | None = None, domain: int | None = None) -> pd.DataFrame:
    """One domain's p2m after the ``p2m`` rows of steps up to ``step`` (None: the end):
    a row per guest physical page it has had (index ``gpa``), its ``machine`` address
    (:data:`NO_FRAME` for a page ballooned out or swapped to disk) and the ``step`` it
    was set at. Needs the ``p2m`` family recorded from the domain's creation."""
    if "p2m" not in ds.dims:
        raise TraceError("this trace has no p2m family: record it (trace=('hv', 'p2m') or "
                         "'all') from the domain's creation to redraw its p2m")
    domains = ds["p2m_domain"].values
    keep = domains == _one_domain(domains, domain)
    if step is not None:
        keep &= ds["p2m_step"].values <= step
    index = np.flatnonzero(keep)
    # the last row of each page wins: numpy's unique on the reversed rows finds it
    gpa = ds["p2m_gpa"].values[index][::-1]
    pages, last = np.unique(gpa, return_index=True)
    return pd.DataFrame({"machine": ds["p2m_machine"].values[index][::-1][last],
                         "step": ds["p2m_step"].values[index][::-1][last]},
                        index=pd.Index(pages, name="gpa"))


def _one_domain(domains: np.ndarray, domain: int | None) -> int:
    if domain is not None:
        return int(domain)
    present = sorted(set(np.unique(domains).tolist()) - {0})
    if len(present) != 1:
        raise TraceError(f"this trace has the rows of domains {present}: say which "
                         f"(domain=...)")
    return present[0]


def shadow_entries(ds: xr.Dataset, step: int | None = None,
                   domain: int | None = None) -> pd.DataFrame:
    """One domain's shadow leaves after the rows of steps up to ``step`` (None: the end):
    a row per (``satp``, ``vaddr``): the shadow's satp (its ASID and root), the guest
    virtual page, the leaf ``entry`` the hardware walks, the ``machine`` page it maps and
    its ``flags`` (the entry's low 8 bits), the guest physical address (``gpa``) it was
    filled for, and the ``step`` it was installed at."""
    r = _rows(ds, domain, step, ("shadow_update", "shadow_drop"))
    table: dict[tuple[int, int], tuple[int, int, int]] = {}
    update = _CODE["shadow_update"]
    for st, event, cause, gpa, va, entry, satp in zip(
            *(r[k].tolist() for k in ("step", "event", "cause", "detail", "vaddr", "entry",
                                      "satp")), strict=True):
        if event == update:
            table[(satp, va)] = (entry, gpa, st)
        elif cause == EVERY_SHADOW:
            table.clear()
        else:
            table.pop((satp, va), None)
    keys = sorted(table)
    entries = np.array([table[k][0] for k in keys], np.uint64)
    return pd.DataFrame({
        "satp": np.array([k[0] for k in keys], np.uint64),
        "vaddr": np.array([k[1] for k in keys], np.uint64),
        "entry": entries,
        "machine": (entries >> np.uint64(10) & np.uint64(PPN_MASK)) << np.uint64(12),
        "flags": entries & np.uint64(0xFF),
        "gpa": np.array([table[k][1] for k in keys], np.uint64),
        "step": np.array([table[k][2] for k in keys], np.int64)})


def guest_entries(ds: xr.Dataset, step: int | None = None,
                  domain: int | None = None) -> pd.DataFrame:
    """The guest page-table entries one domain's hypervisor read or wrote, after the rows
    of steps up to ``step`` (None: the end): a row per entry (index ``pte_addr``: guest
    physical under shadow paging, machine under para-virtual direct paging) with its
    last known ``pte``, the ``event`` that told (``hv_walk``: read by a software walk,
    ``wp_fault``: written by an emulated store, ``mmu_update``: a validated update), the
    ``vaddr`` and guest ``satp`` of that walk or store (0 for an mmu_update) and its
    ``step``. A refused mmu_update changed nothing and is left out."""
    r = _rows(ds, domain, step, ("hv_walk", "wp_fault", "mmu_update"))
    table: dict[int, tuple[int, str, int, int, int]] = {}
    refused = r["cause"] == REFUSED
    for st, event, addr, va, entry, satp, no in zip(
            *(r[k].tolist() for k in ("step", "event", "detail", "vaddr", "entry", "satp")),
            refused.tolist(), strict=True):
        name = HV_EVENT[event]
        if name == "mmu_update" and no:
            continue  # refused: nothing changed
        table[addr] = (entry, name, va, satp, st)
    keys = sorted(table)
    return pd.DataFrame({
        "pte": np.array([table[k][0] for k in keys], np.uint64),
        "event": [table[k][1] for k in keys],
        "vaddr": np.array([table[k][2] for k in keys], np.uint64),
        "satp": np.array([table[k][3] for k in keys], np.uint64),
        "step": np.array([table[k][4] for k in keys], np.int64)},
        index=pd.Index(np.array(keys, np.uint64), name="pte_addr"))


def shadow_spaces(ds: xr.Dataset, step: int | None = None,
                  domain: int | None = None) -> pd.DataFrame:
    """Which guest address space each of one domain's shadows stands for, after the rows
    of steps up to ``step`` (None: the end): a row per shadow (index ``satp``, the
    shadow's) with the ``guest_satp`` it shadows and the ``step`` of its latest hidden
    fault fill (the hardware was walking that shadow then).

    A ``shadow_update`` row names only the shadow; the ``hv_walk`` rows just before it
    (the software walk of the same exit, the same step) name the guest's address space;
    a hidden fault with no walk before it is one of a guest with paging off (satp Bare:
    ``guest_satp`` 0). Prefetches (cause 0) have no walk, so a shadow is known from its
    first hidden fault on; a flush forgets them all (a new shadow may then get the same
    satp)."""
    r = _rows(ds, domain, step, ("hv_walk", "shadow_update", "shadow_drop"))
    walk, update = _CODE["hv_walk"], _CODE["shadow_update"]
    spaces: dict[int, tuple[int, int]] = {}
    walked = (-1, 0)  # (step, guest satp) of the latest hv_walk row since an update
    for st, event, cause, satp in zip(*(r[k].tolist() for k in ("step", "event", "cause",
                                                                 "satp")), strict=True):
        if event == walk:
            walked = (st, satp)
        elif event == update:
            if cause:  # a hidden fault: filled in the shadow the hardware was walking
                spaces[satp] = (walked[1] if walked[0] == st else 0, st)
            walked = (-1, 0)
        elif cause == EVERY_SHADOW:
            spaces.clear()
    keys = sorted(spaces)
    return pd.DataFrame({
        "guest_satp": np.array([spaces[k][0] for k in keys], np.uint64),
        "step": np.array([spaces[k][1] for k in keys], np.int64)},
        index=pd.Index(np.array(keys, np.uint64), name="satp"))


def guest_satp(ds: xr.Dataset, step: int | None = None,
               domain: int | None = None) -> int:
    """The guest address space (its satp) at ``step`` (None: the end), as far as one
    domain's rows say: the latest emulated access to its satp (trap-and-emulate, and
    hardware with ``paging="shadow"``: an ``emulation`` row of CSR satp, whose entry is
    the value satp holds after it) or ``hv_walk``/``wp_fault`` row (the table its
    hypervisor last walked); 0 before the first (a guest starts with paging off).
    (Binary translation emulates satp in a callout, which has no entry: there, a switch
    shows from the next hidden fault.)"""
    r = _rows(ds, domain, step, ("hv_walk", "wp_fault", "emulation"))
    emulation = r["event"] == _CODE["emulation"]
    known = ~emulation | (r["detail"] == CSR_SATP)
    if not known.any():
        return 0
    last = np.flatnonzero(known)[-1]
    return int(r["entry"][last] if emulation[last] else r["satp"][last])
