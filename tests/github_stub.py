"""A loopback stand-in for the parts of GitHub's REST API that mlgate uses.

It speaks the real protocol (https://docs.github.com/en/rest, version 2022-11-28), so the
client under test cannot tell it from api.github.com except by its address:

- ``GET /user``: the token's identity (``user``); with the default ``user=None`` the token
  is a workflow's ``GITHUB_TOKEN``, which GitHub answers with 403 there and which writes
  as ``github-actions[bot]``
- ``GET/POST /repos/{o}/{r}/issues/{n}/comments``, ``GET/PATCH /repos/{o}/{r}/issues/comments/{id}``
  (comments are written by the token's identity; a PATCH of anyone else's is 403)
- ``GET/POST /repos/{o}/{r}/releases``, ``GET /repos/{o}/{r}/releases/tags/{tag}``,
  ``GET /repos/{o}/{r}/releases/latest``
- ``GET/POST /repos/{o}/{r}/pulls``, ``GET /repos/{o}/{r}/pulls/{n}``,
  ``GET /repos/{o}/{r}/commits/{sha}/pulls``

Behaviour worth testing against: 401 without a token or with a wrong one; 404 for another
repository or an unknown issue; 403 "Resource not accessible by integration" for writes when
``read_only`` is set (a fork's token); 422 "Body is too long" over 65,536 characters;
pagination with ``per_page`` (default 30, at most 100), ``page`` and a ``Link`` header;
and injected failures (``fail_next``: 502, 429 with ``retry-after``, a primary rate limit...).

Use::

    with GitHubStub() as gh:            # or the ``github_stub`` fixture
        gh.add_pull(5, head_sha="abc...")
        ... GITHUB_API_URL=gh.url, GITHUB_TOKEN=gh.token, GITHUB_REPOSITORY=gh.repository
        assert gh.comments[0]["body"] ...
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

MAX_BODY = 65_536
DOCS = "https://docs.github.com/rest"
BOT = {"login": "github-actions[bot]", "id": 41898282, "type": "Bot"}


@dataclass
class Recorded:
    """One request as the stub saw it (headers with lower-case names)."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any
    status: int = 0


