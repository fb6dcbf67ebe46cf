"""``mlgate validate DATA``: schema checks and drift of a CSV or Parquet file."""

from __future__ import annotations

import argparse

HELP = "check a CSV or Parquet file against the schema and the reference profile (drift)"


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", metavar="DATA", help="CSV or Parquet file to check")
    parser.add_argument(
        "--schema", help="schema YAML (default: validate.schema in params.yaml or data/schema.yaml)"
    )
    parser.add_argument(
        "--profile",
        help="reference profile JSON for drift (default: the schema's own: validate.profile "
        "or data/reference_profile.json for the default schema, else SCHEMA.profile.json)",
    )
    parser.add_argument(
        "--params",
        help="thresholds: its validate: section (default: params.yaml at the repository root)",
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the metrics JSON instead of tables")
    out.add_argument("--md", action="store_true", help="print the Markdown report section")
    parser.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="also write the metrics as the stage does: FILE (counts, drift maxima) and "
        "FILE_columns.json beside it (per-column figures, findings)",
    )


def run(args: argparse.Namespace) -> int:
    import os
    import sys

    from mlgate.cli._args import from_root, project_root
    from mlgate.cli._console import warn
    from mlgate.data.validate import load_inputs, load_settings, paired_profile, validate_file
    from mlgate.fileio import dumps_json, write_json

    # defaults start at the repository root, as the gate's do; paths typed here, at the cwd
    root = project_root()
    settings = load_settings(args.params or from_root(root, "params.yaml"))
    schema_path: str = args.schema or from_root(root, settings.schema)
    profile_path: str | None = args.profile
    missing = None
    if profile_path is None:  # schema and profile come in pairs: the schema's own profile
        paired = os.path.relpath(paired_profile(schema_path, settings=settings, root=root))
        profile_path, missing = (paired, None) if os.path.isfile(paired) else (None, paired)
    schema, profile = load_inputs(schema_path, profile_path)
    if missing is not None:
        warn(
            f"{missing}: no reference profile for {schema_path}, drift not measured; "
            f"`mlgate schema infer DATA -o {schema_path}` writes both, --profile FILE names one"
        )
    console = None
    progress = None
    large = os.path.isfile(args.data) and os.path.getsize(args.data) > 32 << 20
    if large and not (args.json or args.md) and sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import Progress

        console = Console(stderr=True)
        bar = Progress(console=console, transient=True)
        task = bar.add_task(f"reading {args.data}", total=None)
        bar.start()

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

    try:
        result = validate_file(
            args.data,
            schema=schema,
            profile=profile,
            thresholds=settings.thresholds,
            progress=progress,
        )
    finally:
        if console is not None:
            bar.stop()
    metrics = result.to_metrics()
    if args.output:
        from mlgate.data.result import columns_file, split_metrics

        headline, details = split_metrics(metrics)
        write_json(args.output, headline)
        write_json(columns_file(args.output), details)
    if args.json:
        sys.stdout.write(dumps_json(metrics))
    elif args.md:
        from mlgate.report.validation import markdown_section

        sys.stdout.write(markdown_section(metrics))
    else:
        from rich.console import Console

        from mlgate.data.terminal import render

        render(result, Console(highlight=False))
    return 0 if result.passed else 1
