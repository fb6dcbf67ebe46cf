"""Inference in worker processes: the HTTP process parses and validates, workers predict.

Why: one event loop in one process uses one core, and a model that crashes ``predict``
(an allowed type whose state points outside its arrays) would take the server with it.
Here every prediction runs in a worker; a worker that dies costs the requests it held
(each answered 503), is replaced, and never takes the server down.

Processes (Linux; fork after import, like the probe host of :mod:`mlgate.serve.isolation`):

- the **server** forks a *worker host* right after importing scikit-learn and skops, before
  any thread or socket exists; the host forks ``--workers`` workers and, whenever one dies,
  a replacement. Forking from the host keeps the imports shared and start-up fast.
- each **worker** holds the verified models it was told to load (the served one and the one
  before it, by *generation*), and answers prediction requests on a socket of its own,
  whose other end the host passes to the server (``SCM_RIGHTS``) once the worker is ready.

Channels:

- server <-> host: a ``SOCK_SEQPACKET`` pair, one JSON message per packet. Server to host:
  ``{"cmd": "load", "gen", "path", "sha256", "trusted", "features", "keep"}``. Host to
  server: ``{"event": "worker", "slot", "pid"}`` with the worker's request socket attached,
  ``{"event": "died", "slot", "pid", "status"}`` and ``{"event": "loaded", "gen", "ok",
  "reason", "message", "takes_array"}`` once every worker has answered a load.
- host <-> worker: a ``SOCK_SEQPACKET`` pair for the same load messages and replies.
- server <-> worker: a ``SOCK_STREAM`` pair carrying binary frames, no JSON for numbers: a
  request is a header (:data:`_REQUEST`: kind, generation, rows, columns, payload bytes)
  and a payload, the float64 matrix in C order for all-numeric schemas (kind
  :data:`MATRIX`), else the columns as JSON (kind :data:`COLUMNS`: strings, booleans and
  nulls); an answer is a header (:data:`_ANSWER`: status, rows, columns, payload bytes) and
  the float64 probability matrix, or a UTF-8 message when the status is not :data:`OK`.
  A big body (kind :data:`BODY`, see ``mlgate.serve.app``) comes whole, unparsed, after a
  length-prefixed JSON spec (route, schema, limits): the worker parses and validates it
  exactly as the server would (``validation.parse_request``) and predicts; its answer
  carries the answer's extras (JSON) after the matrix, or status :data:`INVALID` and the
  refusal's status and detail (JSON). The server's event loop then only moves bytes: a
  parse that holds the interpreter lock for 100 ms happens in another process.

Swaps are atomic across workers: a model is loaded in every worker before the server
serves it, each request names the generation it read from the served state, and workers
keep the previous generation, so a request started on the old model ends on it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import json
import os
import select
import signal
import socket
import struct
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlgate.serve.isolation import set_title
from mlgate.serve.probe import Reason, model_outputs

if TYPE_CHECKING:
    from mlgate.serve.metrics import ServeMetrics

#: Request payload kinds.
MATRIX = 1
COLUMNS = 2
BODY = 3  # a raw JSON body after its spec (see the module docs)
#: Answer statuses.
OK = 0
CANNOT_PREDICT = 1  # the model raised ValueError on these rows: 422
FAILED = 2  # the model raised anything else: 500
GONE = 3  # this worker no longer holds that generation (two swaps meanwhile): 503
INVALID = 4  # the body was refused (413/422): {"status", "detail"} as JSON

_SPEC = struct.Struct("<I")  # bytes of a BODY request's JSON spec

_REQUEST = struct.Struct("<IIIIQ")  # kind, generation, rows, columns, payload bytes
_ANSWER = struct.Struct("<IIIQ")  # status, rows, columns, payload bytes
_PACKET = 1 << 16  # largest control message

HOST_TITLE = "mlgate serve: worker host (server pid {server})"
WORKER_TITLE = "mlgate serve: inference worker {slot} (server pid {server})"

#: A model whose requests killed this many workers within :data:`CRASH_WINDOW` seconds is
#: taken out of service (the previous one goes back in).
CRASH_LIMIT = 3
CRASH_WINDOW = 60.0


def default_workers() -> int:
    """The number of cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _send_json(sock: socket.socket, message: Mapping[str, Any], fds: Sequence[int] = ()) -> None:
    data = json.dumps(message).encode()
    if fds:
        socket.send_fds(sock, [data], list(fds))
    else:
        sock.send(data)


