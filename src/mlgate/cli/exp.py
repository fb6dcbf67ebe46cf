"""``mlgate exp [BASELINE] [--all-commits] [--json | --md]``."""

from __future__ import annotations

import argparse

HELP = "gate every DVC experiment against its baseline and rank them, best first"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model

    parser.add_argument(
        "baseline", nargs="?", default="HEAD", metavar="BASELINE", help="baseline revision (HEAD)"
    )
    parser.add_argument(
        "--all-commits",
        action="store_true",
        help="experiments run from any commit, each against its own baseline",
    )
    add_model(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="gate verdict objects, in a list")
    fmt.add_argument("--md", action="store_true", help="a Markdown table")


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.experiments import rank_experiments
    from mlgate.git import Repo

    ranking = rank_experiments(
        Repo.discover(), args.baseline, all_commits=args.all_commits, model=args.model
    )
    if args.json:
        from mlgate.fileio import dumps_json

        sys.stdout.write(dumps_json([v.to_json() for v in ranking.verdicts]))
    elif args.md:
        from mlgate.report.experiments import experiments_markdown

        sys.stdout.write(experiments_markdown(ranking))
    else:
        from mlgate.report.experiments import print_experiments

        print_experiments(ranking)
    return 0
