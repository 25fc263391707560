"""In a real JupyterLab and a real browser: the tour notebook runs, its plots render, and
MachineView steps forwards and back from clicks and keys."""

from __future__ import annotations

import json
import time

import pytest
from lab import (
    ARTIFACTS,
    ROOT,
    JupyterLab,
    browser_page,
    chromium_path,
    kernel_print,
    open_notebook,
    screenshot,
)


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    chromium_path()  # skip (or, in CI, fail) before starting a server for nothing
    server = JupyterLab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


def test_tour_runs_in_the_browser_and_its_plots_render(lab):
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/00-tour.ipynb")
        figures = page.locator(".bqplot.figure")
        figures.first.wait_for(state="visible", timeout=60_000)
        assert figures.count() == 2
        # the residency figure drew its bars and named its modes in the legend
        first = figures.nth(0)
        first.scroll_into_view_if_needed()
        assert first.locator("rect.bar").count() > 0
        legend = first.locator(".g_legend text.legendtext").all_text_contents()
        assert legend == ["M"]  # only the modes the run was in: this guest stays in M
        assert "Time in each privilege mode" in first.locator("text.mainheading").text_content()
        # the share axis fits the shares: 0 % to 100 %, nothing above
        ticks = [t.strip() for t in first.locator("g.axis text").all_text_contents()]
        assert "100%" in ticks and not {"110%", "120%", "1.2", "1.25"} & set(ticks), ticks
        # legend text in the theme's text colour, its swatch in the series' colour
        for figure in (first, figures.nth(1)):
            text, swatch = page.evaluate(LEGEND_COLOURS, figure.element_handle())
            assert text == "rgba(0, 0, 0, 0.87)" and swatch != text, (text, swatch)
        second = figures.nth(1)
        assert second.locator(".g_legend text.legendtext").all_text_contents() == [
            "environment call from M-mode"]
        path = screenshot(page, "tour-plots")
        assert path.stat().st_size > 10_000


LEGEND_COLOURS = """(figure) => {
    const text = figure.querySelector('.g_legend text.legendtext');
    const swatch = figure.querySelector('.g_legend .legendrect, .g_legend path');
    const style = (e) => getComputedStyle(e);
    return [style(text).fill, style(swatch).fill !== 'none' ? style(swatch).fill
                                                            : style(swatch).stroke];
}"""


def test_machine_view_steps_and_steps_back(lab):
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/00-tour.ipynb")
        view = page.locator(".vk-machine")
        view.wait_for(state="visible", timeout=60_000)
        view.scroll_into_view_if_needed()
        where = view.locator(".vk-where")
        before = where.text_content()
        regs_before = view.locator(".vk-grid").text_content()
        assert before.startswith("step 8 ")
        # one step: Python's machine moves and the view re-renders
        t0 = time.perf_counter()
        view.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function("(old) => document.querySelector('.vk-where').textContent "
                               "!== old", arg=before, timeout=30_000)
        round_trip = time.perf_counter() - t0
        after = where.text_content()
        step, pc = kernel_print(page, "print(s.steps, hex(s.hart.pc))").split()
        assert after == f"step {step}  pc {pc}" and step == "9"
        # the registers outlined are the ones Python says the step changed
        shown = [e.get_attribute("data-reg") for e in view.locator(".vk-grid .vk-changed")
                 .element_handles()]
        assert " ".join(shown) == kernel_print(page, "print(*view.changed)").strip()
        screenshot(page, "machine-view")
        # a step back returns to exactly what was there
        view.focus()
        page.keyboard.press("b")
        page.wait_for_function("(old) => document.querySelector('.vk-where').textContent "
                               "=== old", arg=before, timeout=30_000)
        assert view.locator(".vk-grid").text_content() == regs_before
        assert kernel_print(page, "print(s.steps)").strip() == "8"
        print(f"\nstep click round trip: {round_trip * 1000:.0f} ms")
        record("step_click", seconds=round_trip)


LONG_RUN = """
import sys
sys.path.insert(0, {tests!r})
from guests import long_kernel
import vkernel
from vkernel.widgets import MachineView, RingTimeline, link
program = long_kernel(500_000)  # the tiny kernel with a long busy loop: ~10^6 steps
m = vkernel.Machine(ram_mb=4, trace=("step", "trap"))
m.load(program)
print(m.run(), m.trace_dataset().sizes["step"])
tl = RingTimeline(m)
tl
"""
REPLAY = """
r = vkernel.Machine(ram_mb=4)
r.load(program)
view = MachineView(r)
view.do("step", 2_000_000)  # to the end: the slider then spans the whole run
link(tl, view)
view
"""


def write_notebook(path, cells: list[str]) -> None:  # noqa: ANN001
    import nbformat
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c.strip()) for c in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nbformat.write(nb, path)


def wait_for_python(page, code: str, want: str, timeout_s: float = 30) -> str:  # noqa: ANN001
    deadline = time.monotonic() + timeout_s
    while True:
        got = kernel_print(page, code).strip()
        if got == want or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def test_ring_timeline_zooms_names_and_moves_a_linked_machine_view(lab):
    from lab import ROOT
    write_notebook(lab.root / "notebooks" / "million-steps.ipynb",
                   [LONG_RUN.format(tests=str(ROOT / "tests")), REPLAY])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/million-steps.ipynb")
        timeline = page.locator(".vk-timeline")
        timeline.wait_for(state="visible", timeout=60_000)
        total = int(kernel_print(page, "print(tl.end)"))
        assert total > 1_000_000
        labels = timeline.locator(".vk-lane-label")
        assert labels.all_text_contents() == ["M", "S", "U"]
        # zoomed out, a million steps: a per-pixel summary, the arrows close together
        # bundled (one arrow, ×n), and a note saying so
        assert timeline.locator(".vk-segment").count() > 100
        bundles = timeline.locator(".vk-mark.vk-bundle")
        assert bundles.count() > 20
        counts = [float(c) for c in page.evaluate(
            "() => [...document.querySelectorAll('.vk-timeline .vk-mark')]"
            ".map((e) => e.dataset.count)")]
        assert sum(counts) == int(kernel_print(page, "print(len(tl._marks))"))
        assert "zoom in" in timeline.locator(".vk-note").text_content()
        assert_labels_apart(page)
        timeline.get_by_role("button", name="x86 names").click()
        page.wait_for_function("() => document.querySelector('.vk-lane-label')"
                               ".textContent === 'M (≈ SMM)'", timeout=10_000)
        assert labels.all_text_contents() == ["M (≈ SMM)", "ring 0", "ring 3"]
        assert kernel_print(page, "print(tl.names)").strip() == "x86"
        # zoom in with the keyboard until each arrow is drawn and labelled
        timeline.focus()
        for _ in range(10):
            page.keyboard.press("+")
        page.wait_for_function("() => document.querySelectorAll('.vk-mark-label').length > 0",
                               timeout=30_000)
        assert wait_for_python(page, "print(tl.view[1] - tl.view[0] < 2_000)", "True") == "True"
        lo, hi = (float(v) for v in kernel_print(page, "print(*tl.view)").split())
        assert hi - lo < 2_000
        timer = timeline.locator('.vk-mark[data-label="S timer"]').first
        step = int(float(timer.get_attribute("data-step")))
        assert lo <= step <= hi
        screenshot(page, "ring-timeline")
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-widget.png"))
        # clicking the interrupt moves the linked MachineView to just before it
        timer.locator(".vk-hit").click()  # on the arrow itself
        got = wait_for_python(page, "print(view.instret, tl.step)", f"{step} {step}")
        assert got == f"{step} {step}"
        assert kernel_print(page, "print(hex(r.hart.pc) == hex(int(m.trace_dataset()"
                                  ".trap_epc[(m.trace_dataset().trap_step == tl.step)"
                                  ".values][0])), r.hart.mode.name)").split() == ["True", "U"]
        machine = page.locator(".vk-machine")
        machine.scroll_into_view_if_needed()
        steps = kernel_print(page, "print(view.step)").strip()
        page.wait_for_function("(s) => document.querySelector('.vk-machine .vk-where')"
                               ".textContent.startsWith('step ' + s + ' ')", arg=steps,
                               timeout=10_000)
        assert timeline.locator(".vk-mark.vk-selected").count() == 1
        machine.screenshot(path=str(ARTIFACTS / "machine-view-widget.png"))
        # the view's Step takes the interrupt: S mode in the browser
        machine.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-mode')"
                               ".textContent === 'S'", timeout=10_000)
        scrub_machine_view(page, machine, total)
        scrub_timeline(page, timeline, total)


