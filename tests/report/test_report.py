"""mlgate.report: the PR report (verdict first, escaping, size limit), curves, tables."""

from __future__ import annotations

import re
from io import StringIO
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlgate.config import Section
from mlgate.gate import Snapshot, evaluate_snapshots, load_policy
from mlgate.gate.collect import collect
from mlgate.git import Repo
from mlgate.metrics import Diff, diff_flat, diff_metrics
from mlgate.report.collect import ReportData
from mlgate.report.curves import GRID, curves
from mlgate.report.escape import code, text
from mlgate.report.markdown import (
    COMMENT_LIMIT,
    MARKER,
    diff_markdown,
    gate_markdown,
    render_report,
)
from tests.gate_support import commit, metrics_repo, predictions_csv

EVIL = "<img src=x onerror=alert(1)> [click](https://evil.example) @octocat ![i](http://x/i.png) | ` www.evil.example"
SCORES = "metrics/scores.json"


def _outside_code(markdown: str) -> str:
    return re.sub(r"`[^`\n]*`", "", markdown)


def _data(
    base: dict[str, Any],
    cand: dict[str, Any],
    *,
    rules: list[dict[str, Any]] | None = None,
    **kw: Any,
) -> ReportData:
    policy = load_policy(Section({"rules": rules or []}, file="params.yaml", where="gate"))
    b = Snapshot(rev="a" * 40, metrics=base)
    c = Snapshot(rev="workspace", metrics=cand, short="b" * 7)
    result = evaluate_snapshots(policy, baseline=b, candidate=c)
    kw.setdefault("params", Diff({"params.yaml": {}}))
    return ReportData(result=result, baseline_metrics=base, candidate_metrics=cand, **kw)


def test_escape_neutralises_markdown_html_links_and_mentions() -> None:
    assert code("a|b`c\nd") == "`a\\|b'c d`"
    out = text(EVIL)
    assert "<img" not in out and not re.search(r"(?<!\\)\]\(", out) and "@octocat" not in out
    assert "https://" not in out and "www.evil" not in out


def test_report_verdict_first_and_sections() -> None:
    base = {
        SCORES: {"auc": 0.95, "f1": 0.9},
        "metrics/slices.json": {"s=[0,1).n": 40, "s=[0,1).accuracy": 0.9},
    }
    cand = {
        SCORES: {"auc": 0.90, "f1": 0.91},
        "metrics/slices.json": {"s=[0,1).n": 40, "s=[0,1).accuracy": 0.8},
    }
    params = Diff({"params.yaml": diff_flat({"train.C": 1.0}, {"train.C": 0.5, "gate.rules": [1]})})
    y = np.array([0, 1] * 20)
    c = curves(y, y * 0.6 + 0.2)
    assert c is not None
    data = _data(
        base,
        cand,
        rules=[{"metric": "auc", "max_regression": 0.01}],
        params=params,
        validation={"rows": 10, "violations": 0},
        curves={"baseline": c, "candidate": c},
    )
    md = render_report(data, marker=True)
    lines = md.splitlines()
    assert lines[0] == MARKER and lines[1].startswith("## ❌ mlgate gate: **fail**")
    assert "Baseline `aaaaaaa` → candidate `bbbbbbb` (working tree)" in md
    assert "**Failed:**" in md and "worse by 0.05 &gt; allowed 0.01" in md
    for heading in (
        "### Gate rules",
        "### Metrics",
        "### Params",
        "### Worst slices",
        "Data validation",
    ):
        assert heading in md
    assert "| `auc` | 0.95 | 0.9 | -0.05 🔴 |" in md
    assert "uses the baseline's" not in md  # where the policy comes from: the verdict line only
    assert md.count("xychart-beta") == 2 and "<details>" in md and "</details>" in md
    assert len(re.findall(r"^  line \[", md, flags=re.M)) == 4


def test_one_statement_of_the_policy_source_and_the_configured_interval_level() -> None:
    from dataclasses import replace

    data = _data({SCORES: {"auc": 0.95}}, {SCORES: {"auc": 0.9}}, rules=[{"metric": "auc"}])
    first = replace(
        data,
        result=replace(
            data.result,
            policy_from="candidate",
            notes=("the baseline has no gate policy (first adoption): using the candidate's",),
            confidence=0.9,
        ),
        params=Diff({"params.yaml": diff_flat({}, {"gate.rules": [1]})}),
    )
    md = render_report(first)
    assert "policy from the candidate (the baseline has none)" in md
    assert "uses the baseline's" not in md and "changes the `gate` policy" not in md
    assert "| 90% interval of change |" in md and "95%" not in md
    assert "99.9% interval" in render_report(
        replace(first, result=replace(first.result, confidence=0.999))
    )


