"""`mlgate init` in a repository laid out as DVC's example projects are, not mlgate's own.

The project has a stage that writes ``model.pkl`` (declared under ``artifacts:``) and its
metrics inside a cached output folder ``eval/`` (top-level ``metrics: [eval/metrics.json]``),
a ``params.yaml`` with no mlgate section and its own ``src/requirements.txt``. ``init`` reads
all of it (the metrics from the DVC cache: ``eval/`` is not in the working tree) and writes a
gate policy on those metrics, workflows that install the project's requirements, no
``ct.yml``; ``--dry-run`` writes nothing and a second run writes nothing either.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import yaml

from mlgate.config import Section
from mlgate.gate.policy import load_policy
from mlgate.scaffold import WORKFLOWS
from mlgate.survey import (
    MLGATE_FROM_GIT,
    MetricsFile,
    dependencies,
    draft_rules,
    policy_metrics,
)
from tests.conftest import BIN, ROOT, git, mlgate, run

TRAIN = """\
import json, os, pathlib, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
pathlib.Path("model.pkl").write_bytes(b"not a pickle: " + str(p["seed"]).encode())
os.makedirs("eval", exist_ok=True)
json.dump({"acc": 0.9, "loss": 0.3, "n_rows": 120, "split": "test"}, open("eval/metrics.json", "w"))
"""

DVC_YAML = {
    "stages": {
        "train": {
            "cmd": "python3 src/train.py",
            "deps": ["src/train.py"],
            "params": ["train"],
            "outs": ["model.pkl", "eval"],
        }
    },
    "metrics": ["eval/metrics.json"],
    "artifacts": {"text-classification": {"path": "model.pkl", "type": "model"}},
}
PARAMS = "train:\n  seed: 7  # the project's own parameters, nothing of mlgate's\n"


@pytest.fixture
def example(tmp_path: Path, env: dict[str, str]) -> Path:
    """git + DVC project as DVC's examples lay it out, reproduced and committed."""
    root = tmp_path / "example"
    (root / "src").mkdir(parents=True)
    git("init", "-q", "-b", "main", cwd=root, env=env)
    run([BIN / "dvc", "init", "-q"], cwd=root, env=env)
    (root / "src/train.py").write_text(TRAIN)
    (root / "src/requirements.txt").write_text("pyyaml\nscikit-learn\n")
    (root / "params.yaml").write_text(PARAMS)
    (root / "dvc.yaml").write_text(yaml.safe_dump(DVC_YAML, sort_keys=False))
    run([BIN / "dvc", "repro", "-q"], cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "pipeline", cwd=root, env=env)
    shutil.rmtree(root / "eval")  # only in the DVC cache now, as on a fresh checkout
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts[:1]
    }


