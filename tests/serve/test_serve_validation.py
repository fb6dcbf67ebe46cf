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


# -- the fast parse (orjson) gives the strict parse's answer, or leaves the body to it ----------
def _strict(body: bytes, max_objects: int | None = None) -> Any:
    """The standard library's strict parse alone (what parse_body did before orjson)."""
    import mlgate.serve.validation as validation

    saved = validation._orjson
    validation._orjson = None  # type: ignore[assignment]
    try:
        return parse_body(body, max_objects=max_objects)
    finally:
        validation._orjson = saved


def _outcome(body: bytes, max_objects: int | None = None, *, strict: bool = False) -> Any:
    try:
        return ("ok", (_strict if strict else parse_body)(body, max_objects=max_objects))
    except InvalidRequest as exc:
        return (exc.status, exc.detail)


def test_the_fast_parse_is_in_use_and_still_strict() -> None:
    import mlgate.serve.validation as validation

    assert validation._orjson is not None  # a dependency: the fast path is what serves
    good = b'{"rows": [{"a": 1, "b": 2.5, "c": -3e2}]}'
    assert validation._fast_parse(good, 10) == json.loads(good)
    # each of these takes the strict parse: a repeated key, a ':' in a string, an object
    # not directly in the top object's lists, more '{' than objects allowed, a NaN literal
    for unsure, limit in [
        (b'{"rows": [{"a": 1, "a": 2, "b": 2, "c": 3}]}', 10),
        (b'{"rows": [{"a": 1, "b": 2, "c": 3}], "id": "x:y"}', 10),
        (b'{"rows": [{"a": {"x": 1}, "b": 2, "c": 3}]}', 10),
        (b'{"rows": [{"a": 1, "b": 2, "c": 3}, {}, {}]}', 3),
        (b'{"rows": [{"a": NaN, "b": 2, "c": 3}]}', 10),
    ]:
        assert validation._fast_parse(unsure, limit) is validation._UNSURE, unsure
        assert _outcome(unsure, limit) == _outcome(unsure, limit, strict=True)
    assert _outcome(b'{"rows": [{"a": 1, "b": 2, "c": 3}, {}, {}]}', 3)[0] == 413
    # a ':' inside a string is still a string; a BOM and UTF-16 bodies as before
    assert parse_body(b'{"rows": [{"a": "x:y"}]}') == {"rows": [{"a": "x:y"}]}
    assert parse_body(b'\xef\xbb\xbf{"rows": []}') == {"rows": []}
    assert parse_body('{"rows": []}'.encode("utf-16")) == {"rows": []}


_keys = st.sampled_from(["a", "b", "c", "rows", "x:y", "é"])
_scalars = (
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.text(max_size=4)
    | st.floats(allow_nan=False, allow_infinity=False)
)  # fmt: skip


def _objects(children: Any) -> Any:
    """A JSON object as a list of pairs, so keys may repeat."""
    return st.lists(st.tuples(_keys, children), max_size=4).map(lambda ps: ("obj", ps))


_values = st.recursive(
    _scalars, lambda children: st.lists(children, max_size=4) | _objects(children), max_leaves=12
)


def _dump(value: Any) -> str:
    if isinstance(value, tuple) and value and value[0] == "obj":
        return "{" + ",".join(f"{json.dumps(k)}:{_dump(v)}" for k, v in value[1]) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_dump(v) for v in value) + "]"
    return json.dumps(value)


@settings(deadline=None, max_examples=300)
@given(_objects(_values), st.sampled_from([None, 1, 3, 50]))
def test_the_fast_parse_answers_as_the_strict_parse(value: Any, max_objects: int | None) -> None:
    body = _dump(value).encode()
    assert _outcome(body, max_objects) == _outcome(body, max_objects, strict=True), body


@pytest.mark.parametrize(
    "rows",
    [
        [{"a": 1, "b": 2, "c": 3}, {"c": 1, "a": 2}],  # one short
        [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1, "b": 2}],  # one long, one short: same sum
        [{"a": 1, "b": 2, "c": 3}, {"a": 1, "b": 2, "d": 3}],  # a key swapped
        [{"a": 1, "b": 2, "c": 3}, [1, 2, 3]],
        [{"a": 1, "b": True, "c": 3}],
        [{"a": 1, "b": 2, "c": 10**400}],
    ],
)
def test_rows_the_bulk_matrix_refuses_are_checked_row_by_row(rows: list[Any]) -> None:
    body = json.dumps({"rows": rows})
    err = rejected(body)
    assert err.status == 422 and "row" in err.detail, err.detail
