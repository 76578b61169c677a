"""CLI command for variant effects: score-variants (TSV, annotated VCF, figure, maps)."""

from __future__ import annotations

import heapq
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from cislearn.cli.app import Opt, app, echo, epoch_bars

#: Effects kept (uniform reservoir sample) for the distribution figure: memory stays flat.
_SAMPLE = 200_000


def _reservoir(sample: Any, seen: int, values: Any, rng: Any) -> tuple[Any, int]:
    """Uniform sample of at most ``_SAMPLE`` values of a stream (Algorithm R, vectorised)."""
    import numpy as np

    room = max(_SAMPLE - len(sample), 0)
    sample = np.concatenate([sample, values[:room]])
    rest = values[room:]
    if len(rest):
        slots = rng.integers(0, seen + room + 1 + np.arange(len(rest)))
        hit = slots < _SAMPLE
        sample[slots[hit]] = rest[hit]  # later values win on repeated slots, as in the loop
    return sample, seen + len(values)


def _shifts(text: str) -> tuple[int, ...]:
    from cislearn.errors import ConfigError

    try:
        return tuple(int(s) for s in text.replace(" ", "").split(",") if s)
    except ValueError:
        raise ConfigError(
            f"--shifts expects comma-separated integers (e.g. -5,0,5); got '{text}'"
        ) from None


