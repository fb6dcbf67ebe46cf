"""`mlgate gate --junit PATH --openmetrics PATH` and the GitLab job log: the files GitLab's
merge request widgets read (artifacts:reports:junit and :metrics), parsed back as GitLab
would, and the collapsible section `gate` writes in a GitLab job."""

from __future__ import annotations

import json
import math
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from prometheus_client.openmetrics.parser import text_string_to_metric_families

from mlgate.ci.gitlab_log import gate_log, highlight, section
from mlgate.gate.result import GateResult, MetricComparison, Revision, RuleResult
from mlgate.report.junit import gate_junit
from mlgate.report.openmetrics import gate_openmetrics
from tests.conftest import BIN, mlgate
from tests.gate_support import metrics_repo

WORSE = {"accuracy": 0.9, "roc_auc": 0.90, "log_loss": 0.2}  # roc_auc drops 0.05 > 0.02


def _cases(xml: str) -> list[ET.Element]:
    root = ET.fromstring(xml)
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    return suite.findall("testcase")


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    assert text.endswith("# EOF\n")
    found = {}
    for family in text_string_to_metric_families(text):  # type: ignore[no-untyped-call]
        assert family.type == "gauge", family.name
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


def _run_gate(root: Path, env: dict[str, str], *extra: str) -> tuple[Any, dict[str, Any]]:
    proc = mlgate(
        "gate", "--junit", "out/junit.xml", "--openmetrics", "out/metrics.txt", *extra,
        cwd=root, env=env,
    )  # fmt: skip
    verdict = json.loads(mlgate("gate", "--json", cwd=root, env=env).stdout)
    return proc, verdict


