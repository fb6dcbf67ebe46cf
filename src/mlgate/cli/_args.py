"""Arguments that several commands share, declared once."""

from __future__ import annotations

import argparse
from pathlib import Path


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


def add_model(parser: argparse.ArgumentParser) -> None:
    """``--model NAME``: which model under ``artifacts:`` (omitted when there is one)."""
    parser.add_argument(
        "--model",
        metavar="NAME",
        help="the model (an `artifacts:` name in dvc.yaml); needed when there are several",
    )


def add_forge(parser: argparse.ArgumentParser) -> None:
    """``--forge github|gitlab``: which forge to talk to (default: the CI job's own)."""
    parser.add_argument(
        "--forge",
        choices=("github", "gitlab"),
        help="the forge to talk to (default: gitlab when GITLAB_CI=true, else github)",
    )


def project_root() -> Path:
    """The repository's top folder (outside git: the current folder), where the paths in
    params.yaml start, whichever subfolder a command runs in."""
    from mlgate.errors import GitError
    from mlgate.git import Repo

    try:
        return Repo.discover().root
    except GitError:
        return Path.cwd()


def from_root(root: Path, path: str) -> str:
    """``path`` (relative to ``root``) as the current folder names it, for messages."""
    import os

    return os.path.relpath(root / path)
