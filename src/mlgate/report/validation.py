"""The Markdown section of the PR report, rendered from the validation document
(``metrics/validation.json`` joined with ``metrics/validation_columns.json``).

Pure: a dict in, Markdown out. Column names, values and messages come from the data of a
pull request, so every piece of text is escaped (no HTML, links, mentions or table breaks).
"""

from __future__ import annotations

import math
from typing import Any

MAX_FINDINGS = 50
MAX_COLUMNS = 200

_ESCAPES = {
    "&": "&amp;",
    "<": "&lt;",
    ">": "&gt;",
    "|": "\\|",
    "@": "&#64;",
    "[": "\\[",
    "]": "\\]",
    "`": "\\`",
    "*": "\\*",
    "_": "\\_",
    "\\": "\\\\",
}


def escape(text: Any) -> str:
    """Text that renders literally inside a GitHub Markdown table cell."""
    flat = " ".join(str(text).split())
    return "".join(_ESCAPES.get(ch, ch) for ch in flat)[:300]


def _number(value: Any, digits: int = 3) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return "-"
    return f"{value:.{digits}f}"


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _rows(value: Any) -> str:
    """A finding's row count; ``-`` for drift (a measure of the whole column)."""
    return "-" if value is None else str(_int(value))


def markdown_section(validation_json: dict[str, Any]) -> str:
    """A ``### Data validation`` section: verdict line, findings, per-column drift."""
    data = validation_json if isinstance(validation_json, dict) else {}
    violations, warnings = _int(data.get("violations")), _int(data.get("warnings"))
    drift: dict[str, Any] = data["drift"] if isinstance(data.get("drift"), dict) else {}
    icon = ":x:" if violations else (":warning:" if warnings else ":white_check_mark:")
    lines = [
        "### Data validation",
        "",
        f"{icon} {escape(data.get('source', 'data'))}: "
        f"{_int(data.get('rows'))} rows, **{violations} violation{'s' * (violations != 1)}**, "
        f"{warnings} warning{'s' * (warnings != 1)}; max PSI {_number(drift.get('max_psi'))}, "
        f"max KS {_number(drift.get('max_ks'))}.",
    ]
    findings = [f for f in data.get("findings") or [] if isinstance(f, dict)]
    if findings:
        lines += [
            "",
            "| | check | column | rows | detail | examples (row: value) |",
            "|---|---|---|---:|---|---|",
        ]
        for f in findings[:MAX_FINDINGS]:
            mark = ":x:" if f.get("level") == "violation" else ":warning:"
            examples = ", ".join(
                f"{_int(e.get('row'))}: {escape(e.get('value'))}"
                for e in (f.get("examples") or [])[:5]
                if isinstance(e, dict)
            )
            lines.append(
                f"| {mark} | {escape(f.get('check', ''))} | {escape(f.get('column') or '(table)')} "
                f"| {_rows(f.get('rows'))} | {escape(f.get('message', ''))} | {examples} |"
            )
        if len(findings) > MAX_FINDINGS:
            lines.append(
                f"\n{len(findings) - MAX_FINDINGS} more findings in "
                "metrics/validation_columns.json."
            )
    columns: dict[str, Any] = data["columns"] if isinstance(data.get("columns"), dict) else {}
    if columns:
        lines += [
            "",
            "<details><summary>Null rate and drift per column</summary>",
            "",
            "| column | null rate | PSI | KS |",
            "|---|---:|---:|---:|",
        ]
        for name, col in list(columns.items())[:MAX_COLUMNS]:
            col = col if isinstance(col, dict) else {}
            lines.append(
                f"| {escape(name)} | {_number(col.get('null_rate'), 4)} "
                f"| {_number(col.get('psi'))} | {_number(col.get('ks'))} |"
            )
        lines += ["", "</details>"]
    return "\n".join(lines) + "\n"
