"""Hand-written corpus (every directive, expression operator and relocation function)
against GNU as + ld, section by section and symbol by symbol."""

from __future__ import annotations

from pathlib import Path

import pytest

from vkernel import assemble

CORPUS = sorted((Path(__file__).parent / "corpus").glob("*.s"))


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: p.name)
def test_corpus_matches_gnu_as(gnu, path: Path) -> None:  # noqa: ANN001
    source = path.read_text()
    prog = assemble(source)
    built = gnu.build(source, {name: s.addr for name, s in prog.sections.items()})
    assert set(built.sections) == set(prog.sections)
    for name, section in prog.sections.items():
        assert built.addrs[name] == section.addr
        if section.nobits:
            assert len(built.sections[name]) == 0 or built.sections[name] == section.data
            continue
        assert section.data == built.sections[name], name
    for name, value in prog.symbols.items():
        assert built.symbols.get(name) == value, name


def test_rodata_shorthand_is_section_rodata() -> None:
    # `.rodata` alone is our shorthand; GNU as spells it `.section .rodata`
    a = assemble(".rodata\nx: .word 1")
    b = assemble(".section .rodata\nx: .word 1")
    assert a.sections[".rodata"].data == b.sections[".rodata"].data == b"\1\0\0\0"
    assert a.symbols == b.symbols
