"""Build checks: the wheel and sdist build, pass `twine check`, and the wheel works installed
into a fresh virtual environment outside the source tree (no clone, no network)."""

from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from mlgate import __version__
from mlgate.project import PROJECT_FILES, REGRESSION_FILES
from tests.conftest import BIN, ROOT, make_env, run
from tests.e2e.conftest import make_runner_venv

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`python -m build` (the sdist, then the wheel from it), offline: no build isolation.

    It builds a copy of what the sdist needs (pyproject.toml, README.md, src/): setuptools
    writes build/ and *.egg-info where it builds, and xdist workers may build at once."""
    base = tmp_path_factory.mktemp("build")
    source, out = base / "source", base / "dist"
    skip = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    shutil.copytree(ROOT / "src", source / "src", ignore=skip)
    for name in ("pyproject.toml", "README.md"):
        shutil.copyfile(ROOT / name, source / name)
    env = {**os.environ, "PIP_NO_INDEX": "1"}
    run(
        [BIN / "python", "-m", "build", "--no-isolation", "--outdir", out, source],
        cwd=base,
        env=env,
    )
    return out


def test_build_makes_a_wheel_and_an_sdist_twine_accepts(dist: Path) -> None:
    names = sorted(p.name for p in dist.iterdir())
    assert names == [f"mlgate-{__version__}-py3-none-any.whl", f"mlgate-{__version__}.tar.gz"]
    proc = run(
        [BIN / "twine", "check", "--strict", *sorted(dist.iterdir())], cwd=dist, env=os.environ
    )
    assert proc.stdout.count("PASSED") == 2, proc.stdout


def test_the_wheel_holds_the_reference_project_and_templates(dist: Path) -> None:
    with zipfile.ZipFile(next(dist.glob("*.whl"))) as wheel:
        names = set(wheel.namelist())
        metadata = wheel.read(f"mlgate-{__version__}.dist-info/METADATA").decode()
    for name in PROJECT_FILES:
        assert f"mlgate/templates/project/{name}" in names, name
    for name in REGRESSION_FILES:
        assert f"mlgate/templates/project-regression/{name}" in names, name
    assert {"mlgate/py.typed", "mlgate/templates/workflows/pr.yml"} <= names
    assert {"mlgate/templates/new/README.md", "mlgate/templates/new/gitignore"} <= names
    assert "Provides-Extra: serve" in metadata and "Provides-Extra: demo" in metadata
    assert "Requires-Dist: matplotlib" in metadata and 'extra == "demo"' in metadata


def test_the_installed_wheel_runs_outside_the_source_tree(dist: Path, tmp_path: Path) -> None:
    """`--no-deps` into a venv that sees the test environment's packages (a .pth line):
    mlgate itself comes from the wheel only, its dependencies from here."""
    venv = make_runner_venv(tmp_path / "venv", install_mlgate=False)
    wheel = next(dist.glob("*.whl"))
    pip_env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    run(
        [venv / "bin/python", "-m", "pip", "install", "-q", "--no-deps", wheel],
        cwd=tmp_path,
        env=pip_env,
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = make_env(tmp_path / "home")
    env["PATH"] = os.pathsep.join([str(venv / "bin"), env["PATH"]])  # its python runs the stages

    def mlgate(*args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        return run([venv / "bin/mlgate", *args], cwd=elsewhere, env=env, timeout=timeout)

    where = run(
        [venv / "bin/python", "-c", "import mlgate; print(mlgate.__file__)"], cwd=elsewhere, env=env
    )
    assert Path(where.stdout.strip()).is_relative_to(venv), "mlgate from the wheel, not the clone"
    assert mlgate("--version").stdout.strip() == f"mlgate {__version__}"

    mlgate("new", "my-model")
    project = elsewhere / "my-model"
    assert (project / "data/breast_cancer.csv").read_bytes() == (
        ROOT / "data/breast_cancer.csv"
    ).read_bytes()
    assert (project / ".dvc/config").is_file() and (project / ".github/workflows/pr.yml").is_file()
    mlgate("new", "my-regressor", "--task", "regression")  # its files are package data too
    for name in REGRESSION_FILES:
        assert (elsewhere / "my-regressor" / name).is_file(), name

    demo = mlgate("demo", timeout=1200)  # ./mlgate-demo: the whole loop, about two minutes
    for outcome in ("rolled_back", "invalid_data", "rejected", "released"):
        assert outcome in demo.stdout, demo.stdout[-3000:]
    box = elsewhere / "mlgate-demo"
    assert (box / "production-metrics.png").read_bytes()[:4] == b"\x89PNG"
    assert (box / "project/src/mlgate/ml").is_dir(), "the library parts dvc.yaml names"
