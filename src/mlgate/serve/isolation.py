"""Run every probe in a process of its own, so a crafted model cannot take the server down.

A *probe host* waits for requests. For each one a *worker* process verifies, loads and
canary-tests the candidate (:func:`mlgate.serve.probe.probe_file`) and answers in JSON; the
host then reports how the worker ended. A worker that crashes (an allowed tree type with
out-of-range node indices makes ``predict`` read wild memory) or hangs costs a rejection,
never the server.

Where the host comes from:

- On Linux the server forks it from itself once, right after importing scikit-learn and
  skops and before it starts a thread or opens its socket. The host shares those imports,
  and forks one worker per request; a probe then costs a fork and a model load (about
  0.1 s) instead of a second interpreter importing scikit-learn, which is about 2 s of CPU
  on the two cores a cold start needs for everything else.
- Elsewhere (macOS: fork without exec is unsafe with system frameworks), and whenever a
  host has died, the host is a fresh interpreter (``python -m mlgate.serve.isolation``) that
  does the work of one request itself and exits; the next one is started right away so its
  imports overlap the next fetch.

Protocol, one JSON object per line. Server to host: ``{"path", "sha256", "canary",
"trusted"}``. Host to server: ``{"pid": N}`` (the process doing the work, which the server
kills on a timeout), then ``{"status": S, "answer": {...} | null}`` where ``S`` is the worker's exit
code, or minus the signal that killed it.
"""

from __future__ import annotations

import contextlib
import faulthandler
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mlgate.serve.probe import ProbeResult, Reason, probe_file

#: How long a host may take to report a worker the server killed on a timeout.
_AFTER_KILL = 10.0


class _Lines:
    """Newline-separated messages from a file descriptor, read with a deadline."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buffer = b""

    def read(self, timeout: float | None = None) -> bytes | None:
        """The next line; None at end of file; :class:`TimeoutError` when none comes in time."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while b"\n" not in self._buffer:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd, 1 << 16)
            if not chunk:
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line


