"""``mlgate status``: what is live, and whether the workspace model differs from it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlgate.deploy.pointer import POINTER_PATH, Pointer, read_pointer
from mlgate.deploy.remote import digest_file, remote_matches
from mlgate.git import Repo


@dataclass(frozen=True)
class Status:
    """The live pointer (at HEAD), the commit that set it, and the workspace model's hash."""

    live: Pointer | None
    change_commit: str | None  # the commit that last changed the pointer
    published: bool | None  # that commit is on the remote default branch (None: no remote)
    model_path: str
    workspace_sha256: str | None  # None when the workspace has no model (a folder: its manifest's)
    pointer_modified: bool  # the working tree's pointer differs from HEAD's
    remote_matches: bool | None = None  # the remote's copy of the live model (None: not checked)
    remote_detail: str = ""  # one line: where it matched, or why not

    @property
    def workspace_differs(self) -> bool | None:
        """True/False against the live model; None when nothing is live."""
        if self.live is None:
            return None
        return self.workspace_sha256 != self.live.model.sha256

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": 1,
            "live": self.live.to_dict() if self.live else None,
            "change_commit": self.change_commit,
            "published": self.published,
            "pointer_modified": self.pointer_modified,
            "remote": {
                "checked": self.remote_matches is not None,
                "matches": self.remote_matches,
                "detail": self.remote_detail,
            },
            "workspace": {
                "model_path": self.model_path,
                "sha256": self.workspace_sha256,
                "differs_from_live": self.workspace_differs,
            },
        }


def status(
    repo: Repo,
    *,
    model_path: str,
    path: str = POINTER_PATH,
    check_remote: bool = True,
    remote: str | None = None,
) -> Status:
    """The live deployment, how the workspace compares, and whether the remote still holds it.

    ``model_path`` is the declared model (``artifacts:``); ``path`` its pointer file. With
    ``check_remote`` the live model's object is read back from the DVC remote (``remote`` or
    the default) and its size, md5 and sha256 compared with the pointer.
    """
    has_head = repo.rev_exists("HEAD")
    live = read_pointer(repo, "HEAD", path=path) if has_head else None
    change: str | None = None
    published: bool | None = None
    if live is not None:
        found = repo.log_file(path, "%H", "-1")
        change = found[0] if found else None
        default = repo.default_branch() or ""
        upstream = default if default.startswith("origin/") else f"origin/{default}"
        if change and default and repo.rev_exists(upstream):
            published = repo.is_ancestor(change, upstream)
    model_path = live.model.path if live else model_path
    model = repo.root / model_path
    sha256: str | None = None
    if model.is_dir():  # a folder model: compare manifests (pointer.manifest_sha256)
        from mlgate.deploy.tree import digest_tree

        tree = digest_tree(model)
        sha256 = tree[0] if tree else None
    elif model.is_file():
        sha256 = digest_file(model).sha256
    worktree = repo.show("workspace", path)
    committed = repo.show("HEAD", path) if has_head else None
    matches, detail = None, ""
    if live is not None and check_remote:
        matches, detail = remote_matches(repo.root, live.model, version=live.version, remote=remote)
    return Status(
        live, change, published, model_path, sha256, worktree != committed, matches, detail
    )
