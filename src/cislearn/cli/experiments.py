"""CLI commands of in-silico experiments and design: `experiment marginalize|ablate|spacing`,
`design`. Each command: parse → one pipelines call → print one line."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from cislearn.cli.app import Opt, app, echo, out_dir

experiment_app = typer.Typer(
    help="In-silico experiments: implant, ablate or space motifs and measure the model.",
    no_args_is_help=True,
)
app.add_typer(experiment_app, name="experiment")


class Output(StrEnum):
    prob = "prob"
    logit = "logit"


class AblateMode(StrEnum):
    shuffle = "shuffle"
    mask = "mask"


RunArg = Annotated[Path, typer.Argument(help="Run folder (deep model bundle).")]
OutOpt = Annotated[Path, Opt(help="Output folder.")]
MotifOpt = Annotated[
    str, Opt(help="JASPAR ID (MA0139.2), a sequence (ACGTN) or FILE[#ID] (MEME/JASPAR).")
]
TargetOpt = Annotated[str | None, Opt(help="Output name or index (default: the first).")]
OutputOpt = Annotated[Output, Opt(help="Measure the probability or the logit.")]
ReleaseOpt = Annotated[str | None, Opt(help="JASPAR release (default: newest bundled).")]
ForceOpt = Annotated[bool, Opt(help="Overwrite earlier results in --out.")]
FirstOpt = Annotated[int | None, Opt(help="Use only the first N records.")]
ShuffleOpt = Annotated[bool, Opt(help="Dinucleotide-shuffle the background sequences first.")]
SeedOpt = Annotated[int, Opt(help="Random seed (shuffles).")]


@experiment_app.command()
def marginalize(
    run: RunArg,
    background: Annotated[Path, Opt(help="FASTA of background sequences (e.g. negatives).")],
    motif: MotifOpt,
    out: OutOpt,
    first: FirstOpt = None,
    shuffle: ShuffleOpt = False,
    position: Annotated[
        int | None, Opt(help="0-based start of the motif (default: centred).")
    ] = None,
    target: TargetOpt = None,
    output: OutputOpt = Output.prob,
    release: ReleaseOpt = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> int:
    """Implant a motif into background sequences; change of the prediction with its spread.

    Writes marginalize.tsv, summary.tsv, figures/marginalize.png and record.json.
    """
    from cislearn.pipelines.experiments import marginalize_run

    with out_dir(out, "experiment marginalize", force):
        res = marginalize_run(
            run,
            background,
            motif,
            out,
            first=first,
            shuffle=shuffle,
            start=position,
            target=target,
            output=output.value,
            release=release,
            seed=seed,
            force=force,
        )
    echo(f"{res.line}; written to {res.out}")
    return 0


@experiment_app.command()
def ablate(
    run: RunArg,
    data: Annotated[Path, Opt(help="FASTA of sequences holding the motif (e.g. positives).")],
    motif: MotifOpt,
    out: OutOpt,
    first: FirstOpt = None,
    mode: Annotated[
        AblateMode, Opt(help="Shuffle or mask (N) each instance.")
    ] = AblateMode.shuffle,
    threshold: Annotated[float, Opt(help="FIMO p-value of an instance.")] = 1e-4,
    n_shuffles: Annotated[int, Opt(help="Shuffles per sequence (outputs averaged).")] = 10,
    target: TargetOpt = None,
    output: OutputOpt = Output.prob,
    release: ReleaseOpt = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> int:
    """Shuffle or mask a motif's instances in sequences; change of the prediction.

    Writes ablate.tsv, summary.tsv, figures/ablate.png and record.json.
    """
    from cislearn.pipelines.experiments import ablate_run

    with out_dir(out, "experiment ablate", force):
        res = ablate_run(
            run,
            data,
            motif,
            out,
            first=first,
            mode=mode.value,
            threshold=threshold,
            n_shuffles=n_shuffles,
            target=target,
            output=output.value,
            release=release,
            seed=seed,
            force=force,
        )
    echo(f"{res.line}; written to {res.out}")
    return 0


@experiment_app.command()
def spacing(
    run: RunArg,
    background: Annotated[Path, Opt(help="FASTA of background sequences (e.g. negatives).")],
    motif_a: Annotated[str, Opt(help="First motif (JASPAR ID, sequence or FILE[#ID]).")],
    motif_b: Annotated[str, Opt(help="Second motif (JASPAR ID, sequence or FILE[#ID]).")],
    out: OutOpt,
    spacings: Annotated[
        str, Opt(help="Bases between the motifs: 0-30, 0-30:5 or 0,5,10.")
    ] = "0-30",
    orientations: Annotated[str, Opt(help="Comma-separated of ++ +- -+ --.")] = "++,+-,-+,--",
    first: Annotated[int | None, Opt(help="Use only the first N records.")] = 200,
    shuffle: ShuffleOpt = False,
    target: TargetOpt = None,
    output: OutputOpt = Output.prob,
    release: ReleaseOpt = None,
    seed: SeedOpt = 0,
    force: ForceOpt = False,
) -> int:
    """Two motifs at every spacing and orientation; effect vs spacing.

    Writes spacing.tsv, summary.tsv, figures/spacing.png and record.json.
    """
    from cislearn.cli.app import epoch_bars
    from cislearn.pipelines.experiments import spacing_run

    bars = epoch_bars()
    with out_dir(out, "experiment spacing", force):
        res = spacing_run(
            run,
            background,
            motif_a,
            motif_b,
            out,
            spacings=spacings,
            orientations=orientations,
            first=first,
            shuffle=shuffle,
            target=target,
            output=output.value,
            release=release,
            seed=seed,
            force=force,
            progress=bars,
        )
    bars.close()
    echo(f"{res.line}; written to {res.out}")
    return 0


@app.command()
def design(
    run: RunArg,
    out: OutOpt,
    fasta: Annotated[Path | None, Opt(help="FASTA of start sequences.")] = None,
    sequence: Annotated[str | None, Opt(help="One start sequence instead of --fasta.")] = None,
    first: Annotated[int | None, Opt(help="With --fasta: the first N records.")] = 10,
    goal: Annotated[
        str, Opt(help="maximize, minimize or a target value of the output.")
    ] = "maximize",
    budget: Annotated[int, Opt(help="Most substitutions per sequence.")] = 10,
    fixed: Annotated[
        str | None, Opt(help="Positions that may not change: 90-110,150 (0-based, half-open).")
    ] = None,
    target: TargetOpt = None,
    output: OutputOpt = Output.prob,
    force: ForceOpt = False,
) -> int:
    """Greedy in-silico evolution toward a target output, within an edit budget.

    Writes trajectory.tsv, designed.fa, figures/design.png and record.json.
    """
    from cislearn.cli.app import epoch_bars
    from cislearn.pipelines.design import design_run

    bars = epoch_bars()
    with out_dir(out, "design", force):
        res = design_run(
            run,
            out,
            fasta=fasta,
            sequence=sequence,
            first=first,
            goal=goal,
            budget=budget,
            fixed=fixed,
            target=target,
            output=output.value,
            force=force,
            progress=bars,
        )
    bars.close()
    echo(f"{res.line}; written to {res.out}")
    return 0
