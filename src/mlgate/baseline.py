"""Which revision a change is compared with when the user names none.

In a GitHub pull request (``GITHUB_BASE_REF`` set) the merge-base of HEAD with
``origin/$GITHUB_BASE_REF``; otherwise the merge-base with the default branch
(``origin/HEAD``, else ``main``, else ``master``). Shared by ``diff``, ``gate`` and ``report``;
a module of its own so ``mlgate diff`` does not import the gate.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from mlgate.errors import GitError
from mlgate.git import Repo

FULL_HISTORY = "check out with full history (actions/checkout with `fetch-depth: 0`)"


def resolve_baseline(repo: Repo, *, environ: Mapping[str, str] | None = None) -> str:
    """The default baseline as a full SHA (see the module docstring)."""
    env = os.environ if environ is None else environ
    base_ref = env.get("GITHUB_BASE_REF", "")
    if base_ref:
        ref = f"origin/{base_ref}"
        if not repo.rev_exists(ref):
            raise GitError(
                f"baseline {ref} (from GITHUB_BASE_REF) is not in this clone; {FULL_HISTORY}"
            )
        return _merge_base(repo, ref)
    branch = repo.default_branch()
    if branch is None:
        raise GitError(
            "no default branch (origin/HEAD, main or master) to compare with; "
            "name a baseline revision, e.g. `mlgate gate HEAD~1`"
        )
    return _merge_base(repo, branch)


def _merge_base(repo: Repo, ref: str) -> str:
    try:
        return repo.merge_base("HEAD", ref)
    except GitError as exc:
        if repo.is_shallow():
            raise GitError(
                f"no merge-base of HEAD and {ref} in this shallow clone; {FULL_HISTORY}"
            ) from exc
        raise