def scrub_machine_view(page, machine, total: int) -> None:  # noqa: ANN001
    """Drag the MachineView's slider across the whole run, 20 positions, each rendered
    before the next: the time is reported, not asserted."""
    furthest = int(kernel_print(page, "print(view.furthest)"))
    assert furthest > total  # machine steps: retired + traps
    t0 = time.perf_counter()
    positions = [furthest * i // 19 for i in range(20)][::-1]  # end to start: replays
    for target in positions:
        page.evaluate("(t) => { const s = document.querySelector('.vk-machine "
                      "input[type=range]'); s.value = String(t); "
                      "s.dispatchEvent(new Event('input')); }", target)
        page.wait_for_function("(t) => document.querySelector('.vk-machine .vk-where')"
                               ".textContent.startsWith('step ' + t + ' ')", arg=target,
                               timeout=30_000)
    seconds = time.perf_counter() - t0
    assert kernel_print(page, "print(r.steps)").strip() == "0"
    print(f"\nMachineView slider across {furthest:,} steps: {len(positions)} positions in "
          f"{seconds:.2f} s ({seconds / len(positions) * 1000:.0f} ms each)")
    record("machine_view_scrub", positions=len(positions), seconds=seconds, steps=furthest)


def scrub_timeline(page, timeline, total: int) -> None:  # noqa: ANN001
    """Pan the zoomed-in timeline from the start of the trace to its end with → (a
    quarter of the view a press), until the last window has come from Python."""
    timeline.focus()
    page.keyboard.press("0")
    for _ in range(6):
        page.keyboard.press("+")  # about 16,000 steps in view: every arrow drawn
    # the front end tells Python where it is once the key presses pause
    assert wait_for_python(page, "print(tl.view[1] - tl.view[0] < 20_000)", "True") == "True"
    lo, hi = (float(v) for v in kernel_print(page, "print(*tl.view)").split())
    presses = int((total - hi) / ((hi - lo) / 4)) + 1
    t0 = time.perf_counter()
    for _ in range(presses):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(
        "(end) => { const m = [...document.querySelectorAll('.vk-mark')]; return m.length"
        " && m.every((e) => +e.dataset.step > end); }", arg=total - (hi - lo) * 1.2,
        timeout=60_000)
    seconds = time.perf_counter() - t0
    print(f"RingTimeline panned across {total:,} steps ({hi - lo:,.0f} in view): "
          f"{presses} moves in {seconds:.2f} s")
    record("timeline_scrub", presses=presses, seconds=seconds, steps=total,
           view=hi - lo)


def record(name: str, **figures: float) -> None:
    """Browser timings go to test-artifacts/browser-timings.json for the notes."""
    import json
    path = ARTIFACTS / "browser-timings.json"
    data = json.loads(path.read_text()) if path.exists() else {}
    data[name] = figures
    path.write_text(json.dumps(data, indent=2))


def test_privilege_notebook_shows_its_kernel_in_both_widgets(lab):
    """Notebook 02 in the browser: its timeline draws the kernel's transitions by cause,
    and clicking a page fault moves its linked MachineView to the faulting store."""
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/02-privilege-and-traps.ipynb")
        timeline = page.locator(".vk-timeline")
        timeline.wait_for(state="visible", timeout=60_000)
        timeline.scroll_into_view_if_needed()
        # the notebook switched to x86 names after drawing
        assert timeline.locator(".vk-lane-label").all_text_contents() == [
            "M (≈ SMM)", "ring 0", "ring 3"]
        legend = " ".join(timeline.locator(".vk-legend-item").all_text_contents())
        for cause in ("ecall from U", "ecall from S", "S timer", "store page fault", "sret"):
            assert cause in legend
        timeline.screenshot(path=str(ARTIFACTS / "02-ring-timeline.png"))
        # Python can move the view too: around the first page faults
        kernel_print(page, "tl.names = 'riscv'; tl.zoom(1050, 1750)")
        page.wait_for_function("() => document.querySelector('.vk-lane-label')"
                               ".textContent === 'M'", timeout=10_000)
        timeline.locator('.vk-mark[data-label="store page fault"]').first.wait_for()
        timeline.screenshot(path=str(ARTIFACTS / "02-ring-timeline-zoomed.png"))
        fault = timeline.locator('.vk-mark[data-label="store page fault"]').first
        step = int(float(fault.get_attribute("data-step")))
        fault.locator(".vk-hit").click()
        got = wait_for_python(page, "print(view.instret, fresh.hart.mode.name)", f"{step} U")
        assert got == f"{step} U"
        # the view stands on the store that faults: Step takes the fault into S
        machine = page.locator(".vk-machine")
        page.wait_for_function("(s) => document.querySelector('.vk-machine .vk-retired')"
                               ".textContent === s + ' retired'", arg=f"{step:,}",
                               timeout=10_000)
        assert machine.locator(".vk-current .vk-insn").text_content().startswith("sd ")
        machine.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-mode')"
                               ".textContent === 'S'", timeout=10_000)
        assert machine.locator('[data-csr="scause"]').get_attribute("class") == \
            "vk-reg vk-changed"
        machine.scroll_into_view_if_needed()
        machine.screenshot(path=str(ARTIFACTS / "02-machine-view.png"))
        # Run: slice after slice until the kernel shuts the machine down, then Run again
        machine.get_by_role("button", name="Run").click()
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-status')"
                               ".textContent.includes('ended the machine')", timeout=60_000)
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-run')"
                               ".textContent === 'Run'", timeout=10_000)
        assert kernel_print(page, "print(view.halted, fresh.halted, view.step == view.furthest)"
                            ).split() == ["True", "True", "True"]


def test_consolidation_notebook_draws_its_host_and_its_shares(lab):
    """Notebook 04 in the browser: every cell runs; the RingTimeline of the host with four
    guests draws one band per domain (its own lanes inside) and every world switch of the
    trace as an arrow from one band to the next; every stacked-share plot and the
    consolidation plot draw their marks."""
    path = "notebooks/04-consolidation-and-scheduling.ipynb"
    cells = json.loads((ROOT / path).read_text())["cells"]
    plots = sum(line.startswith(("share_plot(", "plots.consolidation("))
                for c in cells if c["cell_type"] == "code"
                for line in "".join(c["source"]).splitlines())
    assert plots >= 5
    with browser_page() as page:
        open_notebook(page, lab, path)
        timeline = page.locator(".vk-timeline")
        timeline.wait_for(state="visible", timeout=60_000)
        timeline.scroll_into_view_if_needed()
        assert timeline.count() == 1
        timeline.locator(".vk-switch").first.wait_for(timeout=30_000)
        assert timeline.locator(".vk-band-label").all_text_contents() == [
            "domain 1 · ada (hardware)", "domain 2 · bob (paravirt)",
            "domain 3 · cy (trap-emulate)", "domain 4 · dee (binary-translation)"]
        assert timeline.locator(".vk-band-frame").count() == 4
        assert timeline.locator(".vk-lane-label").all_text_contents() == [
            "HS", "VS", "VU", *["M (hypervisor)", "U (guest)"] * 3]
        assert timeline.locator(".vk-segment").count() > 10
        # the switches: exactly the notebook's table of the trace's switch rows, each
        # drawn once, from the band of the domain left to the band of the one entered
        want = kernel_print(page, "print(*(f'{s},{a},{b}' for s, a, b in "
                                  "switches.iloc[:, :3].astype(int).values))").split()
        drawn = page.evaluate(SWITCHES_DRAWN)
        assert len(drawn) == len(want) == 7
        assert [f"{int(s)},{a},{b}" for s, a, b, *_ in drawn] == want
        assert all(count == 1 and starts and ends for _, _, _, count, starts, ends, _ in drawn)
        assert timeline.locator('.vk-legend-item[data-style="switch"]').text_content() == \
            "world switch (7)"
        timeline.screenshot(path=str(ARTIFACTS / "04-host-timeline.png"))
        figures = page.locator(".bqplot.figure")
        page.wait_for_function("(n) => document.querySelectorAll('.bqplot.figure').length"
                               " === n", arg=plots, timeout=60_000)
        for i in range(plots):  # each one drew its bars
            figure = figures.nth(i)
            figure.scroll_into_view_if_needed()
            figure.locator("rect.bar, path.line, path.area").first.wait_for(timeout=30_000)
        figures.first.scroll_into_view_if_needed()
        figures.first.screenshot(path=str(ARTIFACTS / "04-share-plot.png"))


