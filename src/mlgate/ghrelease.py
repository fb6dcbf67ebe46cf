"""The GitHub release of a model release: notes = the report against the model it replaced.

``mlgate release TAG`` commits the pointer (``deploy: TAG``); the notes compare TAG's model
with the one the pointer named just before that commit, so they read like the PR report
("what changed in production"). A first release is compared with no baseline (absolute rules
only). Publishing is idempotent: a release that exists already is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgate.deploy.pointer import POINTER_PATH, Pointer, read_pointer
from mlgate.errors import ConfigError
from mlgate.git import Repo


@dataclass(frozen=True)
class ReleaseNotes:
    """The notes for ``tag`` and the production model they compare it with."""

    tag: str
    previous: Pointer | None
    markdown: str


@dataclass(frozen=True)
class Published:
    """The GitHub release for a tag; ``created`` is False when it existed already."""

    tag: str
    url: str
    created: bool


def release_notes(repo: Repo, tag: str) -> ReleaseNotes:
    """Render the notes for ``tag``, which must be released (a pointer commit names it)."""
    from mlgate.gate.collect import collect
    from mlgate.models import parse_tag, pick_model
    from mlgate.report.markdown import render_report

    parsed = parse_tag(tag)
    path = POINTER_PATH
    if parsed is not None and repo.rev_exists(f"refs/tags/{tag}"):
        path = pick_model(repo, rev=repo.resolve(f"refs/tags/{tag}"), tag=parsed).pointer
    deploy_commit = next(
        (
            sha
            for sha in repo.log_file(path, "%H")
            if (p := read_pointer(repo, sha, path=path)) is not None and p.version == tag
        ),
        None,
    )
    if deploy_commit is None:
        raise ConfigError(f"{path}: no commit names {tag}; run `mlgate release {tag}` first")
    previous = (
        read_pointer(repo, f"{deploy_commit}^", path=path)
        if repo.rev_exists(f"{deploy_commit}^")
        else None
    )
    data = collect(repo, baseline=previous.commit if previous else None, candidate=tag)
    if previous is None:
        intro = f"First model release: **{tag}** (no model was in production before)."
    else:
        intro = (
            f"**{tag}** replaces **{previous.version}** (`{previous.commit[:7]}`) in production."
        )
    return ReleaseNotes(tag=tag, previous=previous, markdown=f"{intro}\n\n{render_report(data)}")


def publish_release(client: Any, tag: str, body: str) -> Published:
    """Create the forge release for ``tag`` unless it exists (``client``: a
    :class:`~mlgate.ci.forge.ForgeClient`)."""
    for existing in client.list_releases():
        if existing.get("tag_name") == tag:
            return Published(tag=tag, url=str(existing.get("html_url", "")), created=False)
    made = client.create_release(tag, tag, body)
    return Published(tag=tag, url=str(made.get("html_url", "")), created=True)
