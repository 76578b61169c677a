"""The `score-variants` action: stream a variant file through a run's model and write the
scores (``variants.tsv``), an annotated ``variants.vcf``, a summary figure, mutation maps of the
top variants and ``summary.json``. Shared by the CLI and the web app's variant jobs."""

from __future__ import annotations

import heapq
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from cislearn.io.atomic import atomic_write
from cislearn.io.genome import Genome
from cislearn.io.vcf import InfoField, read_vcf_header, write_vcf
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress
from cislearn.variants import VariantScorer, VariantSummary, effect_column, iter_variant_scores

logger = logging.getLogger(__name__)

__all__ = ["VariantsResult", "score_variants_run", "TABLE", "VCF", "FIGURE", "MAPS"]

#: Names of the outputs inside ``out`` (the web pages read them too).
TABLE = "variants.tsv"
VCF = "variants.vcf"
FIGURE = "figures/variant_effects.png"
MAPS = "maps"

#: Effects kept (uniform reservoir sample) for the distribution figure: memory stays flat.
_SAMPLE = 200_000
#: The strongest variants are labelled in the figure (at least this many kept).
_LABELLED = 20
_PART_DTYPES = {"id": str, "chrom": str, "genome_chrom": str, "ref": str, "alt": str, "flag": str}


class VariantsResult(NamedTuple):
    """What :func:`score_variants_run` wrote and counted."""

    out: Path
    table: Path
    """``variants.tsv``: one row per ALT allele with scores, p- and q-values."""
    vcf: Path
    """``variants.vcf``: the input records annotated with ``CL_*`` INFO fields."""
    figure: Path
    maps: list[Path]
    """Mutation-map figures of the top variants (``maps/NN_<id>.png``)."""
    n_rows: int
    summary: VariantSummary
    effect: str
    """The column that ranks variants (Δscore or Δ of the first output)."""


class _Stream(NamedTuple):
    sample: np.ndarray
    """Uniform sample of at most ``_SAMPLE`` finite effects."""
    seen: int
    top: list[tuple[Any, ...]]
    """(id, chrom, pos, ref, alt, effect) of the strongest variants, strongest first."""


def _reservoir(
    sample: np.ndarray, seen: int, values: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, int]:
    """Uniform sample of at most ``_SAMPLE`` values of a stream (Algorithm R, vectorised)."""
    room = max(_SAMPLE - len(sample), 0)
    sample = np.concatenate([sample, values[:room]])
    rest = values[room:]
    if len(rest):
        slots = rng.integers(0, seen + room + 1 + np.arange(len(rest)))
        hit = slots < _SAMPLE
        sample[slots[hit]] = rest[hit]  # later values win on repeated slots, as in the loop
    return sample, seen + len(values)


def _stream(
    frames: Iterator[pd.DataFrame], part: Path, effect: str, *, keep: int, seed: int
) -> _Stream:
    """Pass 1: write the scored frames to ``part``; keep a reservoir sample and the top-k."""
    rng = np.random.default_rng(seed)
    sample = np.empty(0)
    seen = order = 0
    top: list[tuple[float, int, tuple]] = []  # min-heap of (|effect|, -order, row)
    with open(part, "w") as fh:
        for i, frame in enumerate(frames):
            frame.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")
            eff = frame[effect].to_numpy(dtype=np.float64)
            ok = np.flatnonzero(np.isfinite(eff))
            sample, seen = _reservoir(sample, seen, eff[ok], rng)
            for j in ok[np.argsort(-np.abs(eff[ok]), kind="stable")[:keep]]:
                order += 1
                row = frame.loc[j, ["id", "genome_chrom", "pos", "ref", "alt"]].tolist()
                item = (abs(eff[j]), -order, (*row[:2], int(row[2]), *row[3:], float(eff[j])))
                if len(top) < keep:
                    heapq.heappush(top, item)
                elif item > top[0]:
                    heapq.heapreplace(top, item)
    return _Stream(sample, seen, [r[2] for r in sorted(top, reverse=True)])


