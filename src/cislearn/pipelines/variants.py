"""The `score-variants` action: stream a variant file through a run's model and write the
scores (``variants.tsv``), an annotated ``variants.vcf``, a summary figure, mutation maps of the
top variants and ``summary.json``. Shared by the CLI and the web app's variant jobs."""

from __future__ import annotations

import json
import logging
import os
import shutil
import struct
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch

from cislearn.distribute import Hardware, ShardedRun, all_sum, hardware_for, run_sharded
from cislearn.io.atomic import atomic_write, later_rank
from cislearn.io.genome import Genome
from cislearn.io.shards import (
    ShardWriter,
    copy_range,
    pack_arrays,
    read_shard_items,
    read_shard_states,
    unpack_arrays,
)
from cislearn.io.tables import format_tsv
from cislearn.io.vcf import (
    InfoField,
    Variant,
    format_vcf_records,
    read_variant_chunks,
    read_vcf_header,
    vcf_header,
)
from cislearn.types import CLASSIFICATION_TASKS, Progress, no_progress
from cislearn.variants import N_NULL, RAW_DELTA, VariantScorer, VariantSummary, effect_column

logger = logging.getLogger(__name__)

__all__ = ["VariantsResult", "score_variants_run", "TABLE", "VCF", "FIGURE", "MAPS"]

#: Names of the outputs inside ``out`` (the web pages read them too).
TABLE = "variants.tsv"
VCF = "variants.vcf"
FIGURE = "figures/variant_effects.png"
MAPS = "maps"

#: Effects kept (uniform sample) for the distribution figure: memory stays flat.
_SAMPLE = 200_000
#: The strongest variants are labelled in the figure (at least this many kept).
_LABELLED = 20
_TOP_TEXT = ("id", "chrom", "ref", "alt")


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


class _Tracker:
    """A uniform sample of the effects (figure) and the strongest variants (labels, maps),
    mergeable across processes and independent of how the chunks were split: each effect
    gets a random key from a generator seeded by ``(seed, chunk index)`` and the sample keeps
    the ``_SAMPLE`` smallest keys (a sample without replacement of the whole stream); the
    strongest are ordered by |effect|, then input order."""

    def __init__(self, effect: str, *, keep: int, seed: int) -> None:
        self.effect, self.keep, self.seed = effect, keep, seed
        self.key, self.sample = np.empty(0), np.empty(0)
        self.seen = 0
        self.top: dict[str, np.ndarray] = {}

    def update(self, index: int, cols: Mapping[str, Any]) -> None:
        eff = np.asarray(cols[self.effect], np.float64)
        ok = np.flatnonzero(np.isfinite(eff))
        key = np.random.default_rng([self.seed, index]).random(len(eff))[ok]
        self._offer_sample(key, eff[ok], len(ok))
        best = ok[np.argsort(-np.abs(eff[ok]), kind="stable")[: self.keep]]
        rows = {}
        for c in _TOP_TEXT:  # text columns come as lists: take the few rows kept
            src = cols["genome_chrom" if c == "chrom" else c]
            rows[c] = np.array([str(src[i]) for i in best], dtype=str)
        rows["pos"] = np.asarray(cols["pos"], np.int64)[best]
        rows["effect"] = eff[best]
        rows["order"] = np.stack([np.full(len(best), index), best], axis=1).astype(np.int64)
        self._offer_top(rows)

    def _offer_sample(self, key: np.ndarray, values: np.ndarray, n_seen: int) -> None:
        self.key = np.concatenate([self.key, key])
        self.sample = np.concatenate([self.sample, values])
        self.seen += int(n_seen)
        if len(self.key) > 2 * _SAMPLE:  # amortised: cut to the smallest keys now and then
            self._cut()

    def _cut(self) -> None:
        if len(self.key) > _SAMPLE:
            keep = np.argpartition(self.key, _SAMPLE - 1)[:_SAMPLE]
            self.key, self.sample = self.key[keep], self.sample[keep]
        order = np.argsort(self.key, kind="stable")
        self.key, self.sample = self.key[order], self.sample[order]

    def _offer_top(self, rows: dict[str, np.ndarray]) -> None:
        if self.top:
            rows = {c: np.concatenate([self.top[c], rows[c]]) for c in rows}
        # strongest first; ties in input order (chunk index, row)
        order = np.lexsort((rows["order"][:, 1], rows["order"][:, 0], -np.abs(rows["effect"])))
        self.top = {c: v[order[: self.keep]] for c, v in rows.items()}

    def state(self) -> dict[str, np.ndarray]:
        self._cut()
        top = {f"top_{c}": v for c, v in self.top.items()}
        return {"key": self.key, "sample": self.sample, "seen": np.array([self.seen]), **top}

    def merge(self, state: Mapping[str, np.ndarray]) -> None:
        """Fold in another process's :meth:`state`."""
        self._offer_sample(state["key"], state["sample"], int(state["seen"][0]))
        top = {k.removeprefix("top_"): v for k, v in state.items() if k.startswith("top_")}
        if top and len(top["effect"]):
            self._offer_top(top)

    def result(self) -> _Stream:
        self._cut()
        t = self.top
        rows = [] if not t else list(
            zip(
                t["id"].tolist(), t["chrom"].tolist(), t["pos"].tolist(),
                t["ref"].tolist(), t["alt"].tolist(), t["effect"].tolist(),
                strict=True,
            )
        )  # fmt: skip
        return _Stream(self.sample, self.seen, rows)


