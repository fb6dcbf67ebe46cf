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
    infer.add_argument("-o", "--output", default="data/schema.yaml", help="schema YAML to write")
    infer.add_argument(
        "--profile",
        default="data/reference_profile.json",
        help="reference profile JSON to write",
    )


def run(args: argparse.Namespace) -> int:
    from mlgate.data.infer import infer
    from mlgate.data.profile import write_profile
    from mlgate.data.schema import dump_schema
    from mlgate.fileio import write_text

    schema, profile = infer(args.data)
    write_text(args.output, dump_schema(schema))
    write_profile(args.profile, profile)
    print(
        f"{args.data}: {profile.rows} rows, {len(schema.columns)} columns -> "
        f"{args.output} (review it, then commit), {args.profile} "
        f"({len(profile.columns)} columns profiled)"
    )
    return 0
