"""What the server serves, swapped as one reference.

A request reads ``state.current`` once and uses that :class:`Served` to the end, so it
finishes on the model it started with; the reconcile thread replaces the whole value with
one assignment (atomic in CPython), so no reader ever sees a new model with an old schema.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlgate.serve.validation import RequestSchema


@dataclass(frozen=True)
class Served:
    """A verified, loaded model and the schema its requests are checked against."""

    version: str
    commit: str
    sha256: str
    loaded_at: datetime
    model: Any
    schema: RequestSchema
    classes: tuple[Any, ...]
    #: the model takes a float array in schema order (see ``mlgate.serve.fast``)
    takes_array: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "commit": self.commit,
            "sha256": self.sha256,
            "loaded_at": self.loaded_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "schema": self.schema.describe(),
        }


@dataclass(frozen=True)
class ReconcileResult:
    """One reconcile pass: ``outcome`` is one of ``unchanged``, ``swapped``, ``rejected``,
    ``backoff``, ``no_release`` or ``error`` (the repository could not be read)."""

    at: datetime
    outcome: str
    commit: str = ""
    version: str = ""
    reason: str = ""
    message: str = ""
    retry_at: datetime | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "at": self.at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "outcome": self.outcome,
        }
        for key in ("commit", "version", "reason", "message"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.retry_at is not None:
            out["retry_at"] = self.retry_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return out


class ServingState:
    """The served model (``None`` until one is verified) and the last reconcile results."""

    def __init__(self) -> None:
        self.current: Served | None = None
        self.last_result: ReconcileResult | None = None
        self.last_rejection: ReconcileResult | None = None

    def version_json(self) -> dict[str, Any]:
        served = self.current
        out: dict[str, Any] = served.describe() if served is not None else {"version": None}
        out["ready"] = served is not None
        out["last_reconcile"] = self.last_result.to_json() if self.last_result else None
        out["last_rejected"] = self.last_rejection.to_json() if self.last_rejection else None
        return out