class _VariantWork:
    """Chunks of ``chunk_size`` records scored by one :class:`VariantScorer` on each rank;
    the payload of a chunk is its scored columns (:func:`_pack`). :meth:`after` finishes
    each rank's chunks once every rank has scored."""

    def __init__(
        self,
        scorer: VariantScorer,
        variants: Path,
        chunk_size: int,
        progress: Progress,
        tracker: tuple[str, int, int],
        headers: tuple[bytes, bytes],
    ) -> None:
        self.scorer, self.variants, self.chunk_size = scorer, variants, chunk_size
        self.progress = progress
        self.tracker = tracker  # (effect column, strongest kept, seed) of each rank's _Tracker
        self.headers = headers  # of variants.tsv and variants.vcf
        self.model = scorer.predictor.model
        self.part, self.done, self.max_rows = 0, 0, 0
        self.started = time.perf_counter()

    def items(self, part: int, parts: int) -> Iterator[tuple[int, list[Variant]]]:
        self.part = part
        self.started = time.perf_counter()
        return read_variant_chunks(self.variants, self.chunk_size, part=part, parts=parts)

    def run(self, index: int, item: list[Variant], device: torch.device) -> bytes:
        self.scorer.predictor.device = device
        frame = self.scorer.score(item, index=index)
        self.done += len(item)
        self.max_rows = max(self.max_rows, len(frame))
        if self.part == 0:
            self.progress("variants", self.done, None)
        return _pack(frame, self.scorer.outputs)

    def state(self) -> dict[str, np.ndarray]:
        return self.scorer.state()

    def after(self, run: ShardedRun) -> None:
        """Every rank: the null from every rank's candidates (its share scored here), then
        its own chunks finished (:func:`_finish`). Rank 0 may be a forked child that ends
        here: the run's summary and timing go into its finished shard's state."""
        t1 = time.perf_counter()
        rank, world = run.rank, run.world_size
        for r, state in read_shard_states(run.folder, world).items():
            if r != rank:
                self.scorer.merge(state)
        self.scorer.finish(part=rank, parts=world, total=all_sum)
        effect, keep, seed = self.tracker
        tracker = _Tracker(effect, keep=keep, seed=seed)
        summary = json.dumps(self.scorer.summary()._asdict())

        def seconds() -> np.ndarray:  # scoring and finishing of this rank
            return np.array([t1 - self.started, time.perf_counter() - t1])

        def extra() -> dict[str, np.ndarray]:
            return {"summary": np.array([summary]), "seconds": seconds()}

        _finish(self.scorer, run.folder, run.rank, world, tracker, self.max_rows, self.progress,
                self.headers, extra)  # fmt: skip


def _pack(frame: pd.DataFrame, outputs: Sequence[str]) -> bytes:
    """A scored chunk: its Δ raw first (``<qq`` rows, outputs, then float64, so the counting
    pass reads only that: :func:`_raw`), then the other columns as arrays (text columns as
    lists of str, :func:`cislearn.io.shards.pack_arrays`)."""
    raw_cols = [RAW_DELTA + o for o in outputs]
    raw = np.ascontiguousarray(frame[raw_cols].to_numpy(dtype=np.float64))
    arrays: dict[str, Any] = {}
    for name in frame.columns.drop(raw_cols):
        col = frame[name]
        arrays[name] = col.to_numpy() if col.dtype.kind in "fiub" else [*map(str, col.tolist())]
    return struct.pack("<qq", *raw.shape) + raw.tobytes() + pack_arrays(arrays)


