"""Traces: the schema and its validator, exactness against the machine and the guest's own
counts, replay of step_pc, recording modes, files, the ds.vk accessor and the CLI.

Every Dataset the tests make is validated against the schema (conftest.py)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr
from guests import build as build_guest
from hypothesis import given, settings
from hypothesis import strategies as st

import vkernel
from vkernel import Machine, TraceError, assemble, open_trace
from vkernel.isa.decode import decode
from vkernel.trace.schema import (
    CAUSE,
    FAMILIES,
    MODE,
    NO_ADDRESS,
    RECORDABLE,
    SCHEMA_VERSION,
    validate,
)

REPO = Path(__file__).resolve().parent.parent
MASK64 = (1 << 64) - 1
MEPC, SEPC = 0x341, 0x141


def tiny_kernel(**trace_kw) -> tuple[Machine, vkernel.Exit]:
    """The tiny kernel of tests/guests: system calls, timer interrupts, demand paging."""
    m = Machine(ram_mb=4, **trace_kw)
    m.load(build_guest("tiny_kernel"))
    ex = m.run(max_steps=100_000)
    assert (ex.reason, ex.exit_code) == ("halt", 0), ex
    return m, ex


def guest_counter(m: Machine, name: str) -> int:
    return m.mem.read_u64(m.program.symbols[name])


@pytest.fixture(scope="module")
def kernel_trace() -> tuple[Machine, xr.Dataset]:
    m, _ = tiny_kernel(trace="all")
    return m, m.trace_dataset()


def without_created_at(ds: xr.Dataset) -> xr.Dataset:
    return ds.drop_attrs(deep=False).assign_attrs(
        {k: v for k, v in ds.attrs.items() if k != "created_at"})


# --- schema ------------------------------------------------------------------------------
def test_dataset_follows_the_schema(kernel_trace):
    _, ds = kernel_trace
    assert set(ds.dims) == set(RECORDABLE)
    for family in RECORDABLE:
        assert ds[family].dtype == np.int64 and ds[family].attrs["description"]
        for v in FAMILIES[family].variables:
            assert ds[v.name].dtype == v.dtype and ds[v.name].attrs["units"] == v.units
    assert ds.attrs["trace_schema"] == SCHEMA_VERSION
    assert ds.attrs["vkernel_version"] == vkernel.__version__
    assert ds.attrs["technique"] == "native"
    assert ds.vk.machine == {"disk": None, "hardware_ad": True, "ram_mb": 4,
                             "time_divider": 10}
    assert ds.vk.program["name"] == "tiny_kernel"
    assert ds.vk.program["sha256"] == build_guest("tiny_kernel").sha256()
    # the cause flags are CF's: one word per value, in the variable's own dtype
    fv = ds.trap_cause.attrs["flag_values"]
    assert fv.dtype == np.uint64 and (1 << 63) + 5 in fv.tolist()
    assert ds.trap_cause.attrs["flag_meanings"].split()[fv.tolist().index((1 << 63) + 5)] \
        == "supervisor_timer_interrupt"


def _broken(ds: xr.Dataset, how: str) -> xr.Dataset:
    ds = ds.copy(deep=True)
    if how == "missing attr":
        del ds.attrs["program"]
    elif how == "wrong dtype":
        ds["trap_cause"] = ds.trap_cause.astype(np.int64)
    elif how == "unknown flag value":
        values = ds.step_mode.values.copy()
        values[3] = 2  # the reserved privilege mode
        ds["step_mode"] = ds.step_mode.copy(data=values)
    elif how == "no units":
        del ds.walk_pte.attrs["units"]
    elif how == "unknown variable":
        ds["step_text"] = ("step", np.zeros(ds.sizes["step"], np.uint8))
    elif how == "missing variable":
        ds = ds.drop_vars("io_value")
    elif how == "bad json":
        ds.attrs["machine"] = "{ram_mb: 4"
    elif how == "steps backwards":
        values = ds.trap_step.values.copy()
        values[[0, 1]] = values[[1, 0]] if values[0] != values[1] else (values[0] + 1, 0)
        ds["trap_step"] = ds.trap_step.copy(data=values)
    return ds


@pytest.mark.parametrize(("how", "message"), [
    ("missing attr", "attribute 'program' is missing"),
    ("wrong dtype", "'trap_cause' has dtype int64, expected uint64"),
    ("unknown flag value", "'step_mode' holds values outside its flag_values: 0x2"),
    ("no units", "'walk_pte' has no 'units' attribute"),
    ("unknown variable", "'step_text' is not part of the schema"),
    ("missing variable", "family 'io' lacks io_value"),
    ("bad json", "'machine' must be a JSON object"),
    ("steps backwards", "'trap_step' goes backwards"),
])
def test_validate_rejects(kernel_trace, how, message):
    _, ds = kernel_trace
    with pytest.raises(TraceError, match="not a valid vkernel trace") as e:
        validate(_broken(ds, how))
    assert message in str(e.value)


def test_validate_rejects_a_newer_schema(kernel_trace):
    _, ds = kernel_trace
    newer = ds.assign_attrs(trace_schema=SCHEMA_VERSION + 1)
    with pytest.raises(TraceError, match="attribute"):
        validate(newer.drop_attrs(deep=False))
    from vkernel.trace.schema import check_version
    with pytest.raises(TraceError, match=f"schema version {SCHEMA_VERSION + 1}, newer"):
        check_version(newer)


# --- exactness -----------------------------------------------------------------------------
def test_counts_equal_the_machine_and_the_guest(kernel_trace):
    m, ds = kernel_trace
    c = m.counters
    # retired instructions
    assert ds.sizes["step"] == m.hart.instret == c["instret"] > 2000
    assert ds.step.values[0] == 0 and ds.step.values[-1] == m.hart.instret - 1
    # traps by cause: the kernel counted its own
    by_cause = ds.vk.traps()["by_cause"].to_series().to_dict()
    assert by_cause == {8: guest_counter(m, "n_syscall") + 1,  # + the exit call
                        15: guest_counter(m, "n_fault"),
                        (1 << 63) | 5: guest_counter(m, "n_timer")}
    assert sum(by_cause.values()) == c["traps"] == ds.sizes["trap"]
    assert guest_counter(m, "n_fault") == 4 and guest_counter(m, "n_timer") >= 2
    # page walks: every PTE the MMU read, and one walk per TLB miss
    walks = ds.vk.walks()
    assert walks["references"] == c["pte_reads"] == ds.sizes["walk"]
    assert walks["translations"] == c["tlb_misses"]
    assert walks["tlb_lookups"] == c["tlb_lookups"]
    # each demand-paged page: the store's 3-level walk ends invalid (a page fault), its
    # retry ends in a leaf, and the load after it walks again (its own TLB)
    for page in range(4):
        sel = ds.walk_vaddr.values == 0x401000 + page * 4096
        assert ds.walk_result.values[sel].tolist() == [0, 0, 2, 0, 0, 1, 0, 0, 1]
        assert ds.walk_level.values[sel].tolist() == [2, 1, 0] * 3
        assert ds.walk_access.values[sel].tolist() == [2] * 6 + [1] * 3
    # the recording's own counters
    rec = ds.vk.recording
    assert rec["mode"] == "all" and rec["counters"]["instret"] == [0, c["instret"]]
    # the one HTIF exchange that ended the run
    io = ds.vk.io()
    assert io["count"].sel(device="htif", direction="write").item() == 1


def test_sample_rows_hold_the_totals_before_their_step(kernel_trace):
    m, ds = kernel_trace
    every = ds.vk.recording["sample_every"]
    s = ds.sample_step.values
    assert s.tolist() == list(range(0, m.hart.instret, every))
    for family, total in (("trap", "traps"), ("walk", "pte_reads")):
        steps = ds[f"{family}_step"].values
        want = [np.count_nonzero(steps < k) for k in s]
        assert ds[f"sample_{total}"].values.tolist() == want, family
    # a walk ends at every TLB miss here (no non-canonical addresses)
    ends = ds.walk_step.values[ds.walk_result.values != 0]
    assert ds.sample_tlb_misses.values.tolist() == [np.count_nonzero(ends < k) for k in s]
    iv = ds.vk.intervals()
    assert iv["steps"].sum() == m.hart.instret and iv["traps"].sum() == m.counters["traps"]
    assert iv["tlb_lookups"].sum() == m.counters["tlb_lookups"]
    hit = iv["tlb_hit_rate"].values
    assert np.nanmin(hit) >= 0 and np.nanmax(hit) <= 1


def test_sampling_starts_where_recording_starts():
    m = Machine(ram_mb=4)
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=333)
    m.trace("sample", sample_every=200)
    m.run(max_steps=100_000)
    ds = m.trace_dataset()
    start = ds.vk.recording["first_step"]
    assert ds.sample_step.values.tolist() == [start, 400, 600, 800, 1000, 1200, 1400,
                                              1600, 1800, 2000, 2200, 2400]
    with pytest.raises(TraceError, match="sample_every must be a positive"):
        m.trace("sample", sample_every=0)


def _successor(name: str, f: dict[str, int], pc: int, size: int, x: list[int],
               csr: dict[int, int]) -> int:
    """Where an instruction that retired at ``pc`` sends the hart, from the registers
    reconstructed out of the trace."""
    def sx(v: int) -> int:
        return v - (1 << 64) if v >> 63 else v
    taken = None
    if name in ("beq", "bne", "blt", "bge", "bltu", "bgeu"):
        a, b = x[f["rs1"]], x[f["rs2"]]
        taken = {"beq": a == b, "bne": a != b, "blt": sx(a) < sx(b), "bge": sx(a) >= sx(b),
                 "bltu": a < b, "bgeu": a >= b}[name]
        return (pc + f["imm_b"]) & MASK64 if taken else pc + size
    if name in ("c.beqz", "c.bnez"):
        taken = (x[f["c_rs1p"]] == 0) == (name == "c.beqz")
        return (pc + f["c_imm_b"]) & MASK64 if taken else pc + size
    if name == "jal":
        return (pc + f["imm_j"]) & MASK64
    if name == "c.j":
        return (pc + f["c_imm_j"]) & MASK64
    if name == "jalr":
        return (x[f["rs1"]] + f["imm_i"]) & MASK64 & ~1
    if name in ("c.jr", "c.jalr"):
        return x[f["c_rd_nz"]] & ~1
    if name == "mret":
        return csr[MEPC]
    if name == "sret":
        return csr[SEPC]
    return pc + size


def check_replay(ds: xr.Dataset) -> int:
    """Each step's pc is the previous step's next pc (worked out from the instruction and
    the registers the write family reconstructs), or the handler of a trap taken in
    between, whose epc is that next pc. Returns the number of control transfers checked."""
    pcs, raws, steps = ds.step_pc.values, ds.step_insn.values, ds.step.values
    w_step, w_kind = ds.write_step.values, ds.write_kind.values
    w_target, w_value = ds.write_target.values, ds.write_value.values
    t_step, t_epc, t_handler = ds.trap_step.values, ds.trap_epc.values, ds.trap_handler.values
    t_to = ds.trap_to_mode.values
    x = [0] * 32
    csr = {MEPC: 0, SEPC: 0}
    wi = ti = 0
    transfers = 0
    for k in range(len(steps) - 1):
        s = int(steps[k])
        while wi < len(w_step) and w_step[wi] < s:  # the state before step s
            if w_kind[wi] == 0:
                x[int(w_target[wi])] = int(w_value[wi])
            elif w_kind[wi] == 2 and int(w_target[wi]) in csr:
                csr[int(w_target[wi])] = int(w_value[wi])
            wi += 1
        while ti < len(t_step) and t_step[ti] <= s:
            csr[MEPC if t_to[ti] == 3 else SEPC] = int(t_epc[ti])
            ti += 1
        raw, pc = int(raws[k]), int(pcs[k])
        size = 4 if raw & 3 == 3 else 2
        spec = decode(raw)
        nxt = _successor(spec.name, spec.decode(raw), pc, size, x, csr)
        transfers += nxt != pc + size
        here = np.flatnonzero(t_step == s + 1)
        if here.size:  # traps came between step s and step s+1
            assert int(t_epc[here[0]]) == nxt, f"step {s}: trap epc is not the next pc"
            nxt = int(t_handler[here[-1]])
        assert int(pcs[k + 1]) == nxt, \
            f"step {s + 1} at {int(pcs[k + 1]):#x}, expected {nxt:#x} after {spec.name}"
    return transfers


def test_step_pc_replays(kernel_trace):
    _, ds = kernel_trace
    assert check_replay(ds) > 100  # branches, jumps, sret and mret all checked


def test_step_pc_replay_fails_on_a_tampered_trace(kernel_trace):
    _, ds = kernel_trace
    pcs = ds.step_pc.values.copy()
    pcs[1000] += 4
    with pytest.raises(AssertionError, match="step 100[01]"):
        check_replay(ds.assign(step_pc=ds.step_pc.copy(data=pcs)))


def test_two_runs_give_identical_datasets_but_created_at():
    _, a = tiny_kernel_ds()
    _, b = tiny_kernel_ds()
    assert without_created_at(a).identical(without_created_at(b))


def test_the_trace_does_not_depend_on_how_the_run_is_cut(kernel_trace):
    """Stopping every 37 steps (as a stepping widget or a chunked CLI run does) changes
    nothing: not the rows, not the counters (the TLB's lookups included)."""
    m_full, full = kernel_trace
    m = Machine(ram_mb=4, trace="all", buffer_rows=150)
    m.load(build_guest("tiny_kernel"))
    while m.run(max_steps=37).reason == "budget":
        pass
    assert m.counters == m_full.counters
    assert m.trace_dataset().drop_attrs(deep=False).identical(full.drop_attrs(deep=False))


def tiny_kernel_ds(**trace_kw) -> tuple[Machine, xr.Dataset]:
    m, _ = tiny_kernel(**({"trace": "all"} | trace_kw))
    return m, m.trace_dataset()


# --- recording modes -----------------------------------------------------------------------
@pytest.mark.parametrize("last", [1, 700, 2000])
def test_last_mode_is_the_tail_of_the_whole_trace(kernel_trace, last):
    m_all, full = kernel_trace
    m = Machine(ram_mb=4, trace={"families": "all", "mode": "last", "last": last},
                buffer_rows=256)
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=100_000)
    ds = m.trace_dataset()
    end = m.hart.instret
    assert ds.sizes["step"] == last
    assert ds.step.values[0] == end - last
    for family in RECORDABLE:
        want = full.isel({family: full[f"{family}_step"].values >= end - last}) \
            if family != "step" else full.sel(step=slice(end - last, None))
        names = [v.name for v in FAMILIES[family].variables]
        assert ds[names].drop_attrs(deep=False).identical(
            want[names].drop_attrs(deep=False)), family
    assert ds.vk.recording["last"] == last


