"""Assembler behaviour that the GNU-as differential test does not pin down: layout,
symbols, entry point, source-line map, determinism."""

from __future__ import annotations

from vkernel import assemble

SOURCE = """\
        .globl _start
        .text
_start: la    a0, message       # address of the string
        lw    a1, counter
        call  helper
        ret
helper: addi  a1, a1, 1
        ret
        .rodata
message: .asciz "hello"
        .data
counter: .word 41
        .bss
buffer:  .zero 64
        .equ  LENGTH, buffer_end - buffer
buffer_end:
"""


def test_sections_are_placed_page_by_page_from_base() -> None:
    prog = assemble(SOURCE, base=0x8020_0000)
    sections = prog.sections
    assert list(sections) == [".text", ".rodata", ".data", ".bss"]
    assert [hex(s.addr) for s in sections.values()] == [
        "0x80200000", "0x80201000", "0x80202000", "0x80203000"]
    assert sections[".rodata"].data == b"hello\0"
    assert sections[".data"].data == (41).to_bytes(4, "little")
    assert sections[".bss"].nobits and sections[".bss"].data == bytes(64)
    assert sections[".text"].executable and not sections[".text"].writable
    assert sections[".data"].writable and not sections[".rodata"].writable


def test_symbols_entry_globals_and_equ() -> None:
    prog = assemble(SOURCE)
    assert prog.entry == prog.symbols["_start"] == 0x8000_0000
    assert prog.symbols["message"] == 0x8000_1000
    assert prog.symbols["LENGTH"] == 64
    assert prog.symbols["helper"] == 0x8000_0000 + 4 * (2 + 2 + 2 + 1)
    assert prog.globals == {"_start"}
    assert prog.symbol_at(0x8000_0000) == "_start"


def test_entry_defaults_to_text_start_without_start_symbol() -> None:
    prog = assemble(".data\n.word 1\n.text\nnop")
    assert prog.entry == prog.sections[".text"].addr


def test_la_and_call_resolve_pc_relative() -> None:
    prog = assemble(SOURCE)
    text = prog.sections[".text"].data
    words = [int.from_bytes(text[i:i + 4], "little") for i in range(0, len(text), 4)]
    auipc, addi = words[0], words[1]
    hi = auipc >> 12
    lo = (addi >> 20) - (1 << 12 if addi >> 31 else 0)
    assert 0x8000_0000 + (hi << 12) + lo == prog.symbols["message"]


def test_line_map_points_every_instruction_at_its_source_line() -> None:
    prog = assemble(SOURCE)
    assert prog.lines[0x8000_0000] == 3          # la expands to two instructions
    assert prog.lines[0x8000_0004] == 3
    assert prog.lines[prog.symbols["helper"]] == 7


def test_option_push_pop_restores_compression() -> None:
    prog = assemble(".option push\n.option rvc\naddi a0, a0, 1\n.option pop\naddi a0, a0, 1")
    assert prog.sections[".text"].data.hex() == "0505" + "13051500"


def test_same_source_gives_same_bytes() -> None:
    a, b = assemble(SOURCE), assemble(SOURCE)
    assert {n: (s.addr, s.data) for n, s in a.sections.items()} == \
        {n: (s.addr, s.data) for n, s in b.sections.items()}
    assert a.symbols == b.symbols


def test_numeric_local_labels_bind_to_nearest() -> None:
    prog = assemble("1: nop\n1: j 1b\n j 1f\n1: nop")
    text = prog.sections[".text"].data
    # j 1b at +4 jumps back to +4 (offset 0); j 1f at +8 jumps to +12 (offset 4)
    assert int.from_bytes(text[4:8], "little") == 0x0000006F
    assert int.from_bytes(text[8:12], "little") == 0x0040006F


def test_sections_of_a_kind_keep_their_order_of_first_use() -> None:
    prog = assemble('.section .text.init, "ax"\n_start: nop\n.text\nmain: ret\n'
                    '.data\n.word 1\n.section .tohost, "aw"\ntohost: .dword 0')
    assert list(prog.sections) == [".text.init", ".text", ".data", ".tohost"]
    assert prog.entry == prog.sections[".text.init"].addr == 0x8000_0000


def test_segments_are_the_loadable_bytes_in_address_order() -> None:
    prog = assemble(".data\nd: .word 7\n.text\nnop\n.bss\n.zero 8")
    assert prog.segments() == [(0x8000_0000, bytes.fromhex("13000000")),
                               (0x8000_1000, (7).to_bytes(4, "little")),
                               (0x8000_2000, bytes(8))]
