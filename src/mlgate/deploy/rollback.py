"""``mlgate rollback``: ``git revert`` of pointer commits, so the pointer names an earlier model.

Like Helm or Argo CD history, a rollback steps back through the deploys that are still in
effect: without ``to``, the newest ``deploy:`` commit that no later rollback has reverted is
reverted, so a second rollback goes one version further back (v1.2.0 -> v1.1.0 -> v1.0.0),
and with only the first release left there is nothing to roll back. With ``to=VERSION``,
every change still in effect since VERSION's deploy is reverted in one commit. Either way
the message reads ``rollback: <from> -> <to>`` and its body has one ``This reverts commit
<sha> (<subject>).`` line per reverted commit (the line ``git revert`` writes), which is how
the history tells what a rollback undid (:func:`mlgate.deploy.history.in_effect`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgate.deploy.commit import commit_pointer, require_default_branch
from mlgate.deploy.history import Deployment, history, in_effect
from mlgate.deploy.pointer import POINTER_PATH, Pointer, is_release_tag, read_pointer
from mlgate.deploy.remote import verify_remote_copy
from mlgate.errors import GitError, MlgateError, RemoteError
from mlgate.git import WORKTREE, Repo


@dataclass(frozen=True)
class RollbackResult:
    """The pointer before and after, and the commits that were reverted."""

    previous: Pointer
    pointer: Pointer
    reverted: tuple[str, ...]
    rollback_commit: str
    pushed: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "from": self.previous.version,
            "to": self.pointer.version,
            "pointer": self.pointer.to_dict(),
            "reverted": list(self.reverted),
            "rollback_commit": self.rollback_commit,
            "pushed": self.pushed,
        }


def plan_rollback(
    entries: list[Deployment], to: str | None, path: str = POINTER_PATH
) -> tuple[list[Deployment], Pointer]:
    """Which pointer commits to revert (newest first) and the pointer that results (pure).

    Only changes still in effect count (see :func:`in_effect`); rollback commits themselves
    are never reverted. Without ``to``: the newest deploy in effect, with any edits of the
    pointer made on top of it. With ``to``: every change in effect since VERSION's deploy.
    """
    if not entries or entries[0].pointer is None:
        raise GitError(
            f"nothing to roll back: {path} names no release; "
            "release one with `mlgate release vX.Y.Z`"
        )
    current = entries[0].pointer
    alive = in_effect(entries)
    changes = [k for k, e in enumerate(entries) if alive[k] and not e.reverts]
    if to is None:
        d = next((k for k in changes if entries[k].kind == "deploy"), None)
        if d is None:
            raise GitError(
                f"nothing to roll back: no deploy commit of {path} is in effect; "
                "see `mlgate history`"
            )
        target = entries[d + 1].pointer if d + 1 < len(entries) else None
        if target is None:
            raise GitError(
                f"nothing to roll back: {entries[d].version} is the first release "
                f"({entries[d].change_commit[:12]}); there is no earlier model"
            )
        return [entries[k] for k in changes if k <= d], target
    if not is_release_tag(to):
        raise GitError(f"--to {to!r}: expected a release version such as v1.2.0 or NAME@v1.2.0")
    if current.version == to:
        raise GitError(f"nothing to roll back: {to} is already live")
    for k in changes:
        if entries[k].kind == "deploy" and entries[k].version == to:
            target = entries[k].pointer
            assert target is not None  # a deploy always has a pointer
            return [entries[j] for j in changes if j < k], target
    if any(e.kind == "deploy" and e.version == to for e in entries):
        raise GitError(
            f"--to {to}: {to} is not an earlier version in effect (it was rolled back, or "
            f"is newer than {current.version}); deploy it again with `mlgate release {to}`"
        )
    raise GitError(f"--to {to}: {to} was never deployed here; see `mlgate history`")


def rollback(
    repo: Repo,
    *,
    to: str | None = None,
    push: bool = False,
    remote: str | None = None,
    git_remote: str = "origin",
    path: str = POINTER_PATH,
) -> RollbackResult:
    """Revert pointer commits so the pointer names the previous model (or version ``to``).

    Refuses (MlgateError, exit code 2) when there is nothing to roll back, the tree is dirty,
    a commit to revert changed other files too, or the DVC remote's copy of the target's
    model is missing or differs from it (read back: size, md5 and sha256).
    """
    branch = require_default_branch(repo, action="roll back")
    entries = history(repo, path=path)
    live = read_pointer(repo, WORKTREE, path=path)
    if entries and entries[0].pointer != live:
        raise GitError(
            f"{path} differs from its last commit; restore it with `git checkout HEAD -- {path}` "
            "(or commit it) before rolling back"
        )
    reverts, target = plan_rollback(entries, to, path)
    assert live is not None  # plan_rollback refuses when there is no pointer
    for entry in reverts:
        others = [p for p in entry.paths if p != path]
        if others:
            raise GitError(
                f"commit {entry.change_commit[:12]} ({entry.subject}) changed {', '.join(others)} "
                f"besides {path}; revert it by hand"
            )
    try:
        verify_remote_copy(repo.root, target.model, version=target.version, remote=remote)
    except MlgateError as exc:
        raise RemoteError(f"refusing to roll back to {target.version}: {exc}") from exc
    shas = tuple(e.change_commit for e in reverts)
    body = "\n".join(f"This reverts commit {e.change_commit} ({e.subject})." for e in reverts)

    def change() -> None:
        repo.revert_no_commit(*shas)
        got = read_pointer(repo, WORKTREE, path=path)
        if got != target:
            raise GitError(
                f"reverting {', '.join(s[:12] for s in shas)} did not restore {target.version} "
                f"in {path}; roll back by hand with `git revert`"
            )

    new = commit_pointer(
        repo,
        branch=branch,
        message=f"rollback: {live.version} -> {target.version}\n\n{body}",
        change=change,
        push_to=git_remote if push else None,
        path=path,
    )
    return RollbackResult(live, target, shas, new, pushed=push)
