"""End to end: `mlgate serve` as a subprocess following a real repository.

A copy of the reproduced reference project gets a bare ``origin``, a local DVC remote
(``verify = true``, committed in ``.dvc/config`` as a production remote would be) and a gate
policy. Releases and rollbacks are made with ``mlgate release``/``mlgate rollback --push``;
broken candidates (tampered, truncated, untrusted types, malformed pointer) are pointer
commits written with ``mlgate.deploy.pointer`` and pushed, exactly as a faulty release
would land. The server follows ``origin`` over loopback HTTP only.
"""

from __future__ import annotations

import hashlib
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import yaml

from tests.conftest import BIN, add_origin, git, mlgate, run
from tests.serve_support import (
    crafted_tree_bytes,
    example_row,
    free_port,
    model_bytes,
    untrusted_model_bytes,
)

pytestmark = [pytest.mark.slow, pytest.mark.serial]

INTERVAL = 1.0
POLICY = {"rules": [{"metric": "f1", "max_regression": 0.05}, {"metric": "roc_auc", "min": 0.9}]}


@dataclass
class Project:
    path: Path
    origin: Path
    remote: Path
    env: dict[str, str]

    def git(self, *args: str) -> str:
        return git(*args, cwd=self.path, env=self.env)

    def mlgate(self, *args: str) -> subprocess.CompletedProcess[str]:
        proc = mlgate(*args, cwd=self.path, env=self.env)
        assert proc.returncode == 0, f"mlgate {' '.join(args)}\n{proc.stdout}\n{proc.stderr}"
        return proc

    def publish(self, data: bytes, version: str, *, upload: bytes | None = None) -> str:
        """Commit and push a pointer to ``data``; put ``upload`` (default: data) in the remote."""
        from mlgate.deploy.pointer import POINTER_PATH, write_pointer
        from tests.serve_support import pointer_for

        pointer = pointer_for(data, version, commit=self.git("rev-parse", "HEAD"))
        obj = self.remote / "files" / "md5" / pointer.model.md5[:2] / pointer.model.md5[2:]
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data if upload is None else upload)
        write_pointer(self.path / POINTER_PATH, pointer)
        self.git("add", POINTER_PATH)
        self.git("commit", "-q", "-m", f"deploy: {version}", "--", POINTER_PATH)
        self.git("push", "-q", "origin", "main")
        return self.git("rev-parse", "HEAD")


@pytest.fixture
def project(reproduced_project: Path, tmp_path: Path, env: dict[str, str]) -> Project:
    proj = Project(reproduced_project, tmp_path / "origin.git", tmp_path / "dvc-remote", env)
    params = yaml.safe_load((proj.path / "params.yaml").read_text())
    params["gate"] = POLICY
    (proj.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    dvc = ["dvc", "remote"]
    run([*dvc, "add", "-d", "-f", "prod", str(proj.remote)], cwd=proj.path, env=env)
    run([*dvc, "modify", "prod", "verify", "true"], cwd=proj.path, env=env)
    proj.git("commit", "-q", "-m", "gate policy and DVC remote", "--", "params.yaml", ".dvc/config")
    add_origin(proj.path, proj.origin, env)
    return proj


class Server:
    """``mlgate serve`` in a subprocess, following ``origin``."""

    def __init__(self, project: Project, tmp: Path, interval: float = INTERVAL) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        args = [
            str(BIN / "mlgate"), "serve", "--repo", str(project.origin),
            "--port", str(self.port), "--interval", str(interval),
            "--cache-dir", str(tmp / "cache"), "--max-rows", "100", "--backoff", "30",
        ]  # fmt: skip
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            args, cwd=tmp, env=project.env, stdout=subprocess.DEVNULL, stderr=self.log.open("wb")
        )
        self.client = httpx.Client(base_url=self.url, timeout=10)

    def get(self, path: str) -> httpx.Response:
        return self.client.get(path)

    def version(self) -> dict[str, Any]:
        return dict(self.get("/version").json())

    def wait(self, what: str, check: Callable[[], bool], timeout: float = 60) -> float:
        deadline = time.monotonic() + timeout
        start = time.monotonic()
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server died:\n{self.log.read_text()}"
            try:
                if check():
                    return time.monotonic() - start
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log.read_text()}")

    def serving(self, version: str) -> bool:
        return self.version().get("version") == version

    def stop(self) -> int:
        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)


