"""The `score-variants` action: stream a variant file through a run's model and write the
scores (``variants.tsv``), an annotated ``variants.vcf``, a summary figure, mutation maps of the
top variants and ``summary.json``. Shared by the CLI and the web app's variant jobs."""

from __future__ import annotations

import heapq
import io
import json
import logging
import os
import shutil
import struct
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from cislearn.distribute import Hardware, hardware_for, run_sharded
from cislearn.io.atomic import atomic_write
from cislearn.io.genome import Genome
from cislearn.io.shards import read_shard_items, read_shard_states
from cislearn.io.vcf import InfoField, Variant, read_variant_chunks, read_vcf_header, write_vcf
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress
from cislearn.variants import RAW_DELTA, VariantScorer, VariantSummary, effect_column

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


class _Tracker:
    """A reservoir sample of the effects (figure) and the top-k variants (labels, maps)."""

    def __init__(self, effect: str, *, keep: int, seed: int) -> None:
        self.effect, self.keep = effect, keep
        self.rng = np.random.default_rng(seed)
        self.sample = np.empty(0)
        self.seen = self.order = 0
        self.top: list[tuple[float, int, tuple]] = []  # min-heap of (|effect|, -order, row)

    def update(self, frame: pd.DataFrame) -> None:
        eff = frame[self.effect].to_numpy(dtype=np.float64)
        ok = np.flatnonzero(np.isfinite(eff))
        self.sample, self.seen = _reservoir(self.sample, self.seen, eff[ok], self.rng)
        for j in ok[np.argsort(-np.abs(eff[ok]), kind="stable")[: self.keep]]:
            self.order += 1
            row = frame.loc[j, ["id", "genome_chrom", "pos", "ref", "alt"]].tolist()
            item = (abs(eff[j]), -self.order, (*row[:2], int(row[2]), *row[3:], float(eff[j])))
            if len(self.top) < self.keep:
                heapq.heappush(self.top, item)
            elif item > self.top[0]:
                heapq.heapreplace(self.top, item)

    def result(self) -> _Stream:
        return _Stream(self.sample, self.seen, [r[2] for r in sorted(self.top, reverse=True)])


class _VariantWork:
    """Chunks of ``chunk_size`` records scored by one :class:`VariantScorer` on each rank;
    the payload of a chunk is its Δ raw (float64, for the p-values) and its rows as TSV text."""

    def __init__(
        self, scorer: VariantScorer, variants: Path, chunk_size: int, progress: Progress
    ) -> None:
        self.scorer, self.variants, self.chunk_size = scorer, variants, chunk_size
        self.progress = progress
        self.model = scorer.predictor.model
        self.part, self.done = 0, 0

    def items(self, part: int, parts: int) -> Iterator[tuple[int, list[Variant]]]:
        self.part = part
        return read_variant_chunks(self.variants, self.chunk_size, part=part, parts=parts)

    def run(self, index: int, item: list[Variant], device: torch.device) -> bytes:
        self.scorer.predictor.device = device
        frame = self.scorer.score(item, index=index)
        self.done += len(item)
        if self.part == 0:
            self.progress("variants", self.done, None)
        return _encode(frame, self.scorer.outputs)

    def state(self) -> dict[str, np.ndarray]:
        return self.scorer.state()


def _encode(frame: pd.DataFrame, outputs: Sequence[str]) -> bytes:
    raw_cols = [RAW_DELTA + o for o in outputs]
    raw = np.ascontiguousarray(frame[raw_cols].to_numpy(dtype=np.float64))
    text = frame.drop(columns=raw_cols).to_csv(
        sep="\t", index=False, header=False, float_format="%.6g"
    )
    return struct.pack("<qq", *raw.shape) + raw.tobytes() + text.encode()


def _decode_raw(payload: bytes) -> np.ndarray:
    n, t = struct.unpack_from("<qq", payload)
    return np.frombuffer(payload, np.float64, count=n * t, offset=16).reshape(n, t)


def _decode_text(payload: bytes) -> str:
    n, t = struct.unpack_from("<qq", payload)
    return payload[16 + 8 * n * t :].decode()


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


