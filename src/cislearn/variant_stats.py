"""Significance of variant effects: the empirical null of random substitutions (two-sided
p-values) and Benjamini–Hochberg q-values, also over a stream (one counter per p-value)."""

from __future__ import annotations

import numpy as np

__all__ = ["EmpiricalNull", "bh_qvalues", "bh_qvalues_from_counts"]


def bh_qvalues(p: np.ndarray) -> np.ndarray:
    """Benjamini–Hochberg q-values of a vector of p-values (NaN stays NaN, not counted).

    Examples
    --------
    >>> bh_qvalues(np.array([0.01, 0.04, 0.03])).round(3)
    array([0.03, 0.04, 0.04])
    """
    p = np.asarray(p, dtype=np.float64)
    q = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    m = int(ok.sum())
    if m == 0:
        return q
    order = np.argsort(p[ok], kind="stable")
    ranked = p[ok][order] * m / np.arange(1, m + 1)
    ranked = np.minimum.accumulate(ranked[::-1])[::-1]
    out = np.empty(m)
    out[order] = np.minimum(ranked, 1.0)
    q[ok] = out
    return q


def bh_qvalues_from_counts(counts: np.ndarray, n_null: int) -> np.ndarray:
    """BH q-value of each possible empirical p-value ``(k + 1) / (n_null + 1)``.

    Empirical p-values take only ``n_null + 1`` values, so the q-values of any number of
    variants follow from how many variants have each value: a two-pass stream needs
    ``n_null + 1`` counters, not one float per variant.

    Parameters
    ----------
    counts : ndarray of shape (n_null + 1,)
        ``counts[k]`` = variants whose p-value is ``(k + 1) / (n_null + 1)``.

    Returns
    -------
    ndarray of shape (n_null + 1,)
        q-value for each k (equal to :func:`bh_qvalues` on the variants' p-values).
    """
    counts = np.asarray(counts, dtype=np.int64)
    m = int(counts.sum())
    if m == 0:
        return np.full(len(counts), np.nan)
    p = np.arange(1, n_null + 2) / (n_null + 1)
    rank = np.cumsum(counts)  # BH uses the largest rank among ties
    with np.errstate(divide="ignore", invalid="ignore"):
        ranked = np.where(counts > 0, p * m / np.maximum(rank, 1), np.inf)
    return np.minimum(np.minimum.accumulate(ranked[::-1])[::-1], 1.0)


class EmpiricalNull:
    """|Δ| of random substitutions per output; p-values of variants against them, and the
    counts behind streamed q-values.

    Parameters
    ----------
    null_effects : ndarray of shape (n_null, n_outputs)
        |Δ raw| of each random substitution.
    """

    def __init__(self, null_effects: np.ndarray) -> None:
        self.sorted = np.sort(np.abs(np.asarray(null_effects, np.float64)), axis=0).T.copy()
        self.n = int(self.sorted.shape[1])
        #: variants that got each p-value ``(k + 1) / (n + 1)``, (n_outputs, n + 1)
        self.counts = np.zeros((self.sorted.shape[0], self.n + 1), np.int64)

    def pvalues(self, delta: np.ndarray) -> np.ndarray:
        """Two-sided empirical p-values ``(1 + #null ≥ |Δ|) / (n_null + 1)`` of ``delta``
        (n, n_outputs); NaN stays NaN. Each p-value is also counted for :meth:`qvalues`."""
        out = np.full(delta.shape, np.nan)
        for j in range(delta.shape[1]):
            ok = ~np.isnan(delta[:, j])
            ge = self.n - np.searchsorted(self.sorted[j], np.abs(delta[ok, j]), side="left")
            out[ok, j] = (1 + ge) / (self.n + 1)
            self.counts[j] += np.bincount(ge, minlength=self.n + 1)
        return out

    def qvalues(self, pvalues: np.ndarray, output: int) -> np.ndarray:
        """BH q-values of p-values from :meth:`pvalues` for output index ``output``, over
        every p-value counted so far (equal to :func:`bh_qvalues` on all of them)."""
        p = np.asarray(pvalues, dtype=np.float64)
        q = np.full(p.shape, np.nan)
        table = bh_qvalues_from_counts(self.counts[output], self.n)
        fin = np.isfinite(p)
        # p = (1 + k) / (n + 1) for k in 0..n; rounding in a text round trip (%.6g) stays far
        # below the 1 / (n + 1) spacing
        k = np.clip(np.rint(p[fin] * (self.n + 1)).astype(np.int64) - 1, 0, self.n)
        q[fin] = table[k]
        return q
