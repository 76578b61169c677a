"""CLI commands for foreign models: import-keras (Keras HDF5 → a cislearn model bundle)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import Opt, app, echo


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
) -> int:
    """Import a Keras HDF5 model (no TensorFlow needed) as a bundle for predict, mutation-map..."""
    import hashlib

    from cislearn.errors import ConfigError
    from cislearn.io.bundle import save_bundle
    from cislearn.models.keras import read_keras

    km = read_keras(model, length=length)
    names = list(target) if target else ["label"]
    n_targets = 1 if km.task == "multiclass" else km.n_outputs
    if not target and n_targets > 1:
        names = [f"output_{i}" for i in range(n_targets)]
    if len(names) != n_targets:
        raise ConfigError(
            f"--target: the model has {n_targets} target(s); got {len(names)} name(s)"
        )
    net = km.build()
    meta = {
        "arch": km.arch,
        "model": km.model,
        "length": km.length,
        "n_outputs": km.n_outputs,
        "n_tracks": km.n_tracks,
        "track_names": [f"track_{i}" for i in range(km.n_tracks)],
        "task": km.task,
        "target_names": names,
        # as cislearn.train.output_names (not imported: it would load Lightning for nothing)
        "output_names": (
            [f"{names[0]}_{k}" for k in range(km.n_outputs)] if km.task == "multiclass" else names
        ),
        "n_value": 0.25,
        "rc_average": False,
        "source": {
            "keras_file": str(model),
            "sha256": hashlib.sha256(model.read_bytes()).hexdigest(),
            **km.info,
        },
    }
    save_bundle(out, net.state_dict(), meta)
    echo(
        f"imported {km.info.get('class_name')} model ({len(km.info.get('layers', []))} Keras "
        f"layers → arch '{km.arch}', task {km.task}, length {km.length}) into {out}"
    )
    return 0
