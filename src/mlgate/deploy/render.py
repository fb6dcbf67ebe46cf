"""Text renderings of deploy results: Markdown for GitHub, rich for terminals (imported lazily)."""

from __future__ import annotations

from typing import Any

from mlgate.deploy.history import Deployment
from mlgate.deploy.pointer import Pointer, format_time

#: Metrics shown first in tables, when present.
KEY_METRICS = ("roc_auc", "f1", "accuracy", "precision", "recall", "log_loss")


def key_metrics(entries: list[Deployment], limit: int = 4) -> list[str]:
    """Up to ``limit`` metric names for table columns: the usual ones first."""
    seen: dict[str, None] = {}
    for e in entries:
        for name in e.pointer.metrics if e.pointer else ():
            seen.setdefault(name, None)
    ordered = [m for m in KEY_METRICS if m in seen] + [m for m in seen if m not in KEY_METRICS]
    return ordered[:limit]


def _num(value: float | None) -> str:
    return "" if value is None else f"{value:.4f}"


def _md_cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def history_rows(
    entries: list[Deployment], *, metrics: int = 4, sha_chars: int = 12
) -> tuple[list[str], list[list[str]]]:
    """Header and rows shared by the Markdown and terminal tables (newest first)."""
    names = key_metrics(entries, metrics)
    header = ["", "version", "kind", "date (UTC)", "commit", "sha256", *names]
    rows: list[list[str]] = []
    for i, e in enumerate(entries):
        p = e.pointer
        rows.append(
            [
                "live" if i == 0 and p is not None else "",
                p.version if p else "-",
                e.kind,
                format_time(e.date).replace("T", " ")[:16],
                e.change_commit[:7],
                p.model.sha256[:sha_chars] if p else "-",
                *[_num(p.metrics.get(m)) if p else "" for m in names],
            ]
        )
    return header, rows


def history_markdown(entries: list[Deployment]) -> str:
    """``mlgate history --md``: a GitHub Markdown table."""
    if not entries:
        return "No deployments yet: `mlgate release vX.Y.Z` makes the first.\n"
    header, rows = history_rows(entries)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "## Deployment history\n\n" + "\n".join(lines) + "\n"


def pointer_lines(p: Pointer) -> list[str]:
    """A short description of a pointer, one fact per line."""
    metrics = ", ".join(f"{k} {v:.4f}" for k, v in list(p.metrics.items())[:6])
    return [
        f"version      {p.version}",
        f"commit       {p.commit}",
        f"model        {p.model.path}"
        + (
            f"/ (folder: {len(p.model.files)} files, {p.model.size} bytes)"
            if p.model.is_dir
            else f" ({p.model.size} bytes)"
        ),
        f"sha256       {p.model.sha256}" + (" (of the manifest)" if p.model.is_dir else ""),
        f"md5          {p.model.md5}",
        f"released_at  {format_time(p.released_at)}",
        f"metrics      {metrics}",
    ]


def gate_failure_lines(gate: Any) -> list[str]:
    """One line per failed check of a GateResult."""
    return [f"  FAIL {r.rule} {r.metric}: {r.message}" for r in gate.failures]
