"""Charts of a trace: bqplot figures that take a trace Dataset and return a Figure.

Colours come from :data:`PALETTE`, the Okabe–Ito colour-blind-safe set without its black
and yellow (each vanishes on one of JupyterLab's light and dark themes). The first four
keep a 3:1 contrast (WCAG's bar for graphics) on both themes and go to the privilege modes
U, S and M first; the last two reach 2.2:1 on white. Every series also carries a text label
in the legend, so colour is never the only cue.

>>> import vkernel
>>> from vkernel import plots
>>> m = vkernel.Machine(ram_mb=1, trace="all")
>>> _ = m.load(vkernel.assemble("li t0, 1000\\n1: addi t0, t0, -1\\nbnez t0, 1b\\nebreak"))
>>> _ = m.run(max_steps=2003)
>>> fig = plots.residency(m.trace_dataset(), bins=4)
>>> [mark.labels for mark in fig.marks]
[['U', 'S', 'M']]
"""

from __future__ import annotations

import numpy as np
import xarray as xr

from vkernel.errors import TraceError
from vkernel.isa.csr import cause_name
from vkernel.trace.schema import MODE, mode_names

# Okabe & Ito (2008), "Color Universal Design": the six that read on white and on dark grey
PALETTE = ("#0072B2", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#E69F00")
# one colour per privilege mode, kept by every view (plots, timelines, widgets)
MODE_COLOURS = {"U": "#0072B2", "S": "#009E73", "M": "#D55E00", "VU": "#56B4E9",
                "VS": "#CC79A7"}


def _bins(ds: xr.Dataset, bins: int) -> tuple[int, int, int]:
    """First step, last step + 1, and bin width covering the recorded steps."""
    if "step" in ds.dims and ds.sizes["step"]:
        lo, hi = int(ds["step"][0]), int(ds["step"][-1]) + 1
    else:
        counters = ds.vk.recording.get("counters", {}).get("instret", [0, 0])
        lo, hi = int(counters[0]), int(counters[1])
    if bins < 1:
        raise TraceError(f"bins must be a positive number, not {bins}")
    width = max(1, -(-(hi - lo) // bins))
    return lo, hi, width


def _figure(marks: list, title: str, x_label: str, y_label: str,
            scales: dict):  # noqa: ANN202 - a bqplot Figure
    import bqplot as bq

    ax_x = bq.Axis(scale=scales["x"], label=x_label, tick_format="~s")
    ax_y = bq.Axis(scale=scales["y"], label=y_label, side="left")
    return bq.Figure(marks=marks, axes=[ax_x, ax_y], title=title, legend_location="top-right",
                     legend_style={"fill": "none", "stroke": "none"},
                     fig_margin={"top": 50, "bottom": 50, "left": 60, "right": 20})


def residency(ds: xr.Dataset, bins: int = 100):  # noqa: ANN201 - a bqplot Figure
    """Share of the steps spent in each privilege mode, over the run: stacked bars of
    ``bins`` equal slices of the recorded steps. Needs the ``step`` family."""
    import bqplot as bq

    ds.vk._need("step", "residency()")
    lo, hi, width = _bins(ds, bins)
    mode = ds["step_mode"].values
    steps = ds["step"].values
    b = (steps - lo) // width
    n = int(b.max()) + 1 if b.size else 0
    names = mode_names(np.unique(mode))
    value = {name: code for code, name in MODE.items()}
    counts = np.array([np.bincount(b[mode == value[nm]], minlength=n) for nm in names],
                      dtype=float)
    total = counts.sum(axis=0)
    share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    x = lo + np.arange(n) * width
    # headroom above the bars (they always reach 1) keeps the legend off the data
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0, max=1.25)}
    bars = bq.Bars(x=x, y=share, type="stacked", scales=scales, labels=names,
                   colors=[MODE_COLOURS[nm] for nm in names], display_legend=True,
                   padding=0, tooltip=bq.Tooltip(fields=["x", "y"], labels=["step", "share"]))
    return _figure([bars], "Time in each privilege mode", "step", "share of steps", scales)


def trap_rate(ds: xr.Dataset, bins: int = 100):  # noqa: ANN201 - a bqplot Figure
    """Traps per thousand steps, one line per cause, over ``bins`` slices of the run.
    Needs the ``trap`` family."""
    import bqplot as bq

    ds.vk._need("trap", "trap_rate()")
    lo, hi, width = _bins(ds, bins)
    n = max(2, -(-(hi - lo) // width))  # a line needs two points
    x = lo + np.arange(n) * width
    span = np.maximum(np.minimum(x + width, hi) - x, 1)  # the last slice may be shorter
    cause = ds["trap_cause"].values
    b = np.clip((ds["trap_step"].values - lo) // width, 0, n - 1)
    causes = np.unique(cause)
    rates = np.array([1000 * np.bincount(b[cause == c], minlength=n) / span for c in causes])
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0)}
    lines = bq.Lines(x=x, y=rates if causes.size else np.zeros((0, n)), scales=scales,
                     labels=[cause_name(int(c)) for c in causes],
                     colors=[PALETTE[i % len(PALETTE)] for i in range(causes.size)],
                     display_legend=True, marker="circle", marker_size=16)
    return _figure([lines], "Traps per thousand steps, by cause", "step",
                   "traps per 1000 steps", scales)


def tlb_hit_rate(ds: xr.Dataset):  # noqa: ANN201 - a bqplot Figure
    """The TLB's hit rate in each interval of the ``sample`` family (every
    ``sample_every`` steps), with the share of lookups that missed as a second line."""
    import bqplot as bq

    iv = ds.vk.intervals()
    x = iv["start"].values
    hit = iv["tlb_hit_rate"].values
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0, max=1.25)}
    lines = bq.Lines(x=x, y=np.vstack([hit, 1 - hit]), scales=scales,
                     labels=["hit rate", "miss rate"], colors=[PALETTE[1], PALETTE[2]],
                     display_legend=True, line_style="solid")
    return _figure([lines], "TLB hit rate over time", "step", "share of lookups", scales)
