"""release.yml, rollback.yml and (called by both) deploy.yml, run by act."""

from __future__ import annotations

import hashlib

import pytest
import yaml

from tests.conftest import mlgate
from tests.e2e.conftest import Base, Sandbox
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow


def _origin_pointer(sandbox: Sandbox) -> dict[str, object]:
    text = sandbox.git("show", "main:deploy/production.yaml", cwd=sandbox.origin)
    data = yaml.safe_load(text)
    assert isinstance(data, dict)
    return data


def test_tag_push_releases_deploys_and_publishes(
    sandbox: Sandbox, github_stub: GitHubStub, act_base: Base
) -> None:
    """Scenario 3: `deploy: v1.0.0` reaches origin, the model is in the DVC remote (its
    sha256 as the pointer says), the GitHub release exists, and deploy.yml fetched the model."""
    sandbox.git("tag", "v1.0.0")
    sandbox.git("push", "-q", "origin", "v1.0.0")
    event = {
        "ref": "refs/tags/v1.0.0",
        "after": sandbox.git("rev-parse", "v1.0.0"),
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    result = sandbox.act("push", "release.yml", event, api_env=github_stub.env())
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("release") and result.job_succeeded("deploy"), result.output[-4000:]

    assert sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin) == "deploy: v1.0.0"
    pointer = _origin_pointer(sandbox)
    assert pointer["version"] == "v1.0.0"
    assert pointer["commit"] == sandbox.git("rev-parse", "v1.0.0")
    model = pointer["model"]
    assert isinstance(model, dict)
    md5 = str(model["md5"])
    stored = act_base.dvc_remote / "files" / "md5" / md5[:2] / md5[2:]
    assert hashlib.sha256(stored.read_bytes()).hexdigest() == model["sha256"]

    (release,) = github_stub.releases
    assert release["tag_name"] == "v1.0.0"
    assert "First model release" in release["body"] and "roc_auc" in release["body"]
    # deploy.yml, called with the pointer commit: the verified model, then the deploy step
    assert "Success - Main Fetch and verify the model" in result.output
    assert "dist/model/model.skops" in result.output
    assert "live: v1.0.0" in result.output


def test_rollback_dispatch_reverts_to_the_earlier_version(
    sandbox: Sandbox, github_stub: GitHubStub
) -> None:
    """Scenario 4: after v1.0.0 and v1.1.0, a dispatch with `version: v1.0.0` pushes the
    revert commit and the pointer on origin names v1.0.0 again; deploy.yml fetches it."""
    env = sandbox.env

    def release(tag: str) -> None:
        sandbox.git("tag", tag)
        proc = mlgate("release", tag, "--push", cwd=sandbox.project, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr

    release("v1.0.0")
    sandbox.git("merge", "-q", "--no-edit", "improve")  # C=1.0: a better model
    release("v1.1.0")
    sandbox.git("push", "-q", "origin", "--tags")
    assert _origin_pointer(sandbox)["version"] == "v1.1.0"

    event = {
        "inputs": {"version": "v1.0.0"},
        "ref": "refs/heads/main",
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    result = sandbox.act(
        "workflow_dispatch",
        "rollback.yml",
        event,
        api_env=github_stub.env(),
        inputs={"version": "v1.0.0"},
    )
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("rollback") and result.job_succeeded("deploy")
    subject = sandbox.git("log", "-1", "--format=%s", "main", cwd=sandbox.origin)
    assert subject.startswith("rollback: v1.1.0 -> v1.0.0"), subject
    assert _origin_pointer(sandbox)["version"] == "v1.0.0"
