"""Benchmark: `mlgate gate` with a large paired bootstrap (100k eval rows by default).

Run from the repository root (one command):

    .venv/bin/python bench/bench_gate.py            # or: --rows 200000 --runs 5

It clones this repository into a temporary folder, commits a seeded ``metrics/predictions.csv``
with ``--rows`` rows as the baseline, writes a slightly worse candidate into the working tree
(same ``row_id``s, so the gate runs its paired bootstrap with the policy's
``bootstrap_samples``, 1000 in the reference ``params.yaml``), and times whole
``mlgate gate HEAD --json`` processes. Prints the median wall and CPU time, the peak RSS and
the p-values (so runs before and after a change can be compared for equivalence).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

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


def _prepare(tmp: Path, rows: int, env: dict[str, str]) -> Path:
    repo = tmp / "project"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], env=env, check=True)
    target = repo / "metrics" / "predictions.csv"
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


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr}")
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, proc.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("GITHUB_ACTIONS", None)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-gate-"))
    try:
        repo = _prepare(tmp, args.rows, env)
        cmd = [str(BIN / "mlgate"), "gate", "HEAD", "--json"]
        walls, cpus, out = [], [], ""
        for _ in range(args.runs):
            wall, cpu, out = _time(cmd, repo, env)
            walls.append(wall)
            cpus.append(cpu)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        verdict = json.loads(out)
        print(f"mlgate gate HEAD --json, {args.rows} paired rows, {args.runs} runs")
        print(
            f"  median wall {statistics.median(walls):.2f} s  (all: "
            f"{', '.join(f'{w:.2f}' for w in walls)})"
        )
        print(f"  median CPU  {statistics.median(cpus):.2f} s, peak RSS {peak:.0f} MiB")
        print(f"  verdict {verdict['verdict']}")
        for rule in verdict["rules"]:
            stats = {k: rule[k] for k in ("p_value", "interval") if k in rule}
            print(f"  {rule.get('metric')}: {rule.get('status')} {stats}")
        print(f"  python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} CPUs")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
