"""Inference in worker processes (issue 16 §1): `mlgate serve --workers N` as a subprocess
following a real git repository with a plain-folder DVC remote, over loopback HTTP.

A worker killed with SIGKILL mid-traffic costs only the request it held (503) and is
replaced; a model that kills workers (a reviewed custom type that segfaults on large
values, which passes the probe's canary) is taken out and the previous one is back, with
the reason in /version and /metrics; the server process survives all of it; swaps are
atomic across workers (every answer's probabilities are those of the version it names).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest

from mlgate.ml.model import TRUSTED_TYPES_FILE
from tests.serve_crashy import TYPE, crashy_bytes
from tests.serve_support import (
    LocalRelease,
    ServeProcess,
    example_row,
    expected_probabilities,
    feature_names,
    model_bytes,
)

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers: Linux (fork)"),
    pytest.mark.serial,  # several servers, workers and client threads: timing-sensitive
]

TESTS_ROOT = str(Path(__file__).resolve().parents[2])


@pytest.fixture
def release(tmp_path: Path, env: dict[str, str]) -> LocalRelease:
    return LocalRelease(tmp_path, env)


@pytest.fixture
def serve(release: LocalRelease, tmp_path: Path, env: dict[str, str]) -> Iterator[Any]:
    started: list[ServeProcess] = []

    def start(*args: str, name: str = "a") -> ServeProcess:
        # the crashing model's class lives in tests/: the workers must import it
        run_env = {**env, "PYTHONPATH": TESTS_ROOT}
        server = ServeProcess(
            release.path, tmp_path / f"cache-{name}", tmp_path / f"serve-{name}.log", run_env,
            "--interval", "0.5", "--backoff", "60", *args,
        )  # fmt: skip
        started.append(server)
        return server

    yield start
    for server in started:
        server.kill()


def _workers(server: ServeProcess) -> list[psutil.Process]:
    return [
        p
        for p in psutil.Process(server.proc.pid).children(recursive=True)
        if "inference worker" in " ".join(p.cmdline())
    ]


def _predict(server: ServeProcess, row: dict[str, float]) -> httpx.Response:
    return server.client.post("/predict", json={"rows": [row]})


def test_predictions_come_from_the_workers_and_a_killed_one_costs_only_its_request(
    release: LocalRelease, serve: Any
) -> None:
    data = model_bytes(1.0)
    release.publish(data, "v1.0.0")
    server = serve("--workers", "2")
    server.wait("v1.0.0 served", lambda: server.serving("v1.0.0"))
    server.wait("2 workers", lambda: server.metric("mlgate_inference_workers ") == 2)
    row = example_row()
    answer = _predict(server, row)
    assert answer.status_code == 200, answer.text
    assert answer.json()["probabilities"][0] == pytest.approx(expected_probabilities(data, row))
    workers = _workers(server)
    assert len(workers) == 2
    assert all(w.pid != server.proc.pid for w in workers)

    statuses: Counter[int] = Counter()
    bodies: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/predict", json={"rows": [row] * 50})
                statuses[r.status_code] += 1
                if r.status_code != 200:
                    bodies.append(r.text)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    victim = workers[0]
    victim.kill()  # SIGKILL, whatever it is doing
    time.sleep(1.5)
    stop.set()
    for t in threads:
        t.join(30)
    # a worker holds one request at a time: the kill cost at most that one
    assert statuses[200] > 20, statuses
    assert set(statuses) <= {200, 503}, (statuses, bodies)
    assert statuses[503] <= 1, (statuses, bodies)
    assert all("inference worker" in b and "retry" in b for b in bodies)
    server.wait("a replacement", lambda: server.metric("mlgate_inference_workers ") == 2)
    assert server.metric("mlgate_inference_worker_deaths_total") == 1
    assert victim.pid not in {w.pid for w in _workers(server)}
    assert server.serving("v1.0.0")  # one death is not the model's fault
    assert _predict(server, row).status_code == 200
    assert server.stop() == 0
    assert not any(p.is_running() for p in workers[1:] if p.status() != psutil.STATUS_ZOMBIE)


def test_a_model_that_kills_its_workers_is_taken_out_and_the_previous_one_is_back(
    release: LocalRelease, serve: Any
) -> None:
    good = model_bytes(1.0)
    release.publish(good, "v1.0.0")
    server = serve("--workers", "2")
    server.wait("v1.0.0 served", lambda: server.serving("v1.0.0"))
    crashy = crashy_bytes(list(feature_names()))
    release.publish(crashy, "v2.0.0", files={TRUSTED_TYPES_FILE: f"{TYPE}\n"})
    server.wait("v2.0.0 served (it passes the probe)", lambda: server.serving("v2.0.0"))
    row = example_row()
    assert _predict(server, row).json()["version"] == "v2.0.0"  # harmless values: fine

    deadly = {**row, feature_names()[0]: 1e9}
    answers = [_predict(server, deadly) for _ in range(3)]
    assert [a.status_code for a in answers] == [503, 503, 503], [a.text for a in answers]
    assert answers[0].headers["retry-after"] == "1"
    assert "inference worker holding this request died" in answers[0].json()["error"]
    # the third death takes v2.0.0 out at once: the workers still hold v1.0.0
    assert server.serving("v1.0.0")
    back = _predict(server, deadly)  # the old model takes any finite number
    assert back.status_code == 200 and back.json()["version"] == "v1.0.0"
    rejected = server.version()["last_rejected"]
    assert rejected["version"] == "v2.0.0" and rejected["reason"] == "worker_crashed"
    assert "killed 3 inference workers" in rejected["message"]
    assert server.metric('mlgate_reload_failures_total{reason="worker_crashed"}') == 1
    assert 'reason="worker_crashed"' in server.client.get("/metrics").text
    # the next passes see the same tip and back off (60 s), instead of swapping it in again
    time.sleep(2.0)
    assert server.serving("v1.0.0")
    assert server.version()["last_reconcile"]["outcome"] == "backoff"
    assert server.proc.poll() is None
    server.wait("workers replaced", lambda: server.metric("mlgate_inference_workers ") == 2)
    assert server.stop() == 0


def test_swaps_are_atomic_across_workers(release: LocalRelease, serve: Any) -> None:
    models = {f"v1.{i}.0": model_bytes(c) for i, c in enumerate((0.01, 1.0, 100.0))}
    row = example_row()
    expected = {v: expected_probabilities(d, row) for v, d in models.items()}
    assert len({tuple(e) for e in expected.values()}) == 3  # 0.0035, 1.2e-9 and 0.0 for class 0
    release.publish(models["v1.0.0"], "v1.0.0")
    server = serve("--workers", "2")
    server.wait("v1.0.0 served", lambda: server.serving("v1.0.0"))
    seen: list[tuple[str, str, list[float]]] = []
    failures: list[str] = []
    stop = threading.Event()

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                r = c.post("/predict", json={"rows": [row]})
                if r.status_code != 200:
                    failures.append(f"{r.status_code} {r.text}")
                    continue
                body = r.json()
                seen.append(
                    (r.headers["x-model-version"], body["version"], body["probabilities"][0])
                )

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        for version in ("v1.1.0", "v1.2.0", "v1.0.0", "v1.2.0"):
            release.publish(models[version], version)
            server.wait(f"{version} served", lambda v=version: server.serving(v))
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    assert not failures, failures[:3]
    assert {s[1] for s in seen} == set(models)
    for header, version, probabilities in seen:
        assert header == version
        assert probabilities == pytest.approx(expected[version], rel=1e-9, abs=1e-15), version
    assert server.stop() == 0


def test_workers_flag_zero_predicts_in_the_server_process(
    release: LocalRelease, serve: Any
) -> None:
    release.publish(model_bytes(1.0), "v1.0.0")
    server = serve("--workers", "0")
    server.wait("v1.0.0 served", lambda: server.serving("v1.0.0"))
    assert _predict(server, example_row()).status_code == 200
    assert _workers(server) == []
    assert "no inference workers" in server.log.read_text()
    assert server.stop() == 0
    assert os.path.exists(server.log)


def test_a_free_worker_goes_to_the_longest_waiting_request() -> None:
    """A request arriving as a worker frees up must not take it before the one woken for it
    (which would go to the back of the queue: the tail latency of a busy server)."""
    import asyncio
    import socket

    from mlgate.serve.workers import WorkerPool, _Conn

    async def scenario() -> None:
        pool = WorkerPool(1)
        ours, theirs = socket.socketpair()
        with ours, theirs:
            pool._release(_Conn(0, os.getpid(), ours))
            held = await pool._acquire()
            waiting = asyncio.ensure_future(pool._acquire())
            await asyncio.sleep(0)  # it waits for the one worker

            async def free() -> None:
                pool._release(held)

            # both ready before the woken request runs again: the release, then a newcomer
            freed, newcomer = asyncio.ensure_future(free()), asyncio.ensure_future(pool._acquire())
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert freed.done() and waiting.done() and waiting.result() is held
            assert not newcomer.done()
            pool._release(waiting.result())
            assert await asyncio.wait_for(newcomer, 5) is held

    asyncio.run(scenario())
