"""Validate a CSV or Parquet file against a schema and a reference profile, streaming.

>>> result = validate_file("data/new.csv", schema=load_schema("data/schema.yaml"))  # doctest: +SKIP
>>> result.passed, len(result.violations), result.to_metrics()["rows"]  # doctest: +SKIP

A violation (exit code 1) is a schema check that fails or drift beyond its ``fail``
threshold; a warning (exit code 0) is drift beyond ``warn`` or an extra column when the
schema says ``extra_columns: warn``. Unreadable input raises :class:`DataError`.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from mlgate.config import Section, load_params
from mlgate.data.checks import ColumnCheck
from mlgate.data.findings import summarise
from mlgate.data.profile import Profile, check_profile, load_profile
from mlgate.data.reader import Progress, open_table, with_retypes
from mlgate.data.result import (
    MEASURES,
    ColumnReport,
    Example,
    Finding,
    Limit,
    Thresholds,
    ValidationResult,
)
from mlgate.data.schema import Schema, load_schema

#: Columns read from a Parquet row group at once (at least one per worker thread).
COLUMNS_PER_READ = 4


@dataclass(frozen=True)
class Settings:
    """The ``validate:`` section: where the schema and profile live, and the thresholds."""

    schema: str = "data/schema.yaml"
    profile: str = "data/reference_profile.json"
    thresholds: Thresholds = field(default_factory=Thresholds)


def _limit(s: Section, default: Limit) -> Limit:
    s.check_keys(["warn", "fail"])
    warn = s.optional_number("warn", min=0) if "warn" in s else default.warn
    fail = s.optional_number("fail", min=0) if "fail" in s else default.fail
    if warn is not None and fail is not None and warn > fail:
        s.fail("warn", f"warn {warn:g} is above fail {fail:g}")
    return Limit(warn=warn, fail=fail)


def parse_settings(section: Section | None) -> Settings:
    """Parse ``validate:`` (every key optional); errors name the key."""
    if section is None:
        return Settings()
    section.check_keys(["schema", "profile", "psi", "ks", "psi_floor", "columns"])
    base = Thresholds()
    psi = _limit(section.section("psi"), base.psi) if "psi" in section else base.psi
    ks = _limit(section.section("ks"), base.ks) if "ks" in section else base.ks
    columns: dict[str, dict[str, Limit]] = {}
    per_column = section.optional_section("columns")
    for name in per_column.keys() if per_column is not None else []:
        assert per_column is not None
        col = per_column.section(name)
        col.check_keys(list(MEASURES))
        columns[name] = {
            m: _limit(col.section(m), psi if m == "psi" else ks) for m in MEASURES if m in col
        }
    return Settings(
        schema=section.string("schema", Settings.schema),
        profile=section.string("profile", Settings.profile),
        thresholds=Thresholds(
            psi=psi,
            ks=ks,
            psi_floor=section.number("psi_floor", base.psi_floor, min=1e-12, max=0.1),
            columns=columns,
        ),
    )


def load_settings(params: str | Path = "params.yaml") -> Settings:
    """Settings from ``params`` (defaults when the file or the section is absent)."""
    if not Path(params).is_file():
        return Settings()
    return parse_settings(load_params(params).optional_section("validate"))


def paired_profile(schema: str | Path, *, settings: Settings, root: Path) -> Path:
    """The reference profile that goes with ``schema``: ``validate.profile`` for the schema
    ``validate.schema`` names (paths in params.yaml are relative to ``root``), otherwise
    ``<schema name>.profile.json`` beside it, so two schemas never share a profile.

    >>> paired_profile("other/s2.yaml", settings=Settings(), root=Path("/nowhere"))
    PosixPath('other/s2.profile.json')
    """
    if os.path.realpath(schema) == os.path.realpath(root / settings.schema):
        return root / settings.profile
    path = Path(schema)
    return path.with_name(f"{path.stem}.profile.json")


def load_inputs(schema_path: str, profile_path: str | None) -> tuple[Schema, Profile | None]:
    """Read the schema and (when given) the profile, and check they describe the same data."""
    schema = load_schema(schema_path)
    if profile_path is None:
        return schema, None
    profile = load_profile(profile_path)
    check_profile(profile, schema, source=profile_path)
    return schema, profile


def validate_file(
    path: str,
    *,
    schema: Schema,
    profile: Profile | None = None,
    thresholds: Thresholds | None = None,
    progress: Progress | None = None,
) -> ValidationResult:
    """Stream ``path`` through every check of ``schema`` and the drift measures."""
    thresholds = thresholds or Thresholds()
    if profile is not None:
        check_profile(profile, schema, source="the reference profile")
    types = {name: spec.dtype for name, spec in schema.columns.items()}
    workers = max(1, min(4, os.cpu_count() or 1))

    def run(as_text: frozenset[str]) -> tuple[list[str], int, dict[str, ColumnCheck]]:
        table = open_table(path, types=types, as_text=as_text, progress=progress)
        checks = {
            name: ColumnCheck(spec, profile.columns.get(name) if profile else None)
            for name, spec in schema.columns.items()
            if name in table.names
        }
        rows = 0
        # numpy and pyarrow release the GIL: columns are checked in parallel threads, a few
        # columns of a row group at a time (one per thread: bounded memory)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for offset, piece in table.pieces(max(workers, COLUMNS_PER_READ)):
                jobs = [
                    pool.submit(checks[name].update, piece.column(j), offset)
                    for j, name in enumerate(piece.schema.names)
                    if name in checks
                ]
                for job in jobs:
                    job.result()
                rows = max(rows, offset + piece.num_rows)
                del piece, jobs  # freed before the reader reads the next columns
        for check in checks.values():
            check.finish_unique()
        return table.names, rows, checks

    names, rows, checks = with_retypes(run)
    columns, findings = summarise(
        schema=schema, names=names, rows=rows, checks=checks, thresholds=thresholds
    )
    return ValidationResult(
        source=path, rows=rows, columns=tuple(columns), findings=tuple(findings)
    )


__all__ = [
    "ColumnReport",
    "Example",
    "Finding",
    "Limit",
    "Settings",
    "Thresholds",
    "ValidationResult",
    "load_inputs",
    "load_settings",
    "paired_profile",
    "parse_settings",
    "validate_file",
]
