"""Motif hit-count features: FIMO (memelite) hits of JASPAR or user motifs per sequence."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.features import FeatureMatrix, as_sequence_list
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif, read_motifs

__all__ = ["motif_counts", "resolve_motifs"]


def resolve_motifs(
    motifs: Sequence[Motif] | str | os.PathLike[str] | None = None,
    *,
    release: str | None = None,
    collection: str | None = "CORE",
    tax_group: str | None = "vertebrates",
) -> list[Motif]:
    """The motifs to count: given ones, a MEME/JASPAR/TRANSFAC file, or the JASPAR database.

    Parameters
    ----------
    motifs : sequence of Motif, path, or None
        None → pyjaspar's bundled JASPAR ``release`` (newest by default), ``collection`` and
        ``tax_group`` (latest version of each matrix).

    Raises
    ------
    InputError
        No motifs, or two motifs with the same label (``id name``).
    """
    if motifs is None:
        found = load_jaspar(release=release, collection=collection, tax_group=tax_group)
    elif isinstance(motifs, str | os.PathLike):
        found = read_motifs(Path(motifs))
    else:
        found = list(motifs)
        bad = [type(m).__name__ for m in found if not isinstance(m, Motif)]
        if bad:
            raise InputError(f"motifs must be Motif objects; got {bad[0]}")
    if not found:
        raise InputError("no motifs to count (empty file or selection)")
    labels = [m.label for m in found]
    if len(set(labels)) != len(labels):
        seen: set[str] = set()
        dup = next(x for x in labels if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise InputError(f'motif "{dup}" appears twice; motif labels must be unique')
    return found


def motif_counts(
    sequences: Sequence[str],
    motifs: Sequence[Motif] | str | os.PathLike[str] | None = None,
    *,
    threshold: float = 1e-4,
    both_strands: bool = True,
    release: str | None = None,
    collection: str | None = "CORE",
    tax_group: str | None = "vertebrates",
) -> FeatureMatrix:
    """Number of FIMO hits of each motif in each sequence (memelite's ``fimo``).

    A hit is a window whose log-odds score (uniform background) has a p-value below
    ``threshold``; with ``both_strands`` hits on either strand count (a palindromic site can
    count twice, as in FIMO's output). Windows that contain an N can still score; windows that
    run past the end of a sequence never count.

    Parameters
    ----------
    sequences : sequence of str, length n
        DNA strings; lengths may differ.
    motifs : sequence of Motif, path, or None
        See :func:`resolve_motifs`; None → JASPAR ``release`` / ``collection`` / ``tax_group``.
    threshold : float
        p-value threshold, in (0, 1).
    both_strands : bool
        Also scan each motif's reverse complement.

    Returns
    -------
    FeatureMatrix
        ``values`` scipy.sparse CSR float32 of shape (n, n_motifs); ``names`` the motif labels,
        e.g. ``MA0139.2 CTCF``.

    Notes
    -----
    memelite compiles its numba kernels on first use and caches them on disk (next to its
    sources, or in ``NUMBA_CACHE_DIR``): on the CTCF benchmark a fresh process took 22.8 s
    the first time and 4.3 s the second (benchmarks/features.py).

    Examples
    --------
    >>> fm = motif_counts(seqs, load_jaspar(["MA0139.2"]))  # doctest: +SKIP
    >>> fm.names  # doctest: +SKIP
    ['MA0139.2 CTCF']
    """
    import scipy.sparse as sp

    if not (isinstance(threshold, float | int) and 0.0 < threshold < 1.0):
        raise InputError(f"threshold must be a p-value in (0, 1); got {threshold!r}")
    seqs = as_sequence_list(sequences)
    found = resolve_motifs(motifs, release=release, collection=collection, tax_group=tax_group)
    names = [m.label for m in found]
    n = len(seqs)
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
    width = int(lens.max()) if n else 0
    if n == 0 or width == 0:
        return FeatureMatrix(sp.csr_matrix((n, len(found)), dtype=np.float32), names)
    from memelite import fimo

    # N and padding are all-zero columns: memelite scores them 0 (no PWM row) and we drop hits
    # that reach into the padding of a shorter sequence below.
    x = one_hot(seqs, n_value=0.0) if len(set(lens.tolist())) == 1 else _padded(seqs, width)
    keys = [f"m{i}" for i in range(len(found))]  # memelite appends "-rc" to names
    hits = fimo(
        {key: m.pfm for key, m in zip(keys, found, strict=True)},
        x,
        threshold=float(threshold),
        reverse_complement=bool(both_strands),
    )
    rows, cols = [], []
    for j, frame in enumerate(hits):
        if len(frame) == 0:
            continue
        seq = frame["sequence_name"].to_numpy(dtype=np.int64)
        end = frame["end"].to_numpy(dtype=np.int64)
        ok = end <= lens[seq]
        rows.append(seq[ok])
        cols.append(np.full(int(ok.sum()), j, dtype=np.int64))
    row = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    col = np.concatenate(cols) if cols else np.zeros(0, np.int64)
    values = sp.csr_matrix((np.ones(row.size, dtype=np.float32), (row, col)), shape=(n, len(found)))
    values.sum_duplicates()
    return FeatureMatrix(values, names)


def _padded(seqs: list[str], width: int) -> np.ndarray:
    """One-hot (n, 4, width) float32 with each sequence left-aligned and zero padding."""
    x = np.zeros((len(seqs), 4, width), dtype=np.float32)
    for length in sorted(set(map(len, seqs))):
        idx = [i for i, s in enumerate(seqs) if len(s) == length]
        if length:
            x[idx, :, :length] = one_hot([seqs[i] for i in idx], n_value=0.0)
    return x
