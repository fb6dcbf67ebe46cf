"""``mlgate init [--force] [--ct] [--dry-run]``: read the repository, then scaffold mlgate."""

from __future__ import annotations

import argparse

HELP = (
    "read the repository's metrics, models and dependencies, then write the GitHub Actions "
    "workflows, a gate policy and deploy/"
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--force",
        action="store_true",
        help="overwrite workflow files that differ from mlgate's version",
    )
    parser.add_argument(
        "--ct",
        action="store_true",
        help="also write ct.yml (continuous training) when params.yaml has no ct: section",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="print what would be written; write nothing"
    )
    parser.add_argument(
        "--gitlab",
        action="store_true",
        help="write .gitlab-ci.yml (GitLab CI) instead of the GitHub Actions workflows",
    )
    parser.add_argument(
        "--mlgate",
        default=None,
        metavar="REQUIREMENT",
        help="the requirements.txt line that installs mlgate in the workflows (default: "
        "`mlgate @ git+https://github.com/OWNER/mlgate@COMMIT_SHA`, placeholders to fill; "
        "e.g. `mlgate==0.2.0` once a package index has it)",
    )
    parser.add_argument(
        "-C",
        dest="directory",
        default=".",
        metavar="DIR",
        help="run in DIR instead of the current folder",
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from mlgate.scaffold import init_project
    from mlgate.survey import MLGATE_FROM_GIT

    result = init_project(
        args.directory,
        force=args.force,
        ct=args.ct,
        dry_run=args.dry_run,
        mlgate=args.mlgate or MLGATE_FROM_GIT,
        gitlab=args.gitlab,
    )
    out = sys.stdout
    for line in result.found:
        out.write(f"found  {line}\n")
    labels = [f.action.planned if result.dry_run else str(f.action) for f in result.files]
    width = max(len(label) for label in labels)
    for label, item in zip(labels, result.files, strict=True):
        note = f"  ({item.note})" if item.note else ""
        out.write(f"{label:<{width}}  {item.path}{note}\n")
    for warning in result.warnings:
        sys.stderr.write(f"mlgate: warning: {warning}\n")
    if result.dry_run:
        out.write("dry run: nothing written\n")
    elif not result.wrote:
        out.write("nothing to write: mlgate's files are in place\n")
    elif args.gitlab:
        out.write(
            "next: fill in the image digest, add the CI/CD variables GITLAB_TOKEN and "
            "MLGATE_PUSH_TOKEN (see the comments at the top of .gitlab-ci.yml), protect the "
            "tags v* and *@v*, commit these files and open a merge request\n"
        )
    else:
        out.write(
            "next: commit these files, create a `production` environment in the repository's "
            "settings (Settings > Environments) and push a pull request\n"
            "before tagging a release: run `dvc repro && dvc push` on the commit to be "
            "tagged, so the model dvc.lock names is in the DVC remote (outputs.yml does it "
            "for each merge to main; a trainer that is not deterministic needs it by hand)\n"
        )
    return 0