def test_stream_mode_writes_the_same_trace(kernel_trace, tmp_path):
    _, full = kernel_trace
    path = tmp_path / "run.zarr"
    m = Machine(ram_mb=4, trace={"families": "all", "mode": "stream", "path": path,
                                 "chunk_rows": 500}, buffer_rows=128)
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=100_000)
    # memory stays flat: what is held back is less than a chunk of each family
    assert all(r.kept < 500 for r in m._recorder.rows.values())
    ds = m.trace_dataset()
    assert ds.vk.recording["mode"] == "stream"
    assert without_created_at(ds.drop_attrs(deep=False)).identical(
        full.drop_attrs(deep=False))
    again = open_trace(path)
    assert without_created_at(again).identical(without_created_at(ds))


def test_stream_refuses_to_overwrite_what_is_not_a_trace(tmp_path):
    precious = tmp_path / "notes.zarr"
    precious.mkdir()
    (precious / "notes.txt").write_text("keep me")
    with pytest.raises(TraceError, match="refusing to overwrite"):
        Machine(ram_mb=1, trace={"families": "step", "mode": "stream", "path": precious})
    assert (precious / "notes.txt").read_text() == "keep me"
    m = Machine(ram_mb=1, trace="trap")  # a failed trace() leaves the recording as it was
    m.load(assemble("ebreak"))
    with pytest.raises(TraceError, match="refusing to overwrite"):
        m.trace("step", mode="stream", path=precious)
    m.run(max_steps=1)
    assert m.tracing == ("trap",) and m.trace_dataset().sizes["trap"] == 1
    with pytest.raises(TraceError, match="needs path="):
        Machine(ram_mb=1, trace={"families": "step", "mode": "stream"})
    with pytest.raises(TraceError, match="only for mode='stream'"):
        Machine(ram_mb=1, trace={"families": "step", "path": tmp_path / "x.zarr"})
    with pytest.raises(TraceError, match="unknown recording mode"):
        Machine(ram_mb=1, trace={"families": "step", "mode": "ring"})
    with pytest.raises(TraceError, match="last must be a positive"):
        Machine(ram_mb=1, trace={"families": "step", "mode": "last", "last": 0})
    with pytest.raises(TraceError, match="chunk_rows must be a positive"):
        Machine(ram_mb=1).trace("step", mode="stream", path=tmp_path / "t.zarr",
                                chunk_rows=0)