def _send(fd: int, message: Mapping[str, Any]) -> None:
    data = (json.dumps(message) + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _answer(request: Mapping[str, Any]) -> dict[str, Any]:
    """The worker's part: the probe itself, as a JSON-ready answer."""
    try:
        trusted = tuple(str(t) for t in request.get("trusted", ()))
        result = probe_file(request["path"], request["sha256"], request.get("canary", {}), trusted)
    except Exception as exc:  # a bug in the probe is reported, not hidden as a good model
        result = ProbeResult(
            False, Reason.PROBE_CRASHED, f"probe raised {type(exc).__name__}: {exc}"
        )
    return {
        "ok": result.ok,
        "reason": result.reason,
        "message": result.message,
        "features": list(result.features),
        "classes": list(result.classes),
    }


def set_title(title: str) -> None:
    """Name this process in ``ps`` and ``top`` (its command line and, cut to 15 characters,
    its ``comm``), so the server, its probe host and a worker can be told apart; a no-op
    where ``setproctitle`` is missing."""
    try:
        import setproctitle
    except ImportError:  # an optional nicety: probes work the same without it
        return
    setproctitle.setproctitle(title)


HOST_TITLE = "mlgate serve: probe host (server pid {server})"
WORKER_TITLE = "mlgate serve: probe worker (server pid {server})"


def _fork_worker(request: Mapping[str, Any], host_fds: tuple[int, int]) -> tuple[int, int]:
    """Fork a worker that answers ``request``; (its pid, the read end of its answer)."""
    read_end, write_end = os.pipe()
    server = os.getppid()  # the host's parent
    pid = os.fork()
    if pid == 0:  # the worker: answer, then leave without running any cleanup of the host
        code = 1
        try:
            set_title(WORKER_TITLE.format(server=server))
            for fd in (read_end, *host_fds):  # the server sees the host's end, never ours
                os.close(fd)
            _send(write_end, _answer(request))
            code = 0
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _collect(pid: int, fd: int, server_fd: int) -> dict[str, Any] | None:
    """The worker's answer; if the server goes away meanwhile, the worker is killed."""
    chunks = []
    while True:
        ready = select.select([fd, server_fd], [], [])[0]
        if server_fd in ready:  # no request comes during a probe: this is end of file
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise EOFError
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(fd)
    try:
        answer = json.loads(b"".join(chunks))
    except ValueError:  # nothing, or cut short by a crash
        return None
    return answer if isinstance(answer, dict) else None


def run_host(read_fd: int, write_fd: int, *, fork_workers: bool) -> None:
    """Answer probe requests from ``read_fd`` on ``write_fd`` until end of file.

    With ``fork_workers`` every request gets a forked worker; without it this process does
    the work of one request itself and returns.
    """
    for sig in (signal.SIGINT, signal.SIGHUP):  # the server says when to stop: end of file
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    faulthandler.disable()  # a crashing worker's stack would be the server's, misleading
    warnings.simplefilter("ignore")
    lines = _Lines(read_fd)
    while (line := lines.read()) is not None:
        request = json.loads(line)
        if not fork_workers:
            set_title(WORKER_TITLE.format(server=os.getppid()))
            _send(write_fd, {"pid": os.getpid()})
            _send(write_fd, {"status": 0, "answer": _answer(request)})
            return
        pid, read_end = _fork_worker(request, (read_fd, write_fd))
        _send(write_fd, {"pid": pid})
        try:
            answer = _collect(pid, read_end, read_fd)
        except EOFError:
            return
        _, status = os.waitpid(pid, 0)
        _send(write_fd, {"status": os.waitstatus_to_exitcode(status), "answer": answer})


@dataclass
class _Host:
    pid: int
    to_host: int
    lines: _Lines
    popen: subprocess.Popen[bytes] | None  # None: forked from this process
    returncode: int | None = None

    @property
    def forked(self) -> bool:
        return self.popen is None

    def status(self, wait: float) -> int | None:
        """Exit status once the host has ended (reaping it), None while it runs."""
        deadline = time.monotonic() + wait
        while self.returncode is None:
            if self.popen is not None:
                self.returncode = self.popen.poll()
            else:
                pid, raw = os.waitpid(self.pid, os.WNOHANG)
                self.returncode = os.waitstatus_to_exitcode(raw) if pid else None
            if self.returncode is None:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.01)
        return self.returncode

    def stop(self) -> None:
        """End of file to the host (it exits), then make sure it is gone and reaped."""
        for fd in (self.to_host, self.lines.fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        if self.status(2.0) is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.status(5.0)


def _ended(status: int | None) -> str:
    if status is None:
        return "stopped answering"
    if status < 0:
        return f"killed by {signal.Signals(-status).name}"
    return f"exited {status}"


class Prober:
    """Probes candidates in worker processes (see the module docstring for how)."""

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.env = dict(env) if env is not None else None
        self.command = list(command or [sys.executable, "-m", "mlgate.serve.isolation"])
        self._lock = threading.Lock()
        self._host: _Host | None = None

    # -- hosts ----------------------------------------------------------------------------------
    def fork_host(self) -> bool:
        """Fork the host from this process; False where that is not safe (not Linux).

        Call it once scikit-learn and skops are imported, and before starting threads or
        opening sockets: the host keeps a copy of every file descriptor open at this moment.
        """
        if not sys.platform.startswith("linux"):
            return False
        to_host_read, to_host = os.pipe()
        from_host, from_host_write = os.pipe()
        server = os.getpid()
        with warnings.catch_warnings():  # Python 3.12+ warns whenever any thread exists
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:  # the host
            code = 1
            try:
                set_title(HOST_TITLE.format(server=server))
                os.close(to_host)
                os.close(from_host)
                run_host(to_host_read, from_host_write, fork_workers=True)
                code = 0
            finally:
                os._exit(code)
        os.close(to_host_read)
        os.close(from_host_write)
        with self._lock:
            old, self._host = self._host, _Host(pid, to_host, _Lines(from_host), None)
        if old is not None:
            old.stop()
        return True

    def host_fds(self) -> tuple[int, ...]:
        """This process's ends of the forked host's pipes (a sibling forked later closes
        them, so the host still sees end of file when the server goes)."""
        host = self._host
        if host is None or not host.forked:
            return ()
        return (host.to_host, host.lines.fd)

    def _spawn(self) -> _Host:
        env = dict(self.env if self.env is not None else os.environ)
        env.setdefault("PYTHONWARNINGS", "ignore")
        popen = subprocess.Popen(
            self.command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env
        )
        assert popen.stdin is not None and popen.stdout is not None
        return _Host(popen.pid, popen.stdin.fileno(), _Lines(popen.stdout.fileno()), popen)

    def warm(self) -> None:
        """Start a host now when none is waiting, so its imports overlap other work."""
        with self._lock:
            if self._host is None:
                self._host = self._spawn()

    # -- a probe --------------------------------------------------------------------------------
    def probe(
        self,
        path: str,
        sha256: str,
        canary: Mapping[str, Any],
        trusted: tuple[str, ...] = (),
    ) -> ProbeResult:
        """Probe ``path`` in a worker; a crash or a hang is a rejection, never our crash.
        ``trusted``: the project's additions to the allow-list."""
        request = {"path": path, "sha256": sha256, "canary": dict(canary), "trusted": list(trusted)}
        with self._lock:
            host, self._host = self._host, None
            if host is not None:
                try:
                    _send(host.to_host, request)
                except OSError:  # the idle host has gone away: not this candidate's fault
                    host.stop()
                    host = None
            if host is None:
                host = self._spawn()
                _send(host.to_host, request)
            result, reusable = self._await(host)
            if reusable and host.forked:
                self._host = host
            else:
                host.stop()
                self._host = self._spawn()  # the next one, importing while nothing happens
        return result

    def _await(self, host: _Host) -> tuple[ProbeResult, bool]:
        """Read the host's two lines; (result, whether the host can take another request)."""
        worker = host.pid
        started = time.monotonic()
        try:
            first = host.lines.read(self.timeout)
            if first is not None:
                worker = int(json.loads(first)["pid"])
                done = host.lines.read(max(0.0, self.timeout - (time.monotonic() - started)))
            else:
                done = None
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                os.kill(worker, signal.SIGKILL)
            timeout = ProbeResult(
                False, Reason.PROBE_TIMEOUT, f"probe did not answer within {self.timeout:g} s"
            )
            if worker == host.pid:
                return timeout, False
            try:  # the host reports the killed worker; then it is ready for the next one
                return timeout, host.lines.read(_AFTER_KILL) is not None
            except TimeoutError:
                return timeout, False
        except (ValueError, KeyError, TypeError, OSError) as exc:
            return ProbeResult(False, Reason.PROBE_CRASHED, f"probe host failed ({exc})"), False
        if done is None:  # the host itself died
            status = host.status(5.0)
            return ProbeResult(
                False, Reason.PROBE_CRASHED, f"probe process {_ended(status)}"
            ), False
        try:
            report = json.loads(done)
            status, answer = int(report["status"]), report["answer"]
            said = answer.get("reason") if isinstance(answer, dict) else None
            reason = Reason(said) if said else None
        except (ValueError, KeyError, TypeError) as exc:
            return ProbeResult(False, Reason.PROBE_CRASHED, f"probe host failed ({exc})"), False
        if status != 0 or not isinstance(answer, dict):
            return ProbeResult(False, Reason.PROBE_CRASHED, f"probe process {_ended(status)}"), True
        return (
            ProbeResult(
                bool(answer["ok"]),
                reason,
                str(answer.get("message", "")),
                tuple(answer.get("features", ())),
                tuple(answer.get("classes", ())),
            ),
            True,
        )

    def close(self) -> None:
        """Stop the waiting host (it holds no state: nothing to lose)."""
        with self._lock:
            host, self._host = self._host, None
        if host is not None:
            host.stop()


def import_model_libraries() -> None:
    """Import what loading and probing a model needs (most of a server's start-up time).

    The server calls it before :meth:`Prober.fork_host`, so the host shares these imports.
    """
    import pandas  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import skops.io  # noqa: F401

    import mlgate.ml.model  # noqa: F401


def main() -> int:
    """A host started as its own interpreter: import, then answer one request."""
    set_title(HOST_TITLE.format(server=os.getppid()))
    import_model_libraries()  # first: the imports overlap the server's fetch
    run_host(sys.stdin.fileno(), sys.stdout.fileno(), fork_workers=False)
    return 0


if __name__ == "__main__":
    sys.exit(main())
