"""Run the server: uvicorn in the main thread, the reconcile loop in a second one.

Signals: SIGHUP reconciles now (skipping any backoff); SIGTERM and SIGINT make uvicorn stop
accepting connections, finish in-flight requests and return, and ``serve`` returns 0.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlgate.serve.isolation import Prober
    from mlgate.serve.metrics import ServeMetrics
    from mlgate.serve.reconcile import ReconcileLoop
    from mlgate.serve.state import ServingState
    from mlgate.serve.workers import WorkerPool

Log = Callable[[str], None]

DEFAULT_INTERVAL = 30.0
DEFAULT_MAX_ROWS = 1000


@dataclass(frozen=True)
class ServeOptions:
    """Everything ``mlgate serve`` needs (the CLI fills it from its flags)."""

    repo: str
    ref: str | None
    host: str = "127.0.0.1"
    port: int = 8000
    interval: float = DEFAULT_INTERVAL
    cache_dir: Path | None = None
    max_rows: int = DEFAULT_MAX_ROWS
    backoff: float = 30.0
    drain_timeout: float = 30.0
    pointer: str = "deploy/production.yaml"  # a model's pointer (several models: --model)
    debug_info: bool = False  # filesystem paths and URLs in /version and /readyz messages
    model_name: str = "model"  # the model's name in /v2/models/{name} (--model NAME, or "model")
    workers: int | None = None  # inference worker processes (None: one per core; 0: none)
    max_in_flight: int = 256  # requests in progress beyond which /predict answers 503
    header_timeout: float = 5.0  # seconds for a request's headers (and idle keep-alive)
    body_timeout: float = 30.0  # seconds between two chunks of a request body


def default_cache_dir(environ: Mapping[str, str]) -> Path:
    """``$XDG_CACHE_HOME/mlgate/serve``, else ``~/.cache/mlgate/serve``."""
    base = environ.get("XDG_CACHE_HOME") or os.path.join(
        environ.get("HOME") or os.path.expanduser("~"), ".cache"
    )
    return Path(base) / "mlgate" / "serve"


def _stderr_log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    sys.stderr.write(f"{stamp} mlgate serve: {message}\n")
    sys.stderr.flush()


def _repo_url(options: ServeOptions, environ: Mapping[str, str], cwd: Path) -> str:
    """The repository to follow: a URL unchanged, a local path as its top level (or bare)."""
    from mlgate.errors import ConfigError
    from mlgate.git import Repo
    from mlgate.serve.source import normalise_url

    url = normalise_url(options.repo, cwd)
    if url.startswith("/"):
        if not Path(url).exists():
            raise ConfigError(
                f"--repo {options.repo}: no such folder; pass a local repository or a git URL"
            )
        if not Path(url, "HEAD").is_file():  # not a bare repository: find its top level
            url = str(Repo.find(url, env=environ).root)
    return url


def _prepare_cache(options: ServeOptions, environ: Mapping[str, str], log: Log) -> Path:
    cache = options.cache_dir or default_cache_dir(environ)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # serve anyway: unready, and retried every pass (a late mount)
        log(
            f"cache dir {cache}: {exc.strerror or exc}; pass --cache-dir a writable folder "
            "(not ready until it is usable; /readyz says why)"
        )
    return cache


@dataclass
class _Processes:
    """The probe host and the inference workers, forked before any thread exists."""

    prober: Prober
    pool: WorkerPool | None

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
        self.prober.close()


def _fork_helpers(
    options: ServeOptions, cache: Path, environ: Mapping[str, str], log: Log
) -> _Processes:
    """Import the model libraries, then fork the probe host and the worker host.

    Start-up is CPU-bound: importing scikit-learn and skops is most of it. They are imported
    once, here, and both hosts are forked from this process while it is still one thread
    with no socket open, so probes and inference workers share these imports instead of
    paying for them again in a second interpreter (see mlgate.serve.isolation). Where
    forking is not safe, a fresh probe host starts now on a cold cache (its imports overlap
    the first fetch), and inference stays in this process (as with ``--workers 0``).
    """
    from mlgate.serve.isolation import Prober, import_model_libraries
    from mlgate.serve.workers import WorkerPool, default_workers

    import_model_libraries()
    prober = Prober(env=environ)
    forked = prober.fork_host()
    if not forked and not any((cache / "models").glob("*.probed")):
        prober.warm()
    count = default_workers() if options.workers is None else options.workers
    pool = None
    if forked and count > 0:
        pool = WorkerPool(count, log=log)
        pool.start(close_fds=prober.host_fds())
    elif count > 0:
        log("inference runs in the server process: worker processes need Linux (fork)")
    return _Processes(prober, pool)


def _reconcile_loop(
    options: ServeOptions,
    url: str,
    cache: Path,
    environ: Mapping[str, str],
    helpers: _Processes,
    state: ServingState,
    metrics: ServeMetrics,
    log: Log,
) -> ReconcileLoop:
    from mlgate.serve.reconcile import ReconcileLoop, Reconciler
    from mlgate.serve.source import RepoSource

    reconciler = Reconciler(
        source=RepoSource(url=url, ref=options.ref, cache_dir=cache, env=environ),
        state=state,
        metrics=metrics,
        prober=helpers.prober,
        cache_dir=cache,
        base_backoff=options.backoff,
        log=log,
        pointer=options.pointer,
        pool=helpers.pool,
    )
    loop = ReconcileLoop(reconciler, options.interval, after_first=helpers.prober.warm)
    if helpers.pool is not None:
        pool = helpers.pool
        pool.metrics = metrics

        def crashed(generation: int, message: str) -> None:
            reconciler.model_crashed(generation, message)
            loop.wake(force=False)

        pool.on_crashes = crashed
    return loop


def _uvicorn(
    options: ServeOptions, state: ServingState, metrics: ServeMetrics, pool: WorkerPool | None
) -> Any:
    import uvicorn

    from mlgate.serve.app import create_app
    from mlgate.serve.http import with_header_timeout

    app = create_app(
        state=state,
        metrics=metrics,
        max_rows=options.max_rows,
        debug_info=options.debug_info,
        model_name=options.model_name,
        pool=pool,
        max_in_flight=options.max_in_flight,
        body_timeout=options.body_timeout,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(options.drain_timeout),
        http=with_header_timeout(options.header_timeout),
        timeout_keep_alive=int(max(1, options.header_timeout)),
        h11_max_incomplete_event_size=64 * 1024,
    )
    return uvicorn.Server(config)


def serve(
    options: ServeOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Log = _stderr_log,
) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code (0 after a clean drain)."""
    environ = os.environ if environ is None else environ
    url = _repo_url(options, environ, Path.cwd() if cwd is None else cwd)
    cache = _prepare_cache(options, environ, log)
    helpers = _fork_helpers(options, cache, environ, log)

    from mlgate.serve.metrics import ServeMetrics
    from mlgate.serve.state import ServingState

    state, metrics = ServingState(), ServeMetrics()
    loop = _reconcile_loop(options, url, cache, environ, helpers, state, metrics, log)
    if helpers.pool is not None:
        helpers.pool.listen()
    hup = signal.signal(signal.SIGHUP, lambda _sig, _frame: loop.wake(force=True))
    loop.start()
    server = _uvicorn(options, state, metrics, helpers.pool)
    # uvicorn re-raises the signal that stopped it once it has drained; by then the work is
    # done, so the process just returns 0 instead of dying of the signal.
    previous = {signal.SIGHUP: hup, signal.SIGTERM: signal.signal(signal.SIGTERM, _ignore)}
    workers = helpers.pool.count if helpers.pool is not None else 0
    log(
        f"pid {os.getpid()} (`kill -HUP {os.getpid()}` reconciles now); "
        f"following {url} ({options.ref or 'default branch'}) every {options.interval:g} s; "
        f"{workers or 'no'} inference worker{'' if workers == 1 else 's'}; "
        f"listening on http://{options.host}:{options.port}"
    )
    try:
        server.run()
    except SystemExit:  # uvicorn exits 1 when it cannot bind
        server.started = False
    finally:
        loop.stop()
        helpers.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        log(f"could not listen on {options.host}:{options.port}")
        return 2
    log("stopped after draining requests")
    return 0


def _ignore(_sig: int, _frame: Any) -> None:
    pass