def test_memory_notebook_draws_its_walks_tables_and_maps(lab):
    """Notebook 05 in the browser: every cell runs; its cold nested walk is drawn as 15
    numbered cells, the walk-cache one with dashed cached cells and fewer numbers; the
    shadow-table widget shows the write-protect fault it stopped at; each of the three
    memory maps (two domains, before and after the balloons moved) has Python's counts in
    its legend."""
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/05-memory-virtualization.ipynb")
        walks = page.locator(".vk-translation")
        walks.first.locator(".vk-ref").first.wait_for(timeout=60_000)
        assert walks.count() == 2
        cold = walks.nth(0)
        cold.scroll_into_view_if_needed()
        numbers = cold.locator(".vk-ref").evaluate_all(
            "(cells) => cells.map((e) => Number(e.dataset.n))")
        assert sorted(numbers) == list(range(1, 16))
        assert "15 references" in cold.locator(".vk-outcome").text_content()
        cold.screenshot(path=str(ARTIFACTS / "05-nested-walk.png"))
        cached = walks.nth(1)
        cached.scroll_into_view_if_needed()
        refs = int(kernel_print(page, "print(cached_walks.info['references'])"))
        assert cached.locator(".vk-ref:not(.vk-cached)").count() == refs < 15
        assert cached.locator(".vk-ref.vk-cached").count() > 0
        tables = page.locator(".vk-spt")
        tables.scroll_into_view_if_needed()
        tables.locator(".vk-spt-shadow .vk-spt-entry").first.wait_for(timeout=30_000)
        events = tables.locator(".vk-spt-event").evaluate_all(
            "(rows) => rows.map((e) => e.dataset.event)")
        assert "wp_fault" in events and events[0] == "vm_exit"
        tables.screenshot(path=str(ARTIFACTS / "05-shadow-tables.png"))
        maps = page.locator(".vk-memmap")
        assert maps.count() == 4
        for i, name in enumerate(["memory_map", "before", "after", "shared_map"]):
            drawn = {e.get_attribute("data-label"): int(e.get_attribute("data-count"))
                     for e in maps.nth(i).locator(".vk-legend-item").all()}
            want = json.loads(kernel_print(page, f"import json; print(json.dumps({name}.counts))"))
            assert drawn == want, name
        assert drawn["shared (copy-on-write)"] > 0  # the last one: after the sharing scan
        maps.nth(2).scroll_into_view_if_needed()
        maps.nth(2).screenshot(path=str(ARTIFACTS / "05-memory-map-after.png"))
        maps.nth(3).screenshot(path=str(ARTIFACTS / "05-memory-map-shared.png"))


# a hardware-assisted guest with many VM exits: the "device" workload's kernel reads the
# UART's line status register 1,000 times (each read a guest-page fault the hypervisor
# emulates) and prints its lines by SBI calls; more exits than max_marks (400), so the
# whole run opens bundled
VM_RUN = """
from vkernel.hv import VM
from vkernel.widgets import MachineView, RingTimeline, link
vm = VM("device", technique="hardware", trace=("step", "trap", "hv"))
print(vm.run())
tl = RingTimeline(vm)
tl
"""
VM_VIEW = """
fresh = VM("device", technique="hardware")  # the same guest from reset, stepped by the view
view = MachineView(fresh)
link(tl, view)
view
"""
# the steps the test goes to, from the trace (none written in: the guest may change)
VM_STEPS = """
import numpy as np
ex, tr = tl.vm_exits, tl.transitions
s = ex.step.to_numpy()
# a window with 40 exits (fewer if the run has fewer) in the middle of the run: from
# halfway between the one before and the first to halfway between the last and the next
n = min(40, len(s) - 2)
k = (len(s) - n) // 2
window = ((s[k - 1] + s[k]) // 2 + 1, (s[k + n - 1] + s[k + n]) // 2 + 1)
# the guest kernel printing a line by an SBI call after a program's system call: the
# first SBI call after an ecall from U with no other between them; shown from a little
# before that ecall
sbi = ex.step[ex.label == "VM exit: SBI call"].to_numpy()
user = tr.step[tr.label == "ecall from U"].to_numpy()
call = next(int(c) for u, u_next in zip(user, [*user[1:], np.inf])
            for c in sbi[(sbi > u) & (sbi < u_next)][:1])
u = int(user[user < call].max())
after = s[s > call]
write = (u - 200, call + (min(200, (after[0] - call) // 2) if after.size else 200))
print(*map(int, (*window, call, *write)))
"""


