"""``mlgate demo [DIR]``: the whole CI/CD/CT loop in a sandbox."""

from __future__ import annotations

import argparse

HELP = "run the whole loop (release, PR gate, CT cycles, rollback) in a sandbox folder"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", nargs="?", default="mlgate-demo", help="sandbox folder (default: ./mlgate-demo)"
    )
    parser.add_argument(
        "--task",
        choices=("binary", "regression"),
        default="binary",
        help="binary: the classifier's whole loop (the default); regression: a release and "
        "two pull requests gated on rmse, mae and r2",
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from mlgate.demo.story import run_demo

    run_demo(Path(args.dir), console=Console(highlight=False), task=args.task)
    return 0
