"""``mlgate status``."""

from __future__ import annotations

import argparse

HELP = "what is live now, and whether the workspace model differs from it"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model

    add_model(parser)
    parser.add_argument("--json", action="store_true", help="JSON (schema_version 1)")
    parser.add_argument("--remote", metavar="NAME", help="DVC remote (default: DVC's default)")
    parser.add_argument(
        "--no-remote-check",
        dest="check_remote",
        action="store_false",
        help="do not read the live model back from the DVC remote",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.deploy.status import status
    from mlgate.git import Repo
    from mlgate.models import pointer_of

    repo = Repo.find()
    pointer, model_path = pointer_of(repo, args.model)
    st = status(
        repo,
        model_path=model_path or "(no model declared)",
        path=pointer,
        check_remote=args.check_remote,
        remote=args.remote,
    )
    if args.json:
        from mlgate.fileio import dumps_json

        sys.stdout.write(dumps_json(st.to_json()))
        return 0
    from mlgate.deploy.render import pointer_lines

    out = sys.stdout
    if st.live is None:
        out.write(f"nothing is live: no {pointer} yet (`mlgate release vX.Y.Z`)\n")
    else:
        where = {True: "pushed", False: "not pushed yet", None: "no origin"}[st.published]
        out.write(
            f"live: {st.live.version} (pointer commit {(st.change_commit or '')[:7]}, {where})\n"
        )
        out.write("".join(f"  {line}\n" for line in pointer_lines(st.live)))
        if st.remote_matches is not None:
            verdict = (
                "the live model " + st.remote_detail if st.remote_matches else st.remote_detail
            )
            out.write(f"remote: {verdict}\n")
    if st.pointer_modified:
        out.write(f"{pointer} has uncommitted changes\n")
    if st.workspace_sha256 is None:
        out.write(f"workspace: no {st.model_path} (run `dvc repro` or `dvc pull`)\n")
    elif st.workspace_differs:
        out.write(
            f"workspace: {st.model_path} differs from the live model (sha256 {st.workspace_sha256[:12]})\n"
        )
    elif st.live is not None:
        out.write(f"workspace: {st.model_path} is the live model\n")
    else:
        out.write(f"workspace: {st.model_path} sha256 {st.workspace_sha256[:12]}\n")
    return 0
