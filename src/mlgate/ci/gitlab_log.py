"""GitLab CI's job log: collapsible sections and highlighted lines, GitLab's counterparts
of GitHub's step summary and annotations.

GitLab has no step summary and no annotations API for jobs. What a job can do is write its
log: ANSI colours render, and custom collapsible sections group lines under a header
(https://docs.gitlab.com/ci/jobs/job_logs/#custom-collapsible-sections)::

    \\e[0Ksection_start:UNIX_TIME:NAME[collapsed=true]\\r\\e[0KHeader
    ...
    \\e[0Ksection_end:UNIX_TIME:NAME\\r\\e[0K

``mlgate gate`` in a GitLab job (``GITLAB_CI=true``) writes, after its table, one red
(failed check) or yellow (inconclusive, warned, near miss) line per check that GitHub would
annotate, then the Markdown summary GitHub puts in the step summary inside a collapsed
section. The merge request widget gets the checks from the JUnit report instead
(``mlgate gate --junit``, :mod:`mlgate.report.junit`).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.gate.result import GateResult

__all__ = ["gate_log", "highlight", "in_gitlab_ci", "section"]

_ESC = "\x1b"
_CLEAR = f"{_ESC}[0K"
_COLOURS = {"error": "31;1", "warning": "33;1", "notice": "36;1"}
_SECTION_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def in_gitlab_ci(environ: Mapping[str, str] | None = None) -> bool:
    """True inside a GitLab CI job (``GITLAB_CI=true``)."""
    return (os.environ if environ is None else environ).get("GITLAB_CI") == "true"


def _one_line(text: str) -> str:
    # a carriage return or escape inside a message would end the section header or recolour
    return " ".join(text.replace(_ESC, "?").split())


def section(
    name: str,
    header: str,
    body: str,
    *,
    collapsed: bool = True,
    clock: Callable[[], float] = time.time,
) -> str:
    """``body`` inside a collapsible section called ``name`` (letters, digits, ``_.-``;
    anything else becomes ``_``) with ``header`` as its one visible line.

    >>> print(repr(section("x", "Head", "a", clock=lambda: 5)))
    '\\x1b[0Ksection_start:5:x[collapsed=true]\\r\\x1b[0KHead\\na\\n\\x1b[0Ksection_end:5:x\\r\\x1b[0K\\n'
    """
    key = _SECTION_NAME.sub("_", name) or "section"
    option = "[collapsed=true]" if collapsed else ""
    body = body.replace(_ESC, "?")
    if body and not body.endswith("\n"):
        body += "\n"
    return (
        f"{_CLEAR}section_start:{int(clock())}:{key}{option}\r{_CLEAR}{_one_line(header)}\n"
        f"{body}{_CLEAR}section_end:{int(clock())}:{key}\r{_CLEAR}\n"
    )


def highlight(level: str, title: str, message: str) -> str:
    """One coloured line, ``LEVEL title: message`` (``level``: error, warning or notice)."""
    colour = _COLOURS.get(level, "0")
    return f"{_ESC}[{colour}m{level.upper()}{_ESC}[0m {_one_line(title)}: {_one_line(message)}\n"


def gate_log(
    result: GateResult, summary_markdown: str, *, clock: Callable[[], float] = time.time
) -> str:
    """What ``mlgate gate`` adds to a GitLab job log: a highlighted line per failed,
    inconclusive, warned or nearly failed check, then ``summary_markdown`` collapsed."""
    lines = []
    for r in result.rules:
        where = f"{r.metric} [{r.slice}]" if r.slice else r.metric
        if r.status == "fail":
            lines.append(highlight("error", f"mlgate gate: {where} {r.check}", r.message))
        elif r.status in ("inconclusive", "warn") or r.near_miss:
            lines.append(highlight("warning", f"mlgate gate: {where} {r.check}", r.message))
    header = f"mlgate gate: {result.verdict} - the summary in Markdown (as in the report)"
    return "".join(lines) + section("mlgate_gate_summary", header, summary_markdown, clock=clock)