def test_init_reads_the_repository_and_writes_a_policy_on_its_metrics(
    example: Path, env: dict[str, str]
) -> None:
    before = _tree(example)
    dry = mlgate("init", "--dry-run", cwd=example, env=env)
    assert dry.returncode == 0, dry.stderr
    assert _tree(example) == before, "a dry run writes nothing"
    assert re.search(r"^would create +\.github/workflows/pr\.yml$", dry.stdout, re.M)
    assert re.search(
        r"^would append to +params\.yaml +\(gate on acc, loss, n_rows", dry.stdout, re.M
    )
    assert "dry run: nothing written" in dry.stdout

    proc = mlgate("init", cwd=example, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # what it read: the cached metrics, the model, the project's requirements
    assert "found  metrics eval/metrics.json: acc, loss, n_rows" in out
    assert "found  model text-classification: model.pkl" in out
    assert "found  dependencies: src/requirements.txt" in out

    params = (example / "params.yaml").read_text()
    assert params.startswith(PARAMS), "the project's params and comments stay"
    gate = yaml.safe_load(params)["gate"]
    assert gate["metrics_file"] == "eval/metrics.json"
    rules = {r["metric"]: r for r in gate["rules"]}
    assert rules["acc"] == {"metric": "acc", "min": 0.855, "max_regression": 0.018}
    assert rules["loss"] == {"metric": "loss", "max": 0.315, "max_regression": 0.006}
    policy = load_policy(Section(gate, file="params.yaml", where="gate"))
    assert [r.direction for r in policy.rules] == ["higher", "lower", "higher"]

    requirements = (example / "requirements.txt").read_text().splitlines()
    assert requirements[-1] == MLGATE_FROM_GIT and "-r src/requirements.txt" in requirements
    workflows = example / ".github/workflows"
    assert sorted(p.name for p in workflows.iterdir()) == sorted(set(WORKFLOWS) - {"ct.yml"})
    for path in workflows.iterdir():  # byte for byte mlgate's own, installing requirements.txt
        assert path.read_bytes() == (ROOT / ".github/workflows" / path.name).read_bytes()
        if path.name != "pr-comment.yml":  # posts a report artifact, installs nothing
            assert "pip install -r requirements.txt" in path.read_text()
    assert "ct.yml (continuous training) not written" in proc.stderr
    assert "no DVC remote configured" in proc.stderr
    assert "declares no model" not in proc.stderr

    # a second run reads the same repository and writes nothing
    after = _tree(example)
    again = mlgate("init", cwd=example, env=env)
    assert again.returncode == 0, again.stderr
    assert _tree(example) == after
    assert "nothing to write" in again.stdout
    assert not re.search(r"^(created|appended|overwritten|updated) ", again.stdout, re.M)

    # --ct writes the continuous-training workflow and says what `mlgate ct` still needs
    with_ct = mlgate("init", "--ct", cwd=example, env=env)
    assert re.search(r"^created +\.github/workflows/ct\.yml$", with_ct.stdout, re.M)
    assert "`mlgate ct` (ct.yml) exits 2" in with_ct.stderr


def test_init_without_artifacts_prints_the_line_to_add(example: Path, env: dict[str, str]) -> None:
    doc = {k: v for k, v in DVC_YAML.items() if k != "artifacts"}
    (example / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = mlgate("init", "--dry-run", cwd=example, env=env)
    assert proc.returncode == 0, proc.stderr
    line = "add `artifacts: {model: {path: model.pkl, type: model}}` to dvc.yaml"
    assert [w for w in proc.stderr.splitlines() if line in w], proc.stderr


def test_init_without_metrics_writes_no_placeholder_policy(
    example: Path, env: dict[str, str]
) -> None:
    doc = {k: v for k, v in DVC_YAML.items() if k != "metrics"}
    (example / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    proc = mlgate("init", cwd=example, env=env)
    assert proc.returncode == 0, proc.stderr
    assert re.search(r"^skipped +params\.yaml +\(no metrics to gate on\)", proc.stdout, re.M)
    assert "declares no metrics" in proc.stderr
    assert (example / "params.yaml").read_text() == PARAMS


def test_dependencies_found_and_left_out(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src/requirements.txt").write_text("numpy\n")
    (tmp_path / "requirements-dev.txt").write_text("pytest\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\nversion = "1"\n[build-system]\nrequires = ["hatchling"]\n'
    )
    deps = dependencies(tmp_path)
    assert deps.install == ("-r src/requirements.txt", ".")
    assert [n.split(":")[0] for n in deps.notes] == ["requirements-dev.txt"]
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = ["numpy"]\n')
    assert "no [build-system]" in dependencies(tmp_path).notes[-1]
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 99\n")
    assert dependencies(tmp_path).install == ("-r src/requirements.txt",)


def test_drafted_rules_sit_on_the_lenient_side_of_today() -> None:
    file = MetricsFile("m.json", {"n": 0.0, "abs_error": 1234.5, "val.f1": 0.8, "r2": -0.2})
    assert policy_metrics(file) == ["val.f1", "r2", "n"]  # well-known scores first
    doc = yaml.safe_load("rules:\n" + draft_rules(file, count=4))
    by_name = {r["metric"]: r for r in doc["rules"]}
    assert by_name["val.f1"]["min"] == 0.76
    assert by_name["r2"]["min"] == -0.21
    assert by_name["abs_error"]["max"] == 1297 and by_name["abs_error"]["max_regression"] == 25
    assert by_name["n"] == {"metric": "n", "min": -0.01, "max_regression": 0.01}
    quoted = draft_rules(MetricsFile("m.json", {"a b: c": 1.0}))
    assert yaml.safe_load("rules:\n" + quoted)["rules"][0]["metric"] == "a b: c"


def test_ct_without_its_section_names_each_key_to_add(example: Path, env: dict[str, str]) -> None:
    """`mlgate ct` reads only `ct:`: never the project's own sections, whatever they hold."""
    before = _tree(example)
    proc = mlgate("ct", "--dry-run", cwd=example, env=env)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "params.yaml: no `ct:` section" in proc.stderr
    for key in ("source", "model", "label", "id_column", "holdout", "schema"):
        assert f"ct.{key} (" in proc.stderr
    assert "model: text-classification" in proc.stderr  # the example names the declared model
    assert "data:" not in proc.stderr and "Traceback" not in proc.stderr
    assert _tree(example) == before
