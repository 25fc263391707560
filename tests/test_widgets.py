"""MachineView's state and messages, against the machine it drives; AddressTranslation's and
MemoryMap's against the trace and the host they draw (the browser side is in
test_browser.py)."""

from __future__ import annotations

import numpy as np
import pytest
import traitlets
from guests import build as build_guest
from guests import long_kernel
from hypothesis import given, settings
from hypothesis import strategies as st

from vkernel import Machine, TraceError, assemble
from vkernel.hv.pagetable import PTE_A, PTE_D, PTE_R, PTE_V, PTE_W, PTE_X, map_page
from vkernel.widgets import AddressTranslation, MachineView, MemoryMap, RingTimeline, link
from vkernel.widgets.address_translation import REF_COLUMNS


def state(m: Machine) -> tuple:
    snap = m.snapshot()
    return (m.steps, m.hart.pc, tuple(m.hart.x.tolist()), m.console,
            tuple(snap.arrays["_csr"].tolist()), snap.arrays["_ram"].tobytes())


@pytest.fixture
def kernel():
    m = Machine(ram_mb=4, trace="all")
    m.load(build_guest("tiny_kernel"))
    return m


def test_step_and_messages_update_the_view(kernel):
    view = MachineView(kernel, window=4)
    assert view.step == 0 and view.mode == "M" and view.changed == []
    assert view.disasm[0][2] and view.disasm[0][0] == view.pc
    view._on_msg(view, {"cmd": "step", "n": 3}, [])  # what a button click sends
    assert view.step == kernel.steps == 3
    assert view.pc == f"{kernel.hart.pc:#x}"
    regs = np.frombuffer(view.regs, "<u8")  # the registers cross as one binary buffer
    assert regs.tolist() == kernel.hart.x.tolist() and regs[3] == kernel.hart.x["gp"]
    from vkernel.isa.table import ABI_NAMES
    highlighted = 0
    for _ in range(30):  # every step highlights exactly the registers it changed
        before = kernel.hart.x.tolist()
        view.do("step")
        after = kernel.hart.x.tolist()
        assert view.changed == [ABI_NAMES[i] for i in range(32) if before[i] != after[i]]
        highlighted += bool(view.changed)
    assert highlighted > 10 and len(view.disasm) == 4


def test_back_returns_to_exactly_the_previous_state(kernel):
    view = MachineView(kernel, checkpoint_every=7)
    seen = []
    for _ in range(40):
        seen.append(state(kernel))
        view.do("step")
    for want in reversed(seen):
        view.do("back")
        assert state(kernel) == want
    # and the recorded trace was cut back with it
    assert kernel.trace_dataset().sizes["step"] == 0


def test_checkpoints_stay_within_their_memory_budget(kernel):
    view = MachineView(kernel, checkpoint_every=3)
    view.max_checkpoints = 4
    saved = []
    for _ in range(60):
        saved.append(state(kernel))
        view.do("step")
    assert len(view._checkpoints) <= 4 and view.checkpoint_every > 3
    assert min(view._checkpoints) == 0
    for want in reversed(saved[-25:]):  # stepping back is still exact
        view.do("back")
        assert state(kernel) == want


def test_run_to_trap_and_reset(kernel):
    view = MachineView(kernel)
    first = state(kernel)
    view.do("trap")
    assert kernel.counters["traps"] == 1 and view.mode == "S"  # the first ecall lands in S
    csrs = {name: changed for name, _, changed in view.csrs}
    assert csrs["scause"] and csrs["sepc"]
    view.do("reset")
    assert state(kernel) == first and view.step == 0


def test_user_code_is_disassembled_through_the_page_tables(kernel):
    view = MachineView(kernel, window=3)
    while kernel.hart.mode.name != "U":
        view.do("step")
    text = kernel.program.sections[".text"]
    user = kernel.program.symbols["user"]
    assert view.disasm[0][0] == "0x400000"
    from vkernel import disassemble
    want = [str(i) for i in disassemble(text.data[user - text.addr:][:12], 0x400000)[:3]]
    assert [line[1] for line in view.disasm] == want
    assert np.all([line[2] for line in view.disasm] == [True, False, False])


def test_unknown_keyword_arguments_name_the_valid_ones():
    m = Machine(ram_mb=1)
    m.load(assemble("nop"))
    with pytest.raises(TypeError, match="valid ones are window, checkpoint_every, run_slice"):
        MachineView(m, windw=3)
    t = Machine(ram_mb=1, trace="all")
    t.load(assemble("nop"))
    t.run(max_steps=1)
    with pytest.raises(TypeError, match=r"\['colours'\]; valid ones are names, max_marks"):
        RingTimeline(t, colours="dark")
    with pytest.raises(ValueError, match="unknown command"):
        MachineView(m).do("fly")


# --- MachineView: goto, the slider, run/pause -------------------------------------------------
def straight(steps: int) -> tuple:
    """The state a fresh machine reaches by running ``steps`` steps in one go."""
    m = Machine(ram_mb=4, trace="all")
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=steps)
    return state(m)


TINY_RETIRED, TINY_TRAPS = 2489, 15  # the tiny kernel's run to its halt (checked below)
TINY_STEPS = TINY_RETIRED + TINY_TRAPS  # machine steps: a trap taken is a step too


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(0, TINY_STEPS), min_size=1, max_size=6),
       st.sampled_from([1, 50, 1000]))
def test_goto_reaches_exactly_the_state_of_a_straight_run(targets, every):
    m = Machine(ram_mb=4, trace="all")
    m.load(build_guest("tiny_kernel"))
    view = MachineView(m, checkpoint_every=every)
    furthest = 0
    for target in targets:
        view.goto(target)
        furthest = max(furthest, target)
        assert view.step == m.steps == target
        assert state(m) == straight(target)
        assert view.furthest == furthest and view.first == 0
    # the trace recorded on the way is the straight run's trace
    assert m.trace_dataset().step_pc.values.tolist() == \
        straight_trace(targets[-1])


def straight_trace(steps: int) -> list[int]:
    m = Machine(ram_mb=4, trace="all")
    m.load(build_guest("tiny_kernel"))
    m.run(max_steps=steps)
    return m.trace_dataset().step_pc.values.tolist()


def test_run_slices_until_the_machine_halts_and_answers_each_message(kernel):
    view = MachineView(kernel, run_slice=0.001)
    sent = []
    view.send = sent.append  # what would go to the browser
    slices = 0
    while not view.halted:
        view._on_msg(view, {"cmd": "run", "n": 1}, [])
        slices += 1
        assert slices < 1000
    assert kernel.steps == TINY_STEPS and view.furthest == TINY_STEPS
    assert view.instret == kernel.hart.instret == TINY_RETIRED
    assert view.status == "the guest ended the machine: exit code 0"
    assert sent[-1] == {"cmd": "run", "halted": True}
    assert all(msg == {"cmd": "run", "halted": False} for msg in sent[:-1])
    assert state(kernel) == straight(10**6)
    # the slider's range is what was reached; going anywhere in it is exact
    view._on_msg(view, {"cmd": "goto", "n": 1234}, [])
    assert sent[-1] == {"cmd": "goto", "halted": False}
    assert state(kernel) == straight(1234) and view.furthest == TINY_STEPS
    view.goto(-5)  # before the first step: the first step
    assert view.step == 0


# --- RingTimeline -------------------------------------------------------------------------------
def transitions_by_hand(ds) -> list[tuple]:
    """The oracle: walk the trace row by row, as a student would, noting every trap and
    every change of mode that no trap explains (an mret/sret just before)."""
    from vkernel.trace.schema import MODE
    trap_steps = ds.trap_step.values.tolist()
    trap_from, trap_to = ds.trap_from_mode.values.tolist(), ds.trap_to_mode.values.tolist()
    trap_cause = ds.trap_cause.values.tolist()
    step_mode, step_insn = ds.step_mode.values.tolist(), ds.step_insn.values.tolist()
    out, mode_now, prev_insn, t = [], None, None, 0
    steps = ds.step.values.tolist()
    for i, step in enumerate(steps + [None]):
        while t < len(trap_steps) and (step is None or trap_steps[t] <= step):
            frm, to = trap_from[t], trap_to[t]
            here = trap_steps[t]
            if mode_now is not None and frm != mode_now:
                known = steps and steps[0] <= here - 1
                out.append((here, MODE[mode_now], MODE[frm], "return",
                            prev_insn if known else 0))
            out.append((here, MODE[frm], MODE[to], "trap", trap_cause[t]))
            mode_now, t = to, t + 1
        if step is None:
            break
        mode = step_mode[i]
        if mode_now is not None and mode != mode_now:
            out.append((step, MODE[mode_now], MODE[mode], "return",
                        prev_insn if i else 0))
        mode_now, prev_insn = mode, step_insn[i]
    return out


