"""Directory models: a DVC folder output pushed, read back, verified and fetched file by file.

DVC stores a folder output as one object per file (named by the file's md5) plus a listing
object, ``<md5>.dir``: a JSON list of ``{"md5": ..., "relpath": ...}`` sorted by path, whose
own md5 is the one ``dvc.lock`` records. A release turns that listing into the pointer's
manifest (:class:`mlgate.deploy.pointer.ModelFile`: path, md5, sha256, size per file); every
later check holds the remote to it, file by file:

- :func:`push_tree` hashes every file in the local DVC cache, pushes the files and then the
  listing (without DVC's remote index, which takes a listing's presence for its files'), and
  reads each one back from the remote;
- :func:`verify_tree` (rollback, status) reads the listing and every file back;
- :func:`fetch_tree` (pull-model) writes the files into a temporary folder beside the target,
  checks each one, and only then renames the folder into place.

Any missing or different entry raises, naming the file, and nothing is committed or written.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path, PurePosixPath
from typing import IO, TYPE_CHECKING, Any

from mlgate.deploy.remote import (
    Digest,
    StoredModel,
    _dvc_errors,
    _dvc_repo,
    _oneline,
    _remote_odb,
    digest_file,
    digest_stream,
)
from mlgate.errors import DataError, MlgateError, RemoteError, RemoteObjectCorrupt
from mlgate.errors import RemoteObjectMissing as _Missing

if TYPE_CHECKING:
    from mlgate.deploy.pointer import ModelFile, ModelRef, Pointer


class TreeFileCorrupt(RemoteObjectCorrupt):
    """A file of a directory model fetched from the remote is not the one the pointer names.

    A failed verification, so exit code 1 (``pull-model``); release and rollback report it
    as their own refusal.
    """

    exit_code = 1


class _Objects:
    """Objects by md5 in one place: a DVC object database, or a plain folder remote."""

    def __init__(self, name: str, *, odb: Any = None, folder: Path | None = None) -> None:
        self.name, self.odb, self.folder = name, odb, folder

    def path(self, oid: str) -> str:
        """The object's path in its filesystem."""
        if self.folder is not None:
            return str(self.folder / "files" / "md5" / oid[:2] / oid[2:])
        return str(self.odb.oid_to_path(oid))

    def url(self, oid: str) -> str:
        if self.folder is not None:
            return self.path(oid)
        return str(self.odb.fs.unstrip_protocol(self.path(oid)))

    def open(self, oid: str) -> IO[bytes]:
        """The object's bytes; FileNotFoundError when it is absent."""
        if self.folder is not None:
            return Path(self.path(oid)).open("rb")
        handle: IO[bytes] = self.odb.fs.open(self.path(oid), "rb")
        return handle


@contextmanager
def _reading(store: _Objects, oid: str, *, version: str, what: str) -> Iterator[IO[bytes]]:
    """Open ``oid`` in ``store``; RemoteObjectMissing / RemoteError name ``what``."""
    try:
        handle = store.open(oid)
    except FileNotFoundError as exc:
        raise _Missing(
            f"{version}: {what} (md5 {oid}) is not in DVC remote {store.name!r} "
            f"({store.url(oid)}); push it from a clone that has it with `dvc push`",
            md5=oid,
        ) from exc
    except Exception as exc:  # fsspec backends raise their own types (botocore, aiohttp)
        raise RemoteError(
            f"{version}: DVC remote {store.name!r} cannot be read ({_oneline(exc)}); check "
            "the remote's URL, credentials and permissions"
        ) from exc
    try:
        with handle:
            yield handle
    except MlgateError:
        raise
    except Exception as exc:  # the connection dropped mid-transfer, and the like
        raise RemoteError(
            f"{version}: reading {what} (md5 {oid}) from DVC remote {store.name!r} failed "
            f"part-way ({_oneline(exc)}); retry"
        ) from exc


def parse_listing(data: bytes, where: str) -> list[tuple[str, str]]:
    """DVC's ``.dir`` object -> ``(relpath, md5)`` pairs sorted by path; DataError if malformed."""
    try:
        entries = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"{where}: not a DVC folder listing ({exc})") from exc
    out: list[tuple[str, str]] = []
    if not isinstance(entries, list):
        raise DataError(f"{where}: not a DVC folder listing (expected a JSON list)")
    for entry in entries:
        rel = entry.get("relpath") if isinstance(entry, dict) else None
        md5 = entry.get("md5") if isinstance(entry, dict) else None
        parts = rel.split("/") if isinstance(rel, str) else [""]
        if (
            not isinstance(md5, str)
            or len(md5) != 32
            or any(c not in "0123456789abcdef" for c in md5)
            or not isinstance(rel, str)
            or rel.startswith("/")
            or "\\" in rel
            or any(p in ("", ".", "..") for p in parts)
        ):
            raise DataError(f"{where}: not a DVC folder listing (entry {entry!r})")
        out.append((rel, md5))
    return sorted(out)


