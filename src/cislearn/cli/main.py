"""The `cislearn` command line: one subcommand per stage; parse → one library call → write.

Commands live in topic modules that register on the shared typer app (cli/app.py). Library
modules are imported inside each command so that ``cislearn --help`` stays fast (no
numpy/pandas/torch import on that path).
"""

from __future__ import annotations

import logging
import sys

import typer

# Importing a command module registers its commands on `app`; the order is the help order.
from cislearn.cli import (  # noqa: F401
    baseline,
    data,
    experiments,
    interpret,
    models,
    tracks,  # noqa: F401  (issue 16: prepare with signals, scan)
    training,
    variants,
    web,
)
from cislearn.cli.app import app


def main(argv: list[str] | None = None) -> int:
    """Run the CLI in-process and return its exit code (errors → one line on stderr, exit 2)."""
    from cislearn.errors import CislearnError

    logging.basicConfig(level=logging.WARNING, format="cislearn: %(levelname)s: %(message)s")
    try:
        # Standalone mode: typer/click print usage errors themselves and exit 2.
        app(args=argv, prog_name="cislearn", standalone_mode=True)
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except CislearnError as exc:
        typer.echo(f"cislearn: error: {exc}", err=True)
        return 2
    except (FileNotFoundError, IsADirectoryError, PermissionError, NotADirectoryError) as exc:
        name = f"{exc.filename}: " if exc.filename is not None else ""
        typer.echo(f"cislearn: error: {name}{exc.strerror or exc}", err=True)
        return 2
    return 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
