"""The schema YAML: parsing, validation of every key, and the writer's round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlgate.config import loads_yaml
from mlgate.data.profile import ColumnProfile, Profile, check_profile, parse_profile
from mlgate.data.schema import ColumnSchema, Schema, dump_schema, load_schema, parse_schema
from mlgate.errors import ConfigError, DataError

GOOD = """
version: 1
rows: {min: 2, max: 10}
extra_columns: warn
columns:
  id: {dtype: integer, unique: true, min: 0}
  x: {dtype: float, nullable: true, max_null_fraction: 0.1, min: -1.5, max: 2}
  color: {dtype: string, allowed: [red, "yes", "1"]}
  label: {dtype: integer, allowed: [0, 1]}
  flag: {dtype: boolean}
"""


def parse(text: str) -> Schema:
    return parse_schema(loads_yaml(text, "schema.yaml"), source="schema.yaml")


def test_parse_good_schema() -> None:
    schema = parse(GOOD)
    assert list(schema.columns) == ["id", "x", "color", "label", "flag"]
    assert schema.min_rows == 2 and schema.max_rows == 10 and schema.extra_columns == "warn"
    assert schema.columns["id"] == ColumnSchema(name="id", dtype="integer", unique=True, min=0.0)
    x = schema.columns["x"]
    assert (x.nullable, x.max_null_fraction, x.min, x.max) == (True, 0.1, -1.5, 2.0)
    assert schema.columns["color"].allowed == ("red", "yes", "1")
    assert schema.columns["label"].allowed == (0, 1)
    assert not schema.columns["flag"].nullable  # the default


def test_dump_round_trips() -> None:
    schema = parse(GOOD)
    text = dump_schema(schema)
    assert text.startswith("# Data schema")
    assert parse(text) == schema


def test_dump_quotes_awkward_names_and_values() -> None:
    schema = Schema(
        columns={
            "a b: c": ColumnSchema(name="a b: c", dtype="string", allowed=("no", "x, y", "#")),
            "null": ColumnSchema(name="null", dtype="float", min=1e-7, max=1e20),
        }
    )
    assert parse(dump_schema(schema)) == schema


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns:\n  x: {dtype: float, maximum: 3}\n", "columns.x.maximum: unknown check"),
        ("columns:\n  x: {dtype: decimal}\n", "columns.x.dtype: expected one of"),
        ("columns:\n  x: {min: 1}\n", "columns.x.dtype: missing"),
        ("columns:\n  x: {dtype: float, min: 3, max: 1}\n", "columns.x.min: min 3 is above max 1"),
        ("columns:\n  x: {dtype: string, min: 3}\n", "min/max need a numeric dtype"),
        ("columns:\n  x: {dtype: float, allowed: [1.5]}\n", "columns.x.allowed: expected a list"),
        ("columns:\n  x: {dtype: integer, allowed: [a]}\n", "columns.x.allowed: expected a list"),
        ("columns:\n  x: {dtype: string, allowed: []}\n", "columns.x.allowed: is empty"),
        ("columns:\n  x: {dtype: float, max_null_fraction: 0.1}\n", "needs nullable: true"),
        ("columns:\n  x: {dtype: float, nullable: maybe}\n", "expected true or false"),
        ("columns: {}\n", "columns: no columns"),
        ("rows: {min: 5, max: 2}\ncolumns:\n  x: {dtype: float}\n", "rows.min: min 5 is above"),
        ("strict: true\ncolumns:\n  x: {dtype: float}\n", "strict: unknown key"),
        ("version: 2\ncolumns:\n  x: {dtype: float}\n", "version: unsupported"),
        ("extra_columns: maybe\ncolumns:\n  x: {dtype: float}\n", "extra_columns: expected one"),
    ],
)
def test_invalid_schema_names_the_key(text: str, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse(text)
    assert message in str(info.value)
    assert str(info.value).startswith("schema.yaml: ")


def test_load_schema_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="schema not found; write one with `mlgate schema infer"):
        load_schema(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("columns:\n  x: {dtype: float\n")
    with pytest.raises(ConfigError, match="invalid YAML at line"):
        load_schema(bad)


def _profile(**columns: ColumnProfile) -> Profile:
    return Profile(rows=10, columns=dict(columns))


def test_profile_must_match_schema() -> None:
    schema = parse(GOOD)
    numeric = ColumnProfile(kind="numeric", edges=(0.0,), frequencies=(0.5, 0.5))
    categorical = ColumnProfile(kind="categorical", categories={"a": 1.0})
    full = {"x": numeric, "color": categorical, "label": categorical, "flag": categorical}
    check_profile(_profile(**full), schema, source="p")  # the key `id` is never profiled
    check_profile(Profile(rows=10, columns=full, unprofiled=("id",)), schema, source="p")
    partial = {k: v for k, v in full.items() if k != "flag"}
    with pytest.raises(DataError, match="schema column 'flag' is not in the profile"):
        check_profile(_profile(**partial), schema, source="p.json")
    check_profile(Profile(rows=10, columns=partial, unprofiled=("flag",)), schema, source="p")
    with pytest.raises(DataError, match="'other' is not in the schema"):
        check_profile(_profile(other=numeric), schema, source="p.json")
    with pytest.raises(DataError, match="'color' is profiled as numeric"):
        check_profile(_profile(color=numeric), schema, source="p.json")
    with pytest.raises(DataError, match="'x' is profiled as categorical"):
        check_profile(_profile(x=categorical), schema, source="p.json")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"columns": {}}, "not a reference profile"),
        ({"schema_version": 1, "rows": 1}, "expected rows and columns"),
        (
            {"schema_version": 1, "rows": 1, "columns": {"x": {"kind": "histogram"}}},
            "columns.x.kind",
        ),
        (
            {
                "schema_version": 1,
                "rows": 1,
                "columns": {"x": {"kind": "numeric", "edges": [2, 1], "frequencies": [0, 0, 1]}},
            },
            "strictly increasing",
        ),
        (
            {
                "schema_version": 1,
                "rows": 1,
                "columns": {"x": {"kind": "numeric", "edges": [1], "frequencies": [0.5]}},
            },
            "one share per bin",
        ),
        (
            {
                "schema_version": 1,
                "rows": 1,
                "columns": {"x": {"kind": "numeric", "edges": [1], "frequencies": [0.5, 0.2]}},
            },
            "sum to 1",
        ),
        (
            {
                "schema_version": 1,
                "rows": 1,
                "columns": {"x": {"kind": "categorical", "categories": {"a": 2}}},
            },
            "between 0 and 1",
        ),
    ],
)
def test_invalid_profile(doc: dict[str, object], message: str) -> None:
    with pytest.raises(DataError) as info:
        parse_profile(doc, source="profile.json")
    assert message in str(info.value)
    assert "mlgate schema infer" in str(info.value)
