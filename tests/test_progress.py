"""What a person watching sees: progress bars that never guess (no percentage, no time
left) and leave nothing behind, in a terminal and as a notebook widget; the compile notice
given exactly when numba's cache really lacks the core (checked against numba's own cache
hits and misses in fresh processes); ``vkernel warm`` and ``make lab`` not compiling twice.
The browser test on a cold cache is tests/test_first_run.py."""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from vkernel import Machine, assemble, machine, progress
from vkernel.progress import NOTICE, cold, compiling, progress_bar

ROOT = Path(__file__).resolve().parent.parent
ESTIMATE = re.compile(r"\d+%|<\d+:\d\d|<\?|\d+/\d")  # a percentage, a time left, n/total


def last_line(written: str) -> str:
    """What a terminal shows on the bar's line at the end: the text after the last \\r."""
    return written.rsplit("\r", 1)[-1]


# --- the run's progress bar -----------------------------------------------------------
def test_bar_counts_steps_and_rate_never_an_estimate_and_clears_its_line():
    out = io.StringIO()
    bar = progress_bar(10_000, "hello", delay=0, file=out)
    bar.update(161)
    bar.refresh()
    shown = last_line(out.getvalue())
    assert shown.startswith("hello: 161 steps [00:00, ") and "steps/s" in shown, shown
    assert "budget 10.0k" in shown and not ESTIMATE.search(shown), shown
    assert bar.total is None
    bar.close()
    assert last_line(out.getvalue()).strip() == ""  # the line is wiped, nothing left


def test_a_run_counts_every_step_and_leaves_nothing(monkeypatch):
    m = Machine(ram_mb=1)
    m.load(assemble("li a0, 0\n1: addi a0, a0, 1\nj 1b"))
    out = io.StringIO()
    bars = []

    def bar(budget, name=None, **kw):  # noqa: ANN001, ANN003, ANN202
        bars.append(progress_bar(budget, name, **kw, file=out))
        return bars[-1]

    monkeypatch.setattr(machine, "progress_bar", bar)
    monkeypatch.setattr(machine, "BAR_DELAY", 0)  # a bar at once, however short the run
    ex = m.run(max_steps=60_000_000, progress=True)  # four calls into the core
    assert ex.reason == "budget" and bars[0].n == ex.step == 60_000_000
    assert bars[0].disable  # closed
    written = out.getvalue()
    # (tqdm redraws at most every 0.1 s: the last count shown may be below the end)
    assert re.search(r"\rprogram: [\d.]+M steps \[00:\d\d, [\d.]+[kMG]? steps/s, "
                     r"budget 60.0M\]", written), written
    assert not ESTIMATE.search(written) and last_line(written).strip() == ""
    # a halt long before the budget: the bar says nothing of the budget being unmet
    m2 = Machine(ram_mb=1)
    m2.load(assemble("li t0, 0x100000\nli t1, 0x5555\nsw t1, 0(t0)"))
    out.truncate(0)
    assert m2.run(max_steps=10_000, progress=True).reason == "halt"
    assert bars[1].n == 3 and bars[1].disable and not ESTIMATE.search(out.getvalue())
    monkeypatch.setenv("VKERNEL_PROGRESS", "0")  # nobody watches: no bar
    m.run(max_steps=10)
    assert len(bars) == 2
    monkeypatch.setenv("VKERNEL_PROGRESS", "1")
    m.run(max_steps=10)
    assert len(bars) == 3 and bars[2].n == 10
    # as it is outside tests: a run shorter than a second never makes a bar at all (each
    # step() of a loop would otherwise build and tear down a notebook widget)
    monkeypatch.setattr(machine, "BAR_DELAY", 1.0)
    for _ in range(20):
        m.step()
    assert m.run(max_steps=1000, progress=True).reason == "budget" and len(bars) == 3


class Published:
    """An IPython display publisher that keeps what a notebook kernel would send."""

    def __init__(self) -> None:
        self.messages: list[dict] = []

    def publish(self, data, metadata=None, source=None, *, transient=None,  # noqa: ANN001
                update=False, **kwargs) -> None:  # noqa: ANN003
        self.messages.append({"data": data, "id": (transient or {}).get("display_id"),
                              "update": update})

    def clear_output(self, wait=False) -> None:  # noqa: ANN001
        self.messages.append({"clear": True})


@pytest.fixture
def notebook(monkeypatch):
    """This process as a notebook kernel, for display purposes: progress bars are
    ipywidgets, displayed through IPython (recorded, not sent)."""
    pytest.importorskip("ipywidgets")
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    published = Published()
    monkeypatch.setattr(shell, "display_pub", published)
    monkeypatch.setattr(progress, "in_notebook", lambda: True)
    return published


