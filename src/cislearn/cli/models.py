"""CLI commands for foreign models: import-keras (Keras HDF5 → a cislearn model bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import Force, Opt, app, echo, out_dir


@app.command("import-keras")
def import_keras(
    model: Annotated[Path, typer.Argument(help="Keras .h5/.hdf5 file (whole model, not weights).")],
    out: Annotated[Path, Opt(help="Bundle (run) folder to write.")],
    length: Annotated[
        int | None, Opt(help="Input length, if the Keras model does not fix it.")
    ] = None,
    target: Annotated[
        list[str] | None, Opt(help="Name of each output (repeat); default 'label'.")
    ] = None,
    force: Force = False,
) -> int:
    """Import a Keras HDF5 model (no TensorFlow needed) as a bundle for predict, mutation-map..."""
    from cislearn.pipelines.keras import import_keras_run

    with out_dir(out, "import-keras", force):
        km = import_keras_run(model, out, length=length, targets=target).keras
    echo(
        f"imported {km.info.get('class_name')} model ({len(km.info.get('layers', []))} Keras "
        f"layers → arch '{km.arch}', task {km.task}, length {km.length}) into {out}"
    )
    return 0
