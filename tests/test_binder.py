"""Binder rehearsal: what a student gets from the launch link, built as repo2docker would.

A fresh venv gets only what ``binder/environment.yml`` lists; ``binder/postBuild`` runs in a
copy of the repository with that venv first on PATH (it installs vkernel and warms numba's
cache); then a new process, launched through ``binder/start`` as Binder launches the
notebook server, runs the tour's first cells. Its first machine run must load the numba
core from the cache (a hit, and nothing compiled). The timings are printed (``pytest -s``)
and written to ``test-artifacts/binder-rehearsal.json``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / "test-artifacts"

# Runs in the rehearsal's new process (cwd: the copy's notebooks/, as a Jupyter kernel).
REHEARSE = textwrap.dedent('''\
    import importlib.machinery, importlib.metadata, json, os, sys, time
    from IPython.core.interactiveshell import InteractiveShell
    from numba.core import event

    notebook, out = sys.argv[1], sys.argv[2]
    cells = [''.join(c['source']) for c in json.load(open(notebook))['cells']
             if c['cell_type'] == 'code']
    # the tour's first cells, up to the one that builds a Machine and runs it
    last = next(i for i, src in enumerate(cells) if 'Machine(' in src and '.run(' in src)
    report = {'cells_s': [], 'first_machine_run_s': None}

    class TimeFirstRun:
        """Wraps Machine.run when a cell imports vkernel.machine (importing it here would
        take its cost out of the cells)."""
        def find_spec(self, name, path=None, target=None):
            if name != 'vkernel.machine':
                return None
            spec = importlib.machinery.PathFinder.find_spec(name, path)
            load = spec.loader.exec_module
            def exec_module(module):
                load(module)
                original = module.Machine.run
                def run(self, *args, **kwargs):
                    start = time.perf_counter()
                    try:
                        return original(self, *args, **kwargs)
                    finally:
                        if report['first_machine_run_s'] is None:
                            report['first_machine_run_s'] = time.perf_counter() - start
                module.Machine.run = run
            spec.loader.exec_module = exec_module
            return spec

    sys.meta_path.insert(0, TimeFirstRun())
    shell = InteractiveShell.instance()
    with event.install_recorder('numba:compile') as compiles:
        for src in cells[:last + 1]:
            start = time.perf_counter()
            result = shell.run_cell(src)
            report['cells_s'].append(time.perf_counter() - start)
            result.raise_error()
    from vkernel import warm
    stats = {name: (sum(f.stats.cache_hits.values()), sum(f.stats.cache_misses.values()))
             for name, f in warm.dispatchers().items()}
    ex = shell.user_ns['ex']
    import vkernel
    report.update(
        cells=cells[:last + 1], vkernel=vkernel.__file__,
        NUMBA_CPU_NAME=os.environ.get('NUMBA_CPU_NAME'),
        compiled=sorted({e.data['dispatcher'].py_func.__qualname__
                         for _, e in compiles.buffer if e.is_start}),
        run_hits=stats['run'][0], run_misses=stats['run'][1],
        misses={name: m for name, (h, m) in stats.items() if m},
        exit=repr(ex), exit_reason=ex.reason,
        installed={d.metadata['Name']: d.version for d in importlib.metadata.distributions()})
    json.dump(report, open(out, 'w'), indent=1)
''')

PRIME = "import IPython, vkernel.magic, vkernel.machine, vkernel.plots, vkernel.widgets"

# Runs in the same venv without binder/start: the host's CPU name instead of "generic".
HOST_CPU = ("from vkernel.core import kernel as K; K.csr_exists(0x300); "
            "print(sum(K.csr_exists.stats.cache_hits.values()), "
            "sum(K.csr_exists.stats.cache_misses.values()))")


def need(ok: object, message: str) -> None:
    """Skip locally without something the rehearsal needs, but fail in CI, which has it."""
    if not ok:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)


def binder_environment() -> tuple[str, list[str], list[str]]:
    """``(python version, other conda packages, pip requirements)`` of environment.yml."""
    try:
        import yaml
    except ImportError:  # a dependency of jupyter_events, so of JupyterLab
        need(False, "PyYAML is missing (make test installs it with JupyterLab)")
    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    python, conda, pip = None, [], []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        elif dep.startswith("python="):
            python = dep.split("=", 1)[1]
        else:
            conda.append(dep)
    assert python, "environment.yml pins no python"
    return python, conda, pip


def test_warm_calls_every_kernel_that_python_calls() -> None:
    """``vkernel warm`` must compile each kernel the package calls from Python."""
    from vkernel.warm import ENTRY_POINTS

    called = set()
    for path in (ROOT / "vkernel").rglob("*.py"):
        if path.parent.name != "core":
            called |= set(re.findall(r"\bK\.([a-z_]\w*)\(", path.read_text()))
    assert called == set(ENTRY_POINTS), f"update vkernel.warm.ENTRY_POINTS: {sorted(called)}"


def _copy_repository(dest: Path) -> None:
    """The files a clone has (and, locally, new ones not yet committed)."""
    try:
        names = subprocess.run(["git", "ls-files", "-z", "--cached", "--others",
                                "--exclude-standard"], cwd=ROOT, capture_output=True,
                               check=True).stdout.decode().split("\0")
    except (OSError, subprocess.CalledProcessError):
        names = None
    if names is None:
        shutil.copytree(ROOT, dest, symlinks=True, ignore=shutil.ignore_patterns(
            ".venv", ".git", "test-artifacts", "__pycache__", ".*_cache", ".hypothesis",
            "*.egg-info", "build", "dist", "benchmarks/results"))
        return
    for name in filter(None, names):
        src = ROOT / name
        if src.is_file() or src.is_symlink():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / name, follow_symlinks=False)


def _run(cmd: list[str], what: str, **kw) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(cmd, capture_output=True, text=True, **kw)
    assert result.returncode == 0, (f"{what} failed ({result.returncode}):\n"
                                    f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def test_binder_rehearsal(tmp_path: Path) -> None:
    python_version, conda, pip_reqs = binder_environment()
    interpreter = shutil.which(f"python{python_version}")
    need(interpreter, f"python{python_version} (environment.yml's python) is not on PATH")
    # repo2docker gets these from conda; the rehearsal can reproduce only pip's own pin
    assert all(re.fullmatch(r"pip[<>=!~,.\d\s]*", dep) for dep in conda), (
        f"conda packages the pip-only rehearsal cannot reproduce: {conda}")
    venv, repo = tmp_path / "venv", tmp_path / "repo"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("NUMBA_", "VKERNEL_", "PYTHON"))
           and k not in ("VIRTUAL_ENV", "CONDA_PREFIX")}
    env["PATH"] = f"{venv / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    timings: dict[str, object] = {}
    t0 = time.perf_counter()

    # 1. the image's environment: environment.yml and nothing else (pip's cache reused).
    #    This pip installs into the new venv (--python), pip itself included; it does not
    #    byte-compile (that takes 40 s here): see step 3.
    _run([interpreter, "-m", "venv", "--without-pip", str(venv)], "python -m venv", env=env)
    _run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
          "--quiet", "--no-compile", *conda, *pip_reqs], "pip install (environment.yml)",
         env=env, timeout=900)
    timings["venv_s"] = time.perf_counter() - t0
    _copy_repository(repo)
    assert not (repo / "vkernel" / "core" / "__pycache__").exists()

    # 2. postBuild, from the repository root, as repo2docker runs it
    t = time.perf_counter()
    built = _run([str(repo / "binder" / "postBuild")], "binder/postBuild", cwd=repo, env=env,
                 timeout=1200)
    timings["postBuild_s"] = time.perf_counter() - t
    warm_log = built.stdout[built.stdout.find("vkernel warm:"):].splitlines()
    done = re.search(r"vkernel warm: done in ([\d.]+) s", built.stdout)
    assert done, f"postBuild did not warm the cache:\n{built.stdout}\n{built.stderr}"
    timings["warm_s"] = float(done.group(1))

    # 3. a new process, launched through binder/start, runs the tour's first cells. An
    #    image has its modules byte-compiled; importing what the cells use writes those
    #    .pyc files here too, so that the cells are not charged for them (imports compile
    #    nothing with numba).
    _run([str(venv / "bin" / "python"), "-c", PRIME], "byte-compiling the cells' modules",
         cwd=repo / "notebooks", env=env, timeout=300)
    out = tmp_path / "rehearsal.json"
    script = tmp_path / "rehearse.py"
    script.write_text(REHEARSE)
    t = time.perf_counter()
    _run([str(repo / "binder" / "start"), "python", str(script),
          str(repo / "notebooks" / "00-tour.ipynb"), str(out)], "the tour's first cells",
         cwd=repo / "notebooks", env=env, timeout=600)
    timings["rehearsal_process_s"] = time.perf_counter() - t
    report = json.loads(out.read_text())

    # 4. the same cache seen with the host's CPU name (no binder/start): a miss, so the
    #    hit above is the warm-up's and start's doing, and the check can fail
    host = _run([str(venv / "bin" / "python"), "-c", HOST_CPU], "the host-CPU check",
                cwd=repo / "notebooks", env=env, timeout=300)
    host_hits, host_misses = map(int, host.stdout.split())
    timings["total_s"] = time.perf_counter() - t0
    # 5. the installed package (a wheel, not the checkout) carries the widgets' front ends
    shipped = _run([str(venv / "bin" / "python"), "-c", "import vkernel.widgets as w; "
                    "print(w.ASSETS); print(*sorted(p.name for p in w.ASSETS.iterdir() "
                    "if p.suffix in ('.js', '.css')))"],
                   "finding the widgets' front ends", cwd=tmp_path, env=env, timeout=300)
    assets, names = shipped.stdout.splitlines()
    assert assets.startswith(str(venv)) and assets.endswith("vkernel/_widgets"), assets
    assert names.split() == sorted(p.name for p in (ROOT / "widgets").iterdir()
                                   if p.suffix in (".js", ".css")), names

    artifact = {
        **timings, "first_cell_s": report["cells_s"][0], "cells_s": report["cells_s"],
        "first_machine_run_s": report["first_machine_run_s"],
        "run_cache_hits": report["run_hits"], "run_cache_misses": report["run_misses"],
        "compiled_during_cells": report["compiled"], "NUMBA_CPU_NAME": report["NUMBA_CPU_NAME"],
        "host_cpu_csr_exists": {"hits": host_hits, "misses": host_misses},
        "warm_log": warm_log, "environment": [*conda, *pip_reqs],
        "installed": report["installed"]}
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "binder-rehearsal.json").write_text(json.dumps(artifact, indent=1) + "\n")
    print("\nBinder rehearsal:", *warm_log, sep="\n  ")
    print(f"  venv from environment.yml {timings['venv_s']:.1f} s; postBuild "
          f"{timings['postBuild_s']:.1f} s (warm {timings['warm_s']:.1f} s)")
    print(f"  tour cells {', '.join(f'{s:.2f}' for s in report['cells_s'])} s; first machine "
          f"run {report['first_machine_run_s']:.2f} s; run kernel: {report['run_hits']} "
          f"cache hit, {report['run_misses']} misses; total {timings['total_s']:.1f} s")

    assert report["vkernel"].startswith(str(venv)), f"imported {report['vkernel']}"
    assert report["NUMBA_CPU_NAME"] == "generic", "binder/start did not set NUMBA_CPU_NAME"
    assert report["exit_reason"] == "halt", report["exit"]
    assert report["compiled"] == [] and report["misses"] == {}, (
        f"the tour's first cells compiled {report['compiled']} (misses {report['misses']})")
    assert report["run_hits"] == 1 and report["run_misses"] == 0
    assert report["first_machine_run_s"] is not None
    assert host_misses == 1 and host_hits == 0, (
        "with the host's CPU name the generic cache should miss: is the check still real?")
    shutil.rmtree(venv)  # 600 MB; kept when the test fails
