"""``mlgate new DIR [--run]``: a new repository with the reference pipeline and workflows."""

from __future__ import annotations

import argparse

HELP = "start a new ML repository: the reference DVC pipeline, gate policy and workflows"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("dir", metavar="DIR", help="the new repository's folder (new or empty)")
    parser.add_argument(
        "--run", action="store_true", help="then run `dvc repro` once and commit everything"
    )
    parser.add_argument(
        "--task",
        choices=("binary", "regression"),
        default="binary",
        help="the reference project: binary (a breast-cancer classifier, the default) or "
        "regression (scikit-learn's diabetes table: rmse, mae, r2 in the gate)",
    )
    parser.add_argument(
        "--mlgate",
        default=None,
        metavar="REQUIREMENT",
        help="the requirements.txt line that installs mlgate in the workflows (default: its "
        "git repository at a commit, placeholders to fill)",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.starter import new_project
    from mlgate.survey import MLGATE_FROM_GIT, has_placeholders

    mlgate = args.mlgate or MLGATE_FROM_GIT
    made = new_project(args.dir, run=args.run, mlgate=mlgate, task=args.task)
    out = sys.stdout
    out.write(
        f"created {made.root}: git and DVC repository ({args.task} reference project), "
        f"{len(made.files)} files\n"
    )
    if made.commit:
        out.write(f"committed {made.commit[:12]}: dvc repro done, metrics and dvc.lock in git\n")
    if has_placeholders(mlgate):
        sys.stderr.write(
            "mlgate: warning: requirements.txt: replace OWNER and COMMIT_SHA in its mlgate line "
            "before pushing (the workflows install it; see README.md, Installing mlgate)\n"
        )
    step = "mlgate gate" if made.commit else "dvc repro && git add -A && git commit -m start"
    out.write(f"next: cd {args.dir} && {step}\n")
    return 0
