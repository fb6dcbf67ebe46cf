"""DVC experiments are revisions, and ``mlgate exp`` gates them all (real ``dvc exp run``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import BIN, git, mlgate, run

pytestmark = pytest.mark.slow

WRITER = """\
import json, yaml
p = yaml.safe_load(open("params.yaml"))["train"]
json.dump({"acc": round(0.9 - abs(p["C"] - 1) / 10, 4), "loss": p["C"] / 10},
          open("metrics.json", "w"))
"""
PARAMS = """\
train:
  C: 1.0
gate:
  metrics_file: metrics.json
  rules:
    - metric: acc
      max_regression: 0.02
"""
DVC_YAML = """\
stages:
  train:
    cmd: python3 write.py
    deps: [write.py]
    params: [train]
    metrics: [metrics.json]
"""


def _dvc(*args: str, cwd: Path, env: dict[str, str]) -> str:
    return run([BIN / "dvc", *args], cwd=cwd, env=env).stdout


@pytest.fixture
def project(tmp_path: Path, env: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root, env=env)
    _dvc("init", "-q", cwd=root, env=env)
    (root / "write.py").write_text(WRITER)
    (root / "params.yaml").write_text(PARAMS)
    (root / "dvc.yaml").write_text(DVC_YAML)
    _dvc("repro", "-q", cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "baseline", cwd=root, env=env)
    for c, name in (("1.1", "small"), ("2", "big"), ("0.95", "tiny")):
        _dvc("exp", "run", "-q", "-S", f"train.C={c}", "-n", name, cwd=root, env=env)
    return root


def _json(*args: str, cwd: Path, env: dict[str, str]) -> object:
    proc = mlgate(*args, cwd=cwd, env=env)
    assert proc.returncode in (0, 1), proc.stderr
    return json.loads(proc.stdout)


def test_experiments_resolve_as_dvc_resolves_them(project: Path, env: dict[str, str]) -> None:
    by_name = _json("diff", "main", "small", "--json", cwd=project, env=env)
    assert (
        by_name
        == json.loads(_dvc("exp", "diff", "main", "small", "--json", cwd=project, env=env))[
            "metrics"
        ]
    )
    sha = git("rev-parse", "refs/exps/" + _ref_tail(project, env, "small"), cwd=project, env=env)
    assert _json("diff", "main", sha[:8], "--json", cwd=project, env=env) == by_name
    missing = mlgate("diff", "main", "nosuch", cwd=project, env=env)
    assert missing.returncode == 2 and "unknown revision 'nosuch'" in missing.stderr
    _dvc("exp", "run", "--queue", "-q", "-S", "train.C=3", "-n", "later", cwd=project, env=env)
    queued = mlgate("gate", "main", "later", cwd=project, env=env)
    assert queued.returncode == 2 and "experiment 'later' is queued" in queued.stderr
    # the same name from another baseline, HEAD at neither: ambiguous, both listed
    git("commit", "-q", "--allow-empty", "-m", "second baseline", cwd=project, env=env)
    _dvc("exp", "run", "-q", "-S", "train.C=1.2", "-n", "small", cwd=project, env=env)
    git("commit", "-q", "--allow-empty", "-m", "third", cwd=project, env=env)
    ambiguous = mlgate("diff", "main", "small", cwd=project, env=env)
    assert ambiguous.returncode == 2 and "ambiguous" in ambiguous.stderr
    assert ambiguous.stderr.count("refs/exps/") == 2


def test_gate_on_an_experiment_equals_the_gate_on_its_branch(
    project: Path, env: dict[str, str]
) -> None:
    _dvc("exp", "branch", "big", "exp-big", cwd=project, env=env)
    for name in ("big", "exp-big"):
        proc = mlgate("gate", "main", name, "--json", cwd=project, env=env)
        assert proc.returncode == 1, proc.stderr
    as_exp = _json("gate", "main", "big", "--json", cwd=project, env=env)
    as_branch = _json("gate", "main", "exp-big", "--json", cwd=project, env=env)
    assert isinstance(as_exp, dict) and isinstance(as_branch, dict)
    assert as_exp["rules"] == as_branch["rules"] and as_exp["verdict"] == "fail"


def test_exp_ranks_every_experiment_best_first(project: Path, env: dict[str, str]) -> None:
    doc = _json("exp", "--json", cwd=project, env=env)
    assert isinstance(doc, list)
    assert [(d["experiment"]["name"], d["status"]) for d in doc] == [
        ("tiny", "pass"),  # acc 0.895 beats small's 0.89: passing ones by the first metric
        ("small", "pass"),
        ("big", "fail"),
    ]
    assert doc[2]["rules"][0]["message"].startswith("worse by 0.1 > allowed 0.02")
    assert doc[0]["params"] == {"train.C": {"old": 1.0, "new": 0.95, "diff": 0.95 - 1.0}}
    table = mlgate("exp", cwd=project, env=env)
    assert table.returncode == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["experiment", "status", "params", "acc", "why"]
    assert [line.split()[0] for line in lines[1:4]] == ["tiny", "small", "big"]
    assert "dvc exp branch tiny exp-tiny" in table.stdout
    md = mlgate("exp", "--md", cwd=project, env=env).stdout
    assert "| `big` | **fail** |" in md and "```bash" in md


def _ref_tail(root: Path, env: dict[str, str], name: str) -> str:
    refs = git("for-each-ref", "--format=%(refname)", "refs/exps", cwd=root, env=env).split()
    return next(r for r in refs if r.endswith("/" + name)).removeprefix("refs/exps/")
