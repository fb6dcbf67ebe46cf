"""``mlgate pull-model``."""

from __future__ import annotations

import argparse

HELP = "fetch the live model (or --version V) from the DVC remote and verify its sha256"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model

    add_model(parser)
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
    from mlgate.models import pointer_of

    repo = Repo.find()
    dest = pull_model(
        repo,
        version=args.model_version,
        out_dir=Path(args.output),
        remote=args.remote,
        path=pointer_of(repo, args.model)[0],
    )
    sys.stdout.write(f"{dest}\n")
    return 0
