"""``mlgate pull-model``."""

from __future__ import annotations

import argparse

HELP = "fetch the live model (or --version V) from the DVC remote and verify its sha256"


def configure(parser: argparse.ArgumentParser) -> None:
    from mlgate.cli._args import add_model

    add_model(parser)
    parser.add_argument("--version", dest="model_version", metavar="V", help="an earlier version")
    parser.add_argument(
        "-o", "--output", default=".", metavar="DIR", help="folder to write the model to (.)"
    )
    parser.add_argument("--remote", metavar="NAME", help="DVC remote (default: DVC's default)")
    parser.add_argument(
        "--no-scan",
        dest="scan",
        action="store_false",
        help="skip the skops allow-list scan (size, md5 and sha256 are still checked)",
    )
    parser.add_argument("--json", action="store_true", help="JSON (schema_version 1)")


def run(args: argparse.Namespace) -> int:
    import sys
    from pathlib import Path

    from mlgate.deploy.pull import pull_model
    from mlgate.git import Repo
    from mlgate.models import pointer_of

    repo = Repo.find()
    if not args.scan:
        sys.stderr.write(
            "warning: --no-scan: the model file is not checked against mlgate's allow-list; "
            "never load it with pickle or joblib\n"
        )
    pulled = pull_model(
        repo,
        version=args.model_version,
        out_dir=Path(args.output),
        remote=args.remote,
        path=pointer_of(repo, args.model)[0],
        scan=args.scan,
    )
    if args.json:
        from mlgate.fileio import dumps_json

        sys.stdout.write(dumps_json(pulled.to_json()))
        return 0
    ref = pulled.pointer.model
    checks = f"size {ref.size} bytes, md5 {ref.md5}, sha256 {ref.sha256}"
    if ref.is_dir:
        checks = (
            f"a folder of {len(ref.files)} files, {ref.size} bytes, each file's size, md5 and "
            f"sha256 checked against the pointer's manifest (sha256 {ref.sha256})"
        )
    from mlgate.deploy.pull import is_skops

    has_skops = is_skops(ref.path) or any(is_skops(f.path) for f in ref.files)
    scanned = (
        (
            "not scanned (--no-scan)"
            if has_skops
            else (
                "no skops file in it, so nothing scanned: mlgate moves the files and never "
                "loads them"
                if ref.is_dir
                else "not a skops file, so not scanned: mlgate moves it and never loads it"
            )
        )
        if pulled.scanned is None
        else f"skops allow-list scan passed ({len(pulled.scanned)} non-default types, "
        "nothing loaded)"
    )
    sys.stdout.write(f"{pulled.path}\n  {pulled.pointer.version}: {checks}; {scanned}\n")
    return 0
