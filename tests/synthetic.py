"""Tiny synthetic data shared by the training tests."""

from __future__ import annotations

import numpy as np

from cislearn.data import SequenceDataset


def motif_data(n: int = 300, length: int = 50, seed: int = 0) -> SequenceDataset:
    """Random sequences; the positives (every other one) carry GGGCGG at a random place."""
    rng = np.random.default_rng(seed)
    seqs, labels = [], []
    for i in range(n):
        s = rng.choice(list("ACGT"), length)
        if i % 2:
            p = rng.integers(0, length - 6)
            s[p : p + 6] = list("GGGCGG")
        seqs.append("".join(s))
        labels.append(i % 2)
    return SequenceDataset.from_arrays(seqs, labels)
