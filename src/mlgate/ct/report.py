"""The Markdown report of a CT cycle: the pull request body, the step summary, ``--report``.

Outcome first, then the evidence in the order the cycle produced it: data validation,
monitoring of the live model, the post-deploy check, and the gate report of the candidate
against production (rendered by :mod:`mlgate.report.markdown`, curves included).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlgate.constants import CT_REPORT_MARKER, GITHUB_COMMENT_LIMIT
from mlgate.ct.result import CtOutcome
from mlgate.truncate import truncate_markdown

if TYPE_CHECKING:
    from mlgate.ct.result import CycleResult

MARKER = CT_REPORT_MARKER
HEADLINES = {
    CtOutcome.NO_NEW_DATA: ("⏸️", "no new data"),
    CtOutcome.PENDING: ("⏸️", "a pull request for this batch is already open"),
    CtOutcome.INVALID_DATA: ("❌", "new data failed validation; nothing retrained"),
    CtOutcome.ROLLED_BACK: ("↩️", "the live model lost to its predecessor: rolled back"),
    CtOutcome.REJECTED: ("❌", "the retrained model failed the gate; production unchanged"),
    CtOutcome.DRY_RUN: ("🧪", "dry run: the retrained model passes the gate"),
    CtOutcome.PR_OPENED: ("✅", "the retrained model passes the gate: pull request"),
    CtOutcome.RELEASED: ("🚀", "the retrained model passes the gate: released"),
}


def _code(text: object) -> str:
    from mlgate.report.escape import code

    return code(text)


def _summary(result: CycleResult) -> list[str]:
    rows = [
        ("new batches", ", ".join(_code(b) for b in result.new_batches) or "none"),
        ("training window", _code(result.window)),
    ]
    if result.held_out:
        rows.append(("held-out rows", f"{result.held_out_rows} of {_code(result.held_out)}"))
    rows.append(("production", _code(result.production) if result.production else "none yet"))
    if result.tag:
        rows.append(("released", _code(result.tag)))
    if result.branch:
        rows.append(("branch", _code(result.branch)))
    if result.rollback is not None:
        rb = result.rollback
        rows.append(
            (
                "rollback",
                f"{_code(rb.previous.version)} → {_code(rb.pointer.version)} "
                f"(commit `{rb.rollback_commit[:7]}`)",
            )
        )
    return ["| | |", "|---|---|", *[f"| {k} | {v} |" for k, v in rows]]


def _validation(result: CycleResult) -> list[str]:
    from mlgate.report.validation import markdown_section

    out: list[str] = []
    for check in result.checks:
        section = markdown_section(check.result.to_metrics())
        out.append(
            section.replace("### Data validation", f"### Data validation: {_code(check.name)}", 1)
        )
        if check.overlap:
            out.append(
                f"❌ duplicate `row_id`: {len(check.overlap)} keys of {_code(check.name)} are "
                "already in the training data."
            )
    return out


def _monitoring(result: CycleResult) -> list[str]:
    rec = result.monitoring
    if rec is None:
        return []
    lines = [
        f"### Monitoring: {_code(rec.version)} on {_code(rec.batch)} ({rec.rows} held-out rows)",
        "",
        "| metric | value |",
        "|---|---|",
    ]
    lines += [f"| {_code(k)} | {v:.4f} |" for k, v in rec.metrics.items()]
    lines += ["", "Appended to `metrics/monitoring.json`."]
    return lines


def _post_deploy(result: CycleResult) -> list[str]:
    from mlgate.report.markdown import gate_markdown

    if result.post_deploy is None:
        return []
    head = (
        f"### Post-deploy check: {_code(result.production)} against its predecessor "
        f"{_code(result.predecessor)}"
    )
    return [head, "", gate_markdown(result.post_deploy, heading="####")]


def _gate(result: CycleResult) -> list[str]:
    from mlgate.metrics import Diff
    from mlgate.report.collect import ReportData
    from mlgate.report.curves import curves
    from mlgate.report.markdown import render_report

    if result.gate is None:
        return []
    snaps = result.snapshots
    cand = snaps.candidate if snaps is not None else None
    prod = snaps.production if snaps is not None else None
    drawn = {}
    for side, snap in (("baseline", prod), ("candidate", cand)):
        if snap is not None and snap.predictions is not None:
            c = curves(snap.predictions.y_true, snap.predictions.y_score)
            if c is not None:
                drawn[side] = c
    data = ReportData(
        result=result.gate,
        baseline_metrics=prod.metrics if prod is not None else None,
        candidate_metrics=cand.metrics if cand is not None else {},
        params=Diff({}),
        curves=drawn,
    )
    title = f"### Gate: retrained candidate against {_code(result.production or 'no baseline')}"
    return [title, "", render_report(data, limit=40_000)]


def render_markdown(result: CycleResult) -> str:
    """The whole report, under GitHub's 65,536-character limit."""
    icon, headline = HEADLINES.get(result.outcome, ("ℹ️", result.outcome))
    parts = [
        [MARKER, f"## {icon} mlgate ct: {headline}", "", result.message],
        _summary(result),
        _validation(result),
        _monitoring(result),
        _post_deploy(result),
        _gate(result),
    ]
    text = "\n\n".join("\n".join(p) for p in parts if p) + "\n"
    return truncate_markdown(
        text, GITHUB_COMMENT_LIMIT, "\n\n> **Truncated**: see `mlgate ct --json`.\n"
    )