def _raw(payload: bytes) -> tuple[np.ndarray, int]:
    """The Δ raw of a :func:`_pack` payload (n, outputs) and where the other columns start."""
    n, t = struct.unpack_from("<qq", payload)
    raw = np.frombuffer(payload, np.float64, count=n * t, offset=16).reshape(n, t)
    return raw, 16 + 8 * n * t


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


def _output_columns(scorer: VariantScorer) -> list[str]:
    """Columns of ``variants.tsv``: the scorer's, each p-value followed by its q-value."""
    out = []
    for c in scorer.columns:
        out.append(c)
        if c.endswith("_pvalue"):
            out.append(c.removesuffix("_pvalue") + "_qvalue")
    return out


def _finish(
    scorer: VariantScorer,
    shards: Path,
    rank: int,
    world: int,
    tracker: _Tracker,
    max_rows: int,
    progress: Progress,
    headers: tuple[bytes, bytes],
    extra: Callable[[], dict[str, np.ndarray]],
) -> None:
    """On every rank, after the null: p-values of this rank's chunks counted over all
    ranks (q-values need every p-value), then each chunk's finished ``variants.tsv`` and
    ``variants.vcf`` text appended to this rank's part files; the chunks' sizes are summed
    over the ranks, so every rank knows where each chunk goes, and every rank copies its
    chunks into the shared output files in ``shards`` (:func:`_place`). The formatting and
    the copying run on every rank at once; rank 0 only renames. The state of
    ``shards/final`` holds the tracker's state, the row count and ``extra()``."""
    outputs = scorer.outputs
    head = 16 + 8 * len(outputs) * max_rows  # the Δ raw of the largest chunk
    for _, payload in read_shard_items(shards, world, ranks=[rank], limit=head):
        scorer.pvalues(_raw(payload)[0])
    scorer.total_counts(all_sum)
    out_cols = _output_columns(scorer)
    pairs = _info_fields(scorer.task, outputs)
    parts = (shards / f"rank{rank:05d}.tsv.part", shards / f"rank{rank:05d}.vcf.part")
    sizes: list[tuple[int, int, int, int]] = []  # chunk, TSV bytes, VCF bytes, rows
    done = 0
    with open(parts[0], "wb") as tsv_part, open(parts[1], "wb") as vcf_part:
        for index, payload in read_shard_items(shards, world, ranks=[rank]):
            raw, start = _raw(payload)
            cols = unpack_arrays(payload[start:])
            pvals = scorer.pvalues(raw, count=False)
            for j, o in enumerate(outputs):
                cols[f"{o}_pvalue"] = pvals[:, j]
                cols[f"{o}_qvalue"] = scorer.qvalues(pvals[:, j], o)
            tsv = format_tsv({c: cols[c] for c in out_cols}).encode()
            info = {f.key: cols[c] for f, c in pairs}
            vcf = format_vcf_records(
                cols["chrom"], cols["pos"], cols["id"], cols["ref"], cols["alt"], info
            ).encode()  # fmt: skip
            tsv_part.write(tsv)
            vcf_part.write(vcf)
            sizes.append((index, len(tsv), len(vcf), len(raw)))
            tracker.update(index, cols)
            done += len(raw)
            if rank == 0:
                progress("writing", done, None)
    # chunk i's sizes at row i, summed over the ranks (each chunk is one rank's)
    n_chunks = int(all_sum(np.array([len(sizes)], np.int64))[0])
    table = np.zeros((n_chunks, 3), np.int64)
    for index, n_tsv, n_vcf, n_rows in sizes:
        table[index] = (n_tsv, n_vcf, n_rows)
    table = all_sum(table)
    _place(shards, rank, parts, headers, table, [s[0] for s in sizes])
    final = ShardWriter(shards / "final", rank)
    sizes_out = [len(h) + int(table[:, c].sum()) for c, h in enumerate(headers)]
    final.close(
        {
            **tracker.state(),
            **extra(),
            "n_rows": np.array([table[:, 2].sum()]),
            "bytes": np.array(sizes_out, np.int64),  # of variants.tsv and variants.vcf
        }
    )


