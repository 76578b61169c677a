"""Pickle-free baseline files: saving, and checked loading of baseline.npz + baseline.json."""

from __future__ import annotations

import hashlib
import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from cislearn.baseline.models import BASELINE_TASKS, LINEAR_MODELS, MODELS, BaselineModel
from cislearn.baseline.specs import parse_features
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.io.atomic import atomic_write
from cislearn.io.motifs import Motif

MODEL_FILE = "baseline.npz"
META_FILE = "baseline.json"
FORMAT = "cislearn-baseline"
FORMAT_VERSION = 1
_LINEAR_KEYS = ("scale", "coef", "intercept")
_FOREST_KEYS = ("left", "right", "feature", "threshold", "value", "roots")


def is_baseline(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a folder holding a baseline model file."""
    return (Path(path) / META_FILE).is_file()


def save_baseline(
    model: BaselineModel, path: str | os.PathLike[str], *, extra: dict[str, Any] | None = None
) -> Path:
    """Write ``baseline.npz`` (arrays; no pickle) and ``baseline.json`` into folder ``path``.

    The JSON holds everything else, including the SHA-256 of the npz so a changed or swapped
    array file is refused on loading; ``extra`` items (run provenance: split counts, data
    hashes) are added to it. Returns the JSON path.
    """
    out = Path(path)
    out.mkdir(parents=True, exist_ok=True)
    arrays = {f"a_{k}": np.asarray(v) for k, v in model.arrays.items()}
    arrays["importance"] = np.asarray(model.importance, dtype=np.float64)
    for i, m in enumerate(model.motifs):
        arrays[f"motif_{i}"] = np.asarray(m.counts, dtype=np.float64)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    data = buf.getvalue()
    with atomic_write(out / MODEL_FILE, "wb") as fh:
        fh.write(data)
    meta = {
        **(extra or {}),
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": "baseline",
        "arch": f"baseline {model.model}",
        "model": model.model,
        "task": model.task,
        "features": [str(s) for s in model.features],
        "feature_names": model.feature_names,
        "target_names": model.target_names,
        "permutation": model.permutation,
        "motifs": [[m.id, m.name] for m in model.motifs],
        "info": model.info,
        "npz_sha256": hashlib.sha256(data).hexdigest(),
    }
    with atomic_write(out / META_FILE) as fh:
        fh.write(json.dumps(meta, indent=1, default=_json_default) + "\n")
    return out / META_FILE


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def _check(ok: bool, where: Path, problem: str) -> None:
    if not ok:
        raise ModelLoadError(f"{where}: damaged baseline model: {problem}")


def load_baseline(path: str | os.PathLike[str]) -> BaselineModel:
    """Read a model written by :func:`save_baseline`; nothing is unpickled.

    Raises
    ------
    ModelLoadError
        Missing files, a checksum mismatch (the npz was changed), or arrays whose shapes or
        tree links do not describe a valid model.
    """
    folder = Path(path)
    meta_path, npz_path = folder / META_FILE, folder / MODEL_FILE
    try:
        meta = json.loads(meta_path.read_text())
        data = npz_path.read_bytes()
    except FileNotFoundError as exc:
        raise ModelLoadError(
            f"{folder}: no baseline model ({Path(exc.filename).name} missing)"
        ) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ModelLoadError(f"{meta_path}: not valid JSON: {exc}") from None
    _check(isinstance(meta, dict) and meta.get("format") == FORMAT, meta_path, "unknown format")
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ModelLoadError(f"{meta_path}: written by a newer cislearn; upgrade cislearn")
    _check(
        hashlib.sha256(data).hexdigest() == meta.get("npz_sha256"),
        npz_path,
        "its SHA-256 does not match baseline.json (the file was changed or swapped)",
    )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        model, task = meta["model"], meta["task"]
        features = parse_features(meta["features"])
        names = [str(n) for n in meta["feature_names"]]
        targets = [str(n) for n in meta["target_names"]]
        motifs = [
            Motif(str(mid), str(name), arrays[f"motif_{i}"])
            for i, (mid, name) in enumerate(meta["motifs"])
        ]
    except (KeyError, ValueError, TypeError, OSError, InputError, ConfigError) as exc:
        raise ModelLoadError(f"{folder}: damaged baseline model: {exc}") from None
    _check(
        model in MODELS and task in BASELINE_TASKS, meta_path, f"model {model!r} / task {task!r}"
    )
    parts = {k[2:]: v for k, v in arrays.items() if k.startswith("a_")}
    p, t = len(names), len(targets)
    if model in LINEAR_MODELS:
        keys = _LINEAR_KEYS + (("platt",) if model == "svm" else ())
        _check(all(k in parts for k in keys), npz_path, "missing arrays")
        _check(
            parts["scale"].shape == (p,)
            and parts["coef"].shape == (t, p)
            and parts["intercept"].shape == (t,)
            and (model != "svm" or parts["platt"].shape == (t, 2)),
            npz_path,
            "array shapes do not fit the feature and target names",
        )
        parts = {k: np.asarray(v, dtype=np.float64) for k, v in parts.items()}
    else:
        _check(all(k in parts for k in _FOREST_KEYS), npz_path, "missing arrays")
        _check_forest(parts, p, t, npz_path)
    importance = arrays.get("importance", np.zeros(p))
    _check(importance.shape == (p,), npz_path, "importance has the wrong shape")
    return BaselineModel(
        model,
        task,
        features,
        names,
        targets,
        parts,
        importance,
        {str(k): float(v) for k, v in meta.get("permutation", {}).items()},
        motifs,
        dict(meta.get("info", {})),
    )


def _check_forest(parts: dict[str, np.ndarray], p: int, t: int, where: Path) -> None:
    """Links must point forward inside their own tree (so a walk always ends at a leaf)."""
    for k in ("left", "right", "feature", "roots"):
        _check(parts[k].dtype.kind == "i", where, f"{k} is not integer")
        parts[k] = parts[k].astype(np.int64)
    left, right, feature, roots = parts["left"], parts["right"], parts["feature"], parts["roots"]
    nodes = left.shape[0]
    _check(
        left.shape == right.shape == feature.shape == parts["threshold"].shape == (nodes,)
        and parts["value"].shape == (nodes, t)
        and roots.ndim == 1
        and roots.size >= 2
        and roots[0] == 0
        and roots[-1] == nodes
        and bool(np.all(np.diff(roots) > 0)),
        where,
        "tree arrays have inconsistent shapes",
    )
    tree_end = np.repeat(roots[1:], np.diff(roots))
    index = np.arange(nodes)
    leaf = left < 0
    inner = ~leaf
    _check(bool(np.all(right[leaf] < 0)), where, "a leaf has one child")
    _check(
        bool(
            np.all((left[inner] > index[inner]) & (left[inner] < tree_end[inner]))
            and np.all((right[inner] > index[inner]) & (right[inner] < tree_end[inner]))
            and np.all((feature[inner] >= 0) & (feature[inner] < p))
        ),
        where,
        "tree links or feature indices out of range",
    )
    parts["threshold"] = parts["threshold"].astype(np.float64)
    parts["value"] = parts["value"].astype(np.float64)