def test_diff_markdown_never_colours_params() -> None:
    from mlgate.report.markdown import diff_markdown

    metrics = diff_metrics({SCORES: {"log_loss": 0.3}}, {SCORES: {"log_loss": 0.2}})
    params = Diff(
        {"params.yaml": diff_flat({"train.C": 1.0, "err": 1}, {"train.C": 0.5, "err": 2})}
    )
    md = diff_markdown(metrics, params)
    assert "| `log_loss` | 0.3 | 0.2 | -0.1 🟢 |" in md
    param_rows = [line for line in md.splitlines() if "train.C" in line or "`err`" in line]
    assert len(param_rows) == 2 and not any("🟢" in r or "🔴" in r for r in param_rows)


def test_pr_controlled_names_cannot_inject() -> None:
    base = {SCORES: {EVIL: 1.0}, "metrics/other.json": {EVIL: 1}}
    cand = {SCORES: {EVIL: 2.0}, "metrics/other.json": {EVIL: 2}}
    params = Diff({"params.yaml": diff_flat({EVIL: "a"}, {EVIL: EVIL})})
    md = render_report(
        _data(
            base,
            cand,
            rules=[{"metric": EVIL, "min": 5}, {"metric": "gone", "min": 1}],
            params=params,
        )
    )
    plain = _outside_code(md)
    for bad in ("<img", "](", "@octocat", "https://", "www.evil"):
        assert bad not in plain, bad
    for line in md.splitlines():  # a name never breaks a table row
        if line.startswith("| ") and "`" in line:
            assert len(re.findall(r"(?<!\\)\|", line)) == len(
                re.findall(r"(?<!\\)\|", lines_header(md, line))
            )


def lines_header(md: str, row: str) -> str:
    """The header row of the table ``row`` belongs to."""
    lines = md.splitlines()
    i = lines.index(row)
    while i > 0 and lines[i - 1].startswith("|"):
        i -= 1
    return lines[i]


def test_report_stays_under_githubs_limit() -> None:
    many = {f"metric_{i:05d}": float(i) for i in range(3000)}
    cand = {f"metric_{i:05d}": float(i) - 0.5 for i in range(3000)}
    rules = [{"metric": k, "min": 1e6} for k in many]  # 3000 rows in the rules table
    params = Diff({"params.yaml": diff_flat(many, cand)})
    data = _data({SCORES: many}, {SCORES: cand}, rules=rules, params=params)
    md = render_report(data, marker=True)
    assert len(md) <= COMMENT_LIMIT and "Truncated" in md
    assert md.startswith(MARKER) and "## ❌ mlgate gate: **fail**" in md
    assert "and 2990 more" in md  # the failed list stays short
    assert render_report(data).startswith("## ❌ mlgate gate")  # embedded: no marker
    tiny = render_report(data, limit=1500)
    assert len(tiny) <= 1500 and "Truncated" in tiny and "mlgate gate" in tiny


def test_curves_match_scikit_learn() -> None:
    from sklearn.metrics import precision_recall_curve, roc_curve

    rng = np.random.default_rng(0)
    y = (rng.random(300) < 0.3).astype(int)
    s = np.round(np.clip(y * 0.3 + rng.random(300) * 0.7, 0, 1), 2)
    c = curves(y, s)
    assert c is not None and len(c.roc) == len(GRID)
    fpr, tpr, _ = roc_curve(y, s)
    for x, got in zip(GRID, c.roc, strict=True):
        assert got == pytest.approx(tpr[fpr <= x + 1e-12].max())
    prec, rec, _ = precision_recall_curve(y, s)
    for r, got in zip(GRID, c.pr, strict=True):
        assert got == pytest.approx(prec[rec >= r - 1e-12].max())
    assert curves([1, 1], [0.2, 0.3]) is None


def test_gate_and_diff_markdown() -> None:
    data = _data(
        {SCORES: {"auc": 0.9}}, {SCORES: {"auc": 0.95}}, rules=[{"metric": "auc", "min": 0.9}]
    )
    md = gate_markdown(data.result)
    assert md.startswith("## ✅ mlgate gate: **pass**") and "| ✅ pass | `auc` min |" in md
    d = diff_metrics({SCORES: {"log_loss": 0.2}}, {SCORES: {"log_loss": 0.1}})
    assert "| `log_loss` | 0.2 | 0.1 | -0.1 🟢 |" in diff_markdown(d)
    assert diff_markdown(Diff({})) == "_No metrics or params changed._\n"


