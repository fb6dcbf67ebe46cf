"""``mlgate demo [DIR]``: the whole CI/CD/CT loop in a sandbox."""

from __future__ import annotations

import argparse

HELP = "run the whole loop (release, PR gate, CT cycles, rollback) in a sandbox folder"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "dir", nargs="?", default="mlgate-demo", help="sandbox folder (default: ./mlgate-demo)"
    )


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from rich.console import Console

    from mlgate.demo.story import run_demo

    run_demo(Path(args.dir), console=Console(highlight=False))
    return 0
