"""The trace schema: which variables a vkernel trace holds, their types, units and meanings.

One :class:`xarray.Dataset` per run. Each *event family* is a dimension; its variables are
named ``<family>_<column>``. ``docs/trace-schema.md`` is the same schema in prose; this
module is the one the code obeys, and :func:`validate` checks a Dataset against it.

>>> from vkernel.trace.schema import FAMILIES
>>> [v.name for v in FAMILIES["trap"].variables][:3]
['trap_step', 'trap_cause', 'trap_tval']
>>> FAMILIES["step"].variables[2].flags
{0: 'U', 1: 'S', 3: 'M', 4: 'VU', 5: 'VS'}
>>> FAMILIES["step"].columns
('pc', 'insn', 'mode', 'domain')
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from vkernel.devices import DEVICE_ID
from vkernel.errors import TraceError
from vkernel.isa.csr import EXCEPTION_NAME, INTERRUPT_BIT, INTERRUPT_NAME

if TYPE_CHECKING:
    import xarray as xr

# Bump when a change would make an older reader misread a file; readers refuse newer ones
# (and read older ones: vkernel.trace.files upgrades them).
# 2: the hv family gained its variables
# 3: every family has <family>_domain; hv rows have from/to modes and the hypervisor's
#    level; hv_event 9 "switch"
# 4: memory virtualization: hv_event 10..17 (write-protect faults, shadow drops, the
#    hypervisor's own walks, mmu_update, balloon, page sharing, swapping) and walk_result
#    7 "cached" (an entry the page-walk cache supplied: no memory reference)
SCHEMA_VERSION = 5
ISA = "rv64imach_zicsr_zifencei_sstc_svadu"
NO_ADDRESS = 2**64 - 1  # a uint64 column's "does not apply" (e.g. write_paddr of a register)
NO_MODE = 255  # a mode column's "not known / does not apply" (hv rows only)
CONTROL_DOMAIN = 0  # Xen's dom0; also what a machine with no hypervisor records

U8, U16, U32, U64, I64 = np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.uint32), \
    np.dtype(np.uint64), np.dtype(np.int64)


def _flag_word(text: str) -> str:
    """CF flag meanings are single words: 'store/AMO page fault' -> 'store_amo_page_fault'."""
    return "".join(c if c.isalnum() else "_" for c in text.lower()).replace("-", "_")


# --- enumerations (CF flag_values -> flag_meanings) -------------------------------------
# Privilege mode of a step: the MPP encoding, plus 4 for the virtualized modes of the H
# extension (VU = 4 | U, VS = 4 | S).
MODE = {0: "U", 1: "S", 3: "M", 4: "VU", 5: "VS"}
MODE_ORDER = ("U", "S", "M", "VU", "VS")  # lanes a view draws, least privileged first


def mode_names(present: Any) -> list[str]:
    """The modes a view shows: U, S and M always, the virtualized ones when present
    (``present``: mode values from a trace)."""
    seen = {MODE[int(v)] for v in present}
    return [m for m in MODE_ORDER if m in ("U", "S", "M") or m in seen]
CAUSE = {code: _flag_word(name) for code, name in EXCEPTION_NAME.items()} | {
    INTERRUPT_BIT | code: _flag_word(name) for code, name in INTERRUPT_NAME.items()}
WRITE_KIND = {0: "x_register", 1: "memory", 2: "csr", 3: "pte_ad_update"}
WALK_RESULT = {0: "next_level", 1: "leaf", 2: "invalid", 3: "denied",
               4: "misaligned_superpage", 5: "ad_fault", 6: "access_fault",
               7: "cached"}
WALK_STAGE = {0: "single_or_vs_stage", 1: "g_stage"}
ACCESS = {0: "fetch", 1: "load", 2: "store"}
# what a hypervisor did (vkernel.hv): each row is one of these, with its modelled cost
HV_EVENT = {0: "vm_exit", 1: "emulation", 2: "callout", 3: "translation", 4: "hypercall",
            5: "injection", 6: "shadow_update", 7: "mmio", 8: "sbi_call", 9: "switch",
            10: "wp_fault", 11: "shadow_drop", 12: "hv_walk", 13: "mmu_update",
            14: "balloon", 15: "share", 16: "unshare", 17: "swap"}
# an hv row's modes may be unknown: a row of no exit, or of a schema 2 file
HV_MODE = {**MODE, NO_MODE: "none"}
DEVICE = {num: name for name, num in DEVICE_ID.items()}
DIRECTION = {0: "read", 1: "write"}


@dataclass(frozen=True)
class Var:
    """One variable of the schema."""

    name: str
    dtype: np.dtype
    units: str
    description: str
    flags: Mapping[int, str] | None = None  # value -> meaning, for enumerations

    def attrs(self) -> dict[str, Any]:
        """The attributes a Dataset variable carries."""
        a: dict[str, Any] = {"units": self.units, "description": self.description}
        if self.flags is not None:
            a["flag_values"] = np.array(list(self.flags), dtype=self.dtype)
            a["flag_meanings"] = " ".join(self.flags.values())
        return a


@dataclass(frozen=True)
class Family:
    """An event family: a dimension of the Dataset and the variables along it."""

    name: str
    description: str
    coordinate: str  # what the dimension's index coordinate counts
    variables: tuple[Var, ...] = field(default=())

    @property
    def columns(self) -> tuple[str, ...]:
        """Short column names (the variable names without the family prefix)."""
        return tuple(v.name[len(self.name) + 1:] for v in self.variables)


def _step_var(family: str) -> Var:
    return Var(f"{family}_step", I64, "1",
               "the step this row happened at: the number of instructions retired before "
               "it since reset (a trap at step k interrupted the instruction that would "
               "have been step k)")


def _mode_var(name: str, what: str, flags: Mapping[int, str] = MODE) -> Var:
    return Var(name, U8, "1", what, flags)


def _domain_var(family: str, whose: str = "whose vCPU was running when the row was "
                "recorded") -> Var:
    # the last column of every family: the core's buffers hold the ones before it, and
    # Machine._drain adds it
    return Var(f"{family}_domain", U16, "1",
               f"the domain (virtual machine) {whose}: numbered from 1 by the host in "
               "creation order; 0 is the control domain, and what a machine with no "
               "hypervisor records")


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("step", "one row per retired instruction", "the step: instructions retired "
           "before this one since reset", (
               Var("step_pc", U64, "1", "address of the instruction (virtual when "
                   "translation is on)"),
               Var("step_insn", U32, "1", "the instruction's raw bits as fetched (a "
                   "compressed instruction is its 16-bit parcel)"),
               _mode_var("step_mode", "privilege mode the instruction executed in"),
               _domain_var("step"),
           )),
    Family("write", "one row per architectural write: x register, memory, CSR, or a "
           "hardware A/D update of a page-table entry", "row number since recording "
           "started", (
               _step_var("write"),
               Var("write_kind", U8, "1", "what was written", WRITE_KIND),
               Var("write_target", U64, "1", "register number, CSR number, virtual "
                   "address of a memory write, or physical address of the updated PTE"),
               Var("write_value", U64, "1", "the value written (its low write_size bytes)"),
               Var("write_size", U8, "byte", "bytes written"),
               Var("write_paddr", U64, "1", "physical address of a memory or PTE write; "
                   "all ones (2**64-1) for a register or CSR"),
               _domain_var("write"),
           )),
    Family("trap", "one row per trap taken (exception or interrupt)", "row number since "
           "recording started", (
               _step_var("trap"),
               Var("trap_cause", U64, "1", "the cause as mcause encodes it (bit 63 set for "
                   "an interrupt)", CAUSE),
               Var("trap_tval", U64, "1", "the trap value written to mtval/stval (a faulting "
                   "address or instruction bits, else 0)"),
               _mode_var("trap_from_mode", "privilege mode the trap was taken from"),
               _mode_var("trap_to_mode", "privilege mode whose handler took the trap (the "
                         "handler level)"),
               Var("trap_epc", U64, "1", "the pc saved in mepc/sepc: the instruction that "
                   "trapped, or the one an interrupt came before"),
               Var("trap_handler", U64, "1", "the pc of the handler the trap went to (from "
                   "mtvec/stvec)"),
               _domain_var("trap"),
           )),
    Family("walk", "one row per page-table entry the MMU read during a page walk",
           "row number since recording started", (
               _step_var("walk"),
               Var("walk_vaddr", U64, "1", "the virtual address being translated (in a "
                   "G-stage row: the guest physical address)"),
               Var("walk_level", U8, "1", "page-table level of the entry (2 = root in Sv39)"),
               Var("walk_pte_addr", U64, "1", "(machine) physical address of the entry read"),
               Var("walk_pte", U64, "1", "the entry's value (after a hardware A/D update; 0 "
                   "for an access fault)"),
               Var("walk_result", U8, "1", "what the walk made of the entry: anything but "
                   "next_level ends the walk", WALK_RESULT),
               Var("walk_stage", U8, "1", "translation stage: the only one, or with the H "
                   "extension the VS-stage, or the G-stage",
                   WALK_STAGE),
               Var("walk_access", U8, "1", "the access being translated", ACCESS),
               _domain_var("walk"),
           )),
    Family("io", "one row per device register access (and HTIF exchange)", "row number "
           "since recording started", (
               _step_var("io"),
               Var("io_device", U8, "1", "the device", DEVICE),
               Var("io_offset", U64, "byte", "offset of the register in the device's window"),
               Var("io_direction", U8, "1", "read or write, as the guest saw it", DIRECTION),
               Var("io_value", U64, "1", "the value read or written"),
               Var("io_size", U8, "byte", "access size"),
               _domain_var("io"),
           )),
    Family("sample", "one row every sample_every steps: the machine's event totals, for "
           "rates over time", "row number since recording started", (
               Var("sample_step", I64, "1", "the step the row was taken at; its totals count "
                   "every event at the steps before it"),
               Var("sample_traps", I64, "1", "traps taken since reset"),
               Var("sample_tlb_lookups", I64, "1", "translated accesses since reset: every "
                   "fetch, load and store while translating"),
               Var("sample_tlb_misses", I64, "1", "of those, the ones that missed the TLB"),
               Var("sample_pte_reads", I64, "1", "page-table entries read since reset"),
               _domain_var("sample"),
           )),
    Family("hv", "one row per thing the hypervisor did: a VM exit, an instruction "
           "emulated, a callout, a block translated, a hypercall, an injection, a shadow "
           "page-table update, an MMIO access, an SBI call emulated or a world switch",
           "row number since recording started", (
               _step_var("hv"),
               Var("hv_event", U8, "1", "what the hypervisor did", HV_EVENT),
               Var("hv_cause", U64, "1", "why: the trap (mcause encoding) that made the guest "
                   "exit or that was injected, the hypercall number (a7), the SBI "
                   "extension id, or the domain a world switch left; a memory event's "
                   "kind (balloon, swap: 1 out, 0 in; balloon 2: the host set the target, "
                   "the detail, in pages, and no page moved; "
                   "mmu_update: 0 validated, 1 refused; "
                   "shadow_drop: 0 one entry, 1 every shadow)"),
               Var("hv_detail", U64, "1", "event-specific: the CSR an emulation touched, "
                   "the guest physical address of an MMIO access, of a page a shadow "
                   "update maps or a balloon, sharing or swap row moves (a balloon "
                   "target row: the target, in pages), of the guest PTE "
                   "a write-protect fault wrote or a software walk read (hv_walk), the "
                   "machine address of the PTE an mmu_update wrote, the guest instructions "
                   "a translation covered, a hypercall's first argument, the domain a "
                   "world switch entered"),
               Var("hv_vaddr", U64, "1", "the guest virtual address a memory event concerns "
                   "(shadow_update, shadow_drop: the page; hv_walk: the address walked; "
                   "wp_fault: the store's address); 0 for the others"),
               Var("hv_entry", U64, "1", "the value a CSR emulation left in the virtual CSR; "
                   "the entry a memory event wrote or read: the shadow "
                   "leaf installed (shadow_update), the guest PTE after an emulated store "
                   "(wp_fault) or a para-virtual update (mmu_update), the guest entry a "
                   "software walk read (hv_walk), the machine address now "
                   "behind a guest page (balloon, share, unshare, swap; all ones for "
                   "none); 0 for the others"),
               Var("hv_satp", U64, "1", "the address space a table event concerns, as a satp "
                   "value: the shadow's (shadow_update, shadow_drop; 0 in a drop of every "
                   "shadow) or the guest's (hv_walk, wp_fault); 0 for the others"),
               Var("hv_pc", U64, "1", "the guest's pc (guest virtual) when it happened"),
               Var("hv_cycles", U64, "cycle", "its modelled cost (vkernel.hv.cost)"),
               _mode_var("hv_from_mode", "the mode the guest was in when it exited (255: "
                         "not known, or the row belongs to no exit)", HV_MODE),
               _mode_var("hv_to_mode", "the mode the guest resumed in once the hypervisor "
                         "had finished with that exit (255: not known, or it did not "
                         "resume)", HV_MODE),
               _mode_var("hv_level", "the mode the hypervisor handled it in: M under the "
                         "software techniques, S (HS) under the H extension (255: not "
                         "known)", HV_MODE),
               _domain_var("hv", "it was done for (sharing or swapping a domain's page "
                           "while another one's vCPU runs: the page's)"),
           )),
    Family("p2m", "one row per p2m entry set: every page of a domain when the host makes "
           "it, then each page ballooned out or back in, shared, unshared, swapped out or "
           "back in; replayed up to a step, the p2m of every domain then",
           "row number since recording started", (
               _step_var("p2m"),
               Var("p2m_gpa", U64, "1", "the guest physical page"),
               Var("p2m_machine", U64, "1", "the machine address that backs it from now on; "
                   "all ones (2^64-1): none (ballooned out, or on the host's swap file)"),
               _domain_var("p2m", "whose p2m it is"),
           )),
)}

# what a machine records (hv rows come from the hypervisor layer, in Python)
RECORDABLE = ("step", "write", "trap", "walk", "io", "sample", "hv", "p2m")

VARIABLES: dict[str, Var] = {v.name: v for f in FAMILIES.values() for v in f.variables}

# Dataset attributes: name -> (type, description)
ATTRS: dict[str, tuple[type, str]] = {
    "trace_schema": (int, "version of this schema the file follows"),
    "vkernel_version": (str, "vkernel version that recorded the trace"),
    "isa": (str, "the ISA string of the machine"),
    "technique": (str, "how the guest was virtualized ('native': no hypervisor)"),
    "created_at": (str, "when the Dataset was built, ISO 8601 UTC"),
    "machine": (str, "JSON: the machine's configuration"),
    "program": (str, "JSON: name, SHA-256 and entry point of the program that ran"),
    "recording": (str, "JSON: recording mode and families; counters over the recorded span"),
}
JSON_ATTRS = ("machine", "program", "recording")


def coordinate_attrs(family: str) -> dict[str, str]:
    return {"units": "1", "description": FAMILIES[family].coordinate}


def _problems(ds: xr.Dataset, values: bool) -> list[str]:
    out: list[str] = []
    # attributes
    for name, (typ, _) in ATTRS.items():
        if name not in ds.attrs:
            out.append(f"attribute {name!r} is missing")
            continue
        v = ds.attrs[name]
        if typ is int and not (isinstance(v, int | np.integer) and not isinstance(v, bool)):
            out.append(f"attribute {name!r} must be an integer, not {v!r}")
        elif typ is str and not isinstance(v, str):
            out.append(f"attribute {name!r} must be a string, not {type(v).__name__}")
        elif name in JSON_ATTRS:
            try:
                if not isinstance(json.loads(v), dict):
                    raise ValueError
            except ValueError:
                out.append(f"attribute {name!r} must be a JSON object")
    version = ds.attrs.get("trace_schema")
    if isinstance(version, int | np.integer) and not isinstance(version, bool) \
            and version != SCHEMA_VERSION:
        out.append(f"attribute 'trace_schema' is {version}: this vkernel checks version "
                   f"{SCHEMA_VERSION} (vkernel.open_trace upgrades an older file as it "
                   f"reads it)")
    # dimensions and their coordinates
    for dim in ds.dims:
        if dim not in FAMILIES:
            out.append(f"dimension {dim!r} is not an event family "
                       f"({', '.join(FAMILIES)})")
            continue
        if dim not in ds.coords:
            out.append(f"dimension {dim!r} has no coordinate")
            continue
        c = ds.coords[dim]
        if c.dtype != I64:
            out.append(f"coordinate {dim!r} has dtype {c.dtype}, expected int64")
        for a in ("units", "description"):
            if a not in c.attrs:
                out.append(f"coordinate {dim!r} has no {a!r} attribute")
        if values and c.size > 1 and not bool((np.diff(c.values) > 0).all()):
            out.append(f"coordinate {dim!r} is not strictly increasing")
    for name in ds.coords:
        if name not in ds.dims:
            out.append(f"coordinate {name!r} is not part of the schema")
    # variables
    for name, da in ds.data_vars.items():
        spec = VARIABLES.get(str(name))
        if spec is None:
            out.append(f"variable {name!r} is not part of the schema")
            continue
        family = spec.name.split("_", 1)[0]
        if da.dims != (family,):
            out.append(f"variable {name!r} has dimensions {da.dims}, expected ({family!r},)")
        if da.dtype != spec.dtype:
            out.append(f"variable {name!r} has dtype {da.dtype}, expected {spec.dtype}")
        for a in ("units", "description"):
            if a not in da.attrs:
                out.append(f"variable {name!r} has no {a!r} attribute")
        if spec.flags is not None:
            fv, fm = da.attrs.get("flag_values"), da.attrs.get("flag_meanings")
            if fv is None or fm is None:
                out.append(f"variable {name!r} lacks flag_values/flag_meanings")
            elif [int(v) for v in np.atleast_1d(fv)] != list(spec.flags) \
                    or fm != " ".join(spec.flags.values()):
                out.append(f"variable {name!r} has flags that differ from the schema")
            if values and da.size:
                bad = np.setdiff1d(np.unique(da.values), np.array(list(spec.flags),
                                                                  dtype=spec.dtype))
                if bad.size:
                    out.append(f"variable {name!r} holds values outside its flag_values: "
                               f"{', '.join(hex(int(b)) for b in bad[:5])}")
    for family in FAMILIES.values():
        if family.name not in ds.dims:
            if any(v.name in ds.data_vars for v in family.variables):
                out.append(f"family {family.name!r} has variables but no dimension")
            continue
        missing = [v.name for v in family.variables if v.name not in ds.data_vars]
        if missing:
            out.append(f"family {family.name!r} lacks {', '.join(missing)}")
        step = f"{family.name}_step"
        if values and step in ds.data_vars and ds[step].size > 1 \
                and not bool((np.diff(ds[step].values) >= 0).all()):
            out.append(f"variable {step!r} goes backwards")
    return out


def check_version(ds: xr.Dataset, where: str = "this Dataset") -> None:
    """Raise :class:`TraceError` unless ``ds`` says it is a vkernel trace this version
    can read."""
    version = ds.attrs.get("trace_schema")
    if version is None or "vkernel_version" not in ds.attrs:
        raise TraceError(f"{where} is not a vkernel trace (it has no 'trace_schema' and "
                         f"'vkernel_version' attributes)")
    if not isinstance(version, int | np.integer) or version > SCHEMA_VERSION:
        raise TraceError(f"{where} is a trace of schema version {version}, newer than this "
                         f"vkernel ({ds.attrs['vkernel_version']} wrote it; this one reads "
                         f"up to version {SCHEMA_VERSION}): upgrade vkernel to open it")


def validate(ds: xr.Dataset, *, values: bool = True) -> xr.Dataset:
    """Check ``ds`` against the trace schema; return it unchanged, or raise
    :class:`~vkernel.TraceError` listing every problem.

    ``values=False`` checks only the metadata (names, dimensions, dtypes, attributes),
    which needs no data read from a file; the default also checks that enumerations hold
    only their flag values and that coordinates and steps are in order.

    >>> import vkernel, xarray as xr
    >>> validate(xr.Dataset())
    Traceback (most recent call last):
    ...
    vkernel.errors.TraceError: not a valid vkernel trace:
      - attribute 'trace_schema' is missing
    ...
    """
    problems = _problems(ds, values)
    if problems:
        raise TraceError("not a valid vkernel trace:\n" + "\n".join(f"  - {p}"
                                                                     for p in problems))
    return ds
