"""``mlgate release TAG``: gate a tagged commit against production, push its model, commit the pointer.

Order matters, so that a failure at any step changes nothing:
validate the tag and the tree -> check the pipeline at the tag -> gate (baseline: the live
pointer's commit) -> push the model to the DVC remote and read it back (size, md5, sha256; every file of a folder) -> write the
pointer atomically and commit ``deploy: TAG`` -> optionally push the commit (undone on failure).

The library functions behind the other deploy commands are re-exported here:
:func:`rollback`, :func:`history`, :func:`status`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from mlgate.constants import DEFAULT_METRICS_FILE
from mlgate.deploy.commit import commit_pointer, require_default_branch
from mlgate.deploy.history import history
from mlgate.deploy.pipeline import check_pipeline, read_scores
from mlgate.deploy.pointer import ModelRef, Pointer, read_pointer, write_pointer
from mlgate.deploy.remote import push_model
from mlgate.deploy.rollback import rollback
from mlgate.deploy.status import status
from mlgate.errors import GitError, RemoteError
from mlgate.git import WORKTREE, Repo
from mlgate.models import Model, parse_tag, pick_model

if TYPE_CHECKING:
    from mlgate.gate import GateResult

__all__ = ["ReleaseResult", "history", "release", "rollback", "status"]


@dataclass(frozen=True)
class ReleaseResult:
    """What ``release`` did: ``released``, ``noop`` (already live) or ``gate_failed``."""

    outcome: str
    tag: str
    pointer: Pointer | None  # the new pointer (released), the live one (noop), None (gate_failed)
    previous: Pointer | None
    gate: GateResult | None = None
    deploy_commit: str | None = None
    remote_url: str | None = None
    pushed: bool = False

    @property
    def exit_code(self) -> int:
        return 1 if self.outcome == "gate_failed" else 0

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "outcome": self.outcome,
            "tag": self.tag,
            "pointer": self.pointer.to_dict() if self.pointer else None,
            "previous": self.previous.to_dict() if self.previous else None,
            "gate": self.gate.to_json() if self.gate is not None else None,
            "deploy_commit": self.deploy_commit,
            "remote_url": self.remote_url,
            "pushed": self.pushed,
        }


def _tag_commit(repo: Repo, tag: str) -> str:
    if parse_tag(tag) is None:
        raise GitError(
            f"{tag!r} is not a release tag; name releases v<semver> (the only model) or "
            "NAME@v<semver> (model NAME, as GTO names them), e.g. v1.2.0"
        )
    if not repo.rev_exists(f"refs/tags/{tag}"):
        raise GitError(
            f"tag {tag} does not exist; create it with `git tag {tag}` (or `git fetch --tags`)"
        )
    return repo.resolve(f"refs/tags/{tag}")


def _on_default_history(repo: Repo, sha: str, branch: str, tag: str) -> None:
    default = repo.default_branch() or branch
    if not (repo.is_ancestor(sha, branch) or repo.is_ancestor(sha, default)):
        raise GitError(
            f"tag {tag} ({sha[:12]}) is not on the history of {branch}; "
            "merge it into the default branch and tag the merged commit"
        )


def _default_gate(
    repo: Repo, *, baseline: str | None, candidate: str, model: str | None = None
) -> GateResult:
    from mlgate.gate import evaluate_revisions

    return evaluate_revisions(repo, baseline=baseline, candidate=candidate, model=model)


def release(
    repo: Repo,
    tag: str,
    *,
    remote: str | None = None,
    push: bool = False,
    git_remote: str = "origin",
    model: str | None = None,
    gate: Callable[..., GateResult] = _default_gate,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> ReleaseResult:
    """Release ``tag``: gate it against the live pointer, push its model, commit the pointer.

    The model is the one ``dvc.yaml`` declares under ``artifacts:`` at the tagged commit:
    ``model`` (``--model``), the tag's ``NAME@``, or the only one. Returns ``gate_failed``
    (nothing changed) or ``noop`` (already live) as results; raises MlgateError for
    everything else, with the pointer and the branch as they were.
    """
    sha = _tag_commit(repo, tag)
    branch = require_default_branch(repo, action="release")
    _on_default_history(repo, sha, branch, tag)
    chosen: Model = pick_model(repo, model, rev=sha, tag=parse_tag(tag))
    current = read_pointer(repo, WORKTREE, path=chosen.pointer)
    if current is not None and current.version == tag:
        if current.commit == sha:
            return ReleaseResult("noop", tag, current, current)
        raise GitError(
            f"{tag} is live with commit {current.commit[:12]}, but the tag now points at "
            f"{sha[:12]}; never move a release tag: tag the new commit with a new version"
        )
    locked = check_pipeline(repo, sha, label=tag, model_path=chosen.path)
    verdict = gate(
        repo, baseline=current.commit if current else None, candidate=sha, model=chosen.name
    )
    metrics = read_scores(
        repo, sha, path=verdict.policy.metrics_file if verdict.policy else DEFAULT_METRICS_FILE
    )
    if not verdict.passed:
        return ReleaseResult("gate_failed", tag, None, current, gate=verdict)
    try:  # pushes, then reads the remote's copy back: size, md5 and sha256
        stored = push_model(
            repo.root,
            md5=locked.md5,
            size=locked.size,
            version=tag,
            remote=remote,
            path=locked.path,
        )
    except RemoteError as exc:
        raise RemoteError(f"refusing to release {tag}, nothing committed: {exc}") from exc
    pointer = Pointer(
        version=tag,
        commit=sha,
        model=ModelRef(  # a folder: sha256 of its manifest, every file read back
            path=locked.path,
            md5=locked.md5,
            sha256=stored.digest.sha256,
            size=locked.size,
            files=stored.files,
        ),
        metrics=metrics,
        released_at=now(),
    )
    new = commit_pointer(
        repo,
        branch=branch,
        message=f"deploy: {tag}",
        change=lambda: write_pointer(repo.root / chosen.pointer, pointer),
        push_to=git_remote if push else None,
        path=chosen.pointer,
    )
    return ReleaseResult(
        "released",
        tag,
        pointer,
        current,
        gate=verdict,
        deploy_commit=new,
        remote_url=stored.url,
        pushed=push,
    )
