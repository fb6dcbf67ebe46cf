"""Read a DVC project's metrics at any revision, exactly as ``dvc metrics show`` reads them.

One :class:`RevisionReader` per revision plans its reads in stages, each one batch:
the file list (``git ls-tree``, or ``git ls-files`` for the working tree) -> the
``dvc.yaml``/``dvc.lock``/``params.yaml`` texts -> the declarations (:mod:`.layout`, or DVC's
resolver for templated files) -> the metrics files: git blobs in one ``git cat-file`` batch,
files inside cached outputs by the md5 ``dvc.lock`` records, from the local DVC cache or the
DVC remote (:mod:`mlgate.dvcstore`). A declared folder stands for every file in it.

Values follow DVC (``dvc/repo/metrics/show.py``): numbers (NaN and infinities included),
text and booleans are kept, lists, nulls and empty mappings are dropped, a file holding one
scalar is that value; nested keys are joined with dots. A file that cannot be read or parsed
is an *error of that file* (its message names the revision, the file and the fix), never of
the whole read: ``diff`` warns and goes on, the gate refuses to judge a rule that needs it.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate._record import Record
from mlgate.errors import ConfigError, DataError, GitError, ObjectUnavailable
from mlgate.git import WORKTREE, CatFile, Repo
from mlgate.metrics.cache import ParseCache
from mlgate.metrics.diff import leaves
from mlgate.metrics.layout import (
    DVC_LOCK,
    DVC_YAML,
    DVCIGNORE,
    Artifact,
    Layout,
    LockedOut,
    dirname,
    drop_ignored,
    find_dvc_files,
    is_templated,
    join,
    merge,
    parse_dvc_yaml,
    parse_lock,
)

if TYPE_CHECKING:
    from mlgate.dvcstore import ObjectStore

PARAMS_FILE = "params.yaml"  # as mlgate.config.PARAMS_FILE; importing that loads PyYAML
#: What the working tree's listing keeps: the files that say where metrics are declared.
WORKTREE_LISTED = (DVC_YAML, DVCIGNORE, ".dvc/config")

#: A flat metrics file: dotted key -> value (numbers, text, booleans; ``""`` for a scalar file).
Flat = dict[str, Any]


def loads_yaml(text: str | bytes, source: str) -> Any:
    """:func:`mlgate.config.loads_yaml`, imported only when some YAML must really be parsed."""
    from mlgate.config import loads_yaml as load

    return load(text, source)


def source_name(rev: str, path: str) -> str:
    """How messages name a file at a revision: ``main:metrics/scores.json``."""
    return path if rev == WORKTREE else f"{rev}:{path}"


# -- values, as DVC reads them ------------------------------------------------------------------
def parse_document(data: bytes, source: str) -> Any:
    """Parse a metrics file by its extension as DVC does: JSON (NaN allowed), TOML, else YAML
    (1.2, as DVC's ruamel reads it)."""
    lower = source.lower()
    if lower.endswith(".json"):
        try:
            return json.loads(data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise DataError(f"{source}: invalid JSON: {exc}") from exc
    if lower.endswith(".toml"):
        import tomllib  # rare in DVC projects; its import compiles regexes

        try:
            return tomllib.loads(data.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise DataError(f"{source}: invalid TOML: {exc}") from exc
    return _yaml_1_2(data, source)


def _yaml_1_2(data: bytes, source: str) -> Any:
    """A YAML metrics file as DVC reads it: YAML 1.2 through ruamel (``1e-3`` is a number,
    ``yes`` is text, ``011`` is eleven), where PyYAML speaks YAML 1.1."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    try:
        return YAML(typ="safe").load(data.decode("utf-8"))
    except (YAMLError, UnicodeDecodeError) as exc:
        mark, problem = getattr(exc, "problem_mark", None), getattr(exc, "problem", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        why = problem or (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DataError(f"{source}: invalid YAML{where}: {why}") from exc


def extract(obj: Any) -> Any:
    """DVC's ``_extract_metrics``: keep numbers, text and booleans; drop the rest.

    >>> extract({"a": {"b": 1, "c": {}}, "d": [1], "e": None, "f": "x"})
    {'a': {'b': 1}, 'f': 'x'}
    """
    if isinstance(obj, int | float | str):
        return obj
    if not isinstance(obj, dict):
        return None
    out = {}
    for key, value in obj.items():
        kept = extract(value)
        if kept is not None and not (isinstance(kept, dict) and not kept):
            out[key] = kept
    return out


def load_metrics(data: bytes, source: str) -> Any:
    """One metrics file's bytes -> its value as DVC shows it (a mapping, a scalar or ``{}``)."""
    return extract(parse_document(data, source)) or {}


def flatten(obj: Any, source: str, *, metrics: bool = True) -> dict[str, Any]:
    """Flatten nested mappings with dotted keys, exactly as DVC names metrics.

    >>> flatten({"a": {"b": 1, "c": {}}, "d": 2.5, "e": [1], "f": None}, "m.json")
    {'a.b': 1, 'd': 2.5}

    With ``metrics`` (metrics files) lists and nulls are dropped as DVC drops them and a
    scalar is the key ``""``; without (params) every leaf is kept.
    """
    if obj is None:
        return {}
    if metrics:
        obj = extract(obj)
        if not isinstance(obj, Mapping):
            return {"": obj} if obj not in (None, "", 0) else {}
    elif not isinstance(obj, Mapping):
        raise DataError(f"{source}: expected a mapping, got {type(obj).__name__}")
    out: dict[str, Any] = {}
    _flatten_into(out, obj, "", source)
    return out


def _flatten_into(out: dict[str, Any], obj: Mapping[Any, Any], prefix: str, source: str) -> None:
    for name, value in leaves(obj, prefix):
        if name in out:
            raise DataError(f"{source}: {name}: the key appears twice once nested keys are joined")
        out[name] = value


def is_number(value: Any) -> bool:
    """A real number (booleans are not), as a gate rule needs."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def check_number(value: Any, name: str, source: str) -> float:
    """``value`` if it is a finite number, else a DataError naming ``source`` and ``name``."""
    if not is_number(value):
        shown = f'"{value}"' if isinstance(value, str) else repr(value)
        raise DataError(f"{source}: {name}: expected a number, got {shown}")
    if not math.isfinite(value):
        raise DataError(f"{source}: {name}: expected a finite number, got {value}")
    return float(value)


def parse_metrics(data: bytes, source: str) -> Flat:
    """One metrics file's bytes -> flat ``{dotted key: value}``."""
    return flatten(load_metrics(data, source), source)


# -- what one revision holds ----------------------------------------------------------------------
class RevisionMetrics(Record):
    """The metrics of one revision: values per readable file, a message per unreadable one.

    ``declared`` is every metrics path the ``dvc.yaml`` files declare (files or folders);
    empty means the revision has no metrics at all (first adoption), which is different from
    declared files that could not be read (``errors``).
    """

    _fields = ("label", "declared", "values", "errors")
    __slots__ = _fields
    label: str
    declared: tuple[str, ...]
    values: Mapping[str, Any]  # path -> DVC's value of the file
    errors: Mapping[str, str]  # path -> one-line message

    def __init__(
        self,
        label: str,
        declared: tuple[str, ...] = (),
        values: Mapping[str, Any] | None = None,
        errors: Mapping[str, str] | None = None,
    ) -> None:
        self._init(
            label, declared, {} if values is None else values, {} if errors is None else errors
        )

    def flat(self) -> dict[str, Flat]:
        """``{path: {dotted key: value}}`` of the readable files (a scalar file: key ``""``)."""
        out: dict[str, Flat] = {}
        for path, value in self.values.items():
            try:
                out[path] = flatten(value, source_name(self.label, path))
            except DataError:
                continue  # reported in `errors` by the reader
        return out


class RevisionReader:
    """Reads files of one revision as DVC sees them: git first, then cached outputs."""

    def __init__(
        self,
        repo: Repo,
        rev: str,
        *,
        label: str | None = None,
        store: ObjectStore | None = None,
        cache: ParseCache | None = None,
        prefetch: Sequence[str] = (),
        params: bool = False,
        listing: Mapping[str, tuple[str, str]] | None = None,
        objects: dict[str, bytes] | None = None,
        worktree: Sequence[str] | None = None,
        batch: CatFile | None = None,
    ) -> None:
        """``listing`` (the revision's ``{path: (kind, blob id)}``, when the caller knows it)
        saves the ``git ls-tree``; ``objects`` is a blob cache by id shared between readers.
        ``worktree`` does the same for the working tree (``Repo.ls_worktree(*WORKTREE_LISTED)``);
        with ``batch`` (an open ``git cat-file --batch``) blobs are read from it."""
        self.repo, self.rev, self.label = repo, rev, label or rev
        self._worktree = worktree
        self._batch = batch
        self._store = store
        self.cache = cache
        self._given = dict(listing) if listing is not None else None
        self.objects = objects if objects is not None else {}
        self._listing: dict[str, tuple[str, str]] | None = None
        self._files: set[str] = set()
        self._folders: set[str] = set()
        self._blobs: dict[str, bytes | None] = {}
        self._layout: Layout | None = None
        self._manifests: dict[str, dict[str, tuple[str, bool]]] = {}
        extra = [PARAMS_FILE] if params else []
        self._list([DVC_YAML, DVC_LOCK, *extra, *prefetch])
        self._prefetch(extra, prefetch)

    @property
    def store(self) -> ObjectStore:
        """The DVC cache and remote (made on first use: plain git files never need it)."""
        if self._store is None:
            from mlgate.dvcstore import ObjectStore

            self._store = ObjectStore(self.repo.root)
        return self._store

    @property
    def shared_store(self) -> ObjectStore | None:
        """The store if one was opened, to hand to the reader of another revision."""
        return self._store

    def close(self) -> None:
        """Close the DVC project the store may have opened."""
        if self._store is not None:
            self._store.close()

    # -- stage 1: which files exist --------------------------------------------------------------
    def _list(self, early: Sequence[str]) -> None:
        if self.rev == WORKTREE:  # other files are looked up on disk, as DVC reads them
            files = (
                list(self._worktree)
                if self._worktree is not None
                else self.repo.ls_worktree(*WORKTREE_LISTED)
            )
        elif self._given is not None:
            self._listing = self._given
            files = [p for p, (kind, _) in self._listing.items() if kind == "blob"]
        else:  # list the tree while the root's files (and the hints) are read by path
            wait = self.repo.ls_tree_start(self.rev)
            try:
                blobs = self.repo.show_many(self.rev, list(dict.fromkeys(early)))
            except GitError:
                blobs = None  # not a git revision: perhaps a DVC experiment's name
            try:
                listing = wait()
            except GitError:
                listing = None
            if blobs is None or listing is None:
                sha = self.repo.resolve(self.rev)  # experiments, or the clear error
                if sha == self.rev:
                    raise GitError(f"unknown revision {self.rev!r}")
                self.rev = sha
                return self._list(early)
            self._blobs.update(blobs)
            self._listing = listing
            files = [p for p, (kind, _) in self._listing.items() if kind == "blob"]
        self._files = set(files)
        for path in files:
            folder = dirname(path)
            while folder and folder not in self._folders:
                self._folders.add(folder)
                folder = dirname(folder)
        self._dvc_yamls = find_dvc_files(self._files)
        nested = any("/" in p for p in self._dvc_yamls)
        self._ignores = (
            sorted(p for p in self._files if p.rsplit("/", 1)[-1] == DVCIGNORE) if nested else []
        )

    # -- stage 2: the project's own files (and whatever the caller will want) in one batch -----
    def _prefetch(self, extra: Sequence[str], hint: Sequence[str]) -> None:
        locks = [join(dirname(p), DVC_LOCK) for p in self._dvc_yamls]
        wanted = [*self._dvc_yamls, *locks, *self._ignores, *extra, *hint]
        self._fetch_blobs(wanted)
        if self._ignores:
            ignore = {p: self._blobs.get(p) or b"" for p in self._ignores}
            found = self._dvc_yamls
            # pathspec's import and patterns cost ~20 ms: the answer is cached by content
            key = json.dumps(
                [found, {p: t.decode(errors="surrogateescape") for p, t in ignore.items()}]
            ).encode()
            self._dvc_yamls = list(
                self._parsed("dvcignore", key, lambda _: drop_ignored(found, ignore))
            )

    def _fetch_blobs(self, paths: Iterable[str]) -> None:
        todo = [p for p in dict.fromkeys(paths) if p not in self._blobs]
        if not todo:
            return
        if self._listing is None:
            for p in todo:
                self._blobs[p] = _read_disk(self.repo.root, p)
            return
        oids = {p: self._listing[p][1] for p in todo if self._listing.get(p, ("", ""))[0] == "blob"}
        missing = [o for o in oids.values() if o not in self.objects]
        if missing:
            read = self._batch.blobs if self._batch is not None else self.repo.cat_blobs
            self.objects.update(read(missing))
        for p in todo:
            self._blobs[p] = self.objects.get(oids[p]) if p in oids else None

    def listing(self) -> dict[str, tuple[str, str]] | None:
        """``{path: (kind, blob id)}`` of the revision (None for the working tree)."""
        return self._listing

    def wanted(self) -> list[str]:
        """The paths this reader has read so far (to prefetch them for similar revisions)."""
        return list(self._blobs)

    def blob(self, path: str) -> bytes | None:
        """``path`` as git (or the working tree) holds it; None when it is not there."""
        if path not in self._blobs:
            if self._listing is None:
                self._blobs[path] = _read_disk(self.repo.root, path)
            else:
                self._fetch_blobs([path])
        return self._blobs[path]

    def source(self, path: str) -> str:
        return source_name(self.label, path)

    # -- stage 3: declarations --------------------------------------------------------------------
    def _parsed(self, kind: str, data: bytes, parse: Any) -> Any:
        if self.cache is None:
            return parse(data)
        return self.cache.get_or_parse(kind, data, parse)

    def layout(self) -> Layout:
        """What the revision's ``dvc.yaml`` files declare and its ``dvc.lock`` files record."""
        if self._layout is None:
            texts = {p: self.blob(p) for p in self._dvc_yamls}
            if any(t is not None and is_templated(t) for t in texts.values()):
                from mlgate.metrics.templated import resolve_layout

                self._layout = resolve_layout(self.repo.root, self.rev, label=self.label)
            else:
                self._layout = merge(
                    [self._plain_layout(p, t) for p, t in texts.items() if t is not None]
                )
        return self._layout

    def _plain_layout(self, path: str, text: bytes) -> Layout:
        source = self.source(path)

        def declare(data: bytes) -> list[Any]:
            declared = parse_dvc_yaml(loads_yaml(data, source), path, source)
            arts = [[a.name, a.path, a.type] for a in declared.artifacts]
            return [list(declared.metrics), dict(declared.wdirs), arts]

        metrics, wdirs, arts = self._parsed(f"dvc.yaml:{path}", text, declare)
        lock_path = join(dirname(path), DVC_LOCK)
        lock = self.blob(lock_path)
        outs: list[LockedOut] = []
        if lock is not None:
            lock_source = self.source(lock_path)

            def locked(data: bytes) -> list[list[Any]]:
                doc = loads_yaml(data, lock_source)
                return [
                    [o.path, o.md5, o.legacy]
                    for o in parse_lock(doc, lock_path, wdirs, lock_source)
                ]

            outs = [
                LockedOut(p, m, bool(g)) for p, m, g in self._parsed(f"lock:{path}", lock, locked)
            ]
        artifacts = tuple(Artifact(n, p, t) for n, p, t in arts)
        return Layout(tuple(metrics), tuple(outs), (path,), artifacts)

    # -- stage 4: files, from git or from the DVC cache/remote ------------------------------------
    def expand(self, entry: str) -> list[str]:
        """The files a declared metrics path stands for (a folder: every file in it)."""
        if entry in self._files:
            return [entry]
        found: set[str] = set()
        if entry in self._folders:
            found.update(p for p in self._files if p.startswith(f"{entry}/"))
        if self._listing is None:  # the working tree: DVC reads what is on disk
            if (self.repo.root / entry).is_file():
                return [entry]
            if (self.repo.root / entry).is_dir():
                found.update(_walk(self.repo.root, entry))
        if not found or self._listing is not None:
            found.update(self._tracked(entry))
        return sorted(found) or [entry]

    def _tracked(self, entry: str) -> set[str]:
        """Files of cached outputs at or under ``entry`` (``entry`` itself when unlistable)."""
        layout = self.layout()
        outs: list[tuple[LockedOut, str]] = [(o, "") for o in layout.outs_under(entry)]
        hit = layout.out_for(entry)
        if hit is not None:
            outs.append(hit)
        found: set[str] = set()
        for out, inner in outs:
            if not out.is_dir:
                found.add(out.path)
                continue
            try:
                manifest = self._manifest(out)
            except ObjectUnavailable:
                found.add(entry if inner else out.path)  # reading it reports why
                continue
            prefix = f"{inner}/"
            found.update(
                join(out.path, rel)
                for rel in manifest
                if not inner or rel == inner or rel.startswith(prefix)
            )
        return found

    def _manifest(self, out: LockedOut) -> dict[str, tuple[str, bool]]:
        """``{relpath: (md5, legacy)}`` of a folder output, from its ``.dir`` object."""
        if out.md5 not in self._manifests:
            where = self.source(out.path)
            raw = self.store.read(out.md5, legacy=out.legacy, what=where)
            try:
                entries = json.loads(raw)
                manifest = {str(e["relpath"]): (str(e["md5"]), out.legacy) for e in entries}
            except (ValueError, TypeError, KeyError) as exc:
                raise ObjectUnavailable(
                    f"{where}: the DVC folder manifest {out.md5} is not valid ({exc}); "
                    "delete it from the cache and run `dvc pull`",
                    md5=out.md5,
                ) from exc
            self._manifests[out.md5] = manifest
        return self._manifests[out.md5]

    def read(self, path: str) -> bytes | None:
        """The bytes of ``path``: from git/the working tree, else from the DVC cache or remote.

        None when the file exists nowhere DVC would look (not in git, not in any locked
        output); :class:`ObjectUnavailable` when an output holds it but its bytes are in
        neither the local cache nor the remote.
        """
        data = self.blob(path)
        if data is not None:
            return data
        hit = self.layout().out_for(path)
        if hit is None:
            return None
        out, inner = hit
        where = self.source(path)
        if not out.is_dir:
            return self.store.read(out.md5, legacy=out.legacy, what=where) if not inner else None
        try:
            manifest = self._manifest(out)
        except ObjectUnavailable as exc:
            raise ObjectUnavailable(
                f"{where}: inside DVC output {out.path}: {_tail(exc)}", md5=exc.md5
            ) from exc
        if inner not in manifest:
            return None
        md5, legacy = manifest[inner]
        return self.store.read(md5, legacy=legacy, what=where)

    def metrics(self) -> RevisionMetrics:
        """Every declared metrics file: values of the readable ones, messages for the rest."""
        layout = self.layout()
        files = list(dict.fromkeys(f for entry in layout.metrics for f in self.expand(entry)))
        self._fetch_blobs([f for f in files if f in self._files])
        values: dict[str, Any] = {}
        errors: dict[str, str] = {}
        for path in files:
            source = self.source(path)
            try:
                data = self.read(path)
            except ObjectUnavailable as exc:
                errors[path] = str(exc)
                continue
            if data is None:
                errors[path] = (
                    f"{source}: declared as metrics in dvc.yaml but not found; run `dvc repro` "
                    "(or `dvc pull`) and commit, or remove it from `metrics:`"
                )
                continue
            try:
                value = load_metrics(data, source)
                flatten(value, source)  # a duplicate dotted key is this file's error too
            except DataError as exc:
                errors[path] = f"{exc}; fix the file (or the stage that writes it) and rerun"
                continue
            values[path] = value
        return RevisionMetrics(self.label, layout.metrics, values, errors)

    def params(self) -> dict[str, Any]:
        """``params.yaml`` flattened like DVC's params diff (any YAML scalar or list)."""
        raw = self.blob(PARAMS_FILE)
        if raw is None:
            return {}
        source = self.source(PARAMS_FILE)

        def parse(b: bytes) -> dict[str, Any]:
            return flatten(loads_yaml(b, source), source, metrics=False)

        result: dict[str, Any] = self._parsed("params", raw, parse)
        return result


def _tail(exc: Exception) -> str:
    """A message without its leading ``where:`` part."""
    return str(exc).split(": ", 1)[-1]


def _read_disk(root: Path, path: str) -> bytes | None:
    try:
        return (root / path).read_bytes() if path else None
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError, PermissionError):
        return None


def _walk(root: Path, folder: str) -> list[str]:
    out: list[str] = []
    for here, dirs, names in os.walk(root / folder):
        dirs[:] = sorted(d for d in dirs if d != ".git")
        rel = Path(here).relative_to(root).as_posix()
        out.extend(join(rel, n) for n in names)
    return sorted(out)


# -- the functions the rest of mlgate calls ---------------------------------------------------------
def read_revision(
    repo: Repo,
    rev: str,
    *,
    label: str | None = None,
    params: bool = False,
    hint: Sequence[str] = (),
    cache: ParseCache | None = None,
    store: ObjectStore | None = None,
) -> tuple[RevisionMetrics, dict[str, Any] | None]:
    """Metrics (and, with ``params``, flat params) of ``rev`` in as few git calls as can be.

    ``hint`` paths (say, the metrics files the other revision has) join the first batch.
    """
    reader = RevisionReader(
        repo, rev, label=label, store=store, cache=cache, prefetch=hint, params=params
    )
    return reader.metrics(), (reader.params() if params else None)


def read_metrics(repo: Repo, rev: str, *, label: str | None = None) -> RevisionMetrics:
    """Every declared metrics file at ``rev`` (``label`` names the revision in messages)."""
    return read_revision(repo, rev, label=label)[0]


def read_params(repo: Repo, rev: str, *, label: str | None = None) -> dict[str, Any]:
    """``params.yaml`` at ``rev`` flattened like DVC's params diff (any YAML scalar or list)."""
    data = repo.show(rev, PARAMS_FILE)
    if data is None:
        return {}
    source = source_name(label or rev, PARAMS_FILE)
    return flatten(loads_yaml(data, source), source, metrics=False)


def declared_metrics(dvc_yaml: bytes | None, source: str = DVC_YAML) -> list[str]:
    """Repository-relative metrics paths declared in the root ``dvc.yaml`` text (plain files)."""
    if dvc_yaml is None:
        return []
    if is_templated(dvc_yaml):
        raise ConfigError(f"{source}: uses ${{...}} templating; read it with RevisionReader")
    return list(parse_dvc_yaml(loads_yaml(dvc_yaml, source), DVC_YAML, source).metrics)