@pytest.fixture
def start_server(project: Project, tmp_path: Path) -> Iterator[Callable[..., Server]]:
    servers: list[Server] = []

    def start(interval: float = INTERVAL) -> Server:
        servers.append(Server(project, tmp_path, interval))
        return servers[-1]

    yield start
    for s in servers:
        if s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def metric_value(text: str, line_start: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_start):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_lifecycle_no_release_then_bad_candidates_then_sigterm(
    project: Project, start_server: Callable[[], Server]
) -> None:
    server = start_server()
    server.wait("the first reconcile", lambda: server.version()["last_reconcile"] is not None)
    assert server.get("/healthz").status_code == 200
    ready = server.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["last_reconcile"]["outcome"] == "no_release"
    assert server.client.post("/predict", json={"rows": [example_row()]}).status_code == 503

    project.git("tag", "v1.0.0")
    project.mlgate("release", "v1.0.0", "--push")
    server.wait("v1.0.0", lambda: server.serving("v1.0.0"))
    assert server.get("/readyz").status_code == 200
    live = yaml.safe_load((project.path / "deploy/production.yaml").read_text())
    version = server.version()
    assert version["sha256"] == live["model"]["sha256"]
    assert version["commit"] == live["commit"]
    if (project.path / "data/schema.yaml").is_file():
        assert version["schema"]["source"].endswith(":data/schema.yaml")
    else:
        assert "no data/schema.yaml" in version["schema"]["source"]
    answer = server.client.post("/predict", json={"rows": [example_row()] * 3})
    assert answer.status_code == 200
    assert answer.json()["version"] == "v1.0.0" and len(answer.json()["predictions"]) == 3
    bad = server.client.post("/predict", json={"rows": [{**example_row(), "extra": 1}]})
    assert bad.status_code == 422 and bad.json()["column"] == "extra"
    too_many = server.client.post("/predict", json={"rows": [example_row()] * 101})
    assert too_many.status_code == 413

    good, other = model_bytes(1.0), model_bytes(0.02)
    truncated = other[: len(other) // 2]
    malformed = hashlib.sha256(b"x").hexdigest()[:40]  # too short for a sha256
    cases: list[tuple[str, Callable[[], str], str]] = [
        ("hash_mismatch", lambda: project.publish(other, "v2.0.0", upload=good), "sha256"),
        ("load_error", lambda: project.publish(truncated, "v2.1.0"), "not a readable"),
        ("untrusted_type", lambda: project.publish(untrusted_model_bytes(), "v2.2.0"), "Counter"),
        ("invalid_structure", lambda: project.publish(crafted_tree_bytes(), "v2.3.0"), "tree"),
        ("bad_pointer", lambda: _publish_malformed(project, malformed), "model.sha256"),
    ]
    for reason, make, words in cases:
        commit = make()

        def rejected(commit: str = commit) -> bool:
            last = server.version()["last_rejected"]
            return last is not None and last["commit"] == commit

        server.wait(f"rejection {reason}", rejected)
        version = server.version()
        assert version["version"] == "v1.0.0", reason  # the old model keeps serving
        assert version["last_rejected"]["reason"] == reason
        assert words in version["last_rejected"]["message"]
        assert server.get("/readyz").status_code == 200
        metrics = server.get("/metrics").text
        assert metric_value(metrics, f'mlgate_reload_failures_total{{reason="{reason}"}}') == 1
        assert f'reason="{reason}"' in metrics.split("mlgate_candidate_rejected{")[1]
        ok = server.client.post("/predict", json={"rows": [example_row()]})
        assert ok.json()["version"] == "v1.0.0"

    time.sleep(3 * INTERVAL)  # the failed commit is not retried in a hot loop
    metrics = server.get("/metrics").text
    assert metric_value(metrics, 'mlgate_reload_failures_total{reason="bad_pointer"}') == 1
    assert server.version()["last_reconcile"]["outcome"] == "backoff"
    server.proc.send_signal(signal.SIGHUP)  # an operator asks: reconcile now, skip the backoff
    server.wait(
        "a retry on SIGHUP",
        lambda: (
            metric_value(
                server.get("/metrics").text, 'mlgate_reload_failures_total{reason="bad_pointer"}'
            )
            == 2
        ),
    )

    project.publish(other, "v3.0.0")  # a fixed commit is tried at once
    server.wait("v3.0.0", lambda: server.serving("v3.0.0"), timeout=4 * INTERVAL + 10)

    # SIGTERM while requests are in flight: they finish with 200, the process exits 0.
    # One connection per request, so after the listener closes a client sees only a
    # refused connection (ConnectError), never a request cut off half way.
    results: list[int] = []
    broken: list[str] = []
    body = {"rows": [example_row()] * 100}

    def client() -> None:
        with httpx.Client(base_url=server.url, timeout=20) as c:
            while True:
                try:
                    answer = c.post("/predict", json=body, headers={"connection": "close"})
                except httpx.ConnectError:
                    return  # the listener is closed: expected after SIGTERM
                except (httpx.RemoteProtocolError, httpx.ReadError) as exc:
                    # Accepted by the kernel but not yet read when uvicorn closed its idle
                    # connections (a connection with a request in progress is never closed:
                    # uvicorn only turns keep-alive off): no request was processed. In
                    # production the load balancer stops sending first (/readyz, preStop).
                    words = ("without sending a response", "reset by peer")
                    if not any(w in str(exc) for w in words):
                        broken.append(repr(exc))
                    return
                except httpx.HTTPError as exc:
                    broken.append(repr(exc))
                    return
                results.append(answer.status_code)

    workers = [threading.Thread(target=client) for _ in range(4)]
    for w in workers:
        w.start()
    server.wait("requests in flight", lambda: len(results) >= 20)
    main = psutil.Process(server.proc.pid)
    hosts = main.children()
    # the probe host and the inference workers' host, forked at start, named apart from
    # the server (which logged its pid)
    host_titles = {
        f"mlgate serve: probe host (server pid {main.pid})",
        f"mlgate serve: worker host (server pid {main.pid})",
    }
    assert {" ".join(h.cmdline()).strip() for h in hosts} == host_titles
    assert len(hosts) == 2
    assert "mlgate" in " ".join(main.cmdline()) and "probe host" not in " ".join(main.cmdline())
    assert f"mlgate serve: pid {main.pid} (`kill -HUP {main.pid}` reconciles now)" in (
        server.log.read_text()
    )
    assert server.stop() == 0
    _, alive = psutil.wait_procs(hosts, timeout=10)
    assert alive == []  # it leaves with the server
    for w in workers:
        w.join(20)
    assert broken == []
    assert set(results) == {200}
    assert "stopped after draining" in server.log.read_text()


def _publish_malformed(project: Project, bad_sha: str) -> str:
    from mlgate.deploy.pointer import POINTER_PATH

    path = project.path / POINTER_PATH
    data = yaml.safe_load(path.read_text())
    data["model"]["sha256"] = bad_sha
    data["version"] = "v2.3.0"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    project.git("commit", "-q", "-m", "deploy: v2.3.0", "--", POINTER_PATH)
    project.git("push", "-q", "origin", "main")
    return project.git("rev-parse", "HEAD")


@dataclass
class Load:
    """Clients posting one-row requests in a loop, recording (time, status, version)."""

    url: str
    clients: int = 8
    pause: float = 0.01
    answers: list[tuple[float, int, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def _client(self) -> None:
        body = {"rows": [example_row()]}
        with httpx.Client(base_url=self.url, timeout=10) as c:
            while not self.stop.is_set():
                try:
                    r = c.post("/predict", json=body)
                    version = r.json().get("version", "") if r.status_code == 200 else ""
                    self.answers.append((time.monotonic(), r.status_code, version))
                    if r.status_code != 200:
                        self.failures.append(f"{r.status_code} {r.text[:200]}")
                except httpx.HTTPError as exc:
                    self.failures.append(repr(exc))
                time.sleep(self.pause)

    def __enter__(self) -> Load:
        self.threads = [threading.Thread(target=self._client) for _ in range(self.clients)]
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(20)


def _new_version(project: Project, *, c: float, tag: str) -> None:
    params = yaml.safe_load((project.path / "params.yaml").read_text())
    params["train"]["C"] = c
    (project.path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    run(["dvc", "repro", "--quiet"], cwd=project.path, env=project.env)
    project.git("add", "params.yaml", "dvc.lock", "metrics")
    project.git("commit", "-q", "-m", f"train with C={c}")
    project.git("tag", tag)


def test_ten_releases_and_rollbacks_under_load(
    project: Project, start_server: Callable[..., Server]
) -> None:
    project.git("tag", "v1.0.0")
    project.mlgate("release", "v1.0.0", "--push")
    _new_version(project, c=0.5, tag="v1.1.0")
    interval = 2.0  # on 2 shared cores, 8 clients + the release commands compete with the loop
    server = start_server(interval)
    ready_after = server.wait("ready", lambda: server.get("/readyz").status_code == 200)
    assert server.serving("v1.0.0")
    project.mlgate("release", "v1.1.0", "--push")
    server.wait("v1.1.0", lambda: server.serving("v1.1.0"))

    delays: list[float] = []
    with Load(server.url) as load:
        time.sleep(1)
        for i in range(10):
            if i % 2 == 0:
                project.mlgate("rollback", "--push")
                target = "v1.0.0"
            else:
                project.mlgate("release", "v1.1.0", "--push")
                target = "v1.1.0"
            changed = time.monotonic()
            server.wait(target, lambda t=target: server.serving(t), timeout=30)  # type: ignore[misc]
            seen = next((t for t, _, v in list(load.answers) if t >= changed and v == target), None)
            while seen is None:
                time.sleep(0.05)
                seen = next(
                    (t for t, _, v in list(load.answers) if t >= changed and v == target), None
                )
            delays.append(seen - changed)
        time.sleep(1)
    print(f"ready after {ready_after:.1f} s; change -> served delays: {delays}")
    print(f"{len(load.answers)} answers under load")
    assert load.failures == []
    assert len(load.answers) > 500
    assert {v for _, _, v in load.answers} == {"v1.0.0", "v1.1.0"}
    assert max(delays) <= 2 * interval, f"{delays}\n{server.log.read_text()}"
    metrics = server.get("/metrics").text
    assert metric_value(metrics, 'mlgate_http_errors_total{endpoint="/predict"') == 0
    assert server.stop() == 0


def test_serve_refuses_bad_flags(tmp_path: Path, env: dict[str, str]) -> None:
    proc = mlgate("serve", "--interval", "0", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "positive" in proc.stderr
    proc = mlgate("serve", "--repo", str(tmp_path / "nope"), "--port", "1", cwd=tmp_path, env=env)
    assert proc.returncode == 2 and "no such folder" in proc.stderr
