"""The values validation returns: findings, per-column figures, the result, thresholds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

METRICS_VERSION = 1
MEASURES = ("psi", "ks")


@dataclass(frozen=True)
class Limit:
    """``warn`` and ``fail`` levels of one drift measure; ``None`` turns a level off."""

    warn: float | None = None
    fail: float | None = None

    def level(self, value: float) -> str | None:
        if self.fail is not None and value > self.fail:
            return "violation"
        if self.warn is not None and value > self.warn:
            return "warning"
        return None


@dataclass(frozen=True)
class Thresholds:
    """Drift thresholds from the ``validate:`` section of params.yaml."""

    psi: Limit = Limit(warn=0.1, fail=0.25)
    ks: Limit = Limit(warn=0.1, fail=0.2)
    psi_floor: float = 1e-4
    columns: dict[str, dict[str, Limit]] = field(default_factory=dict)

    def limit(self, column: str, measure: str) -> Limit:
        override = self.columns.get(column, {}).get(measure)
        if override is not None:
            return override
        return self.psi if measure == "psi" else self.ks


@dataclass(frozen=True)
class Example:
    row: int
    value: str


@dataclass(frozen=True)
class Finding:
    """One failed check: a violation (exit 1) or a warning; ``rows`` is how many rows fail
    (None for drift, a measure of the whole column)."""

    check: str
    column: str | None
    level: str
    rows: int | None
    message: str
    examples: tuple[Example, ...] = ()
    score: float | None = None

    def describe(self) -> str:
        """One line: ``column 'x': range: 3 values outside [0, 10] (row 4: -1.0, ...)``."""
        where = f"column {self.column!r}" if self.column is not None else "table"
        examples = ", ".join(f"row {e.row}: {e.value}" for e in self.examples)
        return f"{where}: {self.check}: {self.message}" + (f" ({examples})" if examples else "")

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "check": self.check,
            "column": self.column,
            "level": self.level,
            "rows": self.rows,
            "message": self.message,
            "examples": [{"row": e.row, "value": e.value} for e in self.examples],
        }
        if self.score is not None:
            out["score"] = self.score
        return out


@dataclass(frozen=True)
class ColumnReport:
    """Per-column figures: the type found, nulls, and drift scores (None: not measured)."""

    name: str
    dtype: str
    nulls: int
    null_rate: float
    psi: float | None = None
    ks: float | None = None


@dataclass(frozen=True)
class ValidationResult:
    source: str
    rows: int
    columns: tuple[ColumnReport, ...]
    findings: tuple[Finding, ...]

    @property
    def violations(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "violation")

    @property
    def warnings(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level == "warning")

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_metrics(self) -> dict[str, Any]:
        """The whole validation document (``schema_version`` 1): what ``validate --json``
        prints; the stage splits it in two files (:func:`split_metrics`)."""
        columns: dict[str, Any] = {}
        for c in self.columns:
            entry: dict[str, Any] = {"null_rate": c.null_rate}
            if c.psi is not None:
                entry["psi"] = c.psi
            if c.ks is not None:
                entry["ks"] = c.ks
            columns[c.name] = entry
        psis = [c.psi for c in self.columns if c.psi is not None]
        kss = [c.ks for c in self.columns if c.ks is not None]
        return {
            "schema_version": METRICS_VERSION,
            "source": self.source,
            "rows": self.rows,
            "violations": len(self.violations),
            "warnings": len(self.warnings),
            "drift": {"max_psi": max(psis, default=0.0), "max_ks": max(kss, default=0.0)},
            "columns": columns,
            "findings": [f.to_json() for f in self.findings],
        }


#: What stays in the DVC metrics file: figures that read well in ``dvc metrics show`` and
#: ``mlgate diff``. The per-column table and the findings go to the companion file.
DETAIL_KEYS = ("columns", "findings")


def columns_file(metrics_file: str) -> str:
    """The companion of a validation metrics file, beside it.

    >>> columns_file("metrics/validation.json")
    'metrics/validation_columns.json'
    """
    path = PurePosixPath(metrics_file)
    return str(path.with_name(f"{path.stem}_columns{path.suffix}"))


def split_metrics(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the metrics file: counts and drift maxima; the companion: per-column figures and the
    findings), so ``dvc metrics show`` stays one short line per file."""
    headline = {k: v for k, v in document.items() if k not in DETAIL_KEYS}
    details = {
        "schema_version": document.get("schema_version", METRICS_VERSION),
        **{k: document[k] for k in DETAIL_KEYS if k in document},
    }
    return headline, details


def join_metrics(headline: dict[str, Any], details: dict[str, Any] | None) -> dict[str, Any]:
    """The whole document again (what the report renders); ``details`` None: headline only."""
    if not isinstance(details, dict):
        return dict(headline)
    return {**headline, **{k: details[k] for k in DETAIL_KEYS if k in details}}


def read_validation(
    read: Callable[[str], bytes | None], metrics_file: str, *, source: Callable[[str], str] = str
) -> dict[str, Any] | None:
    """The whole validation document of a revision: ``metrics_file`` joined with its
    companion (:func:`columns_file`, absent before the split: headline only); None when
    ``read`` finds no metrics file. ``source`` names a path in error messages."""
    from mlgate.fileio import loads_json

    raw = read(metrics_file)
    headline = loads_json(raw, source(metrics_file)) if raw is not None else None
    if not isinstance(headline, dict):
        return None
    companion = columns_file(metrics_file)
    raw_details = read(companion)
    details = loads_json(raw_details, source(companion)) if raw_details is not None else None
    return join_metrics(headline, details if isinstance(details, dict) else None)
