"""Trace schema 3: every row's domain, the hv rows' modes, the world switch, and reading
schema 2 files."""

from __future__ import annotations

import functools
import json
import warnings

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from vkernel import Machine, TraceError, assemble, open_trace
from vkernel.hv import VM, CostModel
from vkernel.hv.cost import EVENT
from vkernel.isa.program import Program
from vkernel.machine import MachineError
from vkernel.trace import SCHEMA_VERSION, validate
from vkernel.trace.files import NEW_IN_3, NEW_IN_5, _netcdf_encoding, upgrade, zarr_encoding
from vkernel.trace.schema import FAMILIES, HV_EVENT, MODE, NO_MODE
from vkernel.widgets import _host_level

M, S, U, VS = 3, 1, 0, 5  # the schema's MODE values
assert {M: "M", S: "S", U: "U", VS: "VS"}.items() <= MODE.items()

# S-mode kernel, Sv39 (one gigapage), looping; every fourth turn an ecall to M, whose
# handler writes a UART byte and flushes the TLB: every family gets rows all along
KERNEL = """
    la t0, root
    srli t0, t0, 12
    li t1, 8
    slli t1, t1, 60          # satp.MODE = Sv39
    or t0, t0, t1
    csrw satp, t0
    la t0, trap
    csrw mtvec, t0
    la t0, kernel
    csrw mepc, t0
    li t0, 1 << 11           # mstatus.MPP = S
    csrw mstatus, t0
    mret
kernel:
    li a0, 0
loop:
    addi a0, a0, 1
    andi a1, a0, 3
    bnez a1, loop
    ecall                    # to M
    j loop
trap:
    csrr t0, mepc
    addi t0, t0, 4
    csrw mepc, t0
    li t1, 0x10000000
    sb a0, 0(t1)             # a UART byte: an io row
    sfence.vma               # the kernel's next accesses walk again
    mret
    .align 12
root:
    .dword 0, 0, 0x200000CF  # VPN[2] = 2: a gigapage, 0x8000_0000 -> itself, VRWXAD
"""


@functools.cache
def kernel_program() -> Program:
    return assemble(KERNEL)


@pytest.fixture(scope="module")
def kernel():
    return kernel_program()


def machine(kernel) -> Machine:
    m = Machine(ram_mb=1, trace={"families": "all", "sample_every": 16})
    m.load(kernel)
    return m


def run_segments(m: Machine, segments: list[tuple[int, int]]) -> dict[str, list[int]]:
    """Run ``steps`` in ``domain`` for each segment (an hv and a p2m row at its start); the
    expected domain of every row of each family, in order."""
    want: dict[str, list[int]] = {f: [] for f in FAMILIES}
    for domain, steps in segments:
        before = {f: len(m.events(f)["domain"]) for f in FAMILIES}
        previous = m.domain
        m.set_domain(domain)
        m.record_hv(EVENT["switch"], previous, domain)
        m.record_p2m(domain, 0x8000_0000, 0x8010_0000)  # (its domain is the argument)
        m.run(max_steps=steps)
        for f in FAMILIES:
            want[f] += [domain] * (len(m.events(f)["domain"]) - before[f])
    return want


# --- the domain of every row ------------------------------------------------------------
def test_the_domain_tag_follows_set_domain(kernel):
    m = machine(kernel)
    assert m.domain == 0  # no hypervisor: the control domain's number
    want = run_segments(m, [(0, 60), (3, 70), (1, 45), (3, 90), (7, 1)])
    ds = validate(m.trace_dataset())
    for f in FAMILIES:
        got = ds[f"{f}_domain"]
        assert got.dtype == np.uint16
        assert got.values.tolist() == want[f], f
        assert len(set(want[f]) - {7}) >= 3, f  # rows in every long segment
    assert ds.vk.domains == [0, 1, 3, 7]
    assert m.events("trap")["domain"].tolist() == want["trap"]