def _recv_json(sock: socket.socket) -> tuple[dict[str, Any] | None, list[int]]:
    """One packet and the file descriptors it carries; (None, []) at end of file."""
    data, fds, _flags, _addr = socket.recv_fds(sock, _PACKET, 4)
    if not data:
        for fd in fds:
            os.close(fd)
        return None, []
    message = json.loads(data)
    return (message if isinstance(message, dict) else None), fds


def _ended(status: int) -> str:
    if status < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-status).name}"
        return f"killed by signal {-status}"
    return f"exited {status}"


# -- the worker ---------------------------------------------------------------------------------
@dataclass
class _Model:
    model: Any
    features: list[str]
    takes_array: bool


def _load(message: Mapping[str, Any]) -> _Model:
    """Read, verify and load one model as the server's reconciler told it to."""
    from mlgate.ml.model import loads
    from mlgate.serve.fast import array_ready

    with open(str(message["path"]), "rb") as handle:
        data = handle.read()
    digest = hashlib.sha256(data).hexdigest()
    if digest != message["sha256"]:
        raise ValueError(f"sha256 is {digest}, the pointer says {message['sha256']}")
    trusted = tuple(str(t) for t in message.get("trusted", ()))
    model = loads(data, f"generation {message['gen']}", extra_trusted=trusted)
    features = [str(f) for f in message["features"]]
    takes_array = bool(message.get("numeric")) and array_ready(model, features)
    return _Model(model, features, takes_array)


def _recv_exact(sock: socket.socket, size: int) -> bytearray | None:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = sock.recv_into(view[got:])
        if n == 0:
            return None
        got += n
    return buffer


def _predict(models: Mapping[int, _Model], header: tuple[int, ...], payload: bytes) -> bytes:
    """One request's answer frame."""
    import numpy as np
    import pandas as pd

    kind, gen, rows, cols, _size = header
    held = models.get(gen)
    if held is None:
        message = f"generation {gen} is no longer loaded here".encode()
        return _ANSWER.pack(GONE, 0, 0, len(message)) + message
    if kind == BODY:
        return _answer_body(held, payload)
    try:
        if kind == MATRIX:
            frame: Any = np.frombuffer(payload, dtype=np.float64).reshape(rows, cols)
        else:
            frame = pd.DataFrame(json.loads(payload), columns=held.features)
    except ValueError as exc:
        message = str(exc).encode()
        return _ANSWER.pack(CANNOT_PREDICT, 0, 0, len(message)) + message
    return _outputs(held, frame)


def _outputs(held: _Model, frame: Any, trailer: bytes = b"") -> bytes:
    """The answer frame of ``held``'s outputs for ``frame`` (a float64 matrix in model order,
    or a DataFrame), ``trailer`` after the matrix."""
    import numpy as np
    import pandas as pd

    try:
        if isinstance(frame, np.ndarray) and not held.takes_array:
            frame = pd.DataFrame(frame, columns=held.features)
        proba = model_outputs(held.model, frame)  # probabilities, or a regressor's values
    except ValueError as exc:
        message = str(exc).encode()
        return _ANSWER.pack(CANNOT_PREDICT, 0, 0, len(message)) + message
    except Exception as exc:  # reported as a 500, the worker stays
        message = f"{type(exc).__name__}: {exc}".encode()
        return _ANSWER.pack(FAILED, 0, 0, len(message)) + message
    out = proba.tobytes()
    head = _ANSWER.pack(OK, proba.shape[0], proba.shape[1], len(out) + len(trailer))
    return head + out + trailer


