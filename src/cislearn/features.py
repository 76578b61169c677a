"""Feature matrices with named columns for classical models: nucleotide composition (so far)."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.encode import ALPHABET, N_CODE, to_codes
from cislearn.errors import InputError

__all__ = ["FeatureMatrix", "composition", "concat", "kmer_names", "MAX_COMPOSITION_ORDER"]

#: Largest k of :func:`composition` (4**6 = 4,096 dense columns); longer k-mers belong in
#: sparse k-mer count features.
MAX_COMPOSITION_ORDER = 6
_CHUNK_BASES = 1 << 22  # bases encoded per pass: bounds the temporary arrays to ~100 MB


class FeatureMatrix(NamedTuple):
    """A feature matrix and the name of each column.

    Attributes
    ----------
    values : ndarray of float32, shape (n, p), or scipy.sparse matrix (n, p)
        One row per sequence, in input order.
    names : list of str, length p
        Column names, e.g. ``A``, ``C``, …, ``AA``, ``AC``, …, ``TTT``.
    """

    values: Any
    names: list[str]

    @property
    def shape(self) -> tuple[int, int]:
        """``(n, p)``."""
        return tuple(self.values.shape)  # type: ignore[return-value]

    def to_frame(self, index: Sequence[str] | None = None) -> pd.DataFrame:
        """The matrix as a DataFrame (dense; sparse values are densified) with named columns."""
        values = self.values.toarray() if hasattr(self.values, "toarray") else self.values
        return pd.DataFrame(values, columns=self.names, index=None if index is None else index)


def kmer_names(k: int) -> list[str]:
    """All k-mers over ``ACGT`` in code order (``AA, AC, AG, AT, CA, …``), 4**k names."""
    return ["".join(p) for p in product(ALPHABET, repeat=k)]


def _check_orders(orders: Any) -> tuple[int, ...]:
    try:
        ks = tuple(orders)
    except TypeError:
        ks = (orders,)
    bad = [
        k
        for k in ks
        if isinstance(k, bool)
        or not isinstance(k, int | np.integer)
        or not 1 <= k <= MAX_COMPOSITION_ORDER
    ]
    if not ks or bad or len(set(ks)) != len(ks):
        raise InputError(
            f"orders must be distinct ints from 1 to {MAX_COMPOSITION_ORDER}, e.g. (1, 2); "
            f"got {orders!r}"
        )
    return tuple(int(k) for k in ks)


def _seq_list(sequences: Any) -> list[str]:
    if isinstance(sequences, str):
        raise InputError("sequences must be a list of strings, not one string; wrap it: [seq]")
    seqs = list(sequences)
    for i, s in enumerate(seqs):
        if not isinstance(s, str):
            raise InputError(f"sequence {i} is {type(s).__name__}, expected str")
    return seqs


def _count_chunk(seqs: list[str], ks: tuple[int, ...]) -> list[np.ndarray]:
    """k-mer counts of ``seqs`` for each k, as int arrays of shape (len(seqs), 4**k).

    Vectorised over all sequences at once, whatever their lengths: the sequences are joined
    with an ``N`` between them, so no valid k-mer spans two sequences, and each window is
    attributed to the sequence it starts in.
    """
    n = len(seqs)
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
    codes = to_codes("N".join(seqs)) if n else np.zeros(0, dtype=np.uint8)
    owner = np.repeat(np.arange(n, dtype=np.int64), lens + 1)[: codes.size]
    counts = []
    for k in ks:
        m = codes.size - k + 1
        if m <= 0:
            counts.append(np.zeros((n, 4**k), dtype=np.int64))
            continue
        ids = np.zeros(m, dtype=np.int64)
        unknown = np.zeros(m, dtype=bool)
        for j in range(k):  # loop over the k positions, vectorised over all windows
            window = codes[j : j + m]
            ids = ids * 4 + window
            unknown |= window == N_CODE
        keep = ~unknown
        flat = owner[:m][keep] * 4**k + ids[keep]
        counts.append(np.bincount(flat, minlength=n * 4**k).reshape(n, 4**k))
    return counts


def composition(sequences: Sequence[str], *, orders: Sequence[int] = (1, 2)) -> FeatureMatrix:
    """Mono-, di- (tri-, …) nucleotide frequencies of each sequence.

    For each order k, the count of every k-mer over ``ACGT`` (case-insensitive; a window with
    an N or any other letter is not counted) divided by the number of valid k-mers of that
    sequence, so each order's block sums to 1 per row (0 for a row without a valid k-mer).

    Parameters
    ----------
    sequences : sequence of str, length n
        DNA strings; lengths may differ.
    orders : sequence of int
        The k-mer lengths, 1 to :data:`MAX_COMPOSITION_ORDER`; blocks appear in this order.

    Returns
    -------
    FeatureMatrix
        ``values`` float32 of shape (n, sum(4**k)); ``names`` the k-mers (``A``, …, ``TT``).

    Examples
    --------
    >>> fm = composition(["AACG", "ANNT"], orders=(1, 2))
    >>> fm.names[:5], fm.values[0, :4].tolist()
    (['A', 'C', 'G', 'T', 'AA'], [0.5, 0.25, 0.25, 0.0])
    >>> fm.values[1, 4:].sum()  # ANNT has no valid dinucleotide
    np.float32(0.0)
    """
    ks = _check_orders(orders)
    seqs = _seq_list(sequences)
    n = len(seqs)
    blocks = [np.zeros((n, 4**k), dtype=np.float32) for k in ks]
    start = 0
    while start < n:  # chunks of about _CHUNK_BASES bases bound the temporary arrays
        stop, size = start, 0
        while stop < n and (stop == start or size + len(seqs[stop]) <= _CHUNK_BASES):
            size += len(seqs[stop]) + 1
            stop += 1
        for block, counts in zip(blocks, _count_chunk(seqs[start:stop], ks), strict=True):
            total = counts.sum(axis=1, keepdims=True)
            block[start:stop] = counts / np.maximum(total, 1)
        start = stop
    names = [name for k in ks for name in kmer_names(k)]
    values = np.concatenate(blocks, axis=1) if blocks else np.zeros((n, 0), dtype=np.float32)
    return FeatureMatrix(values, names)


def concat(matrices: Sequence[FeatureMatrix]) -> FeatureMatrix:
    """Columns of several feature matrices side by side (sparse if any input is sparse).

    Raises
    ------
    InputError
        When the matrices differ in row count or repeat a column name.
    """
    if not matrices:
        raise InputError("concat needs at least one feature matrix")
    rows = {m.values.shape[0] for m in matrices}
    if len(rows) > 1:
        raise InputError(f"feature matrices differ in row count: {sorted(rows)}")
    names = [name for m in matrices for name in m.names]
    if len(set(names)) != len(names):
        seen: set[str] = set()
        dup = next(x for x in names if x in seen or seen.add(x))  # type: ignore[func-returns-value]
        raise InputError(f'feature name "{dup}" appears twice; prefix the names of one block')
    if any(hasattr(m.values, "tocsr") for m in matrices):
        import scipy.sparse as sp

        return FeatureMatrix(sp.hstack([m.values for m in matrices], format="csr"), names)
    return FeatureMatrix(np.concatenate([m.values for m in matrices], axis=1), names)
