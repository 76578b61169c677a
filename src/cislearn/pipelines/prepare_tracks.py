"""`prepare` with several experiments and bigWig signals: one multi-task / regression set on disk.

Several peak files become one set of windows with one binary label per experiment
(:func:`cislearn.tracks.union_windows`, :data:`cislearn.tracks.LABEL_RULE`); ``signals`` add
continuous targets per window from bigWig tracks (and optionally base-resolution profiles).
Negatives, resizing and splits are those of :func:`cislearn.pipelines.prepare.prepare_peaks`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from cislearn.errors import ConfigError, InputError
from cislearn.io.atomic import refuse_overwrite
from cislearn.tracks import LABEL_RULE, TrackSpec, experiment_labels, signal_targets
from cislearn.types import Progress, no_progress

__all__ = ["PreparedTracks", "prepare_tracks"]


class PreparedTracks(NamedTuple):
    """What :func:`prepare_tracks` returns."""

    out: Path
    target_names: tuple[str, ...]
    """Experiment labels (``label`` for one peak file), then one column per signal."""
    summary: dict[str, Any]
    """Also written to ``summary.json``."""


def prepare_tracks(
    peaks: Mapping[str, str | os.PathLike[str]],
    genome: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    signals: Sequence[TrackSpec] = (),
    profiles: bool = False,
    top: int | None = 4000,
    width: int = 201,
    anchor: str = "summit",
    negatives: str = "genomic",
    fold: int = 1,
    split: str = "random",
    valid_fraction: float = 0.1,
    test_fraction: float = 0.2,
    valid_chroms: Sequence[str] = (),
    test_chroms: Sequence[str] = (),
    seed: int = 0,
    force: bool = False,
    progress: Progress = no_progress,
) -> PreparedTracks:
    """Peaks of one or more experiments (+ bigWig signals) → a table-based training set in ``out``.

    Parameters
    ----------
    peaks : mapping name → narrowPeak/BED path
        One file: the usual binary set; several: one 0/1 column per experiment (the union of
        the ``top`` strongest peaks of each file, overlapping windows merged).
    genome : path
        Reference FASTA.
    signals : sequence of TrackSpec
        bigWig tracks giving one continuous target each (stat over the window or its central
        width, transform, missing-value rule).
    profiles : bool
        Also write base-resolution signal values (n, tracks, width) to ``profiles.npz``.

    Writes ``dataset.tsv`` (id, chrom, start, end, sequence, split, targets...), ``pos.fa`` /
    ``neg.fa`` / ``dataset.fa`` (positive = any experiment), ``regions.bed``, ``summary.json``,
    ``qc.png`` and, with ``profiles``, ``profiles.npz``.

    Examples
    --------
    >>> prepare_tracks({"ctcf": "ctcf.narrowPeak", "rad21": "rad21.narrowPeak"},
    ...                "hg38.fa", "data/cohesin")  # doctest: +SKIP
    """
    from cislearn.io.atomic import atomic_dir
    from cislearn.io.bed import read_bed
    from cislearn.io.bigwig import BigWig
    from cislearn.io.datasets import write_arrays, write_dataset_files, write_dataset_table
    from cislearn.io.genome import Genome
    from cislearn.pipelines.prepare import dataset_summary, prepare_peaks
    from cislearn.report.qc import plot_background_qc
    from cislearn.tracks import profile_targets, union_windows

    out = Path(out)
    if not peaks:
        raise ConfigError("give at least one peak file")
    refuse_overwrite(out, force)
    if signals and negatives == "shuffle":
        raise ConfigError(
            "--signal needs genomic coordinates for every window; shuffled negatives have none "
            "(use --negatives genomic or none)"
        )
    frames = {name: read_bed(path) for name, path in peaks.items()}
    gen = Genome(genome)
    names = list(frames)
    multi = len(frames) > 1
    union_counts: dict[str, Any] = {}
    if multi:
        windows, union_counts = union_windows(frames, width=width, top=top, anchor=anchor)
        source = ",".join(map(str, peaks.values()))
        frame, top_used, anchor_used = windows, None, "center"
    else:
        source, frame, top_used, anchor_used = str(peaks[names[0]]), frames[names[0]], top, anchor
    prepared = prepare_peaks(
        frame,
        gen,
        top=top_used,
        width=width,
        anchor=anchor_used,  # type: ignore[arg-type]
        negatives=negatives,  # type: ignore[arg-type]
        fold=fold,
        split=split,  # type: ignore[arg-type]
        valid_fraction=valid_fraction,
        test_fraction=test_fraction,
        valid_chroms=valid_chroms,
        test_chroms=test_chroms,
        seed=seed,
        source=source,
        progress=progress,
    )
    dataset, regions = prepared.dataset, prepared.regions
    any_label = dataset.targets[:, :1]
    targets, target_names = any_label, ["label"]
    if multi:
        by_id = regions.set_index("name")
        pos_ids = [i for i, y in zip(dataset.ids, dataset.labels, strict=True) if y == 1]
        labels = experiment_labels(by_id.loc[pos_ids].reset_index(), frames)
        targets = np.zeros((len(dataset), len(names)), dtype=np.float32)
        row = {rid: k for k, rid in enumerate(dataset.ids)}
        targets[[row[i] for i in pos_ids]] = labels
        target_names = names
    summary: dict[str, Any] = {**prepared.summary, "experiments": names}
    if multi:
        summary["label_rule"] = LABEL_RULE
        summary["union"] = union_counts
        summary["positives_per_experiment"] = {
            n: int(targets[:, j].sum()) for j, n in enumerate(names)
        }
    profile_values = None
    if signals:
        progress("read signals", 0, len(signals))
        coords = regions.set_index("name").reindex(list(dataset.ids)).reset_index()
        if coords["chrom"].isna().any():
            raise InputError("some windows have no coordinates; --signal needs all of them")
        with ExitStack() as stack:
            tracks = {s.name: stack.enter_context(BigWig(s.path)) for s in signals}
            sig = signal_targets(coords, tracks, signals)
            keep = sig.keep
            if profiles:
                profile_values, pkeep, pcounts = profile_targets(coords, tracks, signals)
                keep = keep & pkeep
                for name, counts in pcounts.items():
                    sig.counts[name]["uncovered_bases"] = counts["uncovered_bases"]
        progress("read signals", len(signals), len(signals))
        targets = np.concatenate([targets, sig.values], axis=1)
        target_names = [*target_names, *(s.name for s in signals)]
        if len(set(target_names)) != len(target_names):
            raise ConfigError(f"target names must be distinct; got {target_names}")
        summary["signals"] = sig.counts
        summary["signal_windows_dropped"] = int((~keep).sum())
    else:
        keep = np.ones(len(dataset), dtype=bool)
    dataset = replace(dataset, targets=targets, target_names=tuple(target_names))
    if not keep.all():
        dataset = dataset.subset(keep)
        any_label = any_label[keep]
        if profile_values is not None:
            profile_values = profile_values[keep]
        regions = regions[regions["name"].isin(set(dataset.ids))]
    summary.update(dataset_summary(replace(dataset, targets=any_label, target_names=("label",))))
    summary["target_names"] = list(target_names)
    stats = prepared.stats.assign(id=prepared.dataset.ids).set_index("id").loc[list(dataset.ids)]
    binary = replace(dataset, targets=any_label, target_names=("label",))
    with atomic_dir(out) as tmp:
        write_dataset_files(binary, tmp, regions=regions, summary=summary)
        write_dataset_table(dataset, tmp / "dataset.tsv", regions=regions)
        if profile_values is not None:
            write_arrays(
                tmp / "profiles.npz",
                values=profile_values,
                ids=np.array(dataset.ids, dtype=str),
                tracks=np.array([s.name for s in signals], dtype=str),
            )
        plot_background_qc(stats[stats["label"] == 1], stats[stats["label"] == 0], tmp / "qc.png")
    return PreparedTracks(out, tuple(target_names), summary)
