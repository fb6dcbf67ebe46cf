"""Reconcile: make the served model what the pointer in git says, or keep the old one.

One pass: fetch the repository, read ``deploy/production.yaml`` at the tip of the branch,
and when it names something other than what is served: fetch the model by hash into a
cache keyed by sha256, verify, probe it in a child process, load it here, and swap one
reference. Any failure rejects the candidate and leaves the served model alone (after
Argo CD and Kubernetes: the last good state keeps running, readiness stays up).

A rejected commit is not retried in a hot loop: it waits ``base_backoff`` seconds, doubling
up to ``max_backoff``; a new commit on the branch is tried at once, and so is a SIGHUP
(an operator asking explicitly).
"""

from __future__ import annotations

import contextlib
import errno
import functools
import hashlib
import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from mlgate.errors import MlgateError, RemoteError, RemoteObjectCorrupt, RemoteObjectMissing
from mlgate.serve.cachelock import CacheLocked, cache_lock
from mlgate.serve.metrics import ServeMetrics
from mlgate.serve.probe import ProbeResult, Reason, load_error_reason
from mlgate.serve.state import Outcome, ReconcileResult, Served, ServingState
from mlgate.serve.validation import RequestSchema, from_features, from_schema_columns

if TYPE_CHECKING:
    from mlgate.deploy.pointer import Pointer
    from mlgate.serve.workers import WorkerPool


class Source(Protocol):
    """Where the desired state comes from (:class:`mlgate.serve.source.RepoSource`)."""

    def poll(self) -> str: ...
    def read(self, commit: str, path: str) -> bytes | None: ...
    def fetch_model(self, pointer: Pointer, commit: str, dest: Path) -> Path: ...


class ProbeRunner(Protocol):
    def probe(
        self, path: str, sha256: str, canary: Mapping[str, Any], trusted: tuple[str, ...] = ()
    ) -> ProbeResult: ...


def _now() -> datetime:
    return datetime.now(UTC)


