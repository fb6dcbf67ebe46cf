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

import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from mlgate.ci._rest import HttpError, Reply, RestClient, check_api_url
from mlgate.constants import GITHUB_COMMENT_LIMIT, REPORT_MARKER
from mlgate.errors import ConfigError, RemoteError
from mlgate.truncate import truncate_markdown

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
MARKER = REPORT_MARKER
#: Who ``GITHUB_TOKEN`` acts as; ``GET /user`` answers 403 for that token.
ACTIONS_BOT = "github-actions[bot]"
MAX_COMMENT_CHARS = GITHUB_COMMENT_LIMIT
_REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")


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


class GitHubClient(RestClient):
    """GitHub's REST API for one repository.

    >>> gh = GitHubClient(token, "octo/demo", api_url="https://api.github.com")  # doctest: +SKIP
    >>> gh.upsert_comment(5, report_markdown).action  # doctest: +SKIP
    'created'
    """

    API_NAME = "GitHub API"
    URL_VARIABLE = "GITHUB_API_URL"
    forge: Final = "github"

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
        super().__init__(
            token,
            api_url=check_api_url(api_url, "GITHUB_API_URL", DEFAULT_API_URL),
            client=client,
            max_attempts=max_attempts,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            clock=clock,
        )
        self.repository = repository
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

    # -- public API --------------------------------------------------------------------------
    def reference(self, pr: int) -> str:
        """``OWNER/NAME#N``."""
        return f"{self.repository}#{int(pr)}"

    def login(self) -> str:
        """The login the token acts as: ``GET /user``, or ``github-actions[bot]`` when the
        API answers 403 there (the workflow's ``GITHUB_TOKEN``, an app installation token)."""
        if self._login is None:
            try:
                data = self._request("GET", "/user").data
            except HttpError as exc:
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

    def _update_comment(self, comment_id: int, text: str) -> Reply:
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

    # -- protocol ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": API_VERSION,
            "User-Agent": "mlgate",
        }

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


def _prepare_body(body: str, marker: str) -> str:
    if marker not in body:
        body = f"{marker}\n{body}"
    out = truncate_markdown(body)
    if marker not in out:  # the marker sat beyond the cut: keep it, at the top
        out = truncate_markdown(f"{marker}\n{body.replace(marker, '')}")
    return out


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
