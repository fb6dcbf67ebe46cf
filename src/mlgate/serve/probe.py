"""Test-load a candidate model in a child process before the server touches it.

skops refuses types outside the allow-list, but an allowed type can still be crafted to
crash the interpreter (a tree with out-of-range node indices makes ``predict`` read wild
memory). So the candidate is verified, loaded and asked for a canary prediction in a fresh
child process; only when the child answers "ok" does the server load it.

A child is kept warm (started after the server's first reconcile pass and again after each
probe, it imports scikit-learn before a candidate arrives) and used once: every probe runs in
its own process.

Protocol: the parent writes one JSON request on stdin (``path``, ``sha256``, ``canary``),
the child writes one JSON line on stdout: ``{"ok": true, "features": [...], "classes":
[...]}`` or ``{"ok": false, "reason": "...", "message": "..."}``.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Reasons a candidate is rejected (also the ``reason`` label in /metrics).
REASONS = (
    "no_release",
    "bad_pointer",
    "git_error",
    "missing_object",
    "hash_mismatch",
    "remote_error",
    "untrusted_type",
    "load_error",
    "canary_error",
    "schema_error",
    "probe_crashed",
    "probe_timeout",
)


@dataclass(frozen=True)
class ProbeResult:
    """What the child reported; ``ok`` False comes with a ``reason`` from :data:`REASONS`."""

    ok: bool
    reason: str = ""
    message: str = ""
    features: tuple[str, ...] = ()
    classes: tuple[Any, ...] = ()


def classify_load_error(message: str) -> str:
    """``untrusted_type`` or ``load_error`` from a :func:`mlgate.ml.model.loads` message."""
    return "untrusted_type" if "allow-list" in message else "load_error"


def canary_frame(features: list[str], canary: Mapping[str, Any]) -> Any:
    """Two rows: the canary values (0.0 where none is given), and all zeros."""
    import pandas as pd

    first = {f: [canary.get(f, 0.0), 0.0] for f in features}
    return pd.DataFrame(first, columns=features)


def check_model(model: Any, canary: Mapping[str, Any]) -> ProbeResult:
    """Run the canary prediction on a loaded model and check its shape and values."""
    import numpy as np

    names = getattr(model, "feature_names_in_", None)
    if names is None:
        return ProbeResult(
            False, "schema_error", "model has no feature_names_in_; train it on a DataFrame"
        )
    features = [str(n) for n in names]
    if not hasattr(model, "predict_proba") or not hasattr(model, "classes_"):
        return ProbeResult(False, "canary_error", "model is not a fitted classifier")
    try:
        proba = np.asarray(model.predict_proba(canary_frame(features, canary)), dtype=float)
    except Exception as exc:
        return ProbeResult(
            False, "canary_error", f"canary prediction failed ({type(exc).__name__}: {exc})"
        )
    classes = tuple(c.item() if hasattr(c, "item") else c for c in model.classes_)
    if (
        proba.shape != (2, len(classes))
        or not np.isfinite(proba).all()
        or not np.allclose(proba.sum(axis=1), 1.0, atol=1e-6)
    ):
        return ProbeResult(
            False,
            "canary_error",
            f"canary prediction is not a probability table (shape {proba.shape})",
        )
    return ProbeResult(True, features=tuple(features), classes=classes)


def probe_file(path: str, sha256: str, canary: Mapping[str, Any]) -> ProbeResult:
    """Verify, load and canary-test ``path`` in this process (the child's work)."""
    from mlgate.errors import DataError
    from mlgate.ml.model import loads

    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        return ProbeResult(False, "missing_object", f"{path}: cannot read ({exc.strerror})")
    digest = hashlib.sha256(data).hexdigest()
    if digest != sha256:
        return ProbeResult(
            False, "hash_mismatch", f"{path}: sha256 is {digest}, the pointer says {sha256}"
        )
    try:
        model = loads(data, path)
    except DataError as exc:
        return ProbeResult(False, classify_load_error(str(exc)), str(exc))
    return check_model(model, canary)


def main() -> int:
    """The child: warm imports, read one request, answer one JSON line."""
    import numpy  # noqa: F401  (warm-up while the parent fetches the candidate)
    import pandas  # noqa: F401
    import sklearn.pipeline  # noqa: F401
    import skops.io  # noqa: F401

    request = json.loads(sys.stdin.buffer.read() or b"{}")
    if not request:
        return 0  # the parent shut down without using this child
    result = probe_file(request["path"], request["sha256"], request.get("canary", {}))
    sys.stdout.write(
        json.dumps(
            {
                "ok": result.ok,
                "reason": result.reason,
                "message": result.message,
                "features": list(result.features),
                "classes": list(result.classes),
            }
        )
        + "\n"
    )
    sys.stdout.flush()
    return 0


class Prober:
    """Runs each probe in a fresh child process, started one probe ahead (:meth:`warm`)."""

    def __init__(
        self,
        *,
        timeout: float = 120.0,
        env: Mapping[str, str] | None = None,
        command: Sequence[str] | None = None,
    ) -> None:
        self.timeout = timeout
        self.env = dict(env) if env is not None else None
        self.command = list(command or [sys.executable, "-m", "mlgate.serve.probe"])
        self._lock = threading.Lock()
        self._next: subprocess.Popen[bytes] | None = None

    def _spawn(self) -> subprocess.Popen[bytes]:
        env = dict(self.env if self.env is not None else os.environ)
        env.setdefault("PYTHONWARNINGS", "ignore")
        return subprocess.Popen(
            self.command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
        )

    def warm(self) -> None:
        """Start the next child now, so its imports overlap the fetch."""
        with self._lock:
            if self._next is None:
                self._next = self._spawn()

    def probe(self, path: str, sha256: str, canary: Mapping[str, Any]) -> ProbeResult:
        """Probe ``path`` in a child; a crash or a hang is a rejection, never our crash."""
        with self._lock:
            child = self._next or self._spawn()
            self._next = None
        request = json.dumps({"path": path, "sha256": sha256, "canary": dict(canary)})
        try:
            out, err = child.communicate(request.encode(), timeout=self.timeout)
        except subprocess.TimeoutExpired:
            child.kill()
            child.communicate()
            self.warm()
            return ProbeResult(
                False, "probe_timeout", f"probe did not answer within {self.timeout:g} s"
            )
        self.warm()
        line = out.decode(errors="replace").strip().splitlines()
        if child.returncode != 0 or not line:
            if child.returncode < 0:
                how = f"killed by {signal.Signals(-child.returncode).name}"
            else:
                how = f"exited {child.returncode}"
            tail = err.decode(errors="replace").strip().splitlines()
            detail = f": {tail[-1]}" if tail else ""
            return ProbeResult(False, "probe_crashed", f"probe process {how}{detail}")
        answer = json.loads(line[-1])
        return ProbeResult(
            bool(answer["ok"]),
            str(answer.get("reason", "")),
            str(answer.get("message", "")),
            tuple(answer.get("features", ())),
            tuple(answer.get("classes", ())),
        )

    def close(self) -> None:
        """Stop the waiting child (it has only imported libraries: nothing to lose)."""
        with self._lock:
            child, self._next = self._next, None
        if child is not None:
            child.kill()
            child.communicate()


if __name__ == "__main__":
    sys.exit(main())
