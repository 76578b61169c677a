"""In-silico experiments: implant a motif into background sequences (marginalisation), destroy
its instances in real sequences (ablation), and place two motifs at every spacing and
orientation (grammar). Implanting and spacing use tangermeme's ``marginalize`` and ``space``.

Each experiment returns per-sequence rows and a summary with the mean change and its spread
(standard deviation and a normal 95% interval of the mean). No file IO.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
import torch
from torch import nn

from cislearn.device import ModelSession
from cislearn.errors import InputError
from cislearn.interpret.attribution import OutputSelector
from cislearn.interpret.captured import captured_warnings
from cislearn.io.motifs import Motif
from cislearn.types import Progress, no_progress

__all__ = [
    "ExperimentResult",
    "marginalize_motif",
    "ablate_motif",
    "motif_spacing",
    "ORIENTATIONS",
]

#: Orientation pairs of the spacing experiment (first motif, second motif).
ORIENTATIONS: tuple[str, ...] = ("++", "+-", "-+", "--")
_COMPLEMENT = str.maketrans("ACGTN", "TGCAN")


class ExperimentResult(NamedTuple):
    """What an in-silico experiment measured."""

    table: pd.DataFrame
    """Per-sequence (or per-sequence and condition) rows with ``before``, ``after`` and
    ``delta`` of the explained output."""
    summary: pd.DataFrame
    """One row per condition: ``n``, ``mean_before``, ``mean_after``, ``mean_delta``,
    ``sd_delta``, ``ci_low``, ``ci_high`` (normal 95% interval of the mean delta)."""


def _check_x(x: np.ndarray, what: str) -> torch.Tensor:
    xs = np.asarray(x, dtype=np.float32)
    if xs.ndim != 3 or xs.shape[1] != 4 or len(xs) == 0:
        raise InputError(f"{what}: expected one-hot sequences of shape (n, 4, L); got {xs.shape}")
    return torch.from_numpy(np.ascontiguousarray(xs))


def _check_motif(motif: str, length: int, what: str = "motif") -> str:
    text = str(motif).strip().upper()
    bad = set(text) - set("ACGTN")
    if not text or bad:
        raise InputError(
            f"{what}: expected a sequence of A C G T (N keeps the background base); got "
            f"{motif!r}" + (f" (unexpected {sorted(bad)[0]!r})" if bad else "")
        )
    if len(text) > length:
        raise InputError(f"{what}: {len(text)} bp does not fit in sequences of {length} bp")
    return text


def _rc(motif: str) -> str:
    return motif.translate(_COMPLEMENT)[::-1]


def _summary(table: pd.DataFrame, by: Sequence[str] = ()) -> pd.DataFrame:
    def one(g: pd.DataFrame) -> pd.Series:
        d = g["delta"].to_numpy(float)
        sd = float(d.std(ddof=1)) if len(d) > 1 else 0.0
        half = 1.96 * sd / np.sqrt(max(len(d), 1))
        return pd.Series(
            {
                "n": len(d),
                "mean_before": float(g["before"].mean()),
                "mean_after": float(g["after"].mean()),
                "mean_delta": float(d.mean()),
                "sd_delta": sd,
                "ci_low": float(d.mean()) - half,
                "ci_high": float(d.mean()) + half,
            }
        )

    if not by:
        return one(table).to_frame().T.astype({"n": int})
    rows = [one(g).rename(k) for k, g in table.groupby(list(by), sort=False)]
    out = pd.DataFrame(rows)
    keys = pd.DataFrame(list(out.index), columns=list(by))
    return pd.concat([keys, out.reset_index(drop=True)], axis=1).astype({"n": int})


class _Scorer:
    """The explained output of a model, batched through tangermeme's ``predict``."""

    def __init__(self, model: nn.Module, opts: dict[str, Any], batch_size: int) -> None:
        # eval(): tangermeme restores the mode of the module it is given (a fresh module is
        # in training mode, which would turn dropout on in the model).
        self.selector = OutputSelector(
            model, target=opts["target"], output=opts["output"], task=opts["task"]
        ).eval()
        self.batch_size = batch_size

    def __call__(self, x: torch.Tensor, device: Any) -> np.ndarray:
        from tangermeme.predict import predict

        y = predict(self.selector, x, batch_size=self.batch_size, device=device)
        self.selector.eval()
        return y[:, 0].float().cpu().numpy()


