"""Every command an invalid-pointer message suggests works in the state that produced it.

Each case breaks ``deploy/production.yaml`` in a real git repository (uncommitted, committed
on top of valid releases, the only version ever, or before any commit), runs ``mlgate`` as a
user would, takes the command the message suggests (in backticks), runs it in a shell, and
checks that mlgate then reads the pointer again. ``mlgate rollback`` is never the suggestion:
it reads the pointer first and fails the same way.
"""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from mlgate.deploy.pointer import ModelRef, dumps_pointer, example_pointer
from tests.conftest import git, init_repo, mlgate

POINTER = "deploy/production.yaml"
DVC_YAML = "artifacts:\n  model:\n    path: models/model.pkl\n    type: model\n"
NUL_PATH = dumps_pointer(example_pointer()).replace("models/model.pkl", '"models/m\\0.pkl"')


def _pointer_text(version: str) -> str:
    p = example_pointer()
    model = ModelRef(path="models/model.pkl", md5="1" * 32, sha256="2" * 64, size=3)
    return dumps_pointer(replace(p, version=version, model=model))


def _commit_pointer(repo: Path, env: dict[str, str], text: str, message: str) -> None:
    (repo / POINTER).parent.mkdir(exist_ok=True)
    (repo / POINTER).write_text(text)
    git("add", POINTER, cwd=repo, env=env)
    git("commit", "-q", "-m", message, cwd=repo, env=env)


def _init(repo: Path, env: dict[str, str]) -> None:
    (repo / "dvc.yaml").write_text(DVC_YAML)
    init_repo(repo, env)


def _released(repo: Path, env: dict[str, str]) -> None:
    """Two releases, v1.0.0 then v1.1.0."""
    _init(repo, env)
    _commit_pointer(repo, env, _pointer_text("v1.0.0"), "deploy: v1.0.0")
    _commit_pointer(repo, env, _pointer_text("v1.1.0"), "deploy: v1.1.0")


def _uncommitted_empty(repo: Path, env: dict[str, str]) -> None:
    _released(repo, env)
    (repo / POINTER).write_text("")


def _committed_empty(repo: Path, env: dict[str, str]) -> None:
    _released(repo, env)
    _commit_pointer(repo, env, "", "hand edit")


def _committed_nul_twice(repo: Path, env: dict[str, str]) -> None:
    _released(repo, env)
    _commit_pointer(repo, env, NUL_PATH, "hand edit")
    _commit_pointer(repo, env, "# nothing\n", "another hand edit")


def _only_invalid(repo: Path, env: dict[str, str]) -> None:
    _init(repo, env)
    _commit_pointer(repo, env, NUL_PATH, "a pointer written by hand")


def _no_commit(repo: Path, env: dict[str, str]) -> None:
    git("init", "-q", "-b", "main", cwd=repo, env=env)
    (repo / "dvc.yaml").write_text(DVC_YAML)
    (repo / "deploy").mkdir()
    (repo / POINTER).write_text(NUL_PATH)


CASES: dict[str, tuple[Callable[[Path, dict[str, str]], None], str, str | None]] = {
    # state, the command that meets it, the version live after the fix (None: nothing)
    "uncommitted-empty": (_uncommitted_empty, "pull-model", "v1.1.0"),
    "committed-empty": (_committed_empty, "rollback", "v1.1.0"),
    "committed-twice": (_committed_nul_twice, "rollback", "v1.1.0"),
    "only-invalid": (_only_invalid, "status", None),
    "no-commit": (_no_commit, "pull-model", None),
}


@pytest.mark.parametrize("case", list(CASES))
def test_each_suggestion_works(case: str, tmp_path: Path, env: dict[str, str]) -> None:
    build, command, live = CASES[case]
    repo = tmp_path / "repo"
    repo.mkdir()
    build(repo, env)
    failed = mlgate(command, cwd=repo, env=env)
    assert failed.returncode == 2, failed.stdout + failed.stderr
    message = failed.stderr.strip()
    assert "\n" not in message and POINTER in message
    assert "mlgate rollback" not in message
    fixes = [c for c in re.findall(r"`([^`]+)`", message) if not c.startswith("mlgate ")]
    assert fixes, message
    subprocess.run(fixes[0], shell=True, cwd=repo, env=env, check=True, capture_output=True)

    status = mlgate("status", "--json", "--no-remote-check", cwd=repo, env=env)
    assert status.returncode == 0, status.stderr
    assert mlgate("history", cwd=repo, env=env).returncode == 0
    shown = mlgate("pull-model", "-o", str(tmp_path / "out"), cwd=repo, env=env)
    assert "control character" not in shown.stderr and "empty pointer" not in shown.stderr
    if live is None:
        assert not (repo / POINTER).exists()
    else:
        assert f"version: {live}" in (repo / POINTER).read_text()
        assert git("status", "--porcelain", cwd=repo, env=env) == ""