def _merged_rows(
    scorer: VariantScorer, shards: Path, world: int, tsv: Any, pairs: list, tracker: _Tracker
) -> Iterator[list[tuple]]:
    """Rank 0: every shard's chunks in input order with p- and q-values; writes the TSV,
    feeds the tracker, yields the annotated VCF's rows. Chunk by chunk: memory stays flat.

    Pass 1 counts the p-values (from the binary Δ raw only) for the streamed q-values; pass 2
    parses the rows."""
    for _, payload in read_shard_items(shards, world):
        scorer.pvalues(_decode_raw(payload))
    columns = scorer.columns
    out_cols = []
    for c in columns:
        out_cols.append(c)
        if c.endswith("_pvalue"):
            out_cols.append(c.removesuffix("_pvalue") + "_qvalue")
    tsv.write("\t".join(out_cols) + "\n")
    for _, payload in read_shard_items(shards, world):
        frame = pd.read_csv(
            io.StringIO(_decode_text(payload)),
            sep="\t",
            names=columns,
            header=None,
            dtype=_PART_DTYPES,
            keep_default_na=False,
            na_values=["", "NaN", "nan"],
        )
        pvals = scorer.pvalues(_decode_raw(payload), count=False)
        for j, o in enumerate(scorer.outputs):
            frame[f"{o}_pvalue"] = pvals[:, j]
            frame[f"{o}_qvalue"] = scorer.qvalues(pvals[:, j], o)
        frame = frame[out_cols]
        frame.to_csv(tsv, sep="\t", index=False, header=False, float_format="%.6g")
        tracker.update(frame)
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
    hardware: Hardware | None = None,
    progress: Progress = no_progress,
) -> VariantsResult | None:
    """Score every variant of a VCF / VCF.gz / BCF / TSV with a run's model, streamed.

    Runs on Lightning's distributed predict loop (:func:`cislearn.distribute.run_sharded`):
    chunks of ``chunk_size`` records are split over the ranks (``devices`` × ``num_nodes``
    with ``strategy="ddp"``; one process otherwise), each rank scores its chunks (on CPU
    with the exact fast path) into its shard under ``out/.shards`` and offers candidate
    null sites to a bounded reservoir. Rank 0 then merges: the null from the reservoirs of
    every rank (:class:`cislearn.variant_stats.NullSites`), the chunks in input order with
    p-values and Benjamini–Hochberg q-values into ``variants.tsv`` and the annotated
    ``variants.vcf``, a uniform sample of the effects (figure) and the strongest variants
    (labels, maps). Memory stays flat in the number of variants; the output does not depend
    on the number of ranks (byte for byte). Scores, flags and p-values are those of
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
        Device of one process when ``hardware`` is None (None: GPU if present, else CPU).
    hardware : Hardware, optional
        Processes, devices, nodes, precision and threads, from
        :func:`cislearn.distribute.inference_hardware` (the options of ``train``):
        ``strategy="ddp"`` with ``devices=N`` runs N processes per node (GPUs, or CPU
        processes with gloo).
        ``precision="auto"``: ``16-mixed`` on GPU, ``32-true`` on CPU; ``bf16-mixed`` runs
        the torch forward passes under autocast (the CPU fast path stays float32).
    input_tracks : mapping of str to path, optional
        For a model with input tracks: bigWig paths by track name replacing those the bundle
        records (issue 16; default: the recorded paths). No mutation maps for such a model.
    progress : Progress
        ``progress("variants", n_done, None)`` after each chunk (rank 0's own chunks).

    Returns
    -------
    VariantsResult or None
        None on ranks other than 0 (they only write shards).

    Examples
    --------
    >>> res = score_variants_run("runs/ctcf", "gwas.vcf.gz", "hg38.fa", "out")  # doctest: +SKIP
    >>> res.summary.n_scored  # doctest: +SKIP
    """
    from cislearn.pipelines.input_tracks import track_reader
    from cislearn.runload import load_run as load

    run, variants, genome, out = Path(run), Path(variants), Path(genome), Path(out)
    hardware = hardware_for(hardware, device)
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
        work = _VariantWork(scorer, variants, chunk_size, progress)
        t0 = time.perf_counter()
        shards = run_sharded(work, out / ".shards", hardware)
        t1 = time.perf_counter()
        if shards.rank != 0:
            return None
        try:
            res = _merge(scorer, shards.world_size, shards.folder, out, gen, meta, top_maps, seed)
        finally:
            shutil.rmtree(shards.folder, ignore_errors=True)
        stream, n_rows, effect = res
        figure = _figure(stream, effect, out / FIGURE, f"{run.name}: {variants.name}")
        top = pd.DataFrame(stream.top, columns=["id", "chrom", "pos", "ref", "alt", effect])
        maps = _maps(scorer, top.head(top_maps), out / MAPS) if top_maps > 0 else []
        record = _record(run, variants, genome, scorer, seed, effect)
        record["hardware"] = {**hardware._asdict(), "world_size": shards.world_size}
        # where the time went: the ranks' scoring (parallel) and rank 0's merge (serial)
        record["seconds"] = {"score": t1 - t0, "merge_figure_maps": time.perf_counter() - t1}
        with atomic_write(out / "summary.json") as fh:
            fh.write(json.dumps(record, indent=2))
            fh.write("\n")
    return VariantsResult(
        out, out / TABLE, out / VCF, figure, maps, n_rows, scorer.summary(), effect
    )


def _merge(
    scorer: VariantScorer,
    world: int,
    shards: Path,
    out: Path,
    gen: Genome,
    meta: list[str],
    top_maps: int,
    seed: int,
) -> tuple[_Stream, int, str]:
    """Rank 0: fold in the other ranks' states, draw the null, write the TSV and the VCF."""
    for rank, state in read_shard_states(shards, world).items():
        if rank != 0:
            scorer.merge(state)
    scorer.finish()
    effect = effect_column(scorer.task, scorer.outputs[0])
    tracker = _Tracker(effect, keep=max(top_maps, _LABELLED), seed=seed)
    pairs = _info_fields(scorer.task, scorer.outputs)
    with atomic_write(out / TABLE) as tsv:
        n_rows = write_vcf(
            out / VCF,
            _merged_rows(scorer, shards, world, tsv, pairs, tracker),
            info=[f for f, _ in pairs],
            meta=meta,
            contigs=gen.lengths if not meta else None,
        )
    return tracker.result(), n_rows, effect
