"""In a real JupyterLab and a real browser: the tour notebook runs, its plots render, and
MachineView steps forwards and back from clicks and keys."""

from __future__ import annotations

import time

import pytest
from lab import JupyterLab, browser_page, chromium_path, kernel_print, open_notebook, screenshot


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
        assert legend == ["U", "S", "M"]
        assert "Time in each privilege mode" in first.locator("text.mainheading").text_content()
        second = figures.nth(1)
        assert second.locator(".g_legend text.legendtext").all_text_contents() == [
            "environment call from M-mode"]
        path = screenshot(page, "tour-plots")
        assert path.stat().st_size > 10_000


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
