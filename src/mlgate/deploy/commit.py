"""Pointer commits: the checks before one, and making (and pushing) it all-or-nothing."""

from __future__ import annotations

from collections.abc import Callable

from mlgate.deploy.pointer import POINTER_PATH
from mlgate.errors import GitError, MlgateError
from mlgate.git import Repo


def require_default_branch(repo: Repo, *, action: str) -> str:
    """The current branch, which must be the default branch with a clean working tree."""
    local = repo.default_branch_name()
    if local is None:
        raise GitError(f"{repo.root}: no default branch (main or master); commit to main first")
    branch = repo.current_branch()
    if branch is None:
        raise GitError(
            f"HEAD is detached; check out the default branch before you {action} "
            f"(`git checkout {local}`)"
        )
    if branch != local:
        raise GitError(
            f"on branch {branch}; {action} from the default branch (`git checkout {local}`)"
        )
    if not repo.is_clean():
        raise GitError(
            f"the working tree has uncommitted changes; commit or stash them before you {action}"
        )
    return branch


def commit_pointer(
    repo: Repo,
    *,
    branch: str,
    message: str,
    change: Callable[[], None],
    push_to: str | None,
    path: str = POINTER_PATH,
) -> str:
    """Apply ``change`` (it edits the pointer and/or the index), commit, optionally push.

    All or nothing: if any step fails, the branch and the pointer are put back as they were
    and the error is raised (exit code 2).
    """
    old = repo.head()
    new: str | None = None
    try:
        change()
        repo.add(path)
        new = repo.commit(message)
        if push_to is not None:
            try:
                repo.push(push_to, f"{new}:refs/heads/{branch}")
            except GitError as exc:
                raise GitError(
                    f"pushing {message!r} to {push_to} failed, so it was undone and the pointer "
                    f"is unchanged: {exc}; pull (`git pull --rebase {push_to} {branch}`) and retry"
                ) from exc
    except BaseException as exc:
        try:
            if new is not None and repo.head() == new:
                repo.undo_commit(branch, new, old, path)
            else:
                repo.run("revert", "--quit", check=False)
                repo.restore_paths(old, path)
        except MlgateError as undo_exc:  # pragma: no cover - reported with the original error
            raise GitError(f"{exc}; and undoing it failed too: {undo_exc}") from exc
        raise
    return new