def _answer_body(held: _Model, payload: bytes) -> bytes:
    """A BODY request: parse and validate as the server would, then predict."""
    from mlgate.serve.validation import InvalidRequest, parse_request, schema_from_json

    (size,) = _SPEC.unpack_from(payload)
    view = memoryview(payload)
    try:
        spec = json.loads(bytes(view[_SPEC.size : _SPEC.size + size]))
        schema = schema_from_json(spec["schema"])
        frame, extras = parse_request(
            str(spec["route"]),
            bytes(view[_SPEC.size + size :]),
            schema,
            max_rows=int(spec["max_rows"]),
            max_objects=int(spec["max_objects"]),
            as_array=schema.numeric,
        )
    except InvalidRequest as exc:
        message = json.dumps({"status": exc.status, "detail": exc.detail}).encode()
        return _ANSWER.pack(INVALID, 0, 0, len(message)) + message
    except Exception as exc:  # a bug, not the model's: a 500, the worker stays
        message = f"parsing the body: {type(exc).__name__}: {exc}".encode()
        return _ANSWER.pack(FAILED, 0, 0, len(message)) + message
    return _outputs(held, frame, json.dumps(extras).encode())


def _load_reply(models: dict[int, _Model], message: Mapping[str, Any]) -> dict[str, Any]:
    from mlgate.errors import DataError
    from mlgate.serve.probe import load_error_reason

    gen = int(message["gen"])
    keep = {int(g) for g in message.get("keep", ())} | {gen}
    for old in [g for g in models if g not in keep]:
        del models[old]
    reply: dict[str, Any] = {"gen": gen, "ok": True}
    try:
        models[gen] = _load(message)
        reply["takes_array"] = models[gen].takes_array
    except Exception as exc:  # whatever loading raises is this model's rejection, not our end
        reason = load_error_reason(exc) if isinstance(exc, DataError) else Reason.LOAD_ERROR
        reply.update(ok=False, reason=str(reason), message=f"{type(exc).__name__}: {exc}")
    return reply


def run_worker(
    ctl: socket.socket, requests: socket.socket, loads: Sequence[Mapping[str, Any]]
) -> None:
    """Load ``loads``, say ready on ``ctl``, then answer requests and load commands."""
    models: dict[int, _Model] = {}
    for message in loads:
        _load_reply(models, message)
    _send_json(ctl, {"ready": True})
    while True:
        ready = select.select([requests, ctl], [], [])[0]
        if ctl in ready:
            command, _ = _recv_json(ctl)
            if command is None:  # the host is gone: so is the server, or it is stopping
                return
            _send_json(ctl, _load_reply(models, command))
        if requests in ready:
            raw = _recv_exact(requests, _REQUEST.size)
            if raw is None:
                return
            header = _REQUEST.unpack(raw)
            payload = _recv_exact(requests, header[4]) if header[4] else bytearray()
            if payload is None:
                return
            requests.sendall(_predict(models, header, bytes(payload)))


# -- the host -----------------------------------------------------------------------------------
@dataclass
class _Slot:
    pid: int
    ctl: socket.socket
    ready: bool = False


@dataclass
class _PendingLoad:
    message: dict[str, Any]
    waiting: set[int]
    failures: list[tuple[Reason, str]] = field(default_factory=list)
    takes_array: bool = True


