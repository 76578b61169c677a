"""The data actions: peaks + genome → a labelled, split training set with negatives
(`prepare`), and negative controls for a FASTA file (`negatives`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from cislearn.data import SequenceDataset, assign_split
from cislearn.errors import ConfigError, InputError
from cislearn.leakage import leakage_report
from cislearn.types import Progress, no_progress

__all__ = [
    "Prepared",
    "PrepareResult",
    "NegativesResult",
    "prepare_peaks",
    "prepare_run",
    "negatives_run",
    "make_negatives",
    "dataset_summary",
    "ResizeResult",
    "resize_run",
]

NegativeMethod = Literal["genomic", "shuffle", "none"]


class Prepared(NamedTuple):
    """Result of :func:`prepare_peaks`."""

    dataset: SequenceDataset
    """Positives (label 1) then negatives (label 0), split assigned."""
    regions: pd.DataFrame
    """chrom, start, end, name, label, split for every record with genomic coordinates."""
    stats: pd.DataFrame
    """Per-sequence length, gc, repeat_fraction, n_fraction and label (for QC figures)."""
    summary: dict[str, Any]
    """JSON-serialisable counts of every step (peaks in, dropped, merged, kept, negatives…)."""


def make_negatives(
    sequences: Sequence[str],
    *,
    method: NegativeMethod,
    ids: Sequence[str],
    chroms: Sequence[str] | None = None,
    genome: Any = None,
    exclude: pd.DataFrame | None = None,
    fold: int = 1,
    seed: int = 0,
    progress: Progress = no_progress,
) -> tuple[SequenceDataset, pd.DataFrame | None, int]:
    """Negative controls for ``sequences``: dinucleotide shuffles or matched genomic background.

    Returns the negatives as a dataset (label 0), their regions (genomic method only) and the
    number of positives whose GC/repeat bin could not be matched exactly.
    """
    from cislearn.negatives import genomic_background, kshuffle

    if fold < 1:
        raise ConfigError(f"fold must be >= 1; got {fold}")
    if method == "shuffle":
        progress("dinucleotide shuffle", 0, len(sequences))
        shuffled = kshuffle(sequences, k=2, n_shuffles=fold, seed=seed)
        progress("dinucleotide shuffle", len(sequences), len(sequences))
        neg_ids = [f"shuf{j + 1}:{i}" for i in ids for j in range(fold)]
        neg_chroms = None if chroms is None else [c for c in chroms for _ in range(fold)]
        ds = SequenceDataset.from_arrays(
            shuffled, np.zeros(len(shuffled)), ids=neg_ids, chroms=neg_chroms
        )
        return ds, None, 0
    if method == "genomic":
        if genome is None:
            raise ConfigError("negatives 'genomic' need a genome (--genome G.fa)")
        bg = genomic_background(
            sequences, genome, exclude=exclude, fold=fold, seed=seed, progress=progress
        )
        frame = bg.intervals
        neg_ids = [f"{c}:{s}-{e}" for c, s, e in frame[["chrom", "start", "end"]].itertuples(False)]
        ds = SequenceDataset.from_arrays(
            bg.sequences,
            np.zeros(len(bg.sequences)),
            ids=neg_ids,
            chroms=frame["chrom"].astype(str).tolist(),
        )
        return ds, frame.assign(name=neg_ids), int(bg.n_unmatched)
    raise ConfigError(f"negatives must be one of genomic, shuffle, none; got '{method}'")


def _concat(a: SequenceDataset, b: SequenceDataset) -> SequenceDataset:
    chroms = None
    if a.chroms is not None and b.chroms is not None:
        chroms = np.concatenate([a.chroms, b.chroms])
    return SequenceDataset.from_arrays(
        a.sequences + b.sequences,
        np.concatenate([a.targets, b.targets]),
        ids=a.ids + b.ids,
        target_names=a.target_names,
        chroms=chroms,
        provenance=a.provenance,
    )


def dataset_summary(dataset: SequenceDataset) -> dict[str, Any]:
    """Counts per split and label, lengths, GC and leakage of a dataset (JSON-serialisable)."""
    from cislearn.negatives import sequence_stats

    stats = sequence_stats(list(dataset.sequences))
    leak = leakage_report(dataset)
    by_label = {
        str(int(v)): float(stats["gc"][dataset.targets[:, 0] == v].mean())
        for v in np.unique(dataset.targets[:, 0])
    }
    return {
        "n_records": len(dataset),
        "counts": dataset.counts(),
        "length": {
            "min": int(stats["length"].min()) if len(stats) else 0,
            "max": int(stats["length"].max()) if len(stats) else 0,
        },
        "gc_mean_by_label": by_label,
        "repeat_fraction_mean": float(stats["repeat_fraction"].mean()) if len(stats) else 0.0,
        "n_fraction_mean": float(stats["n_fraction"].mean()) if len(stats) else 0.0,
        "leakage": {
            "shared_sequences": leak.n_shared,
            "records": leak.n_records,
            "examples": leak.examples,
        },
    }


def prepare_peaks(
    peaks: pd.DataFrame,
    genome: Any,
    *,
    top: int | None = 4000,
    width: int = 201,
    anchor: Literal["summit", "center"] = "summit",
    negatives: NegativeMethod = "genomic",
    fold: int = 1,
    split: Literal["random", "chromosome"] = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    valid_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    seed: int = 0,
    source: str | None = None,
    progress: Progress = no_progress,
) -> Prepared:
    """Build a training set from peaks: top-k, resize on the summit, sequences, negatives, split.

    Parameters
    ----------
    peaks : DataFrame
        As returned by :func:`cislearn.io.bed.read_bed` (0-based; ``signal`` and ``summit``
        used when present).
    genome : Genome
        Reference genome holding every chromosome named in ``peaks``.
    top : int or None
        Keep the ``top`` strongest windows (by signal, then score) after resizing, dropping
        windows that run off a chromosome and merging duplicates; None keeps all.

    Examples
    --------
    >>> from cislearn.io.bed import read_bed  # doctest: +SKIP
    >>> from cislearn.io.genome import Genome  # doctest: +SKIP
    >>> prep = prepare_peaks(read_bed("p.narrowPeak"), Genome("g.fa"))  # doctest: +SKIP
    """
    from cislearn.intervals import drop_out_of_bounds, merge_duplicates, resize, top_k
    from cislearn.negatives import sequence_stats

    if width < 1:
        raise ConfigError(f"width must be >= 1; got {width}")
    if top is not None and top < 1:
        raise ConfigError(f"top must be >= 1; got {top}")
    if peaks.empty:
        raise InputError("no peaks to prepare", path=source)
    for chrom in pd.unique(peaks["chrom"]):
        if chrom not in genome:
            lines = peaks.loc[peaks["chrom"] == chrom, "line"] if "line" in peaks else None
            line = int(lines.iloc[0]) if lines is not None else None
            genome.check_chrom(str(chrom), path=source, line=line)

    n_in = len(peaks)
    resized = resize(peaks, width, anchor=anchor)
    bounded = drop_out_of_bounds(resized, genome.lengths)
    merged = merge_duplicates(bounded.frame)
    kept = top_k(merged.frame, top) if top is not None else merged.frame
    kept = kept.reset_index(drop=True)
    names = [f"{c}:{s}-{e}" for c, s, e in kept[["chrom", "start", "end"]].itertuples(False)]
    kept = kept.assign(name=names)

    progress("extract sequences", 0, len(kept))
    pos = SequenceDataset.from_arrays(
        [
            genome.fetch(c, int(s), int(e))
            for c, s, e in kept[["chrom", "start", "end"]].itertuples(False)
        ],
        np.ones(len(kept)),
        ids=names,
        chroms=kept["chrom"].astype(str).tolist(),
    )
    progress("extract sequences", len(kept), len(kept))

    regions = kept[["chrom", "start", "end", "name"]].assign(label=1)
    n_unmatched = 0
    if negatives == "none":
        dataset = pos
    else:
        neg, neg_regions, n_unmatched = make_negatives(
            list(pos.sequences),
            method=negatives,
            ids=list(pos.ids),
            chroms=list(pos.chroms) if pos.chroms is not None else None,
            genome=genome,
            exclude=kept,
            fold=fold,
            seed=seed,
            progress=progress,
        )
        dataset = _concat(pos, neg)
        if neg_regions is not None:
            regions = pd.concat(
                [regions, neg_regions[["chrom", "start", "end", "name"]].assign(label=0)],
                ignore_index=True,
            )

    dataset = assign_split(
        dataset,
        method=split,
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        valid_chroms=valid_chroms,
        test_chroms=test_chroms,
        seed=seed,
    ).with_provenance(
        method="prepare",
        peaks=source,
        genome=str(getattr(genome, "path", "")),
        negatives=negatives,
        seed=seed,
    )
    split_of = dict(zip(dataset.ids, dataset.split, strict=True))
    regions = regions.assign(split=[split_of[n] for n in regions["name"]])
    stats = sequence_stats(list(dataset.sequences)).assign(label=dataset.labels)

    summary = {
        "peaks_in": n_in,
        "dropped_off_chromosome": int(bounded.n_dropped),
        "duplicates_merged": int(merged.n_merged),
        "positives": len(pos),
        "negatives": len(dataset) - len(pos),
        "negative_method": negatives,
        "unmatched_positives": n_unmatched,
        "width": width,
        "anchor": anchor,
        "split_method": split,
        "seed": seed,
        **dataset_summary(dataset),
    }
    return Prepared(dataset, regions, stats, summary)


class PrepareResult(NamedTuple):
    """What :func:`prepare_run` wrote: the folder, its files and the counts of every step."""

    out: Path
    files: dict[str, Path]
    summary: dict[str, Any]


def prepare_run(
    peaks: str | os.PathLike[str],
    genome: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    progress: Progress = no_progress,
    **options: Any,
) -> PrepareResult:
    """The `prepare` action: read a narrowPeak/BED file and a genome, run
    :func:`prepare_peaks` with ``options`` (``top``, ``width``, ``anchor``, ``negatives``,
    ``fold``, ``split``, ... as there) and write the folder ``out`` atomically: ``pos.fa``,
    ``neg.fa``, ``dataset.fa`` (DeepBIO), ``dataset.tsv`` (with coordinates), ``regions.bed``,
    ``summary.json`` and ``qc.png``.

    Examples
    --------
    >>> prepare_run("ctcf.narrowPeak", "hg38.fa", "data/ctcf", top=4000)  # doctest: +SKIP
    """
    from cislearn.io.atomic import atomic_dir
    from cislearn.io.bed import read_bed
    from cislearn.io.datasets import write_dataset_files, write_dataset_table
    from cislearn.io.genome import Genome
    from cislearn.report.qc import plot_background_qc

    with Genome(genome) as gen:
        prepared = prepare_peaks(
            read_bed(peaks), gen, source=str(peaks), progress=progress, **options
        )
    out = Path(out)
    with atomic_dir(out) as tmp:
        written = write_dataset_files(
            prepared.dataset, tmp, regions=prepared.regions, summary=prepared.summary
        )
        # issue 16: the same set as a table with coordinates (chromosome folds, --targets)
        written["dataset.tsv"] = write_dataset_table(
            prepared.dataset, tmp / "dataset.tsv", regions=prepared.regions
        )
        stats = prepared.stats
        plot_background_qc(stats[stats["label"] == 1], stats[stats["label"] == 0], tmp / "qc.png")
    files = {name: out / path.name for name, path in written.items()}
    files["qc.png"] = out / "qc.png"
    return PrepareResult(out, files, prepared.summary)


class NegativesResult(NamedTuple):
    """What :func:`negatives_run` wrote."""

    fasta: Path
    n_negatives: int
    n_inputs: int
    n_unmatched: int
    """Genomic method: inputs whose GC/repeat bin could not be matched exactly (0 for shuffles)."""
    qc_figure: Path | None
    """Genomic method: ``<stem>.qc.png`` (beside ``<stem>.bed`` and ``<stem>.qc.tsv``)."""


def negatives_run(
    fasta: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    method: Literal["shuffle", "genomic"] = "shuffle",
    genome: str | os.PathLike[str] | None = None,
    exclude: str | os.PathLike[str] | None = None,
    fold: int = 1,
    k: int = 2,
    seed: int = 0,
    progress: Progress = no_progress,
) -> NegativesResult:
    """The `negatives` action: k-let shuffles of each sequence of ``fasta``, or GC/length/repeat
    matched genomic background (then also ``<stem>.bed``, ``<stem>.qc.tsv``, ``<stem>.qc.png``).
    """
    from cislearn.io.fasta import read_fasta, write_fasta

    out = Path(out)
    records = list(read_fasta(fasta))
    seqs = [r.sequence for r in records]
    if method == "shuffle":
        from cislearn.negatives import kshuffle

        shuffled = kshuffle(seqs, k=k, n_shuffles=fold, seed=seed)
        ids = [f"shuf{j + 1}:{r.id}" for r in records for j in range(fold)]
        write_fasta(out, zip(ids, shuffled, strict=True))
        return NegativesResult(out, len(shuffled), len(seqs), 0, None)
    if method != "genomic":
        raise ConfigError(f"--method must be shuffle or genomic; got '{method}'")
    if genome is None:
        raise ConfigError("--method genomic needs --genome G.fa")
    from cislearn.io.bed import read_bed, write_bed
    from cislearn.io.genome import Genome
    from cislearn.io.tables import write_table
    from cislearn.negatives import genomic_background, sequence_stats
    from cislearn.report.qc import plot_background_qc

    with Genome(genome) as gen:
        bg = genomic_background(
            seqs,
            gen,
            exclude=read_bed(exclude) if exclude is not None else None,
            fold=fold,
            seed=seed,
            progress=progress,
        )
    stem = out.with_name(out.name.removesuffix(".gz").rsplit(".", 1)[0])
    frame = bg.intervals
    names = [f"{c}:{s}-{e}" for c, s, e in frame[["chrom", "start", "end"]].itertuples(False)]
    write_fasta(out, zip(names, bg.sequences, strict=True))
    write_bed(stem.with_suffix(".bed"), frame.assign(name=names))
    write_table(stem.with_suffix(".qc.tsv"), bg.qc)
    qc = stem.with_suffix(".qc.png")
    plot_background_qc(sequence_stats(seqs), sequence_stats(bg.sequences), qc)
    return NegativesResult(out, len(bg.sequences), len(seqs), int(bg.n_unmatched), qc)


class ResizeResult(NamedTuple):
    """What :func:`resize_run` wrote."""

    out: Path
    n_records: int
    n_trimmed: int
    n_padded: int


def resize_run(
    fasta: str | os.PathLike[str], out: str | os.PathLike[str], *, length: int
) -> ResizeResult:
    """The `resize` action: every record of ``fasta`` centred in ``length`` bp (longer ones
    trimmed, shorter ones padded with N, the difference split ``d // 2`` left and the rest
    right: :func:`cislearn.encode.resize_sequence`), headers kept, written atomically."""
    from cislearn.encode import resize_sequence
    from cislearn.io.fasta import read_fasta, write_fasta

    records = list(read_fasta(fasta))
    n = write_fasta(out, ((r.description, resize_sequence(r.sequence, length)) for r in records))
    trimmed = sum(len(r.sequence) > length for r in records)
    padded = sum(len(r.sequence) < length for r in records)
    return ResizeResult(Path(out), n, trimmed, padded)
