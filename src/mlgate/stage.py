"""Run a DVC stage script's ``main`` with mlgate's exit-code convention.

0 ok, 1 the data failed a check (the pipeline stops, by design), 2 bad input or config:
one line on stderr, no traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from mlgate.errors import MlgateError


def run_stage(name: str, main: Callable[[], int]) -> None:
    try:
        code = main()
    except MlgateError as exc:
        print(f"{name}: error: {exc}", file=sys.stderr)
        code = exc.exit_code
    sys.exit(code)
