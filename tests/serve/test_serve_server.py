"""mlgate.serve.server: SIGTERM drains a request that is in flight (slow, serial).

"In flight" is made certain without timing: the request is sent with
``Expect: 100-continue`` and its body held back. The server answers ``100 Continue`` only
when the app reads the body, so after it the request is being handled. Then SIGTERM; once
new connections are refused the shutdown has begun; only then is the body sent. The
request must get its 200; a dropped or cut connection fails the test.
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN
from tests.serve.test_serve_source import _deploy, _store, work  # noqa: F401 (work: a fixture)
from tests.serve_support import example_row, free_port, model_bytes

pytestmark = [pytest.mark.slow, pytest.mark.serial]


def _read_until(sock: socket.socket, end: bytes) -> bytes:
    data = b""
    while end not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"connection closed by the server after {data!r}")
        data += chunk
    return data


def _until(what: str, check: object, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, log.read_text()
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)  # polling a condition, not a fixed wait
    raise AssertionError(f"timed out waiting for {what}\n{log.read_text()}")


def test_sigterm_drains_a_request_in_flight(
    work: Path,  # noqa: F811
    tmp_path: Path,
    env: dict[str, str],
) -> None:
    _store(tmp_path / "store", model_bytes(1.0))
    _deploy(work, env, model_bytes(1.0), "v1.0.0")
    port = free_port()
    log = tmp_path / "serve.log"
    args = [
        str(BIN / "mlgate"), "serve", "--repo", str(work), "--port", str(port),
        "--interval", "1", "--cache-dir", str(tmp_path / "cache"),
    ]  # fmt: skip
    with log.open("wb") as err:
        proc = subprocess.Popen(args, cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=err)
    try:
        url = f"http://127.0.0.1:{port}"

        def ready() -> bool:
            with contextlib.suppress(httpx.TransportError):
                return httpx.get(f"{url}/readyz", timeout=5).status_code == 200
            return False

        _until("a loaded model", ready, proc, log)
        body = json.dumps({"rows": [example_row()] * 50}).encode()
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(
                b"POST /predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
                + f"Content-Length: {len(body)}\r\n\r\n".encode()
            )
            interim = _read_until(sock, b"\r\n\r\n")
            assert interim.startswith(b"HTTP/1.1 100"), interim  # the app awaits the body

            proc.send_signal(signal.SIGTERM)

            def refused() -> bool:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=5).close()
                except ConnectionRefusedError:
                    return True
                return False

            _until("the listener to close", refused, proc, log)
            assert proc.poll() is None  # still draining: our request is not answered yet
            sock.sendall(body)
            head = _read_until(sock, b"\r\n\r\n")
            status, _, rest = head.partition(b"\r\n\r\n")
            assert status.startswith(b"HTTP/1.1 200"), head
            length = int(
                next(
                    line.split(b":", 1)[1]
                    for line in status.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
            )
            while len(rest) < length:
                chunk = sock.recv(65536)
                assert chunk, f"response cut off after {len(rest)} of {length} bytes"
                rest += chunk
            answer = json.loads(rest[:length])
            assert answer["version"] == "v1.0.0" and len(answer["predictions"]) == 50
        assert proc.wait(30) == 0, log.read_text()
        assert "stopped after draining" in log.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
