"""Every self-checking guest program passes (reports 1 through HTIF)."""

from __future__ import annotations

import pytest

from tests.guests import check_number, guest_names, run_guest


@pytest.mark.parametrize("name", guest_names())
def test_guest_passes(name):
    m, ex = run_guest(name)
    assert ex.reason == "halt", f"{name}: {ex!r} (gp={m.hart.x['gp']}) console={m.console!r}"
    assert ex.exit_code == 0, f"{name}: {check_number(ex.exit_code)}"
