"""Greedy in-silico evolution: one best substitution at a time toward a target output, within an
edit budget and outside protected positions.

Each step scores every single substitution of the current sequence with an exact mutation map
(:func:`~cislearn.interpret.ism.saturation_mutagenesis`, the fast path where the model allows
it) and applies the one that moves the output most toward the goal; it stops when the budget is
spent or no substitution improves. No file IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from cislearn.errors import InputError
from cislearn.interpret.ism import map_effects, saturation_mutagenesis
from cislearn.types import Progress, no_progress

__all__ = ["DesignResult", "greedy_design", "parse_goal"]

BASES = "ACGT"


class DesignResult(NamedTuple):
    """Trajectories of greedy design, one per input sequence."""

    trajectory: pd.DataFrame
    """``seq_id``, ``step`` (0 = the start), ``position`` (0-based), ``ref``, ``alt``,
    ``logit``, ``prob`` (explained output after the step), ``objective``."""
    sequences: list[str]
    """The designed sequences, in input order."""
    stopped: list[str]
    """Why each design stopped: ``budget`` or ``no improving edit``."""


def parse_goal(goal: str | float) -> tuple[str, float]:
    """``"maximize"``, ``"minimize"`` or a number (the target value of the output).

    Examples
    --------
    >>> parse_goal("maximize"), parse_goal("0.5")
    (('maximize', nan), ('value', 0.5))
    """
    if isinstance(goal, str) and goal.strip().lower() in ("maximize", "max", "minimize", "min"):
        return ("maximize" if goal.strip().lower().startswith("max") else "minimize"), np.nan
    try:
        value = float(goal)
    except (TypeError, ValueError):
        raise InputError(f"goal: expected maximize, minimize or a number; got {goal!r}") from None
    if not np.isfinite(value):
        raise InputError(f"goal: the target value must be finite; got {goal!r}")
    return "value", value


def _objective(values: np.ndarray, kind: str, value: float) -> np.ndarray:
    if kind == "maximize":
        return values
    if kind == "minimize":
        return -values
    return -np.abs(values - value)


def greedy_design(
    model: nn.Module,
    x: np.ndarray,
    *,
    goal: str | float = "maximize",
    budget: int = 10,
    fixed: np.ndarray | None = None,
    ids: Sequence[str] | None = None,
    target: int = 0,
    output: str = "prob",
    task: str = "binary",
    device: str | torch.device | None = None,
    progress: Progress = no_progress,
) -> DesignResult:
    """Greedy in-silico evolution of each sequence toward ``goal``.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, 4, L)
        One-hot start sequences (positions with N are never chosen as edits).
    goal : {"maximize", "minimize"} or float
        Raise the output, lower it, or bring it to this value.
    budget : int
        Most substitutions per sequence.
    fixed : ndarray of bool, shape (L,), optional
        Positions that may not change.
    ids : sequence of str, optional
    target, output, task : int, str, str
        Explained output: ``output="prob"`` optimises the task's activated output, ``"logit"``
        the raw output.
    device : optional
    progress : Progress
        ``progress("design", done, total)`` in substitution steps.

    Returns
    -------
    DesignResult

    Examples
    --------
    >>> res = greedy_design(model, one_hot(["ACGT" * 50 + "A"]), budget=5)  # doctest: +SKIP
    >>> res.trajectory[["step", "position", "alt", "prob"]]  # doctest: +SKIP
    """
    kind, value = parse_goal(goal)
    if output not in ("logit", "prob"):
        raise InputError(f"output: unknown value {output!r}; allowed: logit, prob")
    if budget < 1:
        raise InputError(f"budget must be >= 1; got {budget}")
    xs = np.array(x, dtype=np.float32)
    if xs.ndim != 3 or xs.shape[1] != 4 or len(xs) == 0:
        raise InputError(f"x: expected one-hot sequences of shape (n, 4, L); got {xs.shape}")
    n, _, length = xs.shape
    frozen = np.zeros(length, bool) if fixed is None else np.asarray(fixed, bool)
    if frozen.shape != (length,):
        raise InputError(f"fixed: expected a mask of {length} positions; got {frozen.shape}")
    if frozen.all():
        raise InputError("fixed: every position is protected; nothing can change")
    ids = list(ids) if ids is not None else [f"seq{i}" for i in range(n)]
    known = xs.max(axis=1) == 1  # (n, L): N positions are never edited
    rows: list[tuple] = []
    stopped = ["budget"] * n
    active = np.arange(n)
    for step in range(budget):
        progress("design", step, budget)
        mm = saturation_mutagenesis(model, xs[active], device=device)
        eff = map_effects(mm, task)
        logits = mm.logits[..., target]  # (a, 4, L): output with base b at position i
        probs = eff.prob[..., target]
        ref_val = (eff.ref_prob if output == "prob" else mm.ref_logits)[:, target]
        obj_ref = _objective(ref_val, kind, value)  # (a,)
        if step == 0:
            for k, i in enumerate(active):
                rows.append(
                    (
                        i,
                        0,
                        -1,
                        "",
                        "",
                        mm.ref_logits[k, target],
                        eff.ref_prob[k, target],
                        obj_ref[k],
                    )
                )
        obj = _objective(probs if output == "prob" else logits, kind, value)
        banned = (xs[active] == 1) | frozen[None, None, :] | ~known[active][:, None, :]
        obj = np.where(banned, -np.inf, obj).reshape(len(active), -1)
        flat = obj.argmax(axis=1)
        best = obj[np.arange(len(active)), flat]
        alt, pos = np.unravel_index(flat, (4, length))
        keep = []
        for k, i in enumerate(active):
            if not best[k] > obj_ref[k] + 1e-9:
                stopped[i] = "no improving edit"
                continue
            a, p = int(alt[k]), int(pos[k])
            ref = BASES[int(xs[i, :, p].argmax())]
            xs[i, :, p] = 0.0
            xs[i, a, p] = 1.0
            rows.append((i, step + 1, p, ref, BASES[a], logits[k, a, p], probs[k, a, p], best[k]))
            keep.append(i)
        active = np.asarray(keep, dtype=int)
        if len(active) == 0:
            break
    progress("design", budget, budget)
    cols = ["seq_index", "step", "position", "ref", "alt", "logit", "prob", "objective"]
    traj = pd.DataFrame(rows, columns=cols).sort_values(["seq_index", "step"], kind="stable")
    traj.insert(0, "seq_id", [ids[i] for i in traj["seq_index"]])
    traj = traj.drop(columns="seq_index").reset_index(drop=True)
    traj[["logit", "prob", "objective"]] = traj[["logit", "prob", "objective"]].astype(float)
    seqs = [
        "".join(BASES[j] if known[i, p] else "N" for p, j in enumerate(xs[i].argmax(axis=0)))
        for i in range(n)
    ]
    return DesignResult(traj, seqs, stopped)
