"""Deployment history: the git log of the pointer file, newest first.

One ``git log --raw`` pass lists the commits that changed ``deploy/production.yaml`` with the
blob id of the pointer after each; one ``git cat-file --batch`` reads all those blobs. No
per-commit ``git show`` (a thousand subprocesses take seconds, this takes milliseconds).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlgate.deploy.pointer import POINTER_PATH, Pointer, format_time, parse_pointer
from mlgate.errors import MlgateError
from mlgate.git import Repo

#: Commit record: RS, then full SHA, committer date (strict ISO), subject, each ended by US.
LOG_FORMAT = "%x1e%H%x1f%cI%x1f%s%x1f"
_NULL_OID = re.compile(r"^0+$")
_ROLLBACK = re.compile(r"^rollback:\s*(\S+)\s*->\s*(\S+)")


@dataclass(frozen=True)
class LogRecord:
    """One commit that changed the pointer, as ``git log --raw`` shows it."""

    commit: str
    date: datetime
    subject: str
    blob: str | None  # the pointer's blob after this commit; None when it was deleted
    paths: tuple[str, ...]  # every file this commit changed


@dataclass(frozen=True)
class Deployment:
    """One change of the pointer: a deploy, a rollback, or another edit."""

    kind: str  # "deploy" | "rollback" | "edit" | "removed"
    change_commit: str
    date: datetime
    subject: str
    pointer: Pointer | None
    paths: tuple[str, ...] = ()
    error: str | None = None  # the pointer at this commit did not validate

    @property
    def version(self) -> str | None:
        return self.pointer.version if self.pointer else None

    def to_json(self) -> dict[str, Any]:
        p = self.pointer
        return {
            "kind": self.kind,
            "version": p.version if p else None,
            "change_commit": self.change_commit,
            "date": format_time(self.date),
            "subject": self.subject,
            "commit": p.commit if p else None,
            "model": p.to_dict()["model"] if p else None,
            "metrics": dict(p.metrics) if p else {},
            "released_at": format_time(p.released_at) if p else None,
            "error": self.error,
        }


def parse_log(text: str, path: str = POINTER_PATH) -> list[LogRecord]:
    """Parse the output of ``git log --format=LOG_FORMAT --raw --no-abbrev`` (pure)."""
    records: list[LogRecord] = []
    for chunk in text.split("\x1e"):
        if not chunk.strip():
            continue
        fields = chunk.split("\x1f")
        if len(fields) < 4:
            raise MlgateError(f"git log: unexpected output {chunk[:80]!r} (please report it)")
        commit, date, subject, raw = fields[0], fields[1], "\x1f".join(fields[2:-1]), fields[-1]
        blob: str | None = None
        paths: list[str] = []
        for line in raw.splitlines():
            if not line.startswith(":") or "\t" not in line:
                continue
            meta, name = line.split("\t", 1)
            paths.append(name)
            if name == path:
                parts = meta.split()
                new = parts[3] if len(parts) >= 4 else ""
                blob = None if _NULL_OID.match(new) else new
        records.append(
            LogRecord(commit.strip(), datetime.fromisoformat(date), subject, blob, tuple(paths))
        )
    return records


def classify(subject: str, pointer: Pointer | None) -> str:
    """``deploy``, ``rollback``, ``edit`` or ``removed`` from the commit subject."""
    if pointer is None:
        return "removed"
    if subject.startswith("deploy:"):
        return "deploy"
    if _ROLLBACK.match(subject) or subject.startswith('Revert "deploy:'):
        return "rollback"
    return "edit"


def deployments(records: list[LogRecord], blobs: dict[str, bytes]) -> list[Deployment]:
    """Combine log records with the pointer blobs (pure)."""
    out: list[Deployment] = []
    for rec in records:
        pointer: Pointer | None = None
        error: str | None = None
        if rec.blob is not None:
            data = blobs.get(rec.blob)
            try:
                if data is None:
                    raise MlgateError(f"{rec.commit[:12]}:{POINTER_PATH}: blob {rec.blob} missing")
                pointer = parse_pointer(data, f"{rec.commit[:12]}:{POINTER_PATH}")
            except MlgateError as exc:
                error = str(exc)
        kind = "edit" if error else classify(rec.subject, pointer)
        out.append(Deployment(kind, rec.commit, rec.date, rec.subject, pointer, rec.paths, error))
    return out


def history(repo: Repo, *, rev: str = "HEAD") -> list[Deployment]:
    """Every change of the pointer reachable from ``rev``, newest first (merges skipped)."""
    if not repo.rev_exists(rev):
        return []
    text = repo.log_raw(POINTER_PATH, LOG_FORMAT, "--no-merges", rev)
    records = parse_log(text)
    blobs = repo.cat_blobs([r.blob for r in records if r.blob])
    return deployments(records, blobs)


def history_json(entries: list[Deployment]) -> dict[str, Any]:
    """The ``mlgate history --json`` document (schema_version 1)."""
    return {"schema_version": 1, "deployments": [e.to_json() for e in entries]}