def _listing(store: _Objects, md5: str, *, version: str, path: str) -> list[tuple[str, str]]:
    """Read and check the listing object ``md5`` (``<32 hex>.dir``) from ``store``."""
    what = f"the listing of {path}/"
    with _reading(store, md5, version=version, what=what) as handle:
        digest = digest_stream(handle, sink := io.BytesIO())
    if digest.md5 != md5.removesuffix(".dir"):
        raise RemoteObjectCorrupt(
            f"{version}: {what} (md5 {md5}) in DVC remote {store.name!r} is corrupt (its md5 "
            f"is {digest.md5}); {_fix(store, md5)}",
            md5=md5,
            expected="",
        )
    return parse_listing(sink.getvalue(), f"{version}: {what} ({store.url(md5)})")


def _fix(store: _Objects, oid: str) -> str:
    # `dvc push` skips an object the remote already has, whatever its bytes: the bad copy
    # has to go first.
    return (
        f"delete {store.url(oid)} from the remote, then push a good copy with "
        f"`dvc push -r {store.name}` (or release again)"
    )


def _read_back_files(
    store: _Objects,
    files: tuple[ModelFile, ...],
    *,
    version: str,
    path: str,
    corrupt: type[RemoteObjectCorrupt] = RemoteObjectCorrupt,
) -> None:
    """Hash every file of the manifest in ``store``; raise naming the first that differs."""
    for f in files:
        what = f"{path}/{f.path}"
        with _reading(store, f.md5, version=version, what=what) as handle:
            got = digest_stream(handle)
        if (got.md5, got.sha256, got.size) != (f.md5, f.sha256, f.size):
            raise corrupt(
                f"{version}: {what} in DVC remote {store.name!r} does not match the pointer "
                f"(sha256 {got.sha256}, {got.size} bytes; the pointer names sha256 {f.sha256}, "
                f"{f.size} bytes); {_fix(store, f.md5)}",
                md5=f.md5,
                expected=f.sha256,
                got=got.sha256,
            )


def _check_listing(
    listing: list[tuple[str, str]], files: tuple[ModelFile, ...], *, version: str, path: str
) -> None:
    want = [(f.path, f.md5) for f in files]
    if listing != want:
        extra = sorted(set(listing) - set(want))
        lost = sorted(set(want) - set(listing))
        which = (lost or extra)[0][0]
        raise RemoteObjectCorrupt(
            f"{version}: the DVC listing of {path}/ does not match the pointer's manifest "
            f"({which} {'is missing from it' if lost else 'is not in the pointer'}); the "
            "remote holds another folder under this md5",
            md5="",
            expected="",
        )


def _local_files(
    cache: _Objects, listing: list[tuple[str, str]], *, version: str, path: str
) -> tuple[ModelFile, ...] | None:
    """The manifest from the local DVC cache; None when any file is absent from it."""
    from mlgate.deploy.pointer import ModelFile

    files: list[ModelFile] = []
    for rel, md5 in listing:
        local = Path(cache.path(md5))
        if not local.is_file():
            return None
        digest = digest_file(local)
        if digest.md5 != md5:
            raise DataError(
                f"{version}: the DVC cache object {local} ({path}/{rel}) is corrupt (md5 "
                f"{digest.md5}, expected {md5}); delete it and run `dvc repro` or `dvc pull` "
                f"at {version}"
            )
        files.append(ModelFile(rel, md5, digest.sha256, digest.size))
    return tuple(files)


def _stored(store: _Objects, md5: str, files: tuple[ModelFile, ...]) -> StoredModel:
    from mlgate.deploy.pointer import manifest_sha256

    digest = Digest(md5, manifest_sha256(files), sum(f.size for f in files))
    return StoredModel(store.name, store.url(md5), digest, files)


