"""The self-checking guest programs in tests/guests/: every one passes (reports 1 through
HTIF) and still makes all its checks; GNU as makes the same bytes of each (they share
prelude.s, h_framework.inc, trap_handler.inc and paging.inc by .include); an error in a
shared file names that file and the guest's line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.guests import GUEST_DIR, build, check_number, guest_names, run_guest
from vkernel import AsmError, assemble


@pytest.mark.parametrize("name", guest_names())
def test_guest_passes(name):
    m, ex = run_guest(name)
    assert ex.reason == "halt", f"{name}: {ex!r} (gp={m.hart.x['gp']}) console={m.console!r}"
    assert ex.exit_code == 0, f"{name}: {check_number(ex.exit_code)}"


# The checks each guest makes (distinct non-zero values its gp takes), as counted when the
# guests' trap handlers moved into trap_handler.inc: sharing code must not lose a check.
CHECKS = {"atomics": 53, "base_alu": 7, "csr_warl": 82, "every_insn": 182, "h_csrs": 61,
          "h_hfence": 23, "h_hlv": 31, "h_traps": 51, "h_twostage": 54, "h_virtinst": 42,
          "interrupts": 37, "misaligned": 137, "sfence": 22, "sv39": 57, "sv39_ad": 24,
          "tiny_kernel": 9, "traps": 45}


def test_every_guest_has_a_check_count():
    assert set(CHECKS) == set(guest_names())


@pytest.mark.parametrize("name", guest_names())
def test_guest_makes_all_its_checks(name):
    m, ex = run_guest(name, trace=("write",))
    assert (ex.reason, ex.exit_code) == ("halt", 0), f"{name}: {check_number(ex.exit_code)}"
    w = m.events("write")
    gp = {int(v) for k, r, v in zip(w["kind"], w["target"], w["value"], strict=True)
          if int(k) == 0 and int(r) == 3}  # x-register writes to x3 (gp)
    gp.discard(0)
    assert len(gp) >= CHECKS[name], f"{name} made {len(gp)} checks, {CHECKS[name]} before"


def test_error_in_a_shared_macro_names_the_include_and_the_guest_line():
    path = GUEST_DIR / "sv39.s"
    lines = path.read_text().splitlines()
    (n,) = [i for i, line in enumerate(lines) if line.strip() == "mtrap_resuming ualias=UALIAS"]
    lines[n] = "    mtrap_resuming ualias=NO_SUCH"
    with pytest.raises(AsmError) as info:
        assemble("\n".join(lines), filename=str(path), include_dirs=[GUEST_DIR])
    e = info.value
    assert Path(e.filename).name == "trap_handler.inc"
    assert "\\ualias" in (GUEST_DIR / "trap_handler.inc").read_text().splitlines()[e.line - 1]
    assert [(Path(f).name, line) for f, line, _ in e.context] == [("sv39.s", n + 1)]


# a line whose instruction is an explicit compressed one (c.ebreak, c.addi ...)
EXPLICIT_C = re.compile(r"^\s*(?:\w+:\s*)*c\.[a-z]")


def for_gnu_as(source: str) -> str:
    """The guest as GNU as must see it to make vkernel's bytes: vkernel compresses nothing
    unless told (.option rvc), GNU as (run with C, for the explicit c.* instructions)
    compresses everything it can unless told .option norvc, which also refuses the explicit
    c.* instructions: those lines get .option rvc around them."""
    lines = [".option norvc"]
    for line in source.splitlines():
        if EXPLICIT_C.match(line.split("#", 1)[0]):
            lines += [".option rvc", line, ".option norvc"]
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("name", guest_names())
def test_guest_is_what_gnu_as_makes(name, gnu):
    """GNU as (-I tests/guests, as for the QEMU runs) + ld give the same bytes and symbols:
    the guests, what they include and the shared macros are GNU as source, not a vkernel
    dialect."""
    prog = build(name)
    source = for_gnu_as((GUEST_DIR / f"{name}.s").read_text())
    built = gnu.build(source, {n: s.addr for n, s in prog.sections.items()}, [GUEST_DIR])
    assert prog.sections[".text"].data, name
    for section, data in prog.sections.items():
        if not data.nobits:
            assert data.data == built.sections[section], f"{name}: {section} differs"
    assert {s: built.symbols.get(s) for s in prog.symbols} == prog.symbols
