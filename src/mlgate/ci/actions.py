"""GitHub Actions integration: the step summary, step outputs, annotations and the event.

Formats follow GitHub's "Workflow commands for GitHub Actions"
(https://docs.github.com/en/actions/reference/workflows-and-actions/workflow-commands)
and the runner's own escaping (actions/toolkit ``command.ts`` and ``file-command.ts``).
Every function takes the environment (and stream) as a parameter with a default, so tests
pass their own.
"""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TextIO

from mlgate.errors import DataError

__all__ = [
    "LEVELS",
    "SUMMARY_LIMIT",
    "annotate",
    "append_step_summary",
    "escape_data",
    "escape_property",
    "event_head_sha",
    "event_pr_number",
    "in_actions",
    "set_outputs",
]

#: Annotation levels the runner understands.
LEVELS = ("error", "warning", "notice")
#: GitHub refuses a step summary over 1 MiB ("... exceeds the 1024k limit").
SUMMARY_LIMIT = 1024 * 1024
_SUMMARY_NOTE = "\n\n**Truncated:** the step summary reached GitHub's 1 MiB limit.\n"


def _env(environ: Mapping[str, str] | None) -> Mapping[str, str]:
    return os.environ if environ is None else environ


def in_actions(environ: Mapping[str, str] | None = None) -> bool:
    """True when running inside a GitHub Actions job (``GITHUB_ACTIONS=true``)."""
    return _env(environ).get("GITHUB_ACTIONS") == "true"


def append_step_summary(markdown: str, environ: Mapping[str, str] | None = None) -> bool:
    """Append ``markdown`` to the file named by ``$GITHUB_STEP_SUMMARY``.

    Returns False (and writes nothing) outside Actions. The file belongs to the runner and
    other steps append to it too, so this appends instead of replacing it atomically. The
    part that would take the file beyond GitHub's 1 MiB limit is cut with a note.
    """
    path = _env(environ).get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    target = Path(path)
    used = target.stat().st_size if target.exists() else 0
    text = markdown if markdown.endswith("\n") else markdown + "\n"
    data = text.encode("utf-8")
    room = SUMMARY_LIMIT - used
    if len(data) > room:
        keep = max(room - len(_SUMMARY_NOTE.encode("utf-8")), 0)
        text = data[:keep].decode("utf-8", errors="ignore") + _SUMMARY_NOTE
        if room < len(_SUMMARY_NOTE.encode("utf-8")):
            return False
    try:
        with target.open("a", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise DataError(f"GITHUB_STEP_SUMMARY {path}: cannot append ({exc.strerror})") from exc
    return True


def set_outputs(
    mapping: Mapping[str, Any],
    environ: Mapping[str, str] | None = None,
    *,
    delimiter: Callable[[], str] = lambda: f"ghadelimiter_{uuid.uuid4()}",
) -> bool:
    """Write step outputs to ``$GITHUB_OUTPUT``; returns False outside Actions.

    A one-line value is written as ``name=value``; a value with a line break uses GitHub's
    multiline form ``name<<DELIM`` / value / ``DELIM`` with a random delimiter (as the
    toolkit does), so a value cannot end the block early and inject other outputs.
    ``True``/``False`` are written as ``true``/``false``.
    """
    path = _env(environ).get("GITHUB_OUTPUT")
    if not path:
        return False
    lines: list[str] = []
    for name, raw in mapping.items():
        if not name or any(c in name for c in "=<\r\n") or name != name.strip():
            raise ValueError(f"invalid step output name {name!r}")
        value = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if "\n" in value or "\r" in value:
            delim = delimiter()
            while delim in value or delim in name:
                delim = f"ghadelimiter_{uuid.uuid4()}"
            lines.append(f"{name}<<{delim}\n{value}\n{delim}\n")
        else:
            lines.append(f"{name}={value}\n")
    try:
        with Path(path).open("a", encoding="utf-8") as handle:
            handle.write("".join(lines))
    except OSError as exc:
        raise DataError(f"GITHUB_OUTPUT {path}: cannot append ({exc.strerror})") from exc
    return True


def escape_data(text: str) -> str:
    """Escape a workflow command's message (``%``, CR, LF), as the runner expects."""
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    """Escape a workflow command's property value: as data, plus ``:`` and ``,``."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotate(
    level: str,
    title: str,
    message: str,
    stream: TextIO | None = None,
    *,
    file: str | None = None,
    line: int | None = None,
) -> str:
    """Emit an annotation, e.g. ``::error title=auc regressed::0.91 -> 0.88``.

    ``level`` is ``error``, ``warning`` or ``notice``. Writes to ``stream`` (stdout by
    default, where the runner reads workflow commands) and returns the command line.
    """
    if level not in LEVELS:
        raise ValueError(f"annotation level must be one of {', '.join(LEVELS)}, got {level!r}")
    props: list[str] = []
    if file is not None:
        props.append(f"file={escape_property(file)}")
        if line is not None:
            props.append(f"line={int(line)}")
    if title:
        props.append(f"title={escape_property(title)}")
    head = f"::{level} {','.join(props)}" if props else f"::{level}"
    command = f"{head}::{escape_data(message)}"
    out = sys.stdout if stream is None else stream
    out.write(command + "\n")
    out.flush()
    return command


def _event(environ: Mapping[str, str] | None) -> dict[str, Any] | None:
    from mlgate.fileio import read_json

    path = _env(environ).get("GITHUB_EVENT_PATH")
    if not path:
        return None
    try:
        data = read_json(path)
    except OSError as exc:
        raise DataError(f"GITHUB_EVENT_PATH {path}: cannot read ({exc.strerror})") from exc
    return data if isinstance(data, dict) else None


def _positive_int(value: Any) -> int | None:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return value
    return None


def event_pr_number(environ: Mapping[str, str] | None = None) -> int | None:
    """The pull-request number of the triggering event, or None.

    Read from the JSON at ``$GITHUB_EVENT_PATH``: ``pull_request.number``, else the top-level
    ``number`` (``pull_request`` events), else ``issue.number`` of a comment on a pull
    request, else the first of ``workflow_run.pull_requests`` (empty for forks: then use
    :func:`event_head_sha` with ``GitHubClient.pull_request_for_commit``).
    """
    event = _event(environ)
    if event is None:
        return None
    pull = event.get("pull_request")
    if isinstance(pull, dict) and _positive_int(pull.get("number")):
        return _positive_int(pull.get("number"))
    if _positive_int(event.get("number")):
        return _positive_int(event.get("number"))
    issue = event.get("issue")
    if isinstance(issue, dict) and "pull_request" in issue:
        return _positive_int(issue.get("number"))
    run = event.get("workflow_run")
    if isinstance(run, dict):
        pulls = run.get("pull_requests")
        if isinstance(pulls, list) and pulls and isinstance(pulls[0], dict):
            return _positive_int(pulls[0].get("number"))
    return None


def event_head_sha(environ: Mapping[str, str] | None = None) -> str | None:
    """The head commit of the event's pull request or ``workflow_run``, or None."""
    event = _event(environ)
    if event is None:
        return None
    run = event.get("workflow_run")
    if isinstance(run, dict) and isinstance(run.get("head_sha"), str):
        return str(run["head_sha"])
    pull = event.get("pull_request")
    if isinstance(pull, dict) and isinstance(pull.get("head"), dict):
        sha = pull["head"].get("sha")
        return sha if isinstance(sha, str) else None
    return None
