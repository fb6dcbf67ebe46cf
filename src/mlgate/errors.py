"""The exception tree of mlgate.

MlgateError                 a user-facing problem: exit code 2, one line, no traceback
 +-- ConfigError            params.yaml, dvc.yaml, a schema or a policy is malformed
 +-- MissingExtra           a command needs an optional extra that is not installed
 +-- GitError               a git command failed or a revision cannot be read
 +-- DataError              a data or metrics file cannot be read or is invalid
 |    +-- ObjectUnavailable an object of a DVC output is in neither the cache nor the remote
 +-- RemoteError            the DVC remote or an HTTP API failed
      +-- RemoteObjectMissing   the remote has no object of that md5
      +-- RemoteObjectCorrupt   the remote's object is not the bytes the pointer names

A failed gate or a failed validation is a *result* (exit code 1), never an exception.
Every message names the file, revision or key at fault and, where one exists, the fix.
"""

from __future__ import annotations


class MlgateError(Exception):
    """Base of every error that mlgate reports to the user (exit code 2)."""

    exit_code = 2


class ConfigError(MlgateError):
    """A configuration file or a key in it is missing or malformed."""


class MissingExtra(MlgateError):
    """A command needs an optional extra (``mlgate[serve]``, ``mlgate[demo]``) not installed."""

    def __init__(self, *, command: str, extra: str, modules: tuple[str, ...]) -> None:
        names = ", ".join(modules)
        verb = "is" if len(modules) == 1 else "are"
        super().__init__(
            f"{command} needs the {extra} extra ({names} {verb} not installed): "
            f"pip install 'mlgate[{extra}]'"
        )
        self.command, self.extra, self.modules = command, extra, modules


class GitError(MlgateError):
    """A git operation failed."""


class DataError(MlgateError):
    """Data or metrics cannot be read or are invalid."""


class ObjectUnavailable(DataError):
    """A DVC object (by md5) is in neither the local DVC cache nor the remote, or is corrupt."""

    def __init__(self, message: str, *, md5: str) -> None:
        super().__init__(message)
        self.md5 = md5


class RemoteError(MlgateError):
    """A remote (DVC storage, GitHub's API) failed or refused."""


class RemoteObjectMissing(RemoteError):
    """The DVC remote has no object ``md5`` (nothing was pushed, or it was deleted)."""

    def __init__(self, message: str, *, md5: str) -> None:
        super().__init__(message)
        self.md5 = md5


class RemoteObjectCorrupt(RemoteError):
    """The remote's object ``md5`` holds other bytes than the pointer names (``expected``
    sha256, ``got`` sha256; ``got`` is empty when only the size or md5 was compared)."""

    def __init__(self, message: str, *, md5: str, expected: str, got: str = "") -> None:
        super().__init__(message)
        self.md5, self.expected, self.got = md5, expected, got
