"""A small client for the parts of GitHub's REST API that mlgate uses.

- the pull-request report comment: one comment per PR carrying a marker, created once and
  then updated in place (``upsert_comment``), never a second one. Only a comment written by
  the token's own identity counts (``GET /user``; the workflow's ``GITHUB_TOKEN`` cannot
  call it and is ``github-actions[bot]``): a marker in someone else's comment is never
  edited, so no one can take the report over;
- releases (``create_release``) and pull requests (``create_pull_request``,
  ``pull_request_for_commit``) for the release and continuous-training workflows.

Protocol: https://docs.github.com/en/rest (API version 2022-11-28). Lists are paginated with
``per_page``/``page`` and a ``Link: <...>; rel="next"`` header. Failures:

- 5xx, 429, and 403 carrying rate-limit headers are retried with exponential backoff, waiting
  at least what ``retry-after`` (seconds or an HTTP date) or ``x-ratelimit-reset`` (epoch
  seconds) asks for; a header that is not a finite number or a date (``nan``, ``soon``) is
  ignored, the default backoff applies; a bounded number of attempts, and never a wait
  beyond ``max_wait`` seconds;
- a 2xx answer that is not JSON raises :class:`~mlgate.errors.RemoteError` naming the status
  and the content type (a proxy's login page, a wrong ``GITHUB_API_URL``);
- 401, 403 and 404 (and any other 4xx) raise :class:`~mlgate.errors.RemoteError` with a
  one-line message naming the request and the fix. The token never appears in a message.

The HTTP client is injected (``client=httpx.Client(...)``) so tests can point at a loopback
stand-in; the sleep function and clock are injectable so retry tests do not wait.
"""

from __future__ import annotations

import email.utils
import math
import os
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

import httpx

from mlgate.errors import ConfigError, RemoteError

__all__ = [
    "ACTIONS_BOT",
    "API_VERSION",
    "DEFAULT_API_URL",
    "MARKER",
    "MAX_COMMENT_CHARS",
    "Comment",
    "GitHubClient",
    "truncate_markdown",
]

DEFAULT_API_URL = "https://api.github.com"
API_VERSION = "2022-11-28"
#: The hidden HTML comment that identifies mlgate's report comment on a pull request.
MARKER = "<!-- mlgate-report -->"
#: Who ``GITHUB_TOKEN`` acts as; ``GET /user`` answers 403 for that token.
ACTIONS_BOT = "github-actions[bot]"
#: GitHub answers 422 "Body is too long (maximum is 65536 characters)" beyond this.
MAX_COMMENT_CHARS = 65_536
TRUNCATION_NOTE = (
    "\n\n---\n**Truncated:** this report exceeded GitHub's 65,536-character comment limit. "
    "The full report is in the workflow run's step summary.\n"
)
_PER_PAGE = 100
_MAX_PAGES = 100  # 10,000 comments: far beyond any real PR, and a guard against Link loops
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@dataclass(frozen=True)
class Comment:
    """An issue comment as GitHub returned it, and whether this call created it."""

    id: int
    html_url: str
    body: str
    created: bool

    @property
    def action(self) -> str:
        """``"created"`` or ``"updated"``."""
        return "created" if self.created else "updated"


