"""Builders shared by the tests of mlgate.serve: small real models, a loopback server."""

from __future__ import annotations

import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from mlgate.errors import RemoteObjectCorrupt, RemoteObjectMissing


@lru_cache(maxsize=8)
def model_bytes(C: float = 1.0, kind: str = "logistic_regression") -> bytes:
    """A skops file of a real pipeline trained on the reference data (cached per process)."""
    import skops.io as sio

    from mlgate.ml import dataset
    from mlgate.ml.model import TrainParams, build_estimator

    frame = dataset.load_reference()
    features = [c for c in frame.columns if c not in (dataset.ROW_ID, dataset.TARGET)]
    params = TrainParams(model=kind, random_state=0, C=C, n_estimators=5, max_depth=2)
    est = build_estimator(params).fit(frame[features], frame[dataset.TARGET])
    return bytes(sio.dumps(est))


@lru_cache(maxsize=1)
def feature_names() -> tuple[str, ...]:
    from mlgate.ml import dataset

    frame = dataset.load_reference()
    return tuple(c for c in frame.columns if c not in (dataset.ROW_ID, dataset.TARGET))


def example_row(scale: float = 1.0) -> dict[str, float]:
    """A realistic request row (the first row of the reference data)."""
    from mlgate.ml import dataset

    frame = dataset.load_reference()
    return {name: float(frame[name].iloc[0]) * scale for name in feature_names()}


def untrusted_model_bytes() -> bytes:
    """A working model whose file needs a type outside mlgate's allow-list.

    skops trusts scikit-learn's own types by default; a ``collections.Counter`` attribute
    is a harmless stand-in for any type nobody has reviewed.
    """
    import collections

    import skops.io as sio

    from mlgate.ml.model import loads

    est = loads(model_bytes(1.0), "test")
    est.steps[-1][1].note_ = collections.Counter(a=1)
    return bytes(sio.dumps(est))


@lru_cache(maxsize=1)
def svc_pipeline_bytes() -> bytes:
    """A working pipeline whose classifier (an SVC) skops trusts by default and mlgate's
    allow-list does not name."""
    import skops.io as sio
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from mlgate.ml import dataset

    frame = dataset.load_reference()
    features = list(feature_names())
    est = Pipeline([("scale", StandardScaler()), ("clf", SVC())])
    est.fit(frame[features], frame[dataset.TARGET])
    return bytes(sio.dumps(est))


@lru_cache(maxsize=1)
def crafted_tree_bytes() -> bytes:
    """A model file made only of allowed types whose ``predict`` would crash Python.

    A real random-forest pipeline with every tree's child indices pointed far outside the
    node array: a valid archive that skops loads, and a segmentation fault on predict.
    ``mlgate.ml.model.check_structure`` refuses it on load; with that check switched off
    it is how the tests crash a probe worker.
    """
    import io
    import zipfile

    import numpy as np

    source = zipfile.ZipFile(io.BytesIO(model_bytes(1.0, "random_forest")))
    out, patched = io.BytesIO(), 0
    with zipfile.ZipFile(out, "w") as target:
        for name in source.namelist():
            data = source.read(name)
            if name.endswith(".npy"):
                array = np.load(io.BytesIO(data), allow_pickle=False)
                if array.dtype.names and "left_child" in array.dtype.names:
                    array["left_child"][:] = 10**12
                    array["right_child"][:] = 10**12
                    buffer = io.BytesIO()
                    np.save(buffer, array, allow_pickle=False)
                    data, patched = buffer.getvalue(), patched + 1
            target.writestr(name, data)
    assert patched == 5, patched  # one node array per tree
    return out.getvalue()


