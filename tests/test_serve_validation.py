"""Request validation against the served version's schema (pure functions, no server)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.serve.validation import (
    Column,
    InvalidRequest,
    RequestSchema,
    from_features,
    from_schema_columns,
    parse_body,
    validate_rows,
)

NUMERIC = from_features(["a", "b", "c"], source="test")


def check(body: str | bytes, schema: RequestSchema = NUMERIC, max_rows: int = 10) -> Any:
    raw = body.encode() if isinstance(body, str) else body
    return validate_rows(parse_body(raw), schema, max_rows=max_rows)


def rejected(body: str, schema: RequestSchema = NUMERIC, max_rows: int = 10) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        check(body, schema, max_rows)
    return info.value


def test_valid_rows_become_a_frame_in_model_order() -> None:
    frame = check('{"rows": [{"c": 3, "a": 1.5, "b": -2}, {"a": 0, "b": 0, "c": 1e3}]}')
    assert list(frame.columns) == ["a", "b", "c"]
    assert frame.to_numpy().tolist() == [[1.5, -2.0, 3.0], [0.0, 0.0, 1000.0]]
    body = parse_body(b'{"rows": [{"c": 3, "a": 1.5, "b": -2}]}')
    array = validate_rows(body, NUMERIC, max_rows=10, as_array=True)
    assert array.dtype == "float64" and array.tolist() == [[1.5, -2.0, 3.0]]


@pytest.mark.parametrize(
    ("body", "row", "column", "words"),
    [
        ('{"rows": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2}]}', 1, "c", "missing column"),
        ('{"rows": [{"a": 1, "b": 2, "c": 3, "d": 4}]}', 0, "d", "unknown column"),
        ('{"rows": [{"a": 1, "b": "2", "c": 3}]}', 0, "b", "expected a number"),
        ('{"rows": [{"a": 1, "b": true, "c": 3}]}', 0, "b", "expected a number"),
        ('{"rows": [{"a": 1, "b": null, "c": 3}]}', 0, "b", "must not be null"),
        ('{"rows": [{"a": 1, "b": 2, "c": 1e999}]}', 0, "c", "not a finite number"),
        ('{"rows": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "c": -1e400}]}', 1, "c", "finite"),
        ('{"rows": [{"a": 1, "b": 2, "c": ' + "9" * 400 + "}]}", 0, "c", "finite"),
        ('{"rows": [{"a": 1, "b": [2], "c": 3}]}', 0, "b", "expected a number"),
    ],
)
def test_bad_values_name_the_row_and_the_column(
    body: str, row: int, column: str, words: str
) -> None:
    err = rejected(body)
    assert err.status == 422
    assert err.detail["row"] == row
    assert err.detail["column"] == column
    assert words in err.detail["error"]


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_literals_are_refused(literal: str) -> None:
    err = rejected('{"rows": [{"a": ' + literal + ', "b": 2, "c": 3}]}')
    assert err.status == 422
    assert "not a finite number" in err.detail["error"]


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"rows": []}',
        '{"rows": {"a": 1}}',
        '{"rows": [1]}',
        '{"rows": [{"a": 1, "b": 2, "c": 3}], "extra": 1}',
        '{"rows": [{"a": 1, "a": 2, "b": 2, "c": 3}]}',
    ],
)
def test_malformed_bodies_are_422(body: str) -> None:
    assert rejected(body).status == 422


def test_integers_past_the_digit_limit_and_float_range_are_422() -> None:
    huge = "9" * 5000  # Python refuses to convert more than 4,300 digits: a ValueError
    err = rejected(f'{{"rows": [{{"a": {huge}, "b": 2, "c": 3}}]}}')
    assert err.status == 422 and "too many digits" in err.detail["error"]
    err = rejected(f'{{"rows": [{{"a": NaN, "b": {huge}, "c": 3}}]}}')  # both at once
    assert err.status == 422
    err = rejected(f'{{"rows": [{{"a": {"9" * 400}, "b": 2, "c": 3}}]}}')  # past 1.8e308
    assert (err.status, err.detail["column"]) == (422, "a")


def test_too_many_rows_is_413() -> None:
    row = {"a": 1, "b": 2, "c": 3}
    err = rejected(json.dumps({"rows": [row] * 11}), max_rows=10)
    assert err.status == 413
    assert "limit is 10" in err.detail["error"]
    assert len(check(json.dumps({"rows": [row] * 10}))) == 10


@dataclass
class Spec:
    dtype: str
    nullable: bool = False
    allowed: list[Any] | None = None
    min: float | None = None
    max: float | None = None


def test_schema_columns_types_nulls_and_categories() -> None:
    columns = {
        "x": Spec("float64", nullable=True, min=0, max=1),
        "n": Spec("int64"),
        "kind": Spec("string", allowed=["a", "b"]),
        "flag": Spec("bool"),
        "unused": Spec("float64"),
    }
    schema = from_schema_columns(["x", "n", "kind", "flag"], columns, source="s")
    assert schema.columns[1] == Column("n", "int")
    frame = check(
        '{"rows": [{"x": null, "n": 3, "kind": "a", "flag": true},'
        ' {"x": 5.5, "n": 4.0, "kind": "b", "flag": false}]}',
        schema,
    )
    assert math.isnan(frame["x"][0]) and frame["x"][1] == 5.5  # ranges are drift, not errors
    assert frame["kind"].tolist() == ["a", "b"]
    for body, column in [
        ('{"rows": [{"x": 1, "n": 3.5, "kind": "a", "flag": true}]}', "n"),
        ('{"rows": [{"x": 1, "n": 3, "kind": "c", "flag": true}]}', "kind"),
        ('{"rows": [{"x": 1, "n": 3, "kind": 1, "flag": true}]}', "kind"),
        ('{"rows": [{"x": 1, "n": 3, "kind": "a", "flag": 1}]}', "flag"),
    ]:
        assert rejected(body, schema).detail["column"] == column


def test_a_feature_missing_from_the_schema_is_an_error() -> None:
    with pytest.raises(ValueError, match="no column 'z'"):
        from_schema_columns(["x", "z"], {"x": Spec("float64")}, source="s")


finite = st.floats(allow_nan=False, allow_infinity=False, width=64) | st.integers(-(10**15), 10**15)


@settings(deadline=None)  # timing varies on shared CI machines; the property is what matters
@given(st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=10))
def test_any_finite_rows_round_trip(rows: list[tuple[float, float, float]]) -> None:
    body = json.dumps({"rows": [dict(zip("abc", r, strict=True)) for r in rows]})
    frame = check(body)
    assert frame.to_numpy().tolist() == [[float(v) for v in r] for r in rows]


@pytest.mark.parametrize(
    ("body", "row", "column", "words"),
    [
        ('{"rows": [{"a": 1, "b": 2, "c": 3}, {"a": NaN, "b": 2, "c": 3}]}', 1, "a", "a: NaN"),
        ('{"rows": [{"a": 1, "b": -Infinity, "c": 3}]}', 0, "b", "b: -Infinity is not"),
        ('{"rows": [{"a": 1, "b": [Infinity], "c": 3}]}', 0, "b", "b: Infinity is not"),
        ('{"rows": [{"a": 1, "b": 2, "c": 3}, {"a": 1, "a": 2, "b": 2, "c": 3}]}', 1, "a", "dup"),
        ('{"rows": [{"a": 1, "b": {"x": 1, "x": 2}, "c": 3}]}', 0, "b", "duplicate key 'x'"),
    ],
)
def test_refused_literals_and_duplicate_keys_name_the_row_and_the_column(
    body: str, row: int, column: str, words: str
) -> None:
    err = rejected(body)
    assert err.status == 422 and err.detail["row"] == row and err.detail["column"] == column
    assert words in err.detail["error"]


def test_refused_literals_and_keys_outside_the_rows_name_no_row() -> None:
    err = rejected('{"rows": [{"a": 1, "b": 2, "c": 3}], "rows": []}')
    assert err.detail == {"error": "duplicate key 'rows'", "column": "rows"}
    assert "row" not in rejected('{"rows": [{"a": 1, "b": 2, "c": 3}], "x": NaN}').detail
