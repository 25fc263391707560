"""Charts of a trace: what each figure plots is what the trace says, in the shared palette."""

from __future__ import annotations

import numpy as np
import pytest
from guests import build as build_guest

from vkernel import Machine, TraceError, assemble, plots
from vkernel.isa.csr import cause_name
from vkernel.trace.schema import MODE


@pytest.fixture(scope="module")
def ds():
    m = Machine(ram_mb=4, trace={"families": "all", "sample_every": 256})
    m.load(build_guest("tiny_kernel"))
    assert m.run(max_steps=100_000).reason == "halt"
    return m.trace_dataset()


def test_residency_bars_are_the_modes_of_each_slice(ds):
    fig = plots.residency(ds, bins=10)
    (bars,) = fig.marks
    assert bars.labels == ["U", "S", "M"] and bars.type == "stacked"
    assert bars.colors == [plots.MODE_COLOURS[m] for m in ("U", "S", "M")]
    share = np.asarray(bars.y)
    assert np.allclose(share.sum(axis=0), 1)
    width = int(bars.x[1] - bars.x[0])
    mode = ds.step_mode.values
    for i, start in enumerate(np.asarray(bars.x, dtype=int)):
        part = mode[start:start + width]
        for j, name in enumerate(bars.labels):
            code = {v: k for k, v in MODE.items()}[name]
            assert share[j, i] == pytest.approx(np.count_nonzero(part == code) / part.size)
    assert fig.title and [a.label for a in fig.axes] == ["step", "share of steps"]


def test_trap_rate_lines_count_every_trap(ds):
    fig = plots.trap_rate(ds, bins=5)
    (lines,) = fig.marks
    causes = sorted(set(ds.trap_cause.values.tolist()))
    assert lines.labels == [cause_name(c) for c in causes]
    x = np.asarray(lines.x, dtype=int)
    span = np.minimum(x + (x[1] - x[0]), ds.sizes["step"]) - x
    counts = np.asarray(lines.y) * span / 1000
    for row, c in zip(counts, causes, strict=True):
        assert round(row.sum()) == np.count_nonzero(ds.trap_cause.values == c)


def test_tlb_hit_rate_is_the_sampled_intervals(ds):
    fig = plots.tlb_hit_rate(ds)
    (lines,) = fig.marks
    iv = ds.vk.intervals()
    np.testing.assert_array_equal(np.asarray(lines.y)[0], iv["tlb_hit_rate"].values)
    np.testing.assert_array_equal(np.asarray(lines.x), iv["start"].values)
    assert lines.labels == ["hit rate", "miss rate"]


def test_plots_need_their_families():
    m = Machine(ram_mb=1, trace=("trap",))
    m.load(assemble("ebreak"))
    m.run(max_steps=1)
    ds = m.trace_dataset()
    with pytest.raises(TraceError, match="needs the 'step' family"):
        plots.residency(ds)
    with pytest.raises(TraceError, match="needs the 'sample' family"):
        plots.tlb_hit_rate(ds)
    assert len(plots.trap_rate(ds).marks[0].labels) == 1


def _contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio of two sRGB colours."""
    def lum(h: str) -> float:
        c = [int(h[i:i + 2], 16) / 255 for i in (1, 3, 5)]
        c = [x / 12.92 if x <= 0.03928 else ((x + 0.055) / 1.055) ** 2.4 for x in c]
        return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2]
    hi, lo = sorted((lum(a), lum(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.mark.parametrize("background", ["#ffffff", "#111111"])  # JupyterLab light, dark
def test_palette_reads_on_light_and_dark(background):
    for i, colour in enumerate(plots.PALETTE):
        assert _contrast(colour, background) >= (3.0 if i < 4 else 2.2), colour
    for mode in ("U", "S", "M"):
        assert _contrast(plots.MODE_COLOURS[mode], background) >= 3.0
    assert len(set(plots.MODE_COLOURS.values())) == len(plots.MODE_COLOURS)
