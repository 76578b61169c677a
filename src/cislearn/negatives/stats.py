"""Per-sequence composition (length, GC, repeat and N fractions) in one numba pass."""

from __future__ import annotations

from collections.abc import Sequence

import numba
import numpy as np
import pandas as pd

from cislearn.errors import InputError

__all__ = ["sequence_stats", "byte_stats"]

# Letter classes by ASCII byte: bit 0 G/C, bit 1 lower case (soft-masked), bit 2 A/C/G/T.
_CLASSES = np.zeros(256, dtype=np.uint8)
_CLASSES[ord("a") : ord("z") + 1] |= 2
for _letter in b"ACGTacgt":
    _CLASSES[_letter] |= 4
for _letter in b"GCgc":
    _CLASSES[_letter] |= 1


@numba.njit(cache=True)
def _count_letters(raw, offsets, table):  # pragma: no cover - compiled
    """Per row, the number of letters in each class of ``table`` (bit 0 GC, 1 lower, 2 ACGT).

    One pass in numba: ~10x faster than numpy table look-ups plus row sums (measured 3 vs
    30 ms for 20,000 windows of 201 bp), which dominated the background sampling.
    """
    n = offsets.shape[0] - 1
    out = np.zeros((n, 3), np.int64)
    for i in range(n):
        gc = lower = acgt = 0
        for p in range(offsets[i], offsets[i + 1]):
            t = table[raw[p]]
            gc += t & 1
            lower += (t >> 1) & 1
            acgt += (t >> 2) & 1
        out[i, 0], out[i, 1], out[i, 2] = gc, lower, acgt
    return out


def byte_stats(raw: np.ndarray, offsets: np.ndarray) -> pd.DataFrame:
    """length, gc, repeat_fraction, n_fraction of ASCII rows ``raw[offsets[i]:offsets[i+1]]``.

    Same definitions as :func:`cislearn.encode.gc_content` and
    :func:`~cislearn.encode.soft_mask_fraction` (a test checks it), computed in one pass.
    """
    lengths = np.diff(offsets)
    counts = _count_letters(raw, offsets, _CLASSES).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame(
            {
                "length": lengths,
                "gc": np.where(counts[:, 2] > 0, counts[:, 0] / counts[:, 2], np.nan),
                "repeat_fraction": np.where(lengths > 0, counts[:, 1] / lengths, np.nan),
                "n_fraction": np.where(lengths > 0, (lengths - counts[:, 2]) / lengths, np.nan),
            }
        )


def _ascii(sequences: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated bytes and row offsets of ``sequences``."""
    if isinstance(sequences, str | bytes):
        raise InputError("sequences must be a sequence of strings, not one string")
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    joined = "".join(sequences)
    if not joined.isascii():
        i = next(i for i, s in enumerate(sequences) if not s.isascii())
        raise InputError("sequence has non-ASCII characters", record=i + 1)
    return np.frombuffer(joined.encode("ascii"), dtype=np.uint8), offsets


def sequence_stats(sequences: Sequence[str]) -> pd.DataFrame:
    """Per-sequence composition used to match and to check negatives.

    ``gc`` is the fraction of G/C among the A/C/G/T letters (as
    :func:`cislearn.encode.gc_content`; NaN without any), ``repeat_fraction`` the fraction of
    lower-case (soft-masked) letters (as :func:`cislearn.encode.soft_mask_fraction`) and
    ``n_fraction`` the fraction of letters other than A/C/G/T; NaN for an empty sequence.

    Parameters
    ----------
    sequences : sequence of str

    Returns
    -------
    DataFrame with one row per sequence
        Columns length (int64), gc, repeat_fraction, n_fraction (float64).

    Examples
    --------
    >>> sequence_stats(["ACgtNN"]).iloc[0].tolist()
    [6.0, 0.5, 0.3333333333333333, 0.3333333333333333]
    """
    return byte_stats(*_ascii(sequences))