def test_ring_timeline_of_a_vm_shows_its_exits_and_moves_a_linked_view(lab):
    """A hardware-assisted guest in the browser: the lanes are HS, VS and VU; zoomed out,
    its exits are bundled; zoomed in, each VM exit goes up to HS and back; clicking one
    moves the linked MachineView (of a VM, with the vCPU's virtual CSRs) to just before
    it; x86 names say root and non-root."""
    write_notebook(lab.root / "notebooks" / "vm-exits.ipynb", [VM_RUN, VM_VIEW])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/vm-exits.ipynb")
        timeline = page.locator(".vk-timeline")
        timeline.wait_for(state="visible", timeout=60_000)
        timeline.scroll_into_view_if_needed()
        labels = timeline.locator(".vk-lane-label")
        assert labels.all_text_contents() == ["HS", "VS", "VU"]
        assert [e.get_attribute("data-mode") for e in labels.element_handles()] == [
            "S", "VS", "VU"]
        lo, hi, call, write_lo, write_hi = map(int, kernel_print(page, VM_STEPS).split())
        n_exits, max_marks = map(int, kernel_print(
            page, "print(len(tl.vm_exits), tl.max_marks)").split())
        by_label = kernel_print(page, "print(*(f'{k} ({v:,})' for k, v in "
                                      "tl.vm_exits.label.value_counts().items()), sep='|')")
        # the first view, the whole run: more exits than max_marks, bundled where they are
        # close; every one is in a drawn mark, and the hypervisor's lane is not empty
        assert n_exits > max_marks
        exits_drawn = timeline.locator(".vk-exit")
        assert exits_drawn.count() > 10
        counts = [float(c) for c in page.evaluate(
            "() => [...document.querySelectorAll('.vk-timeline .vk-exit')]"
            ".map((e) => e.dataset.count)")]
        assert sum(counts) == n_exits and max(counts) > 1
        assert timeline.locator(".vk-exit-work").count() == exits_drawn.count()
        assert f"{n_exits:,} VM exits in view" in timeline.locator(".vk-note").text_content()
        legend = " ".join(timeline.locator(".vk-legend-item").all_text_contents())
        for item in by_label.strip().split("|"):  # e.g. "VM exit: SBI call (10)"
            assert item in legend, (item, legend)
        # no mark wears a lane's colour: the lanes' chips and bars against the arrows,
        # their heads and the hypervisor's work blocks, as the browser computes them
        lane_colours, mark_colours = page.evaluate(COLOURS, ".vk-timeline")
        assert len(lane_colours) == 3 and len(mark_colours) >= 3
        assert not set(lane_colours) & set(mark_colours), (lane_colours, mark_colours)
        assert_labels_apart(page)
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-vm-first-view.png"))
        # the wheel zooms around the pointer: the step under it stays under it
        zoom_keeps_the_pointer(page, timeline, wheel=True)
        zoom_keeps_the_pointer(page, timeline, wheel=False)  # + with the pointer over it
        assert_labels_apart(page)
        # zoomed far in on an empty stretch (the longest without a transition or an exit):
        # the way to the nearest marks is drawn
        kernel_print(page, "import numpy as np; at = np.union1d(tl._marks[:, 0], "
                           "tl._exits[:, 0]); gap = int(np.argmax(np.diff(at)));"
                           " tl.zoom(at[gap] + 5, at[gap] + 40)")
        page.wait_for_function("() => document.querySelectorAll('.vk-timeline .vk-edge')"
                               ".length > 0", timeout=30_000)
        assert timeline.locator(".vk-mark").count() == 0
        edge = timeline.locator(".vk-edge").last
        nearest = float(edge.get_attribute("data-step"))
        edge.click()  # brings it into view
        page.wait_for_function("(s) => [...document.querySelectorAll('.vk-timeline .vk-mark')]"
                               ".some((e) => +e.dataset.step === s)", arg=nearest,
                               timeout=30_000)
        assert timeline.locator('.vk-legend-item[data-style="exit"] .vk-chip-exit').count() \
            == by_label.count("VM exit:")
        # a click on a bundle zooms in on it: its exits drawn one by one (or smaller bundles)
        page.keyboard.press("0")
        page.wait_for_function("() => document.querySelectorAll('.vk-timeline .vk-bundle')"
                               ".length > 0", timeout=30_000)
        # the biggest bundle that the pointer can reach (close ones overlap its centre)
        first_step, count, x, y = page.evaluate("""() => {
            const free = [...document.querySelectorAll('.vk-timeline .vk-exit.vk-bundle')]
                .map((g) => { const r = g.querySelector('.vk-hit').getBoundingClientRect();
                    return [g, r.left + r.width / 2, r.top + r.height / 2]; })
                .filter(([g, x, y]) => document.elementFromPoint(x, y).closest('.vk-mark') === g);
            free.sort((a, b) => b[0].dataset.count - a[0].dataset.count);
            const [g, x, y] = free[0];
            return [+g.dataset.step, +g.dataset.count, x, y];
        }""")
        assert count > 1
        page.mouse.click(x, y)
        page.wait_for_function(
            "([s, n]) => { const m = [...document.querySelectorAll('.vk-timeline .vk-exit')];"
            " const here = m.filter((e) => +e.dataset.step >= s);"
            " return m.length && +m[0].dataset.step <= s && here.length > 1"
            " && +document.querySelector('.vk-timeline svg').dataset.hi"
            " - +document.querySelector('.vk-timeline svg').dataset.lo < 20_000; }",
            arg=[first_step, count], timeout=30_000)
        # zoomed in (from Python: the browser draws what it is sent) on 40 exits in the
        # middle of the run, fewer than max_marks: every exit is drawn
        want = int(kernel_print(page, f"print(((tl.vm_exits.step >= {lo}) & "
                                      f"(tl.vm_exits.step < {hi})).sum())"))
        assert 10 < want <= max_marks
        t0 = time.perf_counter()
        kernel_print(page, f"tl.zoom({lo}, {hi})")
        page.wait_for_function("([lo, n]) => { const m = [...document.querySelectorAll("
                               "'.vk-timeline .vk-exit')]; return m.length === n && m.every("
                               "(e) => +e.dataset.step >= lo && +e.dataset.count === 1); }",
                               arg=[lo, want], timeout=30_000)
        zoom_seconds = time.perf_counter() - t0
        assert timeline.locator(".vk-exit").count() == want
        assert "VM exits" not in timeline.locator(".vk-note").text_content()
        # closer: a program's system call, then the SBI call by which the guest kernel
        # prints a line
        want_steps = [int(v) for v in kernel_print(
            page, f"print(*tl.vm_exits.step[(tl.vm_exits.step >= {write_lo}) & "
                  f"(tl.vm_exits.label == 'VM exit: SBI call') & "
                  f"(tl.vm_exits.step < {write_hi})])").split()]
        kernel_print(page, f"tl.zoom({write_lo}, {write_hi})")
        page.wait_for_function("(want) => { const m = [...document.querySelectorAll("
                               "'.vk-timeline .vk-exit[data-label=\"VM exit: SBI call\"]')];"
                               " return m.map((e) => +e.dataset.step).join() === want.join(); }",
                               arg=want_steps, timeout=30_000)
        exits = timeline.locator('.vk-exit[data-label="VM exit: SBI call"]')
        steps = [int(float(e.get_attribute("data-step"))) for e in exits.element_handles()]
        assert steps == want_steps
        assert steps[-1] == call
        ecalls = int(kernel_print(page, f"print(((tl.transitions.step >= {write_lo}) & "
                                        f"(tl.transitions.step < {write_hi}) & "
                                        f"(tl.transitions.label == 'ecall from U')).sum())"))
        assert timeline.locator('.vk-mark[data-label="ecall from U"]').count() == ecalls >= 1
        # each exit: up from VS to HS, the hypervisor's work there, and down again
        mark = exits.last
        assert mark.locator("line.vk-arrow").count() == 2
        assert mark.locator(".vk-exit-work").count() == 1
        assert "VS → HS → VS" in mark.locator("title").text_content()
        # a click on it moves the linked MachineView to just before the exit: the ecall
        t0 = time.perf_counter()
        mark.locator(".vk-hit").click()
        got = wait_for_python(page, "print(view.instret, tl.step)", f"{call} {call}")
        click_seconds = time.perf_counter() - t0
        assert got == f"{call} {call}"
        machine = page.locator(".vk-machine")
        page.wait_for_function("(s) => document.querySelector('.vk-machine .vk-retired')"
                               ".textContent === s", arg=f"{call:,} retired", timeout=30_000)
        assert machine.locator(".vk-current .vk-insn").text_content() == "ecall"
        assert machine.locator(".vk-mode").text_content() == "VS"
        assert timeline.locator(".vk-exit.vk-selected").count() == 1
        # beside the real CSRs, the guest's view of its own, as Python has them
        guest = machine.locator(".vk-vcsrs")
        assert guest.locator(".vk-title").text_content() == "vCPU: the guest's view"
        shown = {e.get_attribute("data-vcsr"): e.query_selector(".vk-value").text_content()
                 for e in guest.locator("[data-vcsr]").element_handles()}
        python = kernel_print(page, "print(*(f'{k}={v:#x}' for k, v in "
                                    "fresh.virtual_csrs().items()))").split()
        assert [f"{k}={v}" for k, v in shown.items()] == python
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-vm.png"))
        machine.scroll_into_view_if_needed()
        machine.screenshot(path=str(ARTIFACTS / "machine-view-vm.png"))
        # Step: the exit itself; the hypervisor answers the SBI call (a line printed)
        console = kernel_print(page, "print(len(fresh.console))")
        machine.get_by_role("button", name="Step", exact=True).click()
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-status')"
                               ".textContent.startsWith('VM exit from VS')", timeout=30_000)
        assert machine.locator(".vk-status").text_content() == \
            "VM exit from VS: ecall from VS, handled by the hypervisor"
        assert int(kernel_print(page, "print(len(fresh.console))")) > int(console)
        # the keyboard zooms on the cursor when the pointer is elsewhere: it stays put
        timeline.scroll_into_view_if_needed()
        zoom_keeps_the_cursor(page, timeline, call)
        # x86 names: the hypervisor in VMX root, the guest in non-root
        timeline.get_by_role("button", name="x86 names").click()
        page.wait_for_function("() => document.querySelector('.vk-lane-label')"
                               ".textContent === 'root ring 0'", timeout=10_000)
        assert labels.all_text_contents() == ["root ring 0", "non-root ring 0",
                                              "non-root ring 3"]
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-vm-x86.png"))
        print(f"\nVM timeline: zoom to {want} exits in {hi - lo:,} steps drawn in "
              f"{zoom_seconds * 1000:.0f} ms; click on a VM exit until the linked view (a "
              f"fresh VM replayed to step {call:,}) is there: {click_seconds * 1000:.0f} ms")
        record("vm_timeline", zoom_seconds=zoom_seconds, click_seconds=click_seconds,
               exits=n_exits, zoom_exits=want, zoom_span=hi - lo, click_step=call)


TRAP_EMULATE = """
from vkernel.hv import VM
from vkernel.widgets import RingTimeline
vm = VM("hello", technique="trap-emulate", trace=("step", "trap", "hv"))
print(vm.run())
tl = RingTimeline(vm)
tl
"""


def test_trap_and_emulate_timeline_reads_at_every_zoom(lab):
    """Trap-and-emulate's timeline (hidden page faults and privileged instructions close
    together): at the first view and zoomed in step by step on its busiest stretch, marks
    are drawn, none in a lane's colour, and no two labels overlap."""
    write_notebook(lab.root / "notebooks" / "trap-emulate.ipynb", [TRAP_EMULATE])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/trap-emulate.ipynb")
        timeline = page.locator(".vk-timeline")
        timeline.locator(".vk-exit").first.wait_for(timeout=60_000)
        timeline.scroll_into_view_if_needed()
        assert timeline.locator(".vk-lane-label").all_text_contents() == [
            "M (hypervisor)", "U (guest)"]
        # where the exits are densest: the first 1,000 steps after the first exit
        first = int(float(kernel_print(page, "print(tl._exits[0, 0])")))
        labels: set[str] = set()
        for span in (None, 20_000, 4_000, 1_000, 300):
            if span is not None:
                kernel_print(page, f"tl.zoom({first - 10}, {first - 10 + span})")
                page.wait_for_function(
                    "(hi) => +document.querySelector('.vk-timeline svg').dataset.hi === hi",
                    arg=float(first - 10 + span), timeout=30_000)
                page.wait_for_timeout(300)  # Python's window for it
            timeline.screenshot(path=str(ARTIFACTS / f"ring-timeline-trap-emulate-{span}.png"))
            assert timeline.locator(".vk-mark").count() > 0, span
            lanes, marks = page.evaluate(COLOURS, ".vk-timeline")
            assert lanes and marks and not set(lanes) & set(marks), (span, lanes, marks)
            assert_labels_apart(page)
            shown = timeline.locator(".vk-mark-label").all_text_contents()
            assert shown or span is None, span  # thinned; the whole run may have no room
            labels.update(shown)
        assert "VM exit: hidden page fault" in labels