def push_tree(
    repo_root: Path, *, md5: str, size: int, version: str, path: str, remote: str | None = None
) -> StoredModel:
    """Push the folder whose listing is ``md5`` to the remote; read every file back.

    Every file in the local DVC cache is hashed first (its md5 must match its name), which
    yields the manifest. When the local cache lacks the listing or a file but the remote
    already holds the folder, the remote's copy is read and hashed instead. RemoteError when
    the push fails or any entry in the remote is missing or different afterwards.
    """
    from dvc_data.hashfile.hash_info import HashInfo

    with _dvc_repo(repo_root) as repo:
        name, odb = _remote_odb(repo, remote)
        store = _Objects(name, odb=odb)
        cache = _Objects("local DVC cache", odb=repo.cache.local)
        files: tuple[ModelFile, ...] | None = None
        if Path(cache.path(md5)).is_file():
            listing = _listing(cache, md5, version=version, path=path)
            files = _local_files(cache, listing, version=version, path=path)
        if files is None:
            return _in_remote(store, md5, size=size, version=version, path=path)
        if sum(f.size for f in files) != size:
            raise DataError(
                f"{version}: the files of {path}/ in the DVC cache total "
                f"{sum(f.size for f in files)} bytes, dvc.lock records {size}; run `dvc repro` "
                f"and commit dvc.lock, then tag again"
            )
        fix = "check the remote's URL, credentials and permissions"
        cache_odb = repo.cache.local
        # The files first, then the listing: a listing in the remote means a whole folder.
        # Straight transfers (no remote index): each object is checked for itself.
        for batch in ([HashInfo("md5", f.md5) for f in files], [HashInfo("md5", md5)]):
            with _dvc_errors() as said:
                try:
                    result = repo.cloud.transfer(cache_odb, odb, batch, cache_odb=cache_odb)
                except Exception as exc:  # DVC raises many types (OSError, fsspec's, ...)
                    raise RemoteError(
                        f"{version}: dvc push of {path}/ (md5 {md5}) to remote {name!r} failed "
                        f"({_oneline(exc)}); {fix}"
                    ) from exc
            if result.failed:
                why = f" ({said[0]})" if said else ""
                raise RemoteError(
                    f"{version}: dvc push of {path}/ (md5 {md5}) to remote {name!r} "
                    f"({store.url(md5)}) failed{why}; {fix}"
                )
        # DVC neither re-hashes on push nor overwrites what the remote already has: read
        # every entry back and hold it to the manifest the pointer will carry.
        _check_listing(
            _listing(store, md5, version=version, path=path), files, version=version, path=path
        )
        _read_back_files(store, files, version=version, path=path)
        return _stored(store, md5, files)


def _in_remote(store: _Objects, md5: str, *, size: int, version: str, path: str) -> StoredModel:
    """The manifest of a folder the local cache lacks, read and hashed from the remote."""
    from mlgate.deploy.pointer import ModelFile

    try:
        listing = _listing(store, md5, version=version, path=path)
    except _Missing as exc:
        raise DataError(
            f"{version}: the folder {path}/ (md5 {md5}) named by dvc.lock is neither complete "
            f"in the local DVC cache nor in remote {store.name!r}, and a release publishes "
            f"exactly those files; with {version} checked out, run `dvc repro` (or `dvc pull`) "
            f"then `dvc push -r {store.name}`, and release again"
        ) from exc
    files: list[ModelFile] = []
    for rel, oid in listing:
        what = f"{path}/{rel}"
        with _reading(store, oid, version=version, what=what) as handle:
            got = digest_stream(handle)
        if got.md5 != oid:
            raise RemoteObjectCorrupt(
                f"{version}: {what} (md5 {oid}) in DVC remote {store.name!r} is corrupt (md5 "
                f"{got.md5}, {got.size} bytes); {_fix(store, oid)}",
                md5=oid,
                expected="",
            )
        files.append(ModelFile(rel, oid, got.sha256, got.size))
    if sum(f.size for f in files) != size:
        raise RemoteObjectCorrupt(
            f"{version}: the files of {path}/ in DVC remote {store.name!r} total "
            f"{sum(f.size for f in files)} bytes, dvc.lock records {size}",
            md5=md5,
            expected="",
        )
    return _stored(store, md5, tuple(files))


@contextmanager
def _store(repo_root: Path, remote: str | None) -> Iterator[_Objects]:
    """The remote's objects: a plain folder directly (no DVC import), anything else via DVC."""
    from mlgate.dvcstore import local_folder_remote, read_config

    folder = local_folder_remote(repo_root) if remote is None else None
    if folder is not None:
        name = (read_config(repo_root) or {}).get("core", {}).get("remote", "(default)")
        yield _Objects(name, folder=folder)
        return
    with _dvc_repo(repo_root) as repo:
        name, odb = _remote_odb(repo, remote)
        yield _Objects(name, odb=odb)


