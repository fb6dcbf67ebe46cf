"""``mlgate ct``: one continuous-training cycle."""

from __future__ import annotations

import argparse

HELP = "continuous training: validate new batches, monitor, retrain, gate, then PR or release"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--mode", choices=("pr", "release"), help="what a passing cycle does (default: ct.mode)"
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="no commit, push, pull request or release"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--report", metavar="FILE", help="also write the Markdown report here")
    parser.add_argument(
        "--git-remote", default="origin", metavar="NAME", help="git remote to push to (origin)"
    )
    from mlgate.cli._args import add_forge

    add_forge(parser)


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.ct.cycle import run_cycle
    from mlgate.ct.result import CtOutcome
    from mlgate.git import Repo

    console = None
    if not args.json:
        from rich.console import Console
        from rich.markup import escape

        console = Console(stderr=False, highlight=False)

    def log(line: str) -> None:
        if console is not None:
            console.print(f"[dim]ct:[/dim] {escape(line)}", markup=True, soft_wrap=True)

    from mlgate.ci.forge import client_from_env, detect_forge

    forge = detect_forge(override=args.forge)
    result = run_cycle(
        Repo.find(),
        mode=args.mode,
        dry_run=args.dry_run,
        log=log,
        git_remote=args.git_remote,
        github=lambda: client_from_env(forge),
    )
    if args.report:
        from mlgate.fileio import write_text

        write_text(args.report, result.report)
    _actions(result, annotations=not args.json)  # workflow commands go to stdout
    if args.json:
        from mlgate.fileio import dumps_json

        sys.stdout.write(dumps_json(result.to_json()))
        return result.exit_code
    assert console is not None
    if result.gate is not None and result.outcome != CtOutcome.NO_NEW_DATA:
        from mlgate.report.terminal import print_gate

        print_gate(result.gate)  # as `mlgate gate` prints it: a table, plain text into a pipe
    style = "red" if result.exit_code else "green"
    label = result.outcome.replace("_", " ")
    if result.dry_run and result.outcome != CtOutcome.DRY_RUN:
        label += " (dry run)"
    console.print(f"[bold {style}]{label}[/]: {escape(result.message)}", soft_wrap=True)
    return result.exit_code


def _actions(result: object, *, annotations: bool) -> None:
    """In GitHub Actions: the report in the step summary, outputs, annotations."""
    from mlgate.ci.actions import annotate, append_step_summary, in_actions, set_outputs
    from mlgate.ct.result import FAILING, CtOutcome, CycleResult

    assert isinstance(result, CycleResult)
    if not in_actions():
        return
    append_step_summary(result.report)
    pr = result.pull_request or {}
    set_outputs(
        {
            "outcome": result.outcome.value,
            "tag": result.tag or "",
            "branch": result.branch or "",
            "pr": str(pr.get("number") or ""),
        }
    )
    if not annotations:
        return
    if result.outcome in FAILING:
        annotate("error", f"mlgate ct: {result.outcome}", result.message)
    elif result.outcome == CtOutcome.ROLLED_BACK:
        annotate("warning", "mlgate ct: rolled back", result.message)
