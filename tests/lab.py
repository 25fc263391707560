"""A real JupyterLab and a real browser for the widget and plot tests.

``JupyterLab`` starts the project's own JupyterLab on a free localhost port with its own
settings and workspaces folders, and stops exactly that server. ``open_notebook`` drives
Debian's chromium through Playwright (no downloaded browser) to a notebook, waits until
JupyterLab, the document and its kernel are ready, and runs every cell through JupyterLab's
command registry (clicking the menu item was flaky; the command is not).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"  # screenshots, kept after the run (git ignores them)
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_path() -> str:
    """Debian's chromium; skip without it, but fail in CI, which installs it."""
    for path in ("/usr/bin/chromium", "/usr/bin/chromium-browser"):
        if Path(path).exists():
            return path
    message = "chromium not found (make test installs Debian's chromium as root)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


class JupyterLab:
    """One JupyterLab server for the tests, serving a copy of the notebooks (a run in the
    browser must never save outputs into the repository's notebooks)."""

    def __init__(self, workdir: Path, env: dict[str, str | None] | None = None) -> None:
        """``env`` changes the server's environment, which its kernels inherit (None
        unsets a variable)."""
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.root = workdir / "root"
        shutil.copytree(ROOT / "notebooks", self.root / "notebooks",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
        settings = workdir / "settings"
        for plugin, values in (("apputils-extension/notification",
                                {"fetchNews": "false", "checkForUpdates": False}),
                               ("docmanager-extension/plugin", {"autosave": False})):
            path = settings / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {k: v for k, v in {
            **os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings),
            "JUPYTERLAB_WORKSPACES_DIR": str(workdir / "workspaces"),
            "VKERNEL_PROGRESS": "0", **(env or {})}.items() if v is not None}
        self.log = (workdir / "jupyterlab.log").open("w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--port={self.port}",
             "--ServerApp.token=", "--ServerApp.password=", "--ServerApp.ip=127.0.0.1",
             "--ServerApp.port_retries=0", "--allow-root",
             "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={self.root}"],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=self.root)
        self._wait()

    def _wait(self, seconds: float = 90) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"JupyterLab exited with {self.proc.returncode}; "
                                   f"see {self.log.name}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{self.url}/api/status", timeout=2) as r:
                    if r.status == 200:
                        return
            time.sleep(0.3)
        raise RuntimeError(f"JupyterLab did not answer in {seconds} s; see {self.log.name}")

    def stop(self) -> None:
        self.proc.terminate()  # this server only, by its own pid
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


@contextlib.contextmanager
def browser_page(viewport: tuple[int, int] = (1400, 1000)) -> Iterator:  # noqa: ANN201
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            yield page
        finally:
            browser.close()


RUN_ALL = """async () => {
    const app = window.jupyterapp;
    await app.restored;
    let panel = app.shell.currentWidget;
    for (let i = 0; i < 200 && !(panel && panel.sessionContext); i++) {
        await new Promise(r => setTimeout(r, 100));
        panel = app.shell.currentWidget;
    }
    await panel.context.ready;
    await panel.sessionContext.ready;
    await app.commands.execute('notebook:run-all-cells');
}"""

# every code cell has run (an execution count) and the kernel is idle again; or a cell
# failed (run-all stops there: the error is reported at once, not after the timeout)
ALL_RAN = """() => {
    const panel = window.jupyterapp.shell.currentWidget;
    const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
    if (!kernel || kernel.status !== 'idle') return false;
    const cells = panel.content.model.cells;
    let done = true;
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type !== 'code') continue;
        for (let j = 0; j < c.outputs.length; j++) {
            if (c.outputs.get(j).type === 'error') return true;
        }
        if (c.sharedModel.source.trim() && !c.executionCount) done = false;
    }
    return done;
}"""

ERRORS = """() => {
    const cells = window.jupyterapp.shell.currentWidget.content.model.cells;
    const out = [];
    for (let i = 0; i < cells.length; i++) {
        const c = cells.get(i);
        if (c.type !== 'code') continue;
        for (let j = 0; j < c.outputs.length; j++) {
            const o = c.outputs.get(j).toJSON();
            if (o.output_type === 'error') out.push(o.ename + ': ' + o.evalue);
        }
    }
    return out;
}"""


def open_notebook(page, lab: JupyterLab, path: str, timeout_s: float = 240) -> None:  # noqa: ANN001
    """Open ``path`` (relative to the repository, e.g. ``notebooks/00-tour.ipynb``) in
    JupyterLab and run all its cells."""
    page.goto(f"{lab.url}/lab/tree/{path}?reset", wait_until="domcontentloaded")
    page.wait_for_function("() => window.jupyterapp !== undefined", timeout=60_000)
    page.evaluate(RUN_ALL)
    page.wait_for_function(ALL_RAN, timeout=timeout_s * 1000, polling=250)
    errors = page.evaluate(ERRORS)
    assert not errors, f"{path}: cells failed in the browser: {errors}"


def screenshot(page, name: str) -> Path:  # noqa: ANN001
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


KERNEL_PRINT = """async (code) => {
    const kernel = window.jupyterapp.shell.currentWidget.sessionContext.session.kernel;
    const future = kernel.requestExecute({code: code, store_history: false});
    let out = '';
    future.onIOPub = (msg) => {
        if (msg.header.msg_type === 'stream') out += msg.content.text;
    };
    await future.done;
    return out;
}"""


def kernel_print(page, code: str) -> str:  # noqa: ANN001
    """Run ``code`` in the notebook's kernel and return what it printed."""
    return page.evaluate(KERNEL_PRINT, code)