def verify_tree(
    repo_root: Path, ref: ModelRef, *, version: str, remote: str | None = None
) -> StoredModel:
    """Read the listing and every file of ``ref`` back from the remote; raise on any difference."""
    with _store(repo_root, remote) as store:
        listing = _listing(store, ref.md5, version=version, path=ref.path)
        _check_listing(listing, ref.files, version=version, path=ref.path)
        _read_back_files(store, ref.files, version=version, path=ref.path)
        return _stored(store, ref.md5, ref.files)


def fetch_tree(
    repo_root: Path,
    pointer: Pointer,
    dest: Path,
    *,
    remote: str | None = None,
    inspect: Callable[[bytes, str], object] | None = None,
) -> Path:
    """Fetch the folder ``pointer`` names into ``dest`` (a folder path), all or nothing.

    The files go into a temporary folder beside ``dest``; each is hashed as it is written and
    held to the manifest (size, md5, sha256), ``inspect(data, relpath)`` sees each ``.skops``
    file's verified bytes, and only then is the folder renamed to ``dest`` (an existing
    ``dest`` folder is replaced: moved aside, replaced, removed). On any failure the temporary
    folder is removed and ``dest`` is as it was. A file that fails verification raises
    :class:`TreeFileCorrupt` (exit code 1) naming it.
    """
    ref = pointer.model
    dest = Path(dest)
    if dest.exists() and not dest.is_dir():
        raise DataError(
            f"{dest} exists and is not a folder; {pointer.version}'s model {ref.path} is a "
            "folder: remove that file or choose another --output"
        )
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent))
    try:
        with _store(repo_root, remote) as store:
            listing = _listing(store, ref.md5, version=pointer.version, path=ref.path)
            _check_listing(listing, ref.files, version=pointer.version, path=ref.path)
            for f in ref.files:
                _fetch_one(store, f, tmp, pointer, inspect)
        _fsync_tree(tmp)
        _into_place(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for folder in created:  # innermost first
            with suppress(OSError):
                folder.rmdir()
        raise
    return dest


def _fetch_one(
    store: _Objects,
    f: ModelFile,
    tmp: Path,
    pointer: Pointer,
    inspect: Callable[[bytes, str], object] | None,
) -> None:
    what = f"{pointer.model.path}/{f.path}"
    target = tmp.joinpath(*PurePosixPath(f.path).parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    with (
        _reading(store, f.md5, version=pointer.version, what=what) as source,
        target.open("wb") as sink,
    ):
        got = digest_stream(source, sink)
    if (got.md5, got.sha256, got.size) != (f.md5, f.sha256, f.size):
        raise TreeFileCorrupt(
            f"{pointer.version}: {what} fetched from DVC remote {store.name!r} fails "
            f"verification: sha256 {got.sha256} ({got.size} bytes), the pointer names sha256 "
            f"{f.sha256} ({f.size} bytes); nothing was written; {_fix(store, f.md5)}",
            md5=f.md5,
            expected=f.sha256,
            got=got.sha256,
        )
    if inspect is not None and f.path.lower().endswith(".skops"):
        inspect(target.read_bytes(), f.path)


def _fsync_tree(root: Path) -> None:
    """Flush every file and folder under ``root`` to disk before the rename makes it visible."""
    for folder, _, names in os.walk(root):
        for n in names:
            fd = os.open(os.path.join(folder, n), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _into_place(tmp: Path, dest: Path) -> None:
    """Rename the verified folder ``tmp`` to ``dest``, replacing an existing folder there."""
    if not dest.exists():
        os.rename(tmp, dest)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", suffix=".old", dir=dest.parent))
    os.rename(dest, old / dest.name)  # rename(2) cannot replace a non-empty folder: swap
    try:
        os.rename(tmp, dest)
    except BaseException:
        os.rename(old / dest.name, dest)
        shutil.rmtree(old, ignore_errors=True)
        raise
    shutil.rmtree(old, ignore_errors=True)


def digest_tree(root: Path) -> tuple[str, int] | None:
    """(manifest sha256, total size) of a folder in the workspace; None when it is absent.

    What ``status`` compares with a directory pointer's ``sha256`` (md5 is not needed: the
    manifest line of a file is its sha256, size and path).
    """
    from mlgate.deploy.pointer import ModelFile, manifest_sha256

    if not root.is_dir():
        return None
    files: list[ModelFile] = []
    for folder, dirs, names in os.walk(root):
        dirs.sort()
        for n in names:
            full = Path(folder, n)
            digest = digest_file(full)
            rel = full.relative_to(root).as_posix()
            files.append(ModelFile(rel, digest.md5, digest.sha256, digest.size))
    return manifest_sha256(files), sum(f.size for f in files)