def as_tuples(frame) -> list[tuple]:
    names = {"mret": 0x30200073, "sret": 0x10200073, "return": 0}  # "return": not recorded
    rows = []
    for r in frame.itertuples():
        if r.kind == "return":
            rows.append((r.step, r.from_mode, r.to_mode, "return", names[r.label]))
        else:
            rows.append((r.step, r.from_mode, r.to_mode, "trap", r.cause))
    return rows


@pytest.fixture(scope="module")
def long_trace():
    m = Machine(ram_mb=4, trace="all")
    m.load(long_kernel(20_000))
    ex = m.run(max_steps=10**6)
    assert ex.reason == "halt" and ex.exit_code == 0
    return m.trace_dataset()


def test_transitions_match_a_walk_through_the_trace(long_trace):
    frame = long_trace.vk.transitions()
    assert as_tuples(frame) == transitions_by_hand(long_trace)
    labels = frame.label.value_counts().to_dict()
    # the kernel's own counts: 5 system calls + exit, 4 page faults, one timer per tick
    assert labels["ecall from U"] == 6 and labels["store page fault"] == 4
    assert labels["S timer"] == (frame.cause == (1 << 63 | 5)).sum() > 90
    # M starts the kernel with one mret; the kernel enters U with one sret and returns
    # from every trap but the last (the exit call) with another
    traps = long_trace.sizes["trap"]
    assert labels["mret"] == 1 and labels["sret"] == 1 + traps - 1
    assert len(frame) == traps + labels["mret"] + labels["sret"]
    # chained, the transitions give the mode of every step
    mode = long_trace.step_mode.values
    here = "M"
    for r in frame.itertuples():
        assert r.from_mode == here
        here = r.to_mode
    from vkernel.trace.schema import MODE
    assert MODE[int(mode[-1])] == here


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 2500), st.integers(64, 600))
def test_transitions_of_a_ring_recording(cut, ring):
    """A ring ("last" mode) keeps each family's last rows: the trace may start anywhere,
    even between a return and a trap, with traps from before its first step."""
    part = Machine(ram_mb=4)
    part.load(build_guest("tiny_kernel"))
    part.trace("step", "trap", mode="last", last=ring)
    part.run(max_steps=cut)
    ds = part.trace_dataset()
    frame = ds.vk.transitions()
    assert as_tuples(frame) == transitions_by_hand(ds)
    assert (frame.kind != "return").sum() == ds.sizes["trap"]


def decode(tl: RingTimeline) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    seg = np.frombuffer(tl.segments, "<f8").reshape(-1, 3)
    marks = np.frombuffer(tl.marks, "<f8").reshape(-1, 7)
    density = np.frombuffer(tl.density, "<f8")
    return seg, marks, density


