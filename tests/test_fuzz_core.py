"""The core survives anything: random instruction words in M, S and U mode, random CSRs and
random Sv39 page tables never crash or hang the host, never write outside the machine's
arrays, and leave an architecturally sane state (see ``tests/fuzz.py`` for the checks).

``VKERNEL_FUZZ_EXAMPLES`` sets the number of random cases (default 450); for long runs use
``benchmarks/fuzz_core.py --seconds N``.
"""

from __future__ import annotations

import os
import random

import pytest
from fuzz import (
    RAM_BASE,
    Case,
    build,
    guards_intact,
    make_case,
    run_case,
    storm_case,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vkernel import Machine
from vkernel.core import kernel as K

EXAMPLES = int(os.environ.get("VKERNEL_FUZZ_EXAMPLES", "450"))
HANG_SECONDS = 300  # one case (milliseconds normally) running this long is a hang


@pytest.fixture(scope="module", autouse=True)
def _warm():
    """Compile (or load) the core before hypothesis starts timing examples."""
    run_case(make_case(random.Random(0), budget=10))


@pytest.mark.parametrize("mode", ["M", "S", "U", "VS", "VU"])
@settings(max_examples=max(1, EXAMPLES // 5), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(seed=st.integers(0, 2**64 - 1))
def test_random_machines_stay_sane(mode, seed):
    case = make_case(random.Random(seed))
    case.mode = mode
    result = run_case(case, hang_seconds=HANG_SECONDS)
    assert result.steps == case.budget or result.exit_reason == "halt"


@pytest.mark.parametrize("mode", ["M", "S", "U"])
def test_trap_storm_on_unmapped_vector_ends_with_the_budget(mode):
    """mtvec (and stvec) point where nothing is mapped: every step is a fetch fault."""
    case = storm_case(mode, budget=150_000)
    result = run_case(case, hang_seconds=HANG_SECONDS)
    assert result.exit_reason == "budget"
    assert result.retired == 0
    assert result.traps == {K.EXC_FETCH_ACCESS: 150_000}


def test_trap_storm_of_page_faults_ends_with_the_budget():
    """S-mode with an empty Sv39 root table and page faults delegated to S: every fetch,
    the one at the trap vector too, is a page fault (one walk row each)."""
    case = storm_case("S", budget=20_000, kind="page")
    case.record += ("walk",)
    m, _ = build(case)
    assert m.run(max_steps=20_000).reason == "budget"
    result = run_case(case)
    assert result.exit_reason == "budget"
    assert result.traps == {K.EXC_FETCH_PAGE: 20_000}
    assert len(m.events("walk")["vaddr"]) == 20_000


def test_trap_storm_without_recording_ends_with_the_budget():
    case = storm_case("M", budget=1_000_000)
    case.record = ()
    m, _ = build(case)
    ex = m.run(max_steps=1_000_000)
    assert (ex.reason, ex.step, ex.pc) == ("budget", 0, 0x1000)
    assert m.hart.csr["mcause"] == K.EXC_FETCH_ACCESS


def test_interrupt_storm_ends_with_the_budget():
    """A pending, enabled machine software interrupt whose handler is `mret`: every other
    step is the interrupt again."""
    mret = (0x30200073).to_bytes(4, "little")
    case = Case(code=mret, memory=[], regs=[0] * 31,
                csrs={"mtvec": RAM_BASE, "mie": 1 << K.IRQ_SSI, "mip": 1 << K.IRQ_SSI,
                      "mstatus": K.MSTATUS_MPIE, "mepc": RAM_BASE},
                mode="U", pc=RAM_BASE + 0x100, budget=10_001)
    result = run_case(case)
    assert result.exit_reason == "budget"
    assert result.traps == {(1 << 63) | K.IRQ_SSI: 5_001}
    assert result.retired == 5_000


def test_guard_zones_catch_a_stray_write():
    """The harness itself: a write just past RAM (or before the registers) is noticed."""
    m, guarded = build(storm_case(budget=1))
    assert guards_intact(guarded)
    big, pad, n = guarded[Machine._ARRAYS.index("_ram")]
    assert m.mem.read(RAM_BASE, 1) == b"\0" and not big[pad]
    big[pad + n] ^= 1
    assert not guards_intact(guarded)
    big[pad + n] ^= 1
    big, pad, n = guarded[Machine._ARRAYS.index("_x")]
    big[pad - 1] = 0
    assert not guards_intact(guarded)