def _info_fields(task: str, outputs: Sequence[str]) -> list[tuple[InfoField, str]]:
    """(InfoField, TSV column) pairs of the annotated VCF; CL_FLAG first."""
    pairs = [
        (InfoField("CL_FLAG", "1", "String", "cislearn flags (ok, ref_mismatch, ...)"), "flag")
    ]
    if task in CLASSIFICATION_TASKS:
        names = [
            ("P_REF", "p_ref", "probability of the ref window"),
            ("P_ALT", "p_alt", "probability of the alt window"),
            ("DLOGIT", "delta_logit", "logit(alt) - logit(ref)"),
            ("DSCORE", "dscore", "(p_alt - p_ref) * max(p_alt, p_ref)"),
        ]
    else:
        names = [
            ("REF", "ref", "prediction for the ref window"),
            ("ALT", "alt", "prediction for the alt window"),
            ("DELTA", "delta", "alt - ref"),
            ("LOG2FC", "log2fc", "log2(alt / ref)"),
        ]
    names += [
        ("P", "pvalue", "empirical p-value vs random single-base substitutions"),
        ("Q", "qvalue", "Benjamini-Hochberg q-value"),
    ]
    for o in outputs:
        tag = "".join(ch if ch.isalnum() else "_" for ch in o).upper()
        for key, col, desc in names:
            pairs.append((InfoField(f"CL_{tag}_{key}", "1", "Float", f"{o}: {desc}"), f"{o}_{col}"))
    return pairs


def _vcf_rows(frame: pd.DataFrame, pairs: list[tuple[InfoField, str]]) -> list[tuple]:
    data = {f.key: frame[col].tolist() for f, col in pairs}
    rows = []
    for i, (chrom, pos, vid, ref, alt) in enumerate(
        zip(frame["chrom"], frame["pos"], frame["id"], frame["ref"], frame["alt"], strict=True)
    ):
        rows.append((chrom, int(pos), vid, ref, alt, {k: v[i] for k, v in data.items()}))
    return rows


def _with_qvalues(
    scorer: VariantScorer, part: Path, tsv: Any, pairs: list, chunk_size: int
) -> Iterator[list[tuple]]:
    """Pass 2: read the part file back, add the scorer's q-values, write the TSV, yield VCF rows."""
    reader = pd.read_csv(
        part,
        sep="\t",
        chunksize=chunk_size,
        dtype=_PART_DTYPES,
        keep_default_na=False,
        na_values=["", "NaN", "nan"],
    )
    for i, frame in enumerate(reader):
        for o in scorer.outputs:
            at = frame.columns.get_loc(f"{o}_pvalue") + 1
            frame.insert(at, f"{o}_qvalue", scorer.qvalues(frame[f"{o}_pvalue"].to_numpy(), o))
        frame.to_csv(tsv, sep="\t", index=False, header=i == 0, float_format="%.6g")
        yield _vcf_rows(frame, pairs)


def _maps(scorer: VariantScorer, top: pd.DataFrame, out_dir: Path) -> list[Path]:
    from cislearn.report.variants import write_variant_maps

    windows, names, titles = [], [], []
    for k, r in enumerate(top.itertuples(index=False), 1):
        windows.append(scorer.reference_window(r.chrom, r.pos))
        names.append(f"{k:02d}_{r.id}")
        titles.append(
            f"#{k} {r.id} {r.chrom}:{r.pos} {r.ref[:10]}>{r.alt[:10]}: variant at the centre"
        )
    return write_variant_maps(
        scorer.predictor.model,
        windows,
        names,
        out_dir,
        titles=titles,
        n_value=scorer.predictor.n_value,
        rc_average=scorer.rc_average,
    )


def _figure(stream: _Stream, effect: str, path: Path, title: str) -> Path:
    from cislearn.report.variants import plot_variant_effects

    top = pd.DataFrame(stream.top, columns=["id", "chrom", "pos", "ref", "alt", effect])
    top["label"] = [
        f"{r.id} {r.chrom}:{r.pos} {r.ref[:5]}>{r.alt[:5]}" for r in top.itertuples(index=False)
    ]
    return plot_variant_effects(
        stream.sample, top, path, effect=effect, label="label", n_total=stream.seen, title=title
    )


def _record(
    run: Path, variants: Path, genome: Path, scorer: VariantScorer, seed: int, effect: str
) -> dict[str, Any]:
    s = scorer.summary()
    return {
        "run": str(run),
        "variants": str(variants),
        "genome": str(genome),
        "n_variants": s.n_variants,
        "n_scored": s.n_scored,
        "n_snv": s.n_snv,
        "n_indel": s.n_indel,
        "n_multiallelic_rows": s.n_multiallelic,
        "flags": s.flags,
        "renamed_contigs": s.renamed_contigs,
        "n_null": s.n_null,
        "shifts": list(scorer.shifts),
        "rc_average": scorer.rc_average,
        "seed": seed,
        "effect": effect,
    }


