"""The DVC remote: push a model object, check that the remote holds it, fetch and verify it.

Everything goes through DVC's own object databases (``repo.cloud.get_remote_odb``), so the
same code works for a local folder, S3, GCS, Azure or SSH remotes: no code of ours per
backend. Objects are addressed by the md5 that ``dvc.lock`` records. DVC does not verify what
it downloads unless ``verify = true`` is set on the remote, so :func:`fetch_model` checks size,
md5 and sha256 itself over the exact bytes it writes.

DVC is imported inside the functions (``import dvc`` costs about 0.3 s).
"""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from mlgate.errors import (
    DataError,
    MlgateError,
    RemoteError,
    RemoteObjectCorrupt,
    RemoteObjectMissing,
)
from mlgate.fileio import atomic_open

if TYPE_CHECKING:
    from mlgate.deploy.pointer import ModelFile, ModelRef, Pointer

_CHUNK = 1 << 20


@dataclass(frozen=True)
class Digest:
    """Hashes and size of one byte stream."""

    md5: str
    sha256: str
    size: int


@dataclass(frozen=True)
class StoredModel:
    """A model object known to be in a DVC remote."""

    remote: str
    url: str
    digest: Digest
    files: tuple[ModelFile, ...] = ()  # a directory model: its manifest, each file verified


def digest_stream(stream: IO[bytes], sink: IO[bytes] | None = None) -> Digest:
    """md5, sha256 and size of ``stream`` read to the end (copied to ``sink`` when given).

    Not :func:`hashlib.file_digest`: two digests and a copy in one pass over a stream that
    may be a remote's, which is read once."""
    md5, sha256, size = hashlib.md5(usedforsecurity=False), hashlib.sha256(), 0
    while chunk := stream.read(_CHUNK):
        md5.update(chunk)
        sha256.update(chunk)
        size += len(chunk)
        if sink is not None:
            sink.write(chunk)
    return Digest(md5.hexdigest(), sha256.hexdigest(), size)


def digest_file(path: Path) -> Digest:
    """md5, sha256 and size of a local file."""
    with path.open("rb") as handle:
        return digest_stream(handle)


@contextmanager
def _dvc_repo(repo_root: Path) -> Iterator[Any]:
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    try:
        repo = DvcRepo(str(repo_root))
    except DvcException as exc:
        raise RemoteError(
            f"{repo_root}: cannot open the DVC project ({exc}); run `dvc init`"
        ) from exc
    try:
        yield repo
    finally:
        repo.close()


def _remote_odb(repo: Any, remote: str | None) -> tuple[str, Any]:
    """(name, object database) of ``remote`` or of the default remote."""
    from dvc.exceptions import DvcException

    name = remote or repo.config["core"].get("remote") or "(default)"
    try:
        odb = repo.cloud.get_remote_odb(remote, "push")
    except DvcException as exc:
        first = str(exc).splitlines()[0].rstrip(".")
        raise RemoteError(
            f"DVC remote {name!r}: {first}; configure one with "
            "`dvc remote add -d NAME URL` (see README: Release, rollback and history)"
        ) from exc
    return name, odb


@contextmanager
def _dvc_errors() -> Iterator[list[str]]:
    """Collect what DVC logs while it works instead of letting it print (one line is ours).

    ``dvc push`` reports a failed transfer by logging ``ERROR: failed to transfer ...`` and
    counting it; the reason is only in that log line, so it is kept for our message.
    """
    import logging

    said: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            if record.levelno >= logging.WARNING:
                cause = record.exc_info[1] if record.exc_info else None
                text = record.getMessage() + (f": {_oneline(cause)}" if cause else "")
                said.append(_oneline(Exception(text)))

    loggers = [logging.getLogger(n) for n in ("dvc", "dvc_objects", "dvc_data")]  # DVC's own
    saved = [(lg.handlers[:], lg.propagate) for lg in loggers]
    for lg in loggers:
        lg.handlers, lg.propagate = [_Collect()], False
    try:
        yield said
    finally:
        for lg, (handlers, propagate) in zip(loggers, saved, strict=True):
            lg.handlers, lg.propagate = handlers, propagate


def _url(odb: Any, oid: str) -> str:
    return str(odb.fs.unstrip_protocol(odb.oid_to_path(oid)))


