"""``mlgate release TAG``."""

from __future__ import annotations

import argparse

HELP = "release a v<semver> tag: gate it against production, push its model, commit the pointer"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model, add_push

    parser.add_argument(
        "tag", help="the release tag: v<semver> (the only model) or NAME@v<semver> (model NAME)"
    )
    add_model(parser)
    add_push(parser, what="deploy")


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.deploy.release import release
    from mlgate.deploy.render import gate_failure_lines, pointer_lines
    from mlgate.fileio import dumps_json
    from mlgate.git import Repo

    result = release(
        Repo.find(),
        args.tag,
        remote=args.remote,
        push=args.push,
        git_remote=args.git_remote,
        model=args.model,
    )
    if args.json:
        sys.stdout.write(dumps_json(result.to_json()))
        return result.exit_code
    out = sys.stdout
    if result.outcome == "noop":
        out.write(f"{args.tag} is already live; nothing to do\n")
    elif result.outcome == "gate_failed":
        base = result.previous.version if result.previous else "no baseline"
        out.write(f"gate failed: {args.tag} against {base}; nothing released\n")
        out.write("".join(line + "\n" for line in gate_failure_lines(result.gate)))
    else:
        assert result.pointer is not None and result.deploy_commit is not None
        prev = result.previous.version if result.previous else "nothing"
        out.write(
            f"released {args.tag} (was {prev}): commit {result.deploy_commit[:7]} "
            f"'deploy: {args.tag}'{', pushed' if result.pushed else ''}\n"
        )
        if result.gate is not None:
            base = f"against {prev}" if result.previous else "absolute rules only: no baseline"
            out.write(f"gate passed ({base}): {len(result.gate.rules)} checks\n")
        out.write(f"model in {result.remote_url}\n")
        out.write("".join(f"  {line}\n" for line in pointer_lines(result.pointer)))
    return result.exit_code
