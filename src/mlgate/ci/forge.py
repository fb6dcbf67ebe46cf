"""Which forge a command talks to, and the one interface both forges' clients offer.

A forge is where the repository is hosted: ``github`` (:mod:`mlgate.ci.github`) or
``gitlab`` (:mod:`mlgate.ci.gitlab`). The commands that talk to one (``comment``,
``publish-release``/``gh-release``, ``ct``'s pull or merge request) pick it from the
environment the CI system sets (``GITHUB_ACTIONS=true``, ``GITLAB_CI=true``), or from
``--forge``; outside any CI it is GitHub, as before GitLab was supported.

Both clients satisfy :class:`ForgeClient`: the report comment upserted in place (a pull
request comment, a merge request note), releases for tags, pull/merge requests for ``ct``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, Literal, Protocol, Self, get_args

from mlgate.errors import ConfigError

if TYPE_CHECKING:
    from mlgate.ci.github import Comment

__all__ = [
    "FORGES",
    "Forge",
    "ForgeClient",
    "change_request_number",
    "client_from_env",
    "detect_forge",
]

Forge = Literal["github", "gitlab"]
FORGES: tuple[Forge, ...] = get_args(Forge)


class ForgeClient(Protocol):
    """What mlgate asks of a forge. Numbers are what people type: a GitHub pull request's
    ``number``, a GitLab merge request's ``iid`` (``!12``)."""

    @property
    def forge(self) -> Forge:
        """``"github"`` or ``"gitlab"``."""
        ...

    def upsert_comment(self, pr: int, body: str) -> Comment:
        """Create the report comment (note) on ``pr``, or update the one this token wrote."""
        ...

    def list_releases(self) -> list[dict[str, Any]]:
        """Every release, each with ``tag_name`` and ``html_url``."""
        ...

    def create_release(self, tag: str, name: str, body: str) -> dict[str, Any]:
        """Publish a release of the existing ``tag``; the result has ``html_url``."""
        ...

    def create_pull_request(self, head: str, base: str, title: str, body: str) -> dict[str, Any]:
        """Open a pull (merge) request; the result has ``number`` and ``html_url``."""
        ...

    def reference(self, pr: int) -> str:
        """How people write ``pr``: ``octo/demo#5``, ``group/project!5``."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...


def detect_forge(environ: Mapping[str, str] | None = None, override: str | None = None) -> Forge:
    """``override`` (``--forge``) when given, else the CI system that runs this job.

    >>> detect_forge({"GITLAB_CI": "true"})
    'gitlab'
    >>> detect_forge({}, "github")
    'github'
    """
    if override is not None:
        for forge in FORGES:
            if override == forge:
                return forge
        raise ConfigError(f"--forge: expected one of {', '.join(FORGES)}, got {override!r}")
    env = os.environ if environ is None else environ
    if env.get("GITLAB_CI") == "true":
        return "gitlab"
    return "github"


def client_from_env(forge: Forge, environ: Mapping[str, str] | None = None) -> ForgeClient:
    """The client of ``forge`` from the variables its CI sets (see each client's
    ``from_env``)."""
    if forge == "gitlab":
        from mlgate.ci.gitlab import GitLabClient

        return GitLabClient.from_env(environ)
    from mlgate.ci.github import GitHubClient

    return GitHubClient.from_env(environ)


def change_request_number(
    forge: Forge, client: ForgeClient, environ: Mapping[str, str] | None = None
) -> int | None:
    """The pull/merge request this job runs for, or None.

    GitLab: ``CI_MERGE_REQUEST_IID`` (set in merge request pipelines). GitHub: the event in
    ``GITHUB_EVENT_PATH``, else the open pull request whose head is the ``workflow_run``'s
    commit.
    """
    env = os.environ if environ is None else environ
    if forge == "gitlab":
        iid = env.get("CI_MERGE_REQUEST_IID", "")
        if not iid:
            return None
        if not iid.isdigit() or int(iid) < 1:
            raise ConfigError(f"CI_MERGE_REQUEST_IID: expected a positive number, got {iid!r}")
        return int(iid)
    from mlgate.ci import actions
    from mlgate.ci.github import GitHubClient

    number = actions.event_pr_number(env)
    if number is None and (sha := actions.event_head_sha(env)) is not None:
        assert isinstance(client, GitHubClient)
        number = client.pull_request_for_commit(sha)
    return number