@app.command("score-variants")
def score_variants_cmd(
    run: Annotated[Path, typer.Argument(help="Run folder (model bundle).")],
    variants: Annotated[
        Path, typer.Argument(help="VCF / VCF.gz / BCF, or TSV chrom pos ref alt [id].")
    ],
    genome: Annotated[Path, Opt(help="Reference genome FASTA of the variants' build.")],
    out: Annotated[Path, Opt(help="Output folder.")],
    top_maps: Annotated[int, Opt(help="Mutation maps around the top N variants.")] = 10,
    strict: Annotated[
        bool, Opt("--strict", help="REF mismatch or unknown contig → error.")
    ] = False,
    rc_average: Annotated[bool | None, Opt(help="Average over both strands.")] = None,
    shifts: Annotated[str, Opt(help="Window offsets (bp) to average, e.g. -5,0,5.")] = "0",
    n_null: Annotated[int, Opt(help="Random substitutions in the null (0: no p-values).")] = 10_000,
    seed: Annotated[int, Opt(help="Seed of the null draws.")] = 0,
    chunk_size: Annotated[int, Opt(help="Variants held in memory at a time.")] = 4096,
    batch_size: Annotated[int | None, Opt(help="Windows per forward pass.")] = None,
    input_track: Annotated[
        list[str] | None, Opt(help="NAME=track.bw for a model with input tracks.")
    ] = None,
) -> int:
    """Score variants with a trained run: ref vs alt windows, Δscores, p- and q-values."""
    from contextlib import ExitStack

    import numpy as np
    import pandas as pd

    from cislearn.io.atomic import atomic_write
    from cislearn.io.genome import Genome
    from cislearn.io.vcf import read_vcf_header, write_vcf
    from cislearn.pipelines.input_tracks import track_reader
    from cislearn.predict import load
    from cislearn.tracks import parse_named
    from cislearn.variants import (
        VariantScorer,
        bh_qvalues_from_counts,
        effect_column,
        iter_variant_scores,
    )

    predictor = load(run)
    stack = ExitStack()  # issue 16: input tracks read from the bundle's (or given) bigWigs
    tracks = track_reader(
        predictor.meta, parse_named(input_track or [], what="--input-track"), stack
    )
    if tracks is not None and top_maps:
        echo("note: no mutation maps for a model with input tracks (--top-maps ignored)")
        top_maps = 0
    with stack, Genome(genome) as gen:
        scorer = VariantScorer(
            predictor,
            gen,
            strict=strict,
            rc_average=rc_average,
            shifts=_shifts(shifts),
            n_null=n_null,
            seed=seed,
            batch_size=batch_size,
            path=variants,
            tracks=tracks,
        )
        meta = read_vcf_header(variants)
        out.mkdir(parents=True, exist_ok=True)
        outputs, task = scorer.outputs, scorer.task
        effect = effect_column(task, outputs[0])
        rng = np.random.default_rng(seed)
        sample = np.empty(0)
        seen = order = 0
        top: list[tuple[float, int, tuple]] = []  # min-heap of (|effect|, order, row)
        counts: dict[str, np.ndarray] = {}
        bars = epoch_bars()
        part = out / ".variants.part.tsv"
        try:
            # pass 1: score, stream rows to a part file, keep counters (flat memory)
            with open(part, "w") as fh:
                for i, frame in enumerate(
                    iter_variant_scores(scorer, variants, chunk_size=chunk_size, progress=bars)
                ):
                    frame.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")
                    n_ok = scorer.summary().n_null
                    for o in outputs:
                        p = frame[f"{o}_pvalue"].to_numpy(dtype=np.float64)
                        k = np.rint(p[np.isfinite(p)] * (n_ok + 1)).astype(np.int64) - 1
                        c = counts.setdefault(o, np.zeros(n_ok + 1, np.int64))
                        c += np.bincount(np.clip(k, 0, n_ok), minlength=n_ok + 1)
                    eff = frame[effect].to_numpy(dtype=np.float64)
                    ok = np.flatnonzero(np.isfinite(eff))
                    sample, seen = _reservoir(sample, seen, eff[ok], rng)
                    keep = max(top_maps, 20)
                    for j in ok[np.argsort(-np.abs(eff[ok]), kind="stable")[:keep]]:
                        order += 1
                        item = (
                            abs(eff[j]),
                            -order,
                            (
                                frame.at[j, "id"],
                                frame.at[j, "genome_chrom"],
                                int(frame.at[j, "pos"]),
                                frame.at[j, "ref"],
                                frame.at[j, "alt"],
                                float(eff[j]),
                            ),
                        )
                        if len(top) < keep:
                            heapq.heappush(top, item)
                        elif item > top[0]:
                            heapq.heapreplace(top, item)
            summary = scorer.summary()
            n_ok = summary.n_null
            qmap = {
                o: bh_qvalues_from_counts(counts.get(o, np.zeros(n_ok + 1)), n_ok) for o in outputs
            }
            # pass 2: add q-values; write the TSV and the annotated VCF together
            pairs = _info_fields(task, outputs)
            tsv = out / "variants.tsv"
            with atomic_write(tsv) as tfh:

                def chunks() -> Any:
                    reader = pd.read_csv(
                        part,
                        sep="\t",
                        chunksize=chunk_size,
                        dtype={
                            "id": str,
                            "chrom": str,
                            "genome_chrom": str,
                            "ref": str,
                            "alt": str,
                            "flag": str,
                        },
                        keep_default_na=False,
                        na_values=["", "NaN", "nan"],
                    )
                    for i, frame in enumerate(reader):
                        for o in outputs:
                            p = frame[f"{o}_pvalue"].to_numpy(dtype=np.float64)
                            q = np.full(len(p), np.nan)
                            fin = np.isfinite(p)
                            k = np.clip(np.rint(p[fin] * (n_ok + 1)).astype(np.int64) - 1, 0, n_ok)
                            q[fin] = qmap[o][k]
                            frame.insert(frame.columns.get_loc(f"{o}_pvalue") + 1, f"{o}_qvalue", q)
                        frame.to_csv(tfh, sep="\t", index=False, header=i == 0, float_format="%.6g")
                        yield _vcf_rows(frame, pairs)

                n_rows = write_vcf(
                    out / "variants.vcf",
                    chunks(),
                    info=[f for f, _ in pairs],
                    meta=meta,
                    contigs=gen.lengths if not meta else None,
                )
        finally:
            part.unlink(missing_ok=True)
            bars.close()

        from cislearn.report.variants import plot_variant_effects

        top_rows = sorted(top, reverse=True)
        top_frame = pd.DataFrame(
            [r[2] for r in top_rows], columns=["id", "chrom", "pos", "ref", "alt", effect]
        )
        top_frame["label"] = [
            f"{r.id} {r.chrom}:{r.pos} {r.ref[:5]}>{r.alt[:5]}"
            for r in top_frame.itertuples(index=False)
        ]
        fig = plot_variant_effects(
            np.asarray(sample),
            top_frame,
            out / "figures" / "variant_effects.png",
            effect=effect,
            label="label",
            n_total=seen,
            title=f"{run.name}: {variants.name}",
        )
        maps = _maps(scorer, top_frame.head(top_maps), out / "maps") if top_maps > 0 else []
        record = {
            "run": str(run),
            "variants": str(variants),
            "genome": str(genome),
            "n_variants": summary.n_variants,
            "n_scored": summary.n_scored,
            "n_snv": summary.n_snv,
            "n_indel": summary.n_indel,
            "n_multiallelic_rows": summary.n_multiallelic,
            "flags": summary.flags,
            "renamed_contigs": summary.renamed_contigs,
            "n_null": summary.n_null,
            "shifts": list(scorer.shifts),
            "rc_average": scorer.rc_average,
            "seed": seed,
            "effect": effect,
        }
        with atomic_write(out / "summary.json") as fh:
            fh.write(json.dumps(record, indent=2) + "\n")
    flags = ", ".join(f"{k} {v:,}" for k, v in summary.flags.items() if v) or "none"
    echo(f"scored {summary.n_scored:,} of {summary.n_variants:,} variants; flagged: {flags}")
    if summary.renamed_contigs:
        pairs = ", ".join(f"{a}→{b}" for a, b in list(summary.renamed_contigs.items())[:5])
        echo(f"warning: contig names matched to the genome: {pairs}")
    echo(f"wrote {tsv} ({n_rows:,} rows), {out / 'variants.vcf'}, {fig}")
    if maps:
        echo(f"wrote {len(maps)} mutation maps in {out / 'maps'}")
    return 0


def _info_fields(task: str, outputs: list[str]) -> list[tuple[Any, str]]:
    """(InfoField, TSV column) pairs; CL_FLAG first."""
    from cislearn.io.vcf import InfoField
    from cislearn.types import CLASSIFICATION_TASKS

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


def _vcf_rows(frame: Any, pairs: list[tuple[Any, str]]) -> list:
    data = {f.key: frame[col].tolist() for f, col in pairs}
    rows = []
    for i, (chrom, pos, vid, ref, alt) in enumerate(
        zip(frame["chrom"], frame["pos"], frame["id"], frame["ref"], frame["alt"], strict=True)
    ):
        rows.append((chrom, int(pos), vid, ref, alt, {k: v[i] for k, v in data.items()}))
    return rows


def _maps(scorer: Any, top: Any, out_dir: Path) -> list[Path]:
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
