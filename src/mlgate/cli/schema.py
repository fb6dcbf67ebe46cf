"""``mlgate schema infer DATA``: write a schema and a reference profile to review and commit."""

from __future__ import annotations

import argparse

HELP = "infer a data schema (YAML) and a reference profile (drift) from a CSV or Parquet file"


def configure(parser: argparse.ArgumentParser) -> None:
    sub = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    infer = sub.add_parser(
        "infer",
        help="infer the schema and the reference profile",
        description="Infer dtypes, nulls, ranges, allowed values, keys and the row-count "
        "range, plus quantile bins and category shares for drift. Review the YAML, then commit.",
    )
    infer.add_argument("data", metavar="DATA", help="CSV or Parquet file (the reference data)")
    infer.add_argument(
        "-o",
        "--output",
        help="schema YAML to write (default: validate.schema in params.yaml or data/schema.yaml)",
    )
    infer.add_argument(
        "--profile",
        help="reference profile JSON to write (default: the schema's own: validate.profile "
        "or data/reference_profile.json for the default schema, else OUTPUT.profile.json)",
    )
    infer.add_argument(
        "--force", action="store_true", help="overwrite an existing schema or profile"
    )


def run(args: argparse.Namespace) -> int:
    import os

    from mlgate.cli._args import from_root, project_root
    from mlgate.data.infer import infer
    from mlgate.data.profile import write_profile
    from mlgate.data.schema import dump_schema
    from mlgate.data.validate import load_settings, paired_profile
    from mlgate.errors import ConfigError
    from mlgate.fileio import write_text

    root = project_root()
    settings = load_settings(from_root(root, "params.yaml"))
    output: str = args.output or from_root(root, settings.schema)
    profile_path: str = args.profile or os.path.relpath(
        paired_profile(output, settings=settings, root=root)
    )
    if not args.force:
        for path in (output, profile_path):
            if os.path.exists(path):
                raise ConfigError(
                    f"{path} exists (a reviewed schema and its profile are not replaced "
                    "silently); pass --force to overwrite, or -o FILE to write elsewhere"
                )
    schema, profile = infer(args.data)
    write_text(output, dump_schema(schema))
    write_profile(profile_path, profile)
    print(
        f"{args.data}: {profile.rows} rows, {len(schema.columns)} columns -> "
        f"{output} (review it, then commit), {profile_path} "
        f"({len(profile.columns)} columns profiled)"
    )
    return 0
