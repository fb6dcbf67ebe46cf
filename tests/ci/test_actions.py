"""GitHub Actions files ($GITHUB_STEP_SUMMARY, $GITHUB_OUTPUT), annotations and the event."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlgate.ci import actions
from mlgate.errors import DataError

# Text as a runner would receive it (the runner reads lines, so a lone CR is its own quirk).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\r"))


def unescape_property(text: str) -> str:
    """The runner's decoding of a property value (actions/runner ActionCommand.cs)."""
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%3A", ":"), ("%2C", ","), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def unescape_data(text: str) -> str:
    for escaped, char in (("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
        text = text.replace(escaped, char)
    return text


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Parse ``::name k=v,k=v::message`` as the runner does."""
    assert line.startswith("::")
    head, sep, message = line[2:].partition("::")
    assert sep
    name, _, props = head.partition(" ")
    properties = {}
    for pair in filter(None, props.split(",")):
        key, _, value = pair.partition("=")
        properties[key] = unescape_property(value)
    return name, properties, unescape_data(message)


def parse_output_file(text: str) -> dict[str, str]:
    """Parse a $GITHUB_OUTPUT file as the runner does (``name=value`` or heredoc)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    assert lines[-1] == ""
    i = 0
    while i < len(lines) - 1:
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delim = line.split("<<", 1)
            end = lines.index(delim, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
        else:
            name, value = line.split("=", 1)
            out[name] = value
            i += 1
    return out


def test_in_actions() -> None:
    assert actions.in_actions({"GITHUB_ACTIONS": "true"})
    assert not actions.in_actions({})
    assert not actions.in_actions({"GITHUB_ACTIONS": "false"})


def test_step_summary_appends(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    assert actions.append_step_summary("## gate: pass", env)
    assert actions.append_step_summary("## report\n", env)
    assert summary.read_text() == "# earlier step\n## gate: pass\n## report\n"
    assert not actions.append_step_summary("ignored", {})


def test_step_summary_stays_under_limit(tmp_path: Path) -> None:
    summary = tmp_path / "summary.md"
    env = {"GITHUB_STEP_SUMMARY": str(summary)}
    actions.append_step_summary("é" * actions.SUMMARY_LIMIT, env)
    data = summary.read_bytes()
    assert len(data) <= actions.SUMMARY_LIMIT
    assert data.decode("utf-8").endswith("1 MiB limit.\n")


def test_outputs_file(tmp_path: Path) -> None:
    out = tmp_path / "output"
    env = {"GITHUB_OUTPUT": str(out)}
    report = "# report\n\nline two\n"
    assert actions.set_outputs(
        {"verdict": "pass", "report": report, "passed": True}, env, delimiter=lambda: "EOF_X"
    )
    assert out.read_text() == (
        "verdict=pass\nreport<<EOF_X\n# report\n\nline two\n\nEOF_X\npassed=true\n"
    )
    assert parse_output_file(out.read_text()) == {
        "verdict": "pass",
        "report": report,
        "passed": "true",
    }
    assert not actions.set_outputs({"x": "y"}, {})
    with pytest.raises(ValueError):
        actions.set_outputs({"a=b": "c"}, env)


def test_outputs_value_cannot_forge_the_delimiter(tmp_path: Path) -> None:
    out = tmp_path / "output"
    evil = "x\nEOF\nverdict=pass"
    delims = iter(["EOF"])
    actions.set_outputs(
        {"verdict": "fail", "note": evil},
        {"GITHUB_OUTPUT": str(out)},
        delimiter=lambda: next(delims),
    )
    assert parse_output_file(out.read_text()) == {"verdict": "fail", "note": evil}


@settings(deadline=None)  # writes a file per example: disk latency is not a bug
@given(values=st.dictionaries(st.from_regex(r"[a-z][a-z0-9_-]{0,10}", fullmatch=True), TEXT))
def test_outputs_round_trip(
    tmp_path_factory: pytest.TempPathFactory, values: dict[str, str]
) -> None:
    out = tmp_path_factory.mktemp("out") / "output"
    actions.set_outputs(values, {"GITHUB_OUTPUT": str(out)})
    text = out.read_text(encoding="utf-8") if out.exists() else ""
    assert parse_output_file(text) == values


def test_annotation_format() -> None:
    stream = io.StringIO()
    line = actions.annotate(
        "error", "auc: regressed, significantly", "0.91 -> 0.88\n100% sure", stream
    )
    assert line == "::error title=auc%3A regressed%2C significantly::0.91 -> 0.88%0A100%25 sure"
    assert stream.getvalue() == line + "\n"
    assert actions.annotate("warning", "", "near miss", stream) == "::warning::near miss"
    assert (
        actions.annotate("notice", "t", "m", stream, file="params.yaml", line=3)
        == "::notice file=params.yaml,line=3,title=t::m"
    )
    with pytest.raises(ValueError):
        actions.annotate("fatal", "t", "m", stream)


@given(title=TEXT | st.text(), message=TEXT | st.text(), level=st.sampled_from(actions.LEVELS))
def test_annotation_escaping_round_trips(title: str, message: str, level: str) -> None:
    stream = io.StringIO()
    line = actions.annotate(level, title, message, stream)
    assert "\n" not in line and "\r" not in line  # one workflow command, nothing injected
    name, props, text = parse_command(line)
    assert name == level
    assert props == ({"title": title} if title else {})
    assert text == message


def _event(tmp_path: Path, payload: object) -> dict[str, str]:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(payload))
    return {"GITHUB_EVENT_PATH": str(path)}


@pytest.mark.parametrize(
    ("payload", "number"),
    [
        ({"number": 12, "pull_request": {"number": 12, "head": {"sha": "a" * 40}}}, 12),
        ({"number": 5}, 5),
        ({"issue": {"number": 8, "pull_request": {"url": "..."}}}, 8),
        ({"issue": {"number": 8}}, None),  # a comment on an issue, not a PR
        ({"workflow_run": {"head_sha": "b" * 40, "pull_requests": [{"number": 3}]}}, 3),
        ({"workflow_run": {"head_sha": "b" * 40, "pull_requests": []}}, None),
        ({"ref": "refs/tags/v1.0.0"}, None),
        ({"number": True}, None),
    ],
)
def test_event_pr_number(tmp_path: Path, payload: object, number: int | None) -> None:
    assert actions.event_pr_number(_event(tmp_path, payload)) == number


def test_event_head_sha_and_errors(tmp_path: Path) -> None:
    assert actions.event_pr_number({}) is None
    run = {"workflow_run": {"head_sha": "b" * 40, "pull_requests": []}}
    assert actions.event_head_sha(_event(tmp_path, run)) == "b" * 40
    pull = {"pull_request": {"number": 1, "head": {"sha": "c" * 40}}}
    assert actions.event_head_sha(_event(tmp_path, pull)) == "c" * 40
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(DataError, match=r"bad\.json: invalid JSON"):
        actions.event_pr_number({"GITHUB_EVENT_PATH": str(bad)})
    with pytest.raises(DataError, match="file not found"):
        actions.event_pr_number({"GITHUB_EVENT_PATH": str(tmp_path / "missing.json")})
