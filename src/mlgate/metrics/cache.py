"""A small content-addressed cache of parsed YAML (``dvc.yaml`` declarations, flat params).

``mlgate diff`` spends most of its start-up importing PyYAML, yet ``dvc.yaml`` and
``params.yaml`` rarely change. Results are keyed by the SHA-256 of the exact bytes, so an
entry can never be stale: a changed file is a different key. The cache lives in the git
folder (``.git/mlgate-cache.json``, never committed), holds at most :data:`LIMIT` entries
per kind, is written atomically, and is ignored when unreadable (then YAML is parsed as
usual). Errors are never cached: a malformed file raises on every run.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

CACHE_NAME = "mlgate-cache.json"
VERSION = 2
LIMIT = 32


def _sha256(data: bytes) -> str:
    try:  # the builtin module: importing hashlib first loads OpenSSL's (slower to start)
        from _sha256 import sha256  # Python 3.11 (3.12+: _sha2, so hashlib below)
    except ImportError:
        from hashlib import sha256
    return str(sha256(data).hexdigest())


class ParseCache:
    """``get_or_parse(kind, data, parse)``; ``save()`` writes it back if anything changed.

    ``ParseCache(None)`` is a cache in memory only (for one process reading many revisions).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        self.dirty = False
        if path is None:
            return
        try:
            doc = json.loads(path.read_bytes())
        except (OSError, ValueError):
            return
        if isinstance(doc, dict) and doc.get("version") == VERSION:
            entries = doc.get("entries")
            if isinstance(entries, dict):
                self.entries = {k: v for k, v in entries.items() if isinstance(v, dict)}

    @classmethod
    def for_repo(cls, root: Path) -> ParseCache:
        """The cache of the repository at ``root`` (disabled when ``.git`` is not a folder)."""
        git_dir = root / ".git"
        return cls(git_dir / CACHE_NAME if git_dir.is_dir() else None)

    def get_or_parse(self, kind: str, data: bytes, parse: Callable[[bytes], Any]) -> Any:
        """``parse(data)``, or its cached result for these exact bytes."""
        key = _sha256(data)
        bucket = self.entries.get(kind, {})
        if key in bucket:
            return json.loads(json.dumps(bucket[key]))  # a private copy
        value = parse(data)
        try:  # kept in memory always; written to disk by save() when there is a path
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):  # e.g. a YAML date: not cacheable, still fine
            return value
        bucket = self.entries.setdefault(kind, {})
        bucket[key] = value
        while len(bucket) > LIMIT:
            del bucket[next(iter(bucket))]
        self.dirty = True
        return value

    def save(self) -> None:
        """Write the cache if it changed; failures (read-only checkout) are ignored."""
        if not self.dirty or self.path is None:
            return
        from mlgate.fileio import write_text

        with contextlib.suppress(OSError):
            write_text(self.path, json.dumps({"version": VERSION, "entries": self.entries}))
        self.dirty = False
