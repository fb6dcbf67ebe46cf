"""Benchmark: `mlgate gate` with a large paired bootstrap (100k eval rows by default).

Run from the repository root (one command):

    .venv/bin/python bench/bench_gate.py            # or: --rows 200000 --runs 5
    .venv/bin/python bench/bench_gate.py --task multiclass --rows 1000000   # 10 classes
    .venv/bin/python bench/bench_gate.py --task regression --rows 1000000

It clones this repository into a temporary folder, commits a seeded ``metrics/predictions.csv``
with ``--rows`` rows as the baseline, writes a slightly worse candidate into the working tree
(same ``row_id``s, so the gate runs its paired bootstrap with the policy's
``bootstrap_samples``, 1000 in the reference ``params.yaml``), and times whole
``mlgate gate HEAD --json`` processes. Prints the median wall and CPU time, the peak RSS of
the gate process (``os.wait4``: not git's, not this script's), the p-values, intervals and
methods (so runs before and after a change can be compared for equivalence).

``--task multiclass`` (10 classes, ``score_0..score_9``) and ``--task regression`` write
that task's predictions file and replace the policy with ``gate.task`` and one rule per
metric of the task's table (``max_regression: 0`` with ``significance: 0.05``), the
metrics file holding each metric's value as the gate computes it.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _predictions(rows: int, seed: int, noise: float) -> str:
    import numpy as np

    rng = np.random.default_rng(seed)
    y = (rng.random(rows) < 0.4).astype(int)
    base = np.random.default_rng(12345).normal(size=rows)
    logit = 2.5 * (2 * y - 1) + base + noise * rng.normal(size=rows)
    score = np.round(1 / (1 + np.exp(-logit)), 4)  # rounded: many tied scores, as in real files
    pred = (score >= 0.5).astype(int)
    lines = ["row_id,y_true,y_pred,y_score"]
    lines += [
        f"{i},{t},{p},{s:.4f}" for i, t, p, s in zip(range(rows), y, pred, score, strict=True)
    ]
    return "\n".join(lines) + "\n"


def _task_predictions(task: str, rows: int, seed: int, noise: float) -> str:
    import io

    import numpy as np

    rng = np.random.default_rng(seed)
    if task == "regression":
        y = np.random.default_rng(99).normal(10, 3, rows)
        p = y + np.random.default_rng(98).normal(size=rows) + noise * rng.normal(size=rows)
        out = io.StringIO()
        np.savetxt(out, np.c_[np.arange(rows), y, p], fmt=["%d", "%.4f", "%.4f"], delimiter=",")
        return "row_id,y_true,y_pred\n" + out.getvalue()
    k = 10
    labels = np.random.default_rng(99).integers(0, k, rows)
    logits = 1.5 * np.eye(k)[labels] + np.random.default_rng(98).normal(size=(rows, k))
    logits += noise * rng.normal(size=(rows, k))
    s = np.exp(logits)
    s /= s.sum(axis=1, keepdims=True)
    out = io.StringIO()
    table = np.c_[np.arange(rows), labels, s.argmax(axis=1), s]
    np.savetxt(out, table, fmt=["%d", "%d", "%d"] + ["%.4f"] * k, delimiter=",")
    head = "row_id,y_true,y_pred," + ",".join(f"score_{c}" for c in range(k))
    return head + "\n" + out.getvalue()


TASK_RULES = {
    "multiclass": [
        "accuracy",
        "macro_f1",
        "weighted_f1",
        "recall.3",
        "log_loss",
        "roc_auc_ovr",
        "top_k_accuracy",
    ],
    "regression": ["rmse", "mae", "r2", "mape", "median_ae"],
}


def _task_policy(repo: Path, task: str) -> None:
    """The task's policy in params.yaml and its metric values in metrics/scores.json."""
    import yaml

    from mlgate.gate.measures import point_value
    from mlgate.gate.stats import metric_of, parse_predictions

    params = yaml.safe_load((repo / "params.yaml").read_text())
    rules: list[dict[str, Any]] = [
        {"metric": m, "max_regression": 0.0, "significance": 0.05} for m in TASK_RULES[task]
    ]
    for rule in rules:
        if rule["metric"] == "top_k_accuracy":
            rule["k"] = 3
    params["gate"] = {"task": task, "bootstrap_samples": 1000, "seed": 0, "rules": rules}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    pred = parse_predictions((repo / "metrics" / "predictions.csv").read_bytes(), "p", task=task)
    scores = {}
    for rule in rules:
        metric = metric_of(pred, rule["metric"], k=rule.get("k"))
        assert metric is not None
        scores[rule["metric"]] = point_value(pred, metric)
    (repo / "metrics" / "scores.json").write_text(json.dumps(scores, indent=2))


