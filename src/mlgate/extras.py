"""Optional extras: what a command needs beyond the base install, and the one-line message
when it is missing.

The base install (``pip install mlgate``) runs every CI job; ``mlgate[serve]`` adds the
HTTP server, ``mlgate[demo]`` the demo's PNG chart, ``mlgate[all]`` both (pyproject.toml,
``[project.optional-dependencies]``).
"""

from __future__ import annotations

from importlib.util import find_spec

from mlgate.errors import MissingExtra

#: extra -> the modules it installs that mlgate imports (the distributions in pyproject.toml).
EXTRAS: dict[str, tuple[str, ...]] = {
    "serve": ("starlette", "uvicorn", "prometheus_client"),
    "demo": ("matplotlib",),
}


def missing(extra: str) -> tuple[str, ...]:
    """The modules of ``extra`` that cannot be imported here (``()``: it is installed)."""
    return tuple(name for name in EXTRAS[extra] if find_spec(name) is None)


def has(extra: str) -> bool:
    """Whether every module of ``extra`` can be imported."""
    return not missing(extra)


def require(extra: str, *, command: str) -> None:
    """Raise :class:`MissingExtra` (exit 2, one line) when ``extra`` is not installed.

    >>> require("serve", command="mlgate serve")  # doctest: +SKIP
    mlgate serve needs the serve extra (starlette is not installed): pip install 'mlgate[serve]'
    """
    absent = missing(extra)
    if absent:
        raise MissingExtra(command=command, extra=extra, modules=absent)
