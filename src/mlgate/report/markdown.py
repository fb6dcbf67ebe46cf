"""Markdown for GitHub: the PR report, the gate summary and the diff tables.

Verdict first, then the evidence. Names from the PR are escaped (:mod:`.escape`); the report
stays under GitHub's 65,536-character comment limit by dropping the least important
sections first, with a note saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from mlgate.constants import GITHUB_COMMENT_LIMIT, REPORT_MARKER
from mlgate.metrics.diff import change_direction, infer_direction
from mlgate.report.escape import code, text
from mlgate.truncate import truncate_markdown

if TYPE_CHECKING:
    from mlgate.gate import GateResult, RuleResult
    from mlgate.metrics import Change, Diff
    from mlgate.report.collect import ReportData

MARKER = REPORT_MARKER
COMMENT_LIMIT = GITHUB_COMMENT_LIMIT
ICONS = {"pass": "✅", "fail": "❌", "inconclusive": "❔", "warn": "⚠️", "skip": "⏭️"}
MAX_ROWS = 60
WORST_SLICES = 5
MAX_LISTED = 10


def num(x: Any) -> str:
    """A value for a table: 4 significant digits, ``—`` when absent."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, int):
        return str(x)
    if isinstance(x, float):
        return f"{x:.4g}"
    return code(x)


def signed(x: float | None) -> str:
    return "—" if x is None else ("0" if x == 0 else f"{x:+.4g}")


def _interval(iv: tuple[float, float] | None) -> str:
    return "—" if iv is None else f"[{iv[0]:+.3g}, {iv[1]:+.3g}]"


def _arrow(change: float | None, direction: str | None) -> str:
    """A green or red dot for a metric's change; nothing for params and spreads (no
    direction) or NaN."""
    if not change or direction not in ("higher", "lower") or change != change:
        return ""
    better = (change > 0) == (direction == "higher")
    return " 🟢" if better else " 🔴"


def _revs(result: GateResult) -> str:
    cand = result.candidate
    cand_s = f"`{cand.short}`" + (" (working tree)" if cand.rev == "workspace" else "")
    base = f"`{result.baseline.short}`" if result.baseline else "none"
    return f"Baseline {base} → candidate {cand_s}"


def _rule_label(r: RuleResult) -> str:
    label = f"{code(r.metric)} {r.check}"
    if r.slice:
        label += f" ({code(r.slice)})"
    return label


def gate_markdown(result: GateResult, *, heading: str = "##") -> str:
    """Verdict, failed rules, the rules table and notes (the gate's step summary)."""
    return "\n".join([*_verdict(result, heading), "", *_rules_table(result)]) + "\n"


def _verdict(result: GateResult, heading: str) -> list[str]:
    icon = ICONS[result.verdict]
    lines = [f"{heading} {icon} mlgate gate: **{result.verdict}**", "", _revs(result)]
    source = {
        "baseline": "from the baseline",
        "candidate": "from the candidate" + (" (the baseline has none)" if result.baseline else ""),
        "none": "missing (no `gate:` section)",
    }.get(result.policy_from, "")
    lines[-1] += f" · policy {source}"
    for title, rules in (("Failed", result.failures), ("Warnings", result.warnings)):
        if rules:
            lines += ["", f"**{title}:**"]
            lines += [f"- {_rule_label(r)}: {text(r.message)}" for r in rules[:MAX_LISTED]]
            if len(rules) > MAX_LISTED:
                lines.append(f"- and {len(rules) - MAX_LISTED} more (see the table)")
    if result.notes:
        lines += ["", *(f"> {n}" for n in result.notes)]  # mlgate's own words
    return lines


