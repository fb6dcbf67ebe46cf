"""``mlgate gh-release TAG``: publish the GitHub release of a released model."""

from __future__ import annotations

import argparse

HELP = (
    "create the GitHub release of a released tag; notes: the report against the model it replaced"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("tag", help="a tag that `mlgate release` has released (v<semver>)")
    parser.add_argument(
        "--notes",
        metavar="FILE",
        help="also write the notes to FILE (`-`: print them and create no release)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.fileio import write_text
    from mlgate.ghrelease import publish_release, release_notes
    from mlgate.git import Repo

    notes = release_notes(Repo.find(), args.tag)
    if args.notes == "-":
        sys.stdout.write(notes.markdown)
        return 0
    if args.notes:
        write_text(args.notes, notes.markdown)

    from mlgate.ci.github import GitHubClient

    with GitHubClient.from_env() as client:
        published = publish_release(client, args.tag, notes.markdown)
    verb = "created" if published.created else "exists already:"
    sys.stdout.write(f"GitHub release {args.tag} {verb} {published.url}\n")
    return 0
