"""``mlgate history``."""

from __future__ import annotations

import argparse

HELP = "deployment history from the git log of the pointer, newest first"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model

    add_model(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="JSON (schema_version 1)")
    fmt.add_argument("--md", action="store_true", help="a Markdown table")


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from mlgate.deploy.history import history, history_json
    from mlgate.git import Repo
    from mlgate.models import pointer_of

    repo = Repo.find()
    entries = history(repo, path=pointer_of(repo, args.model)[0])
    if args.json:
        from mlgate.fileio import dumps_json

        sys.stdout.write(dumps_json(history_json(entries)))
        return 0
    if args.md:
        from mlgate.deploy.render import history_markdown

        sys.stdout.write(history_markdown(entries))
        return 0
    from rich import box
    from rich.console import Console
    from rich.table import Table

    from mlgate.deploy.render import history_rows

    # piped output has no width limit (rich would assume 80 columns)
    console = Console(width=None if sys.stdout.isatty() or "COLUMNS" in os.environ else 160)
    if not entries:
        console.print("No deployments yet: `mlgate release vX.Y.Z` makes the first.")
        return 0
    header, rows = history_rows(entries, metrics=3 if console.width >= 100 else 1, sha_chars=8)
    table = Table(
        title="Deployment history (newest first)",
        box=box.SIMPLE_HEAD,
        collapse_padding=True,
        pad_edge=False,
    )
    for i, name in enumerate(header):
        table.add_column(name, justify="right" if i >= 6 else "left", no_wrap=True)
    styles = {"deploy": "green", "rollback": "yellow"}
    for row, entry in zip(rows, entries, strict=True):
        table.add_row(*row, style=styles.get(entry.kind))
    console.print(table)
    return 0
