"""The reference profile: what the reference data looked like, for drift checks.

``data/reference_profile.json`` holds per column either quantile bins (numbers: the interior
bin edges and the reference share of rows in each bin) or category shares (strings,
low-cardinality integers, booleans). Drift of new data is measured on these bins, so it
needs one streaming pass and never the reference data itself.
"""

from __future__ import annotations

import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any

from mlgate.data.schema import Schema
from mlgate.errors import DataError
from mlgate.fileio import loads_json, read_file, write_json

PROFILE_VERSION = 1
REGENERATE = (
    "regenerate the pair with `mlgate schema infer DATA --force` (then review the schema again)"
)


@dataclass(frozen=True)
class ColumnProfile:
    """Reference distribution of one column.

    ``kind == "numeric"``: ``edges`` (increasing interior edges; bin ``i`` holds values in
    ``(edges[i-1], edges[i]]``, the outer bins are open) and ``frequencies`` (one share per
    bin). ``kind == "categorical"``: ``categories`` (value as text -> share) and ``other``
    (the share of values outside the listed categories).
    """

    kind: str
    null_fraction: float = 0.0
    edges: tuple[float, ...] = ()
    frequencies: tuple[float, ...] = ()
    categories: dict[str, float] = field(default_factory=dict)
    other: float = 0.0


@dataclass(frozen=True)
class Profile:
    """``columns``: every schema column but keys (``unique: true``) and ``unprofiled`` ones
    (no value in the reference data to profile)."""

    rows: int
    columns: dict[str, ColumnProfile]
    source: str = ""
    unprofiled: tuple[str, ...] = ()


def profile_to_json(profile: Profile) -> dict[str, Any]:
    """The JSON document (``schema_version`` 1) of a profile."""
    columns: dict[str, Any] = {}
    for name, col in profile.columns.items():
        entry: dict[str, Any] = {"kind": col.kind, "null_fraction": col.null_fraction}
        if col.kind == "numeric":
            entry["edges"] = list(col.edges)
            entry["frequencies"] = list(col.frequencies)
        else:
            entry["categories"] = dict(col.categories)
            entry["other"] = col.other
        columns[name] = entry
    doc: dict[str, Any] = {
        "schema_version": PROFILE_VERSION,
        "source": profile.source,
        "rows": profile.rows,
        "columns": columns,
    }
    if profile.unprofiled:
        doc["unprofiled"] = list(profile.unprofiled)
    return doc


def write_profile(path: str | os.PathLike[str], profile: Profile) -> None:
    write_json(path, profile_to_json(profile))


def _fail(source: str, where: str, message: str) -> DataError:
    return DataError(f"{source}: {where}: {message}; {REGENERATE}")


def _shares(values: Any, source: str, where: str) -> tuple[float, ...]:
    if not isinstance(values, list) or not values:
        raise _fail(source, where, "expected a non-empty list of shares")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int | float) or not 0 <= v <= 1:
            raise _fail(source, where, f"expected shares between 0 and 1, got {v!r}")
        out.append(float(v))
    return tuple(out)


def _column(data: Any, source: str, where: str) -> ColumnProfile:
    if not isinstance(data, dict):
        raise _fail(source, where, "expected an object")
    kind = data.get("kind")
    null_fraction = data.get("null_fraction", 0.0)
    if isinstance(null_fraction, bool) or not isinstance(null_fraction, int | float):
        raise _fail(source, f"{where}.null_fraction", "expected a number")
    if kind == "numeric":
        edges = data.get("edges")
        if not isinstance(edges, list) or not all(
            isinstance(e, int | float) and not isinstance(e, bool) for e in edges
        ):
            raise _fail(source, f"{where}.edges", "expected a list of numbers")
        if any(b <= a for a, b in itertools.pairwise(edges)):
            raise _fail(source, f"{where}.edges", "edges must be strictly increasing")
        freqs = _shares(data.get("frequencies"), source, f"{where}.frequencies")
        if len(freqs) != len(edges) + 1:
            raise _fail(source, f"{where}.frequencies", "expected one share per bin (edges + 1)")
        if not math.isclose(sum(freqs), 1.0, abs_tol=1e-6):
            raise _fail(source, f"{where}.frequencies", "shares must sum to 1")
        return ColumnProfile(
            kind=kind,
            null_fraction=float(null_fraction),
            edges=tuple(float(e) for e in edges),
            frequencies=freqs,
        )
    if kind == "categorical":
        cats = data.get("categories")
        if not isinstance(cats, dict):
            raise _fail(source, f"{where}.categories", "expected an object of shares")
        shares = _shares(list(cats.values()) or [0.0], source, f"{where}.categories")
        other = _shares([data.get("other", 0.0)], source, f"{where}.other")[0]
        total = (sum(shares) if cats else 0.0) + other
        if not math.isclose(total, 1.0, abs_tol=1e-6):
            raise _fail(source, f"{where}.categories", "shares and other must sum to 1")
        return ColumnProfile(
            kind=kind,
            null_fraction=float(null_fraction),
            categories={str(k): float(v) for k, v in cats.items()},
            other=other,
        )
    raise _fail(source, f"{where}.kind", f'expected "numeric" or "categorical", got {kind!r}')


def parse_profile(data: Any, *, source: str) -> Profile:
    """Validate a parsed profile document; DataError naming the key when malformed."""
    if not isinstance(data, dict) or data.get("schema_version") != PROFILE_VERSION:
        raise DataError(f"{source}: not a reference profile (schema_version 1); {REGENERATE}")
    columns = data.get("columns")
    rows = data.get("rows")
    if not isinstance(columns, dict) or not isinstance(rows, int) or isinstance(rows, bool):
        raise DataError(f"{source}: expected rows and columns; {REGENERATE}")
    unprofiled = data.get("unprofiled", [])
    if not isinstance(unprofiled, list) or not all(isinstance(u, str) for u in unprofiled):
        raise _fail(source, "unprofiled", "expected a list of column names")
    return Profile(
        rows=rows,
        columns={str(k): _column(v, source, f"columns.{k}") for k, v in columns.items()},
        source=str(data.get("source", "")),
        unprofiled=tuple(unprofiled),
    )


def load_profile(path: str | os.PathLike[str]) -> Profile:
    text = read_file(path, hint=REGENERATE)
    return parse_profile(loads_json(text, str(path)), source=str(path))


def check_profile(profile: Profile, schema: Schema, *, source: str) -> None:
    """Raise DataError when the profile does not describe the schema's columns, either way:
    a profiled column the schema lacks, or a schema column (not a key) the profile lacks."""
    for name, col in profile.columns.items():
        spec = schema.columns.get(name)
        if spec is None:
            raise DataError(
                f"{source}: column {name!r} is not in the schema; the profile does not match "
                f"the schema, {REGENERATE}"
            )
        if col.kind == "numeric" and not spec.numeric:
            raise DataError(
                f"{source}: column {name!r} is profiled as numeric but the schema says "
                f"{spec.dtype}; {REGENERATE}"
            )
        if col.kind == "categorical" and spec.dtype == "float":
            raise DataError(
                f"{source}: column {name!r} is profiled as categorical but the schema says "
                f"float; {REGENERATE}"
            )
    for name, column in schema.columns.items():
        if name not in profile.columns and not column.unique and name not in profile.unprofiled:
            raise DataError(
                f"{source}: schema column {name!r} is not in the profile (its drift would go "
                f"unchecked); the profile does not match the schema, {REGENERATE}"
            )
