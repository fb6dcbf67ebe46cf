"""``mlgate comment FILE [--pr N]``: post the report on the pull request, or update it."""

from __future__ import annotations

import argparse

HELP = "create or update the pull request's mlgate report comment from a Markdown file"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE", help="the Markdown report (`-` for stdin)")
    parser.add_argument(
        "--pr",
        type=int,
        metavar="N",
        help="pull request number (default: from the event in $GITHUB_EVENT_PATH)",
    )


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from mlgate.ci import actions
    from mlgate.ci.github import GitHubClient
    from mlgate.errors import ConfigError, DataError

    environ = os.environ
    body = _read(args.file)
    if not body.strip():
        raise DataError(f"{args.file}: the report is empty; run `mlgate report -o {args.file}`")
    client = GitHubClient.from_env(environ)
    with client:
        pr = args.pr
        if pr is None:
            pr = actions.event_pr_number(environ)
        if pr is None and (sha := actions.event_head_sha(environ)) is not None:
            pr = client.pull_request_for_commit(sha)
        if pr is None or pr < 1:
            raise ConfigError(
                "no pull request number: pass --pr N or run on a pull_request event "
                "($GITHUB_EVENT_PATH)"
            )
        comment = client.upsert_comment(pr, body)
    sys.stdout.write(
        f"{comment.action} comment {comment.id} on {client.repository}#{pr}: {comment.html_url}\n"
    )
    if actions.in_actions(environ):
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