@dataclass
class Failure:
    """An injected answer: ``status`` with ``headers`` and ``body``; with ``after`` the
    request is processed first (the answer is lost on the way back, as a 502 from a proxy)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "Server Error"
    after: bool = False
    when: Callable[[str, str], bool] | None = None


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> _Reply:
    body: dict[str, Any] = {"message": message, "documentation_url": DOCS}
    if errors:
        body["errors"] = errors
    return _Reply(status, body)


class GitHubStub:
    """The stand-in server; state lists are public so tests can seed and inspect them."""

    def __init__(self, *, token: str = "ghs_test_token_0123456789", repository: str = "octo/demo"):
        self.token = token
        self.repository = repository
        self.read_only = False
        #: The identity of the token (``GET /user``); None: a workflow's GITHUB_TOKEN.
        self.user: dict[str, Any] | None = None
        self.requests: list[Recorded] = []
        self.comments: list[dict[str, Any]] = []
        self.releases: list[dict[str, Any]] = []
        self.pulls: list[dict[str, Any]] = []
        self.issues: set[int] = set()
        self.failures: list[Failure] = []
        self.rate_limit_reset = 1_900_000_000
        self._next_id = 1000
        self._base = ""
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        """The variables a workflow step would have, pointing at this stub."""
        return {
            "GITHUB_API_URL": self.url,
            "GITHUB_TOKEN": self.token,
            "GITHUB_REPOSITORY": self.repository,
        }

    def start(self) -> GitHubStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},  # shutdown() waits up to one poll interval
            name="github-stub",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def __enter__(self) -> GitHubStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- seeding and failure injection -------------------------------------------------------
    def _id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_issue(self, number: int) -> None:
        with self._lock:
            self.issues.add(number)

    def add_pull(
        self,
        number: int,
        *,
        head: str = "feature",
        base: str = "main",
        head_sha: str = "0" * 40,
        state: str = "open",
        title: str = "a pull request",
        fork: bool = False,
    ) -> dict[str, Any]:
        """Seed a pull request (its number is also an issue that takes comments). With
        ``fork`` its head lives in a fork, so ``commits/{sha}/pulls`` does not list it."""
        pull = self._pull(number, head=head, base=base, head_sha=head_sha, title=title, body="")
        pull["state"] = state
        if fork:
            pull["head"]["repo"] = {"full_name": "someone/demo", "fork": True}
        with self._lock:
            self.pulls.append(pull)
            self.issues.add(number)
        return pull

    def add_comment(self, issue: int, body: str, *, user: str = "someone") -> dict[str, Any]:
        """Seed a comment written by ``user`` (a human, by default)."""
        comment = self._comment(issue, body, {"login": user, "id": 1, "type": "User"})
        with self._lock:
            self.issues.add(issue)
            self.comments.append(comment)
        return comment

    def fail_next(
        self,
        count: int = 1,
        status: int = 502,
        *,
        headers: dict[str, str] | None = None,
        message: str | None = None,
        after: bool = False,
        when: Callable[[str, str], bool] | None = None,
    ) -> None:
        """Answer the next ``count`` requests (matching ``when(method, path)``) with ``status``."""
        default = {502: "Bad Gateway", 503: "Service Unavailable", 429: "Too Many Requests"}
        for _ in range(count):
            self.failures.append(
                Failure(
                    status,
                    dict(headers or {}),
                    message or default.get(status, "Server Error"),
                    after,
                    when,
                )
            )

    def rate_limit_next(self, count: int = 1, *, retry_after: int = 1) -> None:
        """A secondary rate limit: 429 with ``retry-after``."""
        self.fail_next(
            count,
            429,
            headers={"retry-after": str(retry_after)},
            message="You have exceeded a secondary rate limit. Please wait a few minutes.",
        )

    def primary_rate_limit_next(self, count: int = 1, *, reset: int | None = None) -> None:
        """A primary rate limit: 403 with ``x-ratelimit-remaining: 0`` and the reset time."""
        self.fail_next(
            count,
            403,
            headers={
                "x-ratelimit-remaining": "0",
                "x-ratelimit-reset": str(reset or self.rate_limit_reset),
            },
            message="API rate limit exceeded for installation ID 1.",
        )

    def _take_failure(self, method: str, path: str) -> Failure | None:
        with self._lock:
            for i, failure in enumerate(self.failures):
                if failure.when is None or failure.when(method, path):
                    return self.failures.pop(i)
        return None

    # -- resources ---------------------------------------------------------------------------
    def _comment(self, issue: int, body: str, user: dict[str, Any]) -> dict[str, Any]:
        cid = self._id()
        return {
            "id": cid,
            "node_id": f"IC_{cid}",
            "url": f"{self.url}/repos/{self.repository}/issues/comments/{cid}",
            "html_url": f"https://github.com/{self.repository}/pull/{issue}#issuecomment-{cid}",
            "issue_url": f"{self.url}/repos/{self.repository}/issues/{issue}",
            "body": body,
            "user": dict(user),
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
            "author_association": "NONE",
        }

    def _pull(
        self, number: int, *, head: str, base: str, head_sha: str, title: str, body: str
    ) -> dict[str, Any]:
        return {
            "id": self._id(),
            "number": number,
            "state": "open",
            "title": title,
            "body": body,
            "url": f"{self.url}/repos/{self.repository}/pulls/{number}",
            "html_url": f"https://github.com/{self.repository}/pull/{number}",
            "head": {"ref": head, "sha": head_sha, "label": f"octo:{head}"},
            "base": {"ref": base, "sha": "f" * 40, "label": f"octo:{base}"},
            "user": dict(BOT),
        }

    def _next_number(self) -> int:
        return max([*self.issues, 0]) + 1

    # -- request handling (runs on server threads) --------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, *, base: str = ""
    ) -> _Reply:
        """Answer one authenticated request; ``base`` is the URL the client used (its Host)."""
        with self._lock:
            self._base = base or self.url
            return self._handle(method, path, query, body)

    def identity(self) -> dict[str, Any]:
        """Who writes the comments this token creates."""
        return dict(self.user) if self.user is not None else dict(BOT)

    def _handle(self, method: str, path: str, query: dict[str, str], body: Any) -> _Reply:
        if path == "/user" and method == "GET":
            if self.user is None:  # an installation token (GITHUB_TOKEN) has no user
                raise _error(403, "Resource not accessible by integration")
            return _Reply(200, {**self.user, "type": self.user.get("type", "User")})
        prefix = f"/repos/{self.repository}/"
        if not path.startswith(prefix):  # another repository, or no such endpoint
            raise _error(404, "Not Found")
        rest = path[len(prefix) :]
        writes = method in ("POST", "PATCH", "PUT", "DELETE")
        if writes and self.read_only:
            raise _error(403, "Resource not accessible by integration")
        with self._lock:
            if m := re.fullmatch(r"issues/(\d+)/comments", rest):
                issue = int(m[1])
                if issue not in self.issues:
                    raise _error(404, "Not Found")
                if method == "GET":
                    return self._page(
                        [c for c in self.comments if c["issue_url"].endswith(f"/{issue}")],
                        path,
                        query,
                    )
                if method == "POST":
                    text = self._body_text(body, "IssueComment")
                    comment = self._comment(issue, text, self.identity())
                    self.comments.append(comment)
                    return _Reply(201, comment)
            if m := re.fullmatch(r"issues/comments/(\d+)", rest):
                found = [c for c in self.comments if c["id"] == int(m[1])]
                if not found:
                    raise _error(404, "Not Found")
                if method == "GET":
                    return _Reply(200, found[0])
                if method == "PATCH":
                    if found[0]["user"]["login"].lower() != self.identity()["login"].lower():
                        raise _error(403, "Resource not accessible by integration")
                    found[0]["body"] = self._body_text(body, "IssueComment")
                    found[0]["updated_at"] = "2026-01-01T00:05:00Z"
                    return _Reply(200, found[0])
            if rest == "releases":
                if method == "GET":
                    return self._page(list(reversed(self.releases)), path, query)
                if method == "POST":
                    return self._create_release(body)
            if m := re.fullmatch(r"releases/tags/(.+)", rest):
                for release in self.releases:
                    if release["tag_name"] == m[1]:
                        return _Reply(200, release)
                raise _error(404, "Not Found")
            if rest == "releases/latest" and method == "GET":
                published = [r for r in self.releases if not r["draft"] and not r["prerelease"]]
                if not published:
                    raise _error(404, "Not Found")
                return _Reply(200, published[-1])
            if rest == "pulls":
                if method == "GET":
                    return self._page(self._filter_pulls(query), path, query)
                if method == "POST":
                    return self._create_pull(body)
            if m := re.fullmatch(r"pulls/(\d+)", rest):
                for pull in self.pulls:
                    if pull["number"] == int(m[1]):
                        return _Reply(200, pull)
                raise _error(404, "Not Found")
            if method == "GET" and (m := re.fullmatch(r"commits/([0-9a-fA-F]{7,64})/pulls", rest)):
                sha = m[1].lower()
                return self._page(
                    [
                        p
                        for p in self.pulls
                        if p["head"]["sha"].startswith(sha)
                        and not p["head"].get("repo", {}).get("fork")
                    ],
                    path,
                    query,
                )
        raise _error(404, "Not Found")

    def _body_text(self, body: Any, resource: str) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _error(422, 'Invalid request.\n\n"body" wasn\'t supplied.')
        text: str = body["body"]
        if len(text) > MAX_BODY:
            raise _error(
                422,
                "Validation Failed",
                [
                    {
                        "resource": resource,
                        "code": "custom",
                        "field": "body",
                        "message": f"Body is too long (maximum is {MAX_BODY} characters)",
                    }
                ],
            )
        return text

    def _create_release(self, body: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str):
            raise _error(422, 'Invalid request.\n\n"tag_name" wasn\'t supplied.')
        tag = body["tag_name"]
        if any(r["tag_name"] == tag for r in self.releases):
            raise _error(
                422,
                "Validation Failed",
                [{"resource": "Release", "code": "already_exists", "field": "tag_name"}],
            )
        text = body.get("body") or ""
        if len(text) > 125_000:
            raise _error(
                422,
                "Validation Failed",
                [
                    {
                        "resource": "Release",
                        "code": "custom",
                        "field": "body",
                        "message": "body is too long (maximum is 125000 characters)",
                    }
                ],
            )
        rid = self._id()
        release = {
            "id": rid,
            "tag_name": tag,
            "name": body.get("name") or tag,
            "body": text,
            "draft": bool(body.get("draft", False)),
            "prerelease": bool(body.get("prerelease", False)),
            "target_commitish": body.get("target_commitish") or "main",
            "url": f"{self.url}/repos/{self.repository}/releases/{rid}",
            "html_url": f"https://github.com/{self.repository}/releases/tag/{tag}",
            "author": dict(BOT),
            "created_at": "2026-01-01T00:00:00Z",
            "published_at": "2026-01-01T00:00:00Z",
        }
        self.releases.append(release)
        return _Reply(201, release)

    def _create_pull(self, body: Any) -> _Reply:
        if not isinstance(body, dict):
            raise _error(422, "Invalid request.")
        missing = [k for k in ("head", "base") if not isinstance(body.get(k), str)]
        if missing or not isinstance(body.get("title"), str):
            raise _error(
                422,
                "Validation Failed",
                [
                    {"resource": "PullRequest", "code": "missing_field", "field": k}
                    for k in missing or ["title"]
                ],
            )
        for pull in self.pulls:
            if (
                pull["state"] == "open"
                and pull["head"]["ref"] == body["head"]
                and pull["base"]["ref"] == body["base"]
            ):
                raise _error(
                    422,
                    "Validation Failed",
                    [
                        {
                            "resource": "PullRequest",
                            "code": "custom",
                            "message": f"A pull request already exists for octo:{body['head']}.",
                        }
                    ],
                )
        number = self._next_number()
        sha = f"{number:040x}"  # the stub has no git: a stand-in head commit
        pull = self._pull(
            number,
            head=body["head"],
            base=body["base"],
            head_sha=sha,
            title=body["title"],
            body=body.get("body") or "",
        )
        self.pulls.append(pull)
        self.issues.add(number)
        return _Reply(201, pull)

    def _filter_pulls(self, query: dict[str, str]) -> list[dict[str, Any]]:
        state = query.get("state", "open")
        out = [p for p in self.pulls if state == "all" or p["state"] == state]
        if "head" in query:
            ref = query["head"].split(":", 1)[-1]
            out = [p for p in out if p["head"]["ref"] == ref]
        if "base" in query:
            out = [p for p in out if p["base"]["ref"] == query["base"]]
        return list(reversed(out))  # newest first, as GitHub sorts by creation

    def _page(self, items: list[dict[str, Any]], path: str, query: dict[str, str]) -> _Reply:
        try:
            per_page = min(max(int(query.get("per_page", "30")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            raise _error(422, "Invalid request.\n\nper_page and page must be integers.") from None
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        links = []

        def link(n: int, rel: str) -> str:
            params = {k: v for k, v in query.items() if k not in ("page", "per_page")}
            params.update(per_page=str(per_page), page=str(n))
            return f'<{self._base}{path}?{urlencode(params)}>; rel="{rel}"'

        if page > 1:
            links += [link(page - 1, "prev"), link(1, "first")]
        if page < last:
            links += [link(page + 1, "next"), link(last, "last")]
        headers = {"Link": ", ".join(links)} if links else {}
        return _Reply(200, chunk, headers)


class _Handler(BaseHTTPRequestHandler):
    owner: GitHubStub
    protocol_version = "HTTP/1.1"
    timeout = 10  # an idle keep-alive connection frees its thread after this long

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_DELETE(self) -> None:
        self._serve("DELETE")

    def _serve(self, method: str) -> None:
        stub = self.owner
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = Recorded(
            method,
            parts.path,
            query,
            {k.lower(): v for k, v in self.headers.items()},
            None,
        )
        with stub._lock:
            stub.requests.append(record)
        try:
            if raw:
                try:
                    record.body = json.loads(raw)
                except ValueError:
                    raise _error(400, "Problems parsing JSON") from None
            reply = self._dispatch(method, parts.path, query, record.body)
        except _Reply as exc:
            reply = exc
        record.status = reply.status
        self._send(reply)

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> _Reply:
        stub = self.owner
        auth = self.headers.get("Authorization", "")
        if not auth:
            raise _error(401, "Requires authentication")
        scheme, _, token = auth.partition(" ")
        if scheme.lower() not in ("bearer", "token") or token != stub.token:
            raise _error(401, "Bad credentials")
        failure = stub._take_failure(method, path)
        if failure is not None and not failure.after:
            raise _Reply(
                failure.status,
                {"message": failure.message, "documentation_url": DOCS},
                failure.headers,
            )
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        reply = stub.handle(method, path, query, body, base=f"http://{host}")
        if failure is not None:  # processed, but the answer is lost on the way back
            raise _Reply(failure.status, {"message": failure.message}, failure.headers)
        return reply

    def _send(self, reply: _Reply) -> None:
        data = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-GitHub-Api-Version-Selected", "2022-11-28")
        stub = self.owner
        limited = reply.headers.get("x-ratelimit-remaining") == "0"
        self.send_header("x-ratelimit-limit", "5000")
        if not limited:
            self.send_header("x-ratelimit-remaining", "4999")
            self.send_header("x-ratelimit-reset", str(stub.rate_limit_reset))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
