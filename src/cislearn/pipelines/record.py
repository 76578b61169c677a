"""Output folders of the pipelines: the no-overwrite check and the run record (resolved options,
versions, seeds and input hashes written beside the outputs)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
from collections.abc import Mapping, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

from cislearn.errors import InputError
from cislearn.io.atomic import atomic_write

__all__ = ["claim_output", "write_record"]

_PACKAGES = ("torch", "numpy", "pandas", "tangermeme", "modisco-lite", "memelite", "captum")


def claim_output(out: str | os.PathLike[str], outputs: Sequence[str], *, force: bool) -> Path:
    """Create ``out`` and refuse (InputError) when one of its ``outputs`` already exists and
    ``force`` is False."""
    folder = Path(out)
    if folder.exists() and not folder.is_dir():
        raise InputError(f"{folder}: exists and is not a folder; choose another --out")
    present = [name for name in outputs if (folder / name).exists()]
    if present and not force:
        raise InputError(
            f"{folder / present[0]}: exists; use --force to overwrite or choose another --out"
        )
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _versions() -> dict[str, str]:
    import cislearn

    found = {"cislearn": cislearn.__version__, "python": platform.python_version()}
    for name in _PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return found


def write_record(
    out: str | os.PathLike[str],
    action: str,
    options: Mapping[str, Any],
    inputs: Mapping[str, str | os.PathLike[str] | None],
) -> Path:
    """Write ``record.json``: the action, its resolved options (seeds included), package
    versions and the SHA-256 of every input file (a model folder: of its files)."""
    hashes: dict[str, Any] = {}
    for key, value in inputs.items():
        if value is None:
            continue
        p = Path(value)
        if p.is_dir():
            hashes[key] = {
                f.name: _sha256(f)
                for f in sorted(p.iterdir())
                if f.is_file() and f.stat().st_size < 1 << 28
            }
        elif p.is_file():
            hashes[key] = _sha256(p)
    record = {
        "action": action,
        "options": {k: (str(v) if isinstance(v, Path) else v) for k, v in options.items()},
        "inputs": {k: str(v) for k, v in inputs.items() if v is not None},
        "sha256": hashes,
        "versions": _versions(),
    }
    path = Path(out) / "record.json"
    with atomic_write(path) as fh:
        json.dump(record, fh, indent=2, default=str)
    return path
