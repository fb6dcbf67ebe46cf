"""Probes in processes of their own: crashes and hangs are rejections, the server lives on."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlgate.serve.isolation import Prober
from tests.serve_support import crafted_tree_bytes, model_bytes, untrusted_model_bytes

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork host: Linux")


def write(path: Path, data: bytes) -> tuple[str, str]:
    path.write_bytes(data)
    return str(path), hashlib.sha256(data).hexdigest()


@pytest.fixture
def forked(monkeypatch: pytest.MonkeyPatch) -> Iterator[Prober]:
    import skops.io  # noqa: F401  (what the server imports before forking its host)

    import mlgate.ml.model

    # The host is forked from this process: without the structural check it inherits, a
    # crafted tree reaches ``predict`` and crashes the worker, which is what these tests
    # need (the check itself is tested in test_ml_model_allow_list.py).
    monkeypatch.setattr(mlgate.ml.model, "check_structure", lambda _model, _source: None)
    prober = Prober(timeout=60)  # generous: a replacement host is a fresh interpreter
    assert prober.fork_host()
    yield prober
    prober.close()


def test_forked_host_answers_and_survives_a_crash_and_a_hang(
    forked: Prober, tmp_path: Path
) -> None:
    host = forked._host
    assert host is not None and host.forked
    good = forked.probe(*write(tmp_path / "good.skops", model_bytes(1.0)), {})
    assert good.ok and good.classes == (0, 1) and len(good.features) == 30

    refused = forked.probe(*write(tmp_path / "bad.skops", untrusted_model_bytes()), {})
    assert (refused.ok, refused.reason) == (False, "untrusted_type")
    assert "collections.Counter" in refused.message

    crashed = forked.probe(*write(tmp_path / "crafted.skops", crafted_tree_bytes()), {})
    assert (crashed.ok, crashed.reason) == (False, "probe_crashed")
    assert "SIGSEGV" in crashed.message

    fifo = tmp_path / "fifo.skops"  # opening a FIFO nobody writes to blocks: a real hang
    os.mkfifo(fifo)
    forked.timeout = 1.0
    hung = forked.probe(str(fifo), "0" * 64, {})
    assert (hung.ok, hung.reason) == (False, "probe_timeout")

    forked.timeout = 60
    again = forked.probe(*write(tmp_path / "good.skops", model_bytes(1.0)), {})
    assert again.ok
    assert forked._host is host  # one host all along: every probe was a forked worker


def test_a_host_that_died_while_idle_is_replaced(forked: Prober, tmp_path: Path) -> None:
    host = forked._host
    assert host is not None
    os.kill(host.pid, signal.SIGKILL)
    assert host.status(5.0) == -signal.SIGKILL
    result = forked.probe(*write(tmp_path / "good.skops", model_bytes(1.0)), {})
    assert result.ok  # not the candidate's fault: a fresh host answered
    forked.close()
    assert forked._host is None


def test_a_host_that_dies_mid_probe_is_a_rejection(tmp_path: Path) -> None:
    crash = Prober(command=[sys.executable, "-c", "import os; os.kill(os.getpid(), 11)"])
    result = crash.probe(*write(tmp_path / "m.skops", b"x"), {})
    assert (result.ok, result.reason) == (False, "probe_crashed")
    assert "SIGSEGV" in result.message
    crash.close()
    mute = Prober(command=[sys.executable, "-c", "import time; time.sleep(60)"], timeout=0.5)
    result = mute.probe(*write(tmp_path / "m.skops", b"x"), {})
    assert (result.ok, result.reason) == (False, "probe_timeout")
    mute.close()


@pytest.mark.slow
def test_spawned_hosts_answer_one_probe_each(tmp_path: Path) -> None:
    prober = Prober(timeout=60)  # no fork_host(): each host is a fresh interpreter
    good = prober.probe(*write(tmp_path / "good.skops", model_bytes(1.0)), {})
    assert good.ok and len(good.features) == 30
    first = prober._host
    refused = prober.probe(*write(tmp_path / "crafted.skops", crafted_tree_bytes()), {})
    assert (refused.ok, refused.reason) == (False, "invalid_structure")
    assert prober._host is not None and prober._host is not first  # the next, warming up
    prober.close()


def test_the_host_kills_its_worker_when_the_server_goes_away(
    forked: Prober, tmp_path: Path
) -> None:
    from mlgate.serve.isolation import _send

    host = forked._host
    assert host is not None
    fifo = tmp_path / "fifo.skops"
    os.mkfifo(fifo)
    _send(host.to_host, {"path": str(fifo), "sha256": "0" * 64, "canary": {}})
    line = host.lines.read(10)
    assert line is not None
    worker = json.loads(line)["pid"]
    os.close(host.to_host)  # what the kernel does when the server dies
    assert host.status(10) == 0
    with pytest.raises(ProcessLookupError):
        os.kill(worker, 0)
    forked._host = None


def _title(pid: int) -> str:
    return " ".join(Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")).strip()


def test_the_host_and_its_workers_are_named_apart_from_the_server(
    forked: Prober, tmp_path: Path
) -> None:
    from mlgate.serve.isolation import _send

    host = forked._host
    assert host is not None
    server = os.getpid()
    assert _title(host.pid) == f"mlgate serve: probe host (server pid {server})"
    assert _title(host.pid) != _title(server)
    fifo = tmp_path / "fifo.skops"  # the worker blocks opening it: alive to be looked at
    os.mkfifo(fifo)
    _send(host.to_host, {"path": str(fifo), "sha256": "0" * 64, "canary": {}})
    line = host.lines.read(10)
    assert line is not None
    worker = json.loads(line)["pid"]
    # opening the FIFO to write returns once the worker opened it to read: after naming itself
    writer = os.open(fifo, os.O_WRONLY)
    assert _title(worker) == f"mlgate serve: probe worker (server pid {server})"
    os.close(writer)
    os.close(host.to_host)  # the host kills the worker and leaves
    assert host.status(10) == 0
    forked._host = None
