"""Benchmark `mlgate serve` side by side with MLServer's scikit-learn runtime (and the floor,
a minimal FastAPI app calling the same model).

Loopback only, bounded in time. The servers run side by side on the same model: mlgate on
its skops file (released in a git repository with a local DVC remote), MLServer 1.7 with
``mlserver_sklearn.SKLearnModel`` on a joblib dump of the very same fitted pipeline, in a
separate virtualenv (``--mlserver-venv``, made with ``pip install mlserver mlserver-sklearn
'uvloop<0.21'``; its default settings, one inference worker process). Both are driven over
the Open Inference Protocol (``POST /v2/models/model/infer``, one ``[rows, columns]`` FP64
tensor, probabilities asked for) by wrk (Debian package ``wrk``, a lua script for the POST
body) at concurrency 1, 8 and 32 with 1 and 100 rows, alternating the servers, ``--rounds``
times each; the table reports medians and ratios. Start-to-ready is process start to the
first 200 from the model's readiness route, alternated too.

    python bench/bench_serve.py --mlserver-venv /tmp/mlserver-venv   # about 5 minutes
    python bench/bench_serve.py --mlserver-venv V --duration 2 --rounds 1   # a quick look
    python bench/bench_serve.py                  # without MLServer: mlgate vs the floor
    python bench/bench_serve.py --starts-only --starts 5  # start-to-ready only, no wrk

``python bench/bench_serve.py floor --model PATH --port N`` runs the floor app alone.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

# at module level: FastAPI resolves the endpoints' (string) annotations in these globals
# (only the floor needs FastAPI: the MLServer comparison runs without the bench extra)
try:
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse
except ImportError:  # pragma: no cover - pip install -e ".[bench]" for the floor
    FastAPI = Request = JSONResponse = None  # type: ignore[assignment,misc]

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


# -- the floor: what a person writes to serve a model with FastAPI, nothing more -----------------
def floor_app(model_path: str) -> Any:
    import pandas as pd

    from mlgate.ml.model import load

    model = load(model_path)
    features = list(model.feature_names_in_)
    app = FastAPI()

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        rows = (await request.json())["rows"]
        proba = model.predict_proba(pd.DataFrame(rows, columns=features))
        return JSONResponse(
            {
                "predictions": model.classes_[proba.argmax(axis=1)].tolist(),
                "probabilities": proba.tolist(),
            }
        )

    return app


def run_floor(model: str, port: int) -> None:
    import uvicorn

    uvicorn.run(
        floor_app(model), host="127.0.0.1", port=port, log_level="warning", access_log=False
    )


# -- set-up: a repository with a released model and a local DVC remote ---------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


def make_release(base: Path) -> tuple[Path, Path]:
    """A git repository whose pointer names a model in a local DVC remote; (repo, model)."""
    from mlgate.deploy.pointer import POINTER_PATH, ModelRef, Pointer, write_pointer
    from mlgate.ml import dataset
    from mlgate.ml.model import TrainParams, build_estimator, save

    repo, remote = base / "repo", base / "remote"
    (repo / ".dvc").mkdir(parents=True)
    (repo / ".dvc" / "config").write_text(
        f"[core]\n    remote = bench\n    analytics = false\n"
        f"['remote \"bench\"']\n    url = {remote}\n    verify = true\n"
    )
    frame = dataset.load_reference()
    features = [c for c in frame.columns if c not in (dataset.ROW_ID, dataset.TARGET)]
    est = build_estimator(TrainParams(model="logistic_regression", random_state=0))
    est.fit(frame[features], frame[dataset.TARGET])
    model = base / "model.skops"
    save(est, model)
    data = model.read_bytes()
    md5 = hashlib.md5(data).hexdigest()
    obj = remote / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(data)
    git("init", "-q", "-b", "main", cwd=repo)
    git("add", ".dvc/config", cwd=repo)
    git("-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "init", cwd=repo)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
    ).stdout.strip()
    from datetime import UTC, datetime

    write_pointer(
        repo / POINTER_PATH,
        Pointer(
            version="v1.0.0",
            commit=head,
            model=ModelRef("models/model.skops", md5, hashlib.sha256(data).hexdigest(), len(data)),
            metrics={},
            released_at=datetime.now(UTC),
        ),
    )
    git("add", POINTER_PATH, cwd=repo)
    git(
        "-c", "user.name=bench", "-c", "user.email=b@x", "commit", "-qm", "deploy: v1.0.0", cwd=repo
    )
    return repo, model


def wait_ok(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> float:
    import httpx

    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: server exited {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return time.monotonic() - start
        except httpx.TransportError:
            pass
        time.sleep(0.01)
    raise RuntimeError(f"{url}: not ready after {timeout} s")


def start_mlgate(repo: Path, cache: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(BIN / "mlgate"), "serve", "--repo", str(repo), "--port", str(port),
         "--cache-dir", str(cache), "--interval", "30"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_ok(f"http://127.0.0.1:{port}/readyz", proc)
    return proc, time.monotonic() - t0


def start_floor(model: Path, port: int) -> tuple[subprocess.Popen[bytes], float]:
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, __file__, "floor", "--model", str(model), "--port", str(port)],
        stderr=subprocess.DEVNULL,
    )
    wait_ok(f"http://127.0.0.1:{port}/healthz", proc)
    return proc, time.monotonic() - t0


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    proc.wait(30)


# -- load: wrk with a lua script for the POST body -------------------------------------------
def body(rows: int) -> str:
    from mlgate.ml import dataset

    frame = dataset.load_reference()
    features = [c for c in frame.columns if c not in (dataset.ROW_ID, dataset.TARGET)]
    records = frame[features].head(rows).to_dict(orient="records")
    return json.dumps({"rows": records})


def lua_script(path: Path, payload: str) -> None:
    escaped = payload.replace("\\", "\\\\").replace('"', '\\"')
    path.write_text(
        'wrk.method = "POST"\n'
        f'wrk.body = "{escaped}"\n'
        'wrk.headers["Content-Type"] = "application/json"\n'
    )


def check(url: str, payload: str) -> None:
    """One request by hand: a server that refuses the body fails the run with its answer."""
    import httpx

    answer = httpx.post(url, content=payload, headers={"content-type": "application/json"})
    if answer.status_code != 200:
        raise RuntimeError(f"{url}: {answer.status_code} {answer.text[:300]}")


_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s)", text)
    if not m:
        raise ValueError(text)
    return float(m.group(1)) * _UNITS[m.group(2)]


def wrk(url: str, script: Path, concurrency: int, duration: float) -> dict[str, float]:
    threads = 1 if concurrency < 8 else 2
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{concurrency}", f"-d{duration:g}s", "--latency",
         "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    if bad or errors:
        raise RuntimeError(f"{url}: failed requests during the run:\n{out}")
    return {"rps": rps, "p50": p50, "p99": p99}


def handler_paths(model_path: Path, repeats: int = 7) -> dict[int, dict[str, float]]:
    """Microseconds per request of each server's own work, without HTTP (median of repeats).

    mlgate: strict parse + validation against the schema + predict + encode; the floor:
    ``json.loads`` + ``DataFrame(rows)`` + predict + encode. Alternated in one process, so
    a busy machine slows both alike.
    """
    import timeit

    import numpy as np
    import pandas as pd

    from mlgate.ml.model import load
    from mlgate.serve.fast import array_ready
    from mlgate.serve.validation import from_features, parse_body, validate_rows

    model = load(model_path)
    features = list(model.feature_names_in_)
    schema = from_features(features, source="bench")
    served = load(model_path)  # what the server holds: a float-array model when safe
    as_array = array_ready(served, features)
    out: dict[int, dict[str, float]] = {}
    for rows in (1, 100):
        raw = body(rows).encode()

        def mlgate_path(raw: bytes = raw) -> bytes:
            frame = validate_rows(parse_body(raw), schema, max_rows=1000, as_array=as_array)
            proba = served.predict_proba(frame)
            return json.dumps(
                {"predictions": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()},
                allow_nan=False,
                separators=(",", ":"),
            ).encode()

        def floor_path(raw: bytes = raw) -> bytes:
            rows_ = json.loads(raw)["rows"]
            proba = model.predict_proba(pd.DataFrame(rows_, columns=features))
            return json.dumps(
                {"predictions": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()},
                ensure_ascii=False,
                allow_nan=False,
                separators=(",", ":"),
            ).encode()

        def floor_array_path(raw: bytes = raw) -> bytes:
            # the floor with mlgate's trick and no validation: a float array for the model
            rows_ = json.loads(raw)["rows"]
            matrix = np.array([[r[f] for f in features] for r in rows_], dtype=np.float64)
            proba = served.predict_proba(matrix)
            return json.dumps(
                {"predictions": proba.argmax(axis=1).tolist(), "probabilities": proba.tolist()},
                separators=(",", ":"),
            ).encode()

        paths = (("mlgate", mlgate_path), ("floor", floor_path), ("floor_array", floor_array_path))
        times: dict[str, list[float]] = {name: [] for name, _ in paths}
        for _ in range(repeats):
            for name, fn in paths:
                times[name].append(timeit.timeit(fn, number=200) / 200 * 1e6)
        out[rows] = {name: statistics.median(v) for name, v in times.items()}
    return out


# -- MLServer's scikit-learn runtime, side by side over the Open Inference Protocol ------------
def start_mlserver(venv: Path, model: Path, base: Path, port: int) -> tuple[Any, float]:
    """``mlserver start`` on a joblib dump of ``model`` (same fitted pipeline); (proc, s)."""
    import joblib

    from mlgate.ml.model import load

    folder = base / f"mlserver-{port}"
    folder.mkdir()
    joblib.dump(load(model), folder / "model.joblib")
    (folder / "settings.json").write_text(json.dumps({
        "http_port": port, "grpc_port": free_port(), "metrics_port": free_port(),
        "debug": False, "host": "127.0.0.1",
    }))  # fmt: skip
    (folder / "model-settings.json").write_text(json.dumps({
        "name": "model", "implementation": "mlserver_sklearn.SKLearnModel",
        "parameters": {"uri": "./model.joblib", "version": "v1"},
    }))  # fmt: skip
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(venv / "bin" / "mlserver"), "start", str(folder)],
        cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    wait_ok(f"http://127.0.0.1:{port}/v2/models/model/ready", proc, timeout=120)
    return proc, time.monotonic() - t0


def v2_body(rows: int, output: str) -> str:
    """One ``[rows, columns]`` FP64 tensor in the model's column order, asking for ``output``."""
    from mlgate.ml import dataset

    frame = dataset.load_reference()
    features = [c for c in frame.columns if c not in (dataset.ROW_ID, dataset.TARGET)]
    values = frame[features].head(rows).to_numpy(dtype=float)
    return json.dumps({
        "inputs": [{"name": "input-0", "shape": list(values.shape), "datatype": "FP64",
                    "data": values.ravel().tolist()}],
        "outputs": [{"name": output}],
    })  # fmt: skip


