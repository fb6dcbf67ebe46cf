"""Three replicas of `mlgate serve` following one git repository and one DVC remote (issue
16 §5): two share one cache dir (locked: they take turns), the third has its own. A client
loop hits all three the whole time. A release, a tampered candidate and a rollback: the
release and the rollback reach every replica within two poll intervals, no request fails,
and no replica ever answers with the tampered (unverified) model.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.serve_support import LocalRelease, ServeProcess, example_row, model_bytes

pytestmark = [pytest.mark.serial, pytest.mark.slow]  # three servers and a client loop

INTERVAL = 3.0


@pytest.fixture
def replicas(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[LocalRelease, list[ServeProcess]]]:
    release = LocalRelease(tmp_path, env)
    release.publish(model_bytes(1.0), "v1.0.0")
    caches = {"a": "shared", "b": "shared", "c": "own"}
    servers = [
        ServeProcess(
            release.path,
            tmp_path / f"cache-{cache}",
            tmp_path / f"serve-{name}.log",
            env,
            "--interval",
            str(INTERVAL),
            "--workers",
            "1",
            "--backoff",
            "60",
        )
        for name, cache in caches.items()
    ]
    try:
        for server in servers:
            server.wait("v1.0.0 served", lambda s=server: s.serving("v1.0.0"), timeout=120)
        yield release, servers
    finally:
        for server in servers:
            server.kill()


def _reached(
    servers: list[ServeProcess], version: str, since: float, timeout: float
) -> list[float]:
    """Seconds from ``since`` until each replica served ``version``."""
    took: dict[int, float] = {}
    deadline = time.monotonic() + timeout
    while len(took) < len(servers) and time.monotonic() < deadline:
        for i, server in enumerate(servers):
            if i not in took and server.serving(version):
                took[i] = time.monotonic() - since
        time.sleep(0.05)
    assert len(took) == len(servers), f"{version} reached only {sorted(took)}: {took}"
    return [took[i] for i in range(len(servers))]


def test_release_and_rollback_reach_three_replicas_without_a_failed_request(
    replicas: tuple[LocalRelease, list[ServeProcess]],
) -> None:
    release, servers = replicas
    row = example_row()
    answered: Counter[tuple[int, str]] = Counter()
    failures: list[str] = []
    stop = threading.Event()

    def client(index: int, server: ServeProcess) -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            while not stop.is_set():
                try:
                    r = c.post("/predict", json={"rows": [row]})
                except httpx.TransportError as exc:
                    failures.append(f"replica {index}: {exc!r}")
                    continue
                if r.status_code != 200:
                    failures.append(f"replica {index}: {r.status_code} {r.text}")
                else:
                    answered[(index, r.headers["x-model-version"])] += 1
                time.sleep(0.01)

    threads = [threading.Thread(target=client, args=(i, s)) for i, s in enumerate(servers)]
    for t in threads:
        t.start()
    try:
        pushed = time.monotonic()
        release.publish(model_bytes(100.0), "v2.0.0")
        to_v2 = _reached(servers, "v2.0.0", pushed, timeout=6 * INTERVAL)
        # the remote holds other bytes than the pointer names: every replica refuses them
        bad = release.publish(model_bytes(0.5), "v3.0.0", upload=model_bytes(0.01))
        for server in servers:
            server.wait(
                "v3.0.0 rejected",
                lambda s=server: (s.version().get("last_rejected") or {}).get("commit") == bad,
            )
            assert server.version()["last_rejected"]["reason"] == "hash_mismatch"
            assert server.serving("v2.0.0")
        pushed = time.monotonic()
        release.publish(model_bytes(1.0), "v1.0.0")  # the rollback: the old pointer again
        to_v1 = _reached(servers, "v1.0.0", pushed, timeout=6 * INTERVAL)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(30)
    print(
        f"\nrelease reached the replicas in {', '.join(f'{t:.2f}' for t in to_v2)} s, the "
        f"rollback in {', '.join(f'{t:.2f}' for t in to_v1)} s (interval {INTERVAL:g} s); "
        f"{sum(answered.values())} requests answered"
    )
    assert not failures, failures[:5]
    versions = {v for (_, v) in answered}
    assert versions == {"v1.0.0", "v2.0.0"}, answered  # never v3.0.0
    for i in range(3):
        assert answered[(i, "v2.0.0")] > 0, answered
    shared = servers[0].log.read_text() + servers[1].log.read_text()
    assert "Traceback" not in shared
    for server in servers:
        assert server.stop() == 0
    # last: timing (serial test; a machine busy with other work slows the first probe)
    assert max(to_v2) <= 2 * INTERVAL and max(to_v1) <= 2 * INTERVAL, (to_v2, to_v1)
