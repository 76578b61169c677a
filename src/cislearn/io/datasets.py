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

__all__ = ["write_dataset_files", "write_json"]


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
