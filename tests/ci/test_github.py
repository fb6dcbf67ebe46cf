"""The GitHub client against the loopback stand-in of GitHub's REST API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import httpx
import pytest

from mlgate.ci.github import MARKER, MAX_COMMENT_CHARS, GitHubClient, truncate_markdown
from mlgate.errors import ConfigError, RemoteError
from tests.github_stub import GitHubStub

PR = 7


@pytest.fixture
def slept() -> list[float]:
    return []


@pytest.fixture
def gh(github_stub: GitHubStub, slept: list[float]) -> Iterator[GitHubClient]:
    github_stub.add_pull(PR, head_sha="a" * 40)
    with httpx.Client(timeout=10) as http:
        yield GitHubClient(
            github_stub.token,
            github_stub.repository,
            api_url=github_stub.url,
            client=http,
            sleep=slept.append,
            clock=lambda: 1_900_000_000 - 30.0,
        )


def test_create_then_update_in_place(gh: GitHubClient, github_stub: GitHubStub) -> None:
    first = gh.upsert_comment(PR, f"{MARKER}\n# report v1")
    assert first.created and first.action == "created"
    assert first.html_url.endswith(f"#issuecomment-{first.id}")
    second = gh.upsert_comment(PR, f"{MARKER}\n# report v2")
    assert not second.created and second.action == "updated"
    assert second.id == first.id
    assert [c["body"] for c in github_stub.comments] == [f"{MARKER}\n# report v2"]
    methods = [(r.method, r.path) for r in github_stub.requests]
    assert ("PATCH", f"/repos/octo/demo/issues/comments/{first.id}") in methods


def test_protocol_headers(gh: GitHubClient, github_stub: GitHubStub) -> None:
    gh.upsert_comment(PR, "body")
    for request in github_stub.requests:
        assert request.headers["authorization"] == f"Bearer {github_stub.token}"
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
    whoami, listing = github_stub.requests[:2]
    assert (whoami.method, whoami.path, whoami.status) == ("GET", "/user", 403)  # GITHUB_TOKEN
    assert listing.method == "GET" and listing.query == {"per_page": "100", "page": "1"}


def test_marker_added_when_missing(gh: GitHubClient, github_stub: GitHubStub) -> None:
    gh.upsert_comment(PR, "no marker here")
    assert github_stub.comments[0]["body"].startswith(MARKER)
    gh.upsert_comment(PR, "again")
    assert len(github_stub.comments) == 1


def test_pagination_finds_marker_on_page_two(gh: GitHubClient, github_stub: GitHubStub) -> None:
    for i in range(130):
        github_stub.add_comment(PR, f"human comment {i}")
    ours = github_stub.add_comment(PR, f"{MARKER}\nold report", user="github-actions[bot]")
    ours["user"] = {"login": "github-actions[bot]", "type": "Bot"}
    github_stub.add_comment(PR + 1, f"{MARKER}\nanother PR's report")  # not ours to touch
    comment = gh.upsert_comment(PR, f"{MARKER}\nnew report")
    assert comment.id == ours["id"] and not comment.created
    pages = [r.query.get("page") for r in github_stub.requests if r.path.endswith("/comments")]
    assert pages == ["1", "2"]
    assert len(github_stub.comments) == 132
    assert ours["body"] == f"{MARKER}\nnew report"


def test_pagination_link_to_another_host_is_refused(
    github_stub: GitHubStub, slept: list[float]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, json=[], headers={"Link": '<https://evil.example/steal?page=2>; rel="next"'}
        )

    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        client = GitHubClient("tok", "octo/demo", api_url="https://api.github.com", client=http)
        with pytest.raises(RemoteError, match=r"evil\.example"):
            client.find_comment(1)


def test_retries_502(gh: GitHubClient, github_stub: GitHubStub, slept: list[float]) -> None:
    github_stub.fail_next(2, 502)
    comment = gh.upsert_comment(PR, "report")
    assert comment.created
    assert slept == [1.0, 2.0]  # exponential backoff
    # GET /user twice 502, then its 403 (GITHUB_TOKEN: github-actions[bot]), then the listing
    assert [r.status for r in github_stub.requests][:4] == [502, 502, 403, 200]


def test_retries_429_honouring_retry_after(
    gh: GitHubClient, github_stub: GitHubStub, slept: list[float]
) -> None:
    github_stub.rate_limit_next(1, retry_after=7)
    gh.upsert_comment(PR, "report")
    assert slept == [7.0]
    assert github_stub.requests[0].status == 429


def test_primary_rate_limit_403_waits_until_reset(
    gh: GitHubClient, github_stub: GitHubStub, slept: list[float]
) -> None:
    github_stub.primary_rate_limit_next(1, reset=1_900_000_000)
    gh.upsert_comment(PR, "report")
    assert slept == [30.0]  # the clock says reset is 30 s away


def test_rate_limit_beyond_max_wait_fails_fast(
    gh: GitHubClient, github_stub: GitHubStub, slept: list[float]
) -> None:
    github_stub.rate_limit_next(1, retry_after=3600)
    with pytest.raises(RemoteError, match="wait 3600 s"):
        gh.upsert_comment(PR, "report")
    assert slept == []


def test_gives_up_after_bounded_attempts(
    gh: GitHubClient, github_stub: GitHubStub, slept: list[float]
) -> None:
    github_stub.fail_next(10, 503)
    with pytest.raises(RemoteError, match=r"failed after 5 attempts \(503"):
        gh.upsert_comment(PR, "report")
    assert len(github_stub.requests) == 5 and len(slept) == 4


def test_lost_create_response_does_not_duplicate(gh: GitHubClient, github_stub: GitHubStub) -> None:
    # The POST is processed but its answer is a 502: retrying blindly would post twice.
    github_stub.fail_next(1, 502, after=True, when=lambda method, _path: method == "POST")
    comment = gh.upsert_comment(PR, "report")
    assert len(github_stub.comments) == 1
    assert comment.id == github_stub.comments[0]["id"] and comment.created
    assert [r.method for r in github_stub.requests] == ["GET", "GET", "POST", "GET", "PATCH"]


@pytest.mark.parametrize(
    ("setup", "status", "hint"),
    [
        (lambda stub: setattr(stub, "token", "another-token"), 401, "GITHUB_TOKEN"),
        (lambda stub: setattr(stub, "read_only", True), 403, "pull-requests: write"),
        (lambda stub: stub.issues.discard(PR), 404, "GITHUB_REPOSITORY"),
    ],
)
def test_client_errors_are_remote_errors_without_token(
    gh: GitHubClient, github_stub: GitHubStub, setup: object, status: int, hint: str
) -> None:
    token = github_stub.token
    if status == 403:
        github_stub.add_comment(PR, "unrelated")
    setup(github_stub)  # type: ignore[operator]
    with pytest.raises(RemoteError) as info:
        gh.upsert_comment(PR, "report")
    message = str(info.value)
    assert f"{status}" in message and hint in message
    assert token not in message and "\n" not in message
    assert len(github_stub.requests) <= 3  # GET /user, then no retries on client errors


def test_wrong_repository_is_404(github_stub: GitHubStub) -> None:
    with httpx.Client() as http:
        client = GitHubClient(github_stub.token, "octo/other", api_url=github_stub.url, client=http)
        with pytest.raises(RemoteError, match=r"404.*octo/other"):
            client.upsert_comment(1, "x")


def test_long_body_truncated_before_sending(gh: GitHubClient, github_stub: GitHubStub) -> None:
    body = MARKER + "\n" + "| row | value |\n" * 10_000
    comment = gh.upsert_comment(PR, body)
    sent = github_stub.comments[0]["body"]
    assert len(sent) <= MAX_COMMENT_CHARS
    assert sent.startswith(MARKER) and "Truncated" in sent
    assert comment.body == sent


def test_stub_refuses_long_body(github_stub: GitHubStub) -> None:
    github_stub.add_issue(1)
    with httpx.Client() as http:
        response = http.post(
            f"{github_stub.url}/repos/octo/demo/issues/1/comments",
            json={"body": "x" * (MAX_COMMENT_CHARS + 1)},
            headers={"Authorization": f"Bearer {github_stub.token}"},
        )
        assert response.status_code == 422
        assert "Body is too long" in response.json()["errors"][0]["message"]
        assert http.get(f"{github_stub.url}/repos/octo/demo/releases").status_code == 401


def test_truncate_markdown_closes_blocks() -> None:
    text = "<details>\n\n```mermaid\n" + "line\n" * 20_000
    out = truncate_markdown(text, 1000)
    assert len(out) <= 1000
    assert out.count("```") % 2 == 0 and out.count("<details") == out.count("</details>")
    assert truncate_markdown("short", 1000) == "short"


def test_releases_and_pulls(gh: GitHubClient, github_stub: GitHubStub) -> None:
    release = gh.create_release("v1.0.0", "v1.0.0", "notes")
    assert release["tag_name"] == "v1.0.0" and github_stub.releases[0]["body"] == "notes"
    assert [r["tag_name"] for r in gh.list_releases()] == ["v1.0.0"]
    with pytest.raises(RemoteError, match=r"422.*already_exists"):
        gh.create_release("v1.0.0", "again", "")
    pull = gh.create_pull_request("retrain/1", "main", "Retrain", "body")
    assert pull["number"] == PR + 1 and github_stub.pulls[-1]["head"]["ref"] == "retrain/1"
    assert gh.pull_request_for_commit("a" * 40) == PR
    assert gh.pull_request_for_commit("b" * 40) is None


def test_pull_request_for_fork_commit_found_by_head_sha(
    gh: GitHubClient, github_stub: GitHubStub
) -> None:
    # commits/{sha}/pulls does not list a PR whose head is in a fork; the open PRs do.
    github_stub.add_pull(9, head_sha="c" * 40, fork=True)
    assert gh.pull_request_for_commit("c" * 40) == 9
    paths = [r.path for r in github_stub.requests]
    assert paths == ["/repos/octo/demo/commits/" + "c" * 40 + "/pulls", "/repos/octo/demo/pulls"]


def test_from_env() -> None:
    with pytest.raises(ConfigError, match="GITHUB_TOKEN is not set"):
        GitHubClient.from_env({"GITHUB_REPOSITORY": "o/r"})
    with pytest.raises(ConfigError, match="GITHUB_REPOSITORY is not set"):
        GitHubClient.from_env({"GITHUB_TOKEN": "t"})
    with pytest.raises(ConfigError, match="OWNER/NAME"):
        GitHubClient.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "nope"})
    with pytest.raises(ConfigError, match="plain http"):
        GitHubClient.from_env(
            {"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r", "GITHUB_API_URL": "http://x.org"}
        )
    with GitHubClient.from_env({"GITHUB_TOKEN": "t", "GITHUB_REPOSITORY": "o/r"}) as client:
        assert client.api_url == "https://api.github.com"


@contextmanager
def _mock_client(
    handler: Callable[[httpx.Request], httpx.Response], slept: list[float]
) -> Iterator[GitHubClient]:
    with httpx.Client(transport=httpx.MockTransport(handler)) as http:
        yield GitHubClient(
            "tok-secret",
            "octo/demo",
            api_url="https://api.github.com",
            client=http,
            sleep=slept.append,
        )


def test_connection_errors_retried_then_reported(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with (
        _mock_client(handler, slept) as client,
        pytest.raises(RemoteError, match=r"after 5 attempts.*cannot connect"),
    ):
        client.find_comment(1)
    assert slept == [1.0, 2.0, 4.0, 8.0]


def test_retry_after_as_http_date(slept: list[float]) -> None:
    answers = [
        httpx.Response(503, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        httpx.Response(200, json=[]),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with _mock_client(handler, slept) as client:
        assert client.find_comment(1) is None
    assert slept == [0.0]  # a date in the past: retry at once


def test_server_echo_of_token_is_redacted(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            422, json={"message": f"bad header {request.headers['authorization']}"}
        )

    with _mock_client(handler, slept) as client, pytest.raises(RemoteError) as info:
        client.create_release("v1", "v1", "")
    assert "tok-secret" not in str(info.value) and "***" in str(info.value)


def test_a_marker_in_someone_elses_comment_is_left_alone(
    gh: GitHubClient, github_stub: GitHubStub
) -> None:
    theirs = github_stub.add_comment(PR, f"{MARKER}\nI moved your report here", user="mallory")
    made = gh.upsert_comment(PR, "# report v1")
    assert made.created and made.id != theirs["id"]
    assert theirs["body"] == f"{MARKER}\nI moved your report here"  # untouched
    assert not any(r.method == "PATCH" for r in github_stub.requests)
    again = gh.upsert_comment(PR, "# report v2")  # then ours, and only ours, is updated
    assert (again.action, again.id) == ("updated", made.id)
    assert [c["user"]["login"] for c in github_stub.comments] == ["mallory", "github-actions[bot]"]


def test_a_personal_token_owns_only_its_users_comments(
    gh: GitHubClient, github_stub: GitHubStub
) -> None:
    github_stub.user = {"login": "Alice", "id": 5}
    bot = github_stub.add_comment(PR, f"{MARKER}\nold", user="github-actions[bot]")
    mine = github_stub.add_comment(PR, f"{MARKER}\nolder", user="alice")  # logins: any case
    assert gh.login() == "Alice"
    updated = gh.upsert_comment(PR, "# report")
    assert (updated.action, updated.id) == ("updated", mine["id"])
    assert bot["body"] == f"{MARKER}\nold"


def test_an_invalid_token_on_get_user_is_an_error(github_stub: GitHubStub) -> None:
    github_stub.add_pull(PR)
    with (
        GitHubClient("wrong", github_stub.repository, api_url=github_stub.url) as client,
        pytest.raises(RemoteError, match="401"),
    ):
        client.upsert_comment(PR, "x")
    assert not github_stub.comments


@pytest.mark.parametrize(
    ("status", "headers", "waited"),
    [
        (503, {"retry-after": "nan"}, 1.0),
        (503, {"retry-after": "inf"}, 1.0),
        (503, {"retry-after": "-inf"}, 1.0),
        (503, {"retry-after": "soon"}, 1.0),
        (503, {"retry-after": "Wed, 99 Foo 2015 07:28:00 GMT"}, 1.0),
        (503, {"retry-after": "Wed, 21 Oct 99999 07:28:00 GMT"}, 1.0),
        (429, {"retry-after": "NaN"}, 60.0),  # a rate limit without a usable wait: 60 s
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "nan"}, 60.0),
        (403, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "tomorrow"}, 60.0),
    ],
)
def test_unusable_wait_headers_fall_back_to_the_default_backoff(
    status: int, headers: dict[str, str], waited: float, slept: list[float]
) -> None:
    answers = [
        httpx.Response(status, headers=headers, json={"message": "API rate limit exceeded"}),
        httpx.Response(200, json=[]),
    ]

    def handler(request: httpx.Request) -> httpx.Response:
        return answers.pop(0)

    with _mock_client(handler, slept) as client:
        assert client.find_comment(1) is None
    assert slept == [waited]


def test_a_success_that_is_not_json_is_a_remote_error(slept: list[float]) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200, headers={"content-type": "text/html"}, text="<html>Sign in</html>"
        )

    with _mock_client(handler, slept) as client, pytest.raises(RemoteError) as info:
        client.find_comment(1)
    message = str(info.value)
    assert "200" in message and "text/html" in message and "not JSON" in message
    assert "tok-secret" not in message and "\n" not in message
