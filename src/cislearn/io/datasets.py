"""Writing a prepared dataset folder: pos.fa, neg.fa, DeepBIO dataset.fa, regions.bed, summary."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from cislearn.io.atomic import atomic_write
from cislearn.io.fasta import write_deepbio_fasta, write_fasta

if TYPE_CHECKING:
    import pandas as pd

    from cislearn.data import SequenceDataset

__all__ = ["write_dataset_files", "write_json", "write_dataset_table", "write_arrays"]


def write_json(path: str | os.PathLike[str], obj: Any) -> None:
    """Write ``obj`` as indented JSON, atomically (numpy scalars and arrays converted)."""

    def default(o: Any) -> Any:
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, Path):
            return str(o)
        raise TypeError(f"cannot write {type(o).__name__} to JSON")

    with atomic_write(path) as fh:
        json.dump(obj, fh, indent=2, default=default)
        fh.write("\n")


def write_dataset_files(
    dataset: SequenceDataset,
    out_dir: str | os.PathLike[str],
    *,
    regions: pd.DataFrame | None = None,
    summary: dict[str, Any] | None = None,
) -> dict[str, Path]:
    """Write a binary dataset as ``pos.fa``, ``neg.fa`` and DeepBIO ``dataset.fa`` in ``out_dir``.

    Also ``regions.bed`` (BED6 + label + split) when ``regions`` is given and ``summary.json``
    when ``summary`` is given. Each file is written atomically.

    Returns
    -------
    dict
        File role → path written.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    labels = dataset.labels
    written: dict[str, Path] = {}
    for name, label in (("pos.fa", 1), ("neg.fa", 0)):
        idx = np.flatnonzero(labels == label)
        write_fasta(out / name, ((dataset.ids[i], dataset.sequences[i]) for i in idx))
        written[name] = out / name
    if dataset.split is not None:
        write_deepbio_fasta(
            out / "dataset.fa",
            [i.replace("|", "_") for i in dataset.ids],
            labels.tolist(),
            list(dataset.split),
            list(dataset.sequences),
        )
        written["dataset.fa"] = out / "dataset.fa"
    if regions is not None:
        with atomic_write(out / "regions.bed") as fh:
            fh.write("#chrom\tstart\tend\tname\tlabel\tstrand\tsplit\n")
            for row in regions.itertuples(index=False):
                fh.write(
                    f"{row.chrom}\t{row.start}\t{row.end}\t{row.name}\t{row.label}\t.\t"
                    f"{getattr(row, 'split', '.')}\n"
                )
        written["regions.bed"] = out / "regions.bed"
    if summary is not None:
        write_json(out / "summary.json", summary)
        written["summary.json"] = out / "summary.json"
    return written


def write_dataset_table(
    dataset: SequenceDataset, path: str | os.PathLike[str], *, regions: pd.DataFrame | None = None
) -> Path:
    """Write a dataset as a table ``id, [chrom, start, end,] sequence, [split,] targets...``.

    ``regions`` (chrom, start, end, name) adds the coordinates of each record by ``name`` = id
    (start/end are left out when some records have none, such as shuffled negatives).
    :func:`cislearn.load_dataset` reads it back with every target column (or ``targets``).
    """
    import pandas as pd

    from cislearn.io.tables import write_table

    frame = pd.DataFrame({"id": list(dataset.ids)})
    coords = None
    if regions is not None:
        coords = regions.set_index("name")[["chrom", "start", "end"]].reindex(list(dataset.ids))
    if coords is not None and coords.notna().all().all():
        frame["chrom"] = coords["chrom"].to_numpy()
        frame["start"] = coords["start"].astype(np.int64).to_numpy()
        frame["end"] = coords["end"].astype(np.int64).to_numpy()
    elif dataset.chroms is not None:  # e.g. shuffled negatives: chromosome of their source
        frame["chrom"] = dataset.chroms
    frame["sequence"] = list(dataset.sequences)
    if dataset.split is not None:
        frame["split"] = dataset.split
    for j, name in enumerate(dataset.target_names):
        frame[name] = dataset.targets[:, j]
    write_table(path, frame)
    return Path(path)


def write_arrays(path: str | os.PathLike[str], **arrays: np.ndarray) -> Path:
    """Write named arrays as a compressed ``.npz``, atomically (read back with
    ``np.load(path, allow_pickle=False)``: only plain arrays, never objects)."""
    with atomic_write(path, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    return Path(path)
