"""`cislearn design`: greedy in-silico evolution of FASTA records (or one sequence) toward a
target output; writes the trajectory table, the designed sequences, a figure and the record."""

from __future__ import annotations

import os
from pathlib import Path
from typing import NamedTuple

from cislearn.errors import InputError
from cislearn.interpret.design import DesignResult, greedy_design, parse_goal
from cislearn.io.fasta import write_fasta
from cislearn.pipelines.inputs import load_deep_model, parse_ranges
from cislearn.pipelines.interpret import read_records, target_index
from cislearn.pipelines.record import claim_output, write_record
from cislearn.predict import predicting_model
from cislearn.report.experiments import plot_design
from cislearn.report.modisco import write_table
from cislearn.types import Progress, no_progress

__all__ = ["DesignRun", "design_run"]


class DesignRun(NamedTuple):
    """What :func:`design_run` wrote and found."""

    out: Path
    result: DesignResult
    line: str


def design_run(
    run: str | os.PathLike[str],
    out: str | os.PathLike[str],
    *,
    fasta: str | os.PathLike[str] | None = None,
    sequence: str | None = None,
    first: int | None = 10,
    goal: str = "maximize",
    budget: int = 10,
    fixed: str | None = None,
    target: str | None = None,
    output: str = "prob",
    force: bool = False,
    progress: Progress = no_progress,
) -> DesignRun:
    """Greedy design; writes ``trajectory.tsv``, ``designed.fa``, ``figures/design.png`` and
    ``record.json`` into ``out``.

    Parameters
    ----------
    run : path
        Deep model bundle.
    out : path
    fasta, sequence : path or str
        Start sequences: the first ``first`` records of a FASTA, or one sequence.
    goal : str
        ``maximize``, ``minimize`` or a target value of the output.
    budget : int
        Most substitutions per sequence.
    fixed : str, optional
        Protected positions, e.g. ``"90-110,150"`` (0-based, half-open).
    target, output : str
        Explained output (name or index) and ``prob`` / ``logit``.
    force : bool
    progress : Progress
    """
    if (fasta is None) == (sequence is None):
        raise InputError("give either --fasta FILE or --sequence ACGT...")
    parse_goal(goal)
    folder = claim_output(out, ("trajectory.tsv", "designed.fa"), force=force)
    predictor = load_deep_model(run)
    if sequence is not None:
        ids, seqs = ["sequence"], [sequence.strip().upper()]
    else:
        ids, seqs = read_records(fasta, first=first)
    x = predictor.encode(seqs, ids=ids, path=fasta)
    mask = parse_ranges(fixed, x.shape[2])
    k = target_index(predictor, target)
    res = greedy_design(
        predicting_model(predictor),
        x,
        goal=goal,
        budget=budget,
        fixed=mask,
        ids=ids,
        target=k,
        output=output,
        task=predictor.task,
        device=predictor.device,
        progress=progress,
    )
    write_table(folder / "trajectory.tsv", res.trajectory)
    write_fasta(
        folder / "designed.fa",
        [(f"{i}_designed", s) for i, s in zip(ids, res.sequences, strict=True)],
    )
    plot_design(
        res.trajectory,
        folder / "figures" / "design.png",
        output=output,
        title=f"greedy design toward {goal} ({budget} edits at most)",
    )
    write_record(
        folder,
        "design",
        dict(
            goal=goal,
            budget=budget,
            fixed=fixed,
            first=first,
            target=k,
            output=output,
            sequence=sequence,
        ),
        {"run": run, "fasta": fasta},
    )
    start = res.trajectory[res.trajectory["step"] == 0][output].mean()
    last = res.trajectory.groupby("seq_id", sort=False).tail(1)[output].mean()
    edits = int((res.trajectory["step"] > 0).sum())
    line = (
        f"designed {len(ids)} sequences toward {goal}: mean {output} {start:.3f} -> {last:.3f} "
        f"with {edits} edits"
    )
    return DesignRun(folder, res, line)
