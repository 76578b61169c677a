"""CLI for signal tracks: multi-experiment / bigWig `prepare`, `scan` a genome to bigWig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cislearn.cli.app import Opt, app, chroms, echo, epoch_bars


def prepare_experiments(**opts: Any) -> int:
    """`cislearn prepare` with several peak files and/or ``--signal`` tracks (see cli/data.py)."""
    from cislearn.pipelines.prepare_tracks import prepare_tracks
    from cislearn.tracks import TrackSpec, parse_named

    peaks = parse_named(opts["peaks"], what="peak files")
    specs = [
        TrackSpec(
            name,
            path,
            stat=opts["signal_stat"],
            center=opts["signal_center"] or None,
            transform="log1p" if opts["log1p"] else "none",
            missing=opts["missing"],
        )
        for name, path in parse_named(opts["signal"] or [], what="--signal").items()
    ]
    bars = epoch_bars()
    result = prepare_tracks(
        peaks,
        opts["genome"],
        opts["out"],
        signals=specs,
        profiles=opts["profiles"],
        top=opts["top"] or None,
        width=opts["width"],
        anchor=opts["anchor"].value,
        negatives=opts["negatives"].value,
        fold=opts["fold"],
        split=opts["split"].value,
        valid_fraction=opts["valid_fraction"],
        test_fraction=opts["test_fraction"],
        valid_chroms=chroms(opts["valid_chroms"]),
        test_chroms=chroms(opts["test_chroms"]),
        seed=opts["seed"],
        force=opts["force"],
        progress=bars,
    )
    bars.close()
    s = result.summary
    line = f"{s['positives']} positive and {s['negatives']} negative windows"
    if "positives_per_experiment" in s:
        line += " (" + ", ".join(f"{k} {v}" for k, v in s["positives_per_experiment"].items())
        line += f"; {s['union']['suppressed_by_overlap']} overlapping windows merged)"
    echo(line)
    for name, c in s.get("signals", {}).items():
        echo(
            f"signal {name}: {c['absent_chromosome']} windows on chromosomes absent from the "
            f"bigWig, {c['no_data']} without data; {c['filled_zero']} set to 0, "
            f"{c['dropped']} dropped (--missing {c['missing']})"
        )
    echo(f"targets {', '.join(result.target_names)} written to {result.out}/dataset.tsv")
    return 0


@app.command()
def scan(
    run: Annotated[Path, typer.Argument(help="Run folder (a trained model).")],
    genome: Annotated[Path, Opt(help="Reference genome FASTA.")],
    out: Annotated[Path, Opt(help="Output bigWig (.bw).")],
    regions: Annotated[
        Path | None, Opt(help="BED of regions to tile (default: every chromosome).")
    ] = None,
    stride: Annotated[int, Opt(help="Step between windows, bp.")] = 50,
    output: Annotated[str | None, Opt(help="Model output to write (default: the first).")] = None,
    value: Annotated[str, Opt(help="prob|logit (raw for regression)")] = "prob",
    bedgraph: Annotated[
        Path | None, Opt(help="Also write a bedGraph (.bedGraph or .bedGraph.gz).")
    ] = None,
    input_track: Annotated[
        list[str] | None,
        Opt(help="NAME=track.bw for a model with input tracks (default: the recorded paths)."),
    ] = None,
    force: Annotated[bool, Opt("--force", help="Replace existing outputs.")] = False,
) -> int:
    """Tile regions (or whole chromosomes), predict every window, write a bigWig track."""
    from cislearn.pipelines.scan import scan_to_bigwig
    from cislearn.tracks import parse_named

    bars = epoch_bars()
    result = scan_to_bigwig(
        run,
        genome,
        out,
        regions=regions,
        stride=stride,
        output=output,
        value=value,
        bedgraph=bedgraph,
        input_tracks=parse_named(input_track or [], what="--input-track"),
        force=force,
        progress=bars,
    )
    bars.close()
    echo(
        f"{result.n_windows} windows of {result.width} bp every {result.stride} bp "
        f"({result.n_skipped} skipped: N-only or off a chromosome) → {result.out}"
    )
    return 0


def attach_input_tracks(
    dataset: Any, data: Path | None, items: list[str], *, log1p: bool = False
) -> Any:
    """`train --input-track`: per-base tracks at each record's coordinates (a table's chrom,
    start, end columns, else ids written as chrom:start-end)."""
    from cislearn.io.formats import detect_format
    from cislearn.io.tables import read_table
    from cislearn.pipelines.input_tracks import with_input_tracks
    from cislearn.tracks import TrackSpec, coordinates, parse_named

    frame = None
    if data is not None and detect_format(data) == "table":
        frame = read_table(data, targets=list(dataset.target_names)).frame
    specs = [
        TrackSpec(name, path, transform="log1p" if log1p else "none")
        for name, path in parse_named(items, what="--input-track").items()
    ]
    return with_input_tracks(dataset, coordinates(dataset.ids, frame, path=data), specs)


def predict_tracks(
    predictor: Any, source: Path, out: Path, *, output: str, input_track: list[str] | None
) -> int:
    """`predict` for a model with input tracks: FASTA with chrom:start-end ids, or a table
    with chrom, start, end columns; tracks read from the bundle's (or the given) bigWigs."""
    from itertools import islice

    from cislearn.io.atomic import atomic_write
    from cislearn.io.fasta import read_fasta
    from cislearn.io.formats import detect_format
    from cislearn.io.tables import read_table
    from cislearn.pipelines.input_tracks import predict_with_tracks
    from cislearn.tracks import parse_named

    if detect_format(source) == "table":
        frame = read_table(source, targets=[]).frame
        size = 16384
        chunks = (
            (frame["id"].tolist()[i : i + size], frame["sequence"].tolist()[i : i + size],
             frame.iloc[i : i + size])
            for i in range(0, len(frame), size)
        )  # fmt: skip
    else:
        records = read_fasta(source)

        def fasta_chunks():
            while batch := list(islice(records, 16384)):
                yield [r.id for r in batch], [r.sequence for r in batch], None

        chunks = fasta_chunks()
    n = 0
    paths = parse_named(input_track or [], what="--input-track")
    with atomic_write(out) as fh:
        for i, table in enumerate(
            predict_with_tracks(predictor, chunks, paths=paths, output=output, source=source)
        ):
            table.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")
            n += len(table)
    echo(f"{n} predictions written to {out}")
    return 0


def write_track(path: Path, ids: list[str], values: Any, *, genome: Path | None) -> None:
    """`interpret/mutation-map --bigwig`: per-base values of chrom:start-end windows."""
    from cislearn.pipelines.base_tracks import write_base_track

    n = write_base_track(path, ids, values, genome=genome, force=True)
    echo(f"{n} bases written to {path}")
