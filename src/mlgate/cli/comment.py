"""``mlgate comment FILE [--pr N] [--forge F]``: post the report on the pull (merge) request,
or update it."""

from __future__ import annotations

import argparse

HELP = (
    "create or update the mlgate report comment of a pull request (a GitLab merge request "
    "note) from a Markdown file"
)


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_forge

    parser.add_argument("file", metavar="FILE", help="the Markdown report (`-` for stdin)")
    parser.add_argument(
        "--pr",
        type=int,
        metavar="N",
        help="pull request number or merge request iid (default: from $GITHUB_EVENT_PATH "
        "or $CI_MERGE_REQUEST_IID)",
    )
    add_forge(parser)


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from mlgate.ci import actions
    from mlgate.ci.forge import change_request_number, client_from_env, detect_forge
    from mlgate.errors import ConfigError, DataError

    environ = os.environ
    body = _read(args.file)
    if not body.strip():
        raise DataError(f"{args.file}: the report is empty; run `mlgate report -o {args.file}`")
    forge = detect_forge(environ, args.forge)
    client = client_from_env(forge, environ)
    with client:
        pr = args.pr
        if pr is None:
            pr = change_request_number(forge, client, environ)
        if pr is None or pr < 1:
            raise ConfigError(
                "no pull request number: pass --pr N or run on a pull_request event "
                "($GITHUB_EVENT_PATH) or in a merge request pipeline ($CI_MERGE_REQUEST_IID)"
            )
        comment = client.upsert_comment(pr, body)
    sys.stdout.write(
        f"{comment.action} comment {comment.id} on {client.reference(pr)}: {comment.html_url}\n"
    )
    if forge == "github" and actions.in_actions(environ):
        actions.set_outputs({"comment-id": comment.id, "comment-url": comment.html_url}, environ)
    return 0


def _read(file: str) -> str:
    import sys

    from mlgate.errors import DataError

    try:
        if file == "-":
            return sys.stdin.read()
        with open(file, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise DataError(f"{file}: file not found; write it with `mlgate report -o {file}`") from exc
    except UnicodeDecodeError as exc:
        raise DataError(f"{file}: not UTF-8 text ({exc.reason})") from exc
    except OSError as exc:
        raise DataError(f"{file}: cannot read ({exc.strerror})") from exc
