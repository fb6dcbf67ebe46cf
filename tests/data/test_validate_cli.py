"""`mlgate schema infer` and `mlgate validate` end to end, as a user runs them."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from tests.conftest import mlgate, run


def _table(seed: int, n: int = 2000, shift: float = 0.0) -> pa.Table:
    rng = np.random.default_rng(seed)
    return pa.table(
        {
            "id": np.arange(n),
            "size": rng.normal(20 + shift, 3, n),
            "count": rng.integers(0, 100, n),
            "color": np.array(["red", "green", "blue"])[rng.integers(0, 3, n)],
        }
    )


def _write(table: pa.Table, path: Path) -> Path:
    if path.suffix == ".csv":
        pacsv.write_csv(table, path)
    else:
        pq.write_table(table, path)
    return path


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    """A folder with a reference CSV, its inferred schema and profile (the defaults' paths)."""
    proj = tmp_path / "p"
    (proj / "data").mkdir(parents=True)
    _write(_table(0), proj / "data/ref.csv")
    out = mlgate("schema", "infer", "data/ref.csv", cwd=proj, env=env, check=True)
    assert "data/schema.yaml (review it, then commit)" in out.stdout
    assert (proj / "data/schema.yaml").is_file() and (
        proj / "data/reference_profile.json"
    ).is_file()
    return proj


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_clean_data_passes(project: Path, env: dict[str, str], fmt: str) -> None:
    data = _write(_table(1), project / f"new.{fmt}")
    out = mlgate("validate", str(data), cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert "validation passed" in out.stdout and "0 violations, 0 warnings" in out.stdout
    assert "Columns" in out.stdout and "size" in out.stdout
    js = mlgate(
        "validate", str(data), "--json", "-o", "metrics/validation.json", cwd=project, env=env
    )
    assert js.returncode == 0
    doc = json.loads(js.stdout)
    # -o writes what the stage writes: the headline as the DVC metric, the table beside it
    headline = json.loads((project / "metrics/validation.json").read_text())
    details = json.loads((project / "metrics/validation_columns.json").read_text())
    assert set(headline) == {"schema_version", "source", "rows", "violations", "warnings", "drift"}
    assert set(details) == {"schema_version", "columns", "findings"}
    assert {**headline, **details} == doc
    assert doc["rows"] == 2000 and doc["violations"] == 0
    assert set(doc["columns"]["size"]) == {"null_rate", "psi", "ks"}


@pytest.mark.parametrize("fmt", ["csv", "parquet"])
def test_violations_exit_1_naming_column_check_rows_and_examples(
    project: Path, env: dict[str, str], fmt: str
) -> None:
    table = _table(2)
    size = table.column("size").to_pylist()
    size[7] = -50.0
    size[9] = None
    color = table.column("color").to_pylist()
    color[3] = "purple"
    table = table.set_column(1, "size", pa.array(size)).set_column(3, "color", pa.array(color))
    data = _write(table, project / f"bad.{fmt}")
    out = mlgate("validate", str(data), cwd=project, env=env)
    assert out.returncode == 1, out.stderr
    text = out.stdout
    assert "validation FAILED" in text and "3 violations" in text
    for expected in ("Ranges (min/max)", "Missing values", "Allowed values"):
        assert expected in text
    assert "row 7: -50.0" in text and "row 9: null" in text and "row 3: purple" in text
    md = mlgate("validate", str(data), "--md", cwd=project, env=env)
    assert md.returncode == 1 and md.stdout.startswith("### Data validation")
    assert "| :x: | range | size | 1 |" in md.stdout
    doc = json.loads(mlgate("validate", str(data), "--json", cwd=project, env=env).stdout)
    assert {(f["column"], f["check"], f["rows"]) for f in doc["findings"]} == {
        ("size", "range", 1),
        ("size", "nulls", 1),
        ("color", "allowed", 1),
    }


def test_drift_warning_and_failure_thresholds_from_params(
    project: Path, env: dict[str, str]
) -> None:
    ref = _table(0).column("size").to_numpy()
    table = _table(3, shift=1.5)
    inside = np.clip(table.column("size").to_numpy(), ref.min(), ref.max())  # no range violation
    data = _write(table.set_column(1, "size", pa.array(inside)), project / "shifted.parquet")
    out = mlgate("validate", str(data), cwd=project, env=env)
    assert out.returncode == 1 and "Drift: PSI" in out.stdout and "Drift: KS" in out.stdout
    (project / "params.yaml").write_text(
        "validate:\n  psi: {warn: 0.1, fail: 0.25}\n  ks: {warn: 0.1, fail: 0.2}\n"
        "  columns:\n    size: {psi: {warn: 0.1, fail: 5}, ks: {warn: 0.1, fail: 1}}\n"
    )
    relaxed = mlgate("validate", str(data), cwd=project, env=env)
    assert relaxed.returncode == 0, relaxed.stdout
    assert "validation passed" in relaxed.stdout and "2 warnings" in relaxed.stdout
    coloured = mlgate(
        "validate",
        str(data),
        cwd=project,
        env={**{k: v for k, v in env.items() if k != "NO_COLOR"}, "FORCE_COLOR": "1"},
    )
    assert "\x1b[33m" in coloured.stdout  # warnings in yellow
    failing = mlgate(
        "validate",
        "data/ref.csv",
        "--schema",
        "data/schema.yaml",
        cwd=project,
        env={**{k: v for k, v in env.items() if k != "NO_COLOR"}, "FORCE_COLOR": "1"},
    )
    assert failing.returncode == 0
    (project / "params.yaml").write_text("validate:\n  psi: {warn: ten}\n")
    bad = mlgate("validate", str(data), cwd=project, env=env)
    assert bad.returncode == 2
    assert (
        bad.stderr.strip()
        == 'mlgate: error: params.yaml: validate.psi.warn: expected a number, got "ten"'
    )


def test_violations_are_red(project: Path, env: dict[str, str]) -> None:
    (project / "params.yaml").write_text("validate:\n  psi: {warn: 0.0001, fail: 0.0002}\n")
    colour_env = {**{k: v for k, v in env.items() if k != "NO_COLOR"}, "FORCE_COLOR": "1"}
    out = mlgate("validate", "data/ref.csv", cwd=project, env=colour_env)
    assert out.returncode == 0  # identical data: PSI is exactly 0
    data = _write(_table(4), project / "other.csv")
    out = mlgate("validate", str(data), cwd=project, env=colour_env)
    assert out.returncode == 1 and "\x1b[31m" in out.stdout


BAD_INPUTS = {
    "corrupt.parquet": b"PAR1 not really parquet PAR1",
    "ragged.csv": b"id,size,count,color\n1,2.0,3,red\n2,3.0\n",
    "undecodable.csv": b"id,size,count,color\n1,2.0,3,r\xe9d\n",
    "empty.csv": b"",
    # binary files given by mistake: unreadable data (were exit 3, and a one-row CSV, exit 1)
    "image.png": b"\x89PNG\r\n\x1a\n" + bytes(200),
    "dump.csv": b"abc\n" + bytes([0, 1, 2, 3]) * 10,
    "latin1-header.csv": b"\x89id,size\n1,2.0\n",
}


@pytest.mark.parametrize("name", sorted(BAD_INPUTS))
def test_unreadable_data_exits_2_with_one_line(
    project: Path, env: dict[str, str], name: str
) -> None:
    (project / name).write_bytes(BAD_INPUTS[name])
    out = mlgate("validate", name, cwd=project, env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"mlgate: error: {name}: "), out.stderr
    assert out.stdout == ""


@pytest.mark.parametrize(
    ("schema_text", "message"),
    [
        ("columns:\n  id: {dtype: integer\n", "data/schema.yaml: invalid YAML at line"),
        (
            "columns:\n  id: {dtype: integer, primary_key: true}\n",
            "data/schema.yaml: columns.id.primary_key: unknown check",
        ),
        (
            "columns:\n  id: {dtype: integer}\n",
            "data/reference_profile.json: column 'size' is not in the schema",
        ),
        (
            "extra_columns: ignore\ncolumns:\n  id: {dtype: integer}\n  size: {dtype: string}\n"
            "  count: {dtype: integer}\n  color: {dtype: string}\n",
            "data/reference_profile.json: column 'size' is profiled as numeric",
        ),
    ],
    ids=["unparsable", "unknown-check", "profile-extra-column", "profile-kind"],
)
def test_invalid_schema_or_profile_exits_2(
    project: Path, env: dict[str, str], schema_text: str, message: str
) -> None:
    (project / "data/schema.yaml").write_text(schema_text)
    out = mlgate("validate", "data/ref.csv", cwd=project, env=env)
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_explicit_missing_profile_and_data(project: Path, env: dict[str, str]) -> None:
    out = mlgate("validate", "data/ref.csv", "--profile", "nope.json", cwd=project, env=env)
    assert out.returncode == 2 and "nope.json: file not found" in out.stderr
    out = mlgate("validate", "missing.csv", cwd=project, env=env)
    assert out.returncode == 2 and "missing.csv: data file not found" in out.stderr


def test_validate_never_imports_pandas(project: Path, env: dict[str, str]) -> None:
    _write(_table(5), project / "new.parquet")
    code = (
        "import sys\n"
        "from mlgate.cli._main import main\n"
        "code = main(['validate', 'new.parquet', '--json'])\n"
        "assert code == 0, code\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
        "assert 'rich' not in sys.modules, 'rich imported on the --json path'\n"
    )
    run([sys.executable, "-c", code], cwd=project, env=env)


def test_schema_infer_on_parquet_and_on_bad_input(tmp_path: Path, env: dict[str, str]) -> None:
    _write(_table(6), tmp_path / "ref.parquet")
    out = mlgate(
        "schema",
        "infer",
        "ref.parquet",
        "-o",
        "s.yaml",
        "--profile",
        "p.json",
        cwd=tmp_path,
        env=env,
    )
    assert out.returncode == 0 and "2000 rows, 4 columns" in out.stdout
    ok = mlgate(
        "validate",
        "ref.parquet",
        "--schema",
        "s.yaml",
        "--profile",
        "p.json",
        cwd=tmp_path,
        env=env,
    )
    assert ok.returncode == 0, ok.stdout
    (tmp_path / "bad.parquet").write_bytes(BAD_INPUTS["corrupt.parquet"])
    bad = mlgate("schema", "infer", "bad.parquet", cwd=tmp_path, env=env)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "data/schema.yaml").exists()


def _drift(out: str) -> dict[str, object]:
    return json.loads(out)["drift"]  # type: ignore[no-any-return]


def test_the_default_schema_named_explicitly_keeps_its_profile(
    project: Path, env: dict[str, str]
) -> None:
    data = _write(_table(3, shift=6.0), project / "shifted.csv")
    implicit = mlgate("validate", str(data), "--json", cwd=project, env=env)
    explicit = mlgate(
        "validate", str(data), "--json", "--schema", "data/schema.yaml", cwd=project, env=env
    )
    assert implicit.returncode == explicit.returncode == 1  # size drifted beyond fail
    assert _drift(explicit.stdout) == _drift(implicit.stdout)
    assert _drift(explicit.stdout)["max_psi"] > 0.25  # type: ignore[operator]


def test_a_schema_elsewhere_gets_its_own_profile(project: Path, env: dict[str, str]) -> None:
    reviewed = (project / "data/reference_profile.json").read_bytes()
    _write(_table(4, shift=6.0), project / "other.csv")
    out = mlgate("schema", "infer", "other.csv", "-o", "s2.yaml", cwd=project, env=env)
    assert out.returncode == 0, out.stderr
    assert (project / "data/reference_profile.json").read_bytes() == reviewed
    assert "s2.profile.json" in out.stdout and (project / "s2.profile.json").is_file()
    # validate pairs s2.yaml with s2.profile.json: the data it was inferred from does not drift
    ok = mlgate("validate", "other.csv", "--schema", "s2.yaml", "--json", cwd=project, env=env)
    assert ok.returncode == 0 and _drift(ok.stdout)["max_psi"] < 0.1, ok.stdout  # type: ignore[operator]
    # no profile beside a schema: schema checks only, and said so
    (project / "s2.profile.json").unlink()
    alone = mlgate("validate", "other.csv", "--schema", "s2.yaml", cwd=project, env=env)
    assert alone.returncode == 0
    assert "s2.profile.json: no reference profile for s2.yaml, drift not measured" in alone.stderr


def test_schema_infer_keeps_a_reviewed_schema_unless_forced(
    project: Path, env: dict[str, str]
) -> None:
    (project / "data/schema.yaml").write_text(
        "# reviewed\n" + (project / "data/schema.yaml").read_text()
    )
    reviewed = (project / "data/schema.yaml").read_text()
    out = mlgate("schema", "infer", "data/ref.csv", cwd=project, env=env)
    assert out.returncode == 2
    assert out.stderr.strip().splitlines() == [
        "mlgate: error: data/schema.yaml exists (a reviewed schema and its profile are not "
        "replaced silently); pass --force to overwrite, or -o FILE to write elsewhere"
    ]
    assert (project / "data/schema.yaml").read_text() == reviewed
    forced = mlgate("schema", "infer", "data/ref.csv", "--force", cwd=project, env=env)
    assert forced.returncode == 0, forced.stderr
    assert (project / "data/schema.yaml").read_text() != reviewed


def test_a_profile_lacking_a_schema_column_exits_2(project: Path, env: dict[str, str]) -> None:
    path = project / "data/reference_profile.json"
    doc = json.loads(path.read_text())
    del doc["columns"]["count"]
    path.write_text(json.dumps(doc))
    out = mlgate("validate", "data/ref.csv", cwd=project, env=env)
    assert out.returncode == 2
    assert "data/reference_profile.json: schema column 'count' is not in the profile" in out.stderr


def test_validate_in_a_subfolder_reads_the_defaults_at_the_repository_root(
    project: Path, env: dict[str, str]
) -> None:
    from tests.conftest import git

    git("init", "-q", cwd=project, env=env)
    (project / "params.yaml").write_text("validate:\n  psi: {warn: 0.01, fail: 0.02}\n")
    sub = project / "notebooks" / "deep"
    sub.mkdir(parents=True)
    _write(_table(7, shift=0.6), sub / "new.csv")
    out = mlgate("validate", "new.csv", "--json", cwd=sub, env=env)
    assert out.returncode == 1, out.stderr  # the root's params.yaml: psi fails above 0.02
    doc = json.loads(out.stdout)
    assert doc["drift"]["max_psi"] > 0.02 and doc["rows"] == 2000
    bad = mlgate("validate", "new.csv", "--schema", "nope.yaml", cwd=sub, env=env)
    assert bad.returncode == 2 and "nope.yaml" in bad.stderr  # typed paths: from the cwd