def test_dataset_at_any_point_is_a_prefix_of_the_next():
    m = Machine(ram_mb=4, trace="all", buffer_rows=200)
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=700)
    first = m.trace_dataset()
    m.run(max_steps=100_000)
    whole = m.trace_dataset()
    for family in RECORDABLE:
        n = first.sizes[family]
        assert first[family].size == n
        names = [v.name for v in FAMILIES[family].variables]
        assert whole.isel({family: slice(0, n)})[names].drop_attrs(deep=False).identical(
            first[names].drop_attrs(deep=False)), family


@pytest.mark.parametrize("mode", ["all", "stream"])
def test_restore_cuts_the_trace_back(kernel_trace, tmp_path, mode):
    _, full = kernel_trace
    stream = {"path": tmp_path / "t.zarr", "chunk_rows": 100} if mode == "stream" else {}
    m = Machine(ram_mb=4, trace={"families": "all", "mode": mode, **stream},
                buffer_rows=200)
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=900)
    snap = m.snapshot()
    m.run(max_steps=600)  # in stream mode, these rows reach the store
    m.restore(snap)
    m.run(max_steps=100_000)
    assert m.trace_dataset().drop_attrs(deep=False).identical(full.drop_attrs(deep=False))


def test_stop_keeps_the_trace_and_reset_starts_a_new_one():
    m = Machine(ram_mb=4, trace=("step", "trap"))
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=1000)
    m.trace()  # stop: what was recorded stays
    m.run(max_steps=1000)
    ds = m.trace_dataset()
    assert ds.sizes["step"] + ds.sizes["trap"] == 1000
    assert ds.vk.recording["counters"]["instret"][1] == ds.sizes["step"]
    m.trace("step")
    m.run(max_steps=10)
    m.reset()
    m.run(max_steps=5)
    ds = m.trace_dataset()
    assert ds.step.values.tolist() == [0, 1, 2, 3, 4] and "trap" not in ds.dims


