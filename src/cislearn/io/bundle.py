"""Model bundles on disk: ``model.safetensors`` (weights) + ``model.json`` (metadata); no pickle.

A bundle is a directory. The weights are stored with safetensors, which holds only raw tensor
bytes and a JSON header, so reading a bundle never runs code from the file (``torch.load`` of
a pickle can). ``model.json`` records how to rebuild the model and where it came from, plus
the SHA-256 of the weights file so that mixed-up or tampered pairs are caught.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as _load_safetensors
from safetensors.torch import save as _save_safetensors

from cislearn.errors import ModelLoadError, where
from cislearn.io.atomic import atomic_write

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "WEIGHTS_FILE",
    "META_FILE",
    "REQUIRED_KEYS",
    "Bundle",
    "save_bundle",
    "read_bundle",
    "read_meta",
    "is_bundle",
]

FORMAT = "cislearn-bundle"
#: Bumped whenever model.json changes incompatibly; readers refuse newer versions.
FORMAT_VERSION = 1
WEIGHTS_FILE = "model.safetensors"
META_FILE = "model.json"
#: Keys model.json must have so that ``cislearn.predict`` can rebuild the model.
REQUIRED_KEYS: tuple[str, ...] = (
    "arch",
    "model",
    "length",
    "n_outputs",
    "n_tracks",
    "task",
    "target_names",
)


class Bundle(NamedTuple):
    """Contents of a bundle directory."""

    state_dict: dict[str, torch.Tensor]
    """Parameter and buffer tensors by name, on CPU."""
    meta: dict[str, Any]
    """The parsed ``model.json``."""


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (Path, os.PathLike)):
        return os.fspath(obj)
    if isinstance(obj, (set, frozenset)):
        return sorted(obj)
    raise TypeError(f"model.json: cannot store a {type(obj).__name__}")


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bundle(
    run_dir: str | os.PathLike[str],
    state_dict: Mapping[str, torch.Tensor],
    meta: Mapping[str, Any],
) -> None:
    """Write ``model.safetensors`` and ``model.json`` into ``run_dir``, each atomically.

    Parameters
    ----------
    run_dir : path
        Bundle directory (created if missing; other files in it are left alone).
    state_dict : mapping of str to Tensor
        The model's ``state_dict()``; tensors are copied to CPU and made contiguous.
    meta : mapping
        JSON-serialisable metadata. Must hold :data:`REQUIRED_KEYS` (``arch``, ``model``
        (architecture parameters), ``length``, ``n_outputs``, ``n_tracks``, ``task``,
        ``target_names``); usually also ``seed``, ``data`` hashes, ``split`` and the training
        ``config``. ``format``, ``format_version``, ``cislearn_version``, ``alphabet`` and
        ``weights_sha256`` are filled in here.

    Raises
    ------
    ValueError
        A required key is missing or a value cannot be written as JSON (a programming
        error, not a user one).

    Examples
    --------
    >>> save_bundle("runs/ctcf", model.state_dict(), meta)  # doctest: +SKIP
    """
    from cislearn import __version__

    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ValueError(f"bundle metadata lacks {', '.join(missing)}")
    # Clone: safetensors refuses tensors that share storage (e.g. tied weights or views).
    tensors = {str(k): v.detach().to("cpu").contiguous().clone() for k, v in state_dict.items()}
    weights = _save_safetensors(tensors, metadata={"format": "pt"})
    record = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "cislearn_version": __version__,
        "alphabet": "ACGT",
        **{k: v for k, v in meta.items() if k not in ("format", "format_version")},
        "weights_sha256": _sha256(weights),
    }
    try:
        text = json.dumps(record, indent=2, default=_json_default, allow_nan=True)
    except (TypeError, ValueError) as exc:
        raise ValueError(str(exc)) from None
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    # Weights first, metadata last: model.json names the weights' hash, so a crash between
    # the two writes leaves a pair that read_bundle reports as mismatched, never a silent mix.
    with atomic_write(run / WEIGHTS_FILE, "wb") as fh:
        fh.write(weights)
    with atomic_write(run / META_FILE) as fh:
        fh.write(text + "\n")


def _bundle_dir(path: str | os.PathLike[str]) -> Path:
    path = Path(path)
    if path.name in (META_FILE, WEIGHTS_FILE):
        return path.parent
    return path


def is_bundle(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` is a directory holding ``model.json`` and ``model.safetensors``."""
    run = _bundle_dir(path)
    return (run / META_FILE).is_file() and (run / WEIGHTS_FILE).is_file()


