"""``mlgate pull-model``: find the pointer of a version and fetch its model, verified."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from mlgate.deploy.history import history
from mlgate.deploy.pointer import POINTER_PATH, Pointer, read_pointer
from mlgate.deploy.remote import fetch_model
from mlgate.errors import GitError
from mlgate.git import WORKTREE, Repo


def pointer_for(repo: Repo, version: str | None = None, *, path: str = POINTER_PATH) -> Pointer:
    """The live pointer, or the newest pointer in history that names ``version``."""
    live = read_pointer(repo, WORKTREE, path=path)
    if version is None or (live is not None and live.version == version):
        if live is None:
            raise GitError(f"no {path}: nothing is released yet (`mlgate release vX.Y.Z`)")
        return live
    for entry in history(repo, path=path):
        if entry.pointer is not None and entry.pointer.version == version:
            return entry.pointer
    raise GitError(f"{version} was never deployed here; see `mlgate history`")


def pull_model(
    repo: Repo,
    *,
    version: str | None = None,
    out_dir: Path,
    remote: str | None = None,
    path: str = POINTER_PATH,
) -> Path:
    """Fetch the model of ``version`` (default: live) to ``out_dir/<file name>``, verified."""
    pointer = pointer_for(repo, version, path=path)
    dest = Path(out_dir) / PurePosixPath(pointer.model.path).name
    return fetch_model(repo.root, pointer, dest, remote=remote)
