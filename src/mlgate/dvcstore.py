"""DVC's content-addressed storage, read by md5: the local cache, then the project's remote.

A cached output's bytes live at ``<cache>/files/md5/<2>/<30>`` (DVC 3; DVC 2 entries, whose
``dvc.lock`` has no ``hash: md5``, at ``<cache>/<2>/<30>``); a folder output is a ``.dir``
manifest (a JSON list of ``{"md5", "relpath"}``) plus one object per file
(https://dvc.org/doc/user-guide/project-structure/internal-files#structure-of-the-cache-directory).
The cache folder is ``.dvc/cache`` unless ``cache.dir`` in ``.dvc/config`` (or
``config.local``) says otherwise.

Objects missing from the cache are fetched from the default remote through DVC's own
object database, so every backend DVC supports works (S3, GCS, Azure, SSH, a folder); a
plain folder remote is read directly, without importing DVC. Every object read is checked
against its md5 before it is used, wherever it came from.
"""

from __future__ import annotations

import contextlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import ObjectUnavailable

__all__ = ["ObjectStore", "ObjectUnavailable", "cache_dir", "local_folder_remote", "object_path"]

_MD5 = re.compile(r"[0-9a-f]{32}(\.dir)?")
#: Remote options that a plain folder remote may carry and still be read without DVC.
_LOCAL_REMOTE_KEYS = frozenset({"url", "verify", "jobs", "checksum_jobs"})


def read_config(project: Path) -> dict[str, dict[str, str]] | None:
    """``.dvc/config`` merged with ``config.local`` as DVC merges them (keys lower-cased).

    None when a file cannot be parsed (callers then leave the work to DVC itself).
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
    return merged


def _config_path(project: Path, value: str) -> Path:
    """A path from the config: relative ones are relative to ``.dvc/``, as DVC reads them."""
    return Path(value) if os.path.isabs(value) else project / ".dvc" / value


def cache_dir(project: Path, config: dict[str, dict[str, str]] | None = None) -> Path:
    """The project's local DVC cache folder."""
    config = read_config(project) if config is None else config
    configured = (config or {}).get("cache", {}).get("dir")
    return _config_path(project, configured) if configured else project / ".dvc" / "cache"


def object_path(root: Path, md5: str, *, legacy: bool = False) -> Path:
    """Where an object lives under a cache or folder-remote ``root``."""
    prefix = root if legacy else root / "files" / "md5"
    return prefix / md5[:2] / md5[2:]


def local_folder_remote(
    project: Path, config: dict[str, dict[str, str]] | None = None
) -> Path | None:
    """The default remote's folder when it is a plain local folder, else None.

    Only ``url`` (absolute, or relative to ``.dvc/``) and harmless options count; a URL with
    a scheme, ``remote://``, ``~`` or other options is left to DVC.
    """
    config = read_config(project) if config is None else config
    if not config:
        return None
    remote = config.get("core", {}).get("remote", "").lower()
    values = config.get(f'remote "{remote}"') if remote else None
    if not values or set(values) - _LOCAL_REMOTE_KEYS:
        return None
    url = values.get("url", "")
    if not url or re.match(r"\w+://", url) or url.startswith("~"):
        return None
    return _config_path(project, url)


def md5_matches(data: bytes, md5: str, *, legacy: bool = False) -> bool:
    """Whether ``data`` hashes to ``md5`` (legacy: DVC 2's md5 of text with CRLF as LF)."""
    import hashlib  # here: `mlgate diff` on plain files never hashes anything

    want = md5.removesuffix(".dir")
    if hashlib.md5(data, usedforsecurity=False).hexdigest() == want:
        return True
    if legacy and b"\x00" not in data[:8000]:
        return hashlib.md5(data.replace(b"\r\n", b"\n"), usedforsecurity=False).hexdigest() == want
    return False


@dataclass
class ObjectStore:
    """Read DVC objects of ``project`` by md5: local cache, then the default remote.

    The DVC project is opened at most once (on the first object the cache lacks) and closed
    by :meth:`close`. Nothing is written: fetched objects are not added to the cache.
    """

    project: Path
    _config: dict[str, dict[str, str]] | None = None
    _dvc: Any = None
    _odbs: dict[bool, Any] = field(default_factory=dict)
    _loaded: bool = False

    def _conf(self) -> dict[str, dict[str, str]] | None:
        if not self._loaded:
            self._config, self._loaded = read_config(self.project), True
        return self._config

    def read(self, md5: str, *, legacy: bool = False, what: str = "") -> bytes:
        """The verified bytes of object ``md5``; :class:`ObjectUnavailable` when none."""
        if not _MD5.fullmatch(md5):
            raise ObjectUnavailable(f"{what}: {md5!r} is not an md5 DVC would write", md5=md5)
        conf = self._conf()
        local = object_path(cache_dir(self.project, conf), md5, legacy=legacy)
        data = _read_if_file(local)
        if data is not None and md5_matches(data, md5, legacy=legacy):
            return data
        folder = local_folder_remote(self.project, conf)
        if folder is not None:
            data = _read_if_file(object_path(folder, md5, legacy=legacy))
            if data is not None and md5_matches(data, md5, legacy=legacy):
                return data
        return self._read_remote(md5, legacy=legacy, what=what)

    def _read_remote(self, md5: str, *, legacy: bool, what: str) -> bytes:
        fix = "run `dvc pull` (or `dvc repro`) where the remote is reachable"
        try:
            name, odb = self._odb(legacy)
        except ObjectUnavailable:
            raise
        except Exception as exc:  # DVC raises many types (NoRemoteError, config errors, ...)
            first = str(exc).splitlines()[0].rstrip(".") if str(exc) else type(exc).__name__
            raise ObjectUnavailable(
                f"{what}: md5 {md5} is not in the local DVC cache and no DVC remote can be read "
                f"({first}); {fix}, or `dvc remote add -d NAME URL`",
                md5=md5,
            ) from exc
        try:
            with odb.fs.open(odb.oid_to_path(md5), "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise ObjectUnavailable(
                f"{what}: md5 {md5} is neither in the local DVC cache nor in DVC remote "
                f"{name!r}; push it with `dvc push` from a clone that has it",
                md5=md5,
            ) from exc
        except Exception as exc:  # fsspec backends raise their own types
            raise ObjectUnavailable(
                f"{what}: md5 {md5} is not in the local DVC cache and DVC remote {name!r} "
                f"cannot be read ({exc}); {fix}",
                md5=md5,
            ) from exc
        if not md5_matches(data, md5, legacy=legacy):
            raise ObjectUnavailable(
                f"{what}: the object md5 {md5} in DVC remote {name!r} is corrupt (its bytes "
                f"hash differently); push it again from a good cache with `dvc push -r {name}`",
                md5=md5,
            )
        return bytes(data)

    def _odb(self, legacy: bool) -> tuple[str, Any]:
        if legacy not in self._odbs:
            if self._dvc is None:
                from dvc.repo import Repo as DvcRepo

                self._dvc = DvcRepo(str(self.project))
            name = self._dvc.config["core"].get("remote") or "(default)"
            hash_name = "md5-dos2unix" if legacy else "md5"
            self._odbs[legacy] = (
                name,
                self._dvc.cloud.get_remote_odb(None, "fetch", hash_name=hash_name),
            )
        result: tuple[str, Any] = self._odbs[legacy]
        return result

    def close(self) -> None:
        if self._dvc is not None:
            with contextlib.suppress(Exception):
                self._dvc.close()
            self._dvc = None
        self._odbs.clear()


def _read_if_file(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None
