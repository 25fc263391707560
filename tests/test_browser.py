"""In a real JupyterLab and a real browser: the tour notebook runs and its plots render."""

from __future__ import annotations

import pytest
from lab import JupyterLab, browser_page, chromium_path, open_notebook, screenshot


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