def test_set_domain_takes_a_domain_number(kernel):
    m = machine(kernel)
    for bad in (-1, 1 << 16, 1.0, "1", True):
        with pytest.raises(MachineError, match="a domain is a number"):
            m.set_domain(bad)
    m.set_domain(np.uint16(65535))
    assert m.domain == 65535 and isinstance(m.domain, int)


def test_set_domain_tags_what_the_core_had_buffered_with_the_old_domain(kernel):
    m = Machine(ram_mb=1, trace="step", buffer_rows=1 << 16)
    m.load(kernel)
    m.run(max_steps=20)  # 20 steps in the core's buffer, not drained
    m.set_domain(4)
    m.run(max_steps=5)
    assert m.events("step")["domain"].tolist() == [0] * 20 + [4] * 5


def test_snapshot_and_restore_keep_the_domain(kernel):
    straight = machine(kernel)
    run_segments(straight, [(2, 40), (2, 30)])
    m = machine(kernel)
    m.set_domain(2)
    m.run(max_steps=40)
    snap = m.snapshot()
    m.set_domain(5)
    m.run(max_steps=25)
    m.restore(snap)
    assert m.domain == 2
    m.run(max_steps=30)
    ds, want = m.trace_dataset(), straight.trace_dataset()
    for f in FAMILIES:
        if f not in ("hv", "p2m"):  # the straight run has its switch (and p2m) rows
            assert ds[f"{f}_domain"].values.tolist() == want[f"{f}_domain"].values.tolist()
    assert set(ds.vk.domains) == {2}


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 40)), min_size=1, max_size=8))
def test_the_domains_of_a_trace_add_up_to_it(segments):
    m = machine(kernel_program())
    run_segments(m, segments)
    ds = m.trace_dataset()
    domains = ds.vk.domains
    assert domains == sorted({d for d, _ in segments})  # each has its switch row at least
    parts = [ds.vk.domain(d) for d in domains]
    for part, d in zip(parts, domains, strict=True):
        assert json.loads(part.attrs["recording"])["domain"] == d
        validate(part)
    for f in FAMILIES:
        names = [v.name for v in FAMILIES[f].variables]
        whole = xr.concat([p[names] for p in parts], dim=f).sortby(f)
        assert whole.identical(ds[names].drop_attrs(deep=False).assign_attrs(whole.attrs)), f


# --- hv rows: modes, level, domain --------------------------------------------------------
@pytest.fixture(scope="module", params=["trap-emulate", "hardware", "binary-translation",
                                        "paravirt"])
def vm_trace(request):
    vm = VM("hello", technique=request.param, trace=("step", "trap", "hv"))
    assert vm.run().reason == "shutdown"
    return vm, validate(vm.trace_dataset())


def exit_rows(ds: xr.Dataset) -> np.ndarray:
    event = ds.hv_event.values
    return np.flatnonzero((event == EVENT["vm_exit"]) | (event == EVENT["callout"]))


def test_hv_modes_agree_with_the_steps(vm_trace):
    """An exit before step k left from the mode of step k - 1 and went back to the mode of
    step k (at steps with no trap row, whose handler would come in between)."""
    vm, ds = vm_trace
    rows = exit_rows(ds)
    k = ds.hv_step.values[rows]
    first, mode = int(ds.step[0]), ds.step_mode.values
    plain = ~np.isin(k, ds.trap_step.values)
    assert plain.sum() >= 0.8 * rows.size
    frm, to = ds.hv_from_mode.values[rows], ds.hv_to_mode.values[rows]
    assert (frm[plain] == mode[k[plain] - 1 - first]).all()
    # the exit that shut the guest down: it never resumed
    assert to[-1] == NO_MODE and k[-1] == first + ds.sizes["step"]
    assert (to[:-1][plain[:-1]] == mode[k[:-1][plain[:-1]] - first]).all()
    # the hypervisor's level, on every row
    level = M if not vm.technique.hardware else S
    assert (ds.hv_level.values == level).all()
    assert (ds.hv_domain.values == 1).all()  # the VM's guest: the first domain


