"""A small client for the parts of GitLab's REST API v4 that mlgate uses.

- the merge request report: one note per merge request carrying the marker, created once and
  then updated in place (``upsert_comment``). Only a note written by the token's own user
  (``GET /user``) counts: a marker in someone else's note is never edited;
- the note links to the full report, the job's artifact, when the job sets
  ``MLGATE_REPORT_ARTIFACT`` (its path) and GitLab sets ``CI_JOB_URL``:
  ``$CI_JOB_URL/artifacts/file/PATH``;
- releases for tags (``create_release``, ``list_releases``) and merge requests
  (``create_pull_request``) for ``mlgate ct``.

Configuration, as GitLab CI sets it (https://docs.gitlab.com/ci/variables/predefined_variables/):
``CI_API_V4_URL``, ``CI_PROJECT_ID`` (or a ``group/project`` path), ``CI_PROJECT_URL`` for
links; the token from the masked variable ``GITLAB_TOKEN`` (a project or group access token
with the ``api`` scope, sent as ``PRIVATE-TOKEN``). ``CI_JOB_TOKEN`` can publish a release
but cannot write notes or open merge requests: with only that token those calls stop with a
one-line error naming the fix.

Protocol: https://docs.gitlab.com/api/rest/. Lists are paginated with ``per_page``/``page``,
a ``Link`` header and ``x-next-page`` (the header GitLab always sends; ``Link`` is left out
of very large lists). Retries, rate limits (``retry-after``, ``ratelimit-reset``), errors
and token redaction are :mod:`mlgate.ci._rest`'s, as for GitHub.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx

from mlgate.ci._rest import RestClient, check_api_url, one_line
from mlgate.ci.github import Comment
from mlgate.constants import REPORT_MARKER as MARKER
from mlgate.errors import ConfigError, RemoteError
from mlgate.truncate import truncate_markdown

__all__ = ["DEFAULT_API_URL", "MAX_NOTE_CHARS", "GitLabClient"]

DEFAULT_API_URL = "https://gitlab.com/api/v4"
#: GitLab refuses a note over 1,000,000 characters ("Note is too long").
MAX_NOTE_CHARS = 1_000_000
TRUNCATION_NOTE = (
    "\n\n---\n**Truncated:** this report exceeded GitLab's 1,000,000-character note limit. "
    "The full report is the job's artifact.\n"
)
#: The job variable naming the report's artifact path (relative to the project folder); with
#: ``CI_JOB_URL`` the note links to it (``.gitlab-ci.yml`` of ``mlgate init --gitlab`` sets it).
ARTIFACT_VARIABLE = "MLGATE_REPORT_ARTIFACT"
_PROJECT_PATH = re.compile(r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)+$")
JOB_TOKEN_ONLY = (
    "GITLAB_TOKEN is not set and CI_JOB_TOKEN cannot {what}: create a project access token "
    "(role Developer, scope api) and store it as the masked, protected CI/CD variable GITLAB_TOKEN"
)


class GitLabClient(RestClient):
    """GitLab's REST API v4 for one project.

    >>> gl = GitLabClient(token, "42", api_url="https://gitlab.example/api/v4")  # doctest: +SKIP
    >>> gl.upsert_comment(7, report_markdown).action  # doctest: +SKIP
    'created'
    """

    API_NAME = "GitLab API"
    URL_VARIABLE = "CI_API_V4_URL"
    forge: Final = "gitlab"

    def __init__(
        self,
        token: str,
        project: str,
        *,
        api_url: str = DEFAULT_API_URL,
        project_url: str = "",
        job_token: bool = False,
        artifact_url: str = "",
        client: httpx.Client | None = None,
        max_attempts: int = 5,
        backoff: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not token:
            raise ConfigError("GITLAB_TOKEN is empty; set the masked CI/CD variable GITLAB_TOKEN")
        if not (project.isdigit() or _PROJECT_PATH.match(project)) or any(
            part in (".", "..") for part in project.split("/")
        ):
            raise ConfigError(
                f"CI_PROJECT_ID: expected a project id or GROUP/PROJECT, got {project!r}"
            )
        super().__init__(
            token,
            api_url=check_api_url(api_url, "CI_API_V4_URL", DEFAULT_API_URL),
            client=client,
            max_attempts=max_attempts,
            backoff=backoff,
            max_wait=max_wait,
            sleep=sleep,
            clock=clock,
        )
        self.project = project
        self.project_url = project_url.rstrip("/")
        self.job_token = job_token
        self.artifact_url = artifact_url
        self._username: str | None = None
        self._base = f"/projects/{quote(project, safe='')}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **kwargs: Any) -> GitLabClient:
        """A client from ``GITLAB_TOKEN`` (else ``CI_JOB_TOKEN``, for releases only),
        ``CI_PROJECT_ID``, ``CI_API_V4_URL`` and ``CI_PROJECT_URL``."""
        env = os.environ if environ is None else environ
        token, job = env.get("GITLAB_TOKEN", ""), False
        if not token and env.get("CI_JOB_TOKEN"):
            token, job = env["CI_JOB_TOKEN"], True
        if not token:
            raise ConfigError(
                "GITLAB_TOKEN is not set; store a project access token (scope api) as the "
                "masked CI/CD variable GITLAB_TOKEN"
            )
        project = env.get("CI_PROJECT_ID", "")
        if not project:
            raise ConfigError("CI_PROJECT_ID is not set; set it to the project's id or path")
        return cls(
            token,
            project,
            api_url=env.get("CI_API_V4_URL") or DEFAULT_API_URL,
            project_url=env.get("CI_PROJECT_URL", ""),
            job_token=job,
            artifact_url=artifact_url(env),
            **kwargs,
        )

    # -- public API --------------------------------------------------------------------------
    def reference(self, pr: int) -> str:
        """``!IID`` after the project (its id when no ``CI_PROJECT_URL`` names its path)."""
        path = urlsplit(self.project_url).path.strip("/") if self.project_url else self.project
        return f"{path}!{int(pr)}"

    def username(self) -> str:
        """The username the token acts as (``GET /user``); a project access token's is its
        bot user (``project_42_bot_...``)."""
        if self.job_token:
            raise ConfigError(JOB_TOKEN_ONLY.format(what="write merge request notes"))
        if self._username is None:
            data = self._request("GET", "/user").data
            name = data.get("username") if isinstance(data, dict) else None
            if not isinstance(name, str) or not name:
                raise RemoteError("GitLab API: GET /user answered without a username")
            self._username = name
        return self._username

    def find_comment(
        self, pr: int, marker: str = MARKER, *, author: str | None = None
    ) -> Comment | None:
        """The first note on merge request ``pr`` whose body has ``marker`` (written by
        ``author``, when given; usernames compare case-insensitively), or None."""
        want = author.lower() if author is not None else None
        path = f"{self._base}/merge_requests/{int(pr)}/notes"
        query = {"sort": "asc", "order_by": "created_at"}
        for note in self._paginate(path, query):
            if note.get("system") or marker not in (note.get("body") or ""):
                continue
            if want is None or _author(note) == want:
                return self._comment(pr, note, created=False)
        return None

    def upsert_comment(self, pr: int, body: str, marker: str = MARKER) -> Comment:
        """Update the note on merge request ``pr`` that carries ``marker`` and that this
        token's user wrote, or create one (see :meth:`GitHubClient.upsert_comment`)."""
        text = _prepare_body(body, marker, self.artifact_url)
        me = self.username()
        existing = self.find_comment(pr, marker, author=me)
        if existing is not None:
            return self._comment(pr, self._update_note(pr, existing.id, text).data, created=False)

        def created_meanwhile() -> Any:
            found = self.find_comment(pr, marker, author=me)
            return None if found is None else self._update_note(pr, found.id, text).data

        reply = self._request(
            "POST",
            f"{self._base}/merge_requests/{int(pr)}/notes",
            json={"body": text},
            before_retry=created_meanwhile,
        )
        return self._comment(pr, reply.data, created=True)

    def list_releases(self) -> list[dict[str, Any]]:
        """Every release of the project, newest first, each with ``html_url`` added."""
        return [_release(r) for r in self._paginate(f"{self._base}/releases")]

    def create_release(self, tag: str, name: str, body: str) -> dict[str, Any]:
        """Create the release of the existing ``tag`` (``description``: the notes)."""
        reply = self._request(
            "POST",
            f"{self._base}/releases",
            json={"tag_name": tag, "name": name, "description": body},
        )
        return _release(reply.data)

    def create_pull_request(self, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """Open a merge request from ``head`` into ``base``; the answer with ``number`` (the
        iid) and ``html_url`` added."""
        if self.job_token:
            raise ConfigError(JOB_TOKEN_ONLY.format(what="open merge requests"))
        reply = self._request(
            "POST",
            f"{self._base}/merge_requests",
            json={
                "source_branch": head,
                "target_branch": base,
                "title": title,
                "description": body,
            },
        )
        data = dict(reply.data) if isinstance(reply.data, dict) else {}
        return {**data, "number": data.get("iid"), "html_url": str(data.get("web_url", ""))}

    # -- protocol ----------------------------------------------------------------------------
    def _headers(self) -> dict[str, str]:
        name = "JOB-TOKEN" if self.job_token else "PRIVATE-TOKEN"
        return {name: self._token, "Accept": "application/json", "User-Agent": "mlgate"}

    def _next_url(self, response: httpx.Response, url: str) -> str | None:
        linked = super()._next_url(response, url)
        if linked:
            return linked
        page = response.headers.get("x-next-page", "")
        if not page.isdigit():  # empty on the last page
            return None
        parts = urlsplit(url)
        query = dict(parse_qsl(parts.query))
        query["page"] = page
        return urlunsplit(parts._replace(query=urlencode(query)))

    def _server_message(self, response: httpx.Response) -> str:
        # GitLab answers {"message": "..."}, {"message": {"field": ["is too long"]}} or
        # {"error": "...", "error_description": "..."} (OAuth-style token errors).
        try:
            data = response.json()
        except ValueError:
            return self._redact(one_line(response.text, 200))
        if not isinstance(data, dict):
            return ""
        message = data.get("message")
        if isinstance(message, dict):
            text = "; ".join(
                f"{key} {' '.join(map(str, v)) if isinstance(v, list) else v}"
                for key, v in message.items()
            )
        elif message is not None:
            text = str(message)
        else:
            text = ": ".join(str(data[k]) for k in ("error", "error_description") if k in data)
        return self._redact(one_line(text, 300))

    def _explain(self, status: int, what: str, message: str) -> str:
        said = f" ({message})" if message else ""
        if status == 401:
            return (
                f"GitLab API: {what}: 401 unauthorized{said}; check that GITLAB_TOKEN holds a "
                "valid, unexpired access token"
            )
        if status == 403:
            return (
                f"GitLab API: {what}: 403 forbidden{said}; the token lacks permission: give "
                "it the api scope and at least the Developer role (Maintainer to release a "
                "protected tag); forks' merge request pipelines get no GITLAB_TOKEN"
            )
        if status == 404:
            return (
                f"GitLab API: {what}: 404 not found{said}; check CI_PROJECT_ID "
                f"({self.project}), the merge request iid, and that the token can see the "
                "project"
            )
        return f"GitLab API: {what}: {status}{said}"

    # -- helpers -----------------------------------------------------------------------------
    def _update_note(self, pr: int, note_id: int, text: str) -> Any:
        return self._request(
            "PUT",
            f"{self._base}/merge_requests/{int(pr)}/notes/{note_id}",
            json={"body": text},
        )

    def _comment(self, pr: int, data: Any, *, created: bool) -> Comment:
        if not isinstance(data, dict) or not isinstance(data.get("id"), int):
            raise RemoteError("GitLab API: the note response has no numeric id")
        url = (
            f"{self.project_url}/-/merge_requests/{int(pr)}#note_{data['id']}"
            if self.project_url
            else ""
        )
        return Comment(id=data["id"], html_url=url, body=str(data.get("body", "")), created=created)


def artifact_url(environ: Mapping[str, str]) -> str:
    """``$CI_JOB_URL/artifacts/file/PATH`` for ``PATH`` = ``$MLGATE_REPORT_ARTIFACT``, or
    ``""`` when either is unset. ``PATH`` must stay inside the project folder.

    >>> artifact_url({"CI_JOB_URL": "https://gl.example/g/p/-/jobs/9",
    ...               "MLGATE_REPORT_ARTIFACT": "out/mlgate report.md"})
    'https://gl.example/g/p/-/jobs/9/artifacts/file/out/mlgate%20report.md'
    """
    job_url = environ.get("CI_JOB_URL", "").rstrip("/")
    path = environ.get(ARTIFACT_VARIABLE, "").strip()
    if not job_url or not path:
        return ""
    parts = path.removeprefix("./").split("/")
    if path.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(
            f"{ARTIFACT_VARIABLE}: expected the report's path inside the project folder, as "
            f"listed under artifacts:paths (e.g. mlgate-report.md), got {path!r}"
        )
    if not job_url.startswith(("https://", "http://")):
        raise ConfigError(f"CI_JOB_URL: expected an http(s) URL, got {job_url!r}")
    return f"{job_url}/artifacts/file/{quote('/'.join(parts))}"


def _artifact_line(url: str) -> str:
    return f"\n\n---\nThe full report: [{url.rsplit('/', 1)[-1]}]({url}) (this job's artifact).\n"


def _prepare_body(body: str, marker: str, artifact: str = "") -> str:
    if marker not in body:
        body = f"{marker}\n{body}"
    footer = _artifact_line(artifact) if artifact else ""
    limit = MAX_NOTE_CHARS - len(footer)
    out = truncate_markdown(body, limit, TRUNCATION_NOTE)
    if marker not in out:
        out = truncate_markdown(f"{marker}\n{body.replace(marker, '')}", limit)
    return out.rstrip("\n") + footer if footer else out


def _author(note: Mapping[str, Any]) -> str | None:
    author = note.get("author")
    name = author.get("username") if isinstance(author, dict) else None
    return name.lower() if isinstance(name, str) else None


def _release(data: Any) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise RemoteError("GitLab API: the release response is not an object")
    links = data.get("_links")
    url = links.get("self") if isinstance(links, dict) else None
    return {**data, "html_url": str(url or "")}
