"""Streaming checks of one column: fed batch by batch, summarised at the end.

Each check counts the failing rows and keeps the first :data:`EXAMPLES` of them (row number
and value). Exact checks (dtype, nulls, range, allowed values) need only the current batch;
``unique`` keeps the column's values (O(rows) memory for that column only) and sorts them
once at the end unless they were strictly increasing all along.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from mlgate.data import arrays
from mlgate.data.arrays import Mask
from mlgate.data.drift import BinCounter
from mlgate.data.profile import ColumnProfile
from mlgate.data.schema import ColumnSchema

EXAMPLES = 5

# What a text value must look like to be read as the expected type (CSV columns whose
# values did not convert are read as text and checked with these).
_PATTERNS = {
    "integer": r"^[+-]?\d+$",
    "float": r"^[+-]?((\d+\.?\d*|\.\d+)([eE][+-]?\d+)?|inf|Inf|INF|infinity|Infinity)$",
    "boolean": r"^(true|false|True|False|TRUE|FALSE|0|1)$",
}


@dataclass
class Tally:
    """Rows failing one check: how many, and the first few (row number, value as text)."""

    rows: int = 0
    examples: list[tuple[int, str]] = field(default_factory=list)

    def add(self, bad: Mask, offset: int, value: Callable[[int], str]) -> None:
        n = int(np.count_nonzero(bad))
        if n == 0:
            return
        self.rows += n
        room = EXAMPLES - len(self.examples)
        if room > 0:
            for pos in np.flatnonzero(bad)[:room]:
                self.examples.append((offset + int(pos), value(int(pos))))


def compatible(expected: str, actual: str) -> bool:
    return actual == expected or actual == "null" or (expected == "float" and actual == "integer")


class ColumnCheck:
    """All checks of one schema column, plus its drift counts against the profile."""

    def __init__(self, spec: ColumnSchema, profile: ColumnProfile | None) -> None:
        self.spec = spec
        self.profile = profile
        self.actual: str | None = None
        self.type_ok = True
        self.nulls = Tally()
        self.dtype = Tally()
        self.range = Tally()
        self.allowed = Tally()
        self.duplicates = Tally()
        self.bins = BinCounter(profile.edges) if profile and profile.kind == "numeric" else None
        self.categories: dict[str, int] = {}
        self._keys: list[tuple[int, Any, Any]] = []
        self._increasing = True
        self._last: Any = None

    # -- per batch -------------------------------------------------------------------
    def update(self, arr: pa.Array, offset: int) -> None:
        actual = arrays.kind(arr.type)
        if self.actual is None or self.actual == "null":
            self.actual = actual
        valid = arrays.valid_mask(arr)
        if actual == "null":
            self._missing(np.ones(len(arr), dtype=np.bool_), offset)
            return
        if not compatible(self.spec.dtype, actual):
            self.type_ok = False
            self._missing(None if valid is None else ~valid, offset)
            self._wrong_type(arr, actual, valid, offset)
            return
        if actual == "string":
            self._strings(arr, valid, offset)
        else:
            self._numbers(arr, actual, valid, offset)

    def _missing(self, missing: Mask | None, offset: int) -> None:
        if missing is not None:
            self.nulls.add(missing, offset, lambda _: "null")

    def _wrong_type(self, arr: pa.Array, actual: str, valid: Mask | None, offset: int) -> None:
        if actual == "string" and self.spec.dtype in _PATTERNS:
            import pyarrow.compute as pc  # 0.13 s to import: only when a column is mistyped

            codes, dictionary = arrays.encoded(arr)
            ok = arrays.bool_array(
                pc.match_substring_regex(dictionary, pattern=_PATTERNS[self.spec.dtype])
            )
            bad = ~ok[codes]
            values = dictionary
        else:
            bad = np.ones(len(arr), dtype=np.bool_)
            codes, values = np.arange(len(arr)), arr
        if valid is not None:
            bad &= valid
        self.dtype.add(bad, offset, lambda i: arrays.show(values[int(codes[i])].as_py()))

    def _numbers(self, arr: pa.Array, actual: str, valid: Mask | None, offset: int) -> None:
        spec = self.spec
        vals = arrays.numbers(arr)
        missing = None if valid is None else ~valid
        # NaN counts as missing; min/max propagate NaN, so two cheap passes spare the mask
        if actual == "float" and (
            valid is not None or np.isnan(vals.min()) or np.isnan(vals.max())
        ):
            nan = np.isnan(vals)
            missing = nan if missing is None else missing | nan
        self._missing(missing, offset)
        present = vals if missing is None else vals[~missing]
        if present.size == 0:
            return
        show = lambda i: arrays.show(vals[i])  # noqa: E731
        if spec.min is not None or spec.max is not None:
            lo_v, hi_v = present.min(), present.max()
            if (spec.min is not None and lo_v < spec.min) or (
                spec.max is not None and hi_v > spec.max
            ):
                bad = np.zeros(len(vals), dtype=np.bool_)
                if spec.min is not None:
                    bad |= vals < spec.min
                if spec.max is not None:
                    bad |= vals > spec.max
                if missing is not None:
                    bad &= ~missing
                self.range.add(bad, offset, show)
        if spec.allowed is not None and actual == "integer":
            bad = ~np.isin(vals, np.asarray(spec.allowed, dtype=np.int64))
            if missing is not None:
                bad &= ~missing
            self.allowed.add(bad, offset, show)
        if spec.unique:
            self._collect(present, missing, offset)
        if self.bins is not None:
            self.bins.add(present)
        elif self.profile is not None:
            self._count_values(present, actual)

    def _count_values(self, present: np.ndarray[Any, Any], actual: str) -> None:
        if actual == "boolean":
            n_true = int(np.count_nonzero(present))
            pairs = [("true", n_true), ("false", present.size - n_true)]
        else:
            lo, hi = int(present.min()), int(present.max())
            if hi - lo < 1_000_000:
                counts = np.bincount((present - lo).astype(np.intp))
                idx = np.flatnonzero(counts)
                pairs = [(str(lo + int(i)), int(counts[i])) for i in idx]
            else:
                u, c = np.unique(present, return_counts=True)
                pairs = [(str(int(a)), int(b)) for a, b in zip(u, c, strict=True)]
        for key, n in pairs:
            self.categories[key] = self.categories.get(key, 0) + n

    def _strings(self, arr: pa.Array, valid: Mask | None, offset: int) -> None:
        spec = self.spec
        self._missing(None if valid is None else ~valid, offset)
        if spec.unique:
            plain = arr.dictionary_decode() if isinstance(arr, pa.DictionaryArray) else arr
            self._keys.append((offset, plain, valid))
        if spec.allowed is None and self.profile is None:
            return
        codes, dictionary = arrays.encoded(arr)
        words: list[str] = dictionary.to_pylist()
        if spec.allowed is not None:
            allowed = set(spec.allowed)
            bad_codes = [i for i, w in enumerate(words) if w not in allowed]
            if bad_codes:
                bad = np.isin(codes, bad_codes)
                if valid is not None:
                    bad &= valid
                self.allowed.add(bad, offset, lambda i: words[int(codes[i])])
        if self.profile is not None:
            present = codes if valid is None else codes[valid]
            counts = np.bincount(present, minlength=len(words))
            for i in np.flatnonzero(counts):
                self.categories[words[i]] = self.categories.get(words[i], 0) + int(counts[i])

    def _collect(self, present: np.ndarray[Any, Any], missing: Mask | None, offset: int) -> None:
        if self._increasing:
            first_ok = self._last is None or present[0] > self._last
            self._increasing = bool(first_ok and np.all(present[1:] > present[:-1]))
            self._last = present[-1]
        rows = None if missing is None else offset + np.flatnonzero(~missing)
        self._keys.append((offset, present.copy(), rows))

    # -- at the end ------------------------------------------------------------------
    def finish_unique(self) -> None:
        """Find repeated keys: rows whose value appeared in an earlier row."""
        keys, self._keys = self._keys, []
        if not keys or (self._increasing and self.actual != "string"):
            return
        if self.actual == "string":
            # batches are contiguous from row 0, so a position in the combined array is a row
            combined = pa.chunked_array([v for _, v, _ in keys]).combine_chunks()
            codes, dictionary = arrays.encoded(combined)
            valid = arrays.valid_mask(combined)
            rows = np.arange(len(codes)) if valid is None else np.flatnonzero(valid)
            values = codes if valid is None else codes[valid]

            def text(i: int) -> str:
                return str(dictionary[int(values[i])].as_py())

        else:
            values = np.concatenate([v for _, v, _ in keys])
            rows = np.concatenate(
                [np.arange(o, o + len(v)) if r is None else r for o, v, r in keys]
            )

            def text(i: int) -> str:
                return arrays.show(values[i])

        order = np.argsort(values, kind="stable")
        repeat = np.zeros(len(values), dtype=np.bool_)
        repeat[order[1:]] = values[order[1:]] == values[order[:-1]]
        bad = np.flatnonzero(repeat)
        self.duplicates.rows = len(bad)
        self.duplicates.examples = [(int(rows[i]), text(int(i))) for i in bad[:EXAMPLES]]