class _HttpError(RemoteError):
    """A 4xx answer that is not retried; ``status`` lets callers tell 403 from 401."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


class _Retry(Exception):
    """A failure worth retrying; ``wait`` is the least the server asked for (None: backoff)."""

    def __init__(self, reason: str, wait: float | None, *, ambiguous: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.wait = wait
        # True when the request may have taken effect (5xx, lost connection): a retried
        # POST could then create a duplicate, so the caller gets a chance to look first.
        self.ambiguous = ambiguous


@dataclass(frozen=True)
class _Reply:
    data: Any
    next_url: str | None


def truncate_markdown(
    text: str, limit: int = MAX_COMMENT_CHARS, note: str = TRUNCATION_NOTE
) -> str:
    """Cut ``text`` to at most ``limit`` characters at a line break, closing an open code
    fence and open ``<details>`` blocks, and append ``note``. Text within the limit is
    returned unchanged.
    """
    if len(text) <= limit:
        return text
    budget = limit - len(note)
    while True:
        head = text[: max(budget, 0)]
        newline = head.rfind("\n")
        if newline > len(head) // 2:
            head = head[:newline]
        closers = ""
        if head.count("```") % 2:
            closers += "\n```"
        closers += "\n</details>" * max(head.count("<details") - head.count("</details>"), 0)
        out = head + closers + note
        if len(out) <= limit or budget <= 0:
            return out[:limit]
        budget -= len(out) - limit


def _one_line(text: str, limit: int = 300) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _check_api_url(api_url: str) -> str:
    parts = urlsplit(api_url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"GITHUB_API_URL: expected an http(s) URL such as {DEFAULT_API_URL}, got {api_url!r}"
        )
    if parts.scheme == "http" and parts.hostname not in _LOOPBACK:
        # The token travels in a header: never send it in clear text over a network.
        raise ConfigError(
            f"GITHUB_API_URL: {api_url} is plain http; use https (http only for 127.0.0.1)"
        )
    return api_url.rstrip("/")


class GitHubClient:
    """GitHub's REST API for one repository.

    >>> gh = GitHubClient(token, "octo/demo", api_url="https://api.github.com")  # doctest: +SKIP
    >>> gh.upsert_comment(5, report_markdown).action  # doctest: +SKIP
    'created'
    """

    def __init__(
        self,
        token: str,
        repository: str,
        *,
        api_url: str = DEFAULT_API_URL,
        client: httpx.Client | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ConfigError("GITHUB_TOKEN is empty; pass the workflow's token in `env:`")
        if not _REPOSITORY.match(repository):
            raise ConfigError(f"GITHUB_REPOSITORY: expected OWNER/NAME, got {repository!r}")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self._token = token
        self.repository = repository
        self.api_url = _check_api_url(api_url)
        self._owns_client = client is None
        self._client = (
            client
            if client is not None
            else httpx.Client(timeout=httpx.Timeout(30.0, connect=10.0))
        )
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_wait = max_wait
        self._sleep = sleep
        self._clock = clock
        self._login: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> GitHubClient:
        """A client from ``GITHUB_TOKEN``, ``GITHUB_REPOSITORY`` and ``GITHUB_API_URL``
        (default ``https://api.github.com``), as GitHub Actions sets them."""
        env = os.environ if environ is None else environ
        token = env.get("GITHUB_TOKEN", "")
        if not token:
            raise ConfigError(
                "GITHUB_TOKEN is not set; in a workflow add `env: GITHUB_TOKEN: "
                "${{ secrets.GITHUB_TOKEN }}` to the step"
            )
        repository = env.get("GITHUB_REPOSITORY", "")
        if not repository:
            raise ConfigError("GITHUB_REPOSITORY is not set; set it to OWNER/NAME")
        api_url = env.get("GITHUB_API_URL") or DEFAULT_API_URL
        return cls(token, repository, api_url=api_url, **kwargs)

    # -- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Close the HTTP client if this object created it."""
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> GitHubClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- public API --------------------------------------------------------------------------
    def login(self) -> str:
        """The login the token acts as: ``GET /user``, or ``github-actions[bot]`` when the
        API answers 403 there (the workflow's ``GITHUB_TOKEN``, an app installation token)."""
        if self._login is None:
            try:
                data = self._request("GET", "/user").data
            except _HttpError as exc:
                if exc.status != 403:
                    raise
                self._login = ACTIONS_BOT
            else:
                login = data.get("login") if isinstance(data, dict) else None
                if not isinstance(login, str) or not login:
                    raise RemoteError("GitHub API: GET /user answered without a login")
                self._login = login
        return self._login

    def find_comment(
        self, pr: int, marker: str = MARKER, *, author: str | None = None
    ) -> Comment | None:
        """The first comment on ``pr`` whose body contains ``marker`` (written by ``author``,
        when given; logins compare case-insensitively, as GitHub's do), or None."""
        want = author.lower() if author is not None else None
        for item in self._paginate(f"/repos/{self.repository}/issues/{int(pr)}/comments"):
            body = item.get("body") or ""
            if marker not in body:
                continue
            if want is None or _author(item) == want:
                return _comment(item, created=False)
        return None

    def upsert_comment(self, pr: int, body: str, marker: str = MARKER) -> Comment:
        """Update the comment on ``pr`` that carries ``marker`` and that this token's identity
        wrote (see :meth:`login`), or create one.

        A comment by anyone else is left alone, marker or not: editing it would let any
        commenter decide where the report goes (or hide it). ``marker`` is added at the top
        of ``body`` when missing, and a body over 65,536 characters is truncated with a note.
        Nothing is escaped here: the report renderer escapes text from the pull request.
        """
        text = _prepare_body(body, marker)
        me = self.login()
        existing = self.find_comment(pr, marker, author=me)
        if existing is not None:
            return _comment(self._update_comment(existing.id, text).data, created=False)

        def created_meanwhile() -> Any:
            # A POST that failed with 5xx may still have created the comment: look before
            # posting again, so a flaky API never leaves two report comments.
            found = self.find_comment(pr, marker, author=me)
            return None if found is None else self._update_comment(found.id, text).data

        reply = self._request(
            "POST",
            f"/repos/{self.repository}/issues/{int(pr)}/comments",
            json={"body": text},
            before_retry=created_meanwhile,
        )
        return _comment(reply.data, created=True)

    def _update_comment(self, comment_id: int, text: str) -> _Reply:
        return self._request(
            "PATCH", f"/repos/{self.repository}/issues/comments/{comment_id}", json={"body": text}
        )

    def create_release(self, tag: str, name: str, body: str) -> dict[str, Any]:
        """Create a published release for an existing tag; returns GitHub's release object."""
        reply = self._request(
            "POST",
            f"/repos/{self.repository}/releases",
            json={"tag_name": tag, "name": name, "body": body},
        )
        return dict(reply.data)

    def create_pull_request(self, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """Open a pull request from branch ``head`` into ``base``; returns GitHub's object."""
        reply = self._request(
            "POST",
            f"/repos/{self.repository}/pulls",
            json={"title": title, "head": head, "base": base, "body": body},
        )
        return dict(reply.data)

    def pull_request_for_commit(self, sha: str) -> int | None:
        """The number of the open pull request whose head is ``sha``, or None.

        Asks ``GET /commits/{sha}/pulls`` first; that list is empty for commits that live in
        a fork, so it then scans the open pull requests for ``head.sha == sha`` (the PR of a
        ``workflow_run`` triggered by a fork).
        """
        if not re.fullmatch(r"[0-9a-fA-F]{7,64}", sha):
            raise ConfigError(f"commit {sha!r}: expected a hexadecimal commit SHA")
        listed = self._paginate(f"/repos/{self.repository}/commits/{sha}/pulls")
        opened = [p for p in listed if p.get("state") == "open"]
        # Prefer the PR whose head is this very commit over one that merely contains it.
        if opened:
            return int(min(opened, key=lambda p: _head_sha(p) != sha)["number"])
        for pull in self._paginate(f"/repos/{self.repository}/pulls", {"state": "open"}):
            if _head_sha(pull) == sha:
                return int(pull["number"])
        return None

    def list_releases(self) -> list[dict[str, Any]]:
        """Every release of the repository, newest first (as GitHub orders them)."""
        return [dict(r) for r in self._paginate(f"/repos/{self.repository}/releases")]

    # -- HTTP --------------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlgate",
        }

    def _paginate(
        self, path: str, params: Mapping[str, str] | None = None
    ) -> Iterator[dict[str, Any]]:
        query = {"per_page": str(_PER_PAGE), "page": "1", **(params or {})}
        reply = self._request("GET", path, params=query)
        for page in range(_MAX_PAGES):
            if not isinstance(reply.data, list):
                raise RemoteError(f"GitHub API: GET {path} did not return a list")
            for item in reply.data:
                if isinstance(item, dict):
                    yield item
            if reply.next_url is None:
                return
            if page + 1 == _MAX_PAGES:
                raise RemoteError(f"GitHub API: GET {path} has more than {_MAX_PAGES} pages")
            reply = self._request("GET", reply.next_url)

    def _url(self, path_or_url: str) -> str:
        if "://" not in path_or_url:
            return self.api_url + path_or_url
        # A pagination link: follow it only to the API's own origin (the token goes along).
        here, there = urlsplit(self.api_url), urlsplit(path_or_url)
        if (here.scheme, here.netloc) != (there.scheme, there.netloc):
            raise RemoteError(
                f"GitHub API: refusing to follow a pagination link to {there.scheme}://"
                f"{there.netloc} (not {here.netloc})"
            )
        return path_or_url

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        before_retry: Callable[[], Any] | None = None,
    ) -> _Reply:
        url = self._url(path)
        what = f"{method} {urlsplit(url).path}"
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._attempt(method, url, what, json=json, params=params)
            except _Retry as retry:
                if attempt == self.max_attempts:
                    raise RemoteError(
                        f"GitHub API: {what} failed after {attempt} attempts ({retry.reason}); "
                        "try again later"
                    ) from None
                delay = self.backoff * 2 ** (attempt - 1)
                if retry.wait is not None:
                    if retry.wait > self.max_wait:
                        raise RemoteError(
                            f"GitHub API: {what}: {retry.reason}; GitHub asks to wait "
                            f"{math.ceil(retry.wait)} s (more than {self.max_wait:g} s); try later"
                        ) from None
                    delay = max(retry.wait, 0.0)
                self._sleep(min(delay, self.max_wait))
                if retry.ambiguous and before_retry is not None:
                    found = before_retry()
                    if found is not None:
                        return _Reply(found, None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _attempt(
        self, method: str, url: str, what: str, *, json: Any, params: Mapping[str, str] | None
    ) -> _Reply:
        try:
            response = self._client.request(
                method, url, json=json, params=params, headers=self._headers()
            )
        except httpx.TimeoutException as exc:
            raise _Retry(f"timed out: {type(exc).__name__}", None, ambiguous=True) from None
        except httpx.TransportError as exc:
            if isinstance(exc, httpx.ConnectError):
                raise _Retry(
                    f"cannot connect to {self.api_url}: {self._redact(str(exc))}",
                    None,
                    ambiguous=False,
                ) from None
            raise _Retry(f"connection failed: {type(exc).__name__}", None, ambiguous=True) from None
        status = response.status_code
        if 200 <= status < 300:
            try:
                data = response.json() if response.content else None
            except ValueError:  # an HTML page from a proxy, a wrong GITHUB_API_URL
                kind = response.headers.get("content-type") or "no content type"
                raise RemoteError(
                    f"GitHub API: {what}: {status} answer is not JSON ({kind}); check "
                    f"GITHUB_API_URL ({self.api_url})"
                ) from None
            nxt = response.links.get("next", {}).get("url")
            return _Reply(data, nxt)
        message = self._server_message(response)
        wait = self._rate_limit_wait(response)
        if status == 429 or (
            status == 403 and (wait is not None or "rate limit" in message.lower())
        ):
            # Rate limited: the request was not processed, so any method may be retried.
            # GitHub asks for at least a minute when a secondary limit gives no header.
            raise _Retry(
                f"{status} rate limited", wait if wait is not None else 60.0, ambiguous=False
            )
        if status >= 500:
            raise _Retry(f"{status} {response.reason_phrase}", wait, ambiguous=True)
        raise _HttpError(self._explain(status, what, message), status)

    def _rate_limit_wait(self, response: httpx.Response) -> float | None:
        headers = response.headers
        retry_after = headers.get("retry-after")
        if retry_after:
            seconds = _finite(retry_after)
            if seconds is not None:
                return seconds
            try:  # the HTTP-date form of retry-after
                delta = email.utils.parsedate_to_datetime(retry_after).timestamp() - self._clock()
                return delta if math.isfinite(delta) else None
            except (TypeError, ValueError, IndexError, OverflowError):
                pass  # neither: fall through to the reset header, else the default backoff
        if headers.get("x-ratelimit-remaining") == "0" and headers.get("x-ratelimit-reset"):
            reset = _finite(headers["x-ratelimit-reset"])
            return None if reset is None else reset - self._clock()
        return None

    def _server_message(self, response: httpx.Response) -> str:
        try:
            data = response.json()
        except ValueError:
            return self._redact(_one_line(response.text, 200))
        if not isinstance(data, dict):
            return ""
        parts = [str(data.get("message", ""))]
        for err in data.get("errors") or []:
            if isinstance(err, dict) and err.get("message"):
                parts.append(str(err["message"]))
            elif isinstance(err, dict) and err.get("code"):
                parts.append(f"{err.get('field', '?')} {err['code']}")
        return self._redact(_one_line(": ".join(p for p in parts if p), 300))

    def _explain(self, status: int, what: str, message: str) -> str:
        said = f" ({message})" if message else ""
        if status == 401:
            return (
                f"GitHub API: {what}: 401 unauthorized{said}; check that GITHUB_TOKEN holds a "
                "valid token"
            )
        if status == 403:
            return (
                f"GitHub API: {what}: 403 forbidden{said}; the token lacks permission: give the "
                "job `permissions: pull-requests: write` (or `contents: write` for releases); "
                "pull requests from forks get a read-only token, so comment from a "
                "`workflow_run` workflow"
            )
        if status == 404:
            return (
                f"GitHub API: {what}: 404 not found{said}; check GITHUB_REPOSITORY "
                f"({self.repository}), the pull request number, and that the token can see "
                "the repository"
            )
        return f"GitHub API: {what}: {status}{said}"

    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text


def _prepare_body(body: str, marker: str) -> str:
    if marker not in body:
        body = f"{marker}\n{body}"
    out = truncate_markdown(body)
    if marker not in out:  # the marker sat beyond the cut: keep it, at the top
        out = truncate_markdown(f"{marker}\n{body.replace(marker, '')}")
    return out


def _finite(text: str) -> float | None:
    """A header value as a finite number of seconds, None for ``nan``, ``inf`` or words."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _author(item: Mapping[str, Any]) -> str | None:
    user = item.get("user")
    login = user.get("login") if isinstance(user, dict) else None
    return login.lower() if isinstance(login, str) else None


def _head_sha(pull: Mapping[str, Any]) -> str | None:
    head = pull.get("head")
    return head.get("sha") if isinstance(head, dict) else None


def _comment(data: Any, *, created: bool) -> Comment:
    if not isinstance(data, dict) or not isinstance(data.get("id"), int):
        raise RemoteError("GitHub API: the comment response has no numeric id")
    return Comment(
        id=data["id"],
        html_url=str(data.get("html_url", "")),
        body=str(data.get("body", "")),
        created=created,
    )