def test_terminal_tables_colour_by_direction() -> None:
    from rich.console import Console

    from mlgate.report.terminal import render_diff, render_gate

    out = StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system="standard")
    old = {"log_loss": 0.2, "f1": 0.5, "recall": 0.5, "mae": 2.0}
    new = {"log_loss": 0.1, "f1": 0.3, "recall": 0.8, "mae": 2.5}
    render_diff(
        console, diff_metrics({SCORES: old}, {SCORES: new}), directions={f"{SCORES}:mae": "lower"}
    )
    # each metric's own row (a different change each, so a swapped colour cannot hide)
    change = {
        line.split("│")[2].strip(): line.split("│")[5]
        for line in out.getvalue().splitlines()
        if line.count("│") == 6
    }
    green, red = "\x1b[32m", "\x1b[31m"
    assert green in change["log_loss"] and red not in change["log_loss"]  # lower is better, down
    assert red in change["f1"] and green not in change["f1"]  # higher is better, down
    assert green in change["recall"] and red not in change["recall"]  # higher is better, up
    assert red in change["mae"] and green not in change["mae"]  # lower (by policy), up
    assert "-0.1" in change["log_loss"] and "-0.2" in change["f1"]
    plain = StringIO()
    render_gate(Console(file=plain, width=160), _data({}, {SCORES: {"f1": 1.0}}).result)
    assert "gate: pass" in plain.getvalue()


def test_collect_reads_both_revisions(tmp_path: Path, env: dict[str, str]) -> None:
    y = [0, 1] * 30
    root = metrics_repo(
        tmp_path / "repo",
        env,
        extra={
            "metrics/predictions.csv": predictions_csv(y, [0.3 + 0.4 * v for v in y]),
            "metrics/validation.json": {"rows": 60, "violations": 0},
        },
    )
    columns = {"schema_version": 1, "columns": {"x": {"null_rate": 0.25, "psi": 0.31}}}
    commit(
        root,
        env,
        "tweak",
        {
            "params.yaml": {"train": {"C": 0.5}, "gate": {"rules": []}},
            "metrics/validation_columns.json": columns,  # the per-column table, beside
        },
    )
    data = collect(Repo(root, env), baseline="HEAD~1", candidate="HEAD")
    assert set(data.curves) == {"baseline", "candidate"}
    assert data.params.files["params.yaml"]["train.C"].new == 0.5
    assert data.result.policy_from == "baseline" and data.validation == {
        "rows": 60,
        "violations": 0,
        "columns": {"x": {"null_rate": 0.25, "psi": 0.31}},
    }
    assert "| x | 0.2500 | 0.310 | - |" in render_report(data)
    before = collect(Repo(root, env), baseline="HEAD~1", candidate="HEAD~1")  # no table yet
    assert before.validation == {"rows": 60, "violations": 0}


BOOT = "metrics/bootstrap.json"
#: rising values: log_loss's upper bound up is worse, accuracy's lower bound up is better,
#: a spread is neither; `mae` is lower-is-better only because the policy says so
BOUNDS_OLD = {"log_loss": {"high": 0.09, "std": 0.01}, "accuracy": {"low": 0.90, "std": 0.02}}
BOUNDS_NEW = {"log_loss": {"high": 0.12, "std": 0.03}, "accuracy": {"low": 0.93, "std": 0.01}}
MAE_OLD, MAE_NEW = {"mae": {"high": 2.0, "low": 1.0}}, {"mae": {"high": 3.0, "low": 1.5}}


def test_derived_keys_follow_their_metric_and_spreads_are_never_coloured() -> None:
    from rich.console import Console

    from mlgate.report.terminal import render_diff

    d = diff_metrics({BOOT: {**BOUNDS_OLD, **MAE_OLD}}, {BOOT: {**BOUNDS_NEW, **MAE_NEW}})
    policy = {f"{SCORES}:mae": "lower"}
    md = diff_markdown(d, directions=policy)
    assert "| `log_loss.high` | 0.09 | 0.12 | +0.03 🔴 |" in md
    assert "| `accuracy.low` | 0.9 | 0.93 | +0.03 🟢 |" in md
    assert "| `log_loss.std` | 0.01 | 0.03 | +0.02 |" in md
    assert "| `accuracy.std` | 0.02 | 0.01 | -0.01 |" in md
    assert "| `mae.high` | 2 | 3 | +1 🔴 |" in md and "| `mae.low` | 1 | 1.5 | +0.5 🔴 |" in md

    out = StringIO()
    console = Console(file=out, width=160, force_terminal=True, color_system="standard")
    render_diff(console, d, directions=policy)
    rows = {
        line.split("│")[2].strip(): line.split("│")[5]
        for line in out.getvalue().splitlines()
        if line.count("│") == 6
    }
    assert "\x1b[31m" in rows["log_loss.high"] and "\x1b[32m" in rows["accuracy.low"]
    assert "\x1b[31m" in rows["mae.high"]
    for spread in ("log_loss.std", "accuracy.std"):
        assert "\x1b[3" not in rows[spread] and re.search(r"[+-]0\.0\d", rows[spread])
