"""Charts of a trace: bqplot figures that take a trace Dataset and return a Figure.

Every colour of vkernel's views comes from :data:`PALETTE`, stated once here: eleven colours,
each with at least WCAG's 3:1 contrast for graphics on JupyterLab's light background
(white) and on its dark one (``#212121``, and ``#111`` behind it). Its first four are
Okabe & Ito's colour-blind-safe blue, bluish green, vermillion and reddish purple; their
sky blue, orange and yellow fall below 3:1 on white, so the rest are hues darkened or
greyed until they reach it (a sky blue, violet, ochre, magenta, brown, slate and teal).
:data:`MODE_COLOURS` gives each privilege mode one of the first five,
:data:`CAUSE_COLOURS` each group of trap causes one of the next five: a RingTimeline's
arrows never wear a lane's colour; the last, :data:`SWITCH_COLOUR`, marks a host's world
switches. Every series also carries a text label, so colour is never the only cue; legend
text is drawn in the theme's text colour (:data:`LEGEND_TEXT`), its swatch in the series'
colour.

>>> import vkernel
>>> from vkernel import plots
>>> m = vkernel.Machine(ram_mb=1, trace="all")
>>> _ = m.load(vkernel.assemble("li t0, 1000\\n1: addi t0, t0, -1\\nbnez t0, 1b\\nebreak"))
>>> _ = m.run(max_steps=2003)
>>> fig = plots.residency(m.trace_dataset(), bins=4)
>>> [mark.labels for mark in fig.marks]  # only the modes the run was in
[['M']]
"""

from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from vkernel.errors import TraceError
from vkernel.isa.csr import cause_name
from vkernel.trace.schema import MODE, MODE_ORDER

# the one palette (see the module's docstring): contrast >= 3:1 on #fff, #212121 and #111
PALETTE = ("#0072B2", "#009E73", "#D55E00", "#CC79A7",  # Okabe-Ito
           "#3D8FC4",  # sky blue, darkened to reach 3:1 on white
           # violet, ochre, magenta, brown, slate: the causes, unlike any mode's
           "#785EF0", "#B8860B", "#DC267F", "#9C755F", "#607D8B",
           "#00838F")  # teal, darkened: a host's world switches, unlike any mode or cause
# one colour per privilege mode, kept by every view (plots, timelines, widgets); a guest's
# U (VU) is a lighter sibling of U: the two never share a chart (a VM runs VS/VU, or U)
MODE_COLOURS = {"U": PALETTE[0], "S": PALETTE[1], "M": PALETTE[2], "VS": PALETTE[3],
                "VU": PALETTE[4]}
# one colour per group of trap causes (RingTimeline's arrows), none of them a mode's
CAUSE_COLOURS = {
    "system call": PALETTE[5],   # ecall from U/VU: a program asks its kernel
    "call down": PALETTE[6],     # ecall from S/VS, hypercalls: a kernel asks the layer below
    "page fault": PALETTE[7],    # page faults, guest-page faults, MMIO emulated
    "interrupt": PALETTE[8],     # timers and the other interrupts
    "instruction": PALETTE[9],   # illegal/virtual/privileged instructions, breakpoints
}
# a host's world switch (RingTimeline's connectors between domains' bands)
SWITCH_COLOUR = PALETTE[10]
# legend text in the theme's text colour (bqplot draws it in the series' colour, which for
# a light one is unreadable); pass as ``legend_text=`` to a bq.Figure of your own
LEGEND_TEXT = {"fill": "var(--jp-ui-font-color1, #222)", "stroke": "none"}
# a legend drawn over data: on the theme's background, so it reads over any bar (no
# border: bqplot sizes the box from the label's length, tight for one letter)
LEGEND_BOX = {"fill": "var(--jp-layout-color1, #fff)", "fill-opacity": "0.85",
              "stroke": "none"}


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


