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
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mlgate.config import Section, dumps_yaml, loads_yaml
from mlgate.errors import ConfigError
from mlgate.fileio import write_text
from mlgate.git import WORKTREE, Repo
from mlgate.models import SINGLE_POINTER, parse_tag

#: The pointer of a repository's only model (others: :attr:`mlgate.models.Model.pointer`).
POINTER_PATH = SINGLE_POINTER

#: ``v`` + semantic version 2.0.0 (https://semver.org/#is-there-a-suggested-regular-expression-regex-to-check-a-semver-string).
SEMVER_TAG = re.compile(
    r"^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?$"
)
_SHA = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")
_MD5 = re.compile(r"^[0-9a-f]{32}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_KEYS = ("version", "commit", "model", "metrics", "released_at")
_MODEL_KEYS = ("path", "md5", "sha256", "size")


def is_release_tag(name: str) -> bool:
    """True for ``v<semver>`` tags (``v1.2.0``, ``v2.0.0-rc.1``) and GTO's ``NAME@v1.2.0``."""
    return parse_tag(name) is not None


@dataclass(frozen=True)
class ModelRef:
    """The model file a pointer names: its path in the repo and its hashes."""

    path: str
    md5: str
    sha256: str
    size: int


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
            "model": {
                "path": self.model.path,
                "md5": self.model.md5,
                "sha256": self.model.sha256,
                "size": self.model.size,
            },
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


def _model_path(s: Section) -> str:
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
            f"expected a plain relative path inside the repository such as "
            f"models/model.pkl, got {value!r}",
        )
    return value


def _metrics(s: Section) -> dict[str, float]:
    out: dict[str, float] = {}
    for key in s.keys():  # noqa: SIM118 (Section is not iterable)
        if _CONTROL.search(key):
            s.fail(key, f"the metric name contains a control character: {key!r}")
        out[key] = s.number(key)
    return out


def parse_pointer(text: bytes | str, source: str) -> Pointer:
    """Parse and validate a pointer; errors name ``source`` and the field at fault.

    >>> p = parse_pointer(dumps_pointer(example_pointer()), "example")
    >>> p.version
    'v1.0.0'
    """
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
        model=ModelRef(
            path=_model_path(model),
            md5=_pattern(model, "md5", _MD5, "an md5 (32 hex digits)"),
            sha256=_pattern(model, "sha256", _SHA256, "a sha256 (64 hex digits)"),
            size=model.integer("size", min=0),
        ),
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
