"""The composite action (action.yml), used by one step of another repository's workflow."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.e2e.conftest import Sandbox, make_runner_venv, pr_event, runner_env
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow

#: How another repository pins mlgate's action (act maps it to a copy of this checkout).
ACTION_REF = "mlgate-org/mlgate@5f3c0de2b1a4e6f7890123456789abcdef012345"

USER_WORKFLOW = """\
name: model
on: pull_request
permissions: {}
jobs:
  gate:
    runs-on: ubuntu-latest
    timeout-minutes: 30
    permissions:
      contents: read
      pull-requests: write
    steps:
      - uses: actions/checkout@11bd71901bbe5b1630ceea73d27597364c9af683 # v4.2.2
        with:
          fetch-depth: 0
          persist-credentials: false
      - id: mlgate
        uses: %s # v0.1.0
        with:
          comment: "true"
      - name: Use the outputs
        env:
          VERDICT: ${{ steps.mlgate.outputs.verdict }}
          REPORT: ${{ steps.mlgate.outputs.report-path }}
        run: |
          echo "mlgate verdict: $VERDICT"
          test -s "$REPORT" && echo "mlgate report: $REPORT"
"""


def _action_checkout(dest: Path) -> Path:
    """What GitHub would fetch for ``uses: OWNER/mlgate@SHA``: this repository's files."""
    dest.mkdir()
    for name in ("action.yml", "pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(
        ROOT / "src",
        dest / "src",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc"),
    )
    return dest


def test_composite_action_from_another_repository(
    sandbox: Sandbox, github_stub: GitHubStub, tmp_path: Path
) -> None:
    """Scenario 5: one `uses:` step installs mlgate from the action's own folder, gates,
    reports and comments, and exposes `verdict` and `report-path`."""
    # A runner without mlgate: the action must install it from its own path.
    venv = make_runner_venv(tmp_path / "bare-venv", install_mlgate=False)
    sandbox.env = runner_env(tmp_path / "home2", venv, sandbox.artifacts, sandbox.origin)
    action_dir = _action_checkout(tmp_path / "mlgate-action")

    sandbox.git("checkout", "-q", "improve")
    workflows = sandbox.project / ".github" / "workflows"
    (workflows / "model.yml").write_text(USER_WORKFLOW % ACTION_REF)
    sandbox.git("add", ".github/workflows/model.yml")
    sandbox.git("commit", "-q", "-m", "use mlgate's action")
    sandbox.git("push", "-q", "origin", "improve")
    github_stub.add_pull(5, head="improve", head_sha=sandbox.git("rev-parse", "HEAD"))
    event = pr_event(sandbox, "improve", number=5, repository=github_stub.repository)

    result = sandbox.act(
        "pull_request",
        "model.yml",
        event,
        api_env=github_stub.env(),
        local_actions={ACTION_REF: action_dir},
    )
    assert result.returncode == 0, result.output[-8000:]
    assert result.job_succeeded("gate")
    assert "mlgate verdict: pass" in result.output
    assert "mlgate report: " in result.output and "mlgate-report.md" in result.output
    assert (venv / "bin" / "mlgate").exists(), "installed from the action's folder"
    (comment,) = github_stub.comments
    assert "<!-- mlgate-report -->" in comment["body"] and "roc_auc" in comment["body"]
