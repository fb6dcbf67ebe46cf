"""A loopback stand-in for the parts of GitLab's REST API v4 that mlgate uses.

It speaks the real protocol (https://docs.gitlab.com/api/rest/), under ``/api/v4``:

- ``GET /user``: the token's user (a project access token's bot user by default); 401 for
  a job token, which cannot call it
- ``GET/POST /projects/:id/merge_requests/:iid/notes``, ``PUT .../notes/:note_id`` (notes are
  written by the token's user; a PUT of anyone else's is 403; a job token gets 403 on writes)
- ``GET/POST /projects/:id/merge_requests``, ``GET /projects/:id/merge_requests/:iid``
  (409 when an open merge request has the same source branch)
- ``GET/POST /projects/:id/releases`` (409 "Release already exists"; a job token may create)

``:id`` is the numeric project id or its URL-encoded path (``group%2Fdemo``). Behaviour worth
testing against: 401 ``{"message": "401 Unauthorized"}`` without or with a wrong token; 404
``{"message": "404 Project Not Found"}``; 400 for a note over 1,000,000 characters;
pagination with ``per_page`` (default 20, at most 100), ``page``, ``x-next-page``,
``x-page``, ``x-total`` and a ``Link`` header (``link=False`` leaves ``Link`` out, as GitLab
does for very large lists); injected failures (``fail_next``: 502, 429 with ``retry-after``).

Use::

    with GitLabStub() as gl:            # or the ``gitlab_stub`` fixture
        gl.add_merge_request(7)
        ... CI_API_V4_URL=gl.api_url, GITLAB_TOKEN=gl.token, CI_PROJECT_ID=gl.project_id
        assert gl.notes[0]["body"] ...
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

MAX_NOTE = 1_000_000
BOT = {"id": 9001, "username": "project_42_bot_0123abcd", "name": "mlgate", "bot": True}


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
    """An injected answer; with ``after`` the request is processed first (the answer is
    lost on the way back)."""

    status: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str = "502 Bad Gateway"
    after: bool = False
    when: Callable[[str, str], bool] | None = None


class _Reply(Exception):
    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


def _error(status: int, message: Any) -> _Reply:
    return _Reply(status, {"message": message})


class GitLabStub:
    """The stand-in server; state lists are public so tests can seed and inspect them."""

    def __init__(
        self,
        *,
        token: str = "glpat-test-token-0123456789",
        job_token: str = "glcbt-job-token-0123456789",
        project_id: str = "42",
        project_path: str = "group/demo",
    ) -> None:
        self.token, self.job_token = token, job_token
        self.project_id, self.project_path = project_id, project_path
        self.user: dict[str, Any] = dict(BOT)
        self.link = True
        #: Tags that exist (a release of another tag is 422); None: any tag exists.
        self.tags: set[str] | None = None
        self.requests: list[Recorded] = []
        self.notes: list[dict[str, Any]] = []
        self.merge_requests: list[dict[str, Any]] = []
        self.releases: list[dict[str, Any]] = []
        self.failures: list[Failure] = []
        self._next_id = 5000
        self._lock = threading.RLock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def url(self) -> str:
        assert self._server is not None, "start the stub first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def api_url(self) -> str:
        return f"{self.url}/api/v4"

    @property
    def project_url(self) -> str:
        return f"{self.url}/{self.project_path}"

    def env(self) -> dict[str, str]:
        """The variables a GitLab CI job would have, pointing at this stub."""
        return {
            "GITLAB_CI": "true",
            "CI_API_V4_URL": self.api_url,
            "CI_PROJECT_ID": self.project_id,
            "CI_PROJECT_URL": self.project_url,
            "GITLAB_TOKEN": self.token,
        }

    def start(self) -> GitLabStub:
        stub = self

        class Handler(_Handler):
            owner = stub

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="gitlab-stub",
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

    def __enter__(self) -> GitLabStub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- seeding and failure injection -------------------------------------------------------
    def _id(self) -> int:
        with self._lock:
            self._next_id += 1
            return self._next_id

    def add_merge_request(
        self, iid: int, *, source: str = "feature", target: str = "main", state: str = "opened"
    ) -> dict[str, Any]:
        mr = self._merge_request(iid, source, target, "a merge request", "")
        mr["state"] = state
        with self._lock:
            self.merge_requests.append(mr)
        return mr

    def add_note(
        self, iid: int, body: str, *, username: str = "someone", system: bool = False
    ) -> dict[str, Any]:
        """Seed a note on merge request ``iid`` written by ``username`` (a person)."""
        note = self._note(iid, body, {"id": 1, "username": username, "name": username})
        note["system"] = system
        with self._lock:
            self.notes.append(note)
        return note

    def fail_next(
        self,
        count: int = 1,
        status: int = 502,
        *,
        headers: dict[str, str] | None = None,
        after: bool = False,
        when: Callable[[str, str], bool] | None = None,
    ) -> None:
        """Answer the next ``count`` requests (matching ``when(method, path)``) with ``status``."""
        for _ in range(count):
            self.failures.append(
                Failure(status, dict(headers or {}), f"{status} failure", after, when)
            )

    def rate_limit_next(self, count: int = 1, *, retry_after: int = 1) -> None:
        """429 with ``retry-after`` and GitLab's ``ratelimit-*`` headers."""
        self.fail_next(
            count,
            429,
            headers={"retry-after": str(retry_after), "ratelimit-remaining": "0"},
        )

    def _take_failure(self, method: str, path: str) -> Failure | None:
        with self._lock:
            for i, failure in enumerate(self.failures):
                if failure.when is None or failure.when(method, path):
                    return self.failures.pop(i)
        return None

    # -- resources ---------------------------------------------------------------------------
    def _note(self, iid: int, body: str, author: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": self._id(),
            "type": None,
            "body": body,
            "author": dict(author),
            "created_at": "2026-01-01T00:00:00.000Z",
            "updated_at": "2026-01-01T00:00:00.000Z",
            "system": False,
            "noteable_type": "MergeRequest",
            "noteable_iid": iid,
        }

    def _merge_request(
        self, iid: int, source: str, target: str, title: str, description: str
    ) -> dict[str, Any]:
        return {
            "id": self._id(),
            "iid": iid,
            "project_id": int(self.project_id),
            "title": title,
            "description": description,
            "state": "opened",
            "source_branch": source,
            "target_branch": target,
            "web_url": f"{self.project_url}/-/merge_requests/{iid}",
            "author": dict(self.user),
        }

    # -- request handling --------------------------------------------------------------------
    def handle(
        self, method: str, path: str, query: dict[str, str], body: Any, job: bool, base: str
    ) -> _Reply:
        with self._lock:
            return self._handle(method, path, query, body, job, base)

    def _handle(
        self, method: str, path: str, query: dict[str, str], body: Any, job: bool, base: str
    ) -> _Reply:
        if path == "/api/v4/user" and method == "GET":
            if job:
                raise _error(401, "401 Unauthorized")
            return _Reply(200, dict(self.user))
        m = re.fullmatch(r"/api/v4/projects/([^/]+)/(.+)", path)
        if not m or m[1] not in (self.project_id, self.project_path.replace("/", "%2F")):
            raise _error(404, "404 Project Not Found")
        rest = m[2]
        if mm := re.fullmatch(r"merge_requests/(\d+)/notes", rest):
            iid = int(mm[1])
            self._mr(iid)
            if method == "GET":
                items = [n for n in self.notes if n["noteable_iid"] == iid]
                return self._page(items, path, query, base)
            if method == "POST":
                if job:
                    raise _error(403, "403 Forbidden")
                note = self._note(iid, self._note_body(body), self.user)
                self.notes.append(note)
                return _Reply(201, note)
        if mm := re.fullmatch(r"merge_requests/(\d+)/notes/(\d+)", rest):
            iid = int(mm[1])
            self._mr(iid)
            found = [n for n in self.notes if n["id"] == int(mm[2]) and n["noteable_iid"] == iid]
            if not found:
                raise _error(404, "404 Note Not Found")
            if method == "GET":
                return _Reply(200, found[0])
            if method == "PUT":
                if job or found[0]["author"]["username"] != self.user["username"]:
                    raise _error(403, "403 Forbidden")
                found[0]["body"] = self._note_body(body)
                found[0]["updated_at"] = "2026-01-01T00:05:00.000Z"
                return _Reply(200, found[0])
        if rest == "merge_requests":
            if method == "GET":
                state = query.get("state", "all")
                items = [r for r in self.merge_requests if state in ("all", r["state"])]
                return self._page(list(reversed(items)), path, query, base)
            if method == "POST":
                if job:
                    raise _error(403, "403 Forbidden")
                return self._create_merge_request(body)
        if mm := re.fullmatch(r"merge_requests/(\d+)", rest):
            return _Reply(200, self._mr(int(mm[1])))
        if rest == "releases":
            if method == "GET":
                return self._page(list(reversed(self.releases)), path, query, base)
            if method == "POST":
                return self._create_release(body)
        raise _error(404, "404 Not Found")

    def _mr(self, iid: int) -> dict[str, Any]:
        for mr in self.merge_requests:
            if mr["iid"] == iid:
                return mr
        raise _error(404, "404 Not found")

    def _note_body(self, body: Any) -> str:
        if not isinstance(body, dict) or not isinstance(body.get("body"), str):
            raise _error(400, "400 Bad request - body is missing")
        text: str = body["body"]
        if len(text) > MAX_NOTE:
            raise _error(400, {"note": [f"is too long (maximum is {MAX_NOTE} characters)"]})
        return text

    def _create_merge_request(self, body: Any) -> _Reply:
        if not isinstance(body, dict):
            raise _error(400, "400 Bad request")
        missing = [k for k in ("source_branch", "target_branch", "title") if not body.get(k)]
        if missing:
            raise _error(400, f"{missing[0]} is missing")
        for mr in self.merge_requests:
            if mr["state"] == "opened" and mr["source_branch"] == body["source_branch"]:
                raise _error(
                    409,
                    [
                        "Another open merge request already exists for this source branch: "
                        f"!{mr['iid']}"
                    ],
                )
        iid = max([0, *(r["iid"] for r in self.merge_requests)]) + 1
        mr = self._merge_request(
            iid,
            body["source_branch"],
            body["target_branch"],
            body["title"],
            body.get("description") or "",
        )
        self.merge_requests.append(mr)
        return _Reply(201, mr)

    def _create_release(self, body: Any) -> _Reply:
        if not isinstance(body, dict) or not isinstance(body.get("tag_name"), str):
            raise _error(400, "tag_name is missing")
        tag = body["tag_name"]
        if any(r["tag_name"] == tag for r in self.releases):
            raise _error(409, "Release already exists")
        if self.tags is not None and tag not in self.tags:
            raise _error(422, "Ref is not specified")
        release = {
            "tag_name": tag,
            "name": body.get("name") or tag,
            "description": body.get("description") or "",
            "created_at": "2026-01-01T00:00:00.000Z",
            "released_at": "2026-01-01T00:00:00.000Z",
            "author": dict(self.user),
            "_links": {"self": f"{self.project_url}/-/releases/{tag}"},
        }
        self.releases.append(release)
        return _Reply(201, release)

    def _page(
        self, items: list[dict[str, Any]], path: str, query: dict[str, str], base: str
    ) -> _Reply:
        try:
            per_page = min(max(int(query.get("per_page", "20")), 1), 100)
            page = max(int(query.get("page", "1")), 1)
        except ValueError:
            raise _error(400, "400 Bad request - page is invalid") from None
        last = max((len(items) + per_page - 1) // per_page, 1)
        chunk = items[(page - 1) * per_page : page * per_page]
        headers = {
            "x-page": str(page),
            "x-per-page": str(per_page),
            "x-total": str(len(items)),
            "x-total-pages": str(last),
            "x-next-page": str(page + 1) if page < last else "",
            "x-prev-page": str(page - 1) if page > 1 else "",
        }
        if self.link:

            def link(n: int, rel: str) -> str:
                params = {k: v for k, v in query.items() if k not in ("page", "per_page")}
                params.update(page=str(n), per_page=str(per_page))
                return f'<{base}{path}?{urlencode(params)}>; rel="{rel}"'

            links = [link(1, "first"), link(last, "last")]
            if page < last:
                links.insert(0, link(page + 1, "next"))
            if page > 1:
                links.insert(0, link(page - 1, "prev"))
            headers["Link"] = ", ".join(links)
        return _Reply(200, chunk, headers)


class _Handler(BaseHTTPRequestHandler):
    owner: GitLabStub
    protocol_version = "HTTP/1.1"
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        stub = self.owner
        parts = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = Recorded(
            method, parts.path, query, {k.lower(): v for k, v in self.headers.items()}, None
        )
        with stub._lock:
            stub.requests.append(record)
        try:
            if raw:
                try:
                    record.body = json.loads(raw)
                except ValueError:
                    raise _error(400, "400 Bad request - JSON body is invalid") from None
            reply = self._dispatch(method, parts.path, query, record.body)
        except _Reply as exc:
            reply = exc
        record.status = reply.status
        data = json.dumps(reply.body).encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def _dispatch(self, method: str, path: str, query: dict[str, str], body: Any) -> _Reply:
        stub = self.owner
        private, job = self.headers.get("PRIVATE-TOKEN"), self.headers.get("JOB-TOKEN")
        if not (private == stub.token or (private is None and job == stub.job_token)):
            raise _error(401, "401 Unauthorized")
        failure = stub._take_failure(method, path)
        if failure is not None and not failure.after:
            raise _Reply(failure.status, {"message": failure.message}, failure.headers)
        host = self.headers.get("Host") or "{}:{}".format(*self.server.server_address[:2])
        reply = stub.handle(method, path, query, body, private is None, f"http://{host}")
        if failure is not None:
            raise _Reply(failure.status, {"message": failure.message}, failure.headers)
        return reply
