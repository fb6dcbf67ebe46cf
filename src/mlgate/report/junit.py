"""The gate's checks as a JUnit XML report, for CI systems that show test results.

GitLab reads it from ``artifacts:reports:junit`` and lists it in the merge request widget
and the pipeline's Tests tab on every tier (https://docs.gitlab.com/ci/testing/unit_test_reports/);
Jenkins, Azure Pipelines and others read the same format. ``mlgate gate --junit PATH``
writes it.

One ``<testcase>`` per check of a rule (the entries of ``GateResult.rules``, in order):

- ``name``: ``rules[0] max_regression roc_auc`` (``[slice]`` appended for a slice check),
  stable across pipelines so GitLab can compare runs; ``classname``: ``mlgate gate``;
  ``file``: the metrics file;
- ``fail`` -> ``<failure message="REASON" type="max_regression">`` with the values;
- ``skip`` -> ``<skipped message="REASON"/>``;
- ``pass``, ``warn``, ``inconclusive`` -> a passing case (JUnit has no warning status):
  the status and reason are in its ``<system-out>``, which GitLab shows in the case's
  details.

The gate's notes go to the suite's ``<system-out>``. Characters XML 1.0 cannot carry
(control characters from a metric name, say) are replaced by U+FFFD.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.gate.result import GateResult, RuleResult

__all__ = ["SUITE_NAME", "case_name", "gate_junit"]

SUITE_NAME = "mlgate gate"
# XML 1.0 Char production: https://www.w3.org/TR/xml/#charsets
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _text(value: object) -> str:
    return _NOT_XML.sub("\ufffd", str(value))


def case_name(rule: RuleResult) -> str:
    """``rules[0] max_regression roc_auc [slice]``: what a test case is called."""
    name = f"{rule.rule} {rule.check} {rule.metric}"
    return _text(f"{name} [{rule.slice}]" if rule.slice else name)


def _details(rule: RuleResult) -> str:
    parts = [f"status: {rule.status}{' (near miss)' if rule.near_miss else ''}"]
    parts.append(f"reason: {rule.message}")
    for key in ("baseline", "candidate", "change", "limit", "p_value"):
        value = getattr(rule, key)
        if value is not None:
            parts.append(f"{key}: {value!r}")
    if rule.interval is not None:
        parts.append(f"interval: [{rule.interval[0]!r}, {rule.interval[1]!r}]")
    if rule.method:
        parts.append(f"method: {rule.method}")
    parts.append(f"file: {rule.file}")
    return _text("\n".join(parts))


def _case(rule: RuleResult) -> ET.Element:
    case = ET.Element(
        "testcase",
        {"classname": SUITE_NAME, "name": case_name(rule), "file": _text(rule.file), "time": "0"},
    )
    details = _details(rule)
    if rule.status == "fail":
        failure = ET.SubElement(
            case, "failure", {"message": _text(rule.message), "type": _text(rule.check)}
        )
        failure.text = details
    elif rule.status == "skip":
        ET.SubElement(case, "skipped", {"message": _text(rule.message)})
    ET.SubElement(case, "system-out").text = details
    return case


def gate_junit(result: GateResult) -> str:
    """The JUnit XML document (UTF-8 text, with its declaration) for ``result``.

    >>> from mlgate.gate.result import GateResult, Revision, RuleResult
    >>> r = RuleResult("rules[0]", "min", "m.json", "f1", "fail", "f1 0.5 < 0.8")
    >>> xml = gate_junit(GateResult(None, Revision("workspace", "workspace"), (r,)))
    >>> '<failure message="f1 0.5 &lt; 0.8" type="min">' in xml
    True
    """
    counts = {
        "tests": len(result.rules),
        "failures": len(result.failures),
        "errors": 0,
        "skipped": sum(r.status == "skip" for r in result.rules),
    }
    attrs = {key: str(value) for key, value in counts.items()}
    root = ET.Element("testsuites", {"name": SUITE_NAME, **attrs, "time": "0"})
    suite = ET.SubElement(root, "testsuite", {"name": SUITE_NAME, **attrs, "time": "0"})
    for rule in result.rules:
        suite.append(_case(rule))
    lines = [f"verdict: {result.verdict}"]
    if result.baseline is not None:
        lines.append(f"baseline: {result.baseline.rev}")
    lines.append(f"candidate: {result.candidate.rev}")
    if result.policy_source:
        lines.append(f"policy: {result.policy_source}")
    lines += [f"note: {note}" for note in result.notes]
    ET.SubElement(suite, "system-out").text = _text("\n".join(lines))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