class Rejected(Exception):
    """A candidate failed a check, for ``reason``."""

    def __init__(self, reason: Reason, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass
class _Failure:
    count: int
    retry_at: datetime


def _disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` or an error it was raised from is a full local disk (or quota)."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def classify_remote_error(exc: RemoteError) -> Reason:
    """The reason for a failed fetch, by the error's type: ``missing_object``,
    ``hash_mismatch`` (found, wrong bytes), ``cache_error`` (the local disk is full, however
    the fetch wrapped it) or ``remote_error``."""
    if _disk_full(exc):
        return Reason.CACHE_ERROR
    if isinstance(exc, RemoteObjectMissing):
        return Reason.MISSING_OBJECT
    if isinstance(exc, RemoteObjectCorrupt):
        return Reason.HASH_MISMATCH
    return Reason.REMOTE_ERROR


def canary_values(columns: Mapping[str, Any] | None) -> dict[str, Any]:
    """A plausible row from the schema: the middle of each numeric range."""
    out: dict[str, Any] = {}
    for name, spec in (columns or {}).items():
        lo, hi = getattr(spec, "min", None), getattr(spec, "max", None)
        allowed = getattr(spec, "allowed", None) or getattr(spec, "values", None)
        if allowed:
            out[name] = sorted(allowed, key=str)[0]
        elif isinstance(lo, int | float) and isinstance(hi, int | float):
            out[name] = (float(lo) + float(hi)) / 2
        elif isinstance(lo, int | float):
            out[name] = float(lo)
    return out


@functools.cache
def _fingerprint() -> str:
    """Python and library versions, and the allow-list: what a probe's verdict depends on."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    from mlgate.ml.model import TRUSTED_TYPES

    parts = [platform.python_version(), *sorted(TRUSTED_TYPES)]
    for name in ("mlgate", "scikit-learn", "skops", "numpy", "scipy", "pandas"):
        try:
            parts.append(f"{name}={version(name)}")
        except PackageNotFoundError:
            parts.append(f"{name}=none")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Reconciler:
    """Drives ``state`` towards the pointer; one :meth:`reconcile` call is one pass."""

    def __init__(
        self,
        *,
        source: Source,
        state: ServingState,
        metrics: ServeMetrics,
        prober: ProbeRunner,
        cache_dir: Path,
        base_backoff: float = 30.0,
        max_backoff: float = 600.0,
        clock: Callable[[], datetime] = _now,
        log: Callable[[str], None] = lambda _msg: None,
        pointer: str | None = None,
        lock_timeout: float = 600.0,
        pool: WorkerPool | None = None,
    ) -> None:
        from mlgate.models import SINGLE_POINTER

        self.pointer = pointer or SINGLE_POINTER
        self.source = source
        self.state = state
        self.metrics = metrics
        self.prober = prober
        self.cache_dir = cache_dir
        self.models = cache_dir / "models"
        self.schemas = cache_dir / "schemas"
        self.base_backoff = base_backoff
        self.max_backoff = max_backoff
        self.clock = clock
        self.log = log
        self.lock_timeout = lock_timeout
        self._said_shared = False
        self._failures: dict[str, _Failure] = {}
        self._lock = threading.Lock()
        self.pool = pool  # inference workers: models load there, not here
        self._previous: Served | None = None  # what goes back in if the served one crashes
        self._tips: dict[int, str] = {}  # generation -> the branch tip that brought it
        self._crashed: list[tuple[str, ReconcileResult]] = []  # (tip, rejection), from the loop
        self._steps: dict[str, float] = {}  # seconds of this pass's steps, said in the log

    # -- one pass ---------------------------------------------------------------------------
    def reconcile(self, *, force: bool = False) -> ReconcileResult:
        """One pass; never raises for a bad candidate or an unreachable repository."""
        started = time.monotonic()
        with self._lock:
            self._steps = {}
            try:
                # replicas sharing the folder take turns (see mlgate.serve.cachelock)
                with cache_lock(self.cache_dir, timeout=self.lock_timeout, on_wait=self._shared):
                    self._step("lock wait", started)
                    result = self._pass(force)
            except OSError as exc:  # cannot create the cache, a full disk, a read-only mount
                result = ReconcileResult(
                    self.clock(),
                    Outcome.ERROR,
                    reason=Reason.CACHE_ERROR,
                    message=self.cache_message(exc),
                )
        took = time.monotonic() - started
        self.state.last_result = result
        self.metrics.reconciles.labels(result.outcome).inc()
        self.metrics.last_reconcile.set(result.at.timestamp())
        if result.outcome not in (Outcome.UNCHANGED, Outcome.BACKOFF):
            detail = f" ({result.reason}: {result.message})" if result.reason else ""
            steps = ", ".join(f"{k} {v:.2f}" for k, v in self._steps.items() if v >= 0.005)
            self.log(
                f"reconcile: {result.outcome} {result.version} {result.commit[:12]} "
                f"in {took:.2f} s{f' ({steps})' if steps else ''}{detail}"
            )
        return result

    def _step(self, name: str, since: float) -> float:
        """Record ``name`` as taking from ``since`` to now; returns now."""
        now = time.monotonic()
        self._steps[name] = now - since
        return now

    def cache_message(self, exc: OSError) -> str:
        """One line for an unusable cache folder, with the fix."""
        what = exc.strerror or type(exc).__name__
        where = f" ({exc.filename})" if exc.filename else ""
        fix = (
            "give each replica its own --cache-dir, or stop the process holding it"
            if isinstance(exc, CacheLocked)
            else "free some space, or pass --cache-dir a writable folder"
        )
        return f"cache dir {self.cache_dir}: {what}{where}; {fix}"

    def _shared(self, holder: str) -> None:
        if not self._said_shared:  # once: replicas on one folder collide now and then
            self._said_shared = True
            self.log(
                f"cache dir {self.cache_dir} is shared with {holder}: reconcile passes take "
                "turns (one writer at a time)"
            )

    def _pass(self, force: bool) -> ReconcileResult:
        from mlgate.deploy.pointer import parse_pointer, servable

        now = self.clock()
        mark = time.monotonic()
        try:
            commit = self.source.poll()
            raw = self.source.read(commit, self.pointer)
            self._step("git", mark)
        except MlgateError as exc:
            return ReconcileResult(now, Outcome.ERROR, reason=Reason.GIT_ERROR, message=str(exc))
        if raw is None:
            return ReconcileResult(
                now,
                Outcome.NO_RELEASE,
                commit=commit,
                reason=Reason.NO_RELEASE,
                message=f"no {self.pointer} at {commit[:12]} yet; run `mlgate release`",
            )
        self._take_crash_reports(now)
        failure = self._failures.get(commit)
        if failure is not None and not force and now < failure.retry_at:
            last = self.state.last_rejection
            return ReconcileResult(
                now,
                Outcome.BACKOFF,
                commit=commit,
                version=last.version if last else "",
                reason=last.reason if last else "",
                message=last.message if last else "",
                retry_at=failure.retry_at,
            )
        version = ""
        try:
            # a folder model: its one .skops file (else refused: serve loads skops only)
            pointer = servable(parse_pointer(raw, f"{commit[:12]}:{self.pointer}"))
        except MlgateError as exc:
            return self._reject(now, commit, version, Rejected(Reason.BAD_POINTER, str(exc)))
        version = pointer.version
        served = self.state.current
        if (
            served is not None
            and served.sha256 == pointer.model.sha256
            and served.version == pointer.version
            and served.commit == pointer.commit
        ):
            self._failures.pop(commit, None)
            return ReconcileResult(now, Outcome.UNCHANGED, commit=commit, version=version)
        try:
            new = self._load(pointer, commit)
        except Rejected as exc:
            return self._reject(now, commit, version, exc)
        self._previous = served
        if new.generation is not None:
            self._tips = {g: c for g, c in self._tips.items() if g in self._kept()}
            self._tips[new.generation] = commit
        self.state.current = new  # the swap: one reference, atomic for readers
        self.metrics.served(new)
        self._failures.clear()
        return ReconcileResult(now, Outcome.SWAPPED, commit=commit, version=version)

    def _back_off(self, now: datetime, commit: str) -> datetime:
        """Record one more failure of ``commit``; when it may be tried again."""
        failure = self._failures.get(commit)
        count = failure.count + 1 if failure else 1
        delay = min(self.max_backoff, self.base_backoff * 2 ** (count - 1))
        retry_at = now + timedelta(seconds=delay)
        self._failures = {commit: _Failure(count, retry_at)}  # only the tip matters
        return retry_at

    def _reject(self, now: datetime, commit: str, version: str, exc: Rejected) -> ReconcileResult:
        retry_at = self._back_off(now, commit)
        result = ReconcileResult(
            now,
            Outcome.REJECTED,
            commit=commit,
            version=version,
            reason=exc.reason,
            message=str(exc),
            retry_at=retry_at,
        )
        self.state.last_rejection = result
        self.metrics.rejected_candidate(version, commit, exc.reason)
        return result

    # -- a served model that kills its workers ------------------------------------------------
    def _kept(self) -> set[int]:
        """Generations the workers must keep: the served one and the one before it."""
        return {
            s.generation
            for s in (self.state.current, self._previous)
            if s is not None and s.generation is not None
        }

    def model_crashed(self, generation: int, message: str) -> None:
        """Called from the event loop when requests to ``generation`` kept killing workers:
        the previous model goes back in at once (the workers still hold it), and the next
        pass records the rejection (with backoff, as for a failed probe)."""
        current = self.state.current
        if current is None or current.generation != generation:
            return  # already replaced
        previous = self._previous
        self.state.current = previous  # atomic for readers; None: unready, not dead
        self._previous = None
        result = ReconcileResult(
            self.clock(),
            Outcome.REJECTED,
            commit=self._tips.get(generation, current.commit),
            version=current.version,
            reason=Reason.WORKER_CRASHED,
            message=f"{current.version} taken out of service: {message}",
        )
        self.state.last_rejection = result
        self.metrics.rejected_candidate(current.version, current.commit, Reason.WORKER_CRASHED)
        if previous is not None:
            self.metrics.served(previous, swap=False)
        else:
            self.metrics.ready.set(0)
        self._crashed.append((result.commit, result))
        back = f"{previous.version} is served again" if previous else "nothing is served"
        self.log(f"reconcile: {result.message}; {back}")

    def _take_crash_reports(self, now: datetime) -> None:
        while self._crashed:
            tip, result = self._crashed.pop(0)
            self._back_off(now, tip)
            self.state.last_rejection = result

    # -- a candidate --------------------------------------------------------------------------
    def _cached(self, pointer: Pointer, commit: str) -> Path:
        """The verified model file in the cache, fetched by hash when absent or damaged."""
        from mlgate.errors import RemoteError

        sha = pointer.model.sha256
        path = self.models / f"{sha}.skops"
        if path.is_file():
            if path.stat().st_size == pointer.model.size and sha256_file(path) == sha:
                return path
            path.unlink()  # damaged on disk: fetch it again
        self.models.mkdir(parents=True, exist_ok=True)
        try:
            self.source.fetch_model(pointer, commit, path)
        except RemoteError as exc:
            raise Rejected(classify_remote_error(exc), str(exc)) from exc
        except MlgateError as exc:
            raise Rejected(Reason.REMOTE_ERROR, str(exc)) from exc
        return path

    def _columns(self, pointer: Pointer) -> tuple[Mapping[str, Any] | None, str]:
        """``Schema.columns`` of ``data/schema.yaml`` at the released commit, if it has one."""
        from mlgate.serve.source import SCHEMA_PATH

        source = f"{pointer.commit[:12]}:{SCHEMA_PATH}"
        try:
            data = self.source.read(pointer.commit, SCHEMA_PATH)
        except MlgateError as exc:
            raise Rejected(Reason.SCHEMA_ERROR, str(exc)) from exc
        if data is None:
            return None, f"model features (no {SCHEMA_PATH} at {pointer.commit[:12]})"
        from mlgate.data.schema import load_schema
        from mlgate.fileio import write_bytes

        path = self.schemas / f"{pointer.commit}.yaml"
        write_bytes(path, data)
        try:
            columns: Mapping[str, Any] = load_schema(path).columns
        except MlgateError as exc:
            raise Rejected(Reason.SCHEMA_ERROR, f"{source}: {exc}") from exc
        return columns, source

    def _trusted(self, pointer: Pointer) -> tuple[str, ...]:
        """The project's own additions to the allow-list, at the released commit."""
        from mlgate.ml.model import TRUSTED_TYPES_FILE, parse_trusted_types

        try:
            data = self.source.read(pointer.commit, TRUSTED_TYPES_FILE)
        except MlgateError as exc:
            raise Rejected(Reason.UNTRUSTED_TYPE, str(exc)) from exc
        if data is None:
            return ()
        source = f"{pointer.commit[:12]}:{TRUSTED_TYPES_FILE}"
        try:
            return parse_trusted_types(data.decode("utf-8"), source)
        except UnicodeDecodeError as exc:
            raise Rejected(Reason.UNTRUSTED_TYPE, f"{source}: not UTF-8 text") from exc
        except MlgateError as exc:
            raise Rejected(Reason.UNTRUSTED_TYPE, str(exc)) from exc

    def _probe(
        self, path: Path, sha256: str, canary: dict[str, Any], trusted: tuple[str, ...] = ()
    ) -> ProbeResult:
        """Probe in a child, unless these exact bytes passed this exact probe before.

        A rollback brings back a model that was probed when it was first served: the same
        verified bytes, the same canary and the same library versions give the same result,
        so the recorded one is reused (``<sha256>.probed`` in the cache) and the swap does not
        wait for a child to import scikit-learn.
        """
        from mlgate.fileio import loads_json, write_json

        key = hashlib.sha256(
            json.dumps([sha256, canary, _fingerprint(), list(trusted)], sort_keys=True).encode()
        ).hexdigest()
        marker = self.models / f"{sha256}.probed"
        known: dict[str, Any] = {}
        if marker.is_file():
            with contextlib.suppress(MlgateError, OSError):
                known = dict(loads_json(marker.read_bytes(), str(marker)))
        if key in known:
            entry = known[key]
            return ProbeResult(
                True, features=tuple(entry["features"]), classes=tuple(entry["classes"])
            )
        result = self.prober.probe(str(path), sha256, canary, trusted)
        if not result.ok:
            raise Rejected(result.reason or Reason.PROBE_CRASHED, result.message)
        known[key] = {"features": list(result.features), "classes": list(result.classes)}
        write_json(marker, known)
        return result

    def _load(self, pointer: Pointer, commit: str) -> Served:
        mark = time.monotonic()
        path = self._cached(pointer, commit)
        mark = self._step("fetch", mark)
        columns, schema_source = self._columns(pointer)
        trusted = self._trusted(pointer)
        mark = self._step("schema", mark)
        result = self._probe(path, pointer.model.sha256, canary_values(columns), trusted)
        mark = self._step("probe", mark)
        schema: RequestSchema
        try:
            if columns is None:
                schema = from_features(result.features, source=schema_source)
            else:
                schema = from_schema_columns(result.features, columns, source=schema_source)
        except ValueError as exc:
            raise Rejected(Reason.SCHEMA_ERROR, str(exc)) from exc
        try:
            if self.pool is not None:
                return self._load_in_workers(pointer, path, trusted, schema, result)
            return self._load_here(pointer, path, trusted, schema, result)
        finally:
            self._step("load", mark)

    def _load_in_workers(
        self,
        pointer: Pointer,
        path: Path,
        trusted: tuple[str, ...],
        schema: RequestSchema,
        result: ProbeResult,
    ) -> Served:
        """Every worker loads it (verifying the bytes) before anything is swapped."""
        assert self.pool is not None
        generation = self.pool.next_generation()
        loaded = self.pool.load(
            generation,
            path=str(path),
            sha256=pointer.model.sha256,
            trusted=trusted,
            features=schema.names,
            numeric=schema.numeric,
            keep=sorted(self._kept()),
        )
        if not loaded.ok:
            raise Rejected(loaded.reason or Reason.LOAD_ERROR, f"workers: {loaded.message}")
        # a worker turns the matrix into a frame if need be
        return self._served(pointer, None, schema, result, schema.numeric, generation)

    def _load_here(
        self,
        pointer: Pointer,
        path: Path,
        trusted: tuple[str, ...],
        schema: RequestSchema,
        result: ProbeResult,
    ) -> Served:
        """In this process (``--workers 0``)."""
        from mlgate.ml.model import loads
        from mlgate.serve.fast import array_ready

        data = path.read_bytes()  # the exact bytes we deserialize are the ones we verify
        if hashlib.sha256(data).hexdigest() != pointer.model.sha256:
            raise Rejected(Reason.HASH_MISMATCH, f"{path}: changed after the probe")
        try:
            model = loads(
                data, f"{pointer.version} ({pointer.model.sha256[:12]})", extra_trusted=trusted
            )
        except MlgateError as exc:
            raise Rejected(load_error_reason(exc), str(exc)) from exc
        takes_array = schema.numeric and array_ready(model, schema.names)
        return self._served(pointer, model, schema, result, takes_array, None)

    def _served(
        self,
        pointer: Pointer,
        model: Any,
        schema: RequestSchema,
        result: ProbeResult,
        takes_array: bool,
        generation: int | None,
    ) -> Served:
        return Served(
            version=pointer.version,
            commit=pointer.commit,
            sha256=pointer.model.sha256,
            loaded_at=self.clock(),
            model=model,
            schema=schema,
            classes=result.classes,
            takes_array=takes_array,
            generation=generation,
        )


class ReconcileLoop(threading.Thread):
    """Calls :meth:`Reconciler.reconcile` every ``interval`` seconds and on :meth:`wake`.

    Passes start ``interval`` seconds apart, however long each took (a pass that loads a
    model, or waits for a replica sharing the cache dir, does not push the next one back),
    so a release pushed at any moment is seen by the pass starting within ``interval``
    seconds; after a pass longer than that, the next one starts after a tenth of it.
    """

    def __init__(
        self,
        reconciler: Reconciler,
        interval: float,
        *,
        after_first: Callable[[], None] | None = None,
    ) -> None:
        super().__init__(name="mlgate-reconcile", daemon=True)
        self.reconciler = reconciler
        self.interval = interval
        self.after_first = after_first
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._force = False

    def run(self) -> None:
        while not self._stop.is_set():
            force, self._force = self._force, False
            self._wake.clear()
            started = time.monotonic()
            try:
                self.reconciler.reconcile(force=force)
            except Exception as exc:  # a bug must not stop reconciling; it shows in the log
                self.reconciler.log(f"reconcile: internal error {type(exc).__name__}: {exc}")
            if self.after_first is not None:
                self.after_first()
                self.after_first = None
            took = time.monotonic() - started
            self._wake.wait(max(self.interval / 10, self.interval - took))

    def wake(self, *, force: bool = True) -> None:
        """Reconcile now (from a SIGHUP handler); ``force`` skips the backoff."""
        self._force = self._force or force
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