def test_the_rows_of_one_exit_share_its_modes(vm_trace):
    _, ds = vm_trace
    rows = exit_rows(ds)
    group = np.cumsum(np.isin(np.arange(ds.sizes["hv"]), rows)) - 1
    for col in ("hv_from_mode", "hv_to_mode"):
        values = ds[col].values
        inside = group >= 0
        assert (values[inside] == values[rows][group[inside]]).all(), col
    # rows before the first exit (a translation at boot) came from no exit
    assert (ds.hv_from_mode.values[group < 0] == NO_MODE).all()


def test_the_hv_modes_of_the_two_kinds_of_hypervisor(vm_trace):
    vm, ds = vm_trace
    hv = ds.vk.to_dataframe("hv", names=False)
    if vm.technique_name == "hardware":  # the guest kernel's SBI calls: from VS, to VS
        sbi = hv[hv.event == EVENT["sbi_call"]]
        assert len(sbi) == 41  # (one of them the balloon driver's, at boot)
        assert set(sbi.from_mode) == {VS} and set(sbi.level) == {S}
        assert set(sbi.to_mode.iloc[:-1]) == {VS}
    else:  # the deprivileged guest kernel runs in U, the hypervisor in M
        assert set(hv.from_mode) <= {U, NO_MODE} and (hv.from_mode == U).any()
        assert set(hv.level) == {M}


def test_vm_exits_read_the_modes_and_infer_them_alike(vm_trace):
    vm, ds = vm_trace
    cols = ["from_mode", "host_mode", "to_mode"]
    recorded = ds.vk.vm_exits()
    rows = exit_rows(ds)
    names = {v: n for v, n in MODE.items()}
    assert recorded.from_mode.tolist() == [names[v] for v in ds.hv_from_mode.values[rows]]
    assert recorded.host_mode.iloc[0] == ("S" if vm.technique.hardware else "M")
    # without the recorded columns (a schema 2 trace) ds.vk infers the same
    unknown = ds.assign({c: ds[c].copy(data=np.full(ds.sizes["hv"], NO_MODE, np.uint8))
                         for c in ("hv_from_mode", "hv_to_mode", "hv_level")})
    inferred = unknown.vk.vm_exits()
    assert inferred[cols].equals(recorded[cols])
    assert unknown.vk.transitions().equals(ds.vk.transitions())


def test_recorded_modes_win_over_the_technique(vm_trace):
    vm, ds = vm_trace
    host = "S" if vm.technique.hardware else "M"
    liar = ds.assign_attrs(technique="paravirt" if vm.technique.hardware else "hardware")
    assert _host_level(liar) == host
    assert liar.vk.vm_exits().host_mode.unique().tolist() == [host]
    unknown = liar.drop_vars(["hv_from_mode", "hv_to_mode", "hv_level"])
    assert _host_level(unknown) == ("M" if host == "S" else "S")  # only the attribute now
    assert len(unknown.vk.vm_exits()) == len(exit_rows(ds))


def test_re_pricing_follows_each_rows_level(vm_trace):
    vm, ds = vm_trace
    model = CostModel(vm_exit=937, trap_exit=111)
    cost = ds.vk.cost(model)
    n = int((ds.hv_event.values == EVENT["vm_exit"]).sum())
    price = 937 if vm.technique.hardware else 111
    assert cost.loc["vm_exit"].tolist() == [n, n * price]
    liar = ds.assign_attrs(technique="native")  # the rows' level says which exits these are
    assert liar.vk.cost(model).loc["vm_exit"].tolist() == [n, n * price]


