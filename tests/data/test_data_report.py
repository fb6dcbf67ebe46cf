"""The PR report's data section and the validation metrics document."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from mlgate.data.schema import ColumnSchema, Schema
from mlgate.data.validate import validate_file
from mlgate.fileio import dumps_json, loads_json
from mlgate.report.validation import MAX_FINDINGS, escape, markdown_section


def _result(tmp_path: Path) -> dict[str, object]:
    pq.write_table(
        pa.table({"id": [1, 2, 2], "x": [1.0, 50.0, None], "<b>@team|": ["a", "b", "c"]}),
        tmp_path / "d.parquet",
    )
    schema = Schema(
        columns={
            "id": ColumnSchema(name="id", dtype="integer", unique=True),
            "x": ColumnSchema(name="x", dtype="float", max=10),
        }
    )
    result = validate_file(str(tmp_path / "d.parquet"), schema=schema)
    return result.to_metrics()


def test_metrics_document(tmp_path: Path) -> None:
    metrics = _result(tmp_path)
    again = loads_json(dumps_json(metrics), "validation.json")  # strict JSON: finite numbers
    assert again == metrics
    assert metrics["schema_version"] == 1 and metrics["rows"] == 3
    assert metrics["violations"] == 4 and metrics["warnings"] == 0
    assert metrics["columns"] == {"id": {"null_rate": 0.0}, "x": {"null_rate": 0.333333}}
    checks = [(f["column"], f["check"]) for f in metrics["findings"]]  # type: ignore[union-attr]
    assert checks == [
        ("<b>@team|", "unexpected_column"),
        ("id", "unique"),
        ("x", "nulls"),
        ("x", "range"),
    ]
    unique = metrics["findings"][1]  # type: ignore[index]
    assert unique["examples"] == [{"row": 2, "value": "2"}] and unique["rows"] == 1


def test_markdown_section_escapes_untrusted_text(tmp_path: Path) -> None:
    text = markdown_section(_result(tmp_path))
    assert text.startswith("### Data validation\n")
    assert ":x:" in text and "**4 violations**" in text
    assert "<b>" not in text and "@team" not in text and "&lt;b&gt;&#64;team\\|" in text
    assert "| :x: | unique | id | 1 |" in text
    assert "2: 2" in text  # example row: value
    assert "<details><summary>Null rate and drift per column</summary>" in text


def test_markdown_section_clean_and_malformed_input() -> None:
    clean = markdown_section({"rows": 5, "violations": 0, "warnings": 0, "source": "d.csv"})
    assert ":white_check_mark:" in clean and "5 rows" in clean and "| column" not in clean
    assert "warning" in markdown_section({"warnings": 1, "findings": [{"level": "warning"}]})
    junk = markdown_section({"rows": "x", "drift": [], "findings": "no", "columns": {"a": 3}})
    assert "0 rows" in junk and "| a | - | - | - |" in junk


def test_markdown_section_is_bounded() -> None:
    findings = [
        {"check": "range", "column": f"c{i}", "level": "violation", "rows": 1, "message": "m" * 900}
        for i in range(500)
    ]
    text = markdown_section({"violations": 500, "findings": findings})
    assert text.count("| :x: |") == MAX_FINDINGS
    assert f"{500 - MAX_FINDINGS} more findings" in text
    assert len(text) < 30_000


def test_escape() -> None:
    assert escape("a|b\n[link](http://x) `code` *em* _u_") == (
        "a\\|b \\[link\\](http://x) \\`code\\` \\*em\\* \\_u\\_"
    )


def test_committed_metrics_render() -> None:
    from mlgate.data.result import read_validation

    root = Path(__file__).resolve().parents[2]
    metrics = json.loads((root / "metrics/validation.json").read_text())
    # the DVC metric holds the headline only: `dvc metrics show` prints no per-column table
    assert set(metrics) == {"schema_version", "source", "rows", "violations", "warnings", "drift"}

    def read(path: str) -> bytes | None:
        return (root / path).read_bytes() if (root / path).is_file() else None

    whole = read_validation(read, "metrics/validation.json")
    assert whole is not None and len(whole["columns"]) == 32 and whole["findings"] == []
    text = markdown_section(whole)
    assert "569 rows" in text and "**0 violations**" in text
    assert "| mean\\_radius | 0.0000 | 0.000 | 0.000 |" in text


def test_split_and_join_the_validation_document(tmp_path: Path) -> None:
    from mlgate.data.result import columns_file, join_metrics, split_metrics

    whole = _result(tmp_path)
    headline, details = split_metrics(whole)
    assert "columns" not in headline and "findings" not in headline
    assert details["columns"] == whole["columns"] and details["findings"] == whole["findings"]
    assert join_metrics(headline, details) == whole
    assert join_metrics(headline, None) == headline
    assert columns_file("out/v.json") == "out/v_columns.json"


def test_drift_findings_count_no_rows(tmp_path: Path) -> None:
    """Drift measures a whole column: its findings show `-` for rows, never `0`."""
    from rich.console import Console

    from mlgate.data.profile import ColumnProfile, Profile
    from mlgate.data.result import Limit, Thresholds
    from mlgate.data.terminal import render

    pq.write_table(pa.table({"x": [5.0] * 50}), tmp_path / "d.parquet")
    schema = Schema(columns={"x": ColumnSchema(name="x", dtype="float")})
    profile = Profile(
        rows=50, columns={"x": ColumnProfile("numeric", edges=(1.0,), frequencies=(0.5, 0.5))}
    )
    result = validate_file(
        str(tmp_path / "d.parquet"),
        schema=schema,
        profile=profile,
        thresholds=Thresholds(psi=Limit(warn=0.1, fail=None), ks=Limit(warn=0.1, fail=None)),
    )
    drift = [f for f in result.findings if f.check.startswith("drift.")]
    assert [f.check for f in drift] == ["drift.psi", "drift.ks"]
    assert {f.rows for f in drift} == {None}
    findings = result.to_metrics()["findings"]
    assert [f["rows"] for f in findings] == [None, None]  # type: ignore[index]
    md = markdown_section(result.to_metrics())
    assert "| :warning: | drift.psi | x | - | PSI" in md and "| 0 |" not in md
    out = StringIO()
    render(result, Console(file=out, width=200))
    rows = [line for line in out.getvalue().splitlines() if "above warn" in line]
    assert len(rows) == 2 and all(line.split("│")[3].strip() == "-" for line in rows), rows
