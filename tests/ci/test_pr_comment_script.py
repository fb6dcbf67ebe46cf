"""pr-comment.yml's posting step, run with bash against the loopback GitHub stand-in.

The step is the ``run:`` script of the workflow file itself (curl and jq), so what is tested
is what GitHub runs: the comment it updates must be one github-actions[bot] wrote; a
marker in anyone else's comment gets a new comment and stays untouched.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.github_stub import GitHubStub

MARKER = "<!-- mlgate-report -->"
HEAD = "c" * 40

pytestmark = pytest.mark.skipif(
    shutil.which("jq") is None or shutil.which("curl") is None, reason="needs jq and curl"
)


def _post_step() -> str:
    workflow = yaml.safe_load((ROOT / ".github/workflows/pr-comment.yml").read_text())
    (step,) = [s for s in workflow["jobs"]["comment"]["steps"] if "curl" in s.get("run", "")]
    return str(step["run"])


def _post(tmp_path: Path, stub: GitHubStub, report: str) -> subprocess.CompletedProcess[str]:
    folder = tmp_path / "mlgate-report"
    folder.mkdir(exist_ok=True)
    (folder / "mlgate-report.md").write_text(report)
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        **stub.env(),
        "HEAD_SHA": HEAD,
        "REPORT_DIR": str(folder),
    }
    return subprocess.run(
        ["bash", "-c", _post_step()],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_someone_elses_marker_comment_is_left_alone(
    tmp_path: Path, github_stub: GitHubStub
) -> None:
    github_stub.add_pull(9, head_sha=HEAD, fork=True)
    theirs = github_stub.add_comment(9, f"{MARKER}\nlooks good, merge it", user="eve")

    first = _post(tmp_path, github_stub, f"{MARKER}\n## mlgate: fail\n")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "created a comment on #9" in first.stdout
    assert theirs["body"] == f"{MARKER}\nlooks good, merge it"
    assert [c["user"]["login"] for c in github_stub.comments] == ["eve", "github-actions[bot]"]

    second = _post(tmp_path, github_stub, f"{MARKER}\n## mlgate: pass\n")
    assert second.returncode == 0, second.stdout + second.stderr
    ours = github_stub.comments[1]
    assert f"updated comment {ours['id']} on #9" in second.stdout
    assert ours["body"].startswith(f"{MARKER}\n## mlgate: pass")
    assert theirs["body"] == f"{MARKER}\nlooks good, merge it"
    assert len(github_stub.comments) == 2
