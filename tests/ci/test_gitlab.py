"""The GitLab client (REST API v4) against the loopback stand-in, and the commands over it."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from mlgate.ci.github import MARKER
from mlgate.ci.gitlab import MAX_NOTE_CHARS, GitLabClient
from mlgate.errors import ConfigError, RemoteError
from tests.gitlab_stub import GitLabStub

MR = 7


@pytest.fixture
def gitlab_stub() -> Iterator[GitLabStub]:
    with GitLabStub() as stub:
        yield stub


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def gl(gitlab_stub: GitLabStub, slept: list[float]) -> Iterator[GitLabClient]:
    gitlab_stub.add_merge_request(MR)
    with httpx.Client(timeout=10) as http:
        yield GitLabClient(
            gitlab_stub.token,
            gitlab_stub.project_id,
            api_url=gitlab_stub.api_url,
            project_url=gitlab_stub.project_url,
            client=http,
            sleep=slept.append,
            clock=lambda: 1_900_000_000 - 30.0,
        )


def test_create_then_update_in_place(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    first = gl.upsert_comment(MR, f"{MARKER}\n# report v1")
    assert first.created and first.action == "created"
    assert first.html_url == f"{gitlab_stub.project_url}/-/merge_requests/{MR}#note_{first.id}"
    second = gl.upsert_comment(MR, f"{MARKER}\n# report v2")
    assert (second.action, second.id) == ("updated", first.id)
    assert [n["body"] for n in gitlab_stub.notes] == [f"{MARKER}\n# report v2"]
    calls = [(r.method, r.path) for r in gitlab_stub.requests]
    assert calls[0] == ("GET", "/api/v4/user")
    assert ("PUT", f"/api/v4/projects/42/merge_requests/{MR}/notes/{first.id}") in calls


def test_protocol_headers(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    gl.upsert_comment(MR, "body")
    for request in gitlab_stub.requests:
        assert request.headers["private-token"] == gitlab_stub.token
        assert "authorization" not in request.headers
    listing = gitlab_stub.requests[1]
    assert listing.query == {
        "per_page": "100",
        "page": "1",
        "sort": "asc",
        "order_by": "created_at",
    }
    assert gitlab_stub.notes[0]["body"].startswith(MARKER)


def test_project_path_is_url_encoded(gitlab_stub: GitLabStub) -> None:
    gitlab_stub.add_merge_request(3)
    with GitLabClient(gitlab_stub.token, "group/demo", api_url=gitlab_stub.api_url) as client:
        assert client.upsert_comment(3, "x").created
        assert client.reference(3) == "group/demo!3"
    assert gitlab_stub.requests[-1].path == "/api/v4/projects/group%2Fdemo/merge_requests/3/notes"


@pytest.mark.parametrize("link", [True, False])
def test_pagination_by_link_or_x_next_page(
    gl: GitLabClient, gitlab_stub: GitLabStub, link: bool
) -> None:
    gitlab_stub.link = link
    for i in range(130):
        gitlab_stub.add_note(MR, f"human note {i}")
    gitlab_stub.add_note(MR, f"{MARKER}\nadded a commit", system=True)  # never ours
    ours = gitlab_stub.add_note(MR, f"{MARKER}\nold", username=gitlab_stub.user["username"])
    made = gl.upsert_comment(MR, "new report")
    assert (made.action, made.id) == ("updated", ours["id"])
    pages = [r.query.get("page") for r in gitlab_stub.requests if r.path.endswith("/notes")]
    assert pages == ["1", "2"]


def test_a_marker_in_someone_elses_note_is_left_alone(
    gl: GitLabClient, gitlab_stub: GitLabStub
) -> None:
    theirs = gitlab_stub.add_note(MR, f"{MARKER}\nmine now", username="mallory")
    made = gl.upsert_comment(MR, "# report")
    assert made.created and made.id != theirs["id"]
    assert theirs["body"] == f"{MARKER}\nmine now"
    assert not any(r.method == "PUT" for r in gitlab_stub.requests)


def test_usernames_compare_case_insensitively(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    gitlab_stub.user["username"] = "Alice"
    gitlab_stub.add_note(MR, f"{MARKER}\nold", username="Alice")
    assert gl.username() == "Alice"
    assert gl.upsert_comment(MR, "new").action == "updated"


def test_retries_502_then_backs_off(
    gl: GitLabClient, gitlab_stub: GitLabStub, slept: list[float]
) -> None:
    gitlab_stub.fail_next(2, 502)
    assert gl.upsert_comment(MR, "r").created
    assert slept == [1.0, 2.0]


def test_retries_429_honouring_retry_after(
    gl: GitLabClient, gitlab_stub: GitLabStub, slept: list[float]
) -> None:
    gitlab_stub.rate_limit_next(1, retry_after=7)
    gl.upsert_comment(MR, "r")
    assert slept == [7.0] and gitlab_stub.requests[0].status == 429


def test_ratelimit_reset_header(slept: list[float]) -> None:
    answers = [
        httpx.Response(
            429, headers={"ratelimit-remaining": "0", "ratelimit-reset": "1899999990"}, json={}
        ),
        httpx.Response(200, json=[]),
    ]
    with httpx.Client(transport=httpx.MockTransport(lambda _r: answers.pop(0))) as http:
        client = GitLabClient(
            "t", "1", client=http, sleep=slept.append, clock=lambda: 1_899_999_980.0
        )
        assert client.find_comment(1) is None
    assert slept == [10.0]


def test_rate_limit_beyond_max_wait_fails_fast(
    gl: GitLabClient, gitlab_stub: GitLabStub, slept: list[float]
) -> None:
    gitlab_stub.rate_limit_next(1, retry_after=3600)
    with pytest.raises(RemoteError, match=r"GitLab asks to wait 3600 s"):
        gl.upsert_comment(MR, "r")
    assert slept == []


def test_gives_up_after_bounded_attempts(
    gl: GitLabClient, gitlab_stub: GitLabStub, slept: list[float]
) -> None:
    gitlab_stub.fail_next(10, 503)
    with pytest.raises(RemoteError, match=r"GitLab API: GET /api/v4/user failed after 5 attempts"):
        gl.upsert_comment(MR, "r")
    assert len(slept) == 4


def test_lost_create_response_does_not_duplicate(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    gitlab_stub.fail_next(1, 502, after=True, when=lambda method, _path: method == "POST")
    made = gl.upsert_comment(MR, "r")
    assert len(gitlab_stub.notes) == 1 and made.id == gitlab_stub.notes[0]["id"]
    assert [r.method for r in gitlab_stub.requests] == ["GET", "GET", "POST", "GET", "PUT"]


@pytest.mark.parametrize(
    ("setup", "status", "hint"),
    [
        (lambda s: setattr(s, "token", "rotated"), 401, "GITLAB_TOKEN"),
        (lambda s: s.merge_requests.clear(), 404, "CI_PROJECT_ID (42)"),
    ],
)
def test_client_errors_name_the_fix_without_the_token(
    gl: GitLabClient, gitlab_stub: GitLabStub, setup: object, status: int, hint: str
) -> None:
    token = gitlab_stub.token
    setup(gitlab_stub)  # type: ignore[operator]
    with pytest.raises(RemoteError) as info:
        gl.upsert_comment(MR, "r")
    message = str(info.value)
    assert "GitLab API: " in message and str(status) in message and hint in message
    assert token not in message and "\n" not in message


def test_forbidden_write_names_role_and_scope(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/user"):
            return httpx.Response(200, json={"username": "bot"})
        if request.method == "GET":
            return httpx.Response(200, json=[])
        return httpx.Response(403, json={"message": "403 Forbidden"})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = GitLabClient("t", "1", client=http, sleep=slept.append)
        with pytest.raises(RemoteError, match=r"403 forbidden \(403 Forbidden\).*api scope"):
            client.upsert_comment(1, "r")


def test_server_echo_of_token_is_redacted_and_messages_flattened(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        echo = request.headers["private-token"]
        return httpx.Response(400, json={"message": {"description": [f"bad {echo}", "too long"]}})

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = GitLabClient("glpat-secret", "1", client=http, sleep=slept.append)
        with pytest.raises(RemoteError) as info:
            client.create_release("v1.0.0", "v1.0.0", "")
    assert "glpat-secret" not in str(info.value)
    assert "description bad *** too long" in str(info.value)


def test_pagination_link_to_another_host_is_refused(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[], headers={"Link": '<https://evil.example/x>; rel="next"'}
        )

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = GitLabClient("t", "1", client=http, sleep=slept.append)
        with pytest.raises(RemoteError, match=r"evil\.example"):
            client.list_releases()


def test_long_note_truncated_before_sending(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    body = MARKER + "\n" + "| row | value |\n" * 80_000
    gl.upsert_comment(MR, body)
    sent = gitlab_stub.notes[0]["body"]
    assert len(sent) <= MAX_NOTE_CHARS and sent.startswith(MARKER) and "GitLab" in sent


def test_releases_and_merge_requests(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    made = gl.create_release("v1.0.0", "v1.0.0", "notes")
    assert made["html_url"] == f"{gitlab_stub.project_url}/-/releases/v1.0.0"
    assert gitlab_stub.releases[0]["description"] == "notes"
    assert [(r["tag_name"], r["html_url"]) for r in gl.list_releases()] == [
        ("v1.0.0", made["html_url"])
    ]
    with pytest.raises(RemoteError, match=r"409 \(Release already exists\)"):
        gl.create_release("v1.0.0", "again", "")
    mr = gl.create_pull_request("ct/2026-01-01-b1", "main", "ct: retrain", "report")
    assert mr["number"] == MR + 1 and mr["html_url"].endswith(f"/-/merge_requests/{MR + 1}")
    assert gitlab_stub.merge_requests[-1]["source_branch"] == "ct/2026-01-01-b1"
    with pytest.raises(RemoteError, match=r"409.*already exists for this source branch"):
        gl.create_pull_request("ct/2026-01-01-b1", "main", "again", "")


def test_publish_release_is_idempotent(gl: GitLabClient, gitlab_stub: GitLabStub) -> None:
    from mlgate.ghrelease import publish_release

    first = publish_release(gl, "v1.0.0", "notes")
    again = publish_release(gl, "v1.0.0", "other notes")
    assert first.created and not again.created and first.url == again.url
    assert len(gitlab_stub.releases) == 1


def test_job_token_publishes_releases_but_cannot_write_notes(gitlab_stub: GitLabStub) -> None:
    env = {**gitlab_stub.env(), "CI_JOB_TOKEN": gitlab_stub.job_token}
    del env["GITLAB_TOKEN"]
    with GitLabClient.from_env(env) as client:
        assert client.job_token
        assert client.create_release("v1.0.0", "v1.0.0", "n")["tag_name"] == "v1.0.0"
        assert gitlab_stub.requests[-1].headers["job-token"] == gitlab_stub.job_token
        with pytest.raises(ConfigError, match=r"CI_JOB_TOKEN cannot write merge request notes"):
            client.upsert_comment(MR, "r")
        with pytest.raises(ConfigError, match=r"CI_JOB_TOKEN cannot open merge requests"):
            client.create_pull_request("a", "main", "t", "b")


def test_from_env() -> None:
    with pytest.raises(ConfigError, match="GITLAB_TOKEN is not set"):
        GitLabClient.from_env({"CI_PROJECT_ID": "1"})
    with pytest.raises(ConfigError, match="CI_PROJECT_ID is not set"):
        GitLabClient.from_env({"GITLAB_TOKEN": "t"})
    with pytest.raises(ConfigError, match="project id or GROUP/PROJECT"):
        GitLabClient.from_env({"GITLAB_TOKEN": "t", "CI_PROJECT_ID": "../x"})
    with pytest.raises(ConfigError, match=r"CI_API_V4_URL: .* plain http"):
        GitLabClient.from_env(
            {"GITLAB_TOKEN": "t", "CI_PROJECT_ID": "1", "CI_API_V4_URL": "http://gitlab.example"}
        )
    with GitLabClient.from_env({"GITLAB_TOKEN": "t", "CI_PROJECT_ID": "1"}) as client:
        assert client.api_url == "https://gitlab.com/api/v4"


def test_a_success_that_is_not_json_names_ci_api_v4_url(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, headers={"content-type": "text/html"}, text="<html/>")

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = GitLabClient("t", "1", client=http, sleep=slept.append)
        with pytest.raises(RemoteError, match=r"not JSON \(text/html\); check CI_API_V4_URL"):
            client.list_releases()


# -- the commands, as a user runs them ---------------------------------------------------------
def _mlgate(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GITLAB", "CI_"))}
    return subprocess.run(
        [sys.executable, "-m", "mlgate", *args],
        env={**base, **env, "DVC_NO_ANALYTICS": "1"},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_comment_command_in_a_merge_request_pipeline(
    gitlab_stub: GitLabStub, tmp_path: Path
) -> None:
    gitlab_stub.add_merge_request(MR)
    report = tmp_path / "report.md"
    report.write_text("# mlgate report\n", encoding="utf-8")
    env = {**gitlab_stub.env(), "CI_MERGE_REQUEST_IID": str(MR)}
    for action in ("created", "updated"):
        proc = _mlgate(["comment", str(report)], env, tmp_path)
        assert proc.returncode == 0, proc.stderr
        assert proc.stdout.startswith(f"{action} comment ") and f"group/demo!{MR}" in proc.stdout
    assert len(gitlab_stub.notes) == 1
    # --forge gitlab outside GitLab CI, --pr instead of the pipeline's iid
    env = {k: v for k, v in env.items() if k not in ("GITLAB_CI", "CI_MERGE_REQUEST_IID")}
    proc = _mlgate(["comment", str(report), "--forge", "gitlab", "--pr", str(MR)], env, tmp_path)
    assert proc.returncode == 0 and "updated comment" in proc.stdout, proc.stderr


def test_the_note_links_to_the_report_artifact(gitlab_stub: GitLabStub, tmp_path: Path) -> None:
    """With MLGATE_REPORT_ARTIFACT (set by .gitlab-ci.yml) and CI_JOB_URL, the note ends with
    a link to the job's artifact; a long report is cut before the link, which stays."""
    gitlab_stub.add_merge_request(MR)
    report = tmp_path / "mlgate-report.md"
    report.write_text("# mlgate report\n", encoding="utf-8")
    job_url = f"{gitlab_stub.project_url}/-/jobs/4711"
    env = {
        **gitlab_stub.env(),
        "CI_MERGE_REQUEST_IID": str(MR),
        "CI_JOB_URL": job_url,
        "MLGATE_REPORT_ARTIFACT": "mlgate-report.md",
    }
    proc = _mlgate(["comment", str(report)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (note,) = gitlab_stub.notes
    link = f"[mlgate-report.md]({job_url}/artifacts/file/mlgate-report.md)"
    assert note["body"].startswith(f"{MARKER}\n# mlgate report")
    assert note["body"].endswith(f"The full report: {link} (this job's artifact).\n")
    report.write_text("x" * 80 + "\n" + "row\n" * 300_000, encoding="utf-8")
    proc = _mlgate(["comment", str(report)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    (note,) = gitlab_stub.notes
    assert len(note["body"]) <= MAX_NOTE_CHARS and note["body"].endswith("artifact).\n")
    assert "**Truncated:**" in note["body"] and note["body"].count(link) == 1
    # a path that leaves the project folder is refused, naming the variable
    bad = _mlgate(["comment", str(report)], {**env, "MLGATE_REPORT_ARTIFACT": "../x.md"}, tmp_path)
    assert bad.returncode == 2 and "MLGATE_REPORT_ARTIFACT: expected" in bad.stderr
    # without CI_JOB_URL (outside a job) no link, and no error
    env.pop("CI_JOB_URL")
    report.write_text("# short\n", encoding="utf-8")
    assert _mlgate(["comment", str(report)], env, tmp_path).returncode == 0
    assert "artifacts/file" not in gitlab_stub.notes[0]["body"]


def test_comment_command_with_only_the_job_token_is_one_line_exit_2(
    gitlab_stub: GitLabStub, tmp_path: Path
) -> None:
    gitlab_stub.add_merge_request(MR)
    report = tmp_path / "report.md"
    report.write_text("# r\n", encoding="utf-8")
    env = {**gitlab_stub.env(), "CI_MERGE_REQUEST_IID": str(MR)}
    env["CI_JOB_TOKEN"] = env.pop("GITLAB_TOKEN")
    proc = _mlgate(["comment", str(report)], env, tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CI_JOB_TOKEN cannot write merge request notes" in lines[0]
    assert gitlab_stub.job_token not in proc.stderr and not gitlab_stub.notes


@pytest.mark.slow
def test_ct_opens_a_merge_request(
    reproduced_project: Path, tmp_path: Path, env: dict[str, str], gitlab_stub: GitLabStub
) -> None:
    """`mlgate ct` in GitLab CI (GITLAB_CI=true): the passing candidate's merge request."""
    from tests.ct.test_ct_e2e import _batch, _ct, _setup

    proj = reproduced_project
    _setup(proj, tmp_path, env)
    env = {**env, **gitlab_stub.env()}
    _batch(proj, "batch_001.csv", 0, 200)
    code, out = _ct(proj, env)
    assert (code, out["outcome"]) == (0, "pr_opened"), out["message"]
    (mr,) = gitlab_stub.merge_requests
    assert mr["source_branch"] == out["branch"] and mr["target_branch"] == "main"
    assert "mlgate ct" in mr["description"] and "batch_001.csv" in mr["description"]
    assert f"opened pull request #{mr['iid']}" in out["message"]
    posts = [r for r in gitlab_stub.requests if r.method == "POST"]
    assert [r.path for r in posts] == ["/api/v4/projects/42/merge_requests"]
    assert posts[0].headers["private-token"] == gitlab_stub.token
