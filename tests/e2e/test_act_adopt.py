"""The workflows `mlgate init` writes into a repository laid out as DVC's examples are, run by act.

The repository: a stage writes `models/model.pkl` (declared under `artifacts:`) and a cached
`eval/` folder whose `eval/metrics.json` is the top-level metric; params.yaml has no mlgate
section; the project's own `src/requirements.txt`. `mlgate init` writes the workflows, a
gate policy on `eval/metrics.json` and requirements.txt; then pr.yml gates a pull request
and release.yml releases v1.0.0, as they do for the reference project.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, git, make_env, mlgate, run
from tests.e2e.conftest import Sandbox, pr_event, runner_env
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow

WRITER = """\
import json, os, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
os.makedirs("models", exist_ok=True)
os.makedirs("eval", exist_ok=True)
pathlib.Path("models/model.pkl").write_bytes(f"not a pickle {p['acc']}".encode())
json.dump({"accuracy": p["acc"], "log_loss": round(1 - p["acc"], 4)}, open("eval/metrics.json", "w"))
"""
DVC_YAML = {
    "stages": {
        "train": {
            "cmd": "python3 src/train.py",
            "deps": ["src/train.py"],
            "params": ["train"],
            "outs": ["models/model.pkl", "eval"],
        }
    },
    "metrics": ["eval/metrics.json"],
    "artifacts": {"text-classification": {"path": "models/model.pkl", "type": "model"}},
}


def _set_acc(root: Path, acc: float) -> None:
    (root / "params.yaml").write_text(yaml.safe_dump({"train": {"acc": acc}}))


@pytest.fixture(scope="module")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project after `mlgate init` (main) and a better branch `improve`, both pushed to
    the DVC remote; returns (project, dvc remote)."""
    base = tmp_path_factory.mktemp("adopt")
    env = make_env(base / "home")
    root, remote = base / "project", base / "dvc-remote"
    (root / "src").mkdir(parents=True)
    (root / "src" / "train.py").write_text(WRITER)
    (root / "src" / "requirements.txt").write_text("pyyaml\n")
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    _set_acc(root, 0.9)
    git("init", "-q", "-b", "main", cwd=root, env=env)

    def dvc(*args: str) -> None:
        run([BIN / "dvc", *args], cwd=root, env=env)

    dvc("init", "-q")
    dvc("remote", "add", "-q", "-d", "store", str(remote))
    dvc("repro", "-q")
    init = mlgate("init", "--mlgate", "mlgate", cwd=root, env=env)
    assert init.returncode == 0, init.stdout + init.stderr
    policy = yaml.safe_load((root / "params.yaml").read_text())["gate"]
    assert policy["metrics_file"] == "eval/metrics.json"
    assert "-r src/requirements.txt" in (root / "requirements.txt").read_text()
    dvc("push", "-q")
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "pipeline + mlgate init", cwd=root, env=env)
    git("checkout", "-q", "-b", "improve", cwd=root, env=env)
    _set_acc(root, 0.92)
    dvc("repro", "-q")
    dvc("push", "-q")
    git("commit", "-q", "-am", "acc 0.92", cwd=root, env=env)
    git("checkout", "-q", "main", cwd=root, env=env)
    dvc("checkout", "-q")
    return root, remote


@pytest.fixture
def adopt_sandbox(adopted: tuple[Path, Path], runner_venv: Path, tmp_path: Path) -> Sandbox:
    project, _ = adopted
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    origin = tmp_path / "origin.git"
    env = runner_env(tmp_path / "home", runner_venv, artifacts, origin)
    proj = tmp_path / "project"
    shutil.copytree(project, proj, symlinks=True)
    git("init", "-q", "--bare", "-b", "main", str(origin), cwd=tmp_path, env=env)
    git("remote", "add", "origin", str(origin), cwd=proj, env=env)
    git("push", "-q", "origin", "main", "improve", cwd=proj, env=env)
    git("fetch", "-q", "origin", cwd=proj, env=env)
    git("remote", "set-head", "origin", "main", cwd=proj, env=env)
    return Sandbox(project=proj, origin=origin, artifacts=artifacts, env=env, tmp=tmp_path)


def test_init_written_pr_and_release_workflows_run(
    adopt_sandbox: Sandbox, github_stub: GitHubStub
) -> None:
    sandbox = adopt_sandbox
    github_stub.add_pull(5, head="improve", head_sha=sandbox.git("rev-parse", "improve"))
    sandbox.git("checkout", "-q", "improve")
    event = pr_event(sandbox, "improve", number=5, repository=github_stub.repository)
    pr = sandbox.act("pull_request", "pr.yml", event, api_env=github_stub.env())
    assert pr.returncode == 0, pr.output[-6000:]
    assert pr.job_succeeded("gate"), pr.output[-3000:]
    (comment,) = [c for c in github_stub.comments if "<!-- mlgate-report -->" in str(c["body"])]
    assert "accuracy" in str(comment["body"]) and "pass" in str(comment["body"]).lower()

    sandbox.git("checkout", "-q", "main")
    sandbox.git("tag", "v1.0.0")
    sandbox.git("push", "-q", "origin", "v1.0.0")
    push = {
        "ref": "refs/tags/v1.0.0",
        "after": sandbox.git("rev-parse", "v1.0.0"),
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    release = sandbox.act("push", "release.yml", push, api_env=github_stub.env())
    assert release.returncode == 0, release.output[-8000:]
    assert release.job_succeeded("release") and release.job_succeeded("deploy")
    assert sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin) == "deploy: v1.0.0"
    pointer = yaml.safe_load(sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin))
    assert pointer["model"]["path"] == "models/model.pkl"
    assert "dist/model/model.pkl" in release.output
