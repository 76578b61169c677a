"""The demo actions: simulated data (`simulate`) and the main job end to end on it (`demo`):
simulate → split → train → evaluate → report."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.types import Progress, no_progress

__all__ = ["DemoResult", "simulate_run", "demo_run"]


class DemoResult(NamedTuple):
    """What :func:`demo_run` wrote: the data folder's summary and the run."""

    data_summary: dict[str, Any]
    """Counts of :func:`simulate_run` (positives, negatives, motifs, split counts...)."""
    run: Any
    """:class:`cislearn.pipelines.train.RunResult` of the trained model."""


def _simulate_into(
    out: Path,
    *,
    n_positive: int,
    n_negative: int,
    length: int,
    motifs: Sequence[str],
    seed: int,
    variants: int = 0,
    logistic: bool = False,
) -> dict[str, Any]:
    from cislearn.data import SequenceDataset, assign_split
    from cislearn.io.datasets import write_dataset_files
    from cislearn.io.tables import write_table
    from cislearn.pipelines.prepare import dataset_summary
    from cislearn.simsets import implant_model, logistic_set
    from cislearn.simulate import simulate

    if logistic:
        sim, truth = logistic_set(
            n=n_positive + n_negative, length=length, motifs=tuple(motifs), seed=seed
        )
    else:
        sim = simulate(
            n_positive=n_positive,
            n_negative=n_negative,
            length=length,
            motifs=tuple(motifs),
            seed=seed,
        )
        truth = implant_model(sim.motifs)
    dataset = assign_split(
        SequenceDataset.from_arrays(
            sim.sequences, sim.labels, ids=sim.ids, provenance={"method": "simulate"}
        ),
        method="random",
        seed=seed,
    )
    summary = {
        "positives": int((sim.labels == 1).sum()),
        "negatives": int((sim.labels == 0).sum()),
        "motifs": [m.label for m in truth.motifs],
        "length": length,
        "seed": seed,
        **dataset_summary(dataset),
    }
    write_dataset_files(dataset, out, summary=summary)
    write_table(out / "implants.tsv", sim.implants)
    if variants:
        _write_variants(out, sim, truth, n=variants, seed=seed)
        summary["variants"] = variants
    return summary


def _write_variants(out: Path, sim: object, truth: object, *, n: int, seed: int) -> None:
    """``genome.fa`` (sequences between background flanks), ``variants.vcf``, truth table."""
    from cislearn.io.fasta import write_fasta
    from cislearn.io.tables import write_table
    from cislearn.io.vcf import InfoField, write_vcf
    from cislearn.simsets import simulated_snvs
    from cislearn.simulate import markov_background

    seqs, ids = list(sim.sequences), list(sim.ids)  # type: ignore[attr-defined]
    table = simulated_snvs(seqs, ids, sim.implants, truth, n=n, seed=seed)  # type: ignore
    flank = len(seqs[0]) // 2 + 1  # a centred window never reaches past a contig
    pads = markov_background(2 * len(seqs), flank, seed=seed + 7)
    write_fasta(
        out / "genome.fa",
        (
            (i, pads[2 * k] + s + pads[2 * k + 1])
            for k, (i, s) in enumerate(zip(ids, seqs, strict=True))
        ),
    )
    table = table.assign(pos=table["pos"] + flank)
    info = [
        InfoField("TRUE_EFFECT", "1", "Float", "Change of the generative model's score"),
        InfoField("IN_MOTIF", "0", "Flag", "Inside an implanted motif instance"),
    ]
    rows = [
        (
            r.chrom,
            int(r.pos),
            r.id,
            r.ref,
            r.alt,
            {"TRUE_EFFECT": float(r.true_effect), "IN_MOTIF": bool(r.in_motif)},
        )
        for r in table.itertuples()
    ]
    contigs = {i: len(s) + 2 * flank for i, s in zip(ids, seqs, strict=True)}
    write_vcf(out / "variants.vcf", [rows], info=info, contigs=contigs)
    write_table(out / "variants_truth.tsv", table)


def simulate_run(
    out: str | os.PathLike[str],
    *,
    n_positive: int = 1000,
    n_negative: int = 1000,
    length: int = 201,
    motifs: Sequence[str] = ("MA0139",),
    seed: int = 0,
    variants: int = 0,
    logistic: bool = False,
) -> dict[str, Any]:
    """Simulate, split and write a demo dataset into the folder ``out`` (atomically).

    Dinucleotide-Markov background with real JASPAR motifs implanted in the positives; writes
    ``pos.fa``, ``neg.fa``, ``dataset.fa``, ``summary.json`` and ``implants.tsv``. Returns the
    summary (counts per label and split, motif labels, GC, leakage). ``logistic``: labels drawn
    from sigmoid(0.5 · Σ_m max(0, best log-odds of motif m) + c) instead of implants.
    ``variants`` > 0 also writes ``genome.fa`` (each sequence as a contig between background
    flanks), ``variants.vcf`` (for ``score-variants``) and ``variants_truth.tsv`` (each SNV's
    true effect under the generative model).
    """
    from cislearn.io.atomic import atomic_dir

    with atomic_dir(Path(out)) as tmp:
        return _simulate_into(
            tmp,
            n_positive=n_positive,
            n_negative=n_negative,
            length=length,
            motifs=motifs,
            seed=seed,
            variants=variants,
            logistic=logistic,
        )


def demo_run(
    out: str | os.PathLike[str],
    *,
    seed: int = 0,
    max_epochs: int = 10,
    progress: Progress = no_progress,
) -> DemoResult:
    """`cislearn demo`: 2,000 + 2,000 simulated CTCF (MA0139) sequences of 201 bp in
    ``out/data``, the default model trained on them and evaluated in ``out/run``."""
    from cislearn.config import resolve_config
    from cislearn.data import load_dataset
    from cislearn.pipelines.train import train_run

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    summary = _simulate_into(
        out / "data", n_positive=2000, n_negative=2000, length=201, motifs=("MA0139",), seed=seed
    )
    dataset = load_dataset(out / "data" / "dataset.fa")
    config = resolve_config(
        {}, {"arch": "auto", "max_epochs": max_epochs, "seed": seed, "split": "given"}
    )
    return DemoResult(summary, train_run(dataset, config, out / "run", progress=progress))
