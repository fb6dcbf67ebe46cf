"""``mlgate report [BASELINE [CANDIDATE]] [-o FILE]``: the Markdown report for a pull request."""

from __future__ import annotations

import argparse

HELP = "write the Markdown PR report: verdict, metrics, params, slices, validation, curves"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model, add_revisions

    add_revisions(parser)
    add_model(parser)
    parser.add_argument(
        "-o", "--output", metavar="FILE", help="write the report to FILE (default: stdout)"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.baseline import resolve_baseline
    from mlgate.ci import actions
    from mlgate.fileio import write_text
    from mlgate.gate.collect import collect
    from mlgate.git import WORKTREE, Repo
    from mlgate.report.markdown import render_report

    repo = Repo.discover()
    baseline: str = args.baseline or resolve_baseline(repo)
    data = collect(repo, baseline=baseline, candidate=args.candidate or WORKTREE, model=args.model)
    markdown = render_report(data, marker=True)
    if args.output:
        write_text(args.output, markdown)
    else:
        sys.stdout.write(markdown)
    if actions.in_actions():
        actions.append_step_summary(markdown)
        outputs = {"verdict": data.result.verdict}
        if args.output:
            outputs["report"] = args.output
        actions.set_outputs(outputs)
    return 0
