"""The gate's metrics as OpenMetrics text, for GitLab's metrics report.

GitLab reads it from ``artifacts:reports:metrics`` (Premium and Ultimate tiers) and shows,
in the merge request widget, each value beside the target branch's
(https://docs.gitlab.com/ci/testing/metrics_reports/). ``mlgate gate --openmetrics PATH``
writes it. Format: https://prometheus.io/docs/specs/om/open_metrics_spec/ (text
exposition, ending with ``# EOF``). Families, all gauges::

    mlgate_metric{file="eval/metrics.json",metric="roc_auc"}           the candidate's value
    mlgate_metric_baseline{file=...,metric=...}                        the baseline's value
    mlgate_metric_change{file=...,metric=...}                          candidate - baseline
    mlgate_gate_passed                                                 1 pass, 0 fail
    mlgate_gate_checks{status="pass"|"fail"|"inconclusive"|"warn"|"skip"}  checks per status

A value that is missing on a side has no sample. GitLab keys a metric by the text before
the value (``mlgate_metric{file=eval/metrics.json,metric=roc_auc}`` once its shell-style
split drops the quotes) and compares values as strings; its parser also cuts a line at
``#``, so a metric whose file or name contains ``#`` is valid OpenMetrics that GitLab skips.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.gate.result import GateResult, MetricComparison

__all__ = ["gate_openmetrics", "number"]

#: The gate's check statuses (``mlgate.gate.result.STATUSES``; the report layer imports the
#: gate's types only for type checking).
STATUSES = ("pass", "fail", "inconclusive", "warn", "skip")

_FAMILIES = (
    ("mlgate_metric", "The candidate's value of a metric, by metrics file and metric name."),
    ("mlgate_metric_baseline", "The baseline's value of a metric."),
    ("mlgate_metric_change", "The candidate's value minus the baseline's."),
)


def _label(value: str) -> str:
    # OpenMetrics label values escape backslash, double quote and line feed
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def number(value: float) -> str:
    """A sample value: ``repr`` of the float (shortest round trip), ``NaN``, ``+Inf``.

    >>> number(0.5), number(float("inf")), number(3)
    ('0.5', '+Inf', '3.0')
    """
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(value)


def _family(name: str, help_text: str, samples: Iterable[tuple[str, float]]) -> list[str]:
    lines = [f"# TYPE {name} gauge", f"# HELP {name} {help_text}"]
    return lines + [f"{name}{labels} {number(value)}" for labels, value in samples]


def gate_openmetrics(result: GateResult) -> str:
    """The OpenMetrics text for ``result``, ending with ``# EOF`` and a line feed.

    >>> from mlgate.gate.result import GateResult, MetricComparison, Revision
    >>> m = MetricComparison("m.json", "auc", "higher", 0.5, 0.75)
    >>> text = gate_openmetrics(GateResult(None, Revision("workspace", "workspace"), (), (m,)))
    >>> 'mlgate_metric{file="m.json",metric="auc"} 0.75' in text, text.endswith("# EOF\\n")
    (True, True)
    """
    rows: dict[
        str, MetricComparison
    ] = {}  # one sample per label set, as OpenMetrics requires (the first one wins)
    for m in result.metrics:
        rows.setdefault(f'{{file="{_label(m.file)}",metric="{_label(m.metric)}"}}', m)
    values = {
        "mlgate_metric": [(k, m.candidate) for k, m in rows.items()],
        "mlgate_metric_baseline": [(k, m.baseline) for k, m in rows.items()],
        "mlgate_metric_change": [(k, m.change) for k, m in rows.items()],
    }
    lines: list[str] = []
    for name, help_text in _FAMILIES:
        lines += _family(name, help_text, [(k, v) for k, v in values[name] if v is not None])
    lines += _family(
        "mlgate_gate_passed", "1 when the gate passed, 0 when it failed.", [("", result.passed)]
    )
    counts = [(f'{{status="{s}"}}', sum(r.status == s for r in result.rules)) for s in STATUSES]
    lines += _family("mlgate_gate_checks", "The gate's checks, by status.", counts)
    return "\n".join([*lines, "# EOF"]) + "\n"