def _remote_size(odb: Any, oid: str) -> int | None:
    """Size of the object in the remote, None when it is absent."""
    try:
        if not odb.exists(oid):
            return None
        return int(odb.fs.size(odb.oid_to_path(oid)))
    except FileNotFoundError:
        return None
    except Exception as exc:  # fsspec backends raise their own types (botocore, aiohttp)
        raise RemoteError(
            f"DVC remote at {_url(odb, oid)}: cannot be read ({_oneline(exc)}); check the "
            "remote's URL, credentials and permissions"
        ) from exc


def push_model(
    repo_root: Path,
    *,
    md5: str,
    size: int,
    version: str,
    remote: str | None = None,
    path: str = "",
) -> StoredModel:
    """Push the object ``md5`` from the local DVC cache to the remote, then confirm it is there.

    The local object is hashed first (md5 must match its name, which also yields the sha256
    for the pointer). When the local cache lacks it but the remote already holds it, the
    remote copy is read and verified instead. Raises RemoteError when the push fails or the
    remote does not hold a complete object afterwards. A folder (``md5`` ends in ``.dir``;
    ``path`` names it in messages) goes file by file: :func:`mlgate.deploy.tree.push_tree`.
    """
    if md5.endswith(".dir"):
        from mlgate.deploy.tree import push_tree

        return push_tree(
            repo_root, md5=md5, size=size, version=version, path=path or md5, remote=remote
        )
    from dvc_data.hashfile.hash_info import HashInfo

    with _dvc_repo(repo_root) as repo:
        name, odb = _remote_odb(repo, remote)
        cache = repo.cache.local
        local = Path(cache.oid_to_path(md5))
        if not local.is_file():
            return _verify_in_remote(name, odb, md5=md5, size=size, version=version)
        digest = digest_file(local)
        if digest.md5 != md5 or digest.size != size:
            raise DataError(
                f"{version}: the DVC cache object {local} is corrupt (md5 {digest.md5}, expected "
                f"{md5}); delete it and run `dvc repro` or `dvc pull` at {version}"
            )
        fix = "check the remote's URL, credentials and permissions"
        with _dvc_errors() as said:
            try:
                result = repo.cloud.push([HashInfo("md5", md5)], remote=remote)
            except Exception as exc:  # DVC raises many types (OSError, DvcException, fsspec's)
                raise RemoteError(
                    f"{version}: dvc push of model md5 {md5} to remote {name!r} failed "
                    f"({_oneline(exc)}); {fix}"
                ) from exc
        if result.failed:
            why = f" ({said[0]})" if said else ""
            raise RemoteError(
                f"{version}: dvc push of model md5 {md5} to remote {name!r} "
                f"({_url(odb, md5)}) failed{why}; {fix}"
            )
        # DVC neither re-hashes on push nor overwrites an object the remote already has,
        # so read the remote's bytes back and hold them to what the pointer will name.
        return _read_back(name, odb, digest, version=version)


def _verify_in_remote(name: str, odb: Any, *, md5: str, size: int, version: str) -> StoredModel:
    if _remote_size(odb, md5) is None:
        # A tag freezes dvc.lock; a release can only publish the bytes it names. With a
        # deterministic trainer `dvc repro` rebuilds them anywhere; with any other, only the
        # build that wrote dvc.lock has them, so they must reach the remote before the tag.
        raise DataError(
            f"{version}: model md5 {md5} named by dvc.lock is neither in the local DVC cache "
            f"nor in remote {name!r}, and a release publishes exactly those bytes; with "
            f"{version} checked out, run `dvc repro` then `dvc push -r {name}`, and release "
            "again (if `dvc repro` changes dvc.lock, training is not reproducible: run "
            f"`dvc push -r {name}` in the clone that built this model, and push before tagging)"
        )
    digest = _remote_digest(name, odb, md5, version=version)
    if digest.md5 != md5 or digest.size != size:
        raise RemoteObjectCorrupt(
            f"{version}: the object md5 {md5} in remote {name!r} is corrupt (md5 {digest.md5}, "
            f"{digest.size} bytes); {_replace_fix(odb, md5, name)}",
            md5=md5,
            expected="",
        )
    return StoredModel(name, _url(odb, md5), digest)


def _replace_fix(odb: Any, md5: str, name: str) -> str:
    # `dvc push` skips an object the remote already has, whatever its bytes: the bad copy
    # has to go first.
    return (
        f"delete {_url(odb, md5)} from the remote, then push a good copy with "
        f"`dvc push -r {name}` (or release again)"
    )


