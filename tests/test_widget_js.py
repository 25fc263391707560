"""The widgets' front ends as text: each widget's ES module is ``widgets/common.js`` joined
to its own file (``vkernel.widgets._common.esm``), every shared helper declared once, and the
helpers' behaviour under node where it is installed (the views themselves are drawn in a
real browser in test_browser.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest

from vkernel.widgets import (
    AddressTranslation,
    MachineView,
    MemoryMap,
    RingTimeline,
    ShadowPageTables,
)
from vkernel.widgets._common import ASSETS, COMMON_JS, esm

WIDGETS = {MachineView: "machine_view.js", RingTimeline: "ring_timeline.js",
           AddressTranslation: "address_translation.js", MemoryMap: "memory_map.js",
           ShadowPageTables: "shadow_page_tables.js"}
NODE = shutil.which("node")
_OPEN, _CLOSE = "([{", ")]}"


def declared(text: str) -> list[str]:
    """The names a module declares at its top level (unindented lines): functions, classes,
    and each name of a ``const``/``let``/``var`` list (``const A = 1, B = 2``)."""
    names = []
    for line in text.splitlines():
        if m := re.match(r"(?:export\s+)?(?:async\s+)?(?:function\*?|class)\s+([\w$]+)", line):
            names.append(m[1])
        elif m := re.match(r"(?:export\s+)?(?:const|let|var)\s+(.*)", line):
            # the names at bracket depth 0: the first, and each after a comma
            depth, quote, start, rest = 0, None, 0, m[1]
            parts = []
            for i, ch in enumerate(rest):
                if quote:
                    quote = None if ch == quote and rest[i - 1] != "\\" else quote
                elif ch in "\"'`":
                    quote = ch
                elif ch in _OPEN:
                    depth += 1
                elif ch in _CLOSE:
                    depth -= 1
                elif ch == "," and depth == 0:
                    parts.append(rest[start:i])
                    start = i + 1
            parts.append(rest[start:])
            for part in parts:
                if n := re.match(r"\s*([A-Za-z_$][\w$]*)\s*=(?!=)", part):
                    names.append(n[1])
    return names


def test_declared_reads_functions_classes_and_declaration_lists():
    text = ("function el(tag) {}\nconst A = 1, B = f(2, 3), C = [4, 5];\nlet x = \"a,b=c\";\n"
            "  const inner = 1;\nclass K {}\nconst S = [\"x\",\n  \"y\"];\n")
    assert declared(text) == ["el", "A", "B", "C", "x", "K", "S"]


def test_each_widget_loads_common_js_joined_to_its_own_file():
    common = (ASSETS / COMMON_JS).read_text()
    for cls, name in WIDGETS.items():
        text = cls._esm
        assert isinstance(text, str) and text == esm(name), cls.__name__
        assert text.index(common) < text.index((ASSETS / name).read_text())
        assert len(re.findall(r"^export default\b", text, re.M)) == 1
        assert not re.search(r"^export\b", common, re.M)
        assert not re.search(r"^\s*import\b", text, re.M)


def test_shared_helpers_are_declared_once():
    """common.js provides el, rows, hex, fmt, ...; no widget's file declares one of them
    again (in one module a second const or function of a name is a SyntaxError), and the
    joined module declares every name once."""
    shared = declared((ASSETS / COMMON_JS).read_text())
    assert {"el", "rows", "floatRows", "bytesOf", "hex", "fmt", "everyFrame", "onChanges",
            "drawOnChanges"} <= set(shared)
    assert len(shared) == len(set(shared)), shared
    for name in WIDGETS.values():
        own = declared((ASSETS / name).read_text())
        assert "render" in own
        assert not set(own) & set(shared), (name, sorted(set(own) & set(shared)))
        names = declared(esm(name))
        assert sorted(names) == sorted(shared + own)
        twice = sorted({n for n in names if names.count(n) > 1})
        assert not twice, (name, twice)
    # and each is used by a widget: none is left behind
    bodies = "\n".join((ASSETS / n).read_text() for n in WIDGETS.values())
    assert not [h for h in shared if not re.search(rf"\b{re.escape(h)}\b", bodies)]


@pytest.mark.skipif(NODE is None, reason="node is not installed")
@pytest.mark.parametrize("name", sorted(WIDGETS.values()))
def test_each_joined_module_parses_as_an_es_module(name, tmp_path):
    path = tmp_path / name.replace(".js", ".mjs")
    path.write_text(esm(name))
    run = subprocess.run([NODE, "--check", str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.skipif(NODE is None, reason="node is not installed")
def test_shared_helpers_behave_as_the_copies_they_replace(tmp_path):
    """rows: little-endian uint64 rows as BigInt, from a DataView or an ArrayBuffer;
    floatRows: float64 rows from an unaligned DataView; hex and fmt of Numbers and BigInts
    (fmt rounds and never says -0); everyFrame draws once for many calls."""
    script = (ASSETS / COMMON_JS).read_text() + r"""
