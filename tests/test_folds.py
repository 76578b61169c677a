"""Chromosome folds: balanced, whole chromosomes, every record tested exactly once."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cislearn.errors import ConfigError
from cislearn.folds import chromosome_folds, fold_split, summarize_folds


def test_folds_balanced_and_whole_chromosomes():
    rng = np.random.default_rng(0)
    sizes = rng.integers(20, 400, size=22)
    chroms = np.repeat([f"chr{i + 1}" for i in range(22)], sizes)
    folds = chromosome_folds(chroms, 5, seed=3)
    for c in np.unique(chroms):  # one fold per chromosome
        assert len(np.unique(folds[chroms == c])) == 1
    counts = np.bincount(folds, minlength=5)
    assert counts.sum() == len(chroms)
    assert counts.max() - len(chroms) / 5 < sizes.max()  # greedy bound
    assert counts.max() / counts.min() < 1.3
    splits = [fold_split(folds, i) for i in range(5)]
    tested = np.sum([s == "test" for s in splits], axis=0)
    assert (tested == 1).all()  # every record is tested once
    for i, s in enumerate(splits):
        assert set(np.unique(folds[s == "valid"])) == {(i + 1) % 5}


def test_folds_errors_and_summary():
    with pytest.raises(ConfigError, match=">= 3"):
        chromosome_folds(["a", "b", "c"], 2)
    with pytest.raises(ConfigError, match="at least 4 chromosomes"):
        chromosome_folds(["a", "b", "c"], 4)
    table = pd.DataFrame(
        {"fold": [1, 2, 3], "target": ["t"] * 3, "auroc": [0.8, 0.9, 1.0], "auroc_lo": [0, 0, 0]}
    )
    s = summarize_folds(table)
    assert s[["target", "metric"]].values.tolist() == [["t", "auroc"]]
    assert s["mean"].iloc[0] == pytest.approx(0.9) and s["sd"].iloc[0] == pytest.approx(0.1)