def figure(marks: list, title: str, x_label: str, y_label: str, scales: dict[str, Any],
           legend_location: str = "top-right", **axis: Any):  # noqa: ANN201 - a bq.Figure
    """A bqplot Figure in vkernel's style: labelled axes, a legend whose text is the
    theme's text colour on a box of the theme's background (readable over any bar, on
    light and dark themes). ``axis`` goes to the y axis (e.g. ``tick_format="~s"``).

    >>> import bqplot as bq
    >>> scales = {"x": bq.OrdinalScale(), "y": bq.LinearScale(min=0)}
    >>> bars = bq.Bars(x=["a", "b"], y=[1, 2], scales=scales, labels=["n"],
    ...                colors=[PALETTE[0]], display_legend=True)
    >>> figure([bars], "Two bars", "name", "count", scales).legend_text == LEGEND_TEXT
    True
    """
    import bqplot as bq

    ax_x = bq.Axis(scale=scales["x"], label=x_label,
                   tick_format=None if isinstance(scales["x"], bq.OrdinalScale) else "~s")
    ax_y = bq.Axis(scale=scales["y"], label=y_label, side="left", **axis)
    return bq.Figure(marks=marks, axes=[ax_x, ax_y], title=title,
                     legend_location=legend_location, legend_style=dict(LEGEND_BOX),
                     legend_text=dict(LEGEND_TEXT),
                     fig_margin={"top": 50, "bottom": 50, "left": 70, "right": 20})


def _modes(present: np.ndarray) -> list[str]:
    """The modes among ``present`` (mode values), in the fixed order U, S, M, VS, VU."""
    seen = {MODE[int(v)] for v in present}
    return [m for m in MODE_ORDER if m in seen]


def residency(ds: xr.Dataset, bins: int = 100):  # noqa: ANN201 - a bqplot Figure
    """Share of the steps spent in each privilege mode, over the run: stacked bars of
    ``bins`` equal slices of the recorded steps, on a 0-100 % axis, one series per mode
    the run was in. Needs the ``step`` family."""
    import bqplot as bq

    ds.vk._need("step", "residency()")
    lo, hi, width = _bins(ds, bins)
    mode = ds["step_mode"].values
    steps = ds["step"].values
    b = (steps - lo) // width
    n = int(b.max()) + 1 if b.size else 0
    names = _modes(np.unique(mode))
    value = {name: code for code, name in MODE.items()}
    counts = np.array([np.bincount(b[mode == value[nm]], minlength=n) for nm in names],
                      dtype=float)
    total = counts.sum(axis=0)
    share = np.divide(counts, total, out=np.zeros_like(counts), where=total > 0)
    x = lo + np.arange(n) * width
    # the bars fill the axis (shares sum to 1); the legend's box keeps it readable over them
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0, max=1)}
    bars = bq.Bars(x=x, y=share, type="stacked", scales=scales, labels=names,
                   colors=[MODE_COLOURS[nm] for nm in names], display_legend=True,
                   padding=0, tooltip=bq.Tooltip(fields=["x", "y"], labels=["step", "share"],
                                                 formats=["", ".0%"]))
    return figure([bars], "Time in each privilege mode", "step", "share of steps", scales,
                  tick_format=".0%")


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
    return figure([lines], "Traps per thousand steps, by cause", "step",
                  "traps per 1000 steps", scales)


def tlb_hit_rate(ds: xr.Dataset):  # noqa: ANN201 - a bqplot Figure
    """The TLB's hit rate in each interval of the ``sample`` family (every
    ``sample_every`` steps), with the share of lookups that missed as a second line."""
    import bqplot as bq

    iv = ds.vk.intervals()
    x = iv["start"].values
    hit = iv["tlb_hit_rate"].values
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0, max=1)}
    lines = bq.Lines(x=x, y=np.vstack([hit, 1 - hit]), scales=scales,
                     labels=["hit rate", "miss rate"], colors=[PALETTE[1], PALETTE[2]],
                     display_legend=True, line_style="solid")
    return figure([lines], "TLB hit rate over time", "step", "share of lookups", scales,
                  tick_format=".0%", legend_location="right")