class _Host:
    """Forks and replaces workers; fans load commands out to them (see the module docs)."""

    def __init__(self, server: socket.socket, count: int, server_pid: int) -> None:
        self.server = server
        self.count = count
        self.server_pid = server_pid
        self.slots: dict[int, _Slot] = {}
        self.loads: dict[int, dict[str, Any]] = {}  # generation -> its load command
        self.pending: _PendingLoad | None = None
        self.deaths: collections.deque[float] = collections.deque(maxlen=20)
        self._request_sockets: dict[int, socket.socket] = {}  # until the worker is ready

    def fork(self, index: int) -> None:
        ctl, worker_ctl = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        loads = list(self.loads.values())
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                set_title(WORKER_TITLE.format(slot=index, server=self.server_pid))
                self.server.close()
                for slot in self.slots.values():
                    slot.ctl.close()
                for other in self._request_sockets.values():
                    other.close()
                ctl.close()
                ours.close()
                run_worker(worker_ctl, theirs, loads)
                code = 0
            except BaseException:  # a bug here, said on the server's stderr
                traceback.print_exc()
            finally:
                os._exit(code)
        worker_ctl.close()
        theirs.close()
        self.slots[index] = _Slot(pid, ctl)
        self._request_sockets[index] = ours

    def run(self) -> None:
        for index in range(self.count):
            self.fork(index)
        while True:
            socks = [self.server, *(s.ctl for s in self.slots.values())]
            for sock in select.select(socks, [], [], 1.0)[0]:
                if sock is self.server:
                    message, _ = _recv_json(self.server)
                    if message is None:
                        return
                    self.start_load(message)
                    continue
                index = next(i for i, s in self.slots.items() if s.ctl is sock)
                try:
                    reply, _ = _recv_json(sock)
                except OSError:
                    reply = None
                if reply is None:
                    self.died(index)
                else:
                    self.answered(index, reply)
            self.refill()

    def refill(self) -> None:
        """Replace dead workers (not during a load: a replacement loads the settled models);
        slower when workers keep dying, so a model that kills them cannot busy the host."""
        if self.pending is not None:
            return
        for index in range(self.count):
            if index in self.slots:
                continue
            now = time.monotonic()
            busy = len(self.deaths) == self.deaths.maxlen and now - self.deaths[0] < 10.0
            if busy and now - self.deaths[-1] < 1.0:
                return
            self.fork(index)

    def died(self, index: int) -> None:
        slot = self.slots.pop(index)
        slot.ctl.close()
        sock = self._request_sockets.pop(index, None)
        if sock is not None:
            sock.close()
        _, raw = os.waitpid(slot.pid, 0)
        status = os.waitstatus_to_exitcode(raw)
        self.deaths.append(time.monotonic())
        died = {"event": "died", "slot": index, "pid": slot.pid, "status": status}
        _send_json(self.server, {**died, "ready": slot.ready})
        pending = self.pending
        if pending is not None and index in pending.waiting:
            pending.waiting.discard(index)
            pending.failures.append(
                (Reason.WORKER_CRASHED, f"an inference worker loading it {_ended(status)}")
            )
            self.finish_load()

    def answered(self, index: int, reply: dict[str, Any]) -> None:
        slot = self.slots[index]
        if reply.get("ready"):
            slot.ready = True
            sock = self._request_sockets.pop(index)
            _send_json(
                self.server, {"event": "worker", "slot": index, "pid": slot.pid}, [sock.fileno()]
            )
            sock.close()
            return
        pending = self.pending
        if (
            pending is None
            or index not in pending.waiting
            or reply.get("gen") != pending.message["gen"]
        ):
            return
        pending.waiting.discard(index)
        if not reply.get("ok"):
            pending.failures.append(
                (Reason(reply.get("reason", "load_error")), str(reply.get("message", "")))
            )
        elif not reply.get("takes_array"):
            pending.takes_array = False
        self.finish_load()

    def start_load(self, message: dict[str, Any]) -> None:
        waiting = {i for i, s in self.slots.items() if s.ready}
        self.pending = _PendingLoad(message, set())
        for index in waiting:
            try:
                _send_json(self.slots[index].ctl, message)
                self.pending.waiting.add(index)
            except OSError:  # dying: its end of file comes next
                pass
        if not self.pending.waiting and not self.pending.failures:
            self.pending.failures.append((Reason.WORKER_CRASHED, "no inference worker is alive"))
        self.finish_load()

    def finish_load(self) -> None:
        pending = self.pending
        if pending is None or pending.waiting:
            return
        self.pending = None
        gen = int(pending.message["gen"])
        reply: dict[str, Any] = {"event": "loaded", "gen": gen, "ok": not pending.failures}
        if pending.failures:
            reason, message = pending.failures[0]
            reply.update(reason=str(reason), message=message)
        else:
            keep = {int(g) for g in pending.message.get("keep", ())} | {gen}
            self.loads = {g: m for g, m in self.loads.items() if g in keep}
            self.loads[gen] = pending.message
            reply["takes_array"] = pending.takes_array
        _send_json(self.server, reply)


