"""``mlgate rollback``."""

from __future__ import annotations

import argparse

HELP = "roll production back: git revert of the newest deploy still in effect (or to --to VERSION)"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_push

    parser.add_argument("--to", metavar="VERSION", help="roll back to this earlier version")
    from mlgate.cli._args import add_model

    add_model(parser)
    add_push(parser, what="rollback")


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.deploy.rollback import rollback
    from mlgate.fileio import dumps_json
    from mlgate.git import Repo
    from mlgate.models import pointer_of

    repo = Repo.find()
    pointer, _ = pointer_of(repo, args.model)
    result = rollback(
        repo,
        to=args.to,
        push=args.push,
        remote=args.remote,
        git_remote=args.git_remote,
        path=pointer,
    )
    if args.json:
        sys.stdout.write(dumps_json(result.to_json()))
    else:
        sys.stdout.write(
            f"rolled back {result.previous.version} -> {result.pointer.version}: commit "
            f"{result.rollback_commit[:7]} reverts {', '.join(c[:7] for c in result.reverted)}"
            f"{', pushed' if result.pushed else ''}\n"
        )
    return 0