# the colours of a timeline's lanes (name chips, time bars) and of its marks (arrows, their
# heads, the hypervisor's work blocks), as computed
COLOURS = """(root) => {
    const el = document.querySelector(root);
    const fill = (e) => getComputedStyle(e).fill, stroke = (e) => getComputedStyle(e).stroke;
    const lanes = [...el.querySelectorAll('.vk-lane-name rect, .vk-segment')].map(fill);
    const marks = [...el.querySelectorAll('.vk-mark .vk-arrow')].map(stroke)
        .concat([...el.querySelectorAll('.vk-mark .vk-exit-work, marker path')].map(fill));
    return [[...new Set(lanes)], [...new Set(marks)]];
}"""

LABEL_BOXES = """() => [...document.querySelectorAll('.vk-timeline .vk-mark-label')].map((t) => {
    const r = t.getBoundingClientRect();
    return [r.left, r.right, r.top, r.bottom, t.textContent];
})"""


def assert_labels_apart(page) -> None:  # noqa: ANN001
    """Every mark label drawn has a box that meets no other's."""
    boxes = page.evaluate(LABEL_BOXES)
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            apart = a[1] <= b[0] or b[1] <= a[0] or a[3] <= b[2] or b[3] <= a[2]
            assert apart, f"labels overlap: {a} and {b}"


# the step at a page x, from the view the plot was last drawn with
STEP_AT = """(x) => {
    const svg = document.querySelector('.vk-timeline svg'), d = svg.dataset;
    const left = svg.getBoundingClientRect().left;
    return [+d.lo + (x - left - +d.x0) / (+d.x1 - +d.x0) * (+d.hi - +d.lo),
            (+d.hi - +d.lo) / (+d.x1 - +d.x0), +d.hi - +d.lo];
}"""


def zoom_keeps_the_pointer(page, timeline, wheel: bool) -> None:  # noqa: ANN001
    """Zoom in three times with the pointer at 37 % of the plot: the step under the
    pointer before is the step under it after, within a pixel's worth."""
    box = timeline.locator("svg").bounding_box()
    x0 = box["x"] + float(timeline.locator("svg").get_attribute("data-x0"))
    x1 = box["x"] + float(timeline.locator("svg").get_attribute("data-x1"))
    x, y = x0 + 0.37 * (x1 - x0), box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    before, _, span = page.evaluate(STEP_AT, x)
    timeline.focus()
    for _ in range(3):
        if wheel:
            page.mouse.wheel(0, -100)
        else:
            page.keyboard.press("+")
        page.wait_for_timeout(50)
    page.wait_for_function("(s) => +document.querySelector('.vk-timeline svg').dataset.hi"
                           " - +document.querySelector('.vk-timeline svg').dataset.lo < s",
                           arg=span * 0.9, timeout=10_000)
    after, per_pixel, new_span = page.evaluate(STEP_AT, x)
    assert new_span < span * (0.6 if wheel else 0.2)
    assert abs(after - before) <= per_pixel, (before, after, per_pixel)


def zoom_keeps_the_cursor(page, timeline, step: int) -> None:  # noqa: ANN001
    """With the pointer off the plot, + and - zoom around the cursor: its line stays."""
    page.mouse.move(1, 1)  # off the timeline
    cursor = timeline.locator(".vk-cursor")
    x = float(cursor.get_attribute("x1"))
    _, _, span = page.evaluate(STEP_AT, x)
    timeline.focus()
    for key in ("+", "+", "-", "+"):
        page.keyboard.press(key)
    page.wait_for_function("(s) => +document.querySelector('.vk-timeline svg').dataset.hi"
                           " - +document.querySelector('.vk-timeline svg').dataset.lo < s",
                           arg=span * 0.3, timeout=10_000)
    assert abs(float(cursor.get_attribute("x1")) - x) <= 1.0
    assert abs(page.evaluate(STEP_AT, x + timeline.locator("svg").bounding_box()["x"])[0]
               - step) <= page.evaluate(STEP_AT, x)[1]


CONTRAST = """([textSel, backSel, textProp, backProp]) => {
    const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
    const lum = (c) => {
        const [r, g, b] = rgb(c).map((v) => { v /= 255;
            return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const text = getComputedStyle(document.querySelector(textSel))[textProp];
    const back = getComputedStyle(document.querySelector(backSel))[backProp];
    const [a, b] = [lum(text), lum(back)].sort((x, y) => y - x);
    return [(a + 0.05) / (b + 0.05), text, back];
}"""


def contrast(page, text: str, back: str, text_prop: str = "color",  # noqa: ANN001
             back_prop: str = "backgroundColor") -> float:
    ratio, fg, bg = page.evaluate(CONTRAST, [text, back, text_prop, back_prop])
    return ratio


def test_widgets_read_in_the_dark_theme(lab):
    """Switched to JupyterLab Dark, the widgets' text keeps WCAG's 4.5:1 on its background
    (they draw with JupyterLab's theme variables)."""
    write_notebook(lab.root / "notebooks" / "dark.ipynb", [DARK])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/dark.ipynb")
        page.locator(".vk-timeline .vk-mark").first.wait_for(timeout=60_000)
        checks = [(".vk-lane-label", ".vk-lane", "fill", "fill"),
                  (".vk-machine .vk-value", ".vk-machine", "color", "backgroundColor"),
                  (".vk-timeline .vk-button", ".vk-timeline .vk-button", "color",
                   "backgroundColor")]
        light = [contrast(page, *c) for c in checks]
        graphics_light = page.evaluate(GRAPHICS_CONTRAST)
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        page.wait_for_timeout(500)  # the theme's CSS variables settle
        dark = [contrast(page, *c) for c in checks]
        graphics_dark = page.evaluate(GRAPHICS_CONTRAST)
        screenshot(page, "widgets-dark")
        for (text, *_), a, b in zip(checks, light, dark, strict=True):
            assert a >= 4.5 and b >= 4.5, f"{text}: contrast light {a:.1f}, dark {b:.1f}"
        # the timeline's lane and mark colours, as drawn, keep 3:1 on its lanes (WCAG's
        # bar for graphics), in both themes
        for theme, graphics in (("light", graphics_light), ("dark", graphics_dark)):
            assert len(graphics) >= 5, graphics  # M, S, U chips and bars; two arrows
            for colour, ratio in graphics:
                assert ratio >= 3.0, f"{theme}: {colour} has {ratio:.2f}:1 on the lanes"
        back = page.evaluate("() => getComputedStyle(document.querySelector('.vk-machine'))"
                             ".backgroundColor")
        assert back != "rgb(255, 255, 255)"  # it really is dark


# each colour a timeline draws its lanes and marks in, against its lanes' background, as
# the browser computes them (a translucent colour, the theme's grey, blended onto it first)
GRAPHICS_CONTRAST = """() => {
    const el = document.querySelector('.vk-timeline');
    const css = (e, p) => getComputedStyle(e)[p];
    const parse = (c) => { const v = c.match(/[\\d.]+/g).map(Number);
        return [v.slice(0, 3), v.length > 3 ? v[3] : 1]; };
    const lum = (rgb) => { const [r, g, b] = rgb.map((v) => { v /= 255;
        return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b; };
    const [back] = parse(css(el.querySelector('.vk-lane'), 'fill'));
    const lanes = [...el.querySelectorAll('.vk-lane-name rect, .vk-segment')];
    const colours = new Set(lanes.map((e) => css(e, 'fill'))
        .concat([...el.querySelectorAll('.vk-mark .vk-arrow')].map((e) => css(e, 'stroke'))));
    return [...colours].map((c) => {
        const [rgb, a] = parse(c);
        const seen = rgb.map((v, i) => a * v + (1 - a) * back[i]);
        const [x, y] = [lum(seen), lum(back)].sort((p, q) => q - p);
        return [c, (x + 0.05) / (y + 0.05)];
    });
}"""

