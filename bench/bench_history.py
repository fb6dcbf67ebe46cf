"""Benchmark: `mlgate history` against GTO's `gto history` and `gto show`, in the same run.

Run from the repository root (one command; gto is in the dev environment):

    .venv/bin/python bench/bench_history.py            # or: --deployments 1000 --runs 7

It builds one git repository in a temporary folder holding the same release history in
both tools' shapes: ``--deployments`` deploys of the model, each a commit that rewrites
``deploy/production.yaml`` (what `mlgate release` commits; its git log is mlgate's history)
and GTO's annotated tags on that commit (``model@vX.Y.Z``, a registration, and
``model#prod#N``, an assignment to ``prod``: what `gto register` and `gto assign` write).
The repository is written with one `git fast-import` (a release per second of commit
time). Then it checks that both tools see every deployment, and times whole processes,
alternating the tools run by run: medians, ratios and versions. Target: `mlgate history`
under 0.2 s at 1000 deployments (wall, median).
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

BIN = Path(sys.executable).parent
TARGET_S = 0.2
START = 1_790_000_000  # commit time of the first deploy (seconds since the epoch, 2026)
DVC_YAML = "artifacts:\n  model:\n    path: models/model.pkl\n    type: model\n"
POINTER = """\
# The model in production. Written by `mlgate release`, reverted by `mlgate rollback`;
# `mlgate history` reads its git log. Format: deploy/README.md. Do not edit by hand.
version: v1.{major}.{minor}
commit: '{commit}'
model:
  path: models/model.pkl
  md5: '{md5}'
  sha256: '{sha256}'
  size: {size}
metrics:
  accuracy: {acc}
  f1: {f1}
  roc_auc: {auc}
released_at: '{when}'
"""


def _data(text: str) -> bytes:
    raw = text.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _stream(n: int) -> bytes:
    """A `git fast-import` stream: a first commit, then n deploys each with GTO's two tags."""
    out = [b"commit refs/heads/main\nmark :1\n"]
    out.append(b"committer Bench <bench@example.com> %d +0000\n" % (START - 60))
    out.append(_data("initial: dvc.yaml declares the model"))
    out.append(b"M 100644 inline dvc.yaml\n" + _data(DVC_YAML))
    for i in range(1, n + 1):
        major, minor = divmod(i, 1000)
        version = f"v1.{major}.{minor}"
        when = START + i
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(when))
        pointer = POINTER.format(
            major=major,
            minor=minor,
            commit=f"{i:040x}",
            md5=f"{i:032x}",
            sha256=f"{i:064x}",
            size=1000 + i,
            acc=round(0.9 + i / 1e5, 6),
            f1=round(0.8 + i / 1e5, 6),
            auc=round(0.95 + i / 1e6, 6),
            when=stamp,
        )
        out.append(b"commit refs/heads/main\nmark :%d\n" % (i + 1))
        out.append(b"committer Bench <bench@example.com> %d +0000\n" % when)
        out.append(_data(f"deploy: {version}\n\nReleased by the benchmark."))
        out.append(b"M 100644 inline deploy/production.yaml\n" + _data(pointer))
        for tag, message in (
            (f"model@{version}", f"Registering artifact model version {version}"),
            (f"model#prod#{i}", f"Assigning stage prod to artifact model version {version}"),
        ):
            out.append(b"tag %s\nfrom :%d\n" % (tag.encode(), i + 1))
            out.append(b"tagger Bench <bench@example.com> %d +0000\n" % when)
            out.append(_data(message))
    return b"".join(out)


def _prepare(tmp: Path, n: int, env: dict[str, str]) -> Path:
    repo = tmp / "repo"
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], env=env, check=True)
    subprocess.run(
        ["git", "fast-import", "--quiet"], cwd=repo, env=env, input=_stream(n), check=True
    )
    subprocess.run(["git", "checkout", "-q", "-f", "main"], cwd=repo, env=env, check=True)
    return repo