def test_nothing_recorded_is_a_clear_error():
    with pytest.raises(TraceError, match=r"call machine.trace\(...\)"):
        Machine(ram_mb=1).trace_dataset()
    with pytest.raises(TraceError, match="unknown event families"):
        Machine(ram_mb=1, trace=("steps",))


# --- files ---------------------------------------------------------------------------------
@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_is_exact(kernel_trace, tmp_path, suffix):
    _, ds = kernel_trace
    path = ds.vk.save(tmp_path / f"trace{suffix}")
    back = open_trace(path)
    assert back.identical(ds)
    for name, var in ds.variables.items():
        assert back[name].dtype == var.dtype
        for key, value in var.attrs.items():
            assert type(back[name].attrs[key]) is type(value), (name, key)
            if isinstance(value, np.ndarray):
                assert back[name].attrs[key].dtype == value.dtype
    # saving again over a trace replaces it; a selection of steps keeps its numbers
    ds.isel(step=[0, 1, 2, 5, 6]).vk.save(path)
    assert open_trace(path).step.values.tolist() == [0, 1, 2, 5, 6]


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_round_trip_of_empty_families_and_lazy_opening(tmp_path, suffix):
    m = Machine(ram_mb=1, trace="all")
    m.load(assemble("li a0, -1\nslli a0, a0, 63\nnop"))
    m.run(max_steps=3)
    ds = m.trace_dataset()
    assert ds.sizes["io"] == ds.sizes["walk"] == ds.sizes["trap"] == 0
    path = ds.vk.save(tmp_path / f"t{suffix}")
    lazy = open_trace(path, lazy=True)
    assert lazy.identical(ds)
    assert int(lazy.write_value[1]) == 1 << 63


