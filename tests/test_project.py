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


def test_binder_installs_every_runtime_dependency():
    """postBuild installs vkernel with --no-deps: environment.yml must list what it needs."""
    import tomllib

    root = Path(__file__).resolve().parent.parent
    deps = tomllib.loads((root / "pyproject.toml").read_text())["project"]["dependencies"]
    env = (root / "binder" / "environment.yml").read_text()
    for dep in deps:
        assert f"- {dep}" in env, f"binder/environment.yml lacks {dep}"
