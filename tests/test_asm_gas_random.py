"""Seeded random programs, assembled by vkernel and by GNU as + ld, must give the same bytes.

They exercise every table entry, the pseudo-instructions, and the choice of compressed
form and branch relaxation as GNU as makes them (see ``corpus.py``).
"""

from __future__ import annotations

import pytest
from corpus import pseudo_program, table_program

from vkernel import assemble


def _first_divergence(ours: dict[str, int], theirs: dict[str, int], source: str) -> str:
    for line in source.split("\n"):
        label = line.split(":", 1)[0]
        if label.startswith("L") and ours.get(label) != theirs.get(label):
            return f"first label at a different address: {line!r}"
    return "no label moved"


@pytest.mark.parametrize("make", [table_program, pseudo_program])
@pytest.mark.parametrize("seed", range(4))
def test_random_program_matches_gnu_as(gnu, make, seed: int) -> None:  # noqa: ANN001
    source = make(seed)
    prog = assemble(source)
    sections = {name: s.addr for name, s in prog.sections.items()}
    theirs = gnu.build(source, sections)
    for name, section in prog.sections.items():
        expected = theirs.sections[name]
        if section.data != expected:
            at = next((i for i, (a, b) in enumerate(zip(section.data, expected, strict=False))
                       if a != b), min(len(section.data), len(expected)))
            pytest.fail(f"{make.__name__}({seed}) {name} differs at {section.addr + at:#x} "
                        f"(ours {section.data[at:at + 8].hex()}, GNU {expected[at:at + 8].hex()}); "
                        + _first_divergence(prog.symbols, theirs.symbols, source))
    labels = {k: v for k, v in prog.symbols.items() if k.startswith("L")}
    assert labels == {k: theirs.symbols[k] for k in labels}


def _boundary_program(rvc: bool) -> str:
    """Branches and jumps whose targets sit just inside and just outside each range."""
    lines = [".option norvc", ".option rvc" if rvc else "", ".text", "start:"]
    for gap in (250, 252, 254, 256, 258, 2040, 2044, 2046, 2048, 4086, 4090, 4094, 4096, 4098):
        for i, branch in enumerate(("beqz a0", "bnez s1", "beq a0, a1", "blt t0, t1", "j")):
            label = f"f{gap}_{i}"
            lines += [f"{branch}, {label}" if branch != "j" else f"j {label}",
                      f".zero {gap}", f"{label}: nop"]
            back = f"b{gap}_{i}"
            lines += [f"{back}: nop", f".zero {gap}",
                      f"{branch}, {back}" if branch != "j" else f"j {back}"]
    lines.append("end: nop")
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("rvc", [False, True])
def test_branch_relaxation_at_range_boundaries(gnu, rvc: bool) -> None:  # noqa: ANN001
    source = _boundary_program(rvc)
    prog = assemble(source)
    theirs = gnu.build(source, {name: s.addr for name, s in prog.sections.items()})
    assert prog.sections[".text"].data == theirs.sections[".text"]
    assert {k: v for k, v in prog.symbols.items()} == \
        {k: theirs.symbols[k] for k in prog.symbols}
