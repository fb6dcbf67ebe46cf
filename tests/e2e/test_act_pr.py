"""pr.yml and pr-comment.yml, run by act: the PR comment for a better and a worse model,
and the fork split (artifact, then the workflow_run poster)."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import Sandbox, pr_event
from tests.github_stub import GitHubStub

pytestmark = pytest.mark.slow


def _mlgate_comments(stub: GitHubStub, pr: int) -> list[dict[str, object]]:
    return [
        c
        for c in stub.comments
        if "<!-- mlgate-report -->" in str(c["body"]) and c["issue_url"].endswith(f"/issues/{pr}")
    ]


def test_better_model_passes_and_one_comment_is_updated_in_place(
    sandbox: Sandbox, github_stub: GitHubStub
) -> None:
    """Scenario 1: the job succeeds, the stub gets one comment with the metrics table; a
    second run updates that same comment instead of adding another."""
    github_stub.add_pull(3, head="improve", head_sha=sandbox.git("rev-parse", "improve"))
    sandbox.git("checkout", "-q", "improve")
    event = pr_event(sandbox, "improve", number=3, repository=github_stub.repository)

    first = sandbox.act("pull_request", "pr.yml", event, api_env=github_stub.env())
    assert first.returncode == 0, first.output[-6000:]
    assert first.job_succeeded("gate"), first.output[-3000:]
    (comment,) = _mlgate_comments(github_stub, 3)
    body = str(comment["body"])
    for metric in ("roc_auc", "f1", "log_loss"):
        assert metric in body
    assert "| " in body, "a Markdown metrics table"
    assert "pass" in body.lower()

    second = sandbox.act("pull_request", "pr.yml", event, api_env=github_stub.env())
    assert second.returncode == 0, second.output[-6000:]
    assert len(_mlgate_comments(github_stub, 3)) == 1, "the same comment, updated"
    assert any(
        r.method == "PATCH" and r.path.endswith(f"/issues/comments/{comment['id']}")
        for r in github_stub.requests
    )


def test_worse_model_fails_the_job_and_the_comment_names_the_rule(
    sandbox: Sandbox, github_stub: GitHubStub
) -> None:
    """Scenario 2: f1 falls under the policy's floor: the job fails, the comment says why."""
    github_stub.add_pull(4, head="regress", head_sha=sandbox.git("rev-parse", "regress"))
    sandbox.git("checkout", "-q", "regress")
    event = pr_event(sandbox, "regress", number=4, repository=github_stub.repository)

    result = sandbox.act("pull_request", "pr.yml", event, api_env=github_stub.env())
    assert result.returncode != 0, result.output[-6000:]
    assert result.job_failed("gate")
    assert "Fail when the gate failed" in result.output
    (comment,) = _mlgate_comments(github_stub, 4)
    body = str(comment["body"])
    assert "gate: **fail**" in body
    failed = body.split("**Failed:**", 1)[1].split("###", 1)[0]
    assert "`f1` min" in failed, "the rule that failed, named first in the comment"


def test_fork_pr_report_goes_through_an_artifact_to_the_workflow_run_poster(
    sandbox: Sandbox, github_stub: GitHubStub
) -> None:
    """A fork's run does not comment (read-only token) but uploads the report; pr-comment.yml
    downloads it as data, finds the PR from the head SHA and posts it."""
    head_sha = sandbox.git("rev-parse", "improve")
    github_stub.add_pull(9, head="improve", head_sha=head_sha, fork=True)
    sandbox.git("checkout", "-q", "improve")
    event = pr_event(sandbox, "improve", number=9, repository=github_stub.repository, fork=True)
    github_stub.read_only = True  # a fork's token may not write
    pr_run = sandbox.act("pull_request", "pr.yml", event, api_env=github_stub.env())
    assert pr_run.returncode == 0, pr_run.output[-6000:]
    assert github_stub.comments == []
    report = sandbox.artifacts / "mlgate-report" / "mlgate-report.md"
    assert "<!-- mlgate-report -->" in report.read_text()

    github_stub.read_only = False
    # someone pasted the marker into their own comment: it must stay theirs, untouched
    theirs = github_stub.add_comment(9, "<!-- mlgate-report -->\nall green, merge", user="eve")
    run_event = {
        "action": "completed",
        "workflow_run": {
            "id": 4242,
            "name": "mlgate pr",
            "event": "pull_request",
            "conclusion": "success",
            "head_sha": head_sha,
            "head_branch": "improve",
            "head_repository": {"full_name": "someone/demo"},
            "pull_requests": [],
        },
        "repository": {"full_name": github_stub.repository, "default_branch": "main"},
    }
    sandbox.git("checkout", "-q", "main")  # workflow_run runs the default branch's workflow
    post = sandbox.act("workflow_run", "pr-comment.yml", run_event, api_env=github_stub.env())
    assert post.returncode == 0, post.output[-6000:]
    ours = [c for c in _mlgate_comments(github_stub, 9) if c["user"]["login"] != "eve"]
    (comment,) = ours
    assert str(comment["body"]).strip() == report.read_text().strip()
    assert theirs["body"] == "<!-- mlgate-report -->\nall green, merge"
    assert (sandbox.artifacts / "download-run-id").read_text().strip() == "4242"