def _rules_table(result: GateResult) -> list[str]:
    if not result.rules:
        return ["_No rules._"]
    lines = [
        "| | rule | baseline | candidate | limit | p / interval | why |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for r in result.rules:
        evidence = "—"
        if r.p_value is not None:
            evidence = f"p={r.p_value:.3g} {_interval(r.interval)}"
        lines.append(
            f"| {ICONS[r.status]} {r.status} | {_rule_label(r)} | {num(r.baseline)} | "
            f"{num(r.candidate)} | {num(r.limit)} | {evidence} | {text(r.message)} |"
        )
    return lines


def _metrics_table(result: GateResult) -> list[str]:
    if not result.metrics:
        return []
    level = f"{result.confidence * 100:g}%"
    lines = [
        "### Metrics",
        "",
        f"| metric | baseline | candidate | change | {level} interval of change |",
        "|---|---:|---:|---:|---|",
    ]
    for m in result.metrics[:MAX_ROWS]:
        name = code(m.metric) if m.file == result.metrics[0].file else code(f"{m.file}:{m.metric}")
        lines.append(
            f"| {name} | {num(m.baseline)} | {num(m.candidate)} | "
            f"{signed(m.change)}{_arrow(m.change, m.direction)} | {_interval(m.interval)} |"
        )
    methods = sorted({m.method for m in result.metrics if m.method})
    if methods:
        lines += ["", f"_Intervals: {', '.join(methods)}; 🟢 better, 🔴 worse._"]
    return lines


def _changes_table(
    title: str,
    changes: Mapping[str, Change],
    *,
    limit: int = MAX_ROWS,
    direction: Callable[[str], str | None] = change_direction,
) -> list[str]:
    lines = [title, "", "| key | baseline | candidate | change |", "|---|---:|---:|---:|"]
    items = list(changes.items())
    for key, c in items[:limit]:
        d = c.diff
        lines.append(
            f"| {code(key)} | {num(c.old)} | {num(c.new)} | "
            f"{signed(d)}{_arrow(d, direction(key))} |"
        )
    if len(items) > limit:
        lines.append(f"| _{len(items) - limit} more rows omitted_ | | | |")
    return lines


def _no_direction(key: str) -> None:
    """Params have no better or worse: never coloured."""
    return None


def _params(data: ReportData) -> list[str]:
    changes = data.params.files.get("params.yaml", {})
    if not changes:
        return ["### Params", "", "_No params changed._"]
    lines = ["### Params", "", "| param | baseline | candidate |", "|---|---|---|"]
    for key, c in list(changes.items())[:MAX_ROWS]:
        lines.append(f"| {code(key)} | {_param(c.old)} | {_param(c.new)} |")
    if len(changes) > MAX_ROWS:
        lines.append(f"| _{len(changes) - MAX_ROWS} more params omitted_ | | |")
    return lines


def _param(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, int | float) and not isinstance(v, bool):
        return num(v)
    import json

    return code(json.dumps(v) if not isinstance(v, str) else v)


def _slices(data: ReportData) -> list[str]:
    cand = data.candidate_metrics.get(data.slices_file)
    if not cand:
        return []
    table: dict[str, dict[str, float]] = {}
    for key, value in cand.items():
        name, _, metric = key.rpartition(".")
        table.setdefault(name, {})[metric] = value
    base: dict[str, dict[str, float]] = {}
    for key, value in (data.baseline_metrics or {}).get(data.slices_file, {}).items():
        name, _, metric = key.rpartition(".")
        base.setdefault(name, {})[metric] = value
    metrics = [m for row in table.values() for m in row if m != "n"]
    metric = data.slice_metric or ("accuracy" if "accuracy" in metrics else (metrics or [""])[0])
    rows = [(k, v) for k, v in table.items() if metric in v]
    if not rows:
        return []
    direction = infer_direction(metric)
    rows.sort(key=lambda kv: kv[1][metric] if direction == "higher" else -kv[1][metric])
    lines = [
        f"### Worst slices by {code(metric)}",
        "",
        "| slice | n | baseline | candidate | change |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, row in rows[:WORST_SLICES]:
        b = base.get(name, {}).get(metric)
        c = row[metric]
        d = c - b if b is not None else None
        lines.append(
            f"| {code(name)} | {num(row.get('n'))} | {num(b)} | {num(c)} | "
            f"{signed(d)}{_arrow(d, direction)} |"
        )
    return lines


def _validation(data: ReportData) -> list[str]:
    if data.validation is None:
        return []
    from mlgate.report.validation import markdown_section

    # the data-validation section writes its own "### Data validation" heading
    section = markdown_section(data.validation).strip()
    return [section] if section.startswith("#") else ["### Data validation", "", section]


def _curves(data: ReportData) -> list[str]:
    from mlgate.report.curves import mermaid

    if not data.curves:
        return []
    sides = [s for s in ("baseline", "candidate") if s in data.curves]
    result = data.result
    names = {
        "baseline": f"baseline `{result.baseline.short}`" if result.baseline else "baseline",
        "candidate": f"candidate `{result.candidate.short}`",
    }
    legend = " and ".join(f"{names[s]} ({'grey' if s == 'baseline' else 'blue'})" for s in sides)
    if len(sides) == 1:
        legend = f"{names[sides[0]]} (grey)"
    return [
        "<details>",
        "<summary>ROC and precision-recall curves</summary>",
        "",
        f"Lines: {legend}.",
        "",
        mermaid(
            "ROC", "false positive rate", "true positive rate", [data.curves[s].roc for s in sides]
        ),
        "",
        mermaid("Precision-recall", "recall", "precision", [data.curves[s].pr for s in sides]),
        "",
        "</details>",
    ]


def _other_metrics(data: ReportData) -> list[str]:
    from mlgate.metrics import diff_metrics

    # bootstrap intervals and slices have their own places; the rest is shown when it changed
    shown = {m.file for m in data.result.metrics} | {data.slices_file, data.bootstrap_file}
    old = {f: v for f, v in (data.baseline_metrics or {}).items() if f not in shown}
    new = {f: v for f, v in data.candidate_metrics.items() if f not in shown}
    d = diff_metrics(old, new)
    if not d:
        return []
    changes = {f"{f}:{k}": c for f, ch in d.files.items() for k, c in ch.items()}
    files = {f"{f}:{k}": (f, k) for f, ch in d.files.items() for k in ch}

    def direction(label: str) -> str | None:
        file, key = files[label]
        return change_direction(key, file=file)

    return _changes_table("### Other metrics that changed", changes, direction=direction)


def render_report(data: ReportData, *, limit: int = COMMENT_LIMIT, marker: bool = False) -> str:
    """The full PR report, under ``limit`` characters (least important sections go first).

    ``marker`` puts :data:`MARKER` on the first line (``mlgate report`` does, so the file is
    recognisably the PR comment; reports embedded elsewhere leave it out).
    """
    result = data.result
    sections: list[tuple[int, list[str]]] = [  # (priority: higher is dropped first, lines)
        (0, [*([MARKER] if marker else []), *_verdict(result, "##")]),
        (1, ["### Gate rules", "", *_rules_table(result)]),
        (2, _metrics_table(result)),
        (5, _other_metrics(data)),
        (4, _params(data)),
        (3, _slices(data)),
        (6, _validation(data)),
        (7, _curves(data)),
        (0, ["", f"<sub>mlgate · {_revs(result)}</sub>"]),
    ]
    note = (
        "\n> **Truncated:** this report was over GitHub's 65,536-character limit; "
        "run `mlgate report` for all of it.\n"
    )

    def join(parts: list[tuple[int, list[str]]]) -> str:
        return "\n\n".join("\n".join(lines) for _, lines in parts if lines) + "\n"

    out = join(sections)
    if len(out) <= limit:
        return out
    kept = list(sections)
    for priority in sorted({p for p, _ in sections if p > 0}, reverse=True):
        kept = [(p, lines) for p, lines in kept if p != priority]
        out = join(kept)
        if len(out) + len(note) <= limit:
            return out + note
    return truncate_markdown(out, limit, note)


def diff_markdown(
    metrics: Diff, params: Diff | None = None, *, directions: Mapping[str, str] | None = None
) -> str:
    """``mlgate diff --md``: one table per metrics file, then params.

    ``directions`` (``{"file:key": "higher" | "lower"}``, e.g. from the gate policy) beats
    the direction inferred from the name.
    """
    dirs = directions or {}
    parts: list[list[str]] = []
    for file, changes in metrics.files.items():

        def direction(key: str, file: str = file) -> str | None:
            return change_direction(key, file=file, directions=dirs)

        parts.append(_changes_table(f"### {code(file)}", changes, direction=direction))
    if params is not None:
        for file, changes in params.files.items():
            if changes:
                parts.append(_changes_table(f"### {code(file)}", changes, direction=_no_direction))
    if not parts:
        return "_No metrics or params changed._\n"
    return "\n\n".join("\n".join(p) for p in parts) + "\n"