def test_notebook_bar_of_a_short_run_is_never_red_and_leaves_an_empty_output(notebook):
    # the old failure: 161 steps of a 10,000-step budget, closed, drew a red bar reading
    # "2% 161/10.0k [01:33<31:57:29]" and left it in the notebook
    bar = progress_bar(10_000, "hello", delay=0)
    assert type(bar).__name__ == "NotebookBar"
    bar.update(161)
    bar.refresh()
    ltext, pbar, rtext = bar.container.children
    text = (ltext.value + rtext.value).replace("\u2007", " ")
    assert "161 steps" in text and not ESTIMATE.search(text), text
    shown = [m for m in notebook.messages if not m.get("update")]
    assert len(shown) == 1 and "application/vnd.jupyter.widget-view+json" in shown[0]["data"]
    bar.close()
    assert pbar.bar_style != "danger" and bar.container.comm is None  # closed, not red
    # the displayed widget is replaced by nothing: a saved notebook keeps no bar
    assert notebook.messages[-1] == {"data": {}, "id": shown[0]["id"], "update": True}


def test_notebook_bar_waits_for_its_delay_before_it_appears(notebook):
    bar = progress_bar(None, "quick")  # delay 1 s: a short run shows nothing at all
    bar.update(5)
    bar.close()
    assert notebook.messages == []


# --- is the core cold? and the notice ----------------------------------------------------
PROBE = """
import sys
from vkernel.core import kernel as K
from vkernel.progress import cold, compiling
name = sys.argv[1]
before = cold([name])
with compiling([name], show=True, file=sys.stderr):
    getattr(K, name)(*eval(sys.argv[2]))
f = getattr(K, name)
print(before, sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
with compiling([name], show=True, file=sys.stderr):   # compiled now: nothing to say
    pass
"""


def probe(cache: Path, name: str, args: str, cpu: str | None = None) -> tuple[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME",
                                                            "NUMBA_CACHE_DIR")}
    env["NUMBA_CACHE_DIR"] = str(cache)
    if cpu:
        env["NUMBA_CPU_NAME"] = cpu
    done = subprocess.run([sys.executable, "-c", PROBE, name, args], capture_output=True,
                          env=env, timeout=600, check=False)  # bytes: \r stays \r
    assert done.returncode == 0, done.stderr
    return done.stdout.decode().strip(), done.stderr.decode()


def test_cold_agrees_with_what_numba_then_does(tmp_path):
    """Each prediction of :func:`cold` is checked against numba's own statistics in the
    same fresh process: predicted cold, numba compiled (a miss); predicted warm, numba
    loaded it from the cache (a hit). The cache is keyed by CPU name as well."""
    cache = tmp_path / "numba-cache"
    # an empty cache: cold, and numba compiles; the notice comes first, once, then the
    # ticker (wiped at the end) and how long it took
    said, err = probe(cache, "csr_exists", "(0x300,)")
    assert said == "['csr_exists'] 0 1", said
    assert err.count(NOTICE) == 1 and err.index(NOTICE) == 0, err
    assert "compiling the machine core: 00:0" in err
    assert re.search(r"\r *\rvkernel: compiled in \d+ s\.\n$", err), repr(err)
    # the same cache in a new process: warm, and numba loads it; nothing is said
    assert probe(cache, "csr_exists", "(0x300,)") == ("[] 1 0", "")
    # another CPU name: cold again, and numba compiles again
    from numba.core import config

    if (config.CPU_NAME or "") == "generic":
        pytest.skip("the host's CPU name is already generic")
    said, err = probe(cache, "csr_exists", "(0x300,)", cpu="generic")
    assert said == "['csr_exists'] 0 1" and NOTICE in err, (said, err)


def test_compiling_is_quiet_where_nobody_watches(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VKERNEL_PROGRESS", "0")
    with compiling(["run"]) as compiles:
        pass
    assert compiles in (True, False)
    assert capsys.readouterr() == ("", "")
    assert cold([]) == []
    with pytest.raises(KeyError):
        cold(["no_such_kernel"])


# --- vkernel warm and make lab ------------------------------------------------------------
def test_warm_on_a_warm_cache_returns_at_once_and_compiles_nothing():
    from vkernel import warm

    warm.warm()  # in this process: compile what is missing (usually: load it)
    assert warm.is_warm()
    done = subprocess.run([sys.executable, "-m", "vkernel", "warm"], capture_output=True,
                          text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    said = re.search(r"vkernel warm: done in ([\d.]+) s; the core is already compiled",
                     done.stdout)
    assert said, done.stdout  # (how long it took is said, not asserted: no timed tests)
    assert "compiled run" not in done.stdout


def test_make_lab_warms_the_core_before_jupyterlab_in_the_same_environment():
    dry = subprocess.run(["make", "-n", "lab"], capture_output=True,
                         text=True, cwd=ROOT, check=False, timeout=60)
    if dry.returncode != 0:
        pytest.skip(f"make -n lab: {dry.stderr}")
    lines = dry.stdout.splitlines()
    warm = [i for i, line in enumerate(lines) if line.endswith("/vkernel warm")]
    lab = [i for i, line in enumerate(lines) if "/jupyter lab " in line]
    assert warm and lab and warm[0] < lab[0], dry.stdout
    # both inherit make's environment: nothing sets NUMBA_CPU_NAME for one of them only
    assert not any("NUMBA_CPU_NAME" in line for line in lines)
