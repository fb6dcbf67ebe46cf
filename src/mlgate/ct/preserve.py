"""Put a pipeline's files back as they were: what ``mlgate ct --dry-run`` retrains inside.

A dry run runs ``dvc repro`` for real (the gate needs the retrained model), then restores
every file the pipeline may have written (each stage's outputs, ``dvc.lock``, the
``.gitignore`` files DVC keeps beside outputs) byte for byte and with their modification
times, so neither ``git status`` nor ``dvc status`` can tell a dry run happened.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from mlgate.errors import DataError


def pipeline_files(root: Path) -> list[str]:
    """The files ``dvc repro`` in ``root`` may write, relative to ``root``.

    Outputs as DVC resolves them (every ``dvc.yaml``, templating, ``foreach``), then
    ``dvc.lock`` and the ``.gitignore`` beside each output.
    """
    from dvc.exceptions import DvcException
    from dvc.repo import Repo as DvcRepo

    try:
        with DvcRepo(str(root)) as dvc:
            outs = [
                os.path.relpath(out.fs_path, root)
                for stage in dvc.index.stages
                for out in stage.outs
            ]
            # repro writes dvc.lock beside a dvc.yaml, and rewrites a .dvc file itself
            files = [
                _written_dvcfile(os.path.relpath(s.dvcfile.path, root)) for s in dvc.index.stages
            ]
    except DvcException as exc:
        raise DataError(
            f"dvc.yaml: DVC cannot read the pipeline ({exc}); fix it, then rerun"
        ) from exc
    ignores = [os.path.join(os.path.dirname(p), ".gitignore") for p in outs]
    return sorted({os.path.normpath(p) for p in (*outs, *files, *ignores)})


def _written_dvcfile(path: str) -> str:
    if os.path.basename(path) in ("dvc.yaml", "dvc.yml"):
        return os.path.join(os.path.dirname(path), "dvc.lock")
    return path


@contextmanager
def preserved(root: Path, paths: Iterable[str]) -> Iterator[None]:
    """Inside the block anything may happen to ``paths``; after it, they are as before
    (files and folders restored with their times, paths that did not exist removed)."""
    with tempfile.TemporaryDirectory(prefix="mlgate-dry-run-") as tmp:
        saved: dict[str, bool] = {}
        for rel in paths:
            src, copy = root / rel, Path(tmp) / rel
            saved[rel] = os.path.lexists(src)
            if src.is_dir() and not src.is_symlink():
                shutil.copytree(src, copy, symlinks=True)
            elif saved[rel]:
                copy.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, copy, follow_symlinks=False)
        try:
            yield
        finally:
            for rel, existed in saved.items():
                _remove(root / rel)
                if existed:
                    _put_back(Path(tmp) / rel, root / rel)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def _put_back(copy: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    if copy.is_dir() and not copy.is_symlink():
        shutil.copytree(copy, dest, symlinks=True)
        shutil.copystat(copy, dest)
    else:
        shutil.copy2(copy, dest, follow_symlinks=False)
