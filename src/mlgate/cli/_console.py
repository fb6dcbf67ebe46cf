"""One-line messages on stderr: errors (red) and warnings (yellow) when stderr is a terminal."""

from __future__ import annotations

import os
import sys


def _write(kind: str, colour: str, message: str) -> None:
    if sys.stderr.isatty() and not os.environ.get("NO_COLOR"):
        sys.stderr.write(f"\x1b[{colour}mmlgate: {kind}: {message}\x1b[0m\n")
    else:
        sys.stderr.write(f"mlgate: {kind}: {message}\n")


def error(message: str) -> None:
    """``mlgate: error: MESSAGE``."""
    _write("error", "31", message)


def warn(message: str) -> None:
    """``mlgate: warning: MESSAGE``."""
    _write("warning", "33", message)