def share_plot(usage: xr.Dataset):  # noqa: ANN201 - a bqplot Figure
    """Who had the CPU: a :class:`~vkernel.hv.host.Host`'s ``usage()`` as stacked bars,
    one per interval, each domain's share of the interval (in the order of the host's
    domains) with the time nobody ran (``idle``) on top; x is host time in milliseconds.

    >>> import numpy as np, xarray as xr
    >>> usage = xr.Dataset({"cpu": (("domain", "interval"), [[0.5, 0.25], [0.5, 0.25]]),
    ...                     "idle": ("interval", [0.0, 0.5])},
    ...                    coords={"name": ("domain", ["a", "b"]),
    ...                            "start_ms": ("interval", [0, 30])})
    >>> share_plot(usage).marks[0].labels
    ['a', 'b', 'idle']
    """
    import bqplot as bq

    names = [str(n) for n in usage["name"].values]
    share = np.vstack([usage["cpu"].values, usage["idle"].values[np.newaxis, :]])
    colours = [PALETTE[i % (len(PALETTE) - 1)] for i in range(len(names))] + [PALETTE[-1]]
    scales = {"x": bq.LinearScale(), "y": bq.LinearScale(min=0, max=1)}
    # each bar starts at its interval's start (align right of the tick), filling the axis
    bars = bq.Bars(x=usage["start_ms"].values, y=share, type="stacked", scales=scales,
                   labels=[*names, "idle"], colors=colours, display_legend=True,
                   padding=0, align="right",
                   tooltip=bq.Tooltip(fields=["x", "y"], labels=["ms", "share"],
                                      formats=["", ".0%"]))
    return figure([bars], "CPU share of each domain", "host time (ms)", "share of the CPU",
                  scales, tick_format=".0%")


def consolidation(demands: dict[str, float], capacity: float = 1.0):  # noqa: ANN201
    """Guests packed onto hosts by their demands (:func:`vkernel.hv.consolidation.pack`):
    one bar per host, each guest's demand (the CPU it used alone, measured by
    :func:`~vkernel.hv.consolidation.demand`) stacked in it, and a dashed line at the
    host's ``capacity``.

    >>> fig = consolidation({"web": 0.3, "db": 0.5, "mail": 0.4})
    >>> fig.marks[0].labels, fig.marks[0].x.tolist()
    (['db', 'mail', 'web'], [1, 2])
    """
    import bqplot as bq

    from vkernel.hv.consolidation import pack

    hosts = pack(demands, capacity)
    names = [g for host in hosts for g in host]
    load = np.zeros((len(names), len(hosts)))
    for j, host in enumerate(hosts):
        for g in host:
            load[names.index(g), j] = demands[g]
    x = np.arange(1, len(hosts) + 1)
    top = max(capacity, float(load.sum(axis=0).max(initial=0))) * 1.1
    scales = {"x": bq.LinearScale(min=0.5, max=len(hosts) + 0.5),
              "y": bq.LinearScale(min=0, max=top)}
    bars = bq.Bars(x=x, y=load, type="stacked", scales=scales, labels=names,
                   colors=[PALETTE[i % (len(PALETTE) - 1)] for i in range(len(names))],
                   display_legend=True, padding=0.3,
                   tooltip=bq.Tooltip(fields=["x", "y"], labels=["host", "demand"],
                                      formats=["", ".0%"]))
    line = bq.Lines(x=[0.5, len(hosts) + 0.5], y=[capacity, capacity], scales=scales,
                    labels=["capacity"], colors=[PALETTE[-1]], line_style="dashed",
                    display_legend=True)
    fig = figure([bars, line], f"{len(demands)} guests on {len(hosts)} hosts", "host",
                 "share of one CPU", scales, tick_format=".0%")
    fig.axes[0].tick_values = x
    fig.axes[0].tick_format = "d"
    return fig
