"""``mlgate gh-release TAG``: publish the forge release (GitHub or GitLab) of a released model.

``mlgate publish-release`` is the same command under a forge-neutral name.
"""

from __future__ import annotations

import argparse

HELP = (
    "create the GitHub (or GitLab) release of a released tag; notes: the report against the "
    "model it replaced"
)


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_forge

    parser.add_argument("tag", help="a tag that `mlgate release` has released (v<semver>)")
    parser.add_argument(
        "--notes",
        metavar="FILE",
        help="also write the notes to FILE (`-`: print them and create no release)",
    )
    add_forge(parser)


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

    from mlgate.ci.forge import client_from_env, detect_forge

    forge = detect_forge(override=args.forge)
    with client_from_env(forge) as client:
        published = publish_release(client, args.tag, notes.markdown)
    verb = "created" if published.created else "exists already:"
    name = "GitLab" if forge == "gitlab" else "GitHub"
    sys.stdout.write(f"{name} release {args.tag} {verb} {published.url}\n")
    return 0