def pointer_for(data: bytes, version: str, commit: str = "a" * 40) -> Any:
    from mlgate.deploy.pointer import ModelRef, Pointer

    return Pointer(
        version=version,
        commit=commit,
        model=ModelRef(
            path="models/model.skops",
            md5=hashlib.md5(data).hexdigest(),
            sha256=hashlib.sha256(data).hexdigest(),
            size=len(data),
        ),
        metrics={"accuracy": 0.9},
        released_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


class FakeSource:
    """An in-memory repository (commit -> files) and DVC remote (md5 -> bytes)."""

    def __init__(self) -> None:
        self.tip = "0" * 40
        self.files: dict[str, dict[str, bytes]] = {self.tip: {}}
        self.remote: dict[str, bytes] = {}
        self.fetches = 0
        self.polls = 0

    def commit(self, files: dict[str, bytes]) -> str:
        n = len(self.files)
        sha = f"{n:040x}"
        merged = dict(self.files[self.tip])
        merged.update(files)
        self.files[sha] = merged
        self.tip = sha
        return sha

    def release(self, data: bytes, version: str, *, upload: bytes | None = None) -> str:
        """Put ``upload`` (default ``data``) in the remote and commit a pointer to ``data``."""
        from mlgate.deploy.pointer import POINTER_PATH, dumps_pointer

        p = pointer_for(data, version)
        self.remote[p.model.md5] = data if upload is None else upload
        return self.commit({POINTER_PATH: dumps_pointer(p).encode()})

    def poll(self) -> str:
        self.polls += 1
        return self.tip

    def read(self, commit: str, path: str) -> bytes | None:
        return self.files.get(commit, {}).get(path)

    def fetch_model(self, pointer: Any, commit: str, dest: Path) -> Path:
        # the contract of mlgate.deploy.remote.fetch_model: verify, write atomically
        self.fetches += 1
        data = self.remote.get(pointer.model.md5)
        if data is None:
            raise RemoteObjectMissing(
                f"{pointer.version}: object {pointer.model.md5} absent", md5=pointer.model.md5
            )
        got = hashlib.sha256(data).hexdigest()
        if got != pointer.model.sha256:
            raise RemoteObjectCorrupt(
                f"{pointer.version}: other bytes under {pointer.model.md5}",
                md5=pointer.model.md5,
                expected=pointer.model.sha256,
                got=got,
            )
        dest.write_bytes(data)
        return dest


class InProcessProber:
    """The probe's checks without the child process (fast unit tests of the reconciler)."""

    def __init__(self) -> None:
        self.calls = 0

    def probe(self, path: str, sha256: str, canary: Any, trusted: tuple[str, ...] = ()) -> Any:
        from mlgate.serve.probe import probe_file

        self.calls += 1
        return probe_file(path, sha256, canary, trusted)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def running(app: Any) -> Iterator[str]:
    """Serve ``app`` with uvicorn on 127.0.0.1 in a background thread; yields its base URL."""
    import uvicorn

    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="error", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


class LocalRelease:
    """A real git repository with a plain-folder DVC remote, releasing by pointer commits
    (what `mlgate release` leaves behind, without the pipeline): for serving tests that
    need many releases fast. ``mlgate serve --repo PATH`` follows it."""

    def __init__(self, base: Path, env: dict[str, str]) -> None:
        import subprocess

        self.path, self.remote, self.env = base / "repo", base / "dvc-remote", env
        (self.path / ".dvc").mkdir(parents=True)
        (self.path / ".dvc" / "config").write_text(
            f"[core]\n    remote = local\n['remote \"local\"']\n    url = {self.remote}\n"
        )
        self._run = lambda *a: subprocess.run(
            ["git", *a], cwd=self.path, env=env, check=True, capture_output=True, text=True
        ).stdout.strip()
        self._run("init", "-q", "-b", "main")
        self._run("add", ".dvc/config")
        self._run("commit", "-q", "-m", "init")

    def publish(
        self,
        data: bytes,
        version: str,
        files: dict[str, str] | None = None,
        *,
        upload: bytes | None = None,
    ) -> str:
        """Upload ``upload`` (default ``data``) to the remote and commit a pointer to ``data``
        (and ``files``)."""
        from mlgate.deploy.pointer import POINTER_PATH, write_pointer

        for name, text in (files or {}).items():  # in the released commit, as a release has
            (self.path / name).write_text(text)
            self._run("add", name)
        if files:
            self._run("commit", "-q", "-m", f"{version}: {', '.join(files)}")
        pointer = pointer_for(data, version, commit=self._run("rev-parse", "HEAD"))
        md5 = pointer.model.md5
        obj = self.remote / "files" / "md5" / md5[:2] / md5[2:]
        obj.parent.mkdir(parents=True, exist_ok=True)
        obj.write_bytes(data if upload is None else upload)
        write_pointer(self.path / POINTER_PATH, pointer)
        self._run("add", POINTER_PATH)
        self._run("commit", "-q", "-m", f"deploy: {version}")
        return self._run("rev-parse", "HEAD")


def expected_probabilities(data: bytes, row: dict[str, float]) -> list[float]:
    """What the model in ``data`` answers for ``row`` (computed here, for comparison)."""
    import pandas as pd

    from mlgate.ml.model import loads

    model = loads(data, "expected")
    proba = model.predict_proba(pd.DataFrame([row], columns=list(feature_names())))
    return [float(p) for p in proba[0]]


class ServeProcess:
    """``mlgate serve`` as a subprocess on a free loopback port (stderr to ``log``)."""

    def __init__(self, repo: Path, cache: Path, log: Path, env: dict[str, str], *args: str):
        import subprocess
        import sys

        import httpx

        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [
            str(Path(sys.executable).parent / "mlgate"), "serve", "--repo", str(repo),
            "--port", str(self.port), "--cache-dir", str(cache), *args,
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=log.open("wb")
        )
        self.client = httpx.Client(base_url=self.url, timeout=30)

    def wait(self, what: str, check: Any, timeout: float = 90) -> None:
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, f"server died:\n{self.log.read_text()}"
            try:
                if check():
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what}\n{self.log.read_text()}")

    def version(self) -> Any:
        return self.client.get("/version").json()

    def serving(self, version: str) -> bool:
        return bool(self.version().get("version") == version)

    def metric(self, line_start: str) -> float:
        for line in self.client.get("/metrics").text.splitlines():
            if line.startswith(line_start):
                return float(line.rsplit(" ", 1)[1])
        return 0.0

    def stop(self) -> int:
        import signal

        self.client.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(30)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
