"""Feature matrices with named columns for classical models: composition, k-mers, gapped k-mers."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import product
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.encode import ALPHABET, N_CODE, to_codes
from cislearn.errors import InputError

__all__ = [
    "as_sequence_list",
    "FeatureMatrix",
    "composition",
    "concat",
    "kmer_names",
    "kmer_counts",
    "gapped_kmer_counts",
    "MAX_COMPOSITION_ORDER",
    "MAX_KMER",
    "MAX_GAPPED_K",
    "MAX_GAP",
]

#: Largest k of :func:`composition` (4**6 = 4,096 dense columns); longer k-mers belong in
#: sparse k-mer count features.
MAX_COMPOSITION_ORDER = 6
#: Largest k of :func:`kmer_counts` (4**12 = 16.8 M possible columns, stored sparse).
MAX_KMER = 12
#: Largest k (each half) and gap of :func:`gapped_kmer_counts`.
MAX_GAPPED_K = 6
MAX_GAP = 10
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


def as_sequence_list(sequences: Any) -> list[str]:
    """The sequences as a list of str (InputError for a bare string or a non-string item)."""
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
    seqs = as_sequence_list(sequences)
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


# -- sparse k-mer and gapped k-mer counts -----------------------------------------------------


def _check_int(name: str, value: Any, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or not lo <= value <= hi:
        raise InputError(f"{name} must be an int from {lo} to {hi}; got {value!r}")
    return int(value)


def _rc_codes(ids: np.ndarray, length: int) -> np.ndarray:
    """Codes of the reverse complements of ``length``-letter codes (A=0 … T=3, first letter
    most significant)."""
    out = np.zeros_like(ids)
    x = ids.copy()
    for _ in range(length):
        out = out * 4 + (3 - x % 4)
        x //= 4
    return out


def _canonical(length: int) -> tuple[np.ndarray, np.ndarray]:
    """For ``length``-letter codes: the column of each code when a word and its reverse
    complement share a column, and the canonical (smaller) code of each column."""
    codes = np.arange(4**length, dtype=np.int64)
    canon = np.minimum(codes, _rc_codes(codes, length))
    keep, column = np.unique(canon, return_inverse=True)
    return column.astype(np.int64), keep


def _name(code: int, length: int) -> str:
    letters = []
    for _ in range(length):
        letters.append(ALPHABET[code % 4])
        code //= 4
    return "".join(reversed(letters))


def _window_counts(
    seqs: list[str], patterns: list[tuple[int, int]], width: int
) -> tuple[np.ndarray, np.ndarray]:
    """(row, code) of every valid window of each pattern in ``seqs`` (one chunk).

    A pattern ``(k, gap)`` reads ``k`` letters, skips ``gap`` positions (any letter), then
    reads ``width - k`` letters. Windows with an N in a read letter, or that would span two
    sequences, are dropped. The code of a pattern's window is offset by ``index * 4**width``
    so the patterns' codes do not collide.
    """
    n = len(seqs)
    lens = np.fromiter(map(len, seqs), dtype=np.int64, count=n)
    codes = to_codes("N".join(seqs)) if n else np.zeros(0, dtype=np.uint8)
    owner = np.repeat(np.arange(n, dtype=np.int64), lens + 1)[: codes.size]
    rows, cols = [], []
    for index, (k, gap) in enumerate(patterns):
        span = width + gap
        m = codes.size - span + 1
        if m <= 0:
            continue
        ids = np.zeros(m, dtype=np.int64)
        unknown = owner[:m] != owner[span - 1 : span - 1 + m]  # would span two sequences
        for j in [*range(k), *range(k + gap, span)]:  # the read positions, vectorised
            window = codes[j : j + m]
            ids = ids * 4 + window
            unknown |= window == N_CODE
        keep = ~unknown
        rows.append(owner[:m][keep])
        cols.append(ids[keep] + index * 4**width)
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(rows), np.concatenate(cols)


def _sparse_counts(
    sequences: Any, patterns: list[tuple[int, int]], width: int, rc_merge: bool
) -> tuple[Any, np.ndarray]:
    """CSR float32 counts (n, columns) and the code (``index * 4**width + word``) per column."""
    import scipy.sparse as sp

    seqs = as_sequence_list(sequences)
    n = len(seqs)
    per = 4**width
    if rc_merge:
        column, keep = _canonical(width)
    else:
        column, keep = np.arange(per, dtype=np.int64), np.arange(per, dtype=np.int64)
    n_cols = len(patterns) * len(keep)
    blocks = []
    start = 0
    while start < n or not blocks:  # chunks of about _CHUNK_BASES bases bound the temporaries
        stop, size = start, 0
        while stop < n and (stop == start or size + len(seqs[stop]) <= _CHUNK_BASES):
            size += len(seqs[stop]) + 1
            stop += 1
        rows, codes = _window_counts(seqs[start:stop], patterns, width)
        cols = (codes // per) * len(keep) + column[codes % per]
        # coo → csr sums the duplicate (row, column) pairs in compiled code
        blocks.append(
            sp.csr_matrix(
                (np.ones(rows.size, dtype=np.float32), (rows, cols)),
                shape=(stop - start, n_cols),
            )
        )
        start = stop
        if n == 0:
            break
    values = blocks[0] if len(blocks) == 1 else sp.vstack(blocks, format="csr")
    values.sum_duplicates()
    codes = (np.arange(len(patterns))[:, None] * per + keep[None, :]).ravel()
    return values, codes


def kmer_counts(sequences: Sequence[str], *, k: int = 6, rc_merge: bool = False) -> FeatureMatrix:
    """Counts of every k-mer in each sequence, as a sparse matrix with named columns.

    Windows with an N (or any letter other than ``ACGTacgt``) are not counted.

    Parameters
    ----------
    sequences : sequence of str, length n
        DNA strings; lengths may differ.
    k : int
        k-mer length, 1 to :data:`MAX_KMER`.
    rc_merge : bool
        Count a k-mer and its reverse complement in one column, named by the alphabetically
        first of the two (``CCCTC`` also counts ``GAGGG``): (4**k + 4**(k/2)) / 2 columns for
        even k, 4**k / 2 for odd k.

    Returns
    -------
    FeatureMatrix
        ``values`` scipy.sparse CSR float32 of shape (n, 4**k) (fewer with ``rc_merge``);
        ``names`` the k-mers in alphabetical order.

    Examples
    --------
    >>> fm = kmer_counts(["ACGTA", "TTT"], k=2)
    >>> fm.shape, fm.values[0, fm.names.index("AC")]
    ((2, 16), np.float32(1.0))
    >>> kmer_counts(["AAA", "TTT"], k=3, rc_merge=True).values[:, 0].toarray().ravel().tolist()
    [1.0, 1.0]
    """
    k = _check_int("k", k, 1, MAX_KMER)
    values, codes = _sparse_counts(sequences, [(k, 0)], k, bool(rc_merge))
    return FeatureMatrix(values, [_name(int(c), k) for c in codes])


def gapped_kmer_counts(
    sequences: Sequence[str], *, k: int = 3, max_gap: int = 3, rc_merge: bool = False
) -> FeatureMatrix:
    """Counts of gapped k-mer pairs: two k-mers separated by 0 to ``max_gap`` positions.

    The features of the gappy pair kernel (kebabs ``gappyPairKernel(k, m)``): for each gap
    ``g`` in 0..max_gap, every pair of k-mers with ``g`` arbitrary letters between them. A
    column is named by its letters with one dot per gap position: ``CCC..TCT`` is ``CCC``, two
    positions of any letter, ``TCT``. An N in the gap is allowed; an N in either k-mer is not.

    Parameters
    ----------
    sequences : sequence of str, length n
    k : int
        Length of each half, 1 to :data:`MAX_GAPPED_K`.
    max_gap : int
        Largest gap, 0 to :data:`MAX_GAP`.
    rc_merge : bool
        Count a pair and its reverse complement (``rc(second) gap rc(first)``) in one column.

    Returns
    -------
    FeatureMatrix
        ``values`` scipy.sparse CSR float32 of shape (n, (max_gap + 1) * 4**(2k)) (fewer with
        ``rc_merge``); ``names`` like ``AAAAAA``, ``AAA.AAA``, ``AAA..AAA``; gap 0 first.

    Examples
    --------
    >>> fm = gapped_kmer_counts(["ACGTTACG"], k=2, max_gap=1)
    >>> fm.shape, fm.values[0, fm.names.index("AC.TT")]
    ((1, 512), np.float32(1.0))
    """
    k = _check_int("k", k, 1, MAX_GAPPED_K)
    max_gap = _check_int("max_gap", max_gap, 0, MAX_GAP)
    patterns = [(k, g) for g in range(max_gap + 1)]
    values, codes = _sparse_counts(sequences, patterns, 2 * k, bool(rc_merge))
    per = 4 ** (2 * k)
    names = []
    for c in codes.tolist():
        word = _name(c % per, 2 * k)
        names.append(word[:k] + "." * (c // per) + word[k:])
    return FeatureMatrix(values, names)
