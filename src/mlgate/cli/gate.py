"""``mlgate gate [BASELINE [CANDIDATE]] [--json] [--junit PATH] [--openmetrics PATH]``: exit 0
pass, 1 fail, 2 input error."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.gate import GateResult

HELP = "evaluate the gate policy (params.yaml: gate) on a candidate (the working tree) against a baseline"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model, add_revisions

    add_revisions(parser)
    add_model(parser)
    parser.add_argument(
        "--json", action="store_true", help="the versioned verdict object (schema_version 1)"
    )
    parser.add_argument(
        "--junit",
        metavar="PATH",
        help="also write the checks as a JUnit XML report (one test case per check; GitLab: "
        "artifacts:reports:junit)",
    )
    parser.add_argument(
        "--openmetrics",
        metavar="PATH",
        help="also write the metrics as OpenMetrics text (GitLab: artifacts:reports:metrics)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.baseline import resolve_baseline
    from mlgate.ci import actions, gitlab_log
    from mlgate.fileio import dumps_json
    from mlgate.gate import evaluate_revisions
    from mlgate.git import WORKTREE, Repo

    repo = Repo.discover()
    baseline: str = args.baseline or resolve_baseline(repo)
    result = evaluate_revisions(
        repo, baseline=baseline, candidate=args.candidate or WORKTREE, model=args.model
    )
    if args.json:
        sys.stdout.write(dumps_json(result.to_json()))
    else:
        from mlgate.report.terminal import print_gate

        print_gate(result)
    _write_reports(args, result)
    if actions.in_actions():
        from mlgate.report.markdown import gate_markdown

        actions.append_step_summary(gate_markdown(result))
        actions.set_outputs({"verdict": result.verdict})
        # keep stdout pure JSON with --json; the runner reads workflow commands on both streams
        stream = sys.stderr if args.json else sys.stdout
        for r in result.rules:
            where = f"{r.metric} [{r.slice}]" if r.slice else r.metric
            if r.status == "fail":
                actions.annotate("error", f"mlgate gate: {where} {r.check}", r.message, stream)
            elif r.status in ("inconclusive", "warn") or r.near_miss:
                actions.annotate("warning", f"mlgate gate: {where} {r.check}", r.message, stream)
    elif gitlab_log.in_gitlab_ci():
        from mlgate.report.markdown import gate_markdown

        stream = sys.stderr if args.json else sys.stdout
        stream.write(gitlab_log.gate_log(result, gate_markdown(result)))
    return 0 if result.passed else 1


def _write_reports(args: argparse.Namespace, result: GateResult) -> None:
    from mlgate.errors import ConfigError
    from mlgate.fileio import write_text
    from mlgate.report.junit import gate_junit
    from mlgate.report.openmetrics import gate_openmetrics

    for option, path, render in (
        ("--junit", args.junit, gate_junit),
        ("--openmetrics", args.openmetrics, gate_openmetrics),
    ):
        if path is None:
            continue
        try:
            write_text(path, render(result))
        except OSError as exc:
            raise ConfigError(
                f"{option} {path}: cannot write ({exc.strerror or exc}); pick a writable path"
            ) from exc
