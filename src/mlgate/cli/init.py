"""``mlgate init [--force]``: scaffold the GitHub Actions workflows, a gate policy, deploy/."""

from __future__ import annotations

import argparse

HELP = "write the GitHub Actions workflows, a default gate policy and deploy/ into this repository"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite workflow files that differ from mlgate's version",
    )
    parser.add_argument(
        "-C",
        dest="directory",
        default=".",
        metavar="DIR",
        help="run in DIR instead of the current folder",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.scaffold import init_project

    result = init_project(args.directory, force=args.force)
    out = sys.stdout
    width = max(len(f.action) for f in result.files)
    for item in result.files:
        note = f"  ({item.note})" if item.note else ""
        out.write(f"{item.action:<{width}}  {item.path}{note}\n")
    for warning in result.warnings:
        sys.stderr.write(f"mlgate: warning: {warning}\n")
    out.write(
        "next: commit these files, create a `production` environment in the repository's "
        "settings (Settings > Environments) and push a pull request\n"
    )
    return 0