DARK = """
import vkernel
from vkernel.widgets import MachineView, RingTimeline
guest = vkernel.assemble('''
    la t0, user; csrw mepc, t0; la t0, trap; csrw mtvec, t0; csrw mstatus, zero
    mret
user: ecall
trap: j trap''')
m = vkernel.Machine(ram_mb=1, trace="all")
m.load(guest)
m.run(max_steps=20)
view = MachineView(m)
display(RingTimeline(m), view)
"""


# a host of four domains, one per technique, 1 ms slices: dozens of world switches
HOST_RUN = """
from vkernel.hv import Host
from vkernel.hv.scheduler import Credit
from vkernel.widgets import MachineView, RingTimeline
TECHNIQUES = ("hardware", "paravirt", "trap-emulate", "binary-translation")
host = Host(trace=("step", "trap", "hv"), scheduler=Credit(slice_ms=1))
for t in TECHNIQUES:
    host.create("hello", technique=t, name=t)
print(host.run(2_000_000))
tl = RingTimeline(host)
tl
"""
HOST_VIEW = """
live = Host(scheduler=Credit(slice_ms=1))
for t in TECHNIQUES:
    live.create("hello", technique=t, name=t)
view = MachineView(live)
view.do("step", 25_000)
view
"""
# each switch as drawn: its steps and domains, and whether its arrow starts in the band of
# the domain left and ends in the band of the one entered (the bands' frames, in the SVG's
# own coordinates)
SWITCHES_DRAWN = """() => {
    const root = document.querySelector('.vk-timeline');
    const frames = [...root.querySelectorAll('.vk-band-frame')].map((r) =>
        [+r.getAttribute('y'), +r.getAttribute('y') + +r.getAttribute('height')]);
    const band = [...root.querySelectorAll('.vk-band')].map((g) => +g.dataset.domain);
    const inside = (domid, y) => { const f = frames[band.indexOf(domid)];
        return !!f && y >= f[0] && y <= f[1]; };
    return [...root.querySelectorAll('.vk-switch')].map((g) => {
        const line = g.querySelector('line.vk-arrow');
        const from = +g.dataset.from, to = +g.dataset.to;
        return [+g.dataset.step, from, to, +g.dataset.count,
                inside(from, +line.getAttribute('y1')), inside(to, +line.getAttribute('y2')),
                getComputedStyle(line).stroke];
    });
}"""
# the registers the view draws, by name
REGISTERS_DRAWN = """() => Object.fromEntries([...document.querySelectorAll(
    '.vk-machine [data-reg]')].map((e) => [e.dataset.reg,
    e.querySelector('.vk-value').textContent]))"""


def test_host_timeline_draws_a_band_per_domain_and_its_world_switches(lab):
    """A host of four domains in the browser: the timeline draws one band per domain
    (titled with its domid, name and technique, its own lanes inside), every world switch
    as a dashed arrow from the band of the domain left to the band of the one entered, in
    the palette's switch colour, and the legend explains both; a click on a switch moves
    the cursor there. MachineView(host)'s dropdown chooses whose vCPU it shows."""
    write_notebook(lab.root / "notebooks" / "host.ipynb", [HOST_RUN, HOST_VIEW])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/host.ipynb")
        timeline = page.locator(".vk-timeline")
        timeline.locator(".vk-switch").first.wait_for(timeout=60_000)
        timeline.scroll_into_view_if_needed()
        bands = kernel_print(page, "print(*(f'{d}|{label}' for d, label, _ in tl.bands), "
                                   "sep='\\n')").strip().split("\n")
        assert [b.split("|")[1] for b in bands] == [
            "domain 1 · hardware", "domain 2 · paravirt", "domain 3 · trap-emulate",
            "domain 4 · binary-translation"]
        assert timeline.locator(".vk-band-label").all_text_contents() == \
            [b.split("|")[1] for b in bands]
        assert [int(e.get_attribute("data-domain")) for e in
                timeline.locator(".vk-band").element_handles()] == [1, 2, 3, 4]
        assert timeline.locator(".vk-band-frame").count() == 4
        assert timeline.locator(".vk-lane-label").all_text_contents() == [
            "HS", "VS", "VU", *["M (hypervisor)", "U (guest)"] * 3]
        # every lane's name inside its band's frame, bands one under the other
        inside = page.evaluate("""() => {
            const root = document.querySelector('.vk-timeline');
            const frames = [...root.querySelectorAll('.vk-band-frame')]
                .map((r) => r.getBoundingClientRect());
            const chips = [...root.querySelectorAll('.vk-lane-name rect')]
                .map((r) => r.getBoundingClientRect());
            return [frames.map((f) => [f.top, f.bottom]), chips.map((c) =>
                frames.findIndex((f) => c.top >= f.top && c.bottom <= f.bottom))];
        }""")
        frames, lane_band = inside
        assert lane_band == [0, 0, 0, 1, 1, 2, 2, 3, 3]
        assert all(a[1] < b[0] for a, b in zip(frames, frames[1:], strict=False))
        # the switches: one mark each (fewer than max_marks: none bundled), exactly the
        # trace's switch rows, each from its band to the next
        want = kernel_print(page, "import numpy as np; ds = host.trace_dataset(); "
                                  "r = np.flatnonzero(ds.hv_event.values == 9); "
                                  "print(*(f'{s},{a},{b}' for s, a, b in zip(ds.hv_step.values[r], "
                                  "ds.hv_cause.values[r], ds.hv_detail.values[r])))").split()
        drawn = page.evaluate(SWITCHES_DRAWN)
        assert len(drawn) == len(want) > 40
        assert [f"{int(s)},{a},{b}" for s, a, b, *_ in drawn] == want
        assert all(count == 1 and starts and ends for _, _, _, count, starts, ends, _ in drawn)
        colour = kernel_print(page, "from vkernel.plots import SWITCH_COLOUR; "
                                    "print(*(int(SWITCH_COLOUR[i:i + 2], 16) for i in "
                                    "(1, 3, 5)), sep=', ')").strip()
        assert {stroke for *_, stroke in drawn} == {f"rgb({colour})"}
        lane_colours, mark_colours = page.evaluate(COLOURS, ".vk-timeline")
        assert f"rgb({colour})" not in lane_colours
        # the exits still drawn, in their bands: every one in some mark
        n_exits = int(kernel_print(page, "print(len(tl.vm_exits))"))
        counts = page.evaluate("() => [...document.querySelectorAll('.vk-timeline .vk-exit')]"
                               ".map((e) => +e.dataset.count)")
        assert sum(counts) == n_exits and counts
        # the legend: the bands in words, and the switches with their count
        assert timeline.locator(".vk-legend-bands").text_content().startswith(
            "Bands: one per domain")
        legend = timeline.locator('.vk-legend-item[data-style="switch"]')
        assert legend.text_content() == f"world switch ({len(want)})"
        assert legend.locator(".vk-chip-switch").count() == 1
        assert_labels_apart(page)
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-host.png"))
        # zoomed in around one switch: it alone, labelled; a click puts the cursor there
        at = int(want[5].split(",")[0])
        kernel_print(page, f"tl.zoom({at - 300}, {at + 300})")
        page.wait_for_function("(s) => { const w = [...document.querySelectorAll("
                               "'.vk-timeline .vk-switch')]; return w.length === 1 && "
                               "+w[0].dataset.step === s; }", arg=at, timeout=30_000)
        switch = timeline.locator(".vk-switch")
        a, b = want[5].split(",")[1:]
        assert switch.locator(".vk-mark-label").text_content() == f"switch {a} → {b}"
        assert f"the hypervisor saves the vCPU of domain {a}" in \
            switch.locator("title").text_content()
        switch.locator(".vk-hit").click()
        assert wait_for_python(page, "print(tl.step)", str(at)) == str(at)
        page.wait_for_function("() => document.querySelectorAll('.vk-timeline "
                               ".vk-switch.vk-selected').length === 1", timeout=10_000)
        timeline.screenshot(path=str(ARTIFACTS / "ring-timeline-host-switch.png"))
        # MachineView(host): a dropdown of the domains; choosing one shows its vCPU
        machine = page.locator(".vk-machine")
        machine.scroll_into_view_if_needed()
        pick = machine.locator("select.vk-domain")
        assert pick.is_visible()
        assert pick.locator("option").all_text_contents() == [b.split("|")[1] for b in bands]
        loaded = int(kernel_print(page, "print(live.loaded.domid)"))
        shown = 2 if loaded != 2 else 4
        pick.select_option(str(shown))
        assert wait_for_python(page, "print(view.domain)", str(shown)) == str(shown)
        regs = kernel_print(page, f"ctx = live.domain({shown}).context; print(*(f'0x{{v:016x}}' "
                                  "for v in ctx.x.view(np.uint64).tolist()))").split()
        page.wait_for_function("(v) => { const e = document.querySelector("
                               "'.vk-machine [data-reg=\"ra\"] .vk-value'); "
                               "return e && e.textContent === v; }", arg=regs[1],
                               timeout=30_000)
        assert list(page.evaluate(REGISTERS_DRAWN).values()) == regs
        name = kernel_print(page, f"print(live.domain({shown}).name)").strip()
        running = machine.locator(".vk-running").text_content()
        assert running.startswith(f"domain {shown} · {name}: runnable, its vCPU as the last "
                                  "world switch saved it")
        assert f"domain {loaded} · " in running and running.endswith("is running")
        assert machine.locator(".vk-mode").text_content() == "U"
        assert machine.locator(".vk-csrs .vk-title").text_content().startswith("CSRs (saved")
        # the hardware guest: its VS CSRs as its saved context has them
        pick.select_option("1")
        assert wait_for_python(page, "print(view.domain)", "1") == "1"
        vcsrs = kernel_print(page, "print(*(f'{n}={t}' for n, t, _ in view.vcsrs))").split()
        page.wait_for_function("() => document.querySelector('.vk-machine .vk-mode')"
                               ".textContent.startsWith('V')", timeout=30_000)
        shown_v = {e.get_attribute("data-vcsr"): e.query_selector(".vk-value").text_content()
                   for e in machine.locator("[data-vcsr]").element_handles()}
        assert [f"{k}={v}" for k, v in shown_v.items()] == vcsrs
        assert "sstatus" in shown_v
        machine.screenshot(path=str(ARTIFACTS / "machine-view-host.png"))
        # Step runs the host: one step further, the status line says who runs
        step = int(kernel_print(page, "print(view.step)"))
        machine.get_by_role("button", name="Step", exact=True).click()
        assert wait_for_python(page, "print(view.step)", str(step + 1)) == str(step + 1)


