"""Inputs shared by the interpretation pipelines: a deep model bundle, genome regions of FASTA
records, and motifs given as JASPAR IDs, sequences or motif files."""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif, read_motifs

__all__ = [
    "load_deep_model",
    "regions_for",
    "resolve_motif",
    "parse_ranges",
]

_HEADER = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)(?:\((?P<strand>[+-])\))?$")
_JASPAR = re.compile(r"^MA\d{4}(\.\d+)?$", re.IGNORECASE)


def load_deep_model(run: str | os.PathLike[str]) -> Any:
    """A :class:`~cislearn.predict.DeepPredictor` of a run folder (not a baseline)."""
    from cislearn.runload import load_run

    predictor = load_run(run)
    if getattr(predictor, "kind", "deep") != "deep":
        raise InputError(
            f"{run}: a baseline run has no network to explain; give a deep model's run folder"
        )
    return predictor


def regions_for(
    ids: Sequence[str],
    length: int,
    bed: str | os.PathLike[str] | None = None,
) -> pd.DataFrame | None:
    """Genome region of each record: from a BED file (one line per record, same order; a
    GRanges-style 1-based inclusive file is recognised by ``end - start = length - 1``), else
    from ``chrom:start-end`` ids (0-based, half-open, as ``bedtools getfasta`` writes them),
    else None.

    Returns
    -------
    DataFrame or None
        ``chrom``, ``start`` (0-based), ``end``, ``strand``.
    """
    if bed is not None:
        from cislearn.intervals import from_grange_bed
        from cislearn.io.bed import read_bed

        frame = read_bed(bed)
        if len(frame) < len(ids):
            raise InputError(
                f"--regions: {len(frame)} intervals for {len(ids)} sequences; give one per "
                "FASTA record, in the same order",
                path=bed,
            )
        frame = frame.iloc[: len(ids)]
        width = (frame["end"] - frame["start"]).to_numpy()
        if (width == length - 1).all():
            frame = from_grange_bed(frame)
        elif not (width == length).all():
            bad = int(np.flatnonzero(width != length)[0])
            raise InputError(
                f"--regions: line {int(frame['line'].iloc[bad])}: interval of {int(width[bad])} bp "
                f"for a {length}-bp sequence",
                path=bed,
            )
        return frame[["chrom", "start", "end", "strand"]].reset_index(drop=True)
    parsed = [_HEADER.match(i) for i in ids]
    if not all(parsed):
        return None
    return pd.DataFrame(
        {
            "chrom": [m["chrom"] for m in parsed],
            "start": [int(m["start"]) for m in parsed],
            "end": [int(m["end"]) for m in parsed],
            "strand": [m["strand"] or "+" for m in parsed],
        }
    )


def resolve_motif(spec: str, *, release: str | None = None) -> Motif:
    """A motif from ``spec``: a JASPAR matrix ID (``MA0139`` or ``MA0139.2``), a sequence of
    A C G T N (a one-hot motif), or ``FILE`` / ``FILE#ID`` (MEME, JASPAR or TRANSFAC; the
    first motif, or the one with that ID, e.g. ``motifs/motifs.meme#pos_0``)."""
    text = spec.strip()
    if not text:
        raise InputError("motif: empty; give a JASPAR ID, a sequence or FILE[#ID]")
    if _JASPAR.match(text):
        return load_jaspar([text.upper()], release=release)[0]
    path, _, wanted = text.partition("#")
    if Path(path).is_file():
        motifs = read_motifs(path)
        if not wanted:
            return motifs[0]
        for m in motifs:
            if m.id == wanted:
                return m
        raise InputError(
            f"motif {wanted!r} is not in the file; it holds: {', '.join(m.id for m in motifs[:8])}",
            path=path,
        )
    upper = text.upper()
    bad = sorted(set(upper) - set("ACGTN"))
    if bad:
        raise InputError(
            f"motif {spec!r}: not a JASPAR ID (MA0139.2), an existing file or a sequence "
            f"(unexpected {bad[0]!r}; allowed in a sequence: A C G T N)"
        )
    counts = np.array([[float(b == c) for b in upper] for c in "ACGT"])
    counts[:, counts.sum(axis=0) == 0] = 0.25
    return Motif(upper, "", counts)


def parse_ranges(text: str | None, length: int) -> np.ndarray:
    """Boolean mask (length,) of ``"90-110,150"`` (0-based, half-open ranges or positions)."""
    mask = np.zeros(length, bool)
    if not text:
        return mask
    for part in text.split(","):
        item = part.strip()
        if not item:
            continue
        a, sep, b = item.partition("-")
        try:
            start, end = int(a), (int(b) if sep else int(a) + 1)
        except ValueError:
            raise InputError(
                f"--fixed: {item!r} is not a position or a range like 90-110 (0-based, half-open)"
            ) from None
        if not 0 <= start < end <= length:
            raise InputError(f"--fixed: {item!r} is outside 0-{length} or empty")
        mask[start:end] = True
    return mask
