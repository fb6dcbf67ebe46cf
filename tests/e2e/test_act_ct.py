"""ct.yml run by act: a new batch gives a pull request at the stand-in; a deployed model
worse than its predecessor on the next batch gives a rollback commit at origin."""

from __future__ import annotations

import csv
import shutil

import pytest
import yaml

from tests.conftest import ROOT, mlgate
from tests.e2e.conftest import Sandbox
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow


def _arrive(sandbox: Sandbox, name: str, start: int, stop: int) -> None:
    """ct.yml itself and a new batch (rows of the reference data, new row ids), pushed."""
    proj = sandbox.project
    workflows = proj / ".github" / "workflows"
    shutil.copy2(ROOT / ".github" / "workflows" / "ct.yml", workflows / "ct.yml")
    with (proj / "data/breast_cancer.csv").open() as handle:
        rows = list(csv.DictReader(handle))[start:stop]
    for i, row in enumerate(rows):
        row["row_id"] = str(500_000 + start + i)
    with (proj / "data/incoming" / name).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    sandbox.git("add", ".github/workflows/ct.yml", f"data/incoming/{name}")
    sandbox.git("commit", "-q", "-m", f"new data: {name}")
    sandbox.git("push", "-q", "origin", "main")


def _dispatch(sandbox: Sandbox, github_stub: GitHubStub):
    event = {
        "inputs": {"mode": "params", "dry-run": False},
        "ref": "refs/heads/main",
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    return sandbox.act(
        "workflow_dispatch",
        "ct.yml",
        event,
        api_env=github_stub.env(),
        inputs={"mode": "params", "dry-run": "false"},
    )


def _release(sandbox: Sandbox, tag: str) -> None:
    sandbox.git("tag", tag)
    proc = mlgate("release", tag, "--push", cwd=sandbox.project, env=sandbox.env)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_new_batch_opens_a_pull_request(sandbox: Sandbox, github_stub: GitHubStub) -> None:
    _release(sandbox, "v1.0.0")
    _arrive(sandbox, "batch_001.csv", 0, 200)
    result = _dispatch(sandbox, github_stub)
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("ct"), result.output[-4000:]

    (pull,) = github_stub.pulls
    assert pull["head"]["ref"].startswith("ct/") and pull["base"]["ref"] == "main"
    assert "mlgate ct" in pull["body"] and "batch_001.csv" in pull["body"]
    branch = pull["head"]["ref"]
    manifest = sandbox.git("show", f"{branch}:data/batches.json", cwd=sandbox.origin)
    assert '"batch_001.csv"' in manifest
    subject = sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin)
    assert subject == "ct: monitor v1.0.0 on batch_001.csv"


def test_worse_deployed_model_is_rolled_back(sandbox: Sandbox, github_stub: GitHubStub) -> None:
    from mlgate.deploy.release import release
    from mlgate.gate import Policy, Snapshot, evaluate_snapshots
    from mlgate.git import Repo

    _release(sandbox, "v1.0.0")
    sandbox.git("merge", "-q", "--no-edit", "regress")  # C=0.0003: a worse model
    sandbox.git("tag", "v1.1.0")
    waved = evaluate_snapshots(Policy(), baseline=None, candidate=Snapshot("x", {}))
    release(Repo(sandbox.project, sandbox.env), "v1.1.0", push=True, gate=lambda *_a, **_k: waved)
    _arrive(sandbox, "batch_001.csv", 200, 400)

    result = _dispatch(sandbox, github_stub)
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("ct") and result.job_succeeded("deploy"), result.output[-4000:]
    subject = sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin)
    assert subject == "rollback: v1.1.0 -> v1.0.0"
    pointer = yaml.safe_load(sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin))
    assert pointer["version"] == "v1.0.0"
    assert github_stub.pulls == []