const out = {};
const u = new BigUint64Array([1n, 2n, 0xffffffffffffffffn, 4n, 5n, 6n, 7n]);
const bytes = new Uint8Array(8 + u.byteLength);
bytes.set(new Uint8Array(u.buffer), 8);
const dv = new DataView(bytes.buffer, 8, u.byteLength);  // like a Bytes trait's DataView
out.rows = rows(dv, 3).map((r) => r.map(String));
out.rowsBuffer = rows(u.buffer, 2).map((r) => r.map(String));
out.rowsNone = [rows(null, 3).length, rows(new DataView(new ArrayBuffer(0)), 3).length];
const f = new Float64Array([1.5, -2, 3, 4, 5, 6]);
const fb = new Uint8Array(3 + f.byteLength);
fb.set(new Uint8Array(f.buffer), 3);
out.floatRows = floatRows(new DataView(fb.buffer, 3, f.byteLength), 2).map((r) => Array.from(r));
out.floatNone = floatRows(undefined, 2).length;
out.bytes = Array.from(bytesOf(new DataView(fb.buffer, 1, 2)));
out.hex = [hex(255), hex(0xffffffffffffffffn), hex(5n, 16), hex(0x80000000, 4)];
out.fmt = [fmt(1234567), fmt(12345678901234567n), fmt(-0.2), fmt(2.5), fmt(NaN), fmt(-1500)];
let drawn = 0, pending = [];
globalThis.requestAnimationFrame = (fn) => pending.push(fn);
globalThis.cancelAnimationFrame = () => { pending = []; };
const schedule = everyFrame(() => drawn++);
schedule(); schedule(); schedule();
out.queued = pending.length;
pending.splice(0).forEach((fn) => fn());
schedule(); schedule.cancel();
out.drawn = [drawn, pending.length];
console.log(JSON.stringify(out));
"""
    path = tmp_path / "helpers.mjs"
    path.write_text(script)
    run = subprocess.run([NODE, str(path)], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    got = json.loads(run.stdout)
    assert got["rows"] == [["1", "2", str(2**64 - 1)], ["4", "5", "6"]]  # 7 is a partial row
    assert got["rowsBuffer"] == [["1", "2"], [str(2**64 - 1), "4"], ["5", "6"]]
    assert got["rowsNone"] == [0, 0]
    assert got["floatRows"] == [[1.5, -2], [3, 4], [5, 6]] and got["floatNone"] == 0
    assert got["bytes"] == [0, 0]
    assert got["hex"] == ["0xff", "0xffffffffffffffff", "0x0000000000000005", "0x80000000"]
    assert got["fmt"] == ["1,234,567", "12,345,678,901,234,568", "0", "3", "0", "-1,500"]
    assert got["queued"] == 1 and got["drawn"] == [1, 0]
