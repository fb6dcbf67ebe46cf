"""Property: data that satisfies a schema validates clean; any single injected violation
(a null, an out-of-range value, a new category, a duplicate key, a dropped column) is found
and names its column, its check and (for row checks) the row."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.data.schema import ColumnSchema, Schema
from mlgate.data.validate import validate_file

CATEGORIES = ("red", "green", "blue")


def _schema(lo: float, hi: float) -> Schema:
    cols = [
        ColumnSchema(name="id", dtype="integer", unique=True, min=0),
        ColumnSchema(name="x", dtype="float", min=lo, max=hi),
        ColumnSchema(name="n", dtype="integer", allowed=(0, 1, 2)),
        ColumnSchema(name="color", dtype="string", allowed=CATEGORIES),
        ColumnSchema(name="maybe", dtype="float", nullable=True),
    ]
    return Schema(columns={c.name: c for c in cols}, min_rows=1)


@st.composite
def datasets(draw: st.DrawFn) -> tuple[Schema, dict[str, list[Any]]]:
    lo = draw(st.floats(-1e6, 1e6, allow_nan=False))
    hi = lo + draw(st.floats(0, 1e6, allow_nan=False))
    n = draw(st.integers(1, 40))
    ids = draw(st.lists(st.integers(0, 10**9), min_size=n, max_size=n, unique=True))
    data = {
        "id": ids,
        "x": draw(st.lists(st.floats(lo, hi, allow_nan=False), min_size=n, max_size=n)),
        "n": draw(st.lists(st.integers(0, 2), min_size=n, max_size=n)),
        "color": draw(st.lists(st.sampled_from(CATEGORIES), min_size=n, max_size=n)),
        "maybe": draw(
            st.lists(st.none() | st.floats(-10, 10, allow_nan=False), min_size=n, max_size=n)
        ),
    }
    return _schema(lo, hi), data


def _write(data: dict[str, list[Any]], fmt: str, folder: str) -> str:
    table = pa.table(
        {
            k: pa.array(v, type=pa.float64() if k in ("x", "maybe") else None)
            for k, v in data.items()
        }
    )
    path = str(Path(folder) / f"data.{fmt}")
    if fmt == "parquet":
        pq.write_table(table, path)
    else:
        pacsv.write_csv(table, path)  # floats written with round-trip precision
    return path


FORMATS = st.sampled_from(["csv", "parquet"])


@settings(max_examples=60, deadline=None)
@given(case=datasets(), fmt=FORMATS)
def test_conforming_data_validates_clean(
    case: tuple[Schema, dict[str, list[Any]]], fmt: str
) -> None:
    schema, data = case
    with tempfile.TemporaryDirectory() as folder:
        result = validate_file(_write(data, fmt, folder), schema=schema)
    assert result.findings == ()
    assert result.rows == len(data["id"])


@settings(max_examples=100, deadline=None)
@given(
    case=datasets(),
    fmt=FORMATS,
    kind=st.sampled_from(["null", "out_of_range", "new_category", "duplicate_key", "drop"]),
    data=st.data(),
)
def test_a_single_injected_violation_is_found_and_named(
    case: tuple[Schema, dict[str, list[Any]]], fmt: str, kind: str, data: st.DataObject
) -> None:
    schema, values = case
    n = len(values["id"])
    row = data.draw(st.integers(0, n - 1), label="row")
    expected: tuple[str, str, int | None]
    if kind == "null":
        column = data.draw(st.sampled_from(["id", "x", "n", "color"]), label="column")
        values[column][row] = None
        expected = (column, "nulls", row)
    elif kind == "out_of_range":
        x = schema.columns["x"]
        assert x.max is not None
        values["x"][row] = x.max + max(1.0, abs(x.max))
        expected = ("x", "range", row)
    elif kind == "new_category":
        values["color"][row] = "purple"
        expected = ("color", "allowed", row)
    elif kind == "duplicate_key":
        if n < 2:
            values = {k: v * 2 for k, v in values.items()}
            row = n
        else:
            row = max(row, 1)
        earlier = data.draw(st.integers(0, row - 1), label="earlier")
        values["id"][row] = values["id"][earlier]
        expected = ("id", "unique", row)
    else:
        column = data.draw(st.sampled_from(sorted(values)), label="column")
        del values[column]
        expected = (column, "missing_column", None)
    with tempfile.TemporaryDirectory() as folder:
        result = validate_file(_write(values, fmt, folder), schema=schema)
    assert not result.passed
    assert [(f.column, f.check) for f in result.violations] == [expected[:2]], result.findings
    violation = result.violations[0]
    if expected[2] is not None:
        assert violation.rows == 1
        assert [e.row for e in violation.examples] == [expected[2]]
