"""CLI for signal tracks: multi-experiment / bigWig `prepare`, `scan` a genome to bigWig."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from cislearn.cli import hardware as hw
from cislearn.cli.app import Force, Opt, app, chroms, echo, epoch_bars


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
    force: Force = False,
    accelerator: hw.Accelerator = "auto",
    devices: hw.Devices = "auto",
    num_nodes: hw.NumNodes = 1,
    strategy: hw.Strategy = "auto",
    precision: hw.Precision = "auto",
    num_threads: hw.NumThreads = None,
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
        hardware=hw.hardware(accelerator, devices, num_nodes, strategy, precision, num_threads),
        progress=bars,
    )
    bars.close()
    if result is None:  # a DDP rank other than 0: rank 0 writes and reports
        return 0
    echo(
        f"{result.n_windows} windows of {result.width} bp every {result.stride} bp "
        f"({result.n_skipped} skipped: N-only or off a chromosome) → {result.out}"
    )
    return 0
