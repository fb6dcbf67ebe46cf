"""``mlgate diff [BASELINE [CANDIDATE]] [--json | --md] [--all]``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from mlgate.metrics import Diff

HELP = "show the metrics and params that changed between two revisions (no DVC needed)"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_revisions

    add_revisions(parser)
    fmt = parser.add_mutually_exclusive_group()
    fmt.add_argument(
        "--json", action="store_true", help="metrics diff in the shape of `dvc metrics diff --json`"
    )
    fmt.add_argument("--md", action="store_true", help="Markdown tables")
    parser.add_argument("--all", action="store_true", help="include unchanged values")


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.baseline import resolve_baseline
    from mlgate.cli._console import warn
    from mlgate.errors import GitError
    from mlgate.git import WORKTREE, Repo
    from mlgate.metrics import Diff, RevisionReader, diff_flat, diff_metrics, policy_directions
    from mlgate.metrics.cache import ParseCache
    from mlgate.metrics.read import WORKTREE_LISTED

    repo = Repo.discover()
    baseline: str = args.baseline or resolve_baseline(repo)
    candidate: str = args.candidate or WORKTREE
    want_params = not args.json
    cache = ParseCache.for_repo(repo.root)
    # two git processes in all: `ls-files` lists the working tree while one `cat-file --batch`
    # reads the revisions' trees, then their files
    worktree = repo.ls_worktree_start(*WORKTREE_LISTED) if candidate == WORKTREE else None
    with repo.cat_file() as batch:

        def listing(rev: str) -> dict[str, tuple[str, str]] | None:
            try:
                return batch.ls_tree(rev)
            except GitError:  # not a plain revision (an experiment's name): the reader resolves it
                return None

        base_listing = listing(baseline)
        cand = RevisionReader(
            repo,
            candidate,
            params=want_params,
            cache=cache,
            listing=listing(candidate) if worktree is None else None,
            worktree=worktree() if worktree is not None else None,
            batch=batch,
        )
        try:
            new = cand.metrics()
            new_params = cand.params() if want_params else None
            base = RevisionReader(
                repo,
                baseline,
                params=want_params,
                prefetch=[*new.values, *new.errors],
                cache=cache,
                store=cand.shared_store,
                listing=base_listing,
                batch=batch,
            )
            old = base.metrics()
            old_params = base.params() if want_params else None
        finally:
            cand.close()
    cache.save()
    for side in (old, new):  # as `dvc metrics diff`: the other files are still shown
        for message in side.errors.values():
            warn(message)
    metrics = _relative_to_cwd(diff_metrics(old.values, new.values, all=args.all), repo.root)
    if args.json:
        import json

        # exactly DVC's output, NaN and Infinity included (`dvc metrics diff --json`)
        sys.stdout.write(json.dumps(metrics.to_json(), indent=2) + "\n")
        return 0
    params = Diff({"params.yaml": diff_flat(old_params or {}, new_params or {}, all=args.all)})
    # directions the gate policy states (the baseline's, as the gate reads it) beat names
    directions = {**policy_directions(new_params or {}), **policy_directions(old_params or {})}
    if args.md:
        from mlgate.report.markdown import diff_markdown

        sys.stdout.write(diff_markdown(metrics, params, directions=directions))
        return 0
    from mlgate.report.terminal import print_diff

    print_diff(metrics, params, directions=directions)
    return 0


def _relative_to_cwd(diff: Diff, root: Path) -> Diff:
    """Files named relative to the current folder, as ``dvc metrics diff`` names them."""
    import os

    from mlgate.metrics import Diff

    start = os.path.relpath(os.path.realpath(os.getcwd()), os.path.realpath(root))
    if start == os.curdir:
        return diff
    return Diff({os.path.relpath(f, start): changes for f, changes in diff.files.items()})