def _time(cmd: list[str], cwd: Path, env: dict[str, str]) -> tuple[float, float]:
    """Wall time and CPU time (user + system, the process and its children such as git)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def _check(repo: Path, n: int, env: dict[str, str]) -> str | None:
    """Both tools list every deployment (None), else what differs."""
    ours = json.loads(
        subprocess.run(
            [str(BIN / "mlgate"), "history", "--json"],
            cwd=repo, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )["deployments"]  # fmt: skip
    theirs = json.loads(
        subprocess.run(
            [str(BIN / "gto"), "history", "model", "--json"],
            cwd=repo, env=env, capture_output=True, text=True, check=True,
        ).stdout
    )  # fmt: skip
    deploys = [d for d in ours if d["kind"] == "deploy"]
    assigned = [e for e in theirs if e["event"] == "assignment"]
    if len(deploys) != n or len(assigned) != n:
        return f"mlgate lists {len(deploys)} deploys, gto {len(assigned)} assignments; expected {n}"
    if deploys[0]["version"] != assigned[0]["version"]:
        return f"newest: mlgate {deploys[0]['version']}, gto {assigned[0]['version']}"
    return None


def _version(cmd: list[str], env: dict[str, str]) -> str:
    out = subprocess.run(cmd, env=env, capture_output=True, text=True).stdout.strip()
    return out.splitlines()[0] if out else "?"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=1000, help="deploys (default 1000)")
    parser.add_argument("--runs", type=int, default=7, help="timed runs per command (default 7)")
    args = parser.parse_args()
    env = {
        **os.environ,
        "NO_COLOR": "1",
        "COLUMNS": "160",
        "GIT_AUTHOR_NAME": "Bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "Bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # as users run them: bytecode cached, both tools
    env.pop("GITHUB_ACTIONS", None)
    tmp = Path(tempfile.mkdtemp(prefix="mlgate-bench-history-"))
    try:
        repo = _prepare(tmp, args.deployments, env)
        problem = _check(repo, args.deployments, env)
        if problem:
            print(f"MISMATCH: {problem}", file=sys.stderr)
            return 1
        mlgate, gto = str(BIN / "mlgate"), str(BIN / "gto")
        commands = {
            "mlgate history": [mlgate, "history"],
            "mlgate history --json": [mlgate, "history", "--json"],
            "gto history": [gto, "history", "model"],
            "gto history --json": [gto, "history", "model", "--json"],
            "gto show model": [gto, "show", "model"],
        }
        for cmd in commands.values():  # warm the OS file cache and the bytecode
            _time(cmd, repo, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        names = list(commands)
        for i in range(args.runs):
            for name in names if i % 2 == 0 else reversed(names):
                times[name].append(_time(commands[name], repo, env))
        versions = {
            "python": platform.python_version(),
            "mlgate": _version([mlgate, "--version"], env).removeprefix("mlgate "),
            "gto": _version([gto, "--version"], env).split()[-1],
            "git": _version(["git", "--version"], env).removeprefix("git version "),
            "cpus": str(os.cpu_count()),
        }
        print(" ".join(f"{k}={v}" for k, v in versions.items()))
        print(
            f"{args.deployments} deployments ({2 * args.deployments} GTO tags); runs={args.runs} "
            "per command, alternating; whole processes (CPU: user+system incl. git)"
        )
        medians = {
            name: (statistics.median(w for w, _ in ts), statistics.median(c for _, c in ts))
            for name, ts in times.items()
        }
        ours = medians["mlgate history"][0]
        print(f"{'command':24} {'wall':>9} {'CPU':>9}  {'wall vs mlgate history':>22}")
        for name, (wall, cpu) in medians.items():
            print(f"{name:24} {wall * 1000:6.0f} ms {cpu * 1000:6.0f} ms  {wall / ours:21.1f}x")
        load = " ".join(f"{x:.1f}" for x in os.getloadavg())
        print(f"load average during the run: {load} (on {os.cpu_count()} CPUs)")
        worst = max(medians["mlgate history"][0], medians["mlgate history --json"][0])
        verdict = "met" if worst < TARGET_S else "MISSED"
        print(f"target mlgate history < {TARGET_S:g} s: {verdict} ({worst:.3f} s)")
        return 0 if worst < TARGET_S else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