def _mlserver_version(venv: Path) -> str:
    return subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import mlserver; print(mlserver.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def compare_mlserver(args: argparse.Namespace) -> int:
    """mlgate vs MLServer: start-to-ready, then wrk at every point, alternating."""
    import sklearn

    import mlgate

    venv = Path(args.mlserver_venv).resolve()
    print(
        f"# python {platform.python_version()}, mlgate {mlgate.__version__} "
        f"(--workers default: {os.cpu_count()}), MLServer {_mlserver_version(venv)} (default "
        f"settings), scikit-learn {sklearn.__version__}, {os.cpu_count()} CPUs; wrk, "
        f"{args.duration:g} s per run, {args.rounds} alternating rounds, medians",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        base = Path(tmp)
        repo, model = make_release(base)
        starts: dict[str, list[float]] = {"mlgate": [], "mlserver": []}
        for i in range(args.starts):
            proc, took = start_mlgate(repo, base / f"cache{i}", free_port())
            starts["mlgate"].append(took)
            stop(proc)
            proc, took = start_mlserver(venv, model, base, free_port())
            starts["mlserver"].append(took)
            stop(proc)
            print(f"# start to ready, run {i + 1}: {json.dumps({k: v[-1] for k, v in starts.items()})}", flush=True)  # fmt: skip
        if args.starts_only:
            _print_starts(starts)
            return 0
        m_port, s_port = free_port(), free_port()
        mlg, _ = start_mlgate(repo, base / "cache-main", m_port)
        mls, _ = start_mlserver(venv, model, base, s_port)
        urls = {
            "mlgate": f"http://127.0.0.1:{m_port}/v2/models/model/infer",
            "mlserver": f"http://127.0.0.1:{s_port}/v2/models/model/infer",
        }
        outputs = {"mlgate": "probabilities", "mlserver": "predict_proba"}
        results: list[tuple[int, int, dict[str, dict[str, float]]]] = []
        try:
            for rows in (1, 100):
                scripts = {}
                for name in urls:
                    payload = v2_body(rows, outputs[name])
                    scripts[name] = base / f"{name}{rows}.lua"
                    lua_script(scripts[name], payload)
                    check(urls[name], payload)
                    wrk(urls[name], scripts[name], 8, 1)  # warm-up
                for conc in (1, 8, 32):
                    runs: dict[str, list[dict[str, float]]] = {n: [] for n in urls}
                    for _ in range(args.rounds):
                        for name in urls:
                            runs[name].append(wrk(urls[name], scripts[name], conc, args.duration))
                    med = {
                        n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
                        for n, rs in runs.items()
                    }
                    results.append((rows, conc, med))
                    print(f"# rows={rows} c={conc}: {json.dumps(med)}", flush=True)
        finally:
            stop(mlg)
            stop(mls)
    print()
    print("| rows | clients | mlgate req/s | MLServer req/s | ratio | mlgate p50 / p99 ms "
          "| MLServer p50 / p99 ms | p99 ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---|---|---:|")
    for rows, conc, med in results:
        m, o = med["mlgate"], med["mlserver"]
        print(
            f"| {rows} | {conc} | {m['rps']:,.0f} | {o['rps']:,.0f} | {m['rps'] / o['rps']:.2f} "
            f"| {m['p50']:.2f} / {m['p99']:.2f} | {o['p50']:.2f} / {o['p99']:.2f} "
            f"| {m['p99'] / o['p99']:.2f} |"
        )
    print()
    _print_starts(starts)
    return 0


def _print_starts(starts: dict[str, list[float]]) -> None:
    for label, values in starts.items():
        print(f"- start to ready, {label}: median {statistics.median(values):.2f} s "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1] == "floor":
        p = argparse.ArgumentParser()
        p.add_argument("floor")
        p.add_argument("--model", required=True)
        p.add_argument("--port", type=int, required=True)
        a = p.parse_args()
        run_floor(a.model, a.port)
        return 0
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=5.0, help="seconds per wrk run")
    p.add_argument("--rounds", type=int, default=2, help="alternating runs per point")
    p.add_argument("--starts", type=int, default=3, help="start-to-ready measurements")
    p.add_argument(
        "--paths-only", action="store_true", help="only the request path without HTTP (no wrk)"
    )
    p.add_argument(
        "--starts-only", action="store_true", help="only the start-to-ready measurements (no wrk)"
    )
    p.add_argument(
        "--mlserver-venv",
        metavar="PATH",
        help="a virtualenv with mlserver and mlserver-sklearn: compare with MLServer",
    )
    args = p.parse_args()
    if args.mlserver_venv:
        if shutil.which("wrk") is None and not args.starts_only:
            sys.exit("wrk not found: apt-get install -y wrk")
        return compare_mlserver(args)
    if args.paths_only:
        with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
            _, model = make_release(Path(tmp))
            for rows, t in handler_paths(model, repeats=9).items():
                print(f"| {rows} | {t['mlgate']:.0f} | {t['floor']:.0f} | "
                      f"{t['mlgate'] / t['floor']:.2f} | {t['floor_array']:.0f} |")  # fmt: skip
        return 0
    if shutil.which("wrk") is None and not args.starts_only:
        sys.exit("wrk not found: apt-get install -y wrk")

    import fastapi
    import sklearn
    import uvicorn

    import mlgate

    print(
        f"# python {platform.python_version()}, mlgate {mlgate.__version__}, fastapi "
        f"{fastapi.__version__}, uvicorn {uvicorn.__version__}, scikit-learn "
        f"{sklearn.__version__}, {os.cpu_count()} CPUs; wrk, {args.duration:g} s per run, "
        f"{args.rounds} alternating rounds, medians"
    )
    with tempfile.TemporaryDirectory(prefix="bench-serve-") as tmp:
        base = Path(tmp)
        repo, model = make_release(base)

        starts: dict[str, list[float]] = {
            "mlgate (cold cache)": [],
            "mlgate (warm)": [],
            "floor": [],
        }
        for i in range(args.starts):
            cache = base / f"cache{i}"
            for label in ("mlgate (cold cache)", "mlgate (warm)"):
                proc, took = start_mlgate(repo, cache, free_port())
                starts[label].append(took)
                stop(proc)
            proc, took = start_floor(model, free_port())
            starts["floor"].append(took)
            stop(proc)
            print(
                f"# start to ready, run {i + 1}: "
                + json.dumps({k: v[-1] for k, v in starts.items()}),
                flush=True,
            )

        if args.starts_only:
            for label, values in starts.items():
                print(f"- start to ready, {label}: median {statistics.median(values):.2f} s "
                      f"(runs: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
            return 0
        paths = handler_paths(model)
        print(f"# request path without HTTP (us): {json.dumps(paths)}", flush=True)
        m_port, f_port = free_port(), free_port()
        mlg, _ = start_mlgate(repo, base / "cache-main", m_port)
        flo, _ = start_floor(model, f_port)
        urls = {
            "mlgate": f"http://127.0.0.1:{m_port}/predict",
            "floor": f"http://127.0.0.1:{f_port}/predict",
        }
        results: list[tuple[int, int, dict[str, dict[str, float]]]] = []
        try:
            for rows in (1, 100):
                script = base / f"post{rows}.lua"
                lua_script(script, body(rows))
                for name in urls:
                    check(urls[name], body(rows))
                for name in urls:  # warm-up
                    wrk(urls[name], script, 8, 1)
                for conc in (1, 8, 32):
                    runs: dict[str, list[dict[str, float]]] = {n: [] for n in urls}
                    for _ in range(args.rounds):
                        for name in urls:
                            runs[name].append(wrk(urls[name], script, conc, args.duration))
                    med = {
                        n: {k: statistics.median(r[k] for r in rs) for k in ("rps", "p50", "p99")}
                        for n, rs in runs.items()
                    }
                    results.append((rows, conc, med))
                    print(f"# rows={rows} c={conc}: {json.dumps(med)}", flush=True)
        finally:
            stop(mlg)
            stop(flo)

    print()
    print("| rows | clients | mlgate req/s | floor req/s | ratio | mlgate p50 / p99 ms "
          "| floor p50 / p99 ms | p99 ratio |")  # fmt: skip
    print("|---:|---:|---:|---:|---:|---|---|---:|")
    for rows, conc, med in results:
        m, f = med["mlgate"], med["floor"]
        print(
            f"| {rows} | {conc} | {m['rps']:,.0f} | {f['rps']:,.0f} | {m['rps'] / f['rps']:.2f} "
            f"| {m['p50']:.2f} / {m['p99']:.2f} | {f['p50']:.2f} / {f['p99']:.2f} "
            f"| {m['p99'] / f['p99']:.2f} |"
        )
    print()
    print("| rows | mlgate request path, us | floor, us | ratio | floor on a float array, us |")
    print("|---:|---:|---:|---:|---:|")
    for rows, t in paths.items():
        print(
            f"| {rows} | {t['mlgate']:.0f} | {t['floor']:.0f} | {t['mlgate'] / t['floor']:.2f} "
            f"| {t['floor_array']:.0f} |"
        )
    print()
    for label, values in starts.items():
        print(f"- start to ready, {label}: median {statistics.median(values):.2f} s "
              f"(runs: {', '.join(f'{v:.2f}' for v in values)})")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
