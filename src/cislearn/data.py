"""SequenceDataset (sequences + targets + split + provenance), its builders, splits and loaders."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from cislearn.errors import ConfigError, InputError
from cislearn.types import SPLITS

__all__ = [
    "SequenceDataset",
    "load_dataset",
    "from_fasta_pair",
    "from_deepbio",
    "from_table",
    "from_intervals",
    "random_split",
    "assign_split",
    "carve_valid",
    "carve_note",
    "file_sha256",
    "OneHotDataset",
    "make_loader",
    "length_error",
]


def file_sha256(path: str | os.PathLike[str]) -> str:
    """SHA-256 of a file's bytes (recorded as provenance so every run can be traced)."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass(frozen=True)
class SequenceDataset:
    """Labelled DNA sequences ready for training: the one data object every stage shares.

    Attributes
    ----------
    ids : tuple of str, length n
        Unique record names.
    sequences : tuple of str, length n
        DNA strings, case preserved (lower case marks soft-masked repeats); encoders upper-case.
    targets : ndarray of shape (n, t), float32
        One column per target (a binary label is one 0/1 column).
    target_names : tuple of str, length t
    split : ndarray of shape (n,) of str, or None
        ``"train"``, ``"valid"`` or ``"test"`` per record; None until a split is assigned.
    tracks : ndarray of shape (n, c, L), float32, or None
        Optional per-base extra input tracks (e.g. accessibility), for hybrid models.
    track_names : tuple of str, length c
    chroms : ndarray of shape (n,) of str, or None
        Chromosome of each record when known (needed for chromosome splits).
    provenance : dict
        Where the data came from: source files with SHA-256, method, parameters.

    Examples
    --------
    >>> ds = SequenceDataset.from_arrays(["ACGT", "TTGA"], [1, 0])
    >>> len(ds), ds.target_names
    (2, ('label',))
    """

    ids: tuple[str, ...]
    sequences: tuple[str, ...]
    targets: np.ndarray
    target_names: tuple[str, ...] = ("label",)
    split: np.ndarray | None = None
    tracks: np.ndarray | None = None
    track_names: tuple[str, ...] = ()
    chroms: np.ndarray | None = None
    provenance: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.ids)
        if len(self.sequences) != n:
            raise InputError(f"{n} ids but {len(self.sequences)} sequences")
        targets = np.asarray(self.targets, dtype=np.float32)
        if targets.ndim == 1:
            targets = targets[:, None]
        if targets.shape != (n, len(self.target_names)):
            raise InputError(
                f"targets have shape {targets.shape}; expected ({n}, {len(self.target_names)}) "
                f"for target names {list(self.target_names)}"
            )
        object.__setattr__(self, "targets", targets)
        if self.split is not None:
            split = np.asarray(self.split, dtype=object)
            bad = sorted(set(split.tolist()) - set(SPLITS))
            if split.shape != (n,) or bad:
                raise InputError(f"split must be one of {', '.join(SPLITS)} per record; got {bad}")
            object.__setattr__(self, "split", split)
        if self.chroms is not None:
            object.__setattr__(self, "chroms", np.asarray(self.chroms, dtype=object))
        if self.tracks is not None:
            tracks = np.asarray(self.tracks, dtype=np.float32)
            if tracks.ndim != 3 or tracks.shape[0] != n or tracks.shape[1] != len(self.track_names):
                raise InputError(
                    f"tracks must have shape (n={n}, c={len(self.track_names)}, L); "
                    f"got {tracks.shape}"
                )
            object.__setattr__(self, "tracks", tracks)
        if len(set(self.ids)) != n:
            seen: set[str] = set()
            dup = next(i for i in self.ids if i in seen or seen.add(i))  # type: ignore[func-returns-value]
            raise InputError(f'duplicate id "{dup}"; ids must be unique')

    # -- construction -------------------------------------------------------------------------
    @classmethod
    def from_arrays(
        cls,
        sequences: Sequence[str],
        targets: Sequence[float] | np.ndarray,
        *,
        ids: Sequence[str] | None = None,
        target_names: Sequence[str] = ("label",),
        split: Sequence[str] | None = None,
        chroms: Sequence[str] | None = None,
        provenance: Mapping[str, Any] | None = None,
    ) -> SequenceDataset:
        """Build a dataset from in-memory sequences and targets."""
        ids = list(ids) if ids is not None else [f"seq{i + 1}" for i in range(len(sequences))]
        return cls(
            ids=tuple(ids),
            sequences=tuple(sequences),
            targets=np.asarray(targets, dtype=np.float32),
            target_names=tuple(target_names),
            split=None if split is None else np.asarray(split, dtype=object),
            chroms=None if chroms is None else np.asarray(chroms, dtype=object),
            provenance=dict(provenance or {}),
        )

    # -- views --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.ids)

    @property
    def lengths(self) -> np.ndarray:
        """Sequence lengths, shape (n,)."""
        return np.fromiter((len(s) for s in self.sequences), dtype=np.int64, count=len(self))

    @property
    def fixed_length(self) -> int | None:
        """The common sequence length, or None when lengths differ."""
        lengths = self.lengths
        return int(lengths[0]) if len(lengths) and (lengths == lengths[0]).all() else None

    @property
    def labels(self) -> np.ndarray:
        """First target as int (the class label of a binary dataset), shape (n,)."""
        return self.targets[:, 0].astype(np.int64)

    def subset(self, index: np.ndarray | Sequence[int]) -> SequenceDataset:
        """Records selected by a boolean mask or integer indices (order kept)."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        return replace(
            self,
            ids=tuple(self.ids[i] for i in index),
            sequences=tuple(self.sequences[i] for i in index),
            targets=self.targets[index],
            split=None if self.split is None else self.split[index],
            tracks=None if self.tracks is None else self.tracks[index],
            chroms=None if self.chroms is None else self.chroms[index],
        )

    def part(self, name: str) -> SequenceDataset:
        """The records of split ``name`` (``train``, ``valid`` or ``test``)."""
        if name not in SPLITS:
            raise ConfigError(f"split must be one of {', '.join(SPLITS)}; got '{name}'")
        if self.split is None:
            raise ConfigError("the dataset has no split yet; assign one with with_split()")
        return self.subset(self.split == name)

    def with_split(self, split: Sequence[str] | np.ndarray) -> SequenceDataset:
        """A copy with ``split`` assigned (one of train/valid/test per record)."""
        return replace(self, split=np.asarray(split, dtype=object))

    def with_provenance(self, **items: Any) -> SequenceDataset:
        """A copy with extra provenance entries."""
        return replace(self, provenance={**self.provenance, **items})

    def counts(self) -> dict[str, dict[str, int]]:
        """Records per split (``all`` when unsplit) and per label of the first target."""
        split = self.split if self.split is not None else np.full(len(self), "all", dtype=object)
        frame = pd.DataFrame({"split": split, "label": self.targets[:, 0]})
        table = frame.groupby(["split", "label"]).size()
        out: dict[str, dict[str, int]] = {}
        for (part, label), n in table.items():
            key = str(int(label)) if float(label).is_integer() else str(label)
            out.setdefault(str(part), {})[key] = int(n)
        return out


# -- builders ------------------------------------------------------------------------------


def length_error(dataset: SequenceDataset) -> InputError:
    """The error for records of several lengths: names the file and record of the first one
    that differs from the most common length, and the command that fixes it."""
    lengths = np.asarray(dataset.lengths)
    values, counts = np.unique(lengths, return_counts=True)
    common = int(values[counts.argmax()])
    i = int(np.flatnonzero(lengths != common)[0])
    rid = str(dataset.ids[i])
    files = list(dataset.provenance.get("files", {}))
    file = files[0] if len(files) == 1 else None
    if dataset.provenance.get("method") == "fasta-pair" and len(files) == 2:
        file = files[0] if rid.startswith("pos:") else files[1]
        rid = rid.split(":", 1)[1]
    where_ = f"{file}: " if file else ""
    target = file or "FASTA"
    return InputError(
        f"{where_}record '{rid}' has {int(lengths[i])} bp but most sequences have {common} bp "
        f"({int(lengths.min())}..{int(lengths.max())} in all); training needs one length: "
        f"`cislearn resize {target} --length {common} --out resized.fa` keeps the centre of "
        "each sequence, trimming or padding with N equally on both sides"
    )


def _provenance(method: str, paths: Sequence[str | os.PathLike[str]], **extra: Any) -> dict:
    return {
        "method": method,
        "files": {os.fspath(p): file_sha256(p) for p in paths},
        **extra,
    }


def from_fasta_pair(
    pos: str | os.PathLike[str],
    neg: str | os.PathLike[str],
    *,
    iupac_to_n: bool = False,
) -> SequenceDataset:
    """Positives labelled 1 and negatives labelled 0 from two FASTA files.

    Ids are prefixed ``pos:`` and ``neg:`` so that overlapping names in the two files stay
    unique. Duplicate ids within one file are an :class:`InputError`.
    """
    from cislearn.io.fasta import read_fasta

    ids: list[str] = []
    seqs: list[str] = []
    labels: list[int] = []
    for label, prefix, path in ((1, "pos", pos), (0, "neg", neg)):
        n_before = len(ids)
        for rec in read_fasta(path, iupac_to_n=iupac_to_n):
            ids.append(f"{prefix}:{rec.id}")
            seqs.append(rec.sequence)
            labels.append(label)
        if len(ids) == n_before:
            raise InputError("no sequences found", path=path)
    return SequenceDataset.from_arrays(
        seqs, labels, ids=ids, provenance=_provenance("fasta-pair", [pos, neg])
    )


def from_deepbio(path: str | os.PathLike[str], *, iupac_to_n: bool = False) -> SequenceDataset:
    """A DeepBIO FASTA (headers ``>id|label|training`` or ``>id|label|testing``)."""
    from cislearn.io.fasta import read_deepbio_fasta

    recs = list(read_deepbio_fasta(path, iupac_to_n=iupac_to_n))
    if not recs:
        raise InputError("no sequences found", path=path)
    return SequenceDataset.from_arrays(
        [r.sequence for r in recs],
        [r.label for r in recs],
        ids=[r.id for r in recs],
        split=[r.split for r in recs],
        provenance=_provenance("deepbio-fasta", [path]),
    )


def from_table(
    path: str | os.PathLike[str],
    *,
    targets: Sequence[str] | None = None,
    iupac_to_n: bool = False,
) -> SequenceDataset:
    """A TSV/CSV with a ``sequence`` column, target columns and optional ``id``/``split``
    (and ``chrom``, kept for chromosome splits and folds)."""
    from cislearn.io.tables import read_table

    table = read_table(path, targets=targets, iupac_to_n=iupac_to_n)
    frame = table.frame
    if frame.empty:
        raise InputError("no sequences found", path=path)
    split = frame["split"].tolist() if "split" in frame.columns else None
    return SequenceDataset.from_arrays(
        frame["sequence"].tolist(),
        frame[list(table.target_names)].to_numpy(dtype=np.float32, copy=True),
        ids=frame["id"].astype(str).tolist(),
        target_names=table.target_names,
        split=split,
        chroms=frame["chrom"].astype(str).tolist() if "chrom" in frame.columns else None,
        provenance=_provenance("table", [path]),
    )


def from_intervals(
    intervals: pd.DataFrame,
    genome: Any,
    *,
    targets: np.ndarray | Sequence[float] | None = None,
    target_names: Sequence[str] = ("label",),
) -> SequenceDataset:
    """Sequences fetched from ``genome`` (a :class:`cislearn.io.genome.Genome`) for intervals.

    ``intervals`` needs ``chrom``, ``start``, ``end`` (0-based half-open) and optionally
    ``name`` (used as id; ``chrom:start-end`` otherwise). Targets default to all ones.
    """
    seqs = [
        genome.fetch(c, int(s), int(e))
        for c, s, e in zip(intervals["chrom"], intervals["start"], intervals["end"], strict=True)
    ]
    if "name" in intervals.columns and intervals["name"].astype(str).str.len().gt(0).all():
        ids = intervals["name"].astype(str).tolist()
    else:
        ids = [f"{c}:{s}-{e}" for c, s, e in intervals[["chrom", "start", "end"]].itertuples(False)]
    if targets is None:
        targets = np.ones(len(seqs), dtype=np.float32)
    return SequenceDataset.from_arrays(
        seqs,
        targets,
        ids=ids,
        target_names=target_names,
        chroms=intervals["chrom"].astype(str).tolist(),
        provenance={"method": "intervals", "genome": os.fspath(genome.path)},
    )


def load_dataset(
    data: str | os.PathLike[str] | None = None,
    *,
    pos: str | os.PathLike[str] | None = None,
    neg: str | os.PathLike[str] | None = None,
    targets: Sequence[str] | None = None,
    iupac_to_n: bool = False,
) -> SequenceDataset:
    """Load a dataset from ``data`` (DeepBIO FASTA or table) or from a ``pos``/``neg`` pair.

    Examples
    --------
    >>> ds = load_dataset(pos="pos.fa.gz", neg="neg.fa.gz")  # doctest: +SKIP
    """
    from cislearn.io.formats import detect_format

    if data is not None and (pos is not None or neg is not None):
        raise ConfigError("give either --data or --pos/--neg, not both")
    if data is None:
        if pos is None or neg is None:
            raise ConfigError("give --data FILE, or both --pos and --neg")
        return from_fasta_pair(pos, neg, iupac_to_n=iupac_to_n)
    kind = detect_format(data)
    if kind == "deepbio":
        return from_deepbio(data, iupac_to_n=iupac_to_n)
    if kind == "table":
        return from_table(data, targets=targets, iupac_to_n=iupac_to_n)
    raise InputError(
        f"a {kind} file cannot be used as --data; expected a DeepBIO FASTA "
        "(>id|label|training) or a table with a 'sequence' column "
        + ("(use --pos/--neg for plain FASTA)" if kind == "fasta" else "(use `cislearn prepare`)"),
        path=Path(data),
    )


# -- splits --------------------------------------------------------------------------------


def random_split(
    labels: np.ndarray | Sequence[float],
    *,
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    stratify: bool = True,
    seed: int = 0,
) -> np.ndarray:
    """Seeded random split, stratified by label, into ``train``/``valid``/``test``.

    Parameters
    ----------
    labels : array of shape (n,)
        Stratification labels (e.g. the class); continuous targets should pass
        ``stratify=False``.

    Returns
    -------
    ndarray of shape (n,) of str
    """
    for name, frac in (("valid_fraction", valid_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= frac < 1.0:
            raise ConfigError(f"{name} must be in [0, 1); got {frac}")
    if valid_fraction + test_fraction >= 1.0:
        raise ConfigError(
            f"valid_fraction + test_fraction must be < 1; got {valid_fraction + test_fraction}"
        )
    labels = np.asarray(labels)
    n = len(labels)
    rng = np.random.default_rng(seed)
    out = np.full(n, "train", dtype=object)
    groups = (
        [np.flatnonzero(labels == v) for v in np.unique(labels)] if stratify else [np.arange(n)]
    )
    for idx in groups:
        idx = rng.permutation(idx)
        n_test = int(round(test_fraction * len(idx)))
        n_valid = int(round(valid_fraction * len(idx)))
        out[idx[:n_test]] = "test"
        out[idx[n_test : n_test + n_valid]] = "valid"
    return out


def _is_class_label(values: np.ndarray) -> bool:
    """True when ``values`` look like class labels (integers, at most 50 of them)."""
    return bool(np.all(values == np.round(values))) and len(np.unique(values)) <= 50


SplitMethod = Literal["random", "chromosome", "given"]


def assign_split(
    dataset: SequenceDataset,
    *,
    method: SplitMethod = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    valid_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    seed: int = 0,
) -> SequenceDataset:
    """Return ``dataset`` with a split assigned.

    ``random``: seeded, stratified by the first target when it is a class label.
    ``chromosome``: whole chromosomes held out, either the ones named in ``valid_chroms`` /
    ``test_chroms`` or, when none are named, chosen to reach the fractions.
    ``given``: keep the split that came with the input (DeepBIO words or a ``split`` column);
    records without one are an error.
    """
    if method == "given":
        if dataset.split is None:
            raise ConfigError(
                "split method 'given' needs a split in the input (DeepBIO headers or a "
                "'split' column); use --split random or chromosome"
            )
        return dataset
    if method == "random":
        first = dataset.targets[:, 0] if len(dataset) else np.zeros(0)
        discrete = _is_class_label(first)
        split = random_split(
            first if discrete else np.zeros(len(dataset)),
            valid_fraction=valid_fraction,
            test_fraction=test_fraction,
            stratify=discrete,
            seed=seed,
        )
        return dataset.with_split(split)
    if method == "chromosome":
        from cislearn.intervals import chromosome_split

        if dataset.chroms is None:
            raise ConfigError(
                "split method 'chromosome' needs genomic coordinates (build the data with "
                "`cislearn prepare`); use --split random"
            )
        named = bool(valid_chroms) or bool(test_chroms)
        split = chromosome_split(
            list(dataset.chroms),
            valid=valid_chroms,
            test=test_chroms,
            valid_fraction=None if named else valid_fraction,
            test_fraction=None if named else test_fraction,
            seed=seed,
        )
        return dataset.with_split(split)
    raise ConfigError(f"split method must be one of random, chromosome, given; got '{method}'")


def carve_valid(
    dataset: SequenceDataset, *, fraction: float = 0.1, seed: int = 0
) -> SequenceDataset:
    """Move a seeded, stratified ``fraction`` of the training records to ``valid`` when the
    split has no validation part (DeepBIO ``training``/``testing`` files, train/test tables).

    A dataset without a split, one that already has ``valid`` records, or ``fraction == 0`` is
    returned unchanged. The carved dataset records ``provenance["valid_carved"]`` (records
    moved, fraction, seed), so every later step can say what happened.

    Parameters
    ----------
    dataset : SequenceDataset
        Records with a split of shape (n,).
    fraction : float
        Share of the training records moved to ``valid``, in [0, 1).
    seed : int
        Seed of the draw (stratified by the first target when it is a class label).

    Examples
    --------
    >>> ds = SequenceDataset.from_arrays(["A"] * 10, [0, 1] * 5, split=["train"] * 8 + ["test"] * 2)
    >>> carve_valid(ds, fraction=0.25).counts()["valid"]
    {'0': 1, '1': 1}
    """
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"valid_fraction must be in [0, 1); got {fraction}")
    if dataset.split is None or fraction == 0 or (dataset.split == "valid").any():
        return dataset
    train = np.flatnonzero(dataset.split == "train")
    first = dataset.targets[train, 0]
    discrete = _is_class_label(first)
    inner = random_split(
        first if discrete else np.zeros(len(train)),
        valid_fraction=fraction,
        test_fraction=0.0,
        stratify=discrete,
        seed=seed,
    )
    split = dataset.split.copy()
    split[train[inner == "valid"]] = "valid"
    n_valid = int((inner == "valid").sum())
    carved = {
        "n_valid": n_valid,
        "n_train": len(train) - n_valid,
        "fraction": fraction,
        "seed": seed,
    }
    return dataset.with_split(split).with_provenance(valid_carved=carved)


def carve_note(dataset: SequenceDataset) -> str | None:
    """The sentence that says a validation part was carved (None when it was not)."""
    carved = dataset.provenance.get("valid_carved")
    if not carved:
        return None
    return (
        f"the input's split has no validation part: {carved['n_valid']} of the training records "
        f"({carved['fraction']:g}, seeded {carved['seed']}, stratified by label) were held out "
        "for validation (early stopping and best epoch of deep models); --valid-fraction 0 "
        "trains without one"
    )


# -- torch side ----------------------------------------------------------------------------


class OneHotDataset:
    """A map-style torch dataset of one-hot sequences (n, 4 + c, L) and targets (n, t).

    Everything is encoded once up front; ``__getitems__`` serves a whole batch with one
    indexing operation (torch's DataLoader uses it when present), which is much faster than
    collating single items. Torch is imported only when this class is used.

    Parameters
    ----------
    dataset : SequenceDataset
        Records of one fixed length.
    n_value : float
        Value of the four channels at an N (0.25 or 0).
    """

    def __init__(self, dataset: SequenceDataset, *, n_value: float = 0.25) -> None:
        import torch

        from cislearn.encode import one_hot

        if len(dataset) and dataset.fixed_length is None:
            raise length_error(dataset)
        x = one_hot(list(dataset.sequences), n_value=n_value)
        if dataset.tracks is not None:
            x = np.concatenate([x, dataset.tracks], axis=1)
        self.x = torch.from_numpy(np.ascontiguousarray(x))
        self.y = torch.from_numpy(dataset.targets)

    def __len__(self) -> int:
        return int(self.x.shape[0])

    def __getitem__(self, index: int) -> tuple[Any, Any]:
        return self.x[index], self.y[index]

    def __getitems__(self, indices: Sequence[int]) -> tuple[Any, Any]:
        import torch

        idx = torch.as_tensor(indices, dtype=torch.long)
        return self.x[idx], self.y[idx]


def _batch_identity(batch: Any) -> Any:
    return batch


def make_loader(
    dataset: SequenceDataset | OneHotDataset,
    *,
    batch_size: int = 128,
    shuffle: bool = False,
    seed: int = 0,
    drop_last: bool = False,
    n_value: float = 0.25,
) -> Any:
    """A torch ``DataLoader`` yielding ``(x, y)`` batches of shape (b, 4 + c, L) and (b, t)."""
    import torch
    from torch.utils.data import DataLoader

    ds = dataset if isinstance(dataset, OneHotDataset) else OneHotDataset(dataset, n_value=n_value)
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        ds,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        generator=generator,
        collate_fn=_batch_identity,
    )
