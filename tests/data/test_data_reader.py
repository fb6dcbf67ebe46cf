"""The reader's column-chunked Parquet path: every row of every column, in order, few at once."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from mlgate.data import reader
from mlgate.data.infer import infer
from mlgate.data.reader import open_table
from mlgate.data.schema import ColumnSchema, Schema
from mlgate.data.validate import validate_file


def _wide(rows: int, seed: int = 3) -> pa.Table:
    rng = np.random.default_rng(seed)
    cols: dict[str, pa.Array] = {"id": pa.array(np.arange(rows, dtype=np.int64))}
    ids = np.arange(rows, dtype=np.int64)
    ids[rows - 5] = 17  # a repeated key late in the file
    cols["key"] = pa.array(ids)
    for i in range(7):
        vals = rng.normal(size=rows)
        vals[rng.integers(0, rows, 3)] = -9.0  # out of range, scattered over row groups
        cols[f"f{i}"] = pa.array(vals, mask=rng.random(rows) < 0.01)
    words = np.array(["a", "b", "c", "zz"], dtype=object)
    cols["s"] = pa.array(words[rng.integers(0, 4, rows)], mask=rng.random(rows) < 0.02)
    return pa.table(cols)


def _schema() -> Schema:
    columns = [ColumnSchema(name="id", dtype="integer", unique=True, nullable=False)]
    columns.append(ColumnSchema(name="key", dtype="integer", unique=True, nullable=False))
    columns += [ColumnSchema(name=f"f{i}", dtype="float", min=-5.0) for i in range(7)]
    columns.append(ColumnSchema(name="s", dtype="string", allowed=["a", "b", "c"]))
    return Schema(columns={c.name: c for c in columns})


def test_pieces_cover_every_row_of_every_column_in_order(tmp_path: Path) -> None:
    table = _wide(1000)
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=300)
    seen: dict[str, list[int]] = {}
    values: dict[str, list[pa.Array]] = {}
    for offset, piece in open_table(str(path)).pieces(3):
        assert piece.num_columns <= 3
        for name, column in zip(piece.schema.names, piece.columns, strict=True):
            seen.setdefault(name, []).append(offset)
            values.setdefault(name, []).append(column)
    assert list(seen) == table.column_names
    for name in table.column_names:
        assert seen[name] == [0, 300, 600, 900]  # row order, one piece per row group
        got = pa.chunked_array(values[name]).to_pylist()
        assert got == table.column(name).to_pylist()


def test_pieces_of_big_row_groups_and_csv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(reader, "MAX_GROUP_ROWS", 128)  # groups of 500 read in slices
    table = _wide(1000)
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=500)
    offsets = [o for o, piece in open_table(str(path)).pieces(4) if "id" in piece.schema.names]
    assert offsets == [0, 128, 256, 384, 500, 628, 756, 884]
    csv = tmp_path / "d.csv"
    pacsv.write_csv(table, csv)
    pieces = list(open_table(str(csv)).pieces(2))  # CSV: whole blocks, every column
    assert pieces[0][0] == 0 and pieces[0][1].num_columns == table.num_columns
    assert sum(p.num_rows for _, p in pieces) == 1000


@pytest.mark.parametrize("group", [97, 1000, 5000])
def test_validation_reads_parquet_a_few_columns_at_a_time_with_the_same_result_as_csv(
    tmp_path: Path, group: int
) -> None:
    table = _wide(3000)
    parquet, csv = tmp_path / "d.parquet", tmp_path / "d.csv"
    pq.write_table(table, parquet, row_group_size=group)
    pacsv.write_csv(table, csv)
    profile_source = tmp_path / "ref.parquet"
    pq.write_table(_wide(2000, seed=9), profile_source)
    _, profile = infer(str(profile_source))
    got = validate_file(str(parquet), schema=_schema(), profile=profile)
    expected = validate_file(str(csv), schema=_schema(), profile=profile)  # read in blocks
    assert got.rows == 3000 and not got.passed
    as_json = [json.dumps(r.to_metrics(), sort_keys=True) for r in (got, expected)]
    assert as_json[0].replace("d.parquet", "d.csv") == as_json[1]
    checks = {(f.column, f.check) for f in got.findings}
    assert {("key", "unique"), ("f0", "range"), ("s", "allowed")} <= checks
