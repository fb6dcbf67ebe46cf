"""Replicas sharing one cache folder take turns: a lock, and no stray clone left behind."""

from __future__ import annotations

import fcntl
import os
import threading
from pathlib import Path

import pytest

from mlgate.serve.cachelock import LOCK_NAME, CacheLocked, cache_lock, holder
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.reconcile import Reconciler
from mlgate.serve.state import ServingState
from tests.serve_support import FakeSource, InProcessProber, model_bytes


def test_the_lock_excludes_another_holder_and_says_who(tmp_path: Path) -> None:
    told: list[str] = []
    with cache_lock(tmp_path, timeout=1):
        assert holder(tmp_path) == f"{os.uname().nodename} pid {os.getpid()}"
        second = cache_lock(tmp_path, timeout=0.1, on_wait=told.append)  # a second open
        with pytest.raises(CacheLocked, match=r"locked by .* pid \d+ for more than 0.1 s"):
            second.__enter__()
    assert told == [f"{os.uname().nodename} pid {os.getpid()}"]
    with cache_lock(tmp_path, timeout=0.1):  # released
        pass


def reconciler(source: FakeSource, cache: Path, log: list[str]) -> Reconciler:
    return Reconciler(
        source=source,
        state=ServingState(),
        metrics=ServeMetrics(),
        prober=InProcessProber(),
        cache_dir=cache,
        log=log.append,
        lock_timeout=0.2,
    )


def test_a_pass_waits_for_the_holder_then_reports_the_lock(tmp_path: Path) -> None:
    source, log = FakeSource(), []
    source.release(model_bytes(1.0), "v1.0.0")
    rec = reconciler(source, tmp_path / "cache", log)
    (tmp_path / "cache").mkdir()
    fd = os.open(tmp_path / "cache" / LOCK_NAME, os.O_RDWR | os.O_CREAT)
    os.write(fd, b"replica-b pid 7\n")
    fcntl.flock(fd, fcntl.LOCK_EX)  # another replica in the middle of a long pass
    try:
        result = rec.reconcile()
    finally:
        os.close(fd)
    assert (result.outcome, result.reason) == ("error", "cache_error")
    assert "locked by replica-b pid 7 for more than 0.2 s" in result.message
    assert "its own --cache-dir" in result.message
    assert any("shared with replica-b pid 7" in line for line in log)
    assert rec.reconcile().outcome == "swapped"  # the holder went away


def test_replicas_on_one_folder_all_swap_and_share_the_model_file(tmp_path: Path) -> None:
    source = FakeSource()
    source.release(model_bytes(1.0), "v1.0.0")
    recs = [reconciler(source, tmp_path / "cache", []) for _ in range(3)]
    for rec in recs:
        rec.lock_timeout = 60
    results: list[str] = []
    threads = [
        threading.Thread(target=lambda r=r: results.append(r.reconcile().outcome)) for r in recs
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == ["swapped"] * 3
    assert source.fetches == 1  # the first fetched it; the others found it verified
    assert len(list((tmp_path / "cache" / "models").glob("*.skops"))) == 1
