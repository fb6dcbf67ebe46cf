"""Each check of validate_file on small CSV and Parquet files: counts, examples, row numbers."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlgate.data.checks import EXAMPLES
from mlgate.data.reader import CSV_BLOCK
from mlgate.data.schema import ColumnSchema, Schema
from mlgate.data.validate import Finding, ValidationResult, validate_file
from mlgate.errors import DataError


def col(name: str, dtype: str, **checks: Any) -> ColumnSchema:
    return ColumnSchema(name=name, dtype=dtype, **checks)


def schema(*columns: ColumnSchema, **kw: Any) -> Schema:
    return Schema(columns={c.name: c for c in columns}, **kw)


def write_csv(path: Path, text: str) -> str:
    path.write_text(text)
    return str(path)


def write_parquet(path: Path, data: dict[str, list[Any]], **kw: Any) -> str:
    pq.write_table(pa.table(data), path, **kw)
    return str(path)


def only(result: ValidationResult, check: str) -> Finding:
    found = [f for f in result.findings if f.check == check]
    assert len(found) == 1, result.findings
    return found[0]


def examples(f: Finding) -> list[tuple[int, str]]:
    return [(e.row, e.value) for e in f.examples]


def test_clean_csv_and_parquet(tmp_path: Path) -> None:
    s = schema(
        col("id", "integer", unique=True, min=0),
        col("x", "float", min=0, max=10),
        col("c", "string", allowed=("a", "b")),
        col("flag", "boolean"),
    )
    csv = write_csv(tmp_path / "d.csv", "id,x,c,flag\n0,1.5,a,true\n1,2,b,false\n2,10,a,true\n")
    parquet = write_parquet(
        tmp_path / "d.parquet",
        {"id": [0, 1, 2], "x": [1.5, 2.0, 10.0], "c": ["a", "b", "a"], "flag": [True, False, True]},
    )
    for path in (csv, parquet):
        result = validate_file(path, schema=s)
        assert result.passed and result.findings == () and result.rows == 3
        assert [c.dtype for c in result.columns] == ["integer", "float", "string", "boolean"]


def test_missing_and_unexpected_columns(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "a,extra\n1,2\n")
    s = schema(col("a", "integer"), col("b", "float"))
    result = validate_file(path, schema=s)
    missing = only(result, "missing_column")
    assert (missing.column, missing.level) == ("b", "violation")
    assert only(result, "unexpected_column").column == "extra"
    warn = validate_file(path, schema=Schema(columns=s.columns, extra_columns="warn"))
    assert only(warn, "unexpected_column").level == "warning"
    ignore = validate_file(path, schema=Schema(columns=s.columns, extra_columns="ignore"))
    assert [f.check for f in ignore.findings] == ["missing_column"]


def test_csv_value_of_the_wrong_type_is_a_dtype_violation_with_rows(tmp_path: Path) -> None:
    lines = ["id,x"] + [f"{i},{i}.5" for i in range(10)]
    lines[4] = "3,x3.5"
    lines[8] = "7,"  # a null is not a dtype problem
    lines[9] = "8,1e3"
    path = write_csv(tmp_path / "d.csv", "\n".join(lines) + "\n")
    result = validate_file(path, schema=schema(col("id", "integer"), col("x", "float")))
    f = only(result, "dtype")
    assert (f.column, f.rows, examples(f)) == ("x", 1, [(3, "x3.5")])
    assert "not float" in f.message
    ints = validate_file(path, schema=schema(col("id", "float"), col("x", "integer")))
    bad = only(ints, "dtype")
    assert bad.column == "x" and bad.rows == 9  # 0.5, x3.5, ..., 1e3 are not integers


def test_parquet_column_of_the_wrong_type(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "d.parquet", {"x": ["1", "2", "three"], "y": [1.5, 2.0, 3.0]})
    result = validate_file(path, schema=schema(col("x", "float"), col("y", "integer")))
    by_column = {f.column: f for f in result.findings}
    assert by_column["x"].check == "dtype" and examples(by_column["x"]) == [(2, "three")]
    assert by_column["y"].check == "dtype" and by_column["y"].rows == 3


def test_integers_are_valid_floats(tmp_path: Path) -> None:
    path = write_parquet(tmp_path / "d.parquet", {"x": [1, 2, 3]})
    assert validate_file(path, schema=schema(col("x", "float", max=3))).passed


def test_nulls_count_and_examples(tmp_path: Path) -> None:
    values = [None if i % 3 == 0 else float(i) for i in range(20)]
    values[4] = math.nan  # NaN counts as missing
    path = write_parquet(tmp_path / "d.parquet", {"x": values})
    result = validate_file(path, schema=schema(col("x", "float")))
    f = only(result, "nulls")
    assert f.rows == 8 and f.column == "x"
    assert examples(f) == [(0, "null"), (3, "null"), (4, "null"), (6, "null"), (9, "null")]
    assert result.columns[0].null_rate == 0.4
    nullable = validate_file(path, schema=schema(col("x", "float", nullable=True)))
    assert nullable.passed
    capped = validate_file(
        path, schema=schema(col("x", "float", nullable=True, max_null_fraction=0.3))
    )
    assert only(capped, "null_fraction").rows == 8
    assert "40.00% missing" in only(capped, "null_fraction").message


def test_null_strings_in_csv(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "c,d\na,1\n,2\nb,3\n")
    f = only(validate_file(path, schema=schema(col("c", "string"), col("d", "integer"))), "nulls")
    assert examples(f) == [(1, "null")]


def test_range_examples_are_the_first_five_with_row_numbers(tmp_path: Path) -> None:
    values = [float(i % 10) for i in range(100)]  # 8 and 9 are out of range
    path = write_parquet(tmp_path / "d.parquet", {"x": values})
    result = validate_file(path, schema=schema(col("x", "float", min=0, max=7.5)))
    f = only(result, "range")
    assert f.rows == 20 and len(f.examples) == EXAMPLES
    assert examples(f)[:3] == [(8, "8.0"), (9, "9.0"), (18, "8.0")]
    assert "outside [0, 7.5]" in f.message
    low = validate_file(path, schema=schema(col("x", "float", min=1)))
    assert only(low, "range").rows == 10


def test_allowed_values_for_text_and_integers(tmp_path: Path) -> None:
    path = write_parquet(
        tmp_path / "d.parquet", {"c": ["a", "b", "z", None, "z"], "n": [0, 1, 2, 1, 0]}
    )
    s = schema(
        col("c", "string", nullable=True, allowed=("a", "b")), col("n", "integer", allowed=(0, 1))
    )
    result = validate_file(path, schema=s)
    by_column = {f.column: f for f in result.findings}
    assert by_column["c"].check == "allowed" and examples(by_column["c"]) == [(2, "z"), (4, "z")]
    assert by_column["n"].check == "allowed" and examples(by_column["n"]) == [(2, "2")]
    # the message names the allowed values (and says "value" for one)
    assert by_column["c"].message == "2 values not in the allowed values [a, b]"
    assert by_column["n"].message == "1 value not in the allowed values [0, 1]"
    many = schema(col("n", "integer", allowed=tuple(range(3, 20))))
    message = only(validate_file(path, schema=many), "allowed").message
    assert (
        message
        == "5 values not in the allowed values [3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ... (17 in all)]"
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_unique_keys(tmp_path: Path, fmt: str) -> None:
    ids = [5, 3, 9, 3, 1, 5, 3]
    keys = [f"k{i}" for i in ids]
    if fmt == "csv":
        rows = "\n".join(f"{i},{k}" for i, k in zip(ids, keys, strict=True))
        path = write_csv(tmp_path / "d.csv", f"id,key\n{rows}\n")
    else:
        path = write_parquet(tmp_path / "d.parquet", {"id": ids, "key": keys})
    s = schema(col("id", "integer", unique=True), col("key", "string", unique=True))
    result = validate_file(path, schema=s)
    by_column = {f.column: f for f in result.findings}
    assert examples(by_column["id"]) == [(3, "3"), (5, "5"), (6, "3")]
    assert examples(by_column["key"]) == [(3, "k3"), (5, "k5"), (6, "k3")]
    assert by_column["id"].rows == 3


def test_unique_across_row_groups(tmp_path: Path) -> None:
    ids = [*range(50), 10, *range(51, 100)]
    path = write_parquet(tmp_path / "d.parquet", {"id": ids}, row_group_size=16)
    f = only(validate_file(path, schema=schema(col("id", "integer", unique=True))), "unique")
    assert examples(f) == [(50, "10")]
    increasing = write_parquet(tmp_path / "ok.parquet", {"id": list(range(100))}, row_group_size=16)
    assert validate_file(increasing, schema=schema(col("id", "integer", unique=True))).passed


def test_row_count(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "d.csv", "x\n1\n2\n3\n")
    s = [col("x", "integer")]
    assert validate_file(path, schema=schema(*s, min_rows=3, max_rows=3)).passed
    few = only(validate_file(path, schema=schema(*s, min_rows=4)), "row_count")
    assert few.column is None and "3 rows, expected 4 to any" in few.message
    many = only(validate_file(path, schema=schema(*s, max_rows=2)), "row_count")
    assert "expected 0 to 2" in many.message
    header_only = write_csv(tmp_path / "h.csv", "x\n")
    assert only(validate_file(header_only, schema=schema(*s, min_rows=1)), "row_count").rows == 0


def test_large_csv_is_read_in_blocks_with_correct_row_numbers(tmp_path: Path) -> None:
    n = 3 * CSV_BLOCK // 20 + 7  # ~3 blocks of ~20-byte lines
    lines = ["id,x"] + [f"{i},{i % 1000}.25" for i in range(n)]
    bad = n - 3
    lines[bad + 1] = f"{bad},-1.0"
    path = write_csv(tmp_path / "big.csv", "\n".join(lines) + "\n")
    s = schema(col("id", "integer", unique=True), col("x", "float", min=0))
    result = validate_file(path, schema=s)
    assert result.rows == n
    assert examples(only(result, "range")) == [(bad, "-1.0")]


def test_progress_reports_reach_the_total(tmp_path: Path) -> None:
    seen: list[tuple[int, int]] = []
    path = write_parquet(tmp_path / "d.parquet", {"x": list(range(100))}, row_group_size=30)
    validate_file(
        path, schema=schema(col("x", "integer")), progress=lambda d, t: seen.append((d, t))
    )
    assert seen[-1] == (100, 100) and len(seen) == 4
    csv_seen: list[tuple[int, int]] = []
    csv = write_csv(tmp_path / "d.csv", "x\n" + "\n".join(map(str, range(100))) + "\n")
    validate_file(
        csv, schema=schema(col("x", "integer")), progress=lambda d, t: csv_seen.append((d, t))
    )
    assert csv_seen[-1][0] == csv_seen[-1][1] == Path(csv).stat().st_size


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.csv", b"", "the file is empty"),
        ("ragged.csv", b"a,b\n1,2\n3\n", "malformed CSV"),
        ("bytes.csv", b"a,b\n1,\xff\xfe\n", "not UTF-8"),
        ("bytes_in_number.csv", b"a,b\n1,2\xff\n", "not UTF-8"),
        ("corrupt.parquet", b"PAR1" + b"\x00" * 50 + b"PAR1", "not a readable Parquet file"),
        ("dup.csv", b"a,a\n1,2\n", "column 'a' appears twice"),
    ],
)
def test_unreadable_input_is_a_data_error(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    s = schema(col("a", "integer"), col("b", "string"))
    with pytest.raises(DataError) as info:
        validate_file(str(path), schema=s)
    assert message in str(info.value) and str(path) in str(info.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="data file not found"):
        validate_file(str(tmp_path / "nope.csv"), schema=schema(col("a", "integer")))


def test_array_views_respect_slice_offsets() -> None:
    from mlgate.data import arrays

    floats = pa.array([1.0, None, 3.0, 4.0, None, 6.0, 7.0, 8.0, 9.0, None, 11.0]).slice(3, 7)
    valid = arrays.valid_mask(floats)
    assert valid is not None and valid.tolist() == [True, False, True, True, True, True, False]
    assert arrays.numbers(floats)[valid].tolist() == [4.0, 6.0, 7.0, 8.0, 9.0]
    flags = pa.array([True, False, None, True, True, False, False, True, True]).slice(2, 6)
    assert arrays.numbers(flags).tolist()[1:] == [True, True, False, False, True]
    assert arrays.valid_mask(flags).tolist() == [False, True, True, True, True, True]  # type: ignore[union-attr]
    words = pa.array(["a", "b", None, "c", "a", "b"]).dictionary_encode().slice(2, 3)
    codes, dictionary = arrays.encoded(words)
    assert [dictionary[int(c)].as_py() for c in codes[1:]] == ["c", "a"]
    assert arrays.valid_mask(words).tolist() == [False, True, True]  # type: ignore[union-attr]