def _remote_digest(name: str, odb: Any, md5: str, *, version: str) -> Digest:
    """Stream the remote object ``md5`` once and hash it; RemoteError when absent or unreadable."""
    try:
        with odb.fs.open(odb.oid_to_path(md5), "rb") as handle:
            return digest_stream(handle)
    except FileNotFoundError as exc:
        raise RemoteObjectMissing(
            f"{version}: model md5 {md5} is not in DVC remote {name!r} ({_url(odb, md5)}); "
            "push it from a clone that has it with `dvc push`",
            md5=md5,
        ) from exc
    except Exception as exc:  # fsspec backends raise their own types (botocore, aiohttp)
        raise RemoteError(
            f"{version}: DVC remote {name!r} cannot be read back ({_oneline(exc)}); check "
            "the remote's URL, credentials and permissions"
        ) from exc


def _oneline(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_back(name: str, odb: Any, want: Digest, *, version: str) -> StoredModel:
    """Read the remote copy of ``want.md5`` back; RemoteError unless size, md5 and sha256 match."""
    got = _remote_digest(name, odb, want.md5, version=version)
    if got != want:
        raise RemoteObjectCorrupt(
            f"{version}: the copy of model md5 {want.md5} in DVC remote {name!r} does not match "
            f"the pointer (sha256 {got.sha256}, {got.size} bytes; the pointer names sha256 "
            f"{want.sha256}, {want.size} bytes); {_replace_fix(odb, want.md5, name)}",
            md5=want.md5,
            expected=want.sha256,
            got=got.sha256,
        )
    return StoredModel(name, _url(odb, want.md5), got)


def verify_remote_copy(
    repo_root: Path, ref: ModelRef, *, version: str, remote: str | None = None
) -> StoredModel:
    """Read the object ``ref`` names back from the DVC remote and check size, md5 and sha256.

    What ``rollback`` (and CT's automatic rollback) runs before it commits a pointer: a
    remote object of the right name and size can still hold other bytes. RemoteError names
    the version, the hash and the remote when the object is missing or differs.
    """
    if ref.is_dir:  # the listing and every file: mlgate.deploy.tree
        from mlgate.deploy.tree import verify_tree

        return verify_tree(repo_root, ref, version=version, remote=remote)
    want = Digest(ref.md5, ref.sha256, ref.size)
    found = _local_folder_object(repo_root, ref.md5) if remote is None else None
    if found is not None:  # a plain folder remote: the same check without importing DVC
        from mlgate.dvcstore import read_config

        name = (read_config(repo_root) or {}).get("core", {}).get("remote", "(default)")
        got = digest_file(found)
        if got != want:
            raise RemoteError(
                f"{version}: the copy of model md5 {ref.md5} in DVC remote {name!r} ({found}) "
                f"does not match the pointer (sha256 {got.sha256}, {got.size} bytes; the "
                f"pointer names sha256 {ref.sha256}, {ref.size} bytes); delete {found}, then "
                "push a good copy with `dvc push` (or release again)"
            )
        return StoredModel(name, str(found), got)
    with _dvc_repo(repo_root) as repo:
        name, odb = _remote_odb(repo, remote)
        return _read_back(name, odb, want, version=version)


def remote_matches(
    repo_root: Path, ref: ModelRef, *, version: str, remote: str | None = None
) -> tuple[bool, str]:
    """(whether the remote's copy of ``ref`` matches it, a one-line reason): for ``status``."""
    try:
        stored = verify_remote_copy(repo_root, ref, version=version, remote=remote)
    except MlgateError as exc:
        return False, str(exc)
    return True, f"matches in DVC remote {stored.remote!r} ({stored.url})"


def fetch_model(
    repo_root: Path,
    pointer: Pointer,
    dest: Path,
    *,
    remote: str | None = None,
    inspect: Callable[[bytes], object] | None = None,
) -> Path:
    """Fetch the model ``pointer`` names from the DVC remote into ``dest`` (a file path).

    Streams the object named by ``pointer.model.md5`` from the remote (the default remote or
    ``remote``) into a temporary file beside ``dest`` while hashing it, checks size, md5 and
    sha256 against the pointer, then runs ``inspect`` on the verified bytes (it raises to
    refuse them), and only then renames it to ``dest``. On any mismatch, a missing object or
    a refusal: the error names the version and hash, and nothing is left at ``dest``
    (folders created for it are removed again). A directory model is fetched into the
    folder ``dest``, all or nothing (:func:`mlgate.deploy.tree.fetch_tree`; ``inspect``
    then sees each ``.skops`` file).
    """
    ref = pointer.model
    dest = Path(dest)
    if ref.is_dir:
        from mlgate.deploy.tree import fetch_tree

        check = inspect
        return fetch_tree(
            repo_root,
            pointer,
            dest,
            remote=remote,
            inspect=None if check is None else lambda data, _rel: check(data),
        )
    created = [p for p in (dest.parent, *dest.parent.parents) if not p.exists()]
    try:
        found = _local_folder_object(repo_root, ref.md5) if remote is None else None
        if found is not None:  # a plain folder remote: no need to import DVC (about 0.4 s)
            try:
                source: IO[bytes] = found.open("rb")
            except OSError as exc:
                raise RemoteError(
                    f"{pointer.version}: DVC remote object {found} cannot be read ({exc})"
                ) from exc
            _write_verified(
                source, dest, pointer, where=f"the DVC remote ({found})", inspect=inspect
            )
            return dest
        with _dvc_repo(repo_root) as repo:
            name, odb = _remote_odb(repo, remote)
            try:
                source = odb.fs.open(odb.oid_to_path(ref.md5), "rb")
            except FileNotFoundError as exc:
                raise RemoteObjectMissing(
                    f"{pointer.version}: model md5 {ref.md5} (sha256 {ref.sha256}) is not in DVC "
                    f"remote {name!r} ({_url(odb, ref.md5)}); push it from a clone that has it "
                    "with `dvc push`",
                    md5=ref.md5,
                ) from exc
            except Exception as exc:  # fsspec backends raise their own types (botocore, aiohttp)
                raise RemoteError(
                    f"{pointer.version}: DVC remote {name!r} cannot be read ({_oneline(exc)}); "
                    "check the remote's URL, credentials and permissions"
                ) from exc
            try:
                _write_verified(
                    source, dest, pointer, where=f"DVC remote {name!r}", inspect=inspect
                )
            except MlgateError:
                raise
            except Exception as exc:  # the connection dropped mid-transfer, and the like
                raise RemoteError(
                    f"{pointer.version}: reading model md5 {ref.md5} from DVC remote {name!r} "
                    f"failed part-way ({_oneline(exc)}); nothing was written; retry"
                ) from exc
    except BaseException:
        for folder in created:  # innermost first
            with suppress(OSError):
                folder.rmdir()
        raise
    return dest


class _Tee(io.BytesIO):
    """Keeps a copy of what is written to ``sink`` (for an inspection before the rename)."""

    def __init__(self, sink: IO[bytes]) -> None:
        super().__init__()
        self.sink = sink

    def write(self, data: Any) -> int:
        self.sink.write(data)
        return super().write(data)


def _write_verified(
    source: IO[bytes],
    dest: Path,
    pointer: Pointer,
    *,
    where: str,
    inspect: Callable[[bytes], object] | None = None,
) -> None:
    """Stream ``source`` into ``dest`` atomically while hashing; RemoteError on any mismatch.

    ``inspect`` sees the verified bytes before the rename; when it raises, nothing lands.
    """
    ref = pointer.model
    with source, atomic_open(dest, "wb") as sink:
        tee = _Tee(sink) if inspect is not None else None
        got = digest_stream(source, tee if tee is not None else sink)
        if (got.size, got.md5, got.sha256) != (ref.size, ref.md5, ref.sha256):
            raise RemoteObjectCorrupt(
                f"{pointer.version}: the model fetched from {where} fails "
                f"verification: sha256 {got.sha256} ({got.size} bytes), the pointer names "
                f"sha256 {ref.sha256} ({ref.size} bytes); the remote object md5 "
                f"{ref.md5} is corrupt: push it again from a good cache",
                md5=ref.md5,
                expected=ref.sha256,
                got=got.sha256,
            )
        if inspect is not None and tee is not None:
            inspect(tee.getvalue())


def _local_folder_object(project: Path, md5: str) -> Path | None:
    """The object ``md5`` in the project's default DVC remote, when that is a plain folder.

    Start-up of ``mlgate serve`` is CPU-bound, and importing and opening DVC costs about
    0.4 s; for the common case of a local folder remote the object is simply at
    ``<url>/files/md5/<2>/<30>`` (:func:`mlgate.dvcstore.local_folder_remote` reads the
    config as DVC does). Anything else returns None and the caller goes through DVC
    itself, which also produces its error messages.
    """
    from mlgate.dvcstore import local_folder_remote, object_path

    folder = local_folder_remote(project)
    if folder is None or not re.fullmatch(r"[0-9a-f]{32}", md5):
        return None
    obj = object_path(folder, md5)
    return obj if obj.is_file() else None
