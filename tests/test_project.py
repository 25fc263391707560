"""The project keeps its promises: the README's two commands, CI, clean notebooks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_readme_shows_the_two_commands_first() -> None:
    text = (ROOT / "README.md").read_text()
    first_block = text.split("```bash", 1)[1].split("```", 1)[0]
    assert "make lab" in first_block and "make test" in first_block
    assert text.index("make lab") < text.index("```python")


def test_ci_runs_make_test() -> None:
    run = ROOT / ".ci" / "run"
    assert "make test" in run.read_text()
    assert run.stat().st_mode & 0o111


def test_notebooks_are_committed_without_outputs() -> None:
    tracked = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True,
                             text=True, check=True).stdout.split()
    assert tracked, "no notebooks tracked"
    for name in tracked:
        nb = json.loads((ROOT / name).read_text())
        for cell in nb["cells"]:
            if cell["cell_type"] == "code":
                assert not cell.get("outputs") and cell.get("execution_count") is None, name


def test_every_notebook_has_goals_exercises_and_summary() -> None:
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb")):
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"])
        for heading in ("Learning goals", "Exercises", "Summary"):
            assert heading in text, f"{path.name} lacks {heading}"
        solution = ROOT / "notebooks" / "solutions" / f"{path.stem}-solutions.ipynb"
        assert solution.exists(), f"{path.name} has no solutions notebook"


def _binder_pins() -> tuple[list[str], list[str]]:
    """``(conda packages, pip requirements)`` of binder/environment.yml."""
    import yaml

    env = yaml.safe_load((ROOT / "binder" / "environment.yml").read_text())
    conda = [d for d in env["dependencies"] if isinstance(d, str)]
    pip = [r for d in env["dependencies"] if isinstance(d, dict) for r in d["pip"]]
    return conda, pip


def _pyproject() -> dict:
    import tomllib

    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def test_binder_installs_the_runtime_dependencies_and_the_lab_extra() -> None:
    """postBuild installs vkernel with --no-deps: environment.yml must list what it needs,
    pinned as pyproject.toml pins it, and JupyterLab with the widgets (the "lab" extra)."""
    project = _pyproject()
    wanted = project["dependencies"] + project["optional-dependencies"]["lab"]
    _, pip = _binder_pins()
    assert sorted(pip) == sorted(wanted), (
        f"binder/environment.yml lacks {sorted(set(wanted) - set(pip))}, "
        f"has besides {sorted(set(pip) - set(wanted))}")


def test_binder_and_runtime_pins_are_bounded() -> None:
    """Every pin has a lower and an upper bound, so that a later build gets the same majors."""
    from packaging.requirements import Requirement

    project = _pyproject()
    conda, pip = _binder_pins()
    assert "python=3.11" in conda, "binder/environment.yml must pin python=3.11 (numpy 2.4)"
    pins = pip + project["dependencies"] + project["optional-dependencies"]["lab"]
    pins += [c for c in conda if not c.startswith("python=")]  # conda spells these as pip
    for pin in pins:
        ops = {s.operator for s in Requirement(pin).specifier}
        assert ops & {">=", ">", "==", "~="} and ops & {"<", "<=", "==", "~="}, (
            f"{pin!r} needs a lower and an upper bound")


def test_binder_start_sets_the_cpu_name_that_postbuild_warmed_with() -> None:
    post = (ROOT / "binder" / "postBuild").read_text()
    start = (ROOT / "binder" / "start").read_text()
    assert "pip install --no-deps ." in post and "vkernel warm" in post
    for text in (post, start):
        assert "export NUMBA_CPU_NAME=generic" in text
    assert post.index("NUMBA_CPU_NAME=generic") < post.index("vkernel warm")
    assert start.rstrip().splitlines()[-1] == 'exec "$@"'
    for name in ("postBuild", "start"):
        assert (ROOT / "binder" / name).stat().st_mode & 0o111, f"binder/{name} not executable"


def test_readme_binder_link_and_make_lab_open_the_tour() -> None:
    import re

    text = (ROOT / "README.md").read_text()
    links = re.findall(r"mybinder\.org/v2/gh/vkernel/vkernel/[^)?\s]+\?urlpath=lab/tree/([^)\s]+)",
                       text)
    assert links and all(link == "notebooks/00-tour.ipynb" for link in links), links
    assert (ROOT / links[0]).exists()
    dry = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True,
                         check=True).stdout
    lab = [line for line in dry.splitlines() if "jupyter lab" in line]
    assert lab and "jupyter lab notebooks/00-tour.ipynb" in lab[-1], dry
