"""Significance of variant effects: the sites of the empirical null (a bounded, mergeable
reservoir over the whole input), its two-sided p-values and Benjamini–Hochberg q-values, also
over a stream (one counter per p-value)."""

from __future__ import annotations

import numpy as np

__all__ = ["EmpiricalNull", "NullSites", "bh_qvalues", "bh_qvalues_from_counts"]


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

    def pvalues(self, delta: np.ndarray, *, count: bool = True) -> np.ndarray:
        """Two-sided empirical p-values ``(1 + #null ≥ |Δ|) / (n_null + 1)`` of ``delta``
        (n, n_outputs); NaN stays NaN. With ``count`` each p-value is also counted for
        :meth:`qvalues`."""
        out = np.full(delta.shape, np.nan)
        for j in range(delta.shape[1]):
            ok = ~np.isnan(delta[:, j])
            ge = self.n - np.searchsorted(self.sorted[j], np.abs(delta[ok, j]), side="left")
            out[ok, j] = (1 + ge) / (self.n + 1)
            if count:
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


class NullSites:
    """A bounded weighted reservoir of candidate null sites over a whole stream, mergeable
    across processes.

    Each chunk of variants offers candidate substitutions (a random site near a random scored
    variant of the chunk) with a weight: the number of scored variants the candidate stands
    for. Keys ``E / w`` with ``E ~ Exp(1)`` drawn from a generator seeded by the chunk index
    and keeping the ``capacity`` smallest is a weighted sample without replacement
    (Efraimidis–Spirakis) over everything offered, in any order and any split across
    processes: the union of per-process reservoirs, cut to ``capacity``, is the reservoir of
    the whole stream. Memory is ``capacity`` rows whatever the stream length.

    Parameters
    ----------
    capacity : int
        Sites kept.
    """

    def __init__(self, capacity: int) -> None:
        self.capacity = int(capacity)
        self.key = np.empty(0)
        self.chrom = np.empty(0, dtype=object)
        self.pos = np.empty(0, np.int64)
        """0-based position of each site."""
        self.shift = np.empty(0, np.int64)
        """alt = (ref code + shift) % 4, shift in 1..3."""

    def offer(self, key: np.ndarray, chrom: np.ndarray, pos: np.ndarray, shift: np.ndarray) -> None:
        """Add candidates (arrays of one length); keep the ``capacity`` smallest keys."""
        self.key = np.concatenate([self.key, np.asarray(key, np.float64)])
        self.chrom = np.concatenate([self.chrom, np.asarray(chrom, dtype=object)])
        self.pos = np.concatenate([self.pos, np.asarray(pos, np.int64)])
        self.shift = np.concatenate([self.shift, np.asarray(shift, np.int64)])
        if len(self.key) > self.capacity:
            keep = np.sort(np.argpartition(self.key, self.capacity - 1)[: self.capacity])
            self.key, self.chrom = self.key[keep], self.chrom[keep]
            self.pos, self.shift = self.pos[keep], self.shift[keep]

    def merge(self, other: NullSites) -> None:
        """Fold in another process's reservoir."""
        self.offer(other.key, other.chrom, other.pos, other.shift)

    def ordered(self) -> list[tuple[str, int, int]]:
        """(chrom, 0-based pos, shift) of the kept sites, smallest key first."""
        order = np.argsort(self.key, kind="stable")
        return [(str(self.chrom[i]), int(self.pos[i]), int(self.shift[i])) for i in order]

    def state(self) -> dict[str, np.ndarray]:
        """Arrays to save (:meth:`from_state` restores)."""
        return {
            "key": self.key,
            "chrom": self.chrom.astype(str),
            "pos": self.pos,
            "shift": self.shift,
        }

    @classmethod
    def from_state(cls, capacity: int, state: dict[str, np.ndarray]) -> NullSites:
        sites = cls(capacity)
        sites.offer(state["key"], state["chrom"], state["pos"], state["shift"])
        return sites
