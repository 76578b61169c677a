"""Leakage between splits and the split a run trains on: identical sequences shared by
train/valid/test, naming them, dropping the held-out copies, the notes a run prints."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.config import TrainConfig
from cislearn.data import SequenceDataset, assign_split, carve_note, carve_valid
from cislearn.types import SPLITS

__all__ = [
    "LeakageReport",
    "leakage_report",
    "shared_across_splits",
    "describe_leakage",
    "drop_leaked",
    "split_notes",
    "training_split",
]


class LeakageReport(NamedTuple):
    """Identical sequences that occur in more than one split."""

    n_shared: int
    """Number of distinct sequences found in two or more splits."""
    n_records: int
    """Number of records carrying such a sequence."""
    examples: list[dict[str, list[str]]]
    """Up to 20 examples: split name → ids holding the same sequence."""


def shared_across_splits(
    sequences: Sequence[str],
    split: Sequence[str],
    ids: Sequence[str],
    *,
    max_examples: int = 20,
) -> LeakageReport:
    """Identical sequences (case-insensitive) found in more than one split.

    Parameters
    ----------
    sequences, split, ids : sequences of str, length n
        One entry per record (ids need not be unique: ``cislearn check`` reads bad files).
    max_examples : int
        How many shared sequences to name.

    Returns
    -------
    LeakageReport
    """
    frame = pd.DataFrame(
        {"seq": [s.upper() for s in sequences], "split": list(split), "id": list(ids)}
    )
    if frame.empty:
        return LeakageReport(0, 0, [])
    n_splits = frame.groupby("seq")["split"].nunique()
    shared = n_splits.index[n_splits > 1]
    rows = frame[frame["seq"].isin(set(shared))]
    examples = []
    for _, group in list(rows.groupby("seq", sort=False))[:max_examples]:
        examples.append({k: g["id"].tolist() for k, g in group.groupby("split")})
    return LeakageReport(int(len(shared)), int(len(rows)), examples)


def leakage_report(dataset: SequenceDataset, *, max_examples: int = 20) -> LeakageReport:
    """Count (and name) identical sequences shared between splits (case-insensitive)."""
    if dataset.split is None:
        return LeakageReport(0, 0, [])
    return shared_across_splits(
        dataset.sequences, dataset.split, dataset.ids, max_examples=max_examples
    )


def describe_leakage(report: LeakageReport, *, n_named: int = 3) -> str:
    """One line naming a few shared sequences: ``2 sequences ... e.g. train r1 = test r9``."""
    if report.n_shared == 0:
        return "no identical sequence is shared between splits"
    named = [
        " = ".join(
            f"{part} {', '.join(ids[:2])}"
            for part, ids in sorted(example.items(), key=_split_order)
        )
        for example in report.examples[:n_named]
    ]
    return (
        f"{report.n_shared:,} identical sequence{'s' if report.n_shared != 1 else ''} shared "
        f"between splits ({report.n_records:,} records), e.g. {'; '.join(named)}"
    )


def _split_order(item: tuple[str, Any]) -> int:
    return SPLITS.index(item[0]) if item[0] in SPLITS else len(SPLITS)


def drop_leaked(dataset: SequenceDataset) -> SequenceDataset:
    """Drop held-out copies: a ``valid`` record whose sequence is also in ``train``, and a
    ``test`` record whose sequence is in ``train`` or ``valid`` (case-insensitive).

    The result records ``provenance["leaked_dropped"]`` (records dropped per split).

    Examples
    --------
    >>> parts = ["train", "test", "test"]
    >>> ds = SequenceDataset.from_arrays(["AC", "ac", "GT"], [1, 1, 0], split=parts)
    >>> len(drop_leaked(ds)), drop_leaked(ds).provenance["leaked_dropped"]
    (2, {'valid': 0, 'test': 1})
    """
    if dataset.split is None:
        return dataset
    upper = np.array([s.upper() for s in dataset.sequences], dtype=object)
    keep = np.ones(len(dataset), dtype=bool)
    dropped = {}
    for part, earlier in (("valid", ("train",)), ("test", ("train", "valid"))):
        seen = set(upper[np.isin(dataset.split, earlier)].tolist())
        held = (dataset.split == part) & np.fromiter((s in seen for s in upper), bool, len(upper))
        keep &= ~held
        dropped[part] = int(held.sum())
    before = dataset.provenance.get("leaked_dropped") or {}  # a second call adds nothing
    dropped = {k: v + int(before.get(k, 0)) for k, v in dropped.items()}
    return dataset.subset(keep).with_provenance(leaked_dropped=dropped)


def split_notes(dataset: SequenceDataset) -> list[str]:
    """What a run should say about its split: a carved validation part, identical sequences
    shared between splits, held-out copies dropped."""
    notes = [n for n in (carve_note(dataset),) if n]
    dropped = dataset.provenance.get("leaked_dropped")
    if dropped:
        notes.append(
            f"--drop-leaked: dropped {dropped['valid']:,} validation and {dropped['test']:,} "
            "test records whose sequence also occurs in an earlier split"
        )
    report = leakage_report(dataset)
    if report.n_shared:
        notes.append(
            f"warning: leakage: {describe_leakage(report)}; held-out metrics may be optimistic "
            "(--drop-leaked drops the held-out copies)"
        )
    return notes


def training_split(dataset: SequenceDataset, config: TrainConfig) -> SequenceDataset:
    """The split a run trains on: the input's own (or one assigned from ``config``), with a
    validation part carved from the training records when it has none, and the held-out
    copies of training sequences dropped when ``config.drop_leaked``.

    Every model of a benchmark or a web job gets the same split from the same config.
    """
    ds = dataset if dataset.split is not None else assign_split(dataset, **config.split_kwargs())
    ds = carve_valid(ds, fraction=config.valid_fraction, seed=config.seed)
    return drop_leaked(ds) if config.drop_leaked else ds