def _run_host(server: socket.socket, count: int, server_pid: int) -> None:
    for sig in (signal.SIGINT, signal.SIGHUP):  # the server says when to stop: end of file
        signal.signal(sig, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    warnings.simplefilter("ignore")
    host = _Host(server, count, server_pid)
    try:
        host.run()
    finally:
        for slot in host.slots.values():  # end of file to each: they return and exit
            slot.ctl.close()
        for slot in host.slots.values():
            with contextlib.suppress(ChildProcessError):
                os.waitpid(slot.pid, 0)


# -- the server's side --------------------------------------------------------------------------
class WorkerDied(Exception):
    """The worker holding a request died before answering (the answer is 503)."""

    def __init__(self, message: str, *, generation: int) -> None:
        super().__init__(message)
        self.generation = generation


class PredictError(Exception):
    """The model refused the rows (``status`` 422) or failed (500) or the generation is gone
    (503); ``message`` says why."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class LoadResult:
    ok: bool
    reason: Reason | None = None
    message: str = ""
    takes_array: bool = False


@dataclass
class _Conn:
    slot: int
    pid: int
    sock: socket.socket


class WorkerPool:
    """The server's handle on the workers: :meth:`load` from the reconcile thread,
    :meth:`predict` from the event loop."""

    def __init__(
        self,
        count: int,
        *,
        load_timeout: float = 120.0,
        predict_timeout: float = 60.0,
        on_crashes: Callable[[int, str], None] | None = None,
        log: Callable[[str], None] = lambda _m: None,
        metrics: ServeMetrics | None = None,
    ) -> None:
        self.count = count
        self.load_timeout = load_timeout
        self.predict_timeout = predict_timeout
        self.on_crashes = on_crashes
        self.log = log
        self.metrics = metrics
        self.host_pid = 0
        self._control: socket.socket | None = None
        self._lock = threading.Lock()
        self._arrived: list[_Conn] = []
        self._loaded: dict[int, dict[str, Any]] = {}
        self._loaded_cond = threading.Condition(self._lock)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._idle: collections.deque[_Conn] = collections.deque()
        self._waiters: collections.deque[asyncio.Future[_Conn]] = collections.deque()
        self._crashes: dict[int, list[float]] = {}
        self._generation = 0
        self._reader: threading.Thread | None = None
        self.alive = 0
        self.deaths = 0

    # -- process management (server's main thread, before threads and sockets) -----------------
    def start(self, close_fds: Sequence[int] = ()) -> None:
        """Fork the worker host (which forks the workers). Call it once scikit-learn and skops
        are imported and before any thread starts, as :meth:`Prober.fork_host`; ``close_fds``:
        descriptors the host must not keep (the probe host's pipes, whose end of file tells
        it the server is gone)."""
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        server = os.getpid()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
        if pid == 0:
            code = 1
            try:
                set_title(HOST_TITLE.format(server=server))
                ours.close()
                for fd in close_fds:
                    with contextlib.suppress(OSError):
                        os.close(fd)
                _run_host(theirs, self.count, server)
                code = 0
            finally:
                os._exit(code)
        theirs.close()
        self.host_pid = pid
        self._control = ours

    def listen(self) -> None:
        """Start reading the host's messages (a thread; call after every fork is done)."""
        self._reader = threading.Thread(target=self._read, name="mlgate-workers", daemon=True)
        self._reader.start()

    def close(self) -> None:
        """End of file to the host: it closes every worker's channel and waits for them."""
        control, self._control = self._control, None
        if control is not None:
            control.close()
        if self.host_pid:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                pid, _ = os.waitpid(self.host_pid, os.WNOHANG)
                if pid:
                    break
                time.sleep(0.02)
            else:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(self.host_pid, signal.SIGKILL)
                os.waitpid(self.host_pid, 0)
            self.host_pid = 0

    def _read(self) -> None:
        control = self._control
        while control is not None:
            try:
                message, fds = _recv_json(control)
            except OSError:
                message, fds = None, []
            if message is None:
                if self._control is not None:
                    self.log("inference worker host ended; predictions answer 503")
                return
            event = message.get("event")
            if event == "worker" and fds:
                sock = socket.socket(fileno=fds[0])
                sock.setblocking(False)
                conn = _Conn(int(message["slot"]), int(message["pid"]), sock)
                with self._lock:
                    self._arrived.append(conn)
                    self.alive += 1
                    loop = self._loop
                if self.metrics is not None:
                    self.metrics.workers.set(self.alive)
                if loop is not None:
                    with contextlib.suppress(RuntimeError):  # the loop has closed
                        loop.call_soon_threadsafe(self._take_arrived)
            elif event == "died":
                with self._lock:
                    self.deaths += 1
                    self.alive -= 1 if message.get("ready") else 0
                if self.metrics is not None:
                    self.metrics.workers.set(self.alive)
                    self.metrics.worker_deaths.inc()
            elif event == "loaded":
                with self._loaded_cond:
                    self._loaded[int(message["gen"])] = message
                    self._loaded_cond.notify_all()

    # -- loading (the reconcile thread) ------------------------------------------------------------
    def next_generation(self) -> int:
        self._generation += 1
        return self._generation

    def load(
        self,
        gen: int,
        *,
        path: str,
        sha256: str,
        trusted: Sequence[str],
        features: Sequence[str],
        numeric: bool,
        keep: Sequence[int],
    ) -> LoadResult:
        """Load generation ``gen`` in every worker; ``keep``: the generations still needed."""
        control = self._control
        if control is None:
            return LoadResult(False, Reason.WORKER_CRASHED, "the inference workers are stopped")
        message = {
            "cmd": "load", "gen": gen, "path": path, "sha256": sha256, "trusted": list(trusted),
            "features": list(features), "numeric": numeric, "keep": list(keep),
        }  # fmt: skip
        _send_json(control, message)
        deadline = time.monotonic() + self.load_timeout
        with self._loaded_cond:
            while gen not in self._loaded:
                left = deadline - time.monotonic()
                if left <= 0:
                    return LoadResult(
                        False,
                        Reason.PROBE_TIMEOUT,
                        f"workers did not load it in {self.load_timeout:g} s",
                    )
                self._loaded_cond.wait(left)
            reply = self._loaded.pop(gen)
        if not reply.get("ok"):
            return LoadResult(
                False, Reason(reply.get("reason", "load_error")), str(reply.get("message", ""))
            )
        return LoadResult(True, takes_array=bool(reply.get("takes_array")))

    # -- predicting (the event loop) ---------------------------------------------------------------
    def _take_arrived(self) -> None:
        with self._lock:
            arrived, self._arrived = self._arrived, []
        for conn in arrived:
            self._release(conn)

    def _release(self, conn: _Conn) -> None:
        """``conn`` to the longest-waiting request, else idle. Handed over directly: a request
        arriving meanwhile cannot take it first (that would send the woken one to the back
        of the queue, again and again under load: the tail latency of a busy server)."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        self._idle.append(conn)

    async def _acquire(self) -> _Conn:
        if self._loop is None:
            with self._lock:
                self._loop = asyncio.get_running_loop()
        if self._arrived:
            self._take_arrived()
        if self._idle:  # then nobody waits: _release serves waiters first
            return self._idle.popleft()
        waiter: asyncio.Future[_Conn] = self._loop.create_future()
        self._waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self._release(waiter.result())  # handed over, then cancelled: pass it on
            raise

    async def predict(self, gen: int, payload: Any) -> Any:
        """Probabilities for ``payload`` (a float64 matrix, or a dict of columns) from
        generation ``gen``. Raises :class:`WorkerDied` or :class:`PredictError`."""
        import numpy as np

        if isinstance(payload, np.ndarray):
            matrix = np.ascontiguousarray(payload, dtype=np.float64)
            data = matrix.data.cast("B")
            header = _REQUEST.pack(MATRIX, gen, matrix.shape[0], matrix.shape[1], data.nbytes)
        else:
            data = memoryview(json.dumps(payload).encode())
            header = _REQUEST.pack(COLUMNS, gen, 0, 0, data.nbytes)
        parts: list[bytes | memoryview] = (
            [header + bytes(data)] if data.nbytes < 65536 else [header, data]
        )
        status, rows, cols, body = await self._request(gen, parts)
        if status != OK:
            code = {CANNOT_PREDICT: 422, FAILED: 500}.get(status, 503)
            raise PredictError(code, bytes(body).decode("utf-8", "replace"))
        return np.frombuffer(body, dtype=np.float64).reshape(rows, cols)

    async def predict_body(self, gen: int, spec: bytes, body: bytes) -> tuple[Any, dict[str, Any]]:
        """Outputs for a raw request ``body`` parsed and validated by a worker by ``spec``
        (JSON: route, schema, max_rows, max_objects), and the answer's extras. Raises
        :class:`~mlgate.serve.validation.InvalidRequest` (the body refused),
        :class:`WorkerDied` or :class:`PredictError`."""
        import numpy as np

        from mlgate.serve.validation import InvalidRequest

        head = _SPEC.pack(len(spec)) + spec
        header = _REQUEST.pack(BODY, gen, 0, 0, len(head) + len(body))
        status, rows, cols, answer = await self._request(gen, [header + head, memoryview(body)])
        if status == INVALID:
            refusal = json.loads(answer)
            exc = InvalidRequest(int(refusal["status"]), str(refusal["detail"].get("error")))
            exc.detail = dict(refusal["detail"])
            raise exc
        if status != OK:
            code = {CANNOT_PREDICT: 422, FAILED: 500}.get(status, 503)
            raise PredictError(code, bytes(answer).decode("utf-8", "replace"))
        size = rows * cols * 8
        outputs = np.frombuffer(answer, dtype=np.float64, count=rows * cols).reshape(rows, cols)
        extras = json.loads(bytes(answer[size:])) if len(answer) > size else {}
        return outputs, extras

    async def _request(
        self, gen: int, parts: Sequence[bytes | memoryview]
    ) -> tuple[int, int, int, bytearray]:
        """Send ``parts`` to an idle worker and read its answer frame."""
        conn = await self._acquire()
        loop = asyncio.get_running_loop()
        try:
            answer = await asyncio.wait_for(
                self._exchange(loop, conn.sock, parts), self.predict_timeout
            )
        except (TimeoutError, ConnectionError, _Closed) as exc:
            self._lost(conn, gen, exc)
            raise WorkerDied(self._died_message(exc), generation=gen) from None
        except BaseException:  # cancelled mid-exchange: the channel is out of step, drop it
            self._lost(conn, gen, None)
            raise
        self._release(conn)
        return answer

    @staticmethod
    def _died_message(exc: BaseException) -> str:
        if isinstance(exc, TimeoutError):
            return "the inference worker did not answer in time and was stopped"
        return "the inference worker holding this request died"

    async def _exchange(
        self,
        loop: asyncio.AbstractEventLoop,
        sock: socket.socket,
        parts: Sequence[bytes | memoryview],
    ) -> tuple[int, int, int, bytearray]:
        for part in parts:
            await loop.sock_sendall(sock, part)
        head = await _read_exact(loop, sock, _ANSWER.size)
        status, rows, cols, size = _ANSWER.unpack(head)
        body = await _read_exact(loop, sock, size) if size else bytearray()
        return status, rows, cols, body

    def _lost(self, conn: _Conn, gen: int, exc: BaseException | None) -> None:
        """A worker that failed mid-request is not reused: killed (the host replaces it)."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(conn.pid, signal.SIGKILL)
        conn.sock.close()
        if exc is None:
            return
        now = time.monotonic()
        recent = [t for t in self._crashes.get(gen, []) if now - t < CRASH_WINDOW] + [now]
        self._crashes[gen] = recent
        if len(recent) >= CRASH_LIMIT and self.on_crashes is not None:
            self._crashes[gen] = []
            self.on_crashes(
                gen, f"requests to it killed {len(recent)} inference workers in {CRASH_WINDOW:g} s"
            )


class _Closed(Exception):
    """The worker's end of the socket closed."""


async def _read_exact(loop: asyncio.AbstractEventLoop, sock: socket.socket, size: int) -> bytearray:
    buffer = bytearray(size)
    view = memoryview(buffer)
    got = 0
    while got < size:
        n = await loop.sock_recv_into(sock, view[got:])
        if n == 0:
            raise _Closed
        got += n
    return buffer