def test_failing_gate_writes_one_case_per_check_and_the_metrics(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text(json.dumps(WORSE))
    proc, verdict = _run_gate(root, env)
    assert proc.returncode == 1, proc.stderr
    xml = (root / "out" / "junit.xml").read_text(encoding="utf-8")
    cases = _cases(xml)
    assert len(cases) == len(verdict["rules"]) >= 2
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert suite.get("tests") == str(len(verdict["rules"]))
    for case, rule in zip(cases, verdict["rules"], strict=True):
        assert case.get("name", "").startswith(f"{rule['rule']} {rule['check']} {rule['metric']}")
        failure = case.find("failure")
        if rule["status"] == "fail":
            assert failure is not None and failure.get("message") == rule["message"]
            assert "worse by 0.05 > allowed 0.02" in (failure.get("message") or "")
            assert "candidate: 0.9" in (failure.text or "")
        else:
            assert failure is None and case.find("skipped") is None
        assert rule["message"] in (case.findtext("system-out") or "")
    samples = _samples((root / "out" / "metrics.txt").read_text(encoding="utf-8"))
    for m in verdict["metrics"]:
        labels = tuple(sorted({"file": m["file"], "metric": m["metric"]}.items()))
        assert samples[("mlgate_metric", labels)] == m["candidate"]
        assert samples[("mlgate_metric_baseline", labels)] == m["baseline"]
        assert math.isclose(samples[("mlgate_metric_change", labels)], m["change"])
    assert samples[("mlgate_gate_passed", ())] == 0
    assert samples[("mlgate_gate_checks", (("status", "fail"),))] == 1
    statuses = [r["status"] for r in verdict["rules"]]
    assert samples[("mlgate_gate_checks", (("status", "pass"),))] == statuses.count("pass")


def test_passing_gate_has_no_failure(tmp_path: Path, env: dict[str, str]) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    proc, verdict = _run_gate(root, env)
    assert proc.returncode == 0, proc.stderr
    cases = _cases((root / "out" / "junit.xml").read_text(encoding="utf-8"))
    assert len(cases) == len(verdict["rules"])
    assert all(c.find("failure") is None for c in cases)
    samples = _samples((root / "out" / "metrics.txt").read_text(encoding="utf-8"))
    assert samples[("mlgate_gate_passed", ())] == 1


def test_unwritable_report_path_is_a_one_line_input_error(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "blocker").write_text("a file, not a folder\n")
    proc = mlgate("gate", "--junit", "blocker/junit.xml", cwd=root, env=env)
    assert proc.returncode == 2, proc.stdout
    lines = proc.stderr.splitlines()
    assert len(lines) == 1 and "--junit blocker/junit.xml: cannot write" in lines[0], lines


def test_gitlab_job_log_gets_highlighted_checks_and_a_collapsed_summary(
    tmp_path: Path, env: dict[str, str]
) -> None:
    root = metrics_repo(tmp_path / "repo", env)
    (root / "metrics" / "scores.json").write_text(json.dumps(WORSE))
    gitlab = {**env, "GITLAB_CI": "true"}
    # bytes, as the runner reads them (text mode would turn the \r into a line break)
    proc = subprocess.run([BIN / "mlgate", "gate"], cwd=root, env=gitlab, capture_output=True)
    assert proc.returncode == 1
    out = proc.stdout.decode()
    assert "\x1b[31;1mERROR\x1b[0m mlgate gate: roc_auc max_regression: worse by 0.05" in out
    start = out.index("\x1b[0Ksection_start:")
    end = out.index("\x1b[0Ksection_end:")
    assert start < end and ":mlgate_gate_summary[collapsed=true]\r\x1b[0K" in out
    assert "`roc_auc`" in out[start:end] and out.endswith(":mlgate_gate_summary\r\x1b[0K\n")
    # --json keeps stdout pure JSON: the log lines go to stderr
    as_json = mlgate("gate", "--json", cwd=root, env=gitlab)
    assert json.loads(as_json.stdout)["verdict"] == "fail"
    assert "section_start:" in as_json.stderr
    # outside GitLab CI, none of it
    plain = mlgate("gate", cwd=root, env=env)
    assert "section_start" not in plain.stdout and "\x1b[" not in plain.stdout


# -- the renderers on values no repository produces easily -----------------------------------
def _result(rules: tuple[RuleResult, ...], metrics: tuple[MetricComparison, ...]) -> GateResult:
    return GateResult(
        Revision("a" * 40, "a" * 7),
        Revision("workspace", "workspace"),
        rules,
        metrics,
        notes=("first adoption",),
    )


def test_junit_statuses_slices_and_characters_xml_cannot_hold() -> None:
    rules = (
        RuleResult("rules[0]", "min", "m.json", "f1", "skip", "no baseline"),
        RuleResult("rules[1]", "max_regression", "m.json", "auc", "inconclusive", "unsure"),
        RuleResult("rules[2]", "min", "m.json", "rec\x01all", "fail", 'a "bad" <drop> & \x1b'),
        RuleResult("rules[2]", "min", "m.json", "recall", "pass", "ok", slice="region=eu"),
    )
    xml = gate_junit(_result(rules, ()))
    cases = _cases(xml)
    assert [c.get("name") for c in cases] == [
        "rules[0] min f1",
        "rules[1] max_regression auc",
        "rules[2] min rec\ufffdall",
        "rules[2] min recall [region=eu]",
    ]
    skipped = cases[0].find("skipped")
    assert skipped is not None and skipped.get("message") == "no baseline"
    assert cases[1].find("failure") is None and "status: inconclusive" in (
        cases[1].findtext("system-out") or ""
    )
    failure = cases[2].find("failure")
    assert failure is not None and failure.get("message") == 'a "bad" <drop> & \ufffd'
    suite = ET.fromstring(xml).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("4", "1", "1")
    assert "note: first adoption" in (suite.findtext("system-out") or "")


def test_openmetrics_escapes_labels_and_leaves_out_missing_values() -> None:
    metrics = (
        MetricComparison('we"ird\\file\n.json', "a b", "higher", None, 0.5),
        MetricComparison("m.json", "loss", "lower", 0.25, float("inf")),
        MetricComparison("m.json", "nan", "lower", float("nan"), 1.0),
        MetricComparison("m.json", "loss", "lower", 9.0, 9.0),  # a duplicate: the first wins
    )
    text = gate_openmetrics(_result((), metrics))
    samples = _samples(text)
    weird = (("file", 'we"ird\\file\n.json'), ("metric", "a b"))
    assert samples[("mlgate_metric", weird)] == 0.5
    assert ("mlgate_metric_baseline", weird) not in samples
    assert ("mlgate_metric_change", weird) not in samples
    loss = (("file", "m.json"), ("metric", "loss"))
    assert samples[("mlgate_metric", loss)] == math.inf
    assert samples[("mlgate_metric_baseline", loss)] == 0.25
    assert math.isnan(samples[("mlgate_metric_baseline", (("file", "m.json"), ("metric", "nan")))])
    assert samples[("mlgate_gate_passed", ())] == 1
    assert text.count("# EOF") == 1


def test_section_and_highlight_cannot_be_broken_by_a_message() -> None:
    text = section("gate summary/1", "head\r\x1b[0Kfake", "body \x1b[31m", clock=lambda: 7)
    assert text.startswith("\x1b[0Ksection_start:7:gate_summary_1[collapsed=true]\r\x1b[0K")
    assert "head ?[0Kfake\n" in text and "body ?[31m\n" in text
    assert text.endswith("\x1b[0Ksection_end:7:gate_summary_1\r\x1b[0K\n")
    assert highlight("warning", "t", "line1\nline2") == "\x1b[33;1mWARNING\x1b[0m t: line1 line2\n"
    rule = RuleResult("rules[0]", "min", "m.json", "f1", "pass", "close", near_miss=True)
    log = gate_log(_result((rule,), ()), "## summary", clock=lambda: 1)
    assert log.startswith("\x1b[33;1mWARNING") and "## summary\n" in log