MEMORY = """
from vkernel.hv import VM, Host
from vkernel.widgets import AddressTranslation, MemoryMap
vm = VM("hello", technique="hardware", trace="walk")
vm.run(max_steps=200_000)
at = AddressTranslation(vm)
cold = int(at.translations.index[at.translations.references == 15][0])
at.select(cold)
at
"""
MEMORY_MAP = """
host = Host(machine_mb=16)
host.create("hello", technique="hardware", name="a", memory_mb=4)
host.create("hello", technique="trap-emulate", name="b", memory_mb=4)
mm = MemoryMap(host, columns=64)
mm
"""
SHADOW = """
te = VM("hello", technique="trap-emulate", trace="walk")
te.run(max_steps=50_000)
shadow = AddressTranslation(te)
shadow.select(int(shadow.translations.index[shadow.translations.references == 3][0]))
shadow
"""
LIVE = """
from vkernel.widgets import MachineView, link
live = VM("hello", technique="hardware", trace="walk")
view = MachineView(live)
follow = AddressTranslation(live)
link(view, follow)
display(view, follow)
"""
# the colours the map's canvas draws, as "r,g,b"
CANVAS_COLOURS = """() => {
    const c = document.querySelector('.vk-memmap canvas');
    const data = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const seen = new Set();
    for (let i = 0; i < data.length; i += 4) {
        if (data[i + 3] === 255) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]}`);
    }
    return [...seen];
}"""


def rgb(colour: str) -> str:
    return ",".join(str(int(colour[i:i + 2], 16)) for i in (1, 3, 5))


