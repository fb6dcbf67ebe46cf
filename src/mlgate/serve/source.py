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
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from mlgate.errors import GitError, RemoteError
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
                tmp = self.path.with_name(self.path.name + f".tmp{os.getpid()}")
                if tmp.exists():
                    import shutil

                    shutil.rmtree(tmp)
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
        found = local_remote_object(project, pointer.model.md5)
        if found is not None:
            return copy_verified(found, pointer, dest)
        from mlgate.deploy.remote import fetch_model  # imports DVC (about 0.4 s of CPU)

        return fetch_model(project, pointer, dest)


_LOCAL_REMOTE_KEYS = frozenset({"url", "verify", "jobs", "checksum_jobs"})


def local_remote_object(project: Path, md5: str) -> Path | None:
    """The object ``md5`` in the project's default DVC remote, when that is a plain folder.

    Start-up of ``mlgate serve`` is CPU-bound, and importing and opening DVC costs about
    0.4 s; for the common case of a local folder remote the object is simply at
    ``<url>/files/md5/<2>/<30>``. Only that case is handled here, read the way DVC reads
    it (``.dvc/config`` then ``config.local``, keys lower-cased, relative URLs resolved
    against ``.dvc/``). Anything else (a URL, ``remote://``, ``~``, extra remote options,
    no default remote in the project's files, an object not where expected) returns None
    and the caller goes through DVC itself, which also produces its error messages.
    """
    try:
        from configobj import ConfigObj, ConfigObjError
    except ImportError:  # pragma: no cover - a dependency of dvc
        return None
    merged: dict[str, dict[str, str]] = {}
    for name in ("config", "config.local"):
        path = project / ".dvc" / name
        if not path.is_file():
            continue
        try:
            conf = ConfigObj(str(path)).dict()
        except (ConfigObjError, UnicodeDecodeError, OSError):
            return None
        for section, values in conf.items():
            if not isinstance(values, dict):
                return None
            merged.setdefault(section.lower(), {}).update(
                {str(k).lower(): str(v) for k, v in values.items()}
            )
    remote = merged.get("core", {}).get("remote", "").lower()
    values = merged.get(f'remote "{remote}"') if remote else None
    if not values or set(values) - _LOCAL_REMOTE_KEYS:
        return None
    url = values.get("url", "")
    if not url or re.match(r"\w+://", url) or url.startswith("~"):
        return None
    root = Path(url) if os.path.isabs(url) else project / ".dvc" / url
    obj = root / "files" / "md5" / md5[:2] / md5[2:]
    return obj if re.fullmatch(r"[0-9a-f]{32}", md5) and obj.is_file() else None


def copy_verified(source: Path, pointer: Pointer, dest: Path) -> Path:
    """Copy ``source`` to ``dest`` atomically, hashing it; RemoteError on any mismatch.

    The same checks and messages as :func:`mlgate.deploy.remote.fetch_model`: size, md5 and
    sha256 over the exact bytes written, and nothing left at ``dest`` on a mismatch.
    """
    from mlgate.deploy.remote import digest_stream  # mlgate only: no DVC at import
    from mlgate.fileio import atomic_open

    ref = pointer.model
    try:
        handle = source.open("rb")
    except OSError as exc:
        raise RemoteError(
            f"{pointer.version}: DVC remote object {source} cannot be read ({exc})"
        ) from exc
    with handle, atomic_open(dest, "wb") as sink:
        got = digest_stream(handle, sink)
        if (got.size, got.md5, got.sha256) != (ref.size, ref.md5, ref.sha256):
            raise RemoteError(
                f"{pointer.version}: the model fetched from the DVC remote ({source}) fails "
                f"verification: sha256 {got.sha256} ({got.size} bytes), the pointer names "
                f"sha256 {ref.sha256} ({ref.size} bytes); the remote object md5 "
                f"{ref.md5} is corrupt: push it again from a good cache"
            )
    return dest
