"""Declarations of a project whose ``dvc.yaml`` files use templating, resolved by DVC itself.

``${...}`` interpolation from ``vars`` and params files, ``foreach`` and ``matrix`` stages are
DVC's language (https://dvc.org/doc/user-guide/project-structure/dvcyaml-files#templating);
rather than reimplement it, DVC's index is opened at the revision (a git filesystem, no
checkout) and asked which outputs are metrics, which top-level metrics each ``dvc.yaml``
lists, and what ``dvc.lock`` records for every output. Importing DVC costs about half a
second, so this runs only for projects that need it.
"""

from __future__ import annotations

import os
from pathlib import Path

from mlgate.errors import ConfigError
from mlgate.git import WORKTREE
from mlgate.metrics.layout import LEGACY_HASH, Layout, LockedOut, artifact, join


def resolve_layout(root: Path, rev: str, *, label: str) -> Layout:
    """The :class:`Layout` DVC sees at ``rev`` (``WORKTREE``: the working tree)."""
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    try:
        repo = DvcRepo(str(root)) if rev == WORKTREE else DvcRepo(str(root), rev=rev)
    except DvcException as exc:
        raise ConfigError(f"{label}: DVC cannot open the project: {exc}") from exc
    try:
        return _layout(repo)
    except DvcException as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(f"{label}: DVC cannot resolve dvc.yaml: {first}") from exc
    finally:
        repo.close()


def _layout(repo: object) -> Layout:
    fs = repo.fs  # type: ignore[attr-defined]
    root = repo.root_dir  # type: ignore[attr-defined]
    index = repo.index  # type: ignore[attr-defined]

    def rel(path: str) -> str:
        return join(fs.relpath(path, root).replace(os.sep, "/"))

    metrics = [rel(out.fs_path) for out in index.metrics]
    files = []
    for dvcfile, entries in index._metrics.items():  # top-level `metrics:` per dvc.yaml
        folder = rel(fs.parent(dvcfile))
        files.append(rel(dvcfile))
        metrics.extend(join(folder, str(e).replace(os.sep, "/")) for e in entries)
    outs = []
    for out in index.outs:
        info = out.hash_info
        if info and info.value:
            outs.append(LockedOut(rel(out.fs_path), str(info.value), info.name == LEGACY_HASH))
    artifacts = []
    for dvcfile, entries in index._artifacts.items():  # `artifacts:` per dvc.yaml, resolved
        folder = rel(fs.parent(dvcfile))
        for name, body in (entries or {}).items():
            if (found := artifact(folder, name, body)) is not None:
                artifacts.append(found)
    return Layout(tuple(dict.fromkeys(metrics)), tuple(outs), tuple(files), tuple(artifacts))
