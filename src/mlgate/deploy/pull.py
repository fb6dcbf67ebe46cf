"""``mlgate pull-model``: find the pointer of a version and fetch its model, verified."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from mlgate.deploy.history import history
from mlgate.deploy.pointer import POINTER_PATH, Pointer, read_pointer
from mlgate.deploy.remote import fetch_model
from mlgate.errors import DataError, GitError
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


def is_skops(path: str) -> bool:
    """Whether a model path names a skops file (the one format mlgate loads and scans)."""
    return path.lower().endswith(".skops")


@dataclass(frozen=True)
class Pulled:
    """What ``pull-model`` wrote and what it checked before writing it."""

    path: Path
    pointer: Pointer
    #: The types the skops file needs, all on mlgate's allow-list; None: not scanned.
    scanned: tuple[str, ...] | None

    def to_json(self) -> dict[str, Any]:
        ref = self.pointer.model
        verified: dict[str, Any] = {"size": ref.size, "md5": ref.md5, "sha256": ref.sha256}
        if ref.is_dir:
            verified["files"] = [f.to_dict() for f in ref.files]
        return {
            "schema_version": 1,
            "path": str(self.path),
            "version": self.pointer.version,
            "verified": verified,
            "scan": None if self.scanned is None else {"types": list(self.scanned)},
        }


def pull_model(
    repo: Repo,
    *,
    version: str | None = None,
    out_dir: Path,
    remote: str | None = None,
    path: str = POINTER_PATH,
    scan: bool = True,
) -> Pulled:
    """Fetch the model of ``version`` (default: live) to ``out_dir/<file name>``, verified.

    A directory model lands as the folder ``out_dir/<folder name>``, all or nothing: fetched
    into a temporary folder beside it, every file's size, md5 and sha256 checked against the
    pointer's manifest (and each ``.skops`` file in it scanned), then renamed into place.

    Size, md5 and sha256 are always checked against the pointer. A skops model (its path
    ends in ``.skops``) is also scanned, unless ``scan`` is off: it must be a skops archive
    whose types are all on mlgate's allow-list (:func:`mlgate.ml.model.scan`, which reads
    the archive's schema and loads nothing); a pickle, another format or an unlisted type is
    DataError, and nothing is written. A model in another format (``model.pkl``, ONNX, ...)
    is moved and hash-checked only: mlgate never loads it (serve and CT load skops files).
    """
    pointer = pointer_for(repo, version, path=path)
    ref = pointer.model
    skops_files = [f.path for f in ref.files if is_skops(f.path)]
    scan = scan and (is_skops(ref.path) or bool(skops_files))
    dest = Path(out_dir) / PurePosixPath(ref.path).name
    found: list[str] = []

    def inspect(data: bytes, rel: str = "") -> None:
        from mlgate.ml.model import scan as scan_skops

        where = f"{ref.path}/{rel}" if rel else ref.path
        try:
            found.extend(scan_skops(data, f"{pointer.version} ({where})"))
        except DataError as exc:
            raise DataError(
                f"{exc}; nothing was written (`--no-scan` fetches it unchecked, for a model "
                "you load by other means)"
            ) from exc

    if ref.is_dir:  # a folder: into a temporary folder beside dest, renamed once all verify
        from mlgate.deploy.tree import fetch_tree

        written = fetch_tree(
            repo.root, pointer, dest, remote=remote, inspect=inspect if scan else None
        )
    else:
        written = fetch_model(
            repo.root, pointer, dest, remote=remote, inspect=inspect if scan else None
        )
    return Pulled(written, pointer, tuple(found) if scan else None)