def test_bad_files_say_what_is_wrong(kernel_trace, tmp_path):
    _, ds = kernel_trace
    cases = {}
    (tmp_path / "text.nc").write_text("hello")
    cases["text.nc"] = "not a netCDF-4 file"
    (tmp_path / "classic.nc").write_bytes(b"CDF\x01" + bytes(60))
    cases["classic.nc"] = "a classic netCDF file"
    xr.Dataset({"t": ("x", np.arange(3.0))}).to_netcdf(tmp_path / "other.nc",
                                                       engine="h5netcdf")
    cases["other.nc"] = "is not a vkernel trace"
    good = ds.vk.save(tmp_path / "good.nc")
    data = good.read_bytes()
    (tmp_path / "cut.nc").write_bytes(data[:len(data) // 2])
    cases["cut.nc"] = "cannot be read as netcdf"
    (tmp_path / "empty.zarr").mkdir()
    cases["empty.zarr"] = "not a Zarr v3 store"
    z = ds.vk.save(tmp_path / "damaged.zarr")
    chunk = next(p for p in (z / "step_pc").rglob("*") if p.is_file() and p.name != "zarr.json")
    chunk.write_bytes(b"\x00garbage")
    cases["damaged.zarr"] = "damaged trace"
    cases["missing.nc"] = "no such file"
    cases["trace.txt"] = "named .nc"
    for name, message in cases.items():
        with pytest.raises(TraceError, match=message) as e:
            open_trace(tmp_path / name)
        assert str(tmp_path / name) in str(e.value) or name == "trace.txt"


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_a_newer_schema_is_refused(kernel_trace, tmp_path, suffix):
    _, ds = kernel_trace
    path = ds.isel(step=slice(0, 5)).assign_attrs(trace_schema=SCHEMA_VERSION + 1)
    out = tmp_path / f"new{suffix}"
    if suffix == ".nc":
        path.to_netcdf(out, engine="h5netcdf")
    else:
        path.to_zarr(out, zarr_format=3, consolidated=False)
    with pytest.raises(TraceError, match=f"schema version {SCHEMA_VERSION + 1}, newer than"):
        open_trace(out)


def test_save_refuses_to_overwrite_what_is_not_a_trace(kernel_trace, tmp_path):
    _, ds = kernel_trace
    precious = tmp_path / "data.nc"
    precious.write_bytes(b"\x89HDF\r\n\x1a\n precious")
    with pytest.raises(TraceError, match="refusing to overwrite"):
        ds.vk.save(precious)
    assert precious.read_bytes() == b"\x89HDF\r\n\x1a\n precious"
    with pytest.raises(TraceError, match="named .nc"):
        ds.vk.save(tmp_path / "trace.csv")


# --- the accessor --------------------------------------------------------------------------
def test_modes_residency_and_transitions(kernel_trace):
    _, ds = kernel_trace
    before = ds.copy(deep=True)
    modes = ds.vk.modes()
    assert modes["steps"].sum() == ds.sizes["step"]
    assert np.isclose(modes["fraction"].sum(), 1.0)
    mode = ds.step_mode.values
    for name in ("U", "S", "M"):
        value = {v: k for k, v in MODE.items()}[name]
        assert modes["steps"].sel(mode=name) == np.count_nonzero(mode == value)
    t = modes["transitions"]
    traps = ds.vk.to_dataframe("trap")
    srets = sum(1 for k in ds.step_insn.values if int(k) == 0x10200073)
    # every trap from U lands in S (all delegated); every sret returns to U
    assert t.sel(from_mode="U", to_mode="S") == (traps.from_mode == "U").sum()
    assert t.sel(from_mode="S", to_mode="U") == srets
    assert t.sel(from_mode="M", to_mode="S") == 1  # the one mret into the kernel
    assert (np.diag(t.values) == 0).all()
    assert ds.identical(before)  # nothing was changed


def test_traps_by_cause_and_level(kernel_trace):
    _, ds = kernel_trace
    traps = ds.vk.traps()
    assert traps["level"].values.tolist() == ["S"]
    assert traps["count"].sum() == ds.sizes["trap"]
    name = traps["cause_name"].sel(cause=(1 << 63) | 5).item()
    assert name == "supervisor timer interrupt"


def test_disasm_matches_the_disassembler(kernel_trace):
    m, ds = kernel_trace
    text = m.program.sections[".text"]
    for step in (0, 5, 100, 1500, ds.sizes["step"] - 1):
        pc = int(ds.step_pc.sel(step=step))
        if ds.step_mode.sel(step=step) == 0:  # user code runs at VA 0x40_0000
            pc_phys = m.program.symbols["user"] + (pc - 0x400000)
        else:
            pc_phys = pc
        want = vkernel.disassemble(text.data[pc_phys - text.addr:][:4], pc)[0]
        assert ds.vk.disasm(step) == str(want)
    assert ds.vk.disasm(slice(0, 1)) == [ds.vk.disasm(0), ds.vk.disasm(1)]  # labels: inclusive
    with pytest.raises(TraceError, match=r"step 99999 is not in this trace \(it holds steps 0"):
        ds.vk.disasm(99_999)


@settings(max_examples=60, deadline=None)
@given(st.integers(-50, 3000), st.integers(0, 200), st.integers(0, 200))
def test_window_holds_exactly_the_rows_around_a_step(kernel_trace, step, before, after):
    _, ds = kernel_trace
    w = ds.vk.window(step, before, after)
    lo, hi = step - before, step + after
    assert w.step.values.tolist() == [s for s in ds.step.values.tolist() if lo <= s <= hi]
    for family in ("write", "trap", "walk", "io"):
        col = ds[f"{family}_step"].values
        want = ds.isel({family: (col >= lo) & (col <= hi)})
        assert w[family].values.tolist() == want[family].values.tolist()
    validate(w)


def test_to_dataframe(kernel_trace):
    _, ds = kernel_trace
    df = ds.vk.to_dataframe("trap")
    assert list(df.columns) == ["step", "cause", "tval", "from_mode", "to_mode", "epc",
                                "handler", "domain"]
    assert df.index.name == "trap" and len(df) == ds.sizes["trap"]
    assert set(df.cause) == {"environment call from U-mode or VU-mode",
                             "store/AMO page fault", "supervisor timer interrupt"}
    raw = ds.vk.to_dataframe("step", names=False)
    assert raw["mode"].dtype == np.uint8 and raw.index[0] == 0
    assert (raw["pc"].values == ds.step_pc.values).all()
    writes = ds.vk.to_dataframe("write")
    regs = writes[writes.kind == "x_register"]
    assert (regs.paddr == NO_ADDRESS).all()


def test_analyses_need_their_family():
    m = Machine(ram_mb=1, trace=("trap",))
    m.load(assemble("ebreak"))
    m.run(max_steps=1)
    ds = m.trace_dataset()
    with pytest.raises(TraceError, match="needs the 'walk' family"):
        ds.vk.walks()
    with pytest.raises(TraceError, match="needs the 'step' family"):
        ds.vk.modes()
    assert ds.vk.traps()["count"].sum() == 1


def test_every_cause_name_is_a_flag():
    from vkernel.isa.csr import cause_name
    for value, word in CAUSE.items():
        assert word.replace("_", "") == "".join(c for c in cause_name(value).lower()
                                                if c.isalnum())


def test_the_schema_page_names_every_variable():
    page = (REPO / "docs" / "trace-schema.md").read_text()
    for family in FAMILIES.values():
        assert f"### `{family.name}`" in page
        for v in family.variables:
            assert f"| `{v.name}` | {v.dtype} | {v.units} |" in page, v.name
            for meaning in (v.flags or {}).values():
                assert f"`{meaning}`" in page or v.name == "trap_cause", meaning
    assert f"(version {SCHEMA_VERSION})" in page


# --- progress bar ------------------------------------------------------------------------
def test_progress_bar_counts_every_step(monkeypatch):
    import io

    from vkernel import machine
    m = Machine(ram_mb=1)
    m.load(assemble("li a0, 0\n1: addi a0, a0, 1\nj 1b"))
    out = io.StringIO()
    bars = []
    real = machine.progress_bar

    def bar(total, name=None, **kw):  # noqa: ANN001, ANN003, ANN202
        bars.append(real(total, name, **kw, file=out))
        return bars[-1]
    monkeypatch.setattr(machine, "progress_bar", bar)
    monkeypatch.setattr(machine, "BAR_DELAY", 0)  # a bar at once, however short the run
    m.run(max_steps=50_000_000, progress=True)
    assert bars[0].n == 50_000_000 and bars[0].total is None  # a budget is no length
    assert "budget 50.0M" in out.getvalue() and "program" in out.getvalue()
    m.run(max_steps=10)  # nobody watches (not a terminal, not a notebook): no bar
    assert len(bars) == 1
    monkeypatch.setenv("VKERNEL_PROGRESS", "1")
    m.run(max_steps=10)
    assert len(bars) == 2 and bars[1].n == 10
    monkeypatch.setenv("VKERNEL_PROGRESS", "0")
    assert not machine.watched()


# --- CLI -----------------------------------------------------------------------------------
def vkernel_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vkernel", *args], capture_output=True,
                          text=True, cwd=REPO, timeout=300)


@pytest.mark.parametrize("suffix", [".nc", ".zarr"])
def test_cli_run_writes_a_trace(tmp_path, suffix):
    src = tmp_path / "k.s"
    from guests import GUEST_DIR
    src.write_text((GUEST_DIR / "tiny_kernel.s").read_text())
    out = tmp_path / f"k{suffix}"
    r = vkernel_cli("run", str(src), "-I", str(GUEST_DIR), "--trace", str(out), "--families",
                    "step,trap")
    assert r.returncode == 0, r.stderr
    assert f"trace written to {out}" in r.stderr
    ds = open_trace(out)
    assert set(ds.dims) == {"step", "trap"}
    m, ex = tiny_kernel()
    assert ds.sizes["step"] == m.hart.instret
    assert json.loads(ds.attrs["program"])["name"] == "k"
    # budget exhausted: the trace still holds what ran
    r = vkernel_cli("run", str(src), "-I", str(GUEST_DIR), "--trace", str(out),
                    "--max-steps", "100")
    assert r.returncode == 124
    assert open_trace(out).sizes["step"] + open_trace(out).sizes["trap"] == 100


def test_cli_trace_errors(tmp_path):
    src = tmp_path / "a.s"
    src.write_text("nop\n")
    r = vkernel_cli("run", str(src), "--trace", str(tmp_path / "t.nc"), "--families", "nope")
    assert r.returncode == 1 and "unknown event families ['nope']" in r.stderr
    keep = tmp_path / "keep.nc"
    keep.write_text("not a trace")
    r = vkernel_cli("run", str(src), "--trace", str(keep), "--max-steps", "5")
    assert r.returncode == 1 and "refusing to overwrite" in r.stderr
    assert keep.read_text() == "not a trace"
    r = vkernel_cli("run", str(src), "--trace", str(tmp_path / "t.parquet"))
    assert r.returncode == 1 and "named .nc" in r.stderr