# --- record_hv, complete_hv, the switch event ---------------------------------------------
def test_record_and_complete_hv(kernel):
    m = Machine(ram_mb=1, trace="hv")
    m.load(kernel)
    m.record_hv(EVENT["vm_exit"], 8, from_mode=U, level=M)
    m.record_hv(EVENT["injection"], 8, from_mode=U, level=M)
    m.complete_hv(S)
    m.complete_hv(U)  # those rows have their to_mode already
    m.record_hv(EVENT["translation"])
    m.set_domain(2)  # drains: this row's to_mode stays unknown
    m.complete_hv(M)
    m.record_hv(EVENT["switch"], 0, 2, cycles=CostModel().of("switch"))
    hv = m.events("hv")
    assert hv["from_mode"].tolist() == [U, U, NO_MODE, NO_MODE]
    assert hv["to_mode"].tolist() == [S, S, NO_MODE, NO_MODE]
    assert hv["level"].tolist() == [M, M, NO_MODE, NO_MODE]
    assert hv["domain"].tolist() == [0, 0, 0, 2]
    assert hv["cycles"].tolist()[-1] == 1000
    ds = validate(m.trace_dataset())
    assert ds.vk.to_dataframe("hv").event.tolist()[-1] == "switch"


def test_a_world_switch_costs_world_switch():
    assert HV_EVENT[9] == "switch" and EVENT["switch"] == 9
    assert CostModel().of("switch") == CostModel().world_switch == 1000
    assert CostModel(world_switch=300).of("switch", hardware=True) == 300


def test_a_switch_is_re_priced(kernel):
    m = machine(kernel)
    run_segments(m, [(1, 10), (2, 10), (1, 10)])
    cost = m.trace_dataset().vk.cost(CostModel(world_switch=7))
    assert cost.loc["switch"].tolist() == [3, 21]


# --- schema 2 files -----------------------------------------------------------------------
# what schema 2 said that 3 changed (from git: vkernel/trace/schema.py at 74e5822)
V2_ATTRS = {
    "hv_event": {"flag_values": np.arange(9, dtype=np.uint8),
                 "flag_meanings": "vm_exit emulation callout translation hypercall "
                                  "injection shadow_update mmio sbi_call"},
    "hv_cause": {"description": "why: the trap (mcause encoding) that made the guest exit "
                                "or that was injected, the hypercall number (a7), or the "
                                "SBI extension id"},
    "hv_detail": {"description": "event-specific: the CSR an emulation touched, the guest "
                                 "physical address of an MMIO access or a shadow update, the "
                                 "guest instructions a translation covered, a hypercall's "
                                 "first argument"},
}


