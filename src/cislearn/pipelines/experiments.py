"""`cislearn experiment marginalize|ablate|spacing`: read the model, sequences and motifs, run
the in-silico experiment, write its tables, figure and record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, NamedTuple

from cislearn.errors import InputError
from cislearn.interpret.experiments import (
    ORIENTATIONS,
    ExperimentResult,
    ablate_motif,
    marginalize_motif,
    motif_spacing,
)
from cislearn.pipelines.inputs import load_deep_model, resolve_motif
from cislearn.pipelines.interpret import read_records, target_index
from cislearn.pipelines.record import claim_output, write_record
from cislearn.predict import predicting_model
from cislearn.report.experiments import plot_before_after, plot_spacing
from cislearn.report.modisco import write_table
from cislearn.types import Progress, no_progress

__all__ = ["ExperimentRun", "marginalize_run", "ablate_run", "spacing_run", "parse_spacings"]


class ExperimentRun(NamedTuple):
    """What an experiment pipeline wrote and measured."""

    out: Path
    result: ExperimentResult
    line: str
    """One-line summary for the CLI."""


def _sequences(
    predictor: Any, fasta: str | os.PathLike[str], first: int | None, shuffle: bool, seed: int
):
    ids, seqs = read_records(fasta, first=first)
    if shuffle:
        from cislearn.negatives import kshuffle

        seqs = kshuffle(seqs, k=2, seed=seed)
        ids = [f"{i}_shuffled" for i in ids]
    return ids, predictor.encode(seqs, ids=ids, path=fasta)


def _bases(spec: str, release: str | None) -> str:
    """A motif spec as bases to implant: the consensus of a matrix, or the sequence itself."""
    return (
        resolve_motif(spec, release=release).consensus
        if not set(spec.upper()) <= set("ACGTN")
        else spec.upper()
    )


def _finish(
    folder: Path,
    name: str,
    result: ExperimentResult,
    action: str,
    options: dict,
    inputs: dict,
    line: str,
) -> ExperimentRun:
    write_table(folder / f"{name}.tsv", result.table)
    write_table(folder / "summary.tsv", result.summary)
    write_record(folder, action, options, inputs)
    return ExperimentRun(folder, result, line)


def _named(result: ExperimentResult, ids: list[str]) -> ExperimentResult:
    """The per-sequence table with a ``seq_id`` column."""
    table = result.table.assign(seq_id=[ids[i] for i in result.table["seq_index"]])
    return ExperimentResult(table, result.summary)


def _mean_line(what: str, result: ExperimentResult, output: str) -> str:
    s = result.summary.iloc[0]
    return (
        f"{what}: mean {output} {s['mean_before']:.3f} -> {s['mean_after']:.3f} "
        f"(change {s['mean_delta']:+.3f}, sd {s['sd_delta']:.3f}, 95% CI "
        f"{s['ci_low']:+.3f} to {s['ci_high']:+.3f}; n={int(s['n'])})"
    )


def marginalize_run(
    run: str | os.PathLike[str],
    background: str | os.PathLike[str],
    motif: str,
    out: str | os.PathLike[str],
    *,
    first: int | None = None,
    shuffle: bool = False,
    start: int | None = None,
    target: str | None = None,
    output: str = "prob",
    release: str | None = None,
    seed: int = 0,
    force: bool = False,
) -> ExperimentRun:
    """Implant a motif (JASPAR ID → consensus, a sequence, or FILE[#ID] → consensus) into the
    background sequences (optionally dinucleotide-shuffled first); writes ``marginalize.tsv``,
    ``summary.tsv``, ``figures/marginalize.png`` and ``record.json``."""
    folder = claim_output(out, ("marginalize.tsv",), force=force)
    predictor = load_deep_model(run)
    bases = _bases(motif, release)
    ids, x = _sequences(predictor, background, first, shuffle, seed)
    k = target_index(predictor, target)
    res = marginalize_motif(
        predicting_model(predictor),
        x,
        bases,
        start=start,
        target=k,
        output=output,
        task=predictor.task,
        device=predictor.device,
    )
    res = _named(res, ids)
    plot_before_after(
        res.table,
        folder / "figures" / "marginalize.png",
        output=output,
        title=f"{bases} implanted into {len(ids)} background sequences",
    )
    line = _mean_line(f"marginalize {bases}", res, output)
    return _finish(
        folder,
        "marginalize",
        res,
        "experiment marginalize",
        dict(
            motif=motif,
            bases=bases,
            first=first,
            shuffle=shuffle,
            start=start,
            target=k,
            output=output,
            release=release,
            seed=seed,
        ),
        {"run": run, "background": background},
        line,
    )


def ablate_run(
    run: str | os.PathLike[str],
    data: str | os.PathLike[str],
    motif: str,
    out: str | os.PathLike[str],
    *,
    first: int | None = None,
    mode: str = "shuffle",
    threshold: float = 1e-4,
    n_shuffles: int = 10,
    target: str | None = None,
    output: str = "prob",
    release: str | None = None,
    seed: int = 0,
    force: bool = False,
) -> ExperimentRun:
    """Shuffle or mask every FIMO instance of a motif in the sequences; writes ``ablate.tsv``,
    ``summary.tsv``, ``figures/ablate.png`` and ``record.json``."""
    folder = claim_output(out, ("ablate.tsv",), force=force)
    predictor = load_deep_model(run)
    m = resolve_motif(motif, release=release)
    ids, x = _sequences(predictor, data, first, False, seed)
    k = target_index(predictor, target)
    res = ablate_motif(
        predicting_model(predictor),
        x,
        m,
        mode=mode,
        threshold=threshold,
        n_shuffles=n_shuffles,
        seed=seed,
        target=k,
        output=output,
        task=predictor.task,
        device=predictor.device,
    )
    res = _named(res, ids)
    plot_before_after(
        res.table,
        folder / "figures" / "ablate.png",
        output=output,
        title=f"{m.label} instances {'shuffled' if mode == 'shuffle' else 'masked'} "
        f"({len(res.table)} of {len(ids)} sequences)",
    )
    line = _mean_line(f"ablate {m.label} ({len(res.table)} of {len(ids)} sequences)", res, output)
    return _finish(
        folder,
        "ablate",
        res,
        "experiment ablate",
        dict(
            motif=motif,
            first=first,
            mode=mode,
            threshold=threshold,
            n_shuffles=n_shuffles,
            target=k,
            output=output,
            release=release,
            seed=seed,
        ),
        {"run": run, "data": data},
        line,
    )


def parse_spacings(text: str) -> list[int]:
    """``"0-30"`` (inclusive), ``"0-30:5"`` (step) or ``"0,5,10"`` → spacings."""
    try:
        if "-" in text and "," not in text:
            span, _, step = text.partition(":")
            a, b = span.split("-", 1)
            return list(range(int(a), int(b) + 1, int(step) if step else 1))
        return [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise InputError(
            f"--spacings: {text!r}; expected a range like 0-30, 0-30:5 or a list like 0,5,10"
        ) from None


def spacing_run(
    run: str | os.PathLike[str],
    background: str | os.PathLike[str],
    first_motif: str,
    second_motif: str,
    out: str | os.PathLike[str],
    *,
    spacings: str = "0-30",
    orientations: str = ",".join(ORIENTATIONS),
    first: int | None = 200,
    shuffle: bool = False,
    target: str | None = None,
    output: str = "prob",
    release: str | None = None,
    seed: int = 0,
    force: bool = False,
    progress: Progress = no_progress,
) -> ExperimentRun:
    """Two motifs at every spacing and orientation in the background sequences; writes
    ``spacing.tsv`` (one row per sequence, orientation and spacing), ``summary.tsv`` (mean
    effect per orientation and spacing), ``figures/spacing.png`` and ``record.json``."""
    folder = claim_output(out, ("spacing.tsv",), force=force)
    predictor = load_deep_model(run)
    a, b = _bases(first_motif, release), _bases(second_motif, release)
    ids, x = _sequences(predictor, background, first, shuffle, seed)
    k = target_index(predictor, target)
    res = motif_spacing(
        predicting_model(predictor),
        x,
        a,
        b,
        spacings=parse_spacings(spacings),
        orientations=[o.strip() for o in orientations.split(",") if o.strip()],
        target=k,
        output=output,
        task=predictor.task,
        device=predictor.device,
        progress=progress,
    )
    plot_spacing(
        res.summary,
        folder / "figures" / "spacing.png",
        output=output,
        title=f"{a} then {b} in {len(ids)} background sequences",
    )
    best = res.summary.sort_values("mean_delta", ascending=False).iloc[0]
    line = (
        f"spacing {a} / {b}: strongest at {best['orientation']} spacing {int(best['spacing'])} "
        f"(mean change of {output} {best['mean_delta']:+.3f}); weakest "
        f"{res.summary['mean_delta'].min():+.3f}"
    )
    return _finish(
        folder,
        "spacing",
        res,
        "experiment spacing",
        dict(
            first_motif=first_motif,
            second_motif=second_motif,
            bases=[a, b],
            spacings=spacings,
            orientations=orientations,
            first=first,
            shuffle=shuffle,
            target=k,
            output=output,
            release=release,
            seed=seed,
        ),
        {"run": run, "background": background},
        line,
    )