def test_address_translation_and_memory_map_in_the_browser(lab):
    """A nested walk drawn in JupyterLab: 15 numbered cells in the 2-D layout, the three
    address spaces named with Python's addresses; Next and a click in the list change the
    translation drawn. A host of two domains' memory map: both domains' colours drawn, the
    legend's counts the host's, and hovering a frame names its owner and guest page."""
    write_notebook(lab.root / "notebooks" / "memory.ipynb", [MEMORY, MEMORY_MAP, SHADOW,
                                                                    LIVE])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/memory.ipynb")
        widget = page.locator(".vk-translation").first
        widget.locator(".vk-ref").first.wait_for(timeout=60_000)
        cells = widget.locator(".vk-ref")
        assert cells.count() == 15
        numbers = [int(n) for n in cells.evaluate_all("(cells) => cells.map((e) => e.dataset.n)")]
        assert sorted(numbers) == list(range(1, 16))
        # row by row: the G-stage levels down, the VS-stage last
        assert numbers == [1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15, 4, 8, 12]
        four = widget.locator('.vk-ref[data-n="4"]')
        assert (four.get_attribute("data-stage"), four.get_attribute("data-level")) == ("vs", "2")
        assert "next level" in four.text_content()
        assert widget.locator('.vk-ref[data-n="15"]').get_attribute("data-result") == "leaf"
        names = widget.locator(".vk-space-name").all_text_contents()
        assert names == ["guest virtual", "guest physical", "machine"]
        addresses = widget.locator(".vk-space-addr").all_text_contents()
        assert addresses == kernel_print(page, "print(*at.info['addresses'])").split()
        assert "15 references" in widget.locator(".vk-outcome").text_content()
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(ARTIFACTS / "address-translation-nested.png"))
        # Next: the translation after, drawn with its own number of cells
        cold = int(kernel_print(page, "print(cold)"))
        widget.get_by_role("button", name="Next ▶").click()
        assert wait_for_python(page, "print(at.index)", str(cold + 1)) == str(cold + 1)
        refs = int(kernel_print(page, "print(at.info['references'])"))
        page.wait_for_function("(n) => document.querySelector('.vk-translation')"
                               ".querySelectorAll('.vk-ref').length === n", arg=refs,
                               timeout=10_000)
        assert widget.locator(".vk-translation-item.vk-selected").get_attribute(
            "data-index") == str(cold + 1)
        # a click in the list: back to the cold walk
        widget.locator(f'.vk-translation-item[data-index="{cold}"]').click()
        page.wait_for_function("() => document.querySelector('.vk-translation')"
                               ".querySelectorAll('.vk-ref').length === 15", timeout=10_000)
        assert kernel_print(page, "print(at.index)").strip() == str(cold)
        # the Find box: a virtual address's page, the latest translation of it
        va = int(kernel_print(page, "print(int(at.translations.vaddr[cold - 3]))"))
        widget.locator(".vk-find").fill(hex(va))
        widget.get_by_role("button", name="Find").click()
        page.wait_for_function("(c) => !document.querySelector('.vk-translation .vk-where')"
                               ".textContent.startsWith(`translation ${c + 1} of`)",
                               arg=cold, timeout=10_000)
        # (the page is a 2 MiB one here: the latest walk anywhere in it)
        found = kernel_print(page, f"print(at.index, AddressTranslation(vm, vaddr={va}).index)")
        assert found.split()[0] == found.split()[1] != str(cold), found
        assert widget.locator(".vk-where").text_content().startswith(
            f"translation {int(found.split()[0]) + 1:,} of")

        # under shadow paging: one stage, 3 references, guest virtual straight to machine
        single = page.locator(".vk-translation").nth(1)
        single.scroll_into_view_if_needed()
        assert [int(n) for n in single.locator(".vk-ref").evaluate_all(
            "(cells) => cells.map((e) => e.dataset.n)")] == [1, 2, 3]
        assert single.locator(".vk-ref").evaluate_all(
            "(cells) => cells.map((e) => e.dataset.level)") == ["2", "1", "0"]
        assert single.locator(".vk-space-name").all_text_contents() == ["guest virtual",
                                                                        "machine"]
        single.screenshot(path=str(ARTIFACTS / "address-translation-shadow.png"))

        # live, linked with a MachineView: each step shows the latest translation
        following = page.locator(".vk-translation").nth(2)
        machine = page.locator(".vk-machine")
        machine.scroll_into_view_if_needed()
        machine.get_by_role("button", name="Step ×N").click()  # 10 steps
        got = wait_for_python(page, "print(view.instret == follow.step, follow.count > 0)",
                              "True True")
        assert got == "True True"
        instret = int(kernel_print(page, "print(view.instret)"))
        page.wait_for_function("([s]) => document.querySelectorAll('.vk-translation')[2]"
                               ".querySelector('.vk-where').textContent.includes(`step ${s}`)",
                               arg=[instret], timeout=10_000)
        refs = int(kernel_print(page, "print(follow.info['references'])"))
        assert following.locator(".vk-ref").count() == refs > 0

        # the memory map: both domains' colours, the legend's counts the host's
        memmap = page.locator(".vk-memmap")
        memmap.scroll_into_view_if_needed()
        legend = {e.get_attribute("data-label"): int(e.get_attribute("data-count"))
                  for e in memmap.locator(".vk-legend-item").all()}
        want = json.loads(kernel_print(page, "import json; print(json.dumps(mm.counts))"))
        assert legend == want and legend["a: RAM"] == legend["b: RAM"] == 1024
        usage = json.loads(kernel_print(page, "print(json.dumps(host.frames.usage()))"))
        assert legend["a: RAM"] + legend["a: hypervisor structures"] == usage["a"]
        colours = json.loads(kernel_print(
            page, "print(json.dumps({r[0]: r[1] for r in mm.legend}))"))
        drawn = set(page.evaluate(CANVAS_COLOURS))
        assert {rgb(colours["a: RAM"]), rgb(colours["b: RAM"])} <= drawn, drawn
        # hovering a frame of a's RAM: its owner and the guest page it backs
        frame = int(kernel_print(page, "print((int(host.domains[0].memory.p2m[5]) - mm.base)"
                                       " // 4096)"))
        box = memmap.locator("canvas").bounding_box()
        page.mouse.move(box["x"] + (frame % 64) * 5 + 2, box["y"] + (frame // 64) * 5 + 2)
        hover = memmap.locator(".vk-memmap-hover")
        page.wait_for_function("(f) => document.querySelector('.vk-memmap-hover')"
                               ".dataset.frame === String(f)", arg=frame, timeout=10_000)
        assert "a: RAM" in hover.text_content()
        assert "backing guest physical 0x80005000" in hover.text_content()
        memmap.screenshot(path=str(ARTIFACTS / "memory-map.png"))

        # JupyterLab Dark: the text keeps 4.5:1, free frames take the dark theme's grey
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        page.wait_for_timeout(500)  # the theme's CSS variables settle, the canvas redraws
        for text, back in ((".vk-translation .vk-ref-addr", ".vk-translation .vk-ref"),
                           (".vk-translation .vk-flag.vk-on", ".vk-translation .vk-ref"),
                           (".vk-translation .vk-space-name", ".vk-translation"),
                           (".vk-memmap .vk-legend-item", ".vk-memmap")):
            assert contrast(page, text, back) >= 4.5, text
        grey = page.evaluate("() => getComputedStyle(document.querySelector('.vk-memmap'))"
                             ".getPropertyValue('--jp-layout-color3').trim()")
        # the canvas redraws when the theme's variables change: under load that can take a
        # moment longer than the CSS (a fixed wait was flaky in CI)
        page.wait_for_function(f"(want) => ({CANVAS_COLOURS})().includes(want)",
                               arg=rgb(grey), timeout=30_000)
        assert rgb(grey) in set(page.evaluate(CANVAS_COLOURS)), grey
        widget.screenshot(path=str(ARTIFACTS / "address-translation-dark.png"))
        memmap.screenshot(path=str(ARTIFACTS / "memory-map-dark.png"))


SHADOW_TABLES = """
from vkernel.hv import VM
from vkernel.widgets import MachineView, ShadowPageTables, link
vm = VM("map-unmap", "trap-emulate", trace="hv")
spt = ShadowPageTables(vm)
spt.run_until_event("wp_fault")
view = MachineView(vm)
link(view, spt)
display(view, spt)
"""
# what the three panes draw: rows per pane, the shadow's states, the entry highlighted
SPT_PANES = """() => {
    const w = document.querySelector('.vk-spt');
    const all = (s) => [...w.querySelectorAll(s)];
    return {guest: all('.vk-spt-guest .vk-spt-entry').length,
            p2m: all('.vk-spt-p2m .vk-spt-entry').length,
            shadow: all('.vk-spt-shadow .vk-spt-entry:not(.vk-spt-dropped)')
                .map((e) => e.dataset.state),
            written: all('.vk-spt-guest .vk-spt-written').map((e) => e.dataset.pte),
            events: all('.vk-spt-event').map((e) => e.dataset.event),
            title: w.querySelector('.vk-title').textContent};
}"""
SPT_PYTHON = ("import json; print(json.dumps({'guest': len(spt.guest_entries), "
              "'p2m': len(spt.p2m_pages), 'shadow': spt.shadow_leaves.state.tolist(), "
              "'written': [hex(spt.written)], 'events': spt.event_rows.event.tolist()}))")


def test_shadow_page_tables_in_the_browser(lab):
    """One domain's guest table, p2m and shadow side by side in JupyterLab: each pane's
    rows are Python's, the guest entry the latest write-protect fault wrote highlighted,
    the strip showing that exit; stepping a linked MachineView changes the panes; light
    and dark screenshots (the text keeps 4.5:1 in both)."""
    write_notebook(lab.root / "notebooks" / "shadow.ipynb", [SHADOW_TABLES])
    with browser_page() as page:
        open_notebook(page, lab, "notebooks/shadow.ipynb")
        widget = page.locator(".vk-spt")
        widget.locator(".vk-spt-shadow .vk-spt-entry").first.wait_for(timeout=60_000)
        drawn, want = page.evaluate(SPT_PANES), json.loads(kernel_print(page, SPT_PYTHON))
        assert {k: drawn[k] for k in want if k != "events"} == {
            k: v for k, v in want.items() if k != "events"}
        # the strip: Python's rows, the latest exit first
        assert sorted(drawn["events"]) == sorted(want["events"]) and drawn["events"][0] == "vm_exit"
        last = max(i for i, e in enumerate(want["events"]) if e == "vm_exit")
        assert drawn["events"][:len(want["events"]) - last] == want["events"][last:]
        assert want["guest"] > 5 and "consistent" in want["shadow"]
        assert "wp_fault" in drawn["events"] and drawn["written"] == want["written"]
        # the shadow entry that exit dropped, outlined in pane 3
        dropped = kernel_print(page, "import numpy as np; print(*[hex(v) for v in "
                               "np.frombuffer(spt.dropped, '<u8')])").split()
        assert dropped and widget.locator(".vk-spt-shadow .vk-spt-written").evaluate_all(
            "(rows) => rows.map((e) => e.dataset.va)") == dropped
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(ARTIFACTS / "shadow-page-tables.png"))
        # step the linked MachineView: the panes follow the guest
        before = drawn["title"]
        machine = page.locator(".vk-machine")
        machine.scroll_into_view_if_needed()
        machine.locator(".vk-count").fill("20000")
        machine.get_by_role("button", name="Step ×N").click()
        assert wait_for_python(page, "print(spt.step == view.instret > 0)", "True") == "True"
        page.wait_for_function("(t) => document.querySelector('.vk-spt .vk-title')"
                               ".textContent !== t", arg=before, timeout=10_000)
        page.wait_for_timeout(200)  # (one animation frame)
        drawn, want = page.evaluate(SPT_PANES), json.loads(kernel_print(page, SPT_PYTHON))
        assert {k: drawn[k] for k in ("guest", "p2m", "shadow", "written")} == {
            k: want[k] for k in ("guest", "p2m", "shadow", "written")}
        assert sorted(drawn["events"]) == sorted(want["events"])
        fills = kernel_print(page, "print(spt.info['fills'])").strip()
        assert f"{int(fills):,} fills" in drawn["title"]
        # JupyterLab Dark
        page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme',"
                      " {theme: 'JupyterLab Dark'})")
        page.wait_for_function("() => document.body.dataset.jpThemeLight === 'false'",
                               timeout=30_000)
        page.wait_for_timeout(500)
        for text, back in ((".vk-spt .vk-spt-head", ".vk-spt .vk-spt-head"),
                           (".vk-spt .vk-spt-entry", ".vk-spt"),
                           (".vk-spt .vk-flag.vk-on", ".vk-spt")):
            assert contrast(page, text, back) >= 4.5, text
        widget.scroll_into_view_if_needed()
        widget.screenshot(path=str(ARTIFACTS / "shadow-page-tables-dark.png"))
