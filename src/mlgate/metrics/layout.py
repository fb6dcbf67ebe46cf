"""Which metrics a DVC project declares at a revision, and which outputs ``dvc.lock`` records.

DVC collects metrics from every ``dvc.yaml`` in the project (subfolders too, except those
``.dvcignore`` excludes and nested DVC repositories): each stage's ``metrics:`` (relative to
the stage's ``wdir``) and the top-level ``metrics:`` list (relative to the file's folder)
(https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#metrics). A declared path may
be a file or a folder, in git or inside a cached output; the bytes of cached outputs are
named by the md5 that the ``dvc.lock`` beside each ``dvc.yaml`` records.

Plain files (no ``${...}``) are parsed here, without DVC; a file that uses templating
(``vars``, ``foreach``, ``matrix``) is resolved by DVC's own resolver in
:mod:`mlgate.metrics.templated`. Everything in this module is pure.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from mlgate._record import Record
from mlgate.errors import ConfigError

DVC_YAML = "dvc.yaml"
DVC_LOCK = "dvc.lock"
DVCIGNORE = ".dvcignore"
#: DVC 2 lock entries (no ``hash: md5``) name objects by the legacy md5 in the old layout.
LEGACY_HASH = "md5-dos2unix"


class LockedOut(Record):
    """A stage output as ``dvc.lock`` records it (``md5`` ends in ``.dir`` for folders)."""

    _fields = ("path", "md5", "legacy")
    __slots__ = _fields
    path: str  # repository-relative
    md5: str
    legacy: bool

    def __init__(self, path: str, md5: str, legacy: bool = False) -> None:
        self._init(path, md5, legacy)

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


class Artifact(Record):
    """An entry of ``artifacts:`` in a ``dvc.yaml`` (DVC's model registry convention).

    ``name`` is GTO's full name: ``NAME`` in the root ``dvc.yaml``, ``FOLDER:NAME`` in a
    nested one; ``path`` is repository-relative.
    """

    _fields = ("name", "path", "type")
    __slots__ = _fields
    name: str
    path: str
    type: str | None

    def __init__(self, name: str, path: str, type: str | None = None) -> None:
        self._init(name, path, type)


class Layout(Record):
    """What a revision declares: metrics paths (DVC's order, no repeats), locked outputs
    and artifacts."""

    _fields = ("metrics", "outs", "dvc_files", "artifacts")
    __slots__ = _fields
    metrics: tuple[str, ...]
    outs: tuple[LockedOut, ...]
    dvc_files: tuple[str, ...]
    artifacts: tuple[Artifact, ...]

    def __init__(
        self,
        metrics: tuple[str, ...] = (),
        outs: tuple[LockedOut, ...] = (),
        dvc_files: tuple[str, ...] = (),
        artifacts: tuple[Artifact, ...] = (),
    ) -> None:
        self._init(metrics, outs, dvc_files, artifacts)

    def out_for(self, path: str) -> tuple[LockedOut, str] | None:
        """The locked output holding ``path`` and the path inside it (``""``: the output)."""
        best: tuple[LockedOut, str] | None = None
        for out in self.outs:
            if path == out.path:
                return out, ""
            if path.startswith(out.path + "/") and (
                best is None or len(out.path) > len(best[0].path)
            ):
                best = out, path[len(out.path) + 1 :]
        return best

    def outs_under(self, folder: str) -> list[LockedOut]:
        """Locked outputs inside ``folder`` (a declared metrics folder holding outputs)."""
        return [o for o in self.outs if o.path.startswith(folder + "/")]


def dirname(path: str) -> str:
    """The folder of a repository-relative path, ``""`` at the root."""
    return posixpath.dirname(path)


def join(folder: str, *parts: str) -> str:
    """Repository-relative join and normalisation (``""`` is the root)."""
    joined = posixpath.normpath(posixpath.join(folder or ".", *parts))
    return "" if joined == "." else joined


def find_dvc_files(paths: Iterable[str], ignore: Mapping[str, bytes] | None = None) -> list[str]:
    """The ``dvc.yaml`` files DVC would collect among ``paths`` (every file of a revision).

    Skips those inside a nested DVC repository (a folder with ``.dvc/config``) and those a
    ``.dvcignore`` excludes (``ignore``: the ``.dvcignore`` texts by path, patterns relative to
    their folder, as DVC applies them).
    """
    paths = list(paths)
    found = sorted(p for p in paths if posixpath.basename(p) == DVC_YAML)
    subrepos = {dirname(dirname(p)) for p in paths if p.endswith("/.dvc/config")}
    found = [p for p in found if not any(p.startswith(s + "/") for s in subrepos if s)]
    return drop_ignored(found, ignore) if ignore else found


def drop_ignored(found: Sequence[str], ignore: Mapping[str, bytes]) -> list[str]:
    """``found`` (``dvc.yaml`` paths) without the nested ones a ``.dvcignore`` excludes."""
    if not any("/" in p for p in found):
        return list(found)
    return [p for p in found if "/" not in p or not _ignored(p, ignore)]


def _ignored(path: str, ignore: Mapping[str, bytes]) -> bool:
    from pathspec import GitIgnoreSpec  # only for nested dvc.yaml files with a .dvcignore

    for source, text in ignore.items():
        base = dirname(source)
        if base and not path.startswith(base + "/"):
            continue
        rel = path[len(base) + 1 :] if base else path
        lines = text.decode("utf-8", errors="replace").splitlines()
        if GitIgnoreSpec.from_lines(lines).match_file(rel):
            return True
    return False


def is_templated(text: bytes) -> bool:
    """Whether a ``dvc.yaml`` uses ``${...}`` (then only DVC's resolver can read it)."""
    return b"${" in text


class Declared(Record):
    """What one plain ``dvc.yaml`` declares: metrics paths, each stage's ``wdir``, artifacts."""

    _fields = ("metrics", "wdirs", "artifacts")
    __slots__ = _fields
    metrics: tuple[str, ...]
    wdirs: Mapping[str, str]
    artifacts: tuple[Artifact, ...]

    def __init__(
        self,
        metrics: tuple[str, ...],
        wdirs: Mapping[str, str],
        artifacts: tuple[Artifact, ...] = (),
    ) -> None:
        self._init(metrics, wdirs, artifacts)


def parse_dvc_yaml(doc: Any, path: str, source: str) -> Declared:
    """Metrics (repository-relative) and stage folders of a parsed plain ``dvc.yaml``."""
    base = dirname(path)
    if doc is None:
        return Declared((), {})
    if not isinstance(doc, dict):
        raise ConfigError(f"{source}: expected a mapping at the top level")
    stages = doc.get("stages") or {}
    if not isinstance(stages, dict):
        raise ConfigError(f"{source}: stages: expected a mapping")
    metrics: list[str] = []
    wdirs: dict[str, str] = {}
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        wdir = join(base, str(stage.get("wdir") or "."))
        wdirs[str(name)] = wdir
        metrics.extend(_entries(stage.get("metrics"), f"{source}: stages.{name}.metrics", wdir))
    metrics.extend(_entries(doc.get("metrics"), f"{source}: metrics", base))
    artifacts = _artifacts(doc.get("artifacts"), base, source)
    return Declared(tuple(dict.fromkeys(metrics)), wdirs, artifacts)


def artifact_name(folder: str, name: str) -> str:
    """GTO's full name of an artifact declared in ``folder``'s ``dvc.yaml``."""
    return f"{folder}:{name}" if folder else name


def artifact(folder: str, name: object, body: Any) -> Artifact | None:
    """One ``artifacts:`` entry of the ``dvc.yaml`` in ``folder``; None when it has no path."""
    if not isinstance(body, dict) or not isinstance(body.get("path"), str):
        return None
    kind = body.get("type")
    return Artifact(
        artifact_name(folder, str(name)),
        join(folder, body["path"]),
        str(kind) if kind is not None else None,
    )


def _artifacts(value: Any, base: str, source: str) -> tuple[Artifact, ...]:
    if value is None:
        return ()
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: artifacts: expected a mapping of names to {{path, type}}")
    out = []
    for name, body in value.items():
        found = artifact(base, name, body)
        if found is None:
            raise ConfigError(f"{source}: artifacts.{name}: expected a mapping with a `path:`")
        out.append(found)
    return tuple(out)


def _entries(value: Any, where: str, wdir: str) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list):
        raise ConfigError(f"{where}: expected a list of paths")
    out = []
    for item in value:
        if isinstance(item, dict) and len(item) == 1:
            item = next(iter(item))
        if not isinstance(item, str):
            raise ConfigError(f"{where}: expected a path, got {item!r}")
        out.append(join(wdir, item))
    return out


def parse_lock(doc: Any, path: str, wdirs: Mapping[str, str], source: str) -> list[LockedOut]:
    """Outputs with hashes from a parsed ``dvc.lock`` (paths relative to the stage's ``wdir``).

    ``wdirs`` maps stage names of the ``dvc.yaml`` beside it to their folders; generated
    stages (``train@lr-0.1``) take their group's. Entries without an md5 are left out.
    """
    if not isinstance(doc, dict):
        return []
    stages = doc.get("stages")
    if not isinstance(stages, dict):
        return []
    base = dirname(path)
    out: list[LockedOut] = []
    for name, stage in stages.items():
        if not isinstance(stage, dict):
            continue
        wdir = wdirs.get(str(name), wdirs.get(str(name).split("@", 1)[0], base))
        for entry in stage.get("outs") or ():
            if not isinstance(entry, dict) or not isinstance(entry.get("path"), str):
                continue
            md5 = entry.get("md5")
            if not isinstance(md5, str) or not md5:
                continue
            legacy = entry.get("hash") != "md5"
            out.append(LockedOut(join(wdir, entry["path"]), md5, legacy))
    return out


def merge(parts: Sequence[Layout]) -> Layout:
    """One layout from those of several ``dvc.yaml`` files (metrics order kept, no repeats)."""
    metrics: dict[str, None] = {}
    outs: list[LockedOut] = []
    files: list[str] = []
    artifacts: list[Artifact] = []
    for part in parts:
        metrics.update(dict.fromkeys(part.metrics))
        outs.extend(part.outs)
        files.extend(part.dvc_files)
        artifacts.extend(part.artifacts)
    return Layout(tuple(metrics), tuple(outs), tuple(files), tuple(artifacts))
