"""`mlgate gh-release TAG`: the GitHub release of a released model, against the stub API."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import git, mlgate
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow


def test_gh_release_notes_compare_with_the_replaced_model(
    reproduced_project: Path, env: dict[str, str], github_stub: GitHubStub
) -> None:
    proj = reproduced_project
    api = {**env, **github_stub.env()}

    not_yet = mlgate("gh-release", "v1.0.0", cwd=proj, env=api)
    assert not_yet.returncode == 2 and "mlgate release v1.0.0" in not_yet.stderr

    git("tag", "v1.0.0", cwd=proj, env=env)
    released = mlgate("release", "v1.0.0", cwd=proj, env=env)
    assert released.returncode == 0, released.stdout + released.stderr

    first = mlgate("gh-release", "v1.0.0", cwd=proj, env=api)
    assert first.returncode == 0, first.stderr
    assert "created" in first.stdout
    (release,) = github_stub.releases
    assert release["tag_name"] == "v1.0.0" and release["name"] == "v1.0.0"
    assert release["body"].startswith("First model release: **v1.0.0**")
    assert "roc_auc" in release["body"]

    # a second release of another commit: notes name the model it replaces
    (proj / "NOTES.md").write_text("docs only\n")
    git("add", "NOTES.md", cwd=proj, env=env)
    git("commit", "-q", "-m", "docs", cwd=proj, env=env)
    git("tag", "v1.0.1", cwd=proj, env=env)
    assert mlgate("release", "v1.0.1", cwd=proj, env=env).returncode == 0
    notes = mlgate("gh-release", "v1.0.1", "--notes", "-", cwd=proj, env=api)
    assert notes.returncode == 0, notes.stderr
    assert notes.stdout.startswith("**v1.0.1** replaces **v1.0.0**")
    assert len(github_stub.releases) == 1, "--notes - prints and publishes nothing"

    again = mlgate("gh-release", "v1.0.0", cwd=proj, env=api)
    assert again.returncode == 0 and "exists already" in again.stdout
    assert len(github_stub.releases) == 1, "idempotent"
