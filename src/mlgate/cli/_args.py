"""Arguments that several commands share, declared once."""

from __future__ import annotations

import argparse


def add_baseline(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "baseline",
        nargs="?",
        metavar="BASELINE",
        help="baseline revision (default: merge-base with the PR base or the default branch)",
    )


def add_revisions(parser: argparse.ArgumentParser) -> None:
    """``[BASELINE [CANDIDATE]]``, as ``diff``, ``gate`` and ``report`` take them."""
    add_baseline(parser)
    parser.add_argument(
        "candidate",
        nargs="?",
        metavar="CANDIDATE",
        help="candidate revision (default: the working tree)",
    )


def add_push(parser: argparse.ArgumentParser, *, what: str) -> None:
    """``--remote`` (DVC), ``--push`` and ``--git-remote``, ``--json`` for release and rollback."""
    parser.add_argument("--remote", metavar="NAME", help="DVC remote (default: DVC's default)")
    parser.add_argument(
        "--push", action="store_true", help=f"push the {what} commit to the git remote"
    )
    parser.add_argument(
        "--git-remote", default="origin", metavar="NAME", help="git remote for --push (origin)"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