def as_v2(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` as the schema 2 writer made it: no domains, no hv modes, schema 2's
    attributes."""
    v2 = ds.drop_vars([n for n in (*NEW_IN_3, *NEW_IN_5) if n in ds.variables]) \
        .assign_attrs(trace_schema=2)
    for name, attrs in V2_ATTRS.items():
        if name in v2:
            v2[name] = v2[name].copy()
            v2[name].attrs.update(attrs)
    return v2


def write_v2(ds: xr.Dataset, path) -> None:
    """As vkernel.trace.files.save wrote it (save itself validates against schema 3)."""
    v2 = as_v2(ds)
    if path.suffix == ".nc":
        v2.to_netcdf(path, engine="h5netcdf", format="NETCDF4", encoding=_netcdf_encoding(v2))
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=UserWarning)  # consolidated metadata
            v2.to_zarr(path, mode="w", zarr_format=3, consolidated=False,
                       encoding=zarr_encoding(v2))


@pytest.fixture(scope="module")
def short_vm_trace():
    vm = VM("hello", technique="trap-emulate", trace="all")
    vm.run(max_steps=20_000)
    ds = vm.trace_dataset()
    assert ds.sizes["hv"] > 10
    return ds


def expected_upgrade(ds: xr.Dataset, domain: int) -> xr.Dataset:
    """What reading ds's schema 2 file gives: ds, its domains ``domain``, its hv modes
    unknown, the recording saying so."""
    out = ds.copy()
    for f in FAMILIES:
        if f in out.dims:
            out[f"{f}_domain"] = out[f"{f}_domain"].copy(data=np.full(out.sizes[f], domain,
                                                                       np.uint16))
    if "hv" in out.dims:
        for c in ("hv_from_mode", "hv_to_mode", "hv_level"):
            out[c] = out[c].copy(data=np.full(out.sizes["hv"], NO_MODE, np.uint8))
        for c in NEW_IN_5:  # (schema 5's entries of memory events: not recorded then)
            out[c] = out[c].copy(data=np.zeros(out.sizes["hv"], np.uint64))
    recording = json.loads(out.attrs["recording"]) | {"schema_upgraded_from": 2}
    return out.assign_attrs(recording=json.dumps(recording, sort_keys=True))


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
@pytest.mark.parametrize("lazy", [False, True])
def test_a_v2_file_of_a_vm_reads_as_domain_1(short_vm_trace, tmp_path, suffix, lazy):
    ds = short_vm_trace
    path = tmp_path / f"v2{suffix}"
    write_v2(ds, path)
    old = xr.open_dataset(path, engine="h5netcdf") if suffix == ".nc" else \
        xr.open_dataset(path, engine="zarr", consolidated=False)
    assert old.attrs["trace_schema"] == 2 and "step_domain" not in old
    old.close()
    got = open_trace(path, lazy=lazy)
    assert got.attrs["trace_schema"] == SCHEMA_VERSION == 5
    assert json.loads(got.attrs["recording"])["schema_upgraded_from"] == 2
    validate(got)
    want = expected_upgrade(ds, 1)
    assert got.load().identical(want)
    assert got.vk.domains == [1]
    assert (got.hv_level.values == NO_MODE).all()
    # the modes are inferred as schema 2's reader did, and agree with what v3 recorded
    cols = ["from_mode", "host_mode", "to_mode"]
    assert got.vk.vm_exits()[cols].equals(ds.vk.vm_exits()[cols])
    assert got.vk.cost().equals(ds.vk.cost())
    # saved again, it is a current file
    again = open_trace(got.vk.save(tmp_path / f"again{suffix}"))
    assert again.identical(want)


def test_a_v2_file_of_a_bare_machine_reads_as_domain_0(kernel, tmp_path):
    m = machine(kernel)
    m.run(max_steps=100)
    ds = m.trace_dataset()
    write_v2(ds, tmp_path / "v2.nc")
    got = open_trace(tmp_path / "v2.nc")
    assert got.identical(expected_upgrade(ds, 0))
    assert got.vk.domains == [0]


def test_upgrade_leaves_a_v3_trace_alone_and_validate_wants_v3(short_vm_trace):
    ds = short_vm_trace
    assert upgrade(ds) is ds
    with pytest.raises(TraceError, match="'trace_schema' is 2: this vkernel checks version 5"):
        validate(ds.assign_attrs(trace_schema=2))
    v2 = as_v2(ds)
    assert upgrade(v2).identical(expected_upgrade(ds, 1))
    # upgrade made a new Dataset
    assert v2.attrs["trace_schema"] == 2 and "step_domain" not in v2
    assert v2.hv_event.attrs["flag_meanings"] == V2_ATTRS["hv_event"]["flag_meanings"]


def test_a_v4_file_reads_with_no_memory_entries_and_cannot_redraw_tables(short_vm_trace,
                                                                         tmp_path):
    ds = short_vm_trace
    v4 = ds.drop_vars(list(NEW_IN_5)).assign_attrs(trace_schema=4)
    v4.to_netcdf(tmp_path / "v4.nc", engine="h5netcdf", format="NETCDF4",
                 encoding=_netcdf_encoding(v4))
    got = open_trace(tmp_path / "v4.nc")
    validate(got)
    assert json.loads(got.attrs["recording"])["schema_upgraded_from"] == 4
    for name in NEW_IN_5:
        assert not got[name].values.any() and got.sizes["hv"] == ds.sizes["hv"]
    assert got.drop_vars(list(NEW_IN_5)).hv_event.equals(ds.hv_event)
    assert ds.vk.shadow_entries().shape[0] > 0  # the v5 trace can ...
    with pytest.raises(TraceError, match="before schema 5"):
        got.vk.shadow_entries()  # ... its v4 copy cannot
