"""The desired state: the repository the server follows, through a private clone.

``--repo`` is a local path or a git URL. The server keeps its own clone in the cache
folder and fetches it on every pass, so it reads exactly what was pushed (never a working
tree's uncommitted edits) and never writes to the repository it follows. Files at a commit
are read from git objects; the clone's working tree is only checked out to give DVC the
project's ``.dvc/config`` (the remote) when a model must be fetched from a URL (a local
non-bare repository is used as the DVC project directly, so relative remote paths and
``.dvc/config.local`` work).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import GitError
from mlgate.git import Repo

if TYPE_CHECKING:
    from mlgate.deploy.pointer import Pointer

SCHEMA_PATH = "data/schema.yaml"


def normalise_url(repo: str, cwd: Path) -> str:
    """An absolute path for a local repository, the URL unchanged otherwise."""
    if "://" in repo or (":" in repo and not Path(repo).exists()):
        return repo  # https://..., ssh://..., git@host:path
    return str((cwd / repo).resolve())


class RepoSource:
    """Reads the pointer and the schema at the tip of ``ref`` of ``url``."""

    def __init__(
        self,
        *,
        url: str,
        ref: str | None,
        cache_dir: Path,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.url = url
        self.ref = ref
        key = hashlib.sha256(url.encode()).hexdigest()[:16]
        self.path = cache_dir / "repos" / key
        self.env = env
        self._repo: Repo | None = None

    def _clone(self) -> Repo:
        if self._repo is None:
            if (self.path / ".git").is_dir():
                self._repo = Repo(self.path, self.env)
            else:
                import shutil

                # what a replica killed mid-clone left (the reconciler holds the cache
                # folder's lock, so no other replica is cloning now)
                for stray in self.path.parent.glob(self.path.name + ".tmp*"):
                    shutil.rmtree(stray, ignore_errors=True)
                tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
                Repo.clone(self.url, tmp, self.env)
                os.replace(tmp, self.path)  # a half-done clone is never taken for a clone
                self._repo = Repo(self.path, self.env)
        return self._repo

    def poll(self) -> str:
        """Fetch, then the full SHA at the tip of the followed branch."""
        repo = self._clone()
        repo.fetch()
        if self.ref:
            branch = f"origin/{self.ref}"
            if not repo.rev_exists(branch):
                raise GitError(f"{self.url}: no branch {self.ref!r}; check --ref")
        else:
            found = repo.default_branch()
            if found is None:
                raise GitError(f"{self.url}: no default branch; pass --ref BRANCH")
            branch = found
        return repo.resolve(branch)

    def read(self, commit: str, path: str) -> bytes | None:
        """``path`` at ``commit`` (None when absent)."""
        return self._clone().show(commit, path)

    def fetch_model(self, pointer: Pointer, commit: str, dest: Path) -> Path:
        """Fetch the pointer's model by hash from the DVC remote of the followed project.

        A local non-bare repository is its own DVC project: its ``.dvc/config`` (and
        ``config.local``) name the remote, with relative URLs resolved there. For anything
        else the private clone is checked out at ``commit`` to read ``.dvc/config``.
        """
        local = Path(self.url)
        if (local / ".dvc").is_dir():
            project = local
        else:
            repo = self._clone()
            repo.checkout_detached(commit)
            project = repo.root
        from mlgate.deploy.remote import fetch_model  # DVC itself only when it is needed

        return fetch_model(project, pointer, dest)
