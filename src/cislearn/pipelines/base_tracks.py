"""Per-base results (attributions, mutation-map summaries) of genomic windows → a bigWig track."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cislearn.errors import ConfigError
from cislearn.io.atomic import refuse_overwrite
from cislearn.tracks import base_track, coordinates

__all__ = ["write_base_track"]


def write_base_track(
    path: str | os.PathLike[str],
    ids: Sequence[str],
    values: np.ndarray,
    *,
    genome: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> int:
    """Write per-base ``values`` (n, L) of windows named ``chrom:start-end`` as a bigWig.

    Overlapping windows are averaged per base (:func:`cislearn.tracks.base_track`). The header
    takes the chromosome sizes of ``genome`` when given, else each chromosome's last covered
    base (enough for a browser to show the track on the right assembly).

    Returns
    -------
    int
        Bases written.
    """
    from cislearn.io.bigwig import write_bigwig

    path = Path(path)
    refuse_overwrite(path, force)
    coords = coordinates(ids)
    if ((coords["end"] - coords["start"]).to_numpy() != values.shape[1]).any():
        raise ConfigError(
            f"window coordinates in the ids do not span the {values.shape[1]} bp of the values"
        )
    runs = base_track(coords["chrom"].tolist(), coords["start"].to_numpy(), values)
    if genome is not None:
        from cislearn.io.genome import Genome

        with Genome(genome) as g:
            sizes = dict(g.lengths)
    else:
        sizes = {}
        for chrom, _, ends, _ in runs:
            sizes[chrom] = max(sizes.get(chrom, 0), int(ends[-1]))
    if not runs:
        raise ConfigError("no windows to write")
    return write_bigwig(
        path,
        sizes,
        np.concatenate([[c] * len(s) for c, s, _, _ in runs]),
        np.concatenate([s for _, s, _, _ in runs]),
        np.concatenate([e for _, _, e, _ in runs]),
        np.concatenate([v for _, _, _, v in runs]),
    )
