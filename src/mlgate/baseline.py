"""Which revision a change is compared with when the user names none.

In a GitHub pull request (``GITHUB_BASE_REF`` set) the merge-base of HEAD with
``origin/$GITHUB_BASE_REF``; in a GitLab merge request pipeline
``CI_MERGE_REQUEST_DIFF_BASE_SHA`` (GitLab's own merge-base of the merge request) when set,
else the merge-base with ``origin/$CI_MERGE_REQUEST_TARGET_BRANCH_NAME``; otherwise the merge-base with the default branch
(``origin/HEAD``, else ``main``, else ``master``). Shared by ``diff``, ``gate`` and ``report``;
a module of its own so ``mlgate diff`` does not import the gate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from mlgate.errors import GitError
from mlgate.git import Repo

FULL_HISTORY = "check out with full history (actions/checkout with `fetch-depth: 0`)"
GITLAB_FULL_HISTORY = "fetch full history (`GIT_DEPTH: 0` in the job's variables)"


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
    diff_base = env.get("CI_MERGE_REQUEST_DIFF_BASE_SHA", "")
    if diff_base:
        if not re.fullmatch(r"[0-9a-f]{40}|[0-9a-f]{64}", diff_base):
            raise GitError(
                f"CI_MERGE_REQUEST_DIFF_BASE_SHA: expected a full commit SHA, got {diff_base!r}"
            )
        if not repo.rev_exists(diff_base):
            raise GitError(
                f"baseline {diff_base} (from CI_MERGE_REQUEST_DIFF_BASE_SHA) is not in this "
                f"clone; {GITLAB_FULL_HISTORY}"
            )
        return repo.resolve(diff_base)
    target = env.get("CI_MERGE_REQUEST_TARGET_BRANCH_NAME", "")
    if target:
        ref = f"origin/{target}"
        if not repo.rev_exists(ref):
            raise GitError(
                f"baseline {ref} (from CI_MERGE_REQUEST_TARGET_BRANCH_NAME) is not in this "
                f"clone; {GITLAB_FULL_HISTORY}"
            )
        return _merge_base(repo, ref, GITLAB_FULL_HISTORY)
    branch = repo.default_branch()
    if branch is None:
        raise GitError(
            "no default branch (origin/HEAD, main or master) to compare with; "
            "name a baseline revision, e.g. `mlgate gate HEAD~1`"
        )
    return _merge_base(repo, branch)


def _merge_base(repo: Repo, ref: str, fix: str = FULL_HISTORY) -> str:
    try:
        return repo.merge_base("HEAD", ref)
    except GitError as exc:
        if repo.is_shallow():
            raise GitError(f"no merge-base of HEAD and {ref} in this shallow clone; {fix}") from exc
        raise
