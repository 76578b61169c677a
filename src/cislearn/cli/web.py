"""CLI command for the web app: ``cislearn serve``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

from cislearn.cli.app import Opt, app, echo


def parse_genomes(items: list[str] | None) -> dict[str, Path]:
    """``--genome hg38=/data/hg38.fa`` (repeatable) → {name: path}; each path must exist."""
    from cislearn.errors import ConfigError

    genomes: dict[str, Path] = {}
    for item in items or []:
        name, sep, path = item.partition("=")
        if not sep or not name.strip() or not path.strip():
            raise ConfigError(f"--genome expects NAME=PATH (e.g. hg38=/data/hg38.fa); got {item!r}")
        if not Path(path).is_file():
            raise ConfigError(f"--genome {name}: file not found: {path}")
        genomes[name.strip()] = Path(path).resolve()
    return genomes


#: Settings fields whose ``serve`` option has another name.
_OPTIONS = {"max_upload_bytes": "--max-upload-mb", "max_sequence_length": "--max-length"}


def _option_name(field: str) -> str:
    return _OPTIONS.get(field, "--" + field.replace("_", "-"))


@app.command()
def serve(
    host: Annotated[str, Opt(help="Address to listen on (127.0.0.1: this machine only).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, Opt(help="Port.")] = 8000,
    data_dir: Annotated[Path, Opt(help="Folder for jobs, outputs and the job database.")] = Path(
        "cislearn_data"
    ),
    workers: Annotated[int, Opt(help="Worker processes running jobs at the same time.")] = 1,
    token: Annotated[
        str | None, Opt(help="Access token required on every request (or env CISLEARN_TOKEN).")
    ] = None,
    genome: Annotated[
        list[str] | None, Opt(help="NAME=PATH of a genome FASTA offered for variants (repeatable).")
    ] = None,
    db_url: Annotated[
        str | None, Opt(help="SQLAlchemy URL of the job database (default: SQLite in data-dir).")
    ] = None,
    max_upload_mb: Annotated[float, Opt(help="Largest upload per request, in MB.")] = 50.0,
    max_sequences: Annotated[int, Opt(help="Most sequences per training input.")] = 200_000,
    max_length: Annotated[
        int,
        Opt(
            help="Longest sequence accepted (bp) in training inputs, predictions and mutation "
            "maps; longer ones are refused (a worker's memory grows with the length)."
        ),
    ] = 10_000,
    accelerator: Annotated[
        str,
        Opt(
            help="auto|cpu|gpu: where jobs train and score (auto: a GPU when present); "
            "predictions asked on a page run on the CPU."
        ),
    ] = "auto",
) -> int:
    """Start the web app: pages and REST API (/api/v1, reference at /api) plus job workers."""
    import uvicorn
    from pydantic import ValidationError

    from cislearn.config import config_error
    from cislearn.web.app import create_app
    from cislearn.web.settings import TOKEN_ENV, Settings

    try:
        settings = Settings(
            data_dir=data_dir,
            db_url=db_url,
            workers=workers,
            token=token or os.environ.get(TOKEN_ENV) or None,
            genomes=parse_genomes(genome),
            max_upload_bytes=int(max_upload_mb * 1_000_000),
            max_sequences=max_sequences,
            max_sequence_length=max_length,
            accelerator=accelerator,
        )
    except ValidationError as exc:  # one line naming the option, no traceback
        raise config_error(exc, model=Settings, label=_option_name) from None
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.token:
        echo(f"warning: listening on {host} without a token; anyone who can reach it can use it")
    echo(f"cislearn web app on http://{host}:{port}/ (data in {data_dir}; Ctrl-C stops it)")
    uvicorn.run(create_app(settings), host=host, port=port, log_level="warning")
    return 0