def _place(
    shards: Path,
    rank: int,
    parts: tuple[Path, Path],
    headers: tuple[bytes, bytes],
    table: np.ndarray,
    own: list[int],
) -> None:
    """Copy this rank's chunks (``own``, in order) from its part files into the shared
    ``shards/variants.tsv`` and ``shards/variants.vcf`` at their offsets (the header's
    length plus the sizes of every earlier chunk of any rank); rank 0 writes the headers.
    Before, rank 0 alone copied every chunk: 13 s of a 190-s, 2-process run of 10,000,000
    SNVs, a share that grows with the number of ranks."""
    for col, (name, part, header) in enumerate(zip((TABLE, VCF), parts, headers, strict=True)):
        starts = len(header) + np.concatenate([[0], np.cumsum(table[:, col])[:-1]])
        out = os.open(shards / name, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            if rank == 0:
                view = memoryview(header)
                while view:  # pwrite may write less than asked
                    view = view[os.pwrite(out, view, len(header) - len(view)) :]
            with open(part, "rb") as src:
                at = 0
                for i in own:
                    copy_range(src.fileno(), out, int(table[i, col]), at, int(starts[i]))
                    at += int(table[i, col])
        finally:
            os.close(out)
        part.unlink()


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
    run: Path,
    variants: Path,
    genome: Path,
    scorer: VariantScorer,
    s: VariantSummary,
    seed: int,
    effect: str,
) -> dict[str, Any]:
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
    n_null: int = N_NULL,
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
    null sites to a bounded reservoir. Then every rank draws the null from the reservoirs
    of all ranks (:class:`cislearn.variant_stats.NullSites`; its share of the null sites
    scored here, the rest summed in from the other ranks), counts the p-values of its
    chunks (summed over ranks for the Benjamini–Hochberg q-values) and writes their
    finished ``variants.tsv`` and annotated ``variants.vcf`` lines; rank 0 concatenates
    them in input order and draws a uniform sample of the effects (figure) and the
    strongest variants (labels, maps), merged from every rank. Memory stays flat in the
    number of variants; the output does not depend on the number of ranks (byte for byte).
    Scores, flags and p-values are those of :func:`cislearn.variants.score_variants`.

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
        effect = effect_column(scorer.task, scorer.outputs[0])
        keep = max(top_maps, _LABELLED)
        pairs = _info_fields(scorer.task, scorer.outputs)
        contigs = gen.lengths if not meta else None
        headers = (
            ("\t".join(_output_columns(scorer)) + "\n").encode(),
            vcf_header([f for f, _ in pairs], meta=meta, contigs=contigs).encode(),
        )
        work = _VariantWork(scorer, variants, chunk_size, progress, (effect, keep, seed), headers)
        folder = out / ".shards"
        try:  # the shards are gone whether the run finished or failed (rank 0 removes)
            t0 = time.perf_counter()
            shards = run_sharded(work, folder, hardware)  # scored and finished on every rank
            if shards.rank != 0:
                return None
            t2 = time.perf_counter()
            # rank 0 (this process, or a forked child that has ended): from the shards only
            tracker = _Tracker(effect, keep=keep, seed=seed)
            n_rows, own = _gather(folder, shards.world_size, out, tracker)
        finally:
            if not later_rank():
                shutil.rmtree(folder, ignore_errors=True)
        summary = VariantSummary(**json.loads(str(own["summary"][0])))
        stream = tracker.result()
        figure = _figure(stream, effect, out / FIGURE, f"{run.name}: {variants.name}")
        top = pd.DataFrame(stream.top, columns=["id", "chrom", "pos", "ref", "alt", effect])
        maps = _maps(scorer, top.head(top_maps), out / MAPS) if top_maps > 0 else []
        record = _record(run, variants, genome, scorer, summary, seed, effect)
        record["hardware"] = {**hardware._asdict(), "world_size": shards.world_size}
        # where the time went: rank 0's scoring and finishing (every rank at once), the
        # start-up of the ranks, rank 0's concatenation, figure and maps (serial)
        score, finish = (float(x) for x in own["seconds"])
        record["seconds"] = {
            "score": score,
            "finish": finish,
            "start_ranks": max(0.0, t2 - t0 - score - finish),
            "concatenate_figure_maps": time.perf_counter() - t2,
        }
        with atomic_write(out / "summary.json") as fh:
            fh.write(json.dumps(record, indent=2))
            fh.write("\n")
    return VariantsResult(out, out / TABLE, out / VCF, figure, maps, n_rows, summary, effect)


def _gather(
    shards: Path, world: int, out: Path, tracker: _Tracker
) -> tuple[int, dict[str, np.ndarray]]:
    """Rank 0, after every rank placed its chunks: ``variants.tsv`` and ``variants.vcf``
    renamed into ``out``, every rank's tracker folded into ``tracker``; the row count and
    rank 0's finished state (summary, seconds)."""
    states = read_shard_states(shards / "final", world)
    for state in states.values():
        tracker.merge(state)
    for name, size in zip((TABLE, VCF), states[0]["bytes"], strict=True):
        os.truncate(shards / name, int(size))  # a file left by a killed run may be longer
        os.replace(shards / name, out / name)
    return int(states[0]["n_rows"][0]), states[0]
