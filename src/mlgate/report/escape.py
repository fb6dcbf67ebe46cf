"""Make text from a pull request harmless in Markdown that GitHub renders.

Metric, param and slice names come from the PR's own files, so they could carry HTML,
links, images or ``@mentions``. Names go into code spans (where Markdown, HTML, autolinks
and mentions are not interpreted); free text is entity- and backslash-escaped, with a
zero-width space breaking ``@`` mentions and ``://``/``www.`` autolinks.
"""

from __future__ import annotations

import re

ZWSP = "\u200b"
MAX_NAME = 120
_PUNCT = re.compile(r"([\\`*_\[\]!|~])")  # inline markup; names never start a line


def code(name: object, *, limit: int = MAX_NAME) -> str:
    """``name`` as an inline code span that is safe inside a table cell."""
    s = " ".join(str(name).split())  # no line breaks: they would end the cell or the span
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    s = s.replace("`", "'").replace("|", "\\|")
    return f"`{s}`" if s else "` `"


def text(value: object) -> str:
    """Free text with Markdown, HTML, autolinks and mentions neutralised."""
    s = " ".join(str(value).split())
    s = s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    s = _PUNCT.sub(r"\\\1", s)
    s = s.replace("@", "@" + ZWSP)
    s = s.replace("://", ":" + ZWSP + "//")
    return re.sub(r"(?i)(www)\.", r"\1" + ZWSP + ".", s)