def marginalize_motif(
    model: nn.Module,
    x: np.ndarray,
    motif: str,
    *,
    start: int | None = None,
    target: int = 0,
    output: str = "prob",
    task: str = "binary",
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> ExperimentResult:
    """Implant ``motif`` into every background sequence and measure the change of output.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, 4, L)
        One-hot background sequences (negatives or shuffles).
    motif : str
        Bases to implant (A, C, G, T; N keeps the background base), e.g. a consensus.
    start : int, optional
        0-based position of the motif's first base (default: centred).
    target, output, task : int, str, str
        Explained output (``output="prob"``: the task's activated output).
    batch_size : int
    device : optional

    Returns
    -------
    ExperimentResult
        ``table``: ``seq_index``, ``before``, ``after``, ``delta``; ``summary``: one row.

    Examples
    --------
    >>> res = marginalize_motif(model, x_neg, "CCGCGNGGNGGCAG")  # doctest: +SKIP
    >>> float(res.summary["mean_delta"].iloc[0])  # doctest: +SKIP
    """
    from tangermeme.marginalize import marginalize

    xt = _check_x(x, "x")
    motif = _check_motif(motif, xt.shape[2])
    if start is not None and not 0 <= start <= xt.shape[2] - len(motif):
        raise InputError(
            f"start: {start} puts the {len(motif)}-bp motif outside {xt.shape[2]}-bp sequences"
        )
    score = _Scorer(model, dict(target=target, output=output, task=task), batch_size)
    with ModelSession(model, device) as session, captured_warnings("marginalize"):
        res = marginalize(
            score.selector,
            xt,
            motif,
            start=start,
            func=lambda m, X, **kw: score(X, session.device),
        )
    before, after = np.asarray(res.y_before), np.asarray(res.y_after)
    table = pd.DataFrame(
        {"seq_index": np.arange(len(xt)), "before": before, "after": after, "delta": after - before}
    )
    return ExperimentResult(table, _summary(table))


def ablate_motif(
    model: nn.Module,
    x: np.ndarray,
    motif: Motif,
    *,
    mode: str = "shuffle",
    threshold: float = 1e-4,
    n_shuffles: int = 10,
    seed: int = 0,
    target: int = 0,
    output: str = "prob",
    task: str = "binary",
    batch_size: int = 256,
    device: str | torch.device | None = None,
) -> ExperimentResult:
    """Destroy every FIMO instance of ``motif`` in each sequence and measure the change.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, 4, L)
        One-hot sequences (typically positives); only those with an instance are ablated.
    motif : Motif
        Scanned with FIMO (memelite) on both strands at p < ``threshold``.
    mode : {"shuffle", "mask"}
        ``shuffle``: the bases inside each instance permuted (``n_shuffles`` times, outputs
        averaged); ``mask``: the instances set to N (0.25 per base).
    threshold : float
    n_shuffles, seed : int
    target, output, task, batch_size, device : as in :func:`marginalize_motif`

    Returns
    -------
    ExperimentResult
        ``table``: ``seq_index``, ``n_sites``, ``before``, ``after``, ``delta``; sequences
        without an instance are left out (the summary says how many were ablated).
    """
    from memelite import fimo

    if mode not in ("shuffle", "mask"):
        raise InputError(f"mode: unknown value {mode!r}; allowed: shuffle, mask")
    if n_shuffles < 1:
        raise InputError(f"n_shuffles must be >= 1; got {n_shuffles}")
    xt = _check_x(x, "x")
    hits = fimo({"m": motif.pfm}, xt.numpy(), threshold=threshold)[0]
    if hits.empty:
        raise InputError(
            f"motif {motif.label}: no instance at p < {threshold:g} in the {len(xt)} sequences; "
            "nothing to ablate (raise --threshold or use other sequences)"
        )
    seqs = np.sort(hits["sequence_name"].astype(int).unique())
    spans = {i: [] for i in seqs}
    for s, a, b in zip(hits["sequence_name"], hits["start"], hits["end"], strict=True):
        spans[int(s)].append((int(a), int(b)))
    rng = np.random.default_rng(seed)
    reps = 1 if mode == "mask" else n_shuffles
    xa = xt[seqs].numpy().copy()
    variants = np.repeat(xa, reps, axis=0)
    for j, i in enumerate(seqs):
        for r in range(reps):
            row = variants[j * reps + r]
            for a, b in spans[i]:
                if mode == "mask":
                    row[:, a:b] = 0.25
                else:
                    row[:, a:b] = row[:, a:b][:, rng.permutation(b - a)]
    score = _Scorer(model, dict(target=target, output=output, task=task), batch_size)
    with ModelSession(model, device) as session:
        before = score(torch.from_numpy(xa), session.device)
        after = score(torch.from_numpy(variants), session.device).reshape(len(seqs), reps)
    after = after.mean(axis=1)
    table = pd.DataFrame(
        {
            "seq_index": seqs,
            "n_sites": [len(spans[i]) for i in seqs],
            "before": before,
            "after": after,
            "delta": after - before,
        }
    )
    return ExperimentResult(table, _summary(table))


def motif_spacing(
    model: nn.Module,
    x: np.ndarray,
    first: str,
    second: str,
    *,
    spacings: Sequence[int] = tuple(range(0, 31)),
    orientations: Sequence[str] = ORIENTATIONS,
    target: int = 0,
    output: str = "prob",
    task: str = "binary",
    batch_size: int = 256,
    device: str | torch.device | None = None,
    progress: Progress = no_progress,
) -> ExperimentResult:
    """Implant two motifs at every spacing and orientation into background sequences.

    Parameters
    ----------
    model : nn.Module
    x : ndarray of shape (n, 4, L)
        One-hot background sequences.
    first, second : str
        The two motifs as bases (forward strand); ``-`` in an orientation implants the
        reverse complement.
    spacings : sequence of int
        Bases between the end of the first motif and the start of the second.
    orientations : sequence of {"++", "+-", "-+", "--"}
    target, output, task, batch_size, device : as in :func:`marginalize_motif`
    progress : Progress
        ``progress("spacing", done, total)`` in orientations.

    Returns
    -------
    ExperimentResult
        ``table``: ``orientation``, ``spacing``, ``seq_index``, ``before``, ``after``,
        ``delta``; ``summary``: one row per orientation and spacing.
    """
    from tangermeme.space import space

    xt = _check_x(x, "x")
    length = xt.shape[2]
    first = _check_motif(first, length, "first motif")
    second = _check_motif(second, length, "second motif")
    bad = [o for o in orientations if o not in ORIENTATIONS]
    if bad or not orientations:
        raise InputError(
            f"orientations: unknown value {bad[0] if bad else ''!r}; allowed: "
            f"{', '.join(ORIENTATIONS)}"
        )
    spacings = [int(s) for s in spacings]
    too_far = [s for s in spacings if s < 0 or s + len(first) + len(second) > length]
    if too_far or not spacings:
        raise InputError(
            f"spacings: {too_far[0] if too_far else 'none'} does not fit: the two motifs "
            f"({len(first)} + {len(second)} bp) and the gap must fit in {length} bp"
        )
    score = _Scorer(model, dict(target=target, output=output, task=task), batch_size)
    frames = []
    with ModelSession(model, device) as session, captured_warnings("spacing"):
        for k, orient in enumerate(orientations):
            progress("spacing", k, len(orientations))
            a = first if orient[0] == "+" else _rc(first)
            b = second if orient[1] == "+" else _rc(second)
            res = space(
                score.selector,
                xt,
                [a, b],
                np.array(spacings)[:, None],
                func=lambda m, X, **kw: torch.from_numpy(score(X, session.device)),
            )
            before = np.asarray(res.y_before)
            after = np.asarray(res.y_afters)  # (n, n_spacings)
            for j, s in enumerate(spacings):
                frames.append(
                    pd.DataFrame(
                        {
                            "orientation": orient,
                            "spacing": s,
                            "seq_index": np.arange(len(xt)),
                            "before": before,
                            "after": after[:, j],
                            "delta": after[:, j] - before,
                        }
                    )
                )
        progress("spacing", len(orientations), len(orientations))
    table = pd.concat(frames, ignore_index=True)
    return ExperimentResult(table, _summary(table, ("orientation", "spacing")))
