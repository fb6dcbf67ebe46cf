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
from typing import Any

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


def serve(
    options: ServeOptions,
    *,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    log: Callable[[str], None] = _stderr_log,
) -> int:
    """Serve until SIGTERM/SIGINT; returns the exit code (0 after a clean drain)."""
    environ = os.environ if environ is None else environ
    cwd = Path.cwd() if cwd is None else cwd
    from mlgate.errors import ConfigError
    from mlgate.git import Repo
    from mlgate.serve.isolation import Prober, import_model_libraries
    from mlgate.serve.source import RepoSource, normalise_url

    url = normalise_url(options.repo, cwd)
    if url.startswith("/"):
        if not Path(url).exists():
            raise ConfigError(
                f"--repo {options.repo}: no such folder; pass a local repository or a git URL"
            )
        if not Path(url, "HEAD").is_file():  # not a bare repository: find its top level
            url = str(Repo.find(url, env=environ).root)
    cache = options.cache_dir or default_cache_dir(environ)
    try:
        cache.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # serve anyway: unready, and retried every pass (a late mount)
        log(
            f"cache dir {cache}: {exc.strerror or exc}; pass --cache-dir a writable folder "
            "(not ready until it is usable; /readyz says why)"
        )

    # Start-up is CPU-bound: importing scikit-learn and skops is most of it. They are imported
    # once, here, and the probe host is forked from this process while it is still one
    # thread with no socket open, so probes share these imports instead of paying for them
    # again in a second interpreter (see mlgate.serve.isolation). Where forking is not
    # safe, a fresh host starts now on a cold cache (its imports overlap the first fetch);
    # a restart with a warm cache reuses recorded probe verdicts and starts one afterwards.
    import_model_libraries()
    prober = Prober(env=environ)
    if not prober.fork_host() and not any((cache / "models").glob("*.probed")):
        prober.warm()

    from mlgate.serve.metrics import ServeMetrics
    from mlgate.serve.reconcile import ReconcileLoop, Reconciler
    from mlgate.serve.state import ServingState

    state = ServingState()
    metrics = ServeMetrics()
    reconciler = Reconciler(
        source=RepoSource(url=url, ref=options.ref, cache_dir=cache, env=environ),
        state=state,
        metrics=metrics,
        prober=prober,
        cache_dir=cache,
        base_backoff=options.backoff,
        log=log,
        pointer=options.pointer,
    )
    loop = ReconcileLoop(reconciler, options.interval, after_first=prober.warm)

    def on_hup(_sig: int, _frame: Any) -> None:
        loop.wake(force=True)

    hup = signal.signal(signal.SIGHUP, on_hup)
    loop.start()

    import uvicorn

    from mlgate.serve.app import create_app

    app = create_app(
        state=state,
        metrics=metrics,
        max_rows=options.max_rows,
        debug_info=options.debug_info,
        model_name=options.model_name,
    )
    config = uvicorn.Config(
        app,
        host=options.host,
        port=options.port,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_graceful_shutdown=int(options.drain_timeout),
    )
    server = uvicorn.Server(config)

    def after_drain(_sig: int, _frame: Any) -> None:
        # uvicorn re-raises the signal that stopped it once it has drained; by then the
        # work is done, so the process just returns 0 instead of dying of the signal.
        pass

    previous = {signal.SIGHUP: hup, signal.SIGTERM: signal.signal(signal.SIGTERM, after_drain)}
    log(
        f"pid {os.getpid()} (`kill -HUP {os.getpid()}` reconciles now); "
        f"following {url} ({options.ref or 'default branch'}) every {options.interval:g} s; "
        f"listening on http://{options.host}:{options.port}"
    )
    try:
        server.run()
    except SystemExit:  # uvicorn exits 1 when it cannot bind
        server.started = False
    finally:
        loop.stop()
        prober.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if not server.started:
        log(f"could not listen on {options.host}:{options.port}")
        return 2
    log("stopped after draining requests")
    return 0
