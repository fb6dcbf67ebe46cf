"""Builders for the metrics/gate/report tests: small git repos with committed metrics.

A repo here is what a DVC project looks like to ``mlgate diff``/``gate``: a ``dvc.yaml``
declaring metrics files, ``params.yaml`` with a ``gate:`` section, and the files themselves.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.conftest import git

DVC_YAML = """\
stages:
  evaluate:
    cmd: python evaluate.py
    metrics:
      - metrics/scores.json:
          cache: false
      - metrics/bootstrap.json:
          cache: false
      - metrics/slices.json:
          cache: false
"""

POLICY: dict[str, Any] = {
    "rules": [
        {"metric": "roc_auc", "min": 0.8, "max_regression": 0.02},
        {"metric": "log_loss", "max": 0.5},
    ],
}

SCORES = {"accuracy": 0.9, "roc_auc": 0.95, "log_loss": 0.2}
SLICES = {
    "size=[0,12)": {"n": 50, "accuracy": 0.92},
    "size=[12,15)": {"n": 60, "accuracy": 0.88},
    "size=[15,100)": {"n": 10, "accuracy": 0.7},
}


def predictions_csv(y_true: list[int], y_score: list[float], threshold: float = 0.5) -> str:
    lines = ["row_id,y_true,y_pred,y_score"]
    for i, (y, s) in enumerate(zip(y_true, y_score, strict=True)):
        lines.append(f"{i},{y},{int(s >= threshold)},{s:.6f}")
    return "\n".join(lines) + "\n"


def write_files(root: Path, files: Mapping[str, Any]) -> None:
    """Write each ``path: content``; dicts become JSON (YAML for params.yaml); None deletes."""
    for rel, content in files.items():
        p = root / rel
        if content is None:
            p.unlink(missing_ok=True)
            continue
        p.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, dict) and rel.endswith((".yaml", ".yml")):
            p.write_text(yaml.safe_dump(content, sort_keys=False))
        elif isinstance(content, dict):
            p.write_text(json.dumps(content, indent=2))
        else:
            p.write_text(content)


def commit(root: Path, env: Mapping[str, str], message: str, files: Mapping[str, Any]) -> str:
    write_files(root, files)
    git("add", "-A", cwd=root, env=env)
    git("commit", "-q", "--allow-empty", "-m", message, cwd=root, env=env)
    return git("rev-parse", "HEAD", cwd=root, env=env)


def metrics_repo(
    root: Path,
    env: Mapping[str, str],
    *,
    scores: Mapping[str, Any] | None = None,
    policy: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """A git repo on ``main`` with one commit of metrics (and a policy unless ``policy={}``)."""
    root.mkdir(parents=True, exist_ok=True)
    git("init", "-q", "-b", "main", cwd=root, env=env)
    params: dict[str, Any] = {"train": {"C": 1.0}}
    if policy is None:
        policy = POLICY
    if policy:
        params["gate"] = dict(policy)
    files: dict[str, Any] = {
        "dvc.yaml": DVC_YAML,
        "params.yaml": params,
        "metrics/scores.json": dict(scores or SCORES),
        "metrics/slices.json": SLICES,
    }
    files.update(extra or {})
    commit(root, env, "baseline", files)
    return root
