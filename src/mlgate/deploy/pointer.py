"""The pointer file: which model is in production, as one small YAML file in git.

``deploy/production.yaml`` is written by ``mlgate release`` and reverted by ``mlgate rollback``;
git history of this one file is the deployment log. It is validated on every read::

    version: v1.2.0                    # the release tag (v<semver>, or NAME@v<semver>)
    commit: 3f2a...                    # full SHA of the tagged commit
    model:
      path: models/model.pkl           # the model dvc.yaml declares under `artifacts:`
      md5: c0f0...                     # as dvc.lock records it (the object's name in the remote)
      sha256: 9b1e...                  # over the exact bytes; checked before anything loads it
      size: 2345
    metrics:                           # metrics/scores.json of the tagged commit, flattened
      accuracy: 0.987
    released_at: '2026-11-25T10:00:00Z'  # ISO 8601, UTC

A model that is a directory (a DVC output whose ``dvc.lock`` md5 ends in ``.dir``, such as a
HuggingFace-style folder) carries a manifest of every file; its ``sha256`` and ``size`` are
then those of the manifest (:func:`manifest_sha256`) and the total of the files::

    model:
      path: models/bert
      md5: 5c2e...1a.dir                 # DVC's .dir object (the listing), as dvc.lock records it
      sha256: 77d0...                    # sha256 of the manifest lines "<sha256> <size> <path>"
      size: 440473133                    # the files' total
      files:                             # sorted by path, each checked on push, rollback and pull
      - {path: config.json, md5: 0a1b..., sha256: 3c4d..., size: 570}
      - {path: weights.bin, md5: 9f8e..., sha256: 7a6b..., size: 440473133}

Pointers without ``files`` (one file) read as before.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from mlgate import simpleyaml
from mlgate.config import Section, dumps_yaml, loads_yaml
from mlgate.errors import ConfigError
from mlgate.fileio import write_text
from mlgate.git import WORKTREE, Repo
from mlgate.models import SINGLE_POINTER, parse_tag

#: The pointer of a repository's only model (others: :attr:`mlgate.models.Model.pointer`).
POINTER_PATH = SINGLE_POINTER

_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_DIR_MD5 = re.compile(r"^[0-9a-f]{32}\.dir$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = ("version", "commit", "model", "metrics", "released_at")
_MODEL_KEYS = ("path", "md5", "sha256", "size", "files")
_FILE_KEYS = ("path", "md5", "sha256", "size")


def is_release_tag(name: str) -> bool:
    """True for ``v<semver>`` tags (``v1.2.0``, ``v2.0.0-rc.1``) and GTO's ``NAME@v1.2.0``."""
    return parse_tag(name) is not None


@dataclass(frozen=True)
class ModelFile:
    """One file of a directory model: its path inside the directory and its hashes."""

    path: str  # relative to the model's directory, POSIX
    md5: str  # DVC's name for the object in the remote
    sha256: str
    size: int

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "md5": self.md5, "sha256": self.sha256, "size": self.size}


def manifest_sha256(files: Sequence[ModelFile]) -> str:
    """The sha256 naming a directory model: over one ``<sha256> <size> <path>\\n`` line per
    file, sorted by path (what a reader can recompute from the manifest alone).

    >>> manifest_sha256([]) == hashlib.sha256(b"").hexdigest()
    True
    """
    lines = "".join(f"{f.sha256} {f.size} {f.path}\n" for f in sorted(files, key=_order))
    return hashlib.sha256(lines.encode()).hexdigest()


def _order(f: ModelFile) -> str:
    return f.path


@dataclass(frozen=True)
class ModelRef:
    """The model a pointer names: its path in the repo and its hashes.

    A directory model (``md5`` ends in ``.dir``) also lists its ``files``; its ``sha256`` is
    :func:`manifest_sha256` of them and its ``size`` their total.
    """

    path: str
    md5: str
    sha256: str
    size: int
    files: tuple[ModelFile, ...] = ()

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "path": self.path,
            "md5": self.md5,
            "sha256": self.sha256,
            "size": self.size,
        }
        if self.is_dir:
            out["files"] = [f.to_dict() for f in self.files]
        return out