def score_variants_run(
    run: str | os.PathLike[str],
    variants: str | os.PathLike[str],
    genome: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    top_maps: int = 10,
    strict: bool = False,
    rc_average: bool | None = None,
    shifts: Sequence[int] = (0,),
    n_null: int = 10_000,
    seed: int = 0,
    chunk_size: int = 4096,
    batch_size: int | None = None,
    device: str | None = None,
    input_tracks: Mapping[str, str] | None = None,
    progress: Progress = no_progress,
) -> VariantsResult:
    """Score every variant of a VCF / VCF.gz / BCF / TSV with a run's model, streamed.

    Memory stays flat: pass 1 scores chunks of ``chunk_size`` variants into a part file while
    keeping a uniform sample of the effects (for the figure) and the strongest variants (for
    the labels and maps); pass 2 adds the scorer's Benjamini–Hochberg q-values
    (:meth:`cislearn.variants.VariantScorer.qvalues`) and writes ``variants.tsv`` and the
    annotated ``variants.vcf`` together. Scores, flags and p-values are those of
    :func:`cislearn.variants.score_variants`.

    Parameters
    ----------
    run : path
        Run folder (model bundle).
    variants : path
        VCF / VCF.gz / BCF, or a TSV ``chrom pos ref alt [id]``.
    genome : path
        Reference FASTA of the variants' build.
    out : path
        Output folder: ``variants.tsv``, ``variants.vcf``, ``figures/variant_effects.png``,
        ``maps/`` and ``summary.json``.
    top_maps : int
        Mutation maps around the strongest N variants (0: none).
    strict, rc_average, shifts, n_null, seed, chunk_size, batch_size
        As in :func:`cislearn.variants.score_variants`.
    device : str, optional
        Device of the model (None: GPU if present, else CPU).
    input_tracks : mapping of str to path, optional
        For a model with input tracks: bigWig paths by track name replacing those the bundle
        records (issue 16; default: the recorded paths). No mutation maps for such a model.
    progress : Progress
        ``progress("variants", n_done, None)`` after each chunk.

    Returns
    -------
    VariantsResult

    Examples
    --------
    >>> res = score_variants_run("runs/ctcf", "gwas.vcf.gz", "hg38.fa", "out")  # doctest: +SKIP
    >>> res.summary.n_scored  # doctest: +SKIP
    """
    from cislearn.pipelines.input_tracks import track_reader
    from cislearn.runload import load_run as load

    run, variants, genome, out = Path(run), Path(variants), Path(genome), Path(out)
    predictor = load(run, device=device)
    stack = ExitStack()  # issue 16: input tracks read from the bundle's (or given) bigWigs
    tracks = track_reader(predictor.meta, dict(input_tracks or {}), stack)
    if tracks is not None and top_maps:
        logger.warning("no mutation maps for a model with input tracks (top_maps ignored)")
        top_maps = 0
    with stack, Genome(genome) as gen:
        scorer = VariantScorer(
            predictor,
            gen,
            strict=strict,
            rc_average=rc_average,
            shifts=tuple(shifts),
            n_null=n_null,
            seed=seed,
            batch_size=batch_size,
            path=variants,
            tracks=tracks,
        )
        meta = read_vcf_header(variants)
        out.mkdir(parents=True, exist_ok=True)
        effect = effect_column(scorer.task, scorer.outputs[0])
        part = out / ".variants.part.tsv"
        try:
            frames = iter_variant_scores(scorer, variants, chunk_size=chunk_size, progress=progress)
            stream = _stream(frames, part, effect, keep=max(top_maps, _LABELLED), seed=seed)
            pairs = _info_fields(scorer.task, scorer.outputs)
            with atomic_write(out / TABLE) as tsv:
                n_rows = write_vcf(
                    out / VCF,
                    _with_qvalues(scorer, part, tsv, pairs, chunk_size),
                    info=[f for f, _ in pairs],
                    meta=meta,
                    contigs=gen.lengths if not meta else None,
                )
        finally:
            part.unlink(missing_ok=True)
        figure = _figure(stream, effect, out / FIGURE, f"{run.name}: {variants.name}")
        top = pd.DataFrame(stream.top, columns=["id", "chrom", "pos", "ref", "alt", effect])
        maps = _maps(scorer, top.head(top_maps), out / MAPS) if top_maps > 0 else []
        with atomic_write(out / "summary.json") as fh:
            fh.write(json.dumps(_record(run, variants, genome, scorer, seed, effect), indent=2))
            fh.write("\n")
    return VariantsResult(
        out, out / TABLE, out / VCF, figure, maps, n_rows, scorer.summary(), effect
    )
