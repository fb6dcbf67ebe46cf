"""Infer a schema and a reference profile from a CSV or Parquet file.

One streaming pass collects per column the type, nulls, min/max, category counts (up to
:data:`MAX_CATEGORIES` distinct values), whether integer and text values are all distinct
(key-like) and a systematic sample of numbers (at most :data:`SAMPLE` values) for the
quantile edges. When the sample had to be thinned, a second pass counts the exact reference
share of every bin. The result is a starting point for a person to review, not a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pyarrow as pa

from mlgate.constants import NUMERIC_DTYPES, Dtype
from mlgate.data import arrays
from mlgate.data.drift import BinCounter
from mlgate.data.profile import ColumnProfile, Profile
from mlgate.data.reader import Progress, open_table, with_retypes
from mlgate.data.schema import ColumnSchema, Schema
from mlgate.errors import DataError

SAMPLE = 1_000_000
MAX_CATEGORIES = 1000
ALLOWED_STRINGS = 20  # text columns with at most this many values get an allowed list
ALLOWED_INTEGERS = 10
PROFILE_CATEGORIES = 50
QUANTILE_BINS = 100
MARGIN = 0.1  # inferred min/max are widened by this share of the observed range


@dataclass
class _Column:
    name: str
    kind: str | None = None
    nulls: int = 0
    count: int = 0
    lo: float = math.inf
    hi: float = -math.inf
    categories: dict[str, int] | None = field(default_factory=dict)
    keys: list[Any] | None = field(default_factory=list)
    sample: list[np.ndarray[Any, Any]] = field(default_factory=list)
    kept: int = 0
    stride: int = 1
    thinned: bool = False

    def update(self, arr: pa.Array) -> None:
        kind = arrays.kind(arr.type)
        if kind not in ("integer", "float", "string", "boolean", "null"):
            raise DataError(
                f"column {self.name!r} has type {kind}, which schemas do not support; "
                "convert it to a number or text"
            )
        if self.kind in (None, "null"):
            self.kind = kind
        valid = arrays.valid_mask(arr)
        if kind == "null":
            self.nulls += len(arr)
            return
        if kind == "string":
            codes, dictionary = arrays.encoded(arr)
            present = codes if valid is None else codes[valid]
            self.nulls += len(arr) - len(present)
            self.count += len(present)
            if self.keys is not None:
                self.keys.append(
                    arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr
                )
            if self.categories is not None:
                words = dictionary.to_pylist()
                counts = np.bincount(present, minlength=len(words))
                self._count((words[i], int(counts[i])) for i in np.flatnonzero(counts))
            return
        vals = arrays.numbers(arr)
        missing = None if valid is None else ~valid
        if kind == "float":
            nan = np.isnan(vals)
            missing = nan if missing is None else missing | nan
        present = vals if missing is None else vals[~missing]
        self.nulls += len(arr) - len(present)
        self.count += len(present)
        if present.size == 0:
            return
        self.lo = min(self.lo, float(present.min()))
        self.hi = max(self.hi, float(present.max()))
        if kind == "boolean":
            n_true = int(np.count_nonzero(present))
            self._count([("true", n_true), ("false", len(present) - n_true)])
            return
        if kind == "integer":
            if self.keys is not None:
                self.keys.append(present.copy())
            if self.categories is not None:
                u, c = np.unique(present, return_counts=True)
                self._count((str(int(a)), int(b)) for a, b in zip(u, c, strict=True))
        self._add_sample(present.astype(np.float64))

    def _count(self, pairs: Any) -> None:
        cats = self.categories
        if cats is None:
            return
        for key, n in pairs:
            if n == 0:
                continue
            if n > 1 or key in cats:
                self.keys = None  # a repeated value: not a key
            cats[key] = cats.get(key, 0) + n
        if len(cats) > MAX_CATEGORIES:
            self.categories = None

    def _add_sample(self, values: np.ndarray[Any, Any]) -> None:
        self.sample.append(values[:: self.stride].copy())
        self.kept += len(self.sample[-1])
        while self.kept > SAMPLE:  # thin systematically: keep every other value from now on
            merged = np.concatenate(self.sample)[::2]
            self.sample, self.kept = [merged], len(merged)
            self.stride *= 2
            self.thinned = True

    def is_key(self) -> bool:
        if self.keys is None or self.kind not in ("integer", "string") or self.nulls:
            return False
        if self.count < 2:
            return False
        if self.kind == "integer":
            values = np.concatenate(self.keys)
            return bool(len(np.unique(values)) == len(values))
        combined = pa.chunked_array(self.keys).combine_chunks().dictionary_encode()
        return len(combined.dictionary) == self.count


def _round_out(value: float, up: bool, integer: bool) -> float:
    if integer:
        return float(math.ceil(value) if up else math.floor(value))
    if value == 0:
        return 0.0
    exponent = math.floor(math.log10(abs(value))) - 2  # three significant digits
    steps = value / 10.0**exponent
    rounded = (math.ceil(steps) if up else math.floor(steps)) * 10.0**exponent
    return round(rounded, max(0, -exponent))


def _schema_column(c: _Column, rows: int) -> ColumnSchema:
    # a kind outside DTYPES was refused when the column was counted
    dtype: Dtype = "string" if c.kind in (None, "null") else cast("Dtype", c.kind)
    key = c.is_key()
    cats = c.categories
    allowed: tuple[Any, ...] | None = None
    if not key and cats and dtype == "string" and len(cats) <= ALLOWED_STRINGS:
        allowed = tuple(sorted(cats))
    if not key and cats and dtype == "integer" and len(cats) <= ALLOWED_INTEGERS:
        allowed = tuple(sorted(int(k) for k in cats))
    lo = hi = None
    if dtype in NUMERIC_DTYPES and allowed is None and c.count:
        integer = dtype == "integer"
        span = c.hi - c.lo or abs(c.hi) or 1.0
        # never negative in the data: assume a sign constraint (counts, sizes, amounts)
        lo = 0.0 if c.lo >= 0 else _round_out(c.lo - MARGIN * span, False, integer)
        hi = None if key else _round_out(c.hi + MARGIN * span, True, integer)
    fraction = None
    if c.nulls:
        share = c.nulls / max(rows, 1)
        fraction = min(1.0, math.ceil(max(2 * share, share + 0.01) * 100) / 100)
    return ColumnSchema(
        name=c.name,
        dtype=dtype,
        nullable=c.nulls > 0,
        max_null_fraction=fraction,
        min=lo,
        max=hi,
        allowed=allowed,
        unique=key,
    )


def _categorical(c: _Column, rows: int) -> ColumnProfile | None:
    if not c.categories or not c.count:
        return None
    top = sorted(c.categories.items(), key=lambda kv: (-kv[1], kv[0]))[:PROFILE_CATEGORIES]
    shares = {k: round(n / c.count, 8) for k, n in top}
    return ColumnProfile(
        kind="categorical",
        null_fraction=round(c.nulls / max(rows, 1), 8),
        categories=shares,
        other=round(max(0.0, 1.0 - sum(shares.values())), 8),
    )


def infer(path: str, *, progress: Progress | None = None) -> tuple[Schema, Profile]:
    """Infer (schema, reference profile) from the file at ``path``."""

    def first_pass(as_text: frozenset[str]) -> tuple[list[_Column], int]:
        table = open_table(path, as_text=as_text, progress=progress)
        cols = [_Column(name) for name in table.names]
        rows = 0
        for batch in table.batches:
            for col, arr in zip(cols, batch.columns, strict=True):
                col.update(arr)
            rows += batch.num_rows
        return cols, rows

    cols, rows = with_retypes(first_pass)
    if rows == 0:
        raise DataError(f"{path}: no rows; a schema needs data to infer from")
    specs = {c.name: _schema_column(c, rows) for c in cols}
    profiles: dict[str, ColumnProfile] = {}
    counters: dict[str, BinCounter] = {}
    for c in cols:
        spec = specs[c.name]
        if spec.unique or c.count == 0:
            continue
        if spec.dtype in ("string", "boolean") or spec.allowed is not None:
            cat = _categorical(c, rows)
            if cat is not None:
                profiles[c.name] = cat
            continue
        sample = np.concatenate(c.sample)
        edges = np.unique(np.quantile(sample, np.arange(1, QUANTILE_BINS) / QUANTILE_BINS))
        counters[c.name] = BinCounter(edges)
        if not c.thinned:
            counters[c.name].add(sample)
    if any(c.thinned for c in cols if c.name in counters):
        _count_again(path, counters, {c.name for c in cols if c.kind == "string"})
    for name, counter in counters.items():
        col = next(c for c in cols if c.name == name)
        total = counter.counts.sum()
        freqs = counter.counts / total
        profiles[name] = ColumnProfile(
            kind="numeric",
            null_fraction=round(col.nulls / rows, 8),
            edges=tuple(float(e) for e in counter.edges),
            frequencies=tuple(float(f) for f in freqs),
        )
    schema = Schema(columns=specs, min_rows=max(1, rows // 2), max_rows=rows * 10)
    ordered = {c.name: profiles[c.name] for c in cols if c.name in profiles}  # file order
    # keys are never profiled; a column without a value in the reference cannot be
    unprofiled = tuple(c.name for c in cols if c.name not in profiles and not specs[c.name].unique)
    return schema, Profile(rows=rows, columns=ordered, source=path, unprofiled=unprofiled)


def _count_again(path: str, counters: dict[str, BinCounter], as_text: set[str]) -> None:
    for counter in counters.values():
        counter.reset()
    table = open_table(path, as_text=frozenset(as_text))
    index = {name: table.names.index(name) for name in counters}
    for batch in table.batches:
        for name, counter in counters.items():
            arr = batch.column(index[name])
            vals = arrays.numbers(arr).astype(np.float64)
            valid = arrays.valid_mask(arr)
            keep = ~np.isnan(vals) if valid is None else valid & ~np.isnan(vals)
            counter.add(vals[keep])