@dataclass(frozen=True)
class Pointer:
    """The content of ``deploy/production.yaml``."""

    version: str
    commit: str
    model: ModelRef
    metrics: dict[str, float] = field(default_factory=dict)
    released_at: datetime = field(default_factory=lambda: datetime(1970, 1, 1, tzinfo=UTC))

    def to_dict(self) -> dict[str, Any]:
        """The pointer as plain data (the YAML layout; ``released_at`` as ISO 8601 text)."""
        return {
            "version": self.version,
            "commit": self.commit,
            "model": self.model.to_dict(),
            "metrics": dict(self.metrics),
            "released_at": format_time(self.released_at),
        }


def format_time(when: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, to the second."""
    return when.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


#: C0/C1 control characters and DEL: never part of a tag, a hash or a path we accept.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _text(s: Section, key: str) -> str:
    value = s.string(key)
    if _CONTROL.search(value):
        s.fail(key, f"contains a control character: {value!r}")
    return value


def _pattern(s: Section, key: str, pattern: re.Pattern[str], what: str) -> str:
    value = _text(s, key)
    if not pattern.fullmatch(value):  # fullmatch: `$` alone lets a trailing newline through
        s.fail(key, f"expected {what}, got {value!r}")
    return value


def _time(s: Section, key: str) -> datetime:
    value = s.data.get(key)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            s.fail(key, f"expected an ISO 8601 time such as 2026-01-31T12:00:00Z, got {value!r}")
    if not isinstance(value, datetime):
        s.fail(key, "expected an ISO 8601 time such as 2026-01-31T12:00:00Z")
    if value.tzinfo is None:
        s.fail(key, "the time has no time zone; write it in UTC with a Z suffix")
    return value.astimezone(UTC)


def _model_path(s: Section, *, inside: str = "inside the repository") -> str:
    """A plain relative POSIX path inside the repository, as ``dvc.yaml`` names outputs."""
    value = _text(s, "path")
    parts = value.split("/")
    plain = (
        value
        and "\\" not in value
        and not value.startswith(("/", "~"))
        and not re.match(r"[A-Za-z]:", value)  # a Windows drive
        and not any(p in ("", ".", "..") for p in parts)
        and ".git" not in (p.lower() for p in parts)
    )
    if not plain:
        s.fail(
            "path",
            f"expected a plain relative path {inside} such as "
            f"{'models/model.pkl' if inside.endswith('repository') else 'config.json'}, "
            f"got {value!r}",
        )
    return value


def _metrics(s: Section) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in s.keys():  # noqa: SIM118 (Section is not iterable)
        if _CONTROL.search(key):
            s.fail(key, f"the metric name contains a control character: {key!r}")
        out[key] = s.number(key)
    return out


def _files(model: Section) -> tuple[ModelFile, ...]:
    """The manifest of a directory model, checked: sorted, unique paths, hashes well formed."""
    files: list[ModelFile] = []
    for entry in model.sections("files"):
        entry.check_keys(_FILE_KEYS)
        files.append(
            ModelFile(
                path=_model_path(entry, inside="inside the model's folder"),
                md5=_pattern(entry, "md5", _MD5, "an md5 (32 hex digits)"),
                sha256=_pattern(entry, "sha256", _SHA256, "a sha256 (64 hex digits)"),
                size=entry.integer("size", min=0),
            )
        )
    if not files:
        model.fail("files", "a directory model lists at least one file")
    paths = [f.path for f in files]
    for i in range(1, len(paths)):
        if paths[i] <= paths[i - 1]:
            model.fail(
                "files",
                f"entries must be sorted by path without repeats ({paths[i - 1]!r} then "
                f"{paths[i]!r}); `mlgate release` writes them so",
            )
        if paths[i].startswith(paths[i - 1] + "/"):
            model.fail("files", f"{paths[i - 1]!r} is both a file and a folder")
    return tuple(files)


def _model_ref(model: Section) -> ModelRef:
    path = _model_path(model)
    md5 = _text(model, "md5")
    if _DIR_MD5.fullmatch(md5):
        if "files" not in model:
            model.fail("files", "missing: a directory model (md5 ending in .dir) lists its files")
        files = _files(model)
        ref = ModelRef(
            path=path,
            md5=md5,
            sha256=_pattern(model, "sha256", _SHA256, "a sha256 (64 hex digits)"),
            size=model.integer("size", min=0),
            files=files,
        )
        if ref.size != sum(f.size for f in files):
            model.fail(
                "size", f"{ref.size} is not the total of the files ({sum(f.size for f in files)})"
            )
        if ref.sha256 != manifest_sha256(files):
            model.fail(
                "sha256",
                f"{ref.sha256} is not the sha256 of the manifest ({manifest_sha256(files)}): "
                "the file list was edited",
            )
        return ref
    if "files" in model:
        model.fail("files", "only a directory model (md5 ending in .dir) lists files")
    return ModelRef(
        path=path,
        md5=_pattern(model, "md5", _MD5, "an md5 (32 hex digits, or 32 then .dir for a folder)"),
        sha256=_pattern(model, "sha256", _SHA256, "a sha256 (64 hex digits)"),
        size=model.integer("size", min=0),
    )


def parse_pointer(text: bytes | str, source: str) -> Pointer:
    """Parse and validate a pointer; errors name ``source`` and the field at fault.

    >>> p = parse_pointer(dumps_pointer(example_pointer()), "example")
    >>> p.version
    'v1.0.0'
    """
    data = simpleyaml.load(text)  # exact and fast for what mlgate writes (history reads 1000s)
    if data is simpleyaml.NOT_SIMPLE:
        data = loads_yaml(text, source)
    if data is None:  # no suggestion here: read_pointer knows the repository and adds one
        raise ConfigError(f"{source}: empty pointer file")
    root = Section.root(data, file=source)
    root.check_keys(_KEYS)
    model = root.section("model")
    model.check_keys(_MODEL_KEYS)
    version = _text(root, "version")
    if not is_release_tag(version) or "\n" in version:
        root.fail(
            "version",
            f"expected a release tag v<semver> or NAME@v<semver> such as v1.2.0, got {version!r}",
        )
    metrics = root.optional_section("metrics")
    return Pointer(
        version=version,
        commit=_pattern(root, "commit", _SHA, "a full commit SHA (40 hex digits)"),
        model=_model_ref(model),
        metrics=_metrics(metrics) if metrics is not None else {},
        released_at=_time(root, "released_at"),
    )


_HEADER = (
    "# The model in production. Written by `mlgate release`, reverted by `mlgate rollback`;\n"
    "# `mlgate history` reads its git log. Format: deploy/README.md. Do not edit by hand.\n"
)


def dumps_pointer(pointer: Pointer) -> str:
    """The YAML text of a pointer (with a short header comment)."""
    return _HEADER + dumps_yaml(pointer.to_dict())


def read_pointer(repo: Repo, rev: str = WORKTREE, *, path: str = POINTER_PATH) -> Pointer | None:
    """The pointer at ``rev`` (the working tree by default); None when there is none yet."""
    data = repo.show(rev, path)
    if data is None:
        return None
    source = path if rev == WORKTREE else f"{rev}:{path}"
    try:
        return parse_pointer(data, source)
    except ConfigError as exc:
        raise ConfigError(f"{exc}; {restore_hint(repo, rev, path)}") from exc


def restore_hint(repo: Repo, rev: str, path: str) -> str:
    """A command that puts a valid pointer back, for an invalid one at ``rev``.

    ``mlgate rollback`` itself reads the pointer first, so it cannot be the fix: the
    suggestion is plain git, chosen for the state the repository is in (an uncommitted
    edit, or a committed one with a valid pointer further back, or none at all).
    """
    from mlgate.deploy.history import history

    base = "HEAD" if rev == WORKTREE else rev
    if not repo.rev_exists(base):
        return f"delete it (`rm {path}`) and release with `mlgate release vX.Y.Z`"
    committed = repo.show(base, path)
    if rev == WORKTREE and committed is not None and committed != repo.show(WORKTREE, path):
        try:
            parse_pointer(committed, f"{base}:{path}")
        except ConfigError:
            pass
        else:
            return f"restore the committed pointer with `git checkout {base} -- {path}`"
    good = next((e for e in history(repo, rev=base, path=path) if e.pointer is not None), None)
    if good is None:
        return (
            f"no commit holds a valid {path}: remove it with "
            f"`git rm -q -f {path} && git commit -q -m 'remove invalid pointer' -- {path}`, "
            "then release with `mlgate release vX.Y.Z`"
        )
    sha = good.change_commit[:12]
    return (
        f"the last valid pointer ({good.version}) is at commit {sha}; restore it with "
        f"`git checkout {sha} -- {path} && git commit -q -m 'restore {path} ({good.version})' "
        f"-- {path}`"
    )


def write_pointer(path: str | os.PathLike[str], pointer: Pointer) -> None:
    """Write ``pointer`` to ``path`` atomically (temporary file + rename)."""
    write_text(path, dumps_pointer(pointer))


def example_pointer() -> Pointer:
    """A valid pointer, for documentation and tests."""
    return Pointer(
        version="v1.0.0",
        commit="0" * 40,
        model=ModelRef(path="models/model.pkl", md5="0" * 32, sha256="0" * 64, size=0),
        metrics={"accuracy": 0.5},
        released_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def servable(pointer: Pointer) -> Pointer:
    """The pointer as serving sees it: a directory model's one skops file, as a file pointer.

    ``mlgate serve`` loads skops files only. A file model is returned as it is (the loader
    judges its bytes); a directory model must hold exactly one ``.skops`` file, which is then
    named as the model (its path, md5, sha256 and size from the manifest). Raises ConfigError
    with one line otherwise.
    """
    ref = pointer.model
    if not ref.is_dir:
        return pointer
    found = [f for f in ref.files if f.path.lower().endswith(".skops")]
    if len(found) != 1:
        what = "no .skops file" if not found else f"{len(found)} .skops files"
        raise ConfigError(
            f"{pointer.version}: the model {ref.path}/ is a folder with {what}; mlgate serve "
            "serves only skops models: a folder must hold exactly one .skops file (write it "
            "with `skops.io.dump(model, 'model.skops')`), or serve this model with its own "
            "runtime and use mlgate for release, rollback and pull-model"
        )
    one = found[0]
    return replace(
        pointer,
        model=ModelRef(
            path=f"{ref.path}/{one.path}", md5=one.md5, sha256=one.sha256, size=one.size
        ),
    )


def check_servable(repo: Repo, ref: str | None, path: str) -> None:
    """Refuse to start serving a pointer ``servable`` rejects (ConfigError, exit code 2).

    Reads ``path`` at the tip of ``ref`` (default: the default branch) of a local
    repository. Nothing released yet, or a branch that cannot be read, passes: the
    reconcile loop reports those while it waits.
    """
    from mlgate.errors import MlgateError

    try:
        branch = ref or repo.default_branch()
        if branch is None or not repo.rev_exists(branch):
            return
        pointer = read_pointer(repo, repo.resolve(branch), path=path)
    except MlgateError:
        return  # the reconcile loop says what is wrong with it, and keeps retrying
    if pointer is not None:
        servable(pointer)
