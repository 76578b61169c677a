"""The `import-keras` action: a Keras HDF5 model (no TensorFlow needed) → a cislearn bundle."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.errors import ConfigError

__all__ = ["KerasImport", "import_keras_run"]


class KerasImport(NamedTuple):
    """What :func:`import_keras_run` wrote: the bundle folder and what was read."""

    out: Path
    keras: Any
    """:class:`cislearn.models.keras.KerasModel` (arch, task, length, info...)."""


def import_keras_run(
    model: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    length: int | None = None,
    targets: Sequence[str] | None = None,
) -> KerasImport:
    """Read a whole-model Keras HDF5 file and save it as a bundle in ``out`` (usable by
    ``predict``, ``mutation-map``, ``score-variants`` ...).

    ``targets`` names each target (default ``label``, or ``output_<i>`` for several); the
    bundle records the source file's SHA-256 and the Keras layers read.
    """
    from cislearn.io.bundle import save_bundle
    from cislearn.models.keras import read_keras

    model = Path(model)
    km = read_keras(model, length=length)
    names = list(targets) if targets else ["label"]
    n_targets = 1 if km.task == "multiclass" else km.n_outputs
    if not targets and n_targets > 1:
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
    return KerasImport(Path(out), km)
