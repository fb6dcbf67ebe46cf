"""One writer at a time in a cache folder shared by several replicas.

Every reconcile pass (git fetch in the private clone, model download, probe verdicts) holds
an exclusive ``flock`` on ``DIR/.lock``; replicas on one folder (a shared volume, or several
processes on one machine) take turns, so two never fetch into one clone or write one model
file at once. The lock file records who holds it (host and pid), for the message a waiting
replica logs. ``flock`` locks go away with the process that held them, so a replica that is
killed never leaves the folder locked. (On NFS, Linux maps ``flock`` to NFS byte-range
locks; folders on a filesystem without locking need one cache dir per replica.)
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

LOCK_NAME = ".lock"


class CacheLocked(OSError):
    """Another process held the cache folder's lock for longer than we could wait."""


def holder(cache_dir: Path) -> str:
    """Who holds (or last held) the lock, as written in the lock file: ``host pid N``."""
    try:
        return (cache_dir / LOCK_NAME).read_text().strip() or "another process"
    except OSError:
        return "another process"


@contextlib.contextmanager
def cache_lock(
    cache_dir: Path,
    *,
    timeout: float,
    on_wait: Callable[[str], None] | None = None,
    poll: float = 0.05,
) -> Iterator[None]:
    """Hold the exclusive lock of ``cache_dir`` (created if need be) inside the block.

    Waits up to ``timeout`` seconds for another holder, then raises :class:`CacheLocked`.
    ``on_wait`` is called once with the holder's description when the
    lock is busy at first.
    """
    cache_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(cache_dir / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        deadline = time.monotonic() + timeout
        told = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if not told and on_wait is not None:
                    on_wait(holder(cache_dir))
                    told = True
                if time.monotonic() >= deadline:
                    raise CacheLocked(
                        0,
                        f"locked by {holder(cache_dir)} for more than {timeout:g} s",
                        str(cache_dir / LOCK_NAME),
                    ) from None
                time.sleep(poll)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{socket.gethostname()} pid {os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
