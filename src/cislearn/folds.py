"""Cross-validation by chromosome: K folds of whole chromosomes, balanced by record count."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from cislearn.errors import ConfigError

__all__ = ["chromosome_folds", "fold_split", "summarize_folds"]


def chromosome_folds(chroms: Sequence[str] | np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Assign every record to one of ``k`` folds, keeping each chromosome in one fold.

    Chromosomes are taken largest first (ties in a seeded random order) and each goes to the
    fold with the fewest records so far (the greedy rule for balanced partitions: the largest
    fold exceeds the mean by less than the largest chromosome).

    Parameters
    ----------
    chroms : sequence of str, length n
        Chromosome of each record.
    k : int
        Number of folds, >= 3 (each fold is the test part once, the next fold its validation
        part, the others train).

    Returns
    -------
    ndarray of int64, shape (n,)
        Fold index 0..k-1 per record.

    Examples
    --------
    >>> chromosome_folds(["a"] * 4 + ["b"] * 3 + ["c"] * 2 + ["d"] * 2, 3).tolist()
    [0, 0, 0, 0, 1, 1, 1, 2, 2, 2, 2]
    """
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 3:
        raise ConfigError(f"folds must be an integer >= 3 (test, validation, train); got {k!r}")
    labels = np.asarray(chroms, dtype=str)
    present, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if len(present) < k:
        raise ConfigError(
            f"{k} chromosome folds need at least {k} chromosomes; the data have "
            f"{len(present)} ({', '.join(present.tolist()[:10])})"
        )
    tiebreak = np.random.default_rng(seed).permutation(len(present))
    order = np.lexsort((tiebreak, -counts))
    sizes = np.zeros(k, dtype=np.int64)
    fold_of = np.empty(len(present), dtype=np.int64)
    for c in order:
        f = int(np.argmin(sizes))
        fold_of[c] = f
        sizes[f] += counts[c]
    return fold_of[inverse]


def fold_split(folds: np.ndarray, fold: int) -> np.ndarray:
    """The split of fold ``fold``: its records test, the next fold's valid, the rest train."""
    k = int(folds.max()) + 1 if len(folds) else 0
    if not 0 <= fold < k:
        raise ConfigError(f"fold must be 0..{k - 1}; got {fold}")
    out = np.full(len(folds), "train", dtype=object)
    out[folds == fold] = "test"
    out[folds == (fold + 1) % k] = "valid"
    return out


def summarize_folds(table: pd.DataFrame, *, by: Sequence[str] = ("target",)) -> pd.DataFrame:
    """Mean ± sd (ddof 1) of every numeric metric over folds.

    Parameters
    ----------
    table : DataFrame
        One row per fold (column ``fold``) and ``by`` group, metric columns (CI bounds
        ``*_lo``/``*_hi`` are left out).

    Returns
    -------
    DataFrame
        ``by`` columns, ``metric``, ``mean``, ``sd``, ``n_folds``.
    """
    skip = {"fold", *by}
    metrics = [
        c
        for c in table.columns
        if c not in skip
        and not c.endswith(("_lo", "_hi"))
        and pd.api.types.is_numeric_dtype(table[c])
    ]
    long = table.melt(id_vars=list(by), value_vars=metrics, var_name="metric").dropna()
    grouped = long.groupby([*by, "metric"], sort=False)["value"]
    out = grouped.agg(mean="mean", sd="std", n_folds="count").reset_index()
    out["sd"] = out["sd"].fillna(0.0)
    return out