def read_meta(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Parse and check ``model.json`` of a bundle (weights not read).

    Raises
    ------
    ModelLoadError
        Missing file, invalid JSON, not a cislearn bundle, an unknown format version or a
        missing required key; the one-line message names the file.
    """
    run = _bundle_dir(path)
    file = run / META_FILE
    if not run.exists():
        raise ModelLoadError(f"{run}: no such model bundle (train one with `cislearn train`)")
    if not file.is_file():
        raise ModelLoadError(
            f"{file}: missing; {run} is not a model bundle (it needs {META_FILE} and "
            f"{WEIGHTS_FILE}, as written by `cislearn train`)"
        )
    try:
        meta = json.loads(file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise ModelLoadError(f"{where(file, line=exc.lineno)}: invalid JSON: {exc.msg}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{file}: cannot read ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ModelLoadError(f"{file}: not a cislearn model description (no format '{FORMAT}')")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ModelLoadError(f"{file}: invalid format_version {version!r}")
    if version > FORMAT_VERSION:
        raise ModelLoadError(
            f"{file}: format version {version} is newer than this cislearn reads "
            f"(<= {FORMAT_VERSION}); upgrade cislearn"
        )
    missing = [k for k in REQUIRED_KEYS if k not in meta]
    if missing:
        raise ModelLoadError(f"{file}: missing key(s) {', '.join(missing)}")
    return meta


def read_bundle(path: str | os.PathLike[str]) -> Bundle:
    """Read a bundle's weights and metadata without unpickling anything.

    Parameters
    ----------
    path : path
        The bundle directory (or its ``model.json`` / ``model.safetensors``).

    Returns
    -------
    Bundle
        ``state_dict`` (CPU tensors) and ``meta`` (dict).

    Raises
    ------
    ModelLoadError
        Any problem with either file: missing, invalid JSON, unknown format version,
        weights that do not parse as safetensors (e.g. a pickle renamed to
        ``model.safetensors``), weights whose SHA-256 differs from the one recorded, or no
        recorded SHA-256 at all (the weights could not be verified).

    Examples
    --------
    >>> state, meta = read_bundle("runs/ctcf")  # doctest: +SKIP
    >>> meta["arch"]  # doctest: +SKIP
    'cnn-multi'
    """
    meta = read_meta(path)
    run = _bundle_dir(path)
    file = run / WEIGHTS_FILE
    if not file.is_file():
        raise ModelLoadError(f"{file}: missing (the bundle has {META_FILE} but no weights)")
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise ModelLoadError(f"{file}: cannot read ({exc})") from None
    expected = meta.get("weights_sha256")
    if not isinstance(expected, str):
        # without the hash, flipped weight bytes would load and predict silently wrong values
        raise ModelLoadError(
            f"{run / META_FILE}: no 'weights_sha256', so {WEIGHTS_FILE} cannot be verified; "
            "re-save the bundle with cislearn (save_bundle records the hash)"
        )
    if _sha256(data) != expected:
        raise ModelLoadError(
            f"{file}: SHA-256 differs from the one in {META_FILE}; the weights were changed or "
            "belong to another model (re-export the bundle)"
        )
    try:
        # safetensors parses a length-prefixed JSON header and raw little-endian buffers:
        # nothing in the file is ever executed.
        state = _load_safetensors(data)
    except SafetensorError as exc:
        raise ModelLoadError(f"{file}: not a valid safetensors file ({exc})") from None
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(v.isfinite().all())]
    if bad:
        # Non-finite weights load fine but predict NaN everywhere: refuse them by name.
        raise ModelLoadError(f"{file}: tensor '{bad[0]}' holds NaN or infinite values")
    return Bundle(state, meta)
