"""Schema and profile inference: what a person reviews before committing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from mlgate.data.infer import infer
from mlgate.data.profile import load_profile, write_profile
from mlgate.data.schema import dump_schema, load_schema
from mlgate.data.validate import load_inputs, validate_file
from mlgate.errors import DataError


def _table(n: int = 1000) -> pa.Table:
    rng = np.random.default_rng(0)
    maybe = rng.normal(size=n)
    return pa.table(
        {
            "id": pa.array(np.arange(100, 100 + n)),
            "uuid": pa.array([f"u{i:05d}" for i in rng.permutation(n)]),
            "size": pa.array(rng.uniform(3.0, 9.0, n)),
            "delta": pa.array(rng.normal(0, 1, n)),
            "count": pa.array(rng.integers(0, 500, n)),
            "label": pa.array(rng.integers(0, 2, n)),
            "color": pa.array(np.array(["red", "green", "yes"])[rng.integers(0, 3, n)]),
            "flag": pa.array(rng.random(n) < 0.3),
            "maybe": pa.array(maybe, mask=rng.random(n) < 0.05),
        }
    )


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_infer_schema(tmp_path: Path, fmt: str) -> None:
    path = tmp_path / f"d.{fmt}"
    if fmt == "csv":
        import pyarrow.csv as pacsv

        pacsv.write_csv(_table(), path)
    else:
        pq.write_table(_table(), path)
    schema, profile = infer(str(path))
    c = schema.columns
    assert {k: v.dtype for k, v in c.items()} == {
        "id": "integer",
        "uuid": "string",
        "size": "float",
        "delta": "float",
        "count": "integer",
        "label": "integer",
        "color": "string",
        "flag": "boolean",
        "maybe": "float",
    }
    assert c["id"].unique and c["id"].min == 0 and c["id"].max is None
    assert c["uuid"].unique and c["uuid"].allowed is None
    assert not c["count"].unique and c["count"].min == 0 and c["count"].max is not None
    assert c["size"].min == 0 and 9.0 < c["size"].max < 9.7  # widened by 10% of the range
    assert c["delta"].min is not None and c["delta"].min < -3  # negative values: widened
    assert c["label"].allowed == (0, 1)
    assert c["color"].allowed == ("green", "red", "yes")
    assert c["maybe"].nullable and c["maybe"].max_null_fraction is not None
    assert 0.05 < c["maybe"].max_null_fraction <= 0.2
    assert not c["size"].nullable
    assert (schema.min_rows, schema.max_rows) == (500, 10_000)
    # the profile: keys are not profiled, numbers get quantile bins, the rest categories
    assert set(profile.columns) == set(c) - {"id", "uuid"}
    assert profile.columns["size"].kind == "numeric" and len(profile.columns["size"].edges) == 99
    assert profile.columns["label"].kind == "categorical"
    assert set(profile.columns["flag"].categories) == {"true", "false"}
    assert profile.columns["maybe"].null_fraction == pytest.approx(0.05, abs=0.02)
    # written, reviewed, loaded: the reference validates clean against itself
    (tmp_path / "schema.yaml").write_text(dump_schema(schema))
    write_profile(tmp_path / "profile.json", profile)
    assert load_schema(tmp_path / "schema.yaml") == schema
    assert load_profile(tmp_path / "profile.json").columns == profile.columns
    loaded, loaded_profile = load_inputs(
        str(tmp_path / "schema.yaml"), str(tmp_path / "profile.json")
    )
    result = validate_file(str(path), schema=loaded, profile=loaded_profile)
    assert result.findings == ()
    assert all(col.psi == 0.0 for col in result.columns if col.psi is not None)


def test_infer_reads_a_mistyped_csv_column_as_text(tmp_path: Path) -> None:
    lines = ["a,b"] + [f"{i},{i}" for i in range(5)] + ["5,five"]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    schema, _ = infer(str(tmp_path / "d.csv"))
    assert schema.columns["b"].dtype == "string" and schema.columns["a"].dtype == "integer"


def test_infer_refuses_empty_data(tmp_path: Path) -> None:
    (tmp_path / "h.csv").write_text("a,b\n")
    with pytest.raises(DataError, match="no rows"):
        infer(str(tmp_path / "h.csv"))
    pq.write_table(pa.table({"t": pa.array([1], type=pa.timestamp("s"))}), tmp_path / "t.parquet")
    with pytest.raises(DataError, match="column 't' has type timestamp"):
        infer(str(tmp_path / "t.parquet"))


def test_committed_schema_and_profile_accept_the_reference_data() -> None:
    root = Path(__file__).resolve().parents[2]
    schema, profile = load_inputs(
        str(root / "data/schema.yaml"), str(root / "data/reference_profile.json")
    )
    assert schema.columns["row_id"].unique and schema.columns["diagnosis"].allowed == (0, 1)
    assert all(c.min == 0 for c in schema.columns.values() if c.dtype == "float")
    result = validate_file(str(root / "data/breast_cancer.csv"), schema=schema, profile=profile)
    assert result.findings == () and result.rows == 569
    assert {c.psi for c in result.columns if c.psi is not None} == {0.0}


def test_a_column_with_no_value_is_listed_unprofiled(tmp_path: Path) -> None:
    path = tmp_path / "d.parquet"
    table = _table(50).append_column("empty", pa.array([None] * 50, type=pa.float64()))
    pq.write_table(table, path)
    schema, profile = infer(str(path))
    assert profile.unprofiled == ("empty",)  # keys (id, uuid) are not listed: never profiled
    write_profile(tmp_path / "p.json", profile)
    (tmp_path / "s.yaml").write_text(dump_schema(schema))
    _, loaded = load_inputs(str(tmp_path / "s.yaml"), str(tmp_path / "p.json"))
    assert loaded is not None and loaded.unprofiled == ("empty",)
