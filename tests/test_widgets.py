"""MachineView's state and messages, against the machine it drives (the browser side is in
test_browser.py)."""

from __future__ import annotations

import numpy as np
import pytest
from guests import build as build_guest

from vkernel import Machine, assemble
from vkernel.widgets import MachineView


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
    assert view.regs[3] == f"{kernel.hart.x['gp']:#018x}"
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
    with pytest.raises(TypeError, match="valid ones are window, checkpoint_every"):
        MachineView(m, windw=3)
    with pytest.raises(ValueError, match="unknown command"):
        MachineView(m).do("fly")
