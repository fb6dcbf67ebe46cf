"""The ``ct:`` section of ``params.yaml``, parsed and validated once.

>>> from mlgate.config import Section
>>> p = CtParams.from_section(Section({"window": 2}, file="params.yaml", where="ct"))
>>> p.source, p.window, p.mode
('data/incoming', 2, 'pr')
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlgate.config import Section

MODES = ("pr", "release")
DEFAULT_SOURCE = "data/incoming"
_KEYS = ("source", "window", "mode", "base_branch", "schedule", "remote")


@dataclass(frozen=True)
class CtParams:
    """Where batches arrive, how many train, and what a passing cycle does.

    ``window`` is None for "all batches", else the number of newest batches trained on
    (besides the reference data in ``data.path``). ``schedule`` is a note for people: the
    cron that actually runs lives in ``.github/workflows/ct.yml``.
    """

    source: str = DEFAULT_SOURCE
    window: int | None = None
    mode: str = "pr"
    base_branch: str | None = None
    schedule: str = ""
    remote: str | None = None

    @classmethod
    def from_section(cls, s: Section | None) -> CtParams:
        if s is None:
            return cls()
        s.check_keys(_KEYS)
        raw = s.data.get("window", "all")
        window: int | None
        if raw == "all" or raw is None:
            window = None
        elif isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
            window = raw
        else:
            s.fail("window", f'expected "all" or a whole number >= 0, got {raw!r}')
        source = s.string("source", DEFAULT_SOURCE).rstrip("/")
        if not source or source.startswith("/") or ".." in source.split("/"):
            s.fail("source", f"expected a folder inside the repository, got {source!r}")
        base = s.data.get("base_branch")
        remote = s.data.get("remote")
        return cls(
            source=source,
            window=window,
            mode=s.string("mode", "pr", choices=MODES),
            base_branch=s.string("base_branch") if base is not None else None,
            schedule=s.string("schedule", ""),
            remote=s.string("remote") if remote is not None else None,
        )

    @property
    def window_label(self) -> str:
        return "all" if self.window is None else str(self.window)


def load_ct_params(path: str = "params.yaml") -> CtParams:
    """The ``ct:`` section of ``path`` (defaults when absent)."""
    from mlgate.config import load_params

    return CtParams.from_section(load_params(path).optional_section("ct"))
