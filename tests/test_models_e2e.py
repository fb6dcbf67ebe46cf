"""Any model, any layout: a repository laid out as DVC's examples are, released end to end.

The model is ``models/model.pkl`` declared under ``artifacts:`` (never loaded: release,
history, status, rollback and pull-model only move and hash bytes), its metrics live in a
cached output, tags are GTO's ``NAME@vX.Y.Z``; then a second model is released and rolled
back on its own.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
import yaml

from tests.conftest import BIN, git, mlgate, run

pytestmark = pytest.mark.slow

WRITER = """\
import json, os, pathlib, sys, yaml
name = sys.argv[1]
p = yaml.safe_load(open("params.yaml"))[name]
os.makedirs("models", exist_ok=True)
os.makedirs(f"eval/{name}", exist_ok=True)
pathlib.Path(f"models/{name}.pkl").write_bytes(f"not a pickle: {name} {p['acc']}".encode())
json.dump({"acc": p["acc"]}, open(f"eval/{name}/metrics.json", "w"))
"""


def _stage(name: str) -> dict[str, object]:
    return {
        "cmd": f"python3 write.py {name}",
        "deps": ["write.py"],
        "params": [name],
        "outs": [f"models/{name}.pkl", f"eval/{name}"],
    }


def _project(root: Path, env: dict[str, str], names: list[str]) -> None:
    dvc = str(BIN / "dvc")
    (root / "write.py").write_text(WRITER)
    (root / "params.yaml").write_text(yaml.safe_dump({n: {"acc": 0.9} for n in names}))
    doc = {
        "stages": {n: _stage(n) for n in names},
        "metrics": [f"eval/{n}/metrics.json" for n in names],
        "artifacts": {n: {"path": f"models/{n}.pkl", "type": "model"} for n in names},
    }
    (root / "dvc.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    run([dvc, "repro", "-q"], cwd=root, env=env)
    run([dvc, "push", "-q"], cwd=root, env=env)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "-m", "pipeline", cwd=root, env=env)


def _init(tmp_path: Path, env: dict[str, str]) -> Path:
    root = tmp_path / "repo"
    root.mkdir()
    git("init", "-q", "-b", "main", cwd=root, env=env)
    run([BIN / "dvc", "init", "-q"], cwd=root, env=env)
    run(
        [BIN / "dvc", "remote", "add", "-q", "-d", "store", str(tmp_path / "store")],
        cwd=root,
        env=env,
    )
    return root


def _bump(root: Path, env: dict[str, str], name: str, acc: float) -> None:
    params = yaml.safe_load((root / "params.yaml").read_text())
    params[name]["acc"] = acc
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    run([BIN / "dvc", "repro", "-q"], cwd=root, env=env)
    run([BIN / "dvc", "push", "-q"], cwd=root, env=env)
    git("commit", "-q", "-am", f"{name} {acc}", cwd=root, env=env)


def _ok(*args: str, cwd: Path, env: dict[str, str]) -> str:
    proc = mlgate(*args, cwd=cwd, env=env)
    assert proc.returncode == 0, (args, proc.stdout, proc.stderr)
    return proc.stdout


def test_one_model_declared_as_artifact_with_gto_tags(tmp_path: Path, env: dict[str, str]) -> None:
    root = _init(tmp_path, env)
    _project(root, env, ["text-classification"])
    git("tag", "v1.0.0", cwd=root, env=env)
    out = _ok("release", "v1.0.0", cwd=root, env=env)
    assert "released v1.0.0" in out
    pointer = yaml.safe_load((root / "deploy" / "production.yaml").read_text())
    model = (root / "models" / "text-classification.pkl").read_bytes()
    assert pointer["model"]["path"] == "models/text-classification.pkl"
    assert pointer["model"]["sha256"] == hashlib.sha256(model).hexdigest()
    assert pointer["metrics"] == {}  # no gate policy: no metrics file to record
    _bump(root, env, "text-classification", 0.95)
    # GTO's form names the model (annotated, as `gto register` makes it)
    git("tag", "-a", "-m", "register", "text-classification@v1.1.0", cwd=root, env=env)
    _ok("release", "text-classification@v1.1.0", cwd=root, env=env)
    gto = json.loads(run([BIN / "gto", "show", "--json"], cwd=root, env=env).stdout)
    assert gto["text-classification"]["version"] == "v1.1.0"  # GTO still reads the repository
    history = json.loads(_ok("history", "--json", cwd=root, env=env))
    assert [d["version"] for d in history["deployments"]] == [
        "text-classification@v1.1.0",
        "v1.0.0",
    ]
    status = json.loads(_ok("status", "--json", cwd=root, env=env))
    assert status["live"]["version"] == "text-classification@v1.1.0"
    assert status["workspace"]["model_path"] == "models/text-classification.pkl"
    assert status["workspace"]["differs_from_live"] is False
    assert "-> v1.0.0" in _ok("rollback", cwd=root, env=env)
    out = str(tmp_path / "out")  # not skops: moved and hash-checked, never loaded or scanned
    said = _ok("pull-model", "-o", out, cwd=root, env=env)
    assert "not a skops file, so not scanned" in said
    got = Path(said.splitlines()[0])
    assert got.name == "text-classification.pkl"  # named as in the artifact, bytes verified
    assert hashlib.sha256(got.read_bytes()).hexdigest() == pointer["model"]["sha256"]
    assert "models/model.skops" not in (root / "deploy" / "production.yaml").read_text()


def test_no_artifact_names_the_snippet_to_add(tmp_path: Path, env: dict[str, str]) -> None:
    root = _init(tmp_path, env)
    _project(root, env, ["clf"])
    doc = yaml.safe_load((root / "dvc.yaml").read_text())
    del doc["artifacts"]
    (root / "dvc.yaml").write_text(yaml.safe_dump(doc))
    git("commit", "-q", "-am", "no artifacts", cwd=root, env=env)
    git("tag", "v1.0.0", cwd=root, env=env)
    proc = mlgate("release", "v1.0.0", cwd=root, env=env)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1
    assert "artifacts: {clf: {path: models/clf.pkl, type: model}}" in proc.stderr
    assert not (root / "deploy").exists()


def test_two_models_released_and_rolled_back_on_their_own(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = _init(tmp_path, env)
    _project(root, env, ["churn", "fraud"])
    params = yaml.safe_load((root / "params.yaml").read_text())
    params["gate"] = {  # a shared default (no rules) and churn's own policy
        "models": {
            "churn": {
                "metrics_file": "eval/churn/metrics.json",
                "rules": [{"metric": "acc", "min": 0.95}],
            }
        }
    }
    (root / "params.yaml").write_text(yaml.safe_dump(params))
    git("commit", "-q", "-am", "gate policy per model", cwd=root, env=env)
    git("tag", "churn@v0.9.0", cwd=root, env=env)
    failed = mlgate("release", "churn@v0.9.0", cwd=root, env=env)  # acc 0.9 < churn's min
    assert failed.returncode == 1 and "gate failed" in failed.stdout
    _bump(root, env, "churn", 0.96)
    git("tag", "churn@v1.0.0", cwd=root, env=env)
    git("tag", "fraud@v1.0.0", cwd=root, env=env)
    git("tag", "v1.0.0", cwd=root, env=env)
    plain = mlgate("release", "v1.0.0", cwd=root, env=env)  # ambiguous with two models
    assert plain.returncode == 2 and "several models" in plain.stderr
    _ok("release", "churn@v1.0.0", cwd=root, env=env)
    _ok("release", "fraud@v1.0.0", cwd=root, env=env)
    _bump(root, env, "fraud", 0.97)
    git("tag", "fraud@v1.1.0", cwd=root, env=env)
    _ok("release", "fraud@v1.1.0", cwd=root, env=env)
    churn = yaml.safe_load((root / "deploy" / "churn" / "production.yaml").read_text())
    fraud = yaml.safe_load((root / "deploy" / "fraud" / "production.yaml").read_text())
    assert (churn["version"], fraud["version"]) == ("churn@v1.0.0", "fraud@v1.1.0")
    assert mlgate("status", cwd=root, env=env).returncode == 2  # which one? --model says
    versions = json.loads(_ok("history", "--model", "fraud", "--json", cwd=root, env=env))
    assert [d["version"] for d in versions["deployments"]] == ["fraud@v1.1.0", "fraud@v1.0.0"]
    assert "fraud@v1.1.0 -> fraud@v1.0.0" in _ok("rollback", "--model", "fraud", cwd=root, env=env)
    after = yaml.safe_load((root / "deploy" / "churn" / "production.yaml").read_text())
    assert after == churn  # the other model is untouched
    fraud_now = json.loads(_ok("status", "--model", "fraud", "--json", cwd=root, env=env))
    assert fraud_now["live"]["version"] == "fraud@v1.0.0"
    nothing = mlgate("rollback", "--model", "churn", cwd=root, env=env)
    assert nothing.returncode == 2 and "first release" in nothing.stderr
