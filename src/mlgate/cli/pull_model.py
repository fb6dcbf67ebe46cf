"""``mlgate pull-model``."""

from __future__ import annotations

import argparse

HELP = "fetch the live model (or --version V) from the DVC remote and verify its sha256"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--version", dest="model_version", metavar="V", help="an earlier version")
    parser.add_argument(
        "-o", "--output", default=".", metavar="DIR", help="folder to write the model to (.)"
    )
    parser.add_argument("--remote", metavar="NAME", help="DVC remote (default: DVC's default)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlgate.deploy.pull import pull_model
    from mlgate.git import Repo

    dest = pull_model(
        Repo.find(), version=args.model_version, out_dir=Path(args.output), remote=args.remote
    )
    sys.stdout.write(f"{dest}\n")
    return 0
