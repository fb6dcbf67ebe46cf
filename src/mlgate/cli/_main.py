"""Entry point: discover the command modules, parse, run, map results to exit codes.

Exit codes: 0 ok, 1 the gate or a validation failed, 2 usage or input error,
3 unexpected internal error (traceback with ``--traceback`` or ``MLGATE_TRACEBACK=1``),
130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from types import ModuleType

import mlgate
import mlgate.cli

EXIT_OK, EXIT_FAIL, EXIT_USAGE, EXIT_BUG, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


def _command_names() -> list[str]:
    """Module names of the commands (``pull_model``), from the package's folders.

    A listing rather than ``pkgutil.iter_modules``, which imports ``inspect`` (~7 ms).
    """
    names: set[str] = set()
    for folder in mlgate.cli.__path__:
        try:
            entries = os.listdir(folder)
        except OSError:
            continue
        for entry in entries:
            stem, dot, ext = entry.partition(".")
            if dot and ext == "py" and stem.isidentifier() and not stem.startswith("_"):
                names.add(stem)
    return sorted(names)


def _commands(only: str | None = None) -> dict[str, ModuleType]:
    if only is not None:  # one command: import just its module (no listing)
        name = only.replace("-", "_")
        if not name.isidentifier() or name.startswith("_") or only != name.replace("_", "-"):
            return {}
        try:
            return {only: importlib.import_module(f"mlgate.cli.{name}")}
        except ModuleNotFoundError as exc:
            if exc.name != f"mlgate.cli.{name}":
                raise  # the command exists but something it imports is missing
            return {}
    return {
        n.replace("_", "-"): importlib.import_module(f"mlgate.cli.{n}") for n in _command_names()
    }


def _columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (and bz2, lzma)."""
    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns if columns > 0 else 80


class _Parser(argparse.ArgumentParser):
    """argparse with exit code 2 and a one-line message (argparse's default is the same code)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(EXIT_USAGE)

    def _get_formatter(self) -> argparse.HelpFormatter:
        # argparse's formatter asks shutil for the width; every add_argument makes one
        return self.formatter_class(prog=self.prog, width=_columns() - 2)  # type: ignore[call-arg]


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The parser of every command, or with ``only`` just that one (faster start-up).

    An ``only`` that names no command gets the full parser (and argparse's usual error).
    """
    commands = _commands(only) if only is not None else {}
    if not commands:
        commands = _commands()
    parser = _Parser(
        prog="mlgate",
        description="CI/CD/CT for ML models, GitOps-style: validate, gate, release, serve, retrain.",
    )
    parser.add_argument("--version", action="version", version=f"mlgate {mlgate.__version__}")
    parser.add_argument(
        "--traceback", action="store_true", help="show the full traceback of unexpected errors"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, module in commands.items():
        help_text: str = getattr(module, "HELP", "")
        cmd = sub.add_parser(name, help=help_text, description=help_text)
        module.configure(cmd)
        cmd.set_defaults(_run=module.run, _parser=cmd)
    return parser


def _error(message: str) -> None:
    from mlgate.cli._console import error

    error(message)


def main(argv: Sequence[str] | None = None) -> int:
    from mlgate.errors import MlgateError

    # Importing and configuring every command costs ~15 ms at each start; when the command
    # is named, build only its parser (`mlgate`, `--help` or a typo still get the full one).
    words = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(only=next((w for w in words if not w.startswith("-")), None))
    args, extra = parser.parse_known_args(argv)
    if extra:
        # argparse reports a subcommand's surplus words with the top-level usage; name the
        # subcommand's own instead (`mlgate gate a b c` -> `usage: mlgate gate ...`)
        owner: argparse.ArgumentParser = getattr(args, "_parser", parser)
        owner.error(f"unrecognized arguments: {' '.join(extra)}")
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    show_tb = args.traceback or os.environ.get("MLGATE_TRACEBACK") == "1"
    try:
        code: int = args._run(args)
        return code
    except MlgateError as exc:
        _error(str(exc))
        return exc.exit_code
    except KeyboardInterrupt:
        _error("interrupted")
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except Exception as exc:  # the one place that catches everything: a bug in mlgate
        if show_tb:
            import traceback

            traceback.print_exc()
        _error(
            f"internal error: {type(exc).__name__}: {exc} (rerun with --traceback and report it)"
        )
        return EXIT_BUG


def entry() -> None:
    sys.exit(main())


if __name__ == "__main__":
    entry()
