"""The production-performance log, ``metrics/monitoring.json`` (git-tracked, append-only).

Each CT cycle scores the live model on the held-out rows of the newest batch and appends
one record, so ``git log -p metrics/monitoring.json`` is the model's performance over time.
It is not a DVC metrics file: its list shape would make ``dvc metrics diff`` noisy.

Shape (``schema_version`` 1)::

    {"schema_version": 1,
     "records": [{"time": "2026-11-25T10:00:00Z", "version": "v1.1.0", "commit": "<sha>",
                  "batch": "batch_003.csv", "rows": 61,
                  "metrics": {"accuracy": 0.95, "roc_auc": 0.99, ...}}]}
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlgate.errors import DataError

MONITORING_PATH = "metrics/monitoring.json"
VERSION = 1


@dataclass(frozen=True)
class Record:
    """The live model's scores on one batch's held-out rows."""

    time: str
    version: str
    commit: str
    batch: str
    rows: int
    metrics: dict[str, float] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "version": self.version,
            "commit": self.commit,
            "batch": self.batch,
            "rows": self.rows,
            "metrics": dict(self.metrics),
        }


def parse_log(data: Any, *, source: str) -> list[Record]:
    """Validate a parsed monitoring log; errors name ``source`` and the record."""
    if not isinstance(data, dict) or not isinstance(data.get("records"), list):
        raise DataError(f"{source}: expected an object with a list `records`")
    out = []
    for i, item in enumerate(data["records"]):
        try:
            metrics = item["metrics"]
            ok = isinstance(metrics, dict) and all(
                isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)
                for v in metrics.values()
            )
            if not ok:
                raise TypeError("metrics")
            out.append(
                Record(
                    time=str(item["time"]),
                    version=str(item["version"]),
                    commit=str(item["commit"]),
                    batch=str(item["batch"]),
                    rows=int(item["rows"]),
                    metrics={str(k): float(v) for k, v in metrics.items()},
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{source}: records[{i}]: expected time, version, commit, batch, rows and "
                f"numeric metrics ({exc})"
            ) from exc
    return out


def read_log(path: Path) -> list[Record]:
    """The records in ``path``; an absent file is an empty log."""
    from mlgate.fileio import read_json

    if not path.is_file():
        return []
    return parse_log(read_json(path), source=str(path))


def append(records: list[Record], record: Record) -> list[Record]:
    """``records`` plus ``record``, unless the last record is the same version and batch
    (a cycle that is run again must not log twice).

    >>> r = Record("t", "v1.0.0", "c", "b.csv", 10, {"f1": 0.9})
    >>> len(append(append([], r), r))
    1
    """
    if records and (records[-1].version, records[-1].batch) == (record.version, record.batch):
        return [*records[:-1], record]
    return [*records, record]


def write_log(path: Path, records: list[Record]) -> None:
    from mlgate.fileio import write_json

    write_json(path, {"schema_version": VERSION, "records": [r.to_json() for r in records]})