def check_bundles(rows: np.ndarray, every: np.ndarray, key: list[int], lo: float, hi: float,
                  slices: int) -> None:
    """Bundles (count, last step in the last two columns) against every mark in view,
    grouped by hand: per slice of the view and kind, the first mark's columns, how many,
    and the last one's step."""
    width = (hi - lo) / slices
    want: dict[tuple, list] = {}
    for r in every:
        k = (min(int((r[0] - lo) // width), slices - 1), *r[key].tolist())
        if k in want:
            want[k][-2] += 1
            want[k][-1] = r[0]
        else:
            want[k] = [*r.tolist(), 1, r[0]]
    assert rows.tolist() == sorted(want.values(), key=lambda v: v[0])


def test_timeline_sends_only_what_is_in_view(long_trace):
    tl = RingTimeline(long_trace, max_marks=100, max_segments=100, bins=200)
    n = long_trace.sizes["step"]
    assert (tl.first, tl.end) == (0, n) and tl.view == [0.0, float(n)]
    assert [lane[0] for lane in tl.lanes] == ["M", "S", "U"]  # most privileged on top
    # zoomed out: a per-bin summary, and the arrows bundled, with a note saying so
    seg, marks, density = decode(tl)
    frame = tl.transitions
    assert seg.size == 0 and "zoom in" in tl.note and "drawn as one" in tl.note
    every = tl._marks  # all in view: the whole trace
    assert len(every) > 100 and marks[:, 5].sum() == len(every) and marks[:, 5].max() > 1
    check_bundles(marks, every, [1, 2, 3], 0.0, float(n), tl.mark_bins)
    assert density[:2].tolist() == [0.0, float(n)]
    shares = density[2:].reshape(3, 200)
    assert np.allclose(shares.sum(axis=0), 1.0)
    residency = long_trace.vk.modes()["steps"].to_pandas()
    width = n / 200
    assert np.allclose(shares.sum(axis=1) * width,
                       [residency["M"], residency["S"], residency["U"]])
    # zoomed in: exact segments tiling the view and every arrow in it
    tl.zoom(10_000, 20_000)
    seg, marks, density = decode(tl)
    assert density.size == 0 and tl.note == ""
    assert seg[0, 0] <= 10_000 < seg[0, 1] and seg[-1, 0] < 20_000 <= seg[-1, 1]
    assert np.array_equal(seg[1:, 0], seg[:-1, 1])
    steps = long_trace.step.values
    for start, end, lane in seg:
        modes = set(long_trace.step_mode.values[(steps >= start) & (steps < end)].tolist())
        assert {"M": 3, "S": 1, "U": 0}[tl.lanes[int(lane)][0]] == modes.pop() and not modes
    inside = frame[(frame.step >= 10_000) & (frame.step < 20_000)]
    assert marks[:, 0].tolist() == inside.step.tolist()
    legend = [entry[0] for entry in tl.legend]
    assert [legend[int(i)] for i in marks[:, 3]] == inside.label.tolist()
    lane_of = {lane[0]: i for i, lane in enumerate(tl.lanes)}
    assert marks[:, 1].tolist() == [lane_of[m] for m in inside.from_mode]
    assert marks[:, 2].tolist() == [lane_of[m] for m in inside.to_mode]
    assert sum(entry[2] for entry in tl.legend) == len(frame)
    # a click puts the cursor just before the transition: a trap's step, a return's - 1
    assert marks[:, 4].tolist() == (inside.step - (inside.kind == "return")).tolist()
    assert (marks[:, 5] == 1).all() and (marks[:, 6] == marks[:, 0]).all()  # no bundles
    assert tl.nearby == [-1.0, -1.0]
    # a view between two transitions: the nearest on each side, for the edges' arrows
    gaps = np.diff(frame.step.to_numpy())
    k = int(np.argmax(gaps))
    a, b = int(frame.step.iloc[k]), int(frame.step.iloc[k + 1])
    tl.zoom(a + 1, b - 1)
    assert decode(tl)[1].size == 0 and tl.nearby == [float(a), float(b)]


def test_timeline_moves_names_and_links(long_trace):
    tl = RingTimeline(long_trace)
    frame = tl.transitions
    tl.zoom(0, 1000)
    tl.step = 0
    before = (frame.step - (frame.kind == "return")).tolist()  # where a click puts it
    assert frame.label[0] == "mret" and tl.next() == before[0]
    assert tl.next() == before[1] and tl.next(-1) == before[0]
    assert tl.next(-1) is None
    tl.goto(500_000)  # outside the view: the view follows, keeping its width
    assert tl.view == [499_500.0, 500_500.0] and tl.step == 500_000
    assert [lane[1] for lane in tl.lanes] == ["M", "S", "U"]
    tl.names = "x86"
    assert [lane[1] for lane in tl.lanes] == ["M (≈ SMM)", "ring 0", "ring 3"]
    with pytest.raises(traitlets.TraitError, match="'riscv' or 'x86'"):
        tl.names = "arm"
    # a click (the front end sets step) moves a linked MachineView, on a machine that
    # replays the same program, to just before the transition
    m = Machine(ram_mb=4)
    m.load(long_kernel(20_000))
    view = MachineView(m)
    link(tl, view)
    timers = frame[frame.label == "S timer"]
    timer = int(timers.step.iloc[3])
    tl.step = timer
    interrupted = int(long_trace.trap_epc[(long_trace.trap_step == timer).values][0])
    assert view.instret == m.hart.instret == timer and m.hart.mode.name == "U"
    assert m.hart.pc == interrupted
    view.do("step")  # the interrupt is taken: a step that retires nothing
    assert m.hart.mode.name == "S" and view.instret == timer and tl.step == timer
    assert m.hart.csr["sepc"] == interrupted and m.hart.csr["scause"] == 1 << 63 | 5
    assert "sstatus" in {name for name, _, changed in view.csrs if changed}  # SPP, SPIE
    view.do("step")  # the handler's first instruction retires: the cursor follows
    assert tl.step == timer + 1 and m.hart.pc == int(long_trace.step_pc[timer + 1])
    # a return: the view stops on the sret itself, and a step takes it back to U
    sret = frame[(frame.label == "sret") & (frame.step > timer)].iloc[0]
    tl.step = int(sret.step) - 1
    assert view.instret == sret.step - 1 and view.disasm[0][1] == "sret"
    view.do("step")
    assert m.hart.mode.name == "U" and tl.step == sret.step
    # backwards, to a step before, and past checkpoints: the same machine state
    tl.step = 10
    assert state(m)[1:3] == straight(10)[1:3] and view.instret == 10


def test_timeline_of_a_machine_and_its_errors():
    m = Machine(ram_mb=1)
    m.load(assemble("nop"))
    with pytest.raises(ValueError, match=r"machine.trace\('step', 'trap'\)"):
        RingTimeline(m)
    m.trace("step")
    m.run(max_steps=1)
    with pytest.raises(TraceError, match="needs the 'trap' family"):
        RingTimeline(m)
    with pytest.raises(TypeError, match="cannot be linked"):
        link(MachineView(m), object())
    with pytest.raises(TypeError, match="two views"):
        link(MachineView(m))


# --- a virtual machine's trace: the hypervisor at work -----------------------------------------
@pytest.fixture(scope="module", params=["hardware", "trap-emulate", "binary-translation"])
def vm_run(request):
    from vkernel.hv import VM
    vm = VM("hello", technique=request.param, trace=("step", "trap", "hv"))
    assert vm.run().reason == "shutdown"
    return vm


def exits_by_hand(ds) -> list[tuple]:
    """The oracle: walk the hv rows; each vm_exit or callout row, with the events the
    hypervisor recorded after it until the next one."""
    from vkernel.trace.schema import HV_EVENT
    out = []
    for step, event, cause in zip(ds.hv_step.values.tolist(), ds.hv_event.values.tolist(),
                                  ds.hv_cause.values.tolist(), strict=True):
        name = HV_EVENT[event]
        if name in ("vm_exit", "callout"):
            out.append([step, name, cause, set()])
        elif out:
            out[-1][3].add(name)
    return [tuple(e) for e in out]


def test_vm_exit_marks_match_the_hv_rows(vm_run):
    ds = vm_run.trace_dataset()
    tl = RingTimeline(vm_run, max_marks=10**6)  # a VM: its machine's trace
    by_hand = exits_by_hand(ds)
    exits = np.frombuffer(tl.exits, "<f8").reshape(-1, 7)[:, :5]
    assert exits[:, 0].tolist() == [e[0] for e in by_hand]
    host = "S" if vm_run.technique_name == "hardware" else "M"
    lane_of = {lane[0]: i for i, lane in enumerate(tl.lanes)}
    assert set(exits[:, 2].tolist()) == {lane_of[host]}  # to the hypervisor's lane
    # from the guest's lane, and back (but for the exit that shut the guest down)
    guest = {lane_of[m] for m in ("VS", "VU", "U") if m in lane_of}
    assert set(exits[:, 1].tolist()) <= guest and set(exits[:-1, 3].tolist()) <= guest
    assert exits[-1, 3] == -1 and by_hand[-1][3] >= {"sbi_call"}
    # labels and styles from the legend, by what each exit was for
    legend = tl.legend
    labels = [legend[int(i)][0] for i in exits[:, 4]]
    styles = [legend[int(i)][3] for i in exits[:, 4]]
    assert styles == ["callout" if e[1] == "callout" else "exit" for e in by_hand]
    for (_, name, cause, did), label in zip(by_hand, labels, strict=True):
        if "sbi_call" in did:
            assert label == ("callout: SBI call" if name == "callout" else "VM exit: SBI call")
        elif name == "callout":
            assert label == ("callout: privileged instruction" if cause else "callout: jump")
        elif cause >> 63:
            assert label == "VM exit: M timer"
        elif "emulation" in did:
            assert label == "VM exit: privileged instruction"
        elif "wp_fault" in did:
            assert label == "VM exit: write-protect fault" and cause == 15  # a store
        elif "shadow_update" in did:
            assert label == "VM exit: hidden page fault"
        elif did == {"injection"}:
            assert label.endswith("(reflected)") and cause == 8  # a program's system call
        else:
            raise AssertionError(f"an exit the test does not know: {name} {cause} {did}")
    # counted in the legend: exits and transitions together
    exit_counts = {e[0]: e[2] for e in legend if e[3] != "arrow"}
    assert sum(exit_counts.values()) == len(by_hand)
    assert exit_counts == dict(tl.vm_exits.label.value_counts())
    # the same data as the accessor's, and transitions() chains through the exits
    assert tl.vm_exits.step.tolist() == [e[0] for e in by_hand]
    frame = ds.vk.transitions()
    assert (frame.kind.isin(["vm_exit", "callout"])).sum() == len(by_hand)
    assert (frame.kind == "vm_entry").sum() == len(by_hand) - 1
    assert (frame.kind.isin(["exception", "interrupt"])).sum() == ds.sizes["trap"]
    here, last, mode = None, 0, ds.step_mode.values
    from vkernel.trace.schema import MODE
    steps = ds.step.values
    for r in frame.itertuples():
        assert here is None or r.from_mode == here
        if here is not None:  # every step since the last change ran in the mode it left
            between = mode[(steps >= last) & (steps < r.step)]
            assert {MODE[int(v)] for v in between} <= {here}
        here, last = r.to_mode, r.step
    assert here == host  # the last: the exit that shut the guest down


def test_lanes_of_virtual_machines_and_their_names(vm_run):
    tl = RingTimeline(vm_run)
    lanes = [lane[0] for lane in tl.lanes]
    riscv = [lane[1] for lane in tl.lanes]
    tl.names = "x86"
    x86 = [lane[1] for lane in tl.lanes]
    if vm_run.technique_name == "hardware":
        # HS has no step (the hypervisor is Python) and is drawn all the same
        assert int((vm_run.trace_dataset().step_mode.values == 1).sum()) == 0
        assert lanes == ["S", "VS", "VU"]
        assert riscv == ["HS", "VS", "VU"]
        assert x86 == ["root ring 0", "non-root ring 0", "non-root ring 3"]
    else:  # the machine runs the whole guest in U; the hypervisor owns M
        assert lanes == ["M", "U"]
        assert riscv == ["M (hypervisor)", "U (guest)"]
        assert x86 == ["ring 0 (VMM)", "ring 3 (guest)"]


def test_vm_exits_are_thinned_and_navigated_like_transitions(vm_run):
    tl = RingTimeline(vm_run, max_marks=20)  # fewer than any technique's exits (hardware: 40)
    exits = tl.vm_exits
    # the whole run in view: too many to draw one by one, so bundled; never none
    assert f"{len(exits):,} VM exits" in tl.note and "drawn as one" in tl.note
    bundles = np.frombuffer(tl.exits, "<f8").reshape(-1, 7)
    assert 0 < len(bundles) < len(exits) and bundles[:, 5].sum() == len(exits)
    lo, hi = tl.view
    check_bundles(bundles, tl._exits, [1, 2, 3, 4], lo, hi, tl.mark_bins)
    first = int(exits.step.iloc[0])
    tl.zoom(first - 5, first + 200)
    shown = np.frombuffer(tl.exits, "<f8").reshape(-1, 7)
    inside = exits[(exits.step >= first - 5) & (exits.step < first + 200)]
    assert 0 < len(shown) <= 20 and shown[:, 0].tolist() == inside.step.tolist()
    assert "VM exits" not in tl.note
    # n and p stop at each exit as at each transition
    frame = tl.transitions
    arrows = frame[frame.kind.isin(["exception", "interrupt", "return"])]
    stops = sorted(set(exits.step) | set(arrows.step - (arrows.kind == "return")))
    tl.step = -1
    seen = [tl.next() for _ in range(12)]
    assert seen == stops[:12]
    assert tl.next(-1) == stops[10]
    # the exit that shut the guest down is at the trace's end: in view with it
    tl.zoom(tl.end - 100, tl.end)
    assert np.frombuffer(tl.exits, "<f8").reshape(-1, 7)[-1, 0] == tl.end == exits.step.iloc[-1]


def guest_view(view: MachineView) -> dict[str, int]:
    return {name: int(text.split()[0], 16) for name, text, _ in view.vcsrs}


@pytest.mark.parametrize("technique", ["hardware", "trap-emulate", "binary-translation"])
def test_machine_view_of_a_vm_shows_the_guests_view_of_its_csrs(technique):
    from vkernel.hv import VM
    vm = VM("hello", technique=technique)
    view = MachineView(vm, checkpoint_every=2000)
    assert view.machine is vm.machine and guest_view(view) == vm.virtual_csrs()
    assert "guest's view" in view.vcsr_title and view.disasm  # read through its tables
    if technique == "hardware":
        assert view.mode == "VS" and {"hstatus", "hgatp"} <= {c[0] for c in view.csrs}
    else:
        assert view.mode == "U" and dict((n, t) for n, t, _ in view.vcsrs)["mode"] == "0x1 (S)"
    history = []
    for n in (1, 5, 400, 3000, 7000, 4000):  # past the first exit (hardware: step 10,517)
        before = vm.virtual_csrs()
        view.do("step", n)
        now = vm.virtual_csrs()
        assert guest_view(view) == now
        assert [c[0] for c in view.vcsrs if c[2]] == [k for k in now if now[k] != before[k]]
        history.append((view.step, now, vm.console))
    # exits are handled as the view steps: the guest got on with its boot
    assert vm.steps == view.step and vm.exits > 0
    assert any(changed for *_, changed in view.vcsrs) or history[-1][1] != history[0][1]
    # back (restore and replay, the hypervisor's own state included) and forwards again
    for step, want, console in reversed(history):
        view.goto(step)
        assert guest_view(view) == vm.virtual_csrs() == want and vm.console == console
    # to the next VM exit: the status says what the hypervisor handled
    for _ in range(200):
        view.do("trap")
        if "VM exit" in view.status or "callout" in view.status:
            break
    assert "handled by the hypervisor" in view.status


def test_a_timeline_click_on_a_vm_exit_moves_a_linked_view_there():
    from vkernel.hv import VM
    traced = VM("hello", technique="hardware", trace=("step", "trap", "hv"))
    traced.run()
    tl = RingTimeline(traced)
    exits = tl.vm_exits
    fresh = VM("hello", technique="hardware")
    view = MachineView(fresh)
    link(tl, view)
    second = exits.iloc[1]
    tl.step = int(second.step)  # what a click on the mark sends
    # just before the exit: the guest stands on its ecall in VS
    assert view.instret == fresh.machine.hart.instret == second.step
    assert fresh.machine.hart.pc == second.pc and view.disasm[0][1] == "ecall"
    assert view.mode == "VS"
    console = fresh.console
    view.do("step")  # the exit: the hypervisor answers the SBI call, the guest goes on
    assert view.status == "VM exit from VS: ecall from VS, handled by the hypervisor"
    assert fresh.machine.hart.pc == second.pc + 4 and view.instret == second.step
    # it printed one line (DBCN console_write: a line per call), as the traced run did
    added = fresh.console[len(console):]
    assert fresh.console.startswith(console) and traced.console.startswith(fresh.console)
    assert added.endswith("\n") and added.count("\n") == 1
    assert tl.step == second.step


# --- a host of several domains: one band each, world switches between them ------------------
TECHNIQUES = ("hardware", "paravirt", "trap-emulate", "binary-translation")


def four_domains(trace=None):  # noqa: ANN001, ANN201 - a Host
    from vkernel.hv import Host
    from vkernel.hv.scheduler import Credit
    host = Host(trace=trace, scheduler=Credit(slice_ms=1))
    for technique in TECHNIQUES:
        host.create("hello", technique=technique, name=technique)
    return host


@pytest.fixture(scope="module")
def host_run():
    host = four_domains(trace=("step", "trap", "hv"))
    assert host.run(2_000_000).reason == "shutdown"
    return host


def switch_rows(ds) -> np.ndarray:
    from vkernel.trace.schema import HV_EVENT
    return np.flatnonzero(ds.hv_event.values == {v: k for k, v in HV_EVENT.items()}["switch"])


def test_host_timeline_has_a_band_per_domain_and_a_mark_per_world_switch(host_run):
    import json

    from vkernel import plots
    from vkernel.trace.schema import MODE
    ds = host_run.trace_dataset()
    # the host names its domains in the trace's attributes
    assert json.loads(ds.attrs["domains"]) == {
        str(d.domid): {"name": d.name, "technique": d.technique_name}
        for d in host_run.domains}
    tl = RingTimeline(host_run, max_marks=10**6)
    assert [b[0] for b in tl.bands] == ds.vk.domains == [1, 2, 3, 4]
    assert [b[1] for b in tl.bands] == [f"domain {i} · {t}" for i, t in enumerate(TECHNIQUES, 1)]
    assert "H extension" in tl.bands[0][2] and "hypercalls" in tl.bands[1][2]
    assert "Bands: one per domain" in tl.band_note and "world switch" in tl.band_note
    # each band its domain's own lanes: the hardware guest's VS/VU under HS, the software
    # techniques' guest in U under the hypervisor's M
    band_modes = [[lane[0] for lane in tl.lanes if lane[4] == b] for b in range(4)]
    assert band_modes == [["S", "VS", "VU"], ["M", "U"], ["M", "U"], ["M", "U"]]
    assert [lane[1] for lane in tl.lanes[:5]] == ["HS", "VS", "VU", "M (hypervisor)",
                                                  "U (guest)"]
    # the switch marks are exactly the trace's switch rows: step, domains left and
    # entered, from the lane of the mode the vCPU was saved in to the one it is loaded in
    rows = switch_rows(ds)
    assert rows.size > 40
    sw = np.frombuffer(tl.switches, "<f8").reshape(-1, 7)
    assert sw[:, 0].tolist() == ds.hv_step.values[rows].tolist()
    assert sw[:, 3].tolist() == ds.hv_cause.values[rows].tolist()
    assert sw[:, 4].tolist() == ds.hv_detail.values[rows].tolist()
    assert (sw[:, 5] == 1).all() and (sw[:, 6] == sw[:, 0]).all()

    def lane_of(domid: int, mode: int) -> int:
        band = [b[0] for b in tl.bands].index(domid)
        return next(i for i, lane in enumerate(tl.lanes)
                    if lane[4] == band and lane[0] == MODE[mode])

    assert sw[:, 1].tolist() == [lane_of(d, m) for d, m in zip(
        ds.hv_cause.values[rows], ds.hv_from_mode.values[rows], strict=True)]
    assert sw[:, 2].tolist() == [lane_of(d, m) for d, m in zip(
        ds.hv_detail.values[rows], ds.hv_to_mode.values[rows], strict=True)]
    entry = next(e for e in tl.legend if e[3] == "switch")
    assert entry == ["world switch", plots.SWITCH_COLOUR, rows.size, "switch"]
    assert plots.SWITCH_COLOUR not in {*plots.MODE_COLOURS.values(),
                                       *plots.CAUSE_COLOURS.values()}
    # each domain's VM exits in its own band, as its own rows say
    exits = np.frombuffer(tl.exits, "<f8").reshape(-1, 7)
    band_of_lane = np.array([lane[4] for lane in tl.lanes])
    for b, domid in enumerate(ds.vk.domains):
        mine = exits[band_of_lane[exits[:, 1].astype(int)] == b]
        own = ds.vk.domain(domid).vk.vm_exits()
        assert mine[:, 0].tolist() == own.step.tolist()
        assert set(band_of_lane[mine[:, 2].astype(int)]) == {b}
        assert [lane_of(domid, {"S": 1, "M": 3}[m]) for m in own.host_mode] == \
            mine[:, 2].tolist()
    assert len(exits) == len(tl.vm_exits) == sum(
        len(ds.vk.domain(d).vk.vm_exits()) for d in ds.vk.domains)
    # no spurious "return" where one domain's vCPU follows another's
    assert set(tl.transitions.label[tl.transitions.kind == "return"]) <= {"sret", "mret"}
    # zoomed in around a switch: segments in the band of the domain that ran each step
    at = int(sw[3, 0])
    tl.zoom(at - 500, at + 500)
    seg = np.frombuffer(tl.segments, "<f8").reshape(-1, 3)
    steps, dom, mode = ds.step.values, ds.step_domain.values, ds.step_mode.values
    assert len(seg) >= 2
    for start, end, lane in seg:
        inside = (steps >= start) & (steps < end)
        assert {(int(d), int(m)) for d, m in zip(dom[inside], mode[inside], strict=True)} == \
            {(tl.bands[tl.lanes[int(lane)][4]][0], {v: k for k, v in MODE.items()}[
                tl.lanes[int(lane)][0]])}
    shown = np.frombuffer(tl.switches, "<f8").reshape(-1, 7)
    assert shown[:, 0].tolist() == [at]
    # zoomed out: each lane's share of each bin is the time its domain spent in that mode
    tl.zoom(0, tl.end)
    density = np.frombuffer(tl.density, "<f8")
    if density.size:
        shares = density[2:].reshape(len(tl.lanes), -1)
        width = tl.end / shares.shape[1]
        for i, lane in enumerate(tl.lanes):
            want = np.count_nonzero((dom == tl.bands[lane[4]][0])
                                    & (mode == {v: k for k, v in MODE.items()}[lane[0]]))
            assert shares[i].sum() * width == pytest.approx(want)
    # n and p stop at each switch too
    tl.step = int(sw[3, 0]) - 1
    stops = np.union1d(np.union1d(tl._marks[:, 4], tl._exits[:, 0]), sw[:, 0])
    assert tl.next() == int(stops[np.searchsorted(stops, sw[3, 0] - 1, "right")])
    tl.step = int(sw[3, 0]) - 1
    while tl.step < sw[3, 0]:
        tl.next()
    assert tl.step == sw[3, 0]


def test_host_timeline_bundles_switches_and_a_vm_has_no_bands(host_run, vm_run):
    tl = RingTimeline(host_run, max_marks=10, mark_bins=8)
    sw = np.frombuffer(tl.switches, "<f8").reshape(-1, 7)
    n = len(tl._switches)
    assert 0 < len(sw) < n and sw[:, 5].sum() == n and f"{n:,} world switches" in tl.note
    lo, hi = tl.view
    check_bundles(sw, tl._switches, [1, 2, 3, 4], lo, hi, tl.mark_bins)
    # x86 names in every band
    tl.names = "x86"
    assert [lane[1] for lane in tl.lanes[:5]] == [
        "root ring 0", "non-root ring 0", "non-root ring 3", "ring 0 (VMM)", "ring 3 (guest)"]
    # one domain: no bands, no switch marks, lanes as ever
    single = RingTimeline(vm_run)
    assert single.bands == [] and single.band_note == "" and single.switches == b""
    assert {lane[4] for lane in single.lanes} == {0}
    assert "domain" not in single.transitions.columns


def vcpu_shown(view: MachineView) -> tuple:
    """What the view shows of a vCPU (without the highlights)."""
    return (np.frombuffer(view.regs, "<u8").tolist(), view.pc, view.mode,
            [c[:2] for c in view.csrs], [c[:2] for c in view.vcsrs], view.disasm,
            view.console)


def host_state(host) -> tuple:  # noqa: ANN001
    snap = host.machine.snapshot()
    return (host.steps, host.switches, host.loaded and host.loaded.domid,
            tuple(snap.arrays["_csr"].tolist()), tuple(host.machine.hart.x.tolist()),
            host.machine.hart.pc, snap.arrays["_ram"].tobytes(),
            tuple((d.state, d.context.x.tobytes(), d.context.csr.tobytes(),
                   d.context.state.tobytes(), d.console) for d in host.domains))


def test_machine_view_of_a_host_shows_the_chosen_domains_vcpu():
    host = four_domains()
    view = MachineView(host)
    assert view.domain == 1 and host.loaded is host.domain(1)
    assert view.domain_list == [[i, f"domain {i} · {t}"] for i, t in enumerate(TECHNIQUES, 1)]
    assert view.running == "domain 1 · hardware: running, its vCPU in the hart"
    view.do("step", 25_000)
    loaded = host.loaded
    assert loaded is not None and loaded.domid != 2
    view.domain = 2  # what the dropdown sends
    ctx = host.domain(2).context
    assert np.frombuffer(view.regs, "<u8").tolist() == ctx.x.view(np.uint64).tolist()
    assert view.register("a0") == int(ctx.x[10]) & (2**64 - 1)
    assert view.mode == "U" and view.changed == []
    assert view.console == host.domain(2).console
    assert view.running.startswith("domain 2 · paravirt: runnable, its vCPU as the last "
                                   "world switch saved it; ")
    assert view.running.endswith(f"domain {loaded.domid} · {loaded.name} is running")
    assert "saved" in view.csr_title
    # each domain not in the hart, as its saved context has it, is what the hart shows once
    # the world switch loads it (the hardware guest's VS CSRs included)
    for domid in (1, 2, 3, 4):
        if host.domain(domid) is host.loaded:
            continue
        view.domain = domid
        saved = vcpu_shown(view)
        assert view.disasm and view.vcsrs
        snap = host.save()
        host._switch_to(host.domain(domid))
        view._refresh(first=True)
        assert view.csr_title == "" and view.running.endswith("its vCPU in the hart")
        assert vcpu_shown(view) == saved, domid
        host.restore(snap)
    view.domain = 1
    assert view.mode in ("VS", "VU") and {"hstatus", "hgatp"} <= {c[0] for c in view.csrs}
    with pytest.raises(traitlets.TraitError, match="no domain 9 on this host"):
        view.domain = 9


def test_machine_view_of_a_host_steps_back_exactly_and_stops_at_switches():
    host = four_domains()
    view = MachineView(host, checkpoint_every=3000)
    view.do("step", 8_000)
    seen = []
    for n in (1, 700, 1500, 2, 900, 4000):  # across checkpoints and world switches
        seen.append(host_state(host))
        view.do("step", n)
    assert len({s[2] for s in seen}) > 1  # another domain ran meanwhile
    for want in reversed(seen):
        view.goto(want[0])
        assert host_state(host) == want
    # to the next trap: a VM exit of any domain, or a world switch
    switches = host.switches
    for _ in range(200):
        view.do("trap")
        if view.status.startswith("world switch"):
            break
    assert host.switches == switches + 1
    assert view.status == f"world switch: the hypervisor loaded the vCPU of " \
                          f"domain {host.loaded.domid} · {host.loaded.name}"
    # the next one: one VM exit (the status says whose), one switch or one trap
    before = (host.exits, host.switches, host.machine.counters["traps"])
    view.do("trap")
    after = (host.exits, host.switches, host.machine.counters["traps"])
    assert sorted(b - a for a, b in zip(before, after, strict=True))[-1] >= 1
    if after[0] != before[0]:
        assert view.status.startswith(f"domain {view._last_exit[2].domid} · ")


def test_a_click_on_a_world_switch_moves_a_linked_host_view_just_before_it(host_run):
    tl = RingTimeline(host_run)
    live = four_domains()  # the same host from the start, stepped by the view
    view = MachineView(live)
    link(tl, view)
    for k in (0, 3, 7, 2):  # forwards, and back by checkpoint and replay
        at, _, _, left, entered = tl._switches[k]
        tl.step = int(at)  # what a click on the switch sends
        assert view.instret == live.machine.hart.instret == at
        assert live.loaded.domid == left and live.switches == k
        view.do("step")  # the world switch, then the entered domain's first step
        assert live.loaded.domid == entered and live.switches == k + 1
        assert view.status == "world switch: the hypervisor loaded the vCPU of " \
                              f"domain {int(entered)} · {TECHNIQUES[int(entered) - 1]}"


# --- AddressTranslation and MemoryMap ---------------------------------------------------
CODE_VA, DATA_VA = 0x4000_0000, 0x4000_1000


def refs_sent(at: AddressTranslation) -> np.ndarray:
    """The references the front end gets: the binary buffer, decoded."""
    return np.frombuffer(at.refs, "<u8").reshape(-1, len(REF_COLUMNS)).astype(np.int64)


def sv39_machine(trace=("step", "walk")) -> Machine:  # noqa: ANN001
    """A machine in S-mode with Sv39 on and 4 KiB pages: two instructions on one code
    page, then a load from a data page (the second fetch hits the TLB)."""
    m = Machine(ram_mb=4, trace=trace)
    m.mem.write(0x8000_0000, assemble("li a0, 1\nli a0, 2\nld a1, 0(a2)\n1: j 1b")
                .sections[".text"].data)
    root, tables = 0x8010_0000, iter(range(0x8010_1000, 0x8012_0000, 0x1000))
    for va, pa, flags in ((CODE_VA, 0x8000_0000, PTE_R | PTE_X),
                          (DATA_VA, 0x8000_3000, PTE_R | PTE_W)):
        map_page(root, va, pa, PTE_V | PTE_A | PTE_D | flags, read_pte=m.mem.read_u64,
                 write_pte=m.mem.write_u64, new_table=lambda: next(tables))
    m.hart.csr["satp"] = 8 << 60 | root >> 12
    m.hart.mode = "S"
    m.hart.pc = CODE_VA
    m.hart.x["a2"] = DATA_VA
    return m


@pytest.fixture(scope="module")
def nested_vm():
    from vkernel.hv import VM
    vm = VM("hello", technique="hardware", trace="walk")
    assert vm.run(max_steps=200_000).reason == "shutdown"
    return vm


def test_a_nested_walk_is_sent_as_15_references_numbered_in_order(nested_vm):
    ds = nested_vm.machine.trace_dataset()
    at = AddressTranslation(ds)
    table = at.translations
    assert at.count == int(ds.vk.walks().translations) == len(table)
    assert set(table["references"]) == {3, 11, 15}  # Bare at boot, megapages, 4 KiB pages
    cold = int(table.index[table["references"] == 15][0])
    at.select(cold)
    refs = refs_sent(at)
    assert refs[:, 0].tolist() == list(range(1, 16))
    # each VS level: the G-stage walk of its entry's guest physical address, then the
    # entry; last the G-stage walk of the final address
    assert refs[:, 2].tolist() == [1, 1, 1, 0] * 3 + [1, 1, 1]
    assert refs[:, 3].tolist() == [2, 1, 0, 2, 2, 1, 0, 1, 2, 1, 0, 0, 2, 1, 0]
    assert refs[:, 1].tolist() == [0] * 4 + [1] * 4 + [2] * 4 + [3] * 3  # columns
    # exactly the rows the core recorded, in its order
    first = int(np.flatnonzero(ds.walk_step.values == table["step"][cold])[0])
    rows = slice(first, first + 15)
    assert refs[:, 5].tolist() == ds.walk_pte_addr.values[rows].astype(np.int64).tolist()
    assert refs[:, 6].tolist() == ds.walk_pte.values[rows].astype(np.int64).tolist()
    # the three address spaces, and the machine address is the p2m's for the guest
    # physical one
    assert [s[0] for s in at.spaces] == ["guest virtual", "guest physical", "machine"]
    va, gpa, ma = (int(a, 16) for a in at.info["addresses"])
    assert va == int(table["vaddr"][cold]) and gpa == int(refs[-1, 4])
    assert ma == nested_vm.domain.memory.machine_address(gpa)
    assert at.info["references"] == 15 and at.info["ok"] and not at.info["tlb_hit"]
    assert at.step == int(table["step"][cold])
    # the list around it: the translations either side, by index
    nearby = np.frombuffer(at.nearby, "<u8").reshape(-1, 8)
    assert nearby[:, 0].tolist() == list(range(cold - 8, cold + 9))
    assert nearby[:, 3].tolist() == table["references"][cold - 8:cold + 9].tolist()


def test_native_walks_read_3_entries_and_a_tlb_hit_none():
    m = sv39_machine()
    m.run(max_steps=3)
    at = AddressTranslation(m)
    assert at.count == 2  # the code page's fetch, the data page's load
    refs = refs_sent(at)
    assert refs[:, 0].tolist() == [1, 2, 3] and refs[:, 3].tolist() == [2, 1, 0]
    assert refs[:, 2].tolist() == [0, 0, 0] and refs[:, 1].tolist() == [0, 1, 2]
    assert [s[0] for s in at.spaces] == ["virtual", "physical"]
    assert at.info["addresses"] == [hex(CODE_VA), "0x80000000"]
    at.find(DATA_VA + 8)
    assert at.index == 1 and at.info["access"] == "load" and len(refs_sent(at)) == 3
    assert at.info["addresses"] == [hex(DATA_VA), "0x80003000"]  # the walk's own access
    # the second instruction's fetch, at step 1: its page was walked at step 0 and the
    # TLB answered: no references
    at.find(CODE_VA + 4, step=1)
    assert at.refs == b"" and at.references.empty
    assert at.info["tlb_hit"] and at.info["references"] == 0 and at.info["walked_at"] == 0
    assert at.info["addresses"] == [hex(CODE_VA + 4), "0x80000004"]
    with pytest.raises(LookupError):
        at.find(0x5000_0000)
    at.show(1)  # a step with no walk: the latest translation before it
    assert at.index == 0 and at.step == 1 and len(refs_sent(at)) == 3
    at._on_msg(at, {"cmd": "select", "index": 1}, [])  # what a click in the list sends
    assert at.index == 1 and at.step == 2
    at._on_msg(at, {"cmd": "find", "vaddr": "0x4000_0000"}, [])  # the Find box
    assert at.index == 0


def test_entries_from_the_page_walk_cache_are_skipped_not_numbered(nested_vm):
    """Rows whose result is ``cached`` (the page-walk cache supplied the entry: no memory
    reference) cross unnumbered, and the references after them count on."""
    ds = nested_vm.machine.trace_dataset()
    table = AddressTranslation(ds).translations
    step = int(table["step"][table["references"] == 15].iloc[1])
    rows = np.flatnonzero(ds.walk_step.values == step)[:15]
    result = ds.walk_result.values.copy()
    # the upper G-stage levels, as a page-walk cache keeps them; and a cached leaf (the
    # final address's G-stage leaf), which still ends the walk
    result[rows[[0, 1, 4, 5, 14]]] = 7
    at = AddressTranslation(ds.assign(walk_result=("walk", result)), step=step)
    refs = refs_sent(at)
    assert refs[:, 0].tolist() == [0, 0, 1, 2, 0, 0, 3, 4, 5, 6, 7, 8, 9, 10, 0]
    assert at.info["references"] == 10 and at.info["cached"] == 5
    assert at.count == len(table)  # a cached pointer does not end a walk, a leaf does
    assert at.info["ok"]  # and the address it gave is the one the uncached walk found
    assert at.info["addresses"] == AddressTranslation(ds, step=step).info["addresses"]


def test_address_translation_follows_a_linked_machine_view():
    m = sv39_machine()
    view = MachineView(m)
    at = AddressTranslation(m)
    assert at.count == 0 and at.index == -1 and at.refs == b""
    link(view, at)
    view.do("step")  # the first fetch walks
    assert at.step == view.instret == 1 and at.count == 1 and at.index == 0
    view.do("step", 2)  # the load walks too
    assert at.count == 2 and at.index == 1 and at.info["access"] == "load"
    view.do("back", 2)  # the trace is cut back with the machine
    assert at.count == 1 and at.index == 0
    with pytest.raises(TypeError, match="valid ones are index, step, vaddr, domain, window"):
        AddressTranslation(m, colour="red")


def test_memory_map_counts_each_owner_as_the_host_charges_them():
    from vkernel.hv import Host
    host = Host(machine_mb=16)
    host.create("hello", technique="hardware", name="a", memory_mb=4)
    host.create("hello", technique="trap-emulate", name="b", memory_mb=4)
    mm = MemoryMap(host, columns=64)
    counts = {label: count for label, _, count, _, _ in mm.legend}
    usage = host.frames.usage()
    for name in ("a", "b"):
        assert counts[f"{name}: RAM"] == 1024
        assert counts[f"{name}: RAM"] + counts[f"{name}: hypervisor structures"] == usage[name]
    assert counts["free"] == 4096 - len(host.frames.owner)
    assert sum(counts.values()) == 4096 == len(mm.frames)
    colours = {label: colour for label, colour, *_ in mm.legend}
    assert colours["a: RAM"] != colours["b: RAM"] and colours["a: RAM"] == \
        colours["a: hypervisor structures"]
    # the buffers: each frame's category, and the guest page each of a's frames backs
    category = np.frombuffer(mm.frames, np.uint8)
    gpages = np.frombuffer(mm.gpages, "<u4")
    labels = [row[0] for row in mm.legend]
    p2m = host.domains[0].memory.p2m
    frames = (p2m - mm.base) // 4096
    assert {labels[c] for c in category[frames]} == {"a: RAM"}
    assert (gpages[frames].astype(np.int64) * 4096 == 0x8000_0000 + 4096 * np.arange(1024)).all()
    # linked with a MachineView of the host, it follows the run: the trap-and-emulate
    # domain's shadow tables grow as its guest faults
    view = MachineView(host)
    link(view, mm)
    before = mm.counts["b: hypervisor structures"]
    view.do("step", 40_000)  # a runs first (30 ms slices), then b
    assert mm.step == view.instret
    assert mm.counts["b: hypervisor structures"] == host.frames.usage()["b"] - 1024 > before
    # a domain destroyed gives its frames back
    host.destroy(host.domains[1])
    mm.refresh()
    assert "b: RAM" not in [row[0] for row in mm.legend]
    assert mm.counts["free"] == 4096 - len(host.frames.owner)
    with pytest.raises(TypeError, match="valid ones are columns"):
        MemoryMap(host, rows=3)


def test_memory_map_replays_frame_moves_through_the_handlers_registered():
    """The replay: hv rows of the events that move frames (balloon, share, unshare, swap)
    go, in order, to the handler registered for their event (the built-in one repoints
    the page: its old frame goes free, its new one is the domain's); rows of an event
    with no handler are counted in the note."""
    import xarray as xr

    from vkernel.hv import Host
    from vkernel.trace.schema import HV_EVENT
    code = {name: c for c, name in HV_EVENT.items()}
    host = Host(machine_mb=16)
    a = host.create("hello", technique="hardware", name="a", memory_mb=4)
    mm = MemoryMap(host)
    old, page = int(a.memory.p2m[7]), a.memory.base + 7 * 4096
    new = next(f for f in range(mm.base, mm.base + (16 << 20), 4096)
               if f not in host.frames.owner)  # a free frame
    none = (1 << 64) - 1
    rows = [(5, "balloon", page, none), (9, "swap", page, none), (12, "vm_exit", 0, 0),
            (14, "balloon", page, new)]
    ds = xr.Dataset({"hv_step": ("hv", np.array([r[0] for r in rows], np.int64)),
                     "hv_event": ("hv", np.array([code[r[1]] for r in rows], np.uint8)),
                     "hv_detail": ("hv", np.array([r[2] for r in rows], np.uint64)),
                     "hv_entry": ("hv", np.array([r[3] for r in rows], np.uint64)),
                     "hv_domain": ("hv", np.full(len(rows), a.domid, np.uint16))})
    del mm.replayers["swap"]
    free = mm.counts["free"]
    assert mm.replay(ds, upto=5) == 1  # ballooned out: its frame is free
    assert mm.counts["a: RAM"] == 1023 and mm.counts["free"] == free + 1
    assert mm.note == ""
    mm.refresh()
    assert mm.replay(ds) == 2 and mm.note == "1 swap rows not replayed (no handler)"
    assert mm.counts["a: RAM"] == 1024 and mm.counts["free"] == free  # back, elsewhere
    cells, gpages = np.frombuffer(mm.frames, np.uint8), np.frombuffer(mm.gpages, "<u4")
    i, j = (old - mm.base) // 4096, (new - mm.base) // 4096
    assert cells[i] == 0 and gpages[i] == 0  # free, as sent
    assert mm.legend[cells[j]][0] == "a: RAM" and gpages[j] == page // 4096
    mm.refresh()
    assert mm.replay(ds, upto=4) == 0  # nothing up to step 4


# --- ShadowPageTables ------------------------------------------------------------------
def _shadow_leaves(machine, root: int) -> dict[int, int]:
    """Every 4 KiB leaf of a shadow table in machine memory: va -> its PTE (walked here,
    not by the widget)."""
    out, read = {}, machine.mem.read_u64

    def visit(table: int, level: int, base: int) -> None:
        for i in range(512):
            pte = read(table + 8 * i)
            if pte & PTE_V:
                va = base | i << (12 + 9 * level)
                va |= ((1 << 64) - (1 << 39)) if va >> 38 & 1 else 0
                if pte & (PTE_R | PTE_X):
                    out[va] = pte
                elif level:
                    visit((pte >> 10 & ((1 << 44) - 1)) << 12, level - 1, va)
    visit(root, 2, 0)
    return out


def _check_shadow_view(vm, spt, satp_csr: str = "satp", hw: int | None = None) -> None:  # noqa: ANN001
    """The widget's three panes against the hypervisor's own structures (``vm`` a VM or a
    domain; ``hw`` the shadow's satp, if not the hart's)."""
    from vkernel.hv.pagetable import walk
    machine, memory, mmu = vm.machine, vm.memory, vm.technique.shadow
    hw = machine.hart.csr[satp_csr] if hw is None else hw
    table = next(t for t in mmu.tables.values() if t.satp == hw)
    assert spt.info["shadow_satp"] == hex(hw) and spt.info["guest_satp"] == hex(table.key[0])
    real = _shadow_leaves(machine, (hw & ((1 << 44) - 1)) << 12)
    leaves = spt.shadow_leaves
    own = leaves[leaves.state == "the hypervisor's"]  # (binary translation's cache)
    assert not set(own.machine.astype(int)) & set(memory.m2p)
    present = leaves[~leaves.state.isin(["missing", "device", "the hypervisor's"])]
    assert sorted(int(v) for v in present.vaddr) + sorted(int(v) for v in own.vaddr) == \
        sorted(real) and len(present) > 0
    guest_root = (table.key[0] & ((1 << 44) - 1)) << 12
    for va, machine_frame, pte, state in zip(present.vaddr, present.machine, present.pte,
                                             present.state, strict=True):
        va, machine_frame = int(va), int(machine_frame)
        assert int(pte) == real[va] and machine_frame == (real[va] >> 10) << 12
        g = walk(guest_root, va, memory.read_u64)  # the guest's own translation ...
        assert state == "consistent" or state.startswith("read-only"), (hex(va), state)
        # ... composed with the p2m is what the shadow maps
        assert memory.machine_address(g.pa & ~0xFFF) == machine_frame, hex(va)
        if state == "read-only: a guest page table":
            assert not real[va] & PTE_W and (g.pa & ~0xFFF) in mmu.table_refs
    # the p2m pane: every page it lists, where the p2m puts it
    p2m = spt.p2m_pages
    assert len(p2m) > 0
    assert all(memory.machine_address(int(a)) == int(m)
               for a, m in zip(p2m.gpa, p2m.machine, strict=True))
    # the write-protected frames are the shadow's page tables, and the guest pane marks
    # exactly the entries that lie in them
    assert spt.protected == sorted(mmu.table_refs) and spt.protected
    g = spt.guest_entries
    assert {int(a) & ~0xFFF for a, p in zip(g.pte_addr, g.protected, strict=True) if p} \
        == set(mmu.table_refs) & {int(a) & ~0xFFF for a in g.pte_addr}
    # each guest leaf entry's value is the guest's memory
    assert all(memory.read_u64(int(a)) == int(v) for a, v in zip(g.pte_addr, g.pte,
                                                                   strict=True))


def test_shadow_page_tables_are_the_guest_table_composed_with_the_p2m():
    """On a trap-and-emulate VM: every shadow leaf the widget reports is in the shadow the
    hardware walks and equals the guest's walk composed with the p2m; the protected
    frames are table_refs; the buffers are uint64 rows; the event strip holds the exits."""
    from vkernel.hv import VM
    from vkernel.widgets import ShadowPageTables
    from vkernel.widgets.shadow_page_tables import SHADOW_COLUMNS
    vm = VM("hello", "trap-emulate", trace="hv")
    vm.run(max_steps=50_000)
    spt = ShadowPageTables(vm)
    _check_shadow_view(vm, spt)
    assert len(spt.shadow) == 8 * len(SHADOW_COLUMNS) * len(spt.shadow_leaves)
    assert isinstance(spt.shadow, bytes) and isinstance(spt.guest, bytes)
    # the hello guest's kernel: four 2 MiB superpages, and a device page (the UART)
    g = spt.guest_entries
    assert (g[(g.level == 1) & (g.pte & 0b1010 != 0)]["size"] == 0x20_0000).sum() == 4
    assert "device" in set(spt.shadow_leaves.state)
    ev = spt.event_rows
    assert set(ev.event) <= {"vm_exit", "hv_walk", "shadow_update", "shadow_drop", "wp_fault"}
    assert (ev.event == "vm_exit").any() and (ev.cycles > 0).all()
    assert spt.written == -1  # hello takes no write-protect fault this early
    # running on: the panes change, and follow a linked MachineView
    from vkernel.widgets import MachineView
    view = MachineView(vm)
    link(view, spt)
    fills = spt.info["fills"]
    view.do("step", 30_000)
    assert spt.step == view.instret and spt.info["fills"] == vm.technique.shadow.fills > fills
    _check_shadow_view(vm, spt)
    with pytest.raises(TypeError, match="valid ones are domain, events"):
        ShadowPageTables(vm, colour="red")


@pytest.mark.parametrize(("workload", "technique"), [("map-unmap", "trap-emulate"),
                                                     ("page-fault", "trap-emulate"),
                                                     ("page-fault", "hardware")])
def test_shadow_page_tables_show_a_write_protect_fault(workload, technique):
    """Run until a wp_fault row: the guest entry highlighted is the row's detail (and the
    entry the guest pane marks), the shadow entries its exit dropped are gone from the
    shadow pane (or back, installed again: then consistent), and the strip shows the exit
    and its cost. Under hardware assistance with paging="shadow" too (one store emulation
    for both)."""
    from vkernel.hv import VM
    from vkernel.widgets import ShadowPageTables
    hw = technique == "hardware"
    vm = VM(workload, technique, trace="hv", paging="shadow" if hw else None)
    spt = ShadowPageTables(vm)
    assert spt.run_until_event("wp_fault", max_steps=200_000)
    hv = vm.machine.events("hv")
    from vkernel.trace.schema import HV_EVENT
    names = np.array([HV_EVENT[int(e)] for e in hv["event"]])
    last = np.flatnonzero(names == "wp_fault")[-1]
    assert last >= len(names) - 3  # it stopped just after that exit
    assert spt.written == int(hv["detail"][last]) and spt.written in set(
        spt.guest_entries.pte_addr.astype(int))
    assert vm.memory.read_u64(spt.written) == int(
        spt.guest_entries.set_index("pte_addr").pte[spt.written])
    dropped = [int(d) for d, e in zip(hv["detail"][last:], names[last:], strict=True)
               if e == "shadow_drop"]
    assert np.frombuffer(spt.dropped, "<u8").tolist() == dropped
    leaves = spt.shadow_leaves.set_index("vaddr")
    for va in dropped:  # gone, or installed again from the entry written (consistent)
        assert va not in leaves.index or leaves.state[va] == "consistent"
    updated = [int(d) for d, e in zip(hv["detail"][last:], names[last:], strict=True)
               if e == "shadow_update"]
    assert np.frombuffer(spt.updated, "<u8").tolist() == updated
    if workload == "page-fault":  # the new entry installed at once (prefetching) ...
        assert updated
        for gpa in updated:  # ... and in the shadow pane, consistent
            assert "consistent" in set(spt.shadow_leaves.state[spt.shadow_leaves.gpa == gpa])
    ev = spt.event_rows
    wp = ev[ev.event == "wp_fault"].iloc[-1]
    assert int(wp.detail) == spt.written and wp.cycles > 0
    exit_row = ev[(ev.event == "vm_exit") & (ev.row < wp.row)].iloc[-1]
    assert exit_row.step == wp.step and exit_row.cycles > 0
    _check_shadow_view(vm, spt, "vsatp" if hw else "satp")


def test_shadow_page_tables_under_hardware_shadow_paging_and_errors():
    """Hardware assistance with paging="shadow": the VS-stage walks the shadow (vsatp);
    nested paging and paravirtualization keep no shadows: a clear error."""
    from vkernel.hv import VM
    from vkernel.widgets import ShadowPageTables
    vm = VM("hello", "hardware", paging="shadow")  # no hv rows: the strip says so
    vm.run(max_steps=50_000)
    spt = ShadowPageTables(vm)
    _check_shadow_view(vm, spt, "vsatp")
    assert spt.events == b"" and spt.written == -1
    with pytest.raises(ValueError, match="hardware with paging=.nested.*G-stage is the p2m"):
        ShadowPageTables(VM("hello", "hardware"))
    with pytest.raises(ValueError, match="keeps no shadow|keeps none"):
        ShadowPageTables(VM("hello", "paravirt"))


def test_shadow_page_tables_of_a_host_domain_switched_out_or_binary_translated():
    """A host of two domains: the one switched out shows the shadow its world switch
    saved; binary translation's own pages in its kernel's shadow (the translation cache,
    the vCPU page) are the hypervisor's, not stale; each strip holds its domain's rows."""
    from vkernel.core import kernel as K
    from vkernel.hv import Host
    from vkernel.widgets import ShadowPageTables
    host = Host(machine_mb=32, trace="hv")
    a = host.create("hello", technique="trap-emulate", name="a", memory_mb=4)
    b = host.create("map-unmap", technique="binary-translation", name="b", memory_mb=4)
    host.run(max_steps=150_000)
    assert host.loaded is b
    sa, sb = ShadowPageTables(host, domain="a"), ShadowPageTables(host, domain=2)
    _check_shadow_view(a, sa, hw=int(a.context.csr[K.CSR_SATP]) & ((1 << 64) - 1))
    _check_shadow_view(b, sb)
    assert "the hypervisor's" not in set(sa.shadow_leaves.state)
    own = sb.shadow_leaves[sb.shadow_leaves.state == "the hypervisor's"]
    assert len(own) == len(b.technique.tc_frames) + 1  # the cache's pages, the vCPU page
    hv = host.machine.events("hv")
    for spt, d in ((sa, a), (sb, b)):
        rows = spt.event_rows.row.astype(int)
        assert len(rows) and (hv["domain"][rows] == d.domid).all()
    with pytest.raises(ValueError, match="no domain 'c'; the host has 1 'a', 2 'b'"):
        ShadowPageTables(host, domain="c")


# --- ShadowPageTables replaying a trace -------------------------------------------------
def _present(spt) -> list[tuple[int, ...]]:  # noqa: ANN001
    """The shadow pane's entries the shadow has (not missing, not device): every column."""
    s = spt.shadow_leaves
    s = s[~s.state.isin(["missing", "device"])]
    return sorted(zip(*(s[c].tolist() for c in s.columns), strict=True))


def _check_replay_is_live(rep, live) -> None:  # noqa: ANN001
    """A replay against the live widget of the same moment: the same address space and
    shadow; the same shadow entries in the same states (and of the guest leaves it has
    no entry for, those the trace knows); the same p2m for every page the replay shows;
    guest rows as the guest's memory holds them; the same protected frames and strip."""
    for k in ("guest_satp", "shadow_satp", "mode", "paging", "write_protect", "fills",
              "hidden_faults", "wp_faults"):
        assert rep.info[k] == live.info[k], k
    assert len(_present(rep)) > 5 and _present(rep) == _present(live)
    r, v = rep.shadow_leaves, live.shadow_leaves
    unfilled = ["missing", "device"]
    assert set(zip(r.vaddr[r.state.isin(unfilled)].tolist(),
                   r.state[r.state.isin(unfilled)], strict=True)) <= set(
        zip(v.vaddr.tolist(), v.state, strict=True))
    rp, lp = rep.p2m_pages.set_index("gpa"), live.p2m_pages.set_index("gpa")
    assert len(rp) > 5 and set(rp.index) <= set(lp.index)
    assert rp.equals(lp.loc[rp.index])  # machine, table, shadowed
    columns = ["level", "vaddr", "size", "pte_addr", "pte", "target", "protected"]
    rg, lg = rep.guest_entries, live.guest_entries
    assert len(rg) >= 3 and set(map(tuple, rg[columns].values.tolist())) <= set(
        map(tuple, lg[columns].values.tolist()))
    assert rep.protected == live.protected and rep.protected
    assert rep.event_rows.equals(live.event_rows) and len(rep.event_rows)
    assert (rep.written, rep.dropped, rep.updated) == (live.written, live.dropped,
                                                       live.updated)


@pytest.mark.parametrize("technique,options", [("trap-emulate", {}),
                                               ("hardware", {"paging": "shadow"})],
                         ids=["te-wp", "hw-shadow"])
def test_shadow_page_tables_replay_a_trace_as_the_live_widget_saw_it(technique, options):
    """Replayed from the trace at its end, the widget shows what the live one shows of
    the hypervisor's structures; at an earlier step, what a live widget of the same run
    stopped there showed (rows recorded at the stop's own step may differ: one before)."""
    from vkernel.hv import VM
    from vkernel.widgets import ShadowPageTables
    full = VM("fork-copy", technique, trace=("hv", "p2m"), **options)
    full.run(max_steps=300_000)
    ds = full.trace_dataset()
    rep = ShadowPageTables.from_trace(ds)
    assert rep.step == int(ds.hv_step.max()) and rep.trace is ds
    _check_replay_is_live(rep, ShadowPageTables(full))
    short = VM("fork-copy", technique, trace=("hv", "p2m"), **options)
    short.run(max_steps=30_000)  # (the first program: another address space)
    then = short.machine.hart.instret - 1
    assert int(short.trace_dataset().hv_step.max()) < then  # (its rows all before then)
    earlier = ShadowPageTables.from_trace(ds, then)
    _check_replay_is_live(earlier, ShadowPageTables(short))
    assert _present(earlier) != _present(rep) and earlier.info["fills"] < rep.info["fills"]
    rep.show(then)  # scrubbing back: the same as built there
    assert (rep.shadow, rep.guest, rep.p2m, rep.events) == (earlier.shadow, earlier.guest,
                                                             earlier.p2m, earlier.events)
    assert rep.step == then and "replayed from the trace at step" in rep.note


def test_shadow_page_tables_replay_needs_hv_rows_and_says_when_p2m_is_missing():
    """No hv family: a clear error. No p2m family: the note says so, pane 2 holds what
    the shadows map, and the shadow pane is still the live one's. A replay has no
    machine to run."""
    from vkernel.hv import VM
    from vkernel.widgets import ShadowPageTables
    no_hv = VM("hello", "trap-emulate", trace="p2m")
    no_hv.run(max_steps=1_000)
    with pytest.raises(TraceError, match="needs the hv family"):
        ShadowPageTables.from_trace(no_hv.trace_dataset())
    vm = VM("fork-copy", "trap-emulate", trace="hv")
    vm.run(max_steps=100_000)
    rep, live = ShadowPageTables.from_trace(vm.trace_dataset()), ShadowPageTables(vm)
    assert "no p2m family" in rep.note
    assert _present(rep) == _present(live) and rep.protected == live.protected
    shown = rep.p2m_pages
    assert len(shown) and all(vm.memory.machine_address(int(g)) == int(m)
                              for g, m in zip(shown.gpa, shown.machine, strict=True))
    with pytest.raises(ValueError, match="replays a trace"):
        rep.run(10)
    with pytest.raises(ValueError, match="no domain 'web'"):
        ShadowPageTables.from_trace(vm.trace_dataset(), domain="web")
    nested = VM("hello", "hardware", trace="hv")
    nested.run(max_steps=20_000)
    with pytest.raises(ValueError, match="keeps no shadow page tables"):
        ShadowPageTables.from_trace(nested.trace_dataset())
