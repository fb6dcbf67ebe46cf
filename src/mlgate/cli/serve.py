"""``mlgate serve``: serve the model that deploy/production.yaml names, and follow it."""

from __future__ import annotations

import argparse

HELP = "serve the released model over HTTP, following deploy/production.yaml in git"


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {text!r}") from None
    if not value > 0 or value != value or value == float("inf"):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _whole(text: str, minimum: int, expected: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
    return value


def _rows(text: str) -> int:
    return _whole(text, 1, "at least 1")


def _count(text: str) -> int:
    return _whole(text, 0, "0 or more")


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port between 1 and 65535, got {text!r}")
    return value


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--repo",
        default=".",
        metavar="PATH_OR_URL",
        help="repository to follow: a local path or a git URL (default: the current one)",
    )
    parser.add_argument(
        "--ref", default=None, metavar="BRANCH", help="branch to follow (default: the default one)"
    )
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="with several models under `artifacts:`, the one to serve (its deploy/NAME/ pointer)",
    )
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, local only)"
    )
    parser.add_argument("--port", type=_port, default=8000, help="port (default: 8000)")
    parser.add_argument(
        "--interval",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="seconds between reconcile passes (default: 30; SIGHUP reconciles at once)",
    )
    parser.add_argument(
        "--cache-dir",
        default=None,
        metavar="DIR",
        help="private clone and model cache (default: ~/.cache/mlgate/serve)",
    )
    parser.add_argument(
        "--max-rows",
        type=_rows,
        default=1000,
        metavar="N",
        help="most rows per /predict request; more get 413 (default: 1000)",
    )
    parser.add_argument(
        "--backoff",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="wait before retrying a rejected pointer commit, doubling up to 10 min (default: 30)",
    )
    parser.add_argument(
        "--workers",
        type=_count,
        default=None,
        metavar="N",
        help="inference worker processes (default: one per core; 0: predict in the server "
        "process); a worker that dies is replaced, its requests answered 503",
    )
    parser.add_argument(
        "--max-in-flight",
        type=_rows,
        default=256,
        metavar="N",
        help="prediction requests in progress beyond which the answer is 503 with Retry-After "
        "(default: 256)",
    )
    parser.add_argument(
        "--header-timeout",
        type=_positive,
        default=5.0,
        metavar="SECONDS",
        help="close a connection whose request head takes longer (default: 5)",
    )
    parser.add_argument(
        "--body-timeout",
        type=_positive,
        default=30.0,
        metavar="SECONDS",
        help="answer 408 when a request body takes longer to arrive (default: 30)",
    )
    parser.add_argument(
        "--debug-info",
        action="store_true",
        help="show filesystem paths and URLs in /version and /readyz (hidden by default: "
        "any caller can read them)",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from mlgate.extras import require
    from mlgate.models import pointer_path

    require("serve", command="mlgate serve")  # before the server's imports fail half-way
    _refuse_unservable(args)
    from mlgate.serve.server import ServeOptions, serve

    return serve(
        ServeOptions(
            repo=args.repo,
            ref=args.ref,
            host=args.host,
            port=args.port,
            interval=args.interval,
            cache_dir=Path(args.cache_dir).resolve() if args.cache_dir else None,
            max_rows=args.max_rows,
            backoff=args.backoff,
            pointer=pointer_path(args.model),
            debug_info=args.debug_info,
            model_name=args.model or "model",
            workers=args.workers,
            max_in_flight=args.max_in_flight,
            header_timeout=args.header_timeout,
            body_timeout=args.body_timeout,
        )
    )


def _refuse_unservable(args: argparse.Namespace) -> None:
    """A local repository whose live model is a folder without one .skops file: exit 2 now."""
    from pathlib import Path

    from mlgate.deploy.pointer import check_servable
    from mlgate.git import Repo
    from mlgate.models import pointer_path

    if (Path(args.repo) / ".git").exists():
        check_servable(Repo.find(args.repo), args.ref, pointer_path(args.model))