def _prepare(tmp: Path, rows: int, env: dict[str, str], task: str = "binary") -> Path:
    repo = tmp / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], env=env, check=True)
    target = repo / "metrics" / "predictions.csv"
    if task != "binary":
        return _prepare_task(repo, target, rows, env, task)
    target.write_text(_predictions(rows, 1, 0.5))
    for cmd in (
        ["git", "add", "metrics/predictions.csv"],
        [
            "git",
            "-c",
            "user.name=bench",
            "-c",
            "user.email=bench@example.com",
            "commit",
            "-qm",
            "baseline with big predictions",
        ],
    ):
        subprocess.run(cmd, cwd=repo, env=env, check=True)
    target.write_text(_predictions(rows, 1, 1.5))  # candidate: noisier scores, same rows
    scores = repo / "metrics" / "scores.json"
    data = json.loads(scores.read_text())
    scores.write_text(json.dumps({k: v * 0.99 for k, v in data.items()}, indent=2))
    return repo


def _prepare_task(repo: Path, target: Path, rows: int, env: dict[str, str], task: str) -> Path:
    target.write_text(_task_predictions(task, rows, 1, 0.5))
    _task_policy(repo, task)
    git = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "add", "-A"], cwd=repo, env=env, check=True)
    subprocess.run([*git, "commit", "-qm", f"{task} baseline"], cwd=repo, env=env, check=True)
    target.write_text(_task_predictions(task, rows, 1, 1.0))  # candidate: noisier
    _task_policy(repo, task)  # the candidate's metric values (the policy is the same)
    return repo


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, float, str]:
    """Wall and CPU seconds, peak RSS (MiB) of this one process (``wait4``), and its stdout."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if proc.returncode not in (0, 1):
            raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {err.read().decode()}")
        cpu = usage.ru_utime + usage.ru_stime
        return wall, cpu, usage.ru_maxrss / 1024, out.read().decode()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--task", choices=("binary", "multiclass", "regression"), default="binary")
    parser.add_argument("--prepare", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--keep",
        type=Path,
        help="prepare the project in this folder and keep it; reuse it when it is already "
        "there for the same --rows and --task (saves generating 10M rows again)",
    )
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GITHUB_ACTIONS", None)
    if args.prepare is not None:
        print(_prepare(args.prepare, args.rows, env, args.task))
        return
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-gate-"))
    try:
        keep = args.keep / f"{args.task}-{args.rows}" if args.keep else None
        if keep is not None and (keep / "project").is_dir():
            repo = keep / "project"
        else:
            if keep is not None:
                keep.mkdir(parents=True, exist_ok=True)
            # generated in another process: the gate is forked from this one, and a child's
            # peak RSS counts the parent's pages it starts with (10M rows of text: 1.6 GiB)
            prep = [sys.executable, __file__, "--rows", str(args.rows), "--prepare"]
            prep += [str(keep or tmp), "--task", args.task]
            made = subprocess.run(prep, env=env, check=True, capture_output=True, text=True)
            repo = Path(made.stdout.strip())
        cmd = [str(BIN / "mlgate"), "gate", "HEAD", "--json"]
        walls, cpus, peaks, out = [], [], [], ""
        load = os.getloadavg()[0]
        for _ in range(args.runs):
            wall, cpu, peak, out = _time(cmd, repo, env)
            walls.append(wall)
            cpus.append(cpu)
            peaks.append(peak)
        peak = max(peaks)
        verdict = json.loads(out)
        print(f"mlgate gate HEAD --json, {args.task}, {args.rows} paired rows, {args.runs} runs")
        print(
            f"  median wall {statistics.median(walls):.2f} s  (all: "
            f"{', '.join(f'{w:.2f}' for w in walls)})"
        )
        print(
            f"  median CPU  {statistics.median(cpus):.2f} s, peak RSS {peak:.0f} MiB "
            "(of the mlgate process)"
        )
        print(f"  load average (1 min) {load:.2f} before the runs, {os.getloadavg()[0]:.2f} after")
        print(f"  verdict {verdict['verdict']}")
        for rule in verdict["rules"]:
            stats = {k: rule[k] for k in ("p_value", "interval", "method") if k in rule}
            print(f"  {rule.get('metric')}: {rule.get('status')} {stats}")
        print(f"  python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
