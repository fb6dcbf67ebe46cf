"""Deployment history: the git log of the pointer file, newest first.

One ``git log --raw`` pass lists the commits that changed ``deploy/production.yaml`` with the
blob id of the pointer after each; one ``git cat-file --batch`` reads all those blobs. No
per-commit ``git show`` (a thousand subprocesses take seconds, this takes milliseconds).

The log carries each commit's whole message, so rollbacks are known by what they revert:
``This reverts commit <sha>`` lines (``git revert`` and ``mlgate rollback`` both write them) or
``Reverts: <sha>`` trailers. :func:`in_effect` uses them to tell which changes still hold.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from mlgate.deploy.pointer import POINTER_PATH, Pointer, format_time, parse_pointer
from mlgate.errors import MlgateError
from mlgate.git import Repo

#: Commit record: RS, then full SHA, committer date (strict ISO), raw message, each ended by US.
LOG_FORMAT = "%x1e%H%x1f%cI%x1f%B%x1f"
_RECORD = re.compile(r"\x1e(?=[0-9a-f]{40,64}\x1f)")
_NULL_OID = re.compile(r"^0+$")
#: A line naming a reverted commit: git revert's own, or a ``Reverts:`` trailer.
_REVERTS = re.compile(
    r"^(?:This reverts commit|Reverts:)\s+([0-9a-f]{7,64})\b", re.MULTILINE | re.IGNORECASE
)
_ROLLBACK = re.compile(r"^rollback:\s*(\S+)\s*->\s*(\S+)")


@dataclass(frozen=True)
class LogRecord:
    """One commit that changed the pointer, as ``git log --raw`` shows it."""

    commit: str
    date: datetime
    subject: str
    blob: str | None  # the pointer's blob after this commit; None when it was deleted
    paths: tuple[str, ...]  # every file this commit changed
    reverts: tuple[str, ...] = ()  # commits its message says it reverts (full or abbreviated)


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
    reverts: tuple[str, ...] = ()  # commits this one reverts (a rollback); see in_effect

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
            "reverts": list(self.reverts),
        }


def parse_log(text: str, path: str = POINTER_PATH) -> list[LogRecord]:
    """Parse the output of ``git log --format=LOG_FORMAT --raw --no-abbrev`` (pure)."""
    records: list[LogRecord] = []
    for chunk in _RECORD.split(text):
        if not chunk.strip():
            continue
        fields = chunk.split("\x1f")
        if len(fields) < 4:
            raise MlgateError(f"git log: unexpected output {chunk[:80]!r} (please report it)")
        commit, date, message, raw = fields[0], fields[1], "\x1f".join(fields[2:-1]), fields[-1]
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
        reverts = tuple(m.group(1).lower() for m in _REVERTS.finditer(message))
        records.append(
            LogRecord(
                commit.strip(),
                datetime.fromisoformat(date),
                subject_of(message),
                blob,
                tuple(paths),
                reverts,
            )
        )
    return records


def subject_of(message: str) -> str:
    """The subject of a commit message as ``%s`` shows it: the first paragraph on one line."""
    lines: list[str] = []
    for line in message.strip("\n").split("\n"):
        if not line.strip():
            break
        lines.append(line.strip())
    return " ".join(lines)


def classify(subject: str, pointer: Pointer | None) -> str:
    """``deploy``, ``rollback``, ``edit`` or ``removed`` from the commit subject."""
    if pointer is None:
        return "removed"
    if subject.startswith("deploy:"):
        return "deploy"
    if _ROLLBACK.match(subject) or subject.startswith('Revert "deploy:'):
        return "rollback"
    return "edit"


def deployments(
    records: list[LogRecord], blobs: dict[str, bytes], path: str = POINTER_PATH
) -> list[Deployment]:
    """Combine log records with the pointer blobs (pure)."""
    out: list[Deployment] = []
    for rec in records:
        pointer: Pointer | None = None
        error: str | None = None
        if rec.blob is not None:
            data = blobs.get(rec.blob)
            try:
                if data is None:
                    raise MlgateError(f"{rec.commit[:12]}:{path}: blob {rec.blob} missing")
                pointer = parse_pointer(data, f"{rec.commit[:12]}:{path}")
            except MlgateError as exc:
                error = str(exc)
        kind = "edit" if error else classify(rec.subject, pointer)
        out.append(
            Deployment(
                kind, rec.commit, rec.date, rec.subject, pointer, rec.paths, error, rec.reverts
            )
        )
    return out


def in_effect(entries: list[Deployment]) -> list[bool]:
    """For each entry (newest first): is its change still in effect (pure)?

    A change is undone when a newer commit that is itself in effect reverts it, so a revert
    of a rollback brings the rolled-back deploy back. Abbreviated SHAs match by prefix.
    """
    undone: set[str] = set()
    short: list[str] = []
    flags: list[bool] = []
    for e in entries:
        sha = e.change_commit
        alive = sha not in undone and not any(sha.startswith(s) for s in short)
        flags.append(alive)
        if alive:
            for ref in e.reverts:
                if len(ref) >= len(sha):
                    undone.add(ref)
                else:
                    short.append(ref)
    return flags


def history(repo: Repo, *, rev: str = "HEAD", path: str = POINTER_PATH) -> list[Deployment]:
    """Every change of the pointer ``path`` reachable from ``rev``, newest first (no merges)."""
    if not repo.rev_exists(rev):
        return []
    text = repo.log_raw(path, LOG_FORMAT, "--no-merges", rev)
    records = parse_log(text, path)
    blobs = repo.cat_blobs([r.blob for r in records if r.blob])
    return deployments(records, blobs, path)


def history_json(entries: list[Deployment]) -> dict[str, Any]:
    """The ``mlgate history --json`` document (schema_version 1)."""
    return {"schema_version": 1, "deployments": [e.to_json() for e in entries]}
