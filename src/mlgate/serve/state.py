"""What the server serves, swapped as one reference.

A request reads ``state.current`` once and uses that :class:`Served` to the end, so it
finishes on the model it started with; the reconcile thread replaces the whole value with
one assignment (atomic in CPython), so no reader ever sees a new model with an old schema.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from mlgate.serve.validation import RequestSchema

_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s'\"]+")
_PATH = re.compile(r"(?<![\w.:/~])(?:~|\.{1,2})?/[^\s'\"(),;:]+")


def redact_paths(text: str) -> str:
    """``text`` without filesystem paths or URLs (a cache folder, a remote's object path):
    a path keeps only its last component (``.../abc.skops``), a URL becomes ``<url>``."""
    text = _URL.sub("<url>", text)
    return _PATH.sub(lambda m: ".../" + m.group(0).rstrip("/").rsplit("/", 1)[-1], text)


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
    #: the model takes a float array in schema order (see ``mlgate.serve.fast``); with
    #: inference workers: requests go to them as one float64 matrix
    takes_array: bool = False
    #: with inference workers (``model`` is then None): the generation they hold it under
    generation: int | None = None

    def describe(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "commit": self.commit,
            "sha256": self.sha256,
            "loaded_at": self.loaded_at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "schema": self.schema.describe(),
        }


class Outcome(StrEnum):
    """How a reconcile pass ended (the ``outcome`` label of ``mlgate_reconciles_total``)."""

    UNCHANGED = "unchanged"
    SWAPPED = "swapped"
    REJECTED = "rejected"
    BACKOFF = "backoff"
    NO_RELEASE = "no_release"
    ERROR = "error"  # the repository or the cache folder could not be read
    REVERTED = "reverted"  # the served model killed its workers: the previous one is back


@dataclass(frozen=True)
class ReconcileResult:
    """One reconcile pass and how it ended (an :class:`Outcome`)."""

    at: datetime
    outcome: str
    commit: str = ""
    version: str = ""
    reason: str = ""
    message: str = ""
    retry_at: datetime | None = None

    def to_json(self, *, debug: bool = True) -> dict[str, Any]:
        """As JSON; without ``debug`` the message names no filesystem path or URL."""
        out: dict[str, Any] = {
            "at": self.at.isoformat(timespec="seconds").replace("+00:00", "Z"),
            "outcome": self.outcome,
        }
        for key in ("commit", "version", "reason", "message"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if not debug and self.message:
            out["message"] = redact_paths(self.message)
        if self.retry_at is not None:
            out["retry_at"] = self.retry_at.isoformat(timespec="seconds").replace("+00:00", "Z")
        return out


class ServingState:
    """The served model (``None`` until one is verified) and the last reconcile results."""

    def __init__(self) -> None:
        self.current: Served | None = None
        self.last_result: ReconcileResult | None = None
        self.last_rejection: ReconcileResult | None = None

    def version_json(self, *, debug: bool = False) -> dict[str, Any]:
        """What ``/version`` shows; filesystem paths and URLs only with ``debug``
        (``--debug-info``): any caller can read it."""
        served = self.current
        out: dict[str, Any] = served.describe() if served is not None else {"version": None}
        out["ready"] = served is not None
        last, rejected = self.last_result, self.last_rejection
        out["last_reconcile"] = last.to_json(debug=debug) if last else None
        out["last_rejected"] = rejected.to_json(debug=debug) if rejected else None
        return out
