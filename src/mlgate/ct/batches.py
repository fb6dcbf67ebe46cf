"""Batches of new labeled data: discovery, the training window, and the manifest.

New data arrives as files (CSV or Parquet) in the folder ``ct.source``; their names sort in
arrival order (``batch_001.csv``, ``2026-11-25.parquet``, ...). The validate stage trains
on the reference data (``data.path``) plus the batches in the window and writes
``data/batches.json``, a git-tracked manifest of every batch it saw and whether it trained
on it. So "is there new data?" needs only git and the folder: a batch is new when the
manifest at HEAD does not list it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlgate.errors import DataError

if TYPE_CHECKING:
    import pandas as pd

    from mlgate.ct.params import CtParams
    from mlgate.git import Repo
    from mlgate.ml.dataset import DataParams

MANIFEST_PATH = "data/batches.json"
SUFFIXES = (".csv", ".parquet")
MANIFEST_VERSION = 1


@dataclass(frozen=True)
class BatchEntry:
    """One batch file the pipeline saw: its name in the source folder, md5, rows, use."""

    name: str
    md5: str
    rows: int
    trained: bool

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "md5": self.md5, "rows": self.rows, "trained": self.trained}


@dataclass(frozen=True)
class Manifest:
    """``data/batches.json``: the source folder, the window, and every batch seen."""

    source: str
    window: str
    batches: tuple[BatchEntry, ...] = ()

    @property
    def names(self) -> frozenset[str]:
        return frozenset(b.name for b in self.batches)

    @property
    def trained(self) -> tuple[str, ...]:
        return tuple(b.name for b in self.batches if b.trained)

    def to_json(self) -> dict[str, Any]:
        return {
            "schema_version": MANIFEST_VERSION,
            "source": self.source,
            "window": self.window,
            "batches": [b.to_json() for b in self.batches],
        }


def list_batches(root: Path, source: str) -> list[str]:
    """Names of the batch files in ``root/source``, sorted (missing folder: none)."""
    folder = root / source
    if not folder.is_dir():
        return []
    return sorted(
        p.name
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in SUFFIXES and not p.name.startswith(".")
    )


def select_window(names: Sequence[str], window: int | None) -> list[str]:
    """The batches training uses: all of them (``None``), or the newest ``window``.

    >>> select_window(["a.csv", "b.csv", "c.csv"], 2)
    ['b.csv', 'c.csv']
    >>> select_window(["a.csv"], 0)
    []
    """
    names = sorted(names)
    if window is None:
        return names
    return names[len(names) - window :] if window > 0 else []


def new_batches(available: Sequence[str], manifest: Manifest | None) -> list[str]:
    """Batches in the folder that the manifest does not list, oldest first."""
    seen = manifest.names if manifest is not None else frozenset()
    return sorted(n for n in available if n not in seen)


def parse_manifest(data: Any, *, source: str) -> Manifest:
    """Validate a parsed ``data/batches.json``; errors name ``source`` and the field."""
    if not isinstance(data, dict) or not isinstance(data.get("batches"), list):
        raise DataError(f"{source}: expected an object with a list `batches`; rerun `dvc repro`")
    entries = []
    for i, item in enumerate(data["batches"]):
        ok = (
            isinstance(item, dict)
            and isinstance(item.get("name"), str)
            and isinstance(item.get("md5"), str)
            and isinstance(item.get("rows"), int)
            and isinstance(item.get("trained"), bool)
        )
        if not ok:
            raise DataError(
                f"{source}: batches[{i}]: expected name, md5, rows and trained; rerun `dvc repro`"
            )
        entries.append(BatchEntry(item["name"], item["md5"], item["rows"], item["trained"]))
    return Manifest(str(data.get("source", "")), str(data.get("window", "all")), tuple(entries))


def read_manifest(repo: Repo, rev: str = "HEAD") -> Manifest | None:
    """The manifest at ``rev`` (``WORKTREE`` for the working tree); None when there is none."""
    from mlgate.fileio import loads_json

    raw = repo.show(rev, MANIFEST_PATH) if repo.rev_exists(rev) or rev == "workspace" else None
    if raw is None:
        return None
    return parse_manifest(
        loads_json(raw, f"{rev}:{MANIFEST_PATH}"), source=f"{rev}:{MANIFEST_PATH}"
    )


def file_md5(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, lambda: hashlib.md5(usedforsecurity=False)).hexdigest()


def read_batch(path: Path) -> pd.DataFrame:
    """One batch file as a DataFrame (CSV or Parquet); errors name the file."""
    from mlgate.ml.dataset import read_table

    return read_table(str(path))


def training_frame(root: Path, data: DataParams, ct: CtParams) -> tuple[pd.DataFrame, Manifest]:
    """The reference data plus the batches in the window, and the manifest describing them.

    Columns must match the reference data's; a ``row_id`` seen twice is a DataError (the
    split and the paired gate rely on unique keys).
    """
    import pandas as pd

    from mlgate.ml.dataset import read_table

    frames = [read_table(str(root / data.path))]
    columns = list(frames[0].columns)
    names = list_batches(root, ct.source)
    used = set(select_window(names, ct.window))
    entries = []
    for name in names:
        path = root / ct.source / name
        if name in used:
            frame = read_batch(path)
            if sorted(frame.columns) != sorted(columns):
                missing = sorted(set(columns) - set(frame.columns))
                extra = sorted(set(frame.columns) - set(columns))
                raise DataError(
                    f"{ct.source}/{name}: columns differ from {data.path} "
                    f"(missing {missing or 'none'}, unexpected {extra or 'none'}); fix the batch"
                )
            frames.append(frame[columns])
            rows = len(frame)
        else:
            rows = _count_rows(path)
        entries.append(BatchEntry(name, file_md5(path), rows, name in used))
    combined = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0]
    dup = combined[data.id_column].duplicated()
    if dup.any():
        ids = combined.loc[dup, data.id_column].head(5).tolist()
        raise DataError(
            f"{ct.source}: {int(dup.sum())} rows repeat a {data.id_column} already in the "
            f"training data (e.g. {ids}); give new rows new keys"
        )
    manifest = Manifest(ct.source, ct.window_label, tuple(entries))
    return combined, manifest


def _count_rows(path: Path) -> int:
    if path.suffix.lower() == ".parquet":
        import pyarrow.parquet as pq

        return int(pq.ParquetFile(path).metadata.num_rows)
    with path.open("rb") as handle:
        return max(sum(1 for line in handle if line.strip()) - 1, 0)


def write_manifest(path: str | Path, manifest: Manifest) -> None:
    from mlgate.fileio import write_json

    write_json(path, manifest.to_json())
