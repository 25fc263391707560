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
    # the axis fits the shares: 0 to 100 %, no headroom
    assert (bars.scales["y"].min, bars.scales["y"].max) == (0, 1)
    assert fig.axes[1].tick_format == ".0%"
    width = int(bars.x[1] - bars.x[0])
    mode = ds.step_mode.values
    for i, start in enumerate(np.asarray(bars.x, dtype=int)):
        part = mode[start:start + width]
        for j, name in enumerate(bars.labels):
            code = {v: k for k, v in MODE.items()}[name]
            assert share[j, i] == pytest.approx(np.count_nonzero(part == code) / part.size)
    assert fig.title and [a.label for a in fig.axes] == ["step", "share of steps"]


def test_residency_lists_only_the_modes_that_occur():
    m = Machine(ram_mb=1, trace=("step", "trap"))
    m.load(assemble("li t0, 100\n1: addi t0, t0, -1\nbnez t0, 1b\nebreak"))
    m.run(max_steps=300)
    (bars,) = plots.residency(m.trace_dataset(), bins=5).marks
    assert bars.labels == ["M"] and bars.colors == [plots.MODE_COLOURS["M"]]
    assert np.allclose(np.asarray(bars.y), 1)


def test_legend_text_is_the_themes_text_colour(ds):
    """bqplot draws legend text in the series' colour; vkernel's figures override it with
    the theme's text colour (the swatch keeps the series' colour)."""
    for fig in (plots.residency(ds), plots.trap_rate(ds), plots.tlb_hit_rate(ds)):
        assert fig.legend_text == plots.LEGEND_TEXT
        assert fig.legend_text["fill"].startswith("var(--jp-ui-font-color1")
    assert plots.tlb_hit_rate(ds).marks[0].scales["y"].max == 1


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


# JupyterLab's backgrounds: light (white), dark (--jp-layout-color1 #212121 behind a
# widget, --jp-layout-color0 #111 behind that)
@pytest.mark.parametrize("background", ["#ffffff", "#212121", "#111111"])
def test_every_colour_reads_on_light_and_dark(background):
    for colour in plots.PALETTE:
        assert _contrast(colour, background) >= 3.0, colour  # WCAG 2: graphics


def test_one_palette_lanes_and_marks_apart():
    """Modes (a timeline's lanes) and causes (its marks) take distinct colours of the one
    palette; the widgets' CSS states no colour of its own."""
    modes, causes = set(plots.MODE_COLOURS.values()), set(plots.CAUSE_COLOURS.values())
    assert len(modes) == len(plots.MODE_COLOURS) and len(causes) == len(plots.CAUSE_COLOURS)
    assert not modes & causes
    assert modes | causes <= set(plots.PALETTE) and len(set(plots.PALETTE)) == len(plots.PALETTE)
    import re
    from pathlib import Path
    css = (Path(plots.__file__).parent.parent / "widgets" / "vkernel.css").read_text()
    # hex colours outside var(..., fallback): the badges and outlines, all the palette's
    own = re.findall(r"(?<!, )#[0-9A-Fa-f]{6}\b", css)
    assert own and {c.upper() for c in own} <= set(plots.PALETTE), own
    for mode in plots.MODE_COLOURS:
        badge = re.search(rf"\.vk-mode-{mode} {{ background: (#[0-9A-Fa-f]{{6}})", css)
        assert badge and badge.group(1).upper() == plots.MODE_COLOURS[mode]


def test_timeline_colours_come_from_the_palette_groups():
    from vkernel.widgets import NEUTRAL, _cause_colour, _exit_colour
    c = plots.CAUSE_COLOURS
    assert _cause_colour("exception", 8) == c["system call"]
    assert _cause_colour("exception", 9) == c["call down"]
    assert _cause_colour("exception", 13) == c["page fault"]
    assert _cause_colour("interrupt", 1 << 63 | 5) == c["interrupt"]
    assert _cause_colour("exception", 2) == c["instruction"]
    assert _cause_colour("return", 0) == NEUTRAL
    assert _exit_colour("vm_exit", 10, "sbi_call") == c["call down"]
    assert _exit_colour("vm_exit", 13, "shadow_update") == c["page fault"]  # hidden fault
    assert _exit_colour("vm_exit", 8, "injection") == c["system call"]  # reflected ecall
    assert _exit_colour("vm_exit", 2, "emulation") == c["instruction"]


def test_share_plot_stacks_each_domains_share_and_idle_on_top():
    from vkernel.hv import Host
    from vkernel.hv.consolidation import duty_cycle

    host = Host(machine_mb=32)
    host.create("null-syscall", "hardware", memory_mb=8, n=50, name="web")
    host.create(duty_cycle(1, 4), "hardware", memory_mb=4, name="cron")
    host.run(max_steps=600_000)
    usage = host.usage(interval_ms=10)
    fig = plots.share_plot(usage)
    (bars,) = fig.marks
    assert bars.labels == ["web", "cron", "idle"] and bars.type == "stacked"
    share = np.asarray(bars.y)
    np.testing.assert_array_equal(share[:2], usage["cpu"].values)
    np.testing.assert_array_equal(share[2], usage["idle"].values)
    np.testing.assert_allclose(share.sum(axis=0), 1, atol=1e-12)
    assert share[2].max() > 0.5  # web shut down early: then cron sleeps most of the time
    np.testing.assert_array_equal(np.asarray(bars.x), usage["start_ms"].values)
    assert bars.colors == [plots.PALETTE[0], plots.PALETTE[1], plots.PALETTE[-1]]
    assert [a.label for a in fig.axes] == ["host time (ms)", "share of the CPU"]
    assert (bars.scales["y"].min, bars.scales["y"].max) == (0, 1)
    assert bars.display_legend and fig.legend_text == plots.LEGEND_TEXT


def test_consolidation_plot_is_the_packing_of_the_demands():
    demands = {"web": 0.3, "db": 0.5, "mail": 0.4, "batch": 0.9}
    fig = plots.consolidation(demands)
    bars, line = fig.marks
    assert bars.labels == ["batch", "db", "mail", "web"]  # host 1: batch; 2: db, mail; 3
    load = np.asarray(bars.y)
    np.testing.assert_allclose(load, [[0.9, 0, 0], [0, 0.5, 0], [0, 0.4, 0], [0, 0, 0.3]])
    assert np.asarray(bars.x).tolist() == [1, 2, 3]
    assert line.labels == ["capacity"] and np.asarray(line.y).tolist() == [1.0, 1.0]
    assert (load.sum(axis=0) <= 1).all()
