"""Shared builders: isolated git/DVC environments and copies of the reference project.

Every test that touches git gets its own HOME and identity; nothing reads the user's
config. ``reproduced_project`` runs the pipeline once per session and hands each test a
fresh copy (with its DVC cache), so end-to-end tests do not pay for `dvc repro` each time.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.github_stub import GitHubStub

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

#: What a copy of the reference project contains (the rest is produced by `dvc repro`).
PROJECT_FILES = (
    "dvc.yaml",
    "dvc.lock",
    "params.yaml",
    ".dvcignore",
    ".dvc/config",
    ".dvc/.gitignore",
    "stages",
    "src/mlgate",
    "data",
    "metrics",
    "deploy",
)


def make_env(home: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """A process environment with an isolated HOME, a fixed git identity and no analytics."""
    home.mkdir(parents=True, exist_ok=True)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("GIT_", "GITHUB_", "DVC_", "MLGATE_", "RUNNER_"))
    }
    env.update(
        HOME=str(home),
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        GIT_AUTHOR_NAME="mlgate test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="mlgate test",
        GIT_COMMITTER_EMAIL="test@example.com",
        GIT_CONFIG_NOSYSTEM="1",
        DVC_NO_ANALYTICS="1",
        DVC_SITE_CACHE_DIR=str(home / ".dvc-site"),
        NO_COLOR="1",
        COLUMNS="200",
    )
    (home / ".gitconfig").write_text(
        "[init]\n\tdefaultBranch = main\n[advice]\n\tdetachedHead = false\n"
        '[protocol "file"]\n\tallow = always\n'
    )
    if extra:
        env.update(extra)
    return env


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return make_env(tmp_path / "home")


def run(
    args: Sequence[str | os.PathLike[str]],
    *,
    cwd: Path,
    env: Mapping[str, str],
    check: bool = True,
    input: str | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess[str]:
    """Run a command as a user would; on unexpected failure show its output."""
    proc = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=dict(env),
        capture_output=True,
        text=True,
        input=input,
        timeout=timeout,
        check=False,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(map(str, args))} exited {proc.returncode}\n"
            f"--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
        )
    return proc


def mlgate(
    *args: str, cwd: Path, env: Mapping[str, str], check: bool = False, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """The installed ``mlgate`` command as a subprocess."""
    return run([BIN / "mlgate", *args], cwd=cwd, env=env, check=check, timeout=timeout)


def git(*args: str, cwd: Path, env: Mapping[str, str]) -> str:
    return run(["git", *args], cwd=cwd, env=env).stdout.strip()


def copy_project(dest: Path, *, source: Path = ROOT) -> Path:
    """Copy the reference project's inputs into ``dest`` (no git, no DVC cache)."""
    from mlgate.demo.sandbox import copy_files

    dest.mkdir(parents=True, exist_ok=True)
    copy_files(source, dest, PROJECT_FILES, "prepared", "cache", "tmp")
    (dest / "README.md").write_text("# test copy of the mlgate reference project\n")
    return dest


def init_repo(path: Path, env: Mapping[str, str], message: str = "initial") -> None:
    git("init", "-q", "-b", "main", cwd=path, env=env)
    git("add", "-A", cwd=path, env=env)
    git("commit", "-q", "-m", message, cwd=path, env=env)


def add_origin(path: Path, origin: Path, env: Mapping[str, str]) -> None:
    """A bare repository as ``origin``, with ``main`` pushed and ``origin/HEAD`` set."""
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=path, env=env)
    git("remote", "add", "origin", str(origin), cwd=path, env=env)
    git("push", "-q", "-u", "origin", "main", cwd=path, env=env)
    git("remote", "set-head", "origin", "main", cwd=path, env=env)


@pytest.fixture(scope="session")
def _reproduced_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The reference project after one `dvc repro`, committed (built once per session)."""
    base = tmp_path_factory.mktemp("template")
    env = make_env(base / "home")
    proj = copy_project(base / "project")
    init_repo(proj, env)
    run(["dvc", "repro", "--quiet"], cwd=proj, env=env)
    git("add", "-A", cwd=proj, env=env)
    git("commit", "-q", "--allow-empty", "-m", "repro", cwd=proj, env=env)
    yield proj


@pytest.fixture
def reproduced_project(_reproduced_template: Path, tmp_path: Path, env: dict[str, str]) -> Path:
    """A fresh copy (git history and DVC cache included) of the reproduced reference project."""
    dest = tmp_path / "project"
    shutil.copytree(_reproduced_template, dest, symlinks=True)
    return dest


@pytest.fixture
def github_stub() -> Iterator[GitHubStub]:
    """A started loopback stand-in for GitHub's REST API (see tests/github_stub.py)."""
    from tests.github_stub import GitHubStub

    with GitHubStub() as stub:
        yield stub
