"""One way to cut Markdown to a forge's length limit (comments, notes, pull request bodies).

Used by the comment clients (:mod:`mlgate.ci.github`, :mod:`mlgate.ci.gitlab`) and by the
report renderers (:mod:`mlgate.report.markdown`, :mod:`mlgate.ct.report`) when dropping
whole sections was not enough.
"""

from __future__ import annotations

from mlgate.constants import GITHUB_COMMENT_LIMIT

TRUNCATION_NOTE = (
    "\n\n---\n**Truncated:** this report exceeded GitHub's 65,536-character comment limit. "
    "The full report is in the workflow run's step summary.\n"
)


def truncate_markdown(
    text: str, limit: int = GITHUB_COMMENT_LIMIT, note: str = TRUNCATION_NOTE
) -> str:
    """Cut ``text`` to at most ``limit`` characters at a line break, closing an open code
    fence and open ``<details>`` blocks, and append ``note``. Text within the limit is
    returned unchanged.

    >>> truncate_markdown("a\\nbb\\nccc", 6, "!")
    'a\\nbb!'
    """
    if len(text) <= limit:
        return text
    budget = limit - len(note)
    while True:
        head = text[: max(budget, 0)]
        newline = head.rfind("\n")
        if newline > len(head) // 2:
            head = head[:newline]
        closers = ""
        if head.count("```") % 2:
            closers += "\n```"
        closers += "\n</details>" * max(head.count("<details") - head.count("</details>"), 0)
        out = head + closers + note
        if len(out) <= limit or budget <= 0:
            return out[:limit]
        budget -= len(out) - limit
