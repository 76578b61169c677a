"""Simulated benchmark sets of different character, and a set with a known label model.

- :func:`weak_gc_set`: many weak motifs, each only somewhat enriched in positives, plus a GC
  shift of the background between classes (open chromatin-like; k-mer models do well).
- :func:`grammar_set`: two motifs in every sequence; positives only when they sit at one
  spacing and orientation, negatives hold them in wrong arrangements (needs position).
- :func:`logistic_set`: labels drawn from a known function of the sequence,
  ``P(y = 1) = sigmoid(beta * sum_m score_m(seq) + c)`` with ``score_m`` the best
  log-odds score of motif ``m`` on either strand (clipped at 0), so the true effect of any
  SNV is the change of that logit (:func:`true_logit`).

Everything is seeded and offline (motifs from the bundled JASPAR via pyjaspar).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif
from cislearn.simulate import HUMAN_TRANSITIONS, markov_background, sample_sites, simulate

__all__ = [
    "WEAK_MOTIFS",
    "GRAMMAR_MOTIFS",
    "LOGISTIC_MOTIFS",
    "SimSet",
    "LogisticModel",
    "gc_shifted",
    "weak_gc_set",
    "grammar_set",
    "logistic_set",
    "log_odds",
    "true_logit",
    "implant_model",
    "simulated_snvs",
]

WEAK_MOTIFS = ("MA0079", "MA0105", "MA0148", "MA0099", "MA0003", "MA0506", "MA0059", "MA0114")
GRAMMAR_MOTIFS = ("MA0143", "MA1115")  # SOX2, POU5F1: the Oct-Sox composite is a real grammar
LOGISTIC_MOTIFS = ("MA0035", "MA0080", "MA0148")  # GATA1, SPI1, FOXA1

_CODE = np.full(256, 4, dtype=np.uint8)
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _CODE[_b + 32] = _i


class SimSet(NamedTuple):
    """A simulated labelled set: ``ids``, ``sequences`` (one length), ``labels`` (n,) 0/1, and
    ``implants`` (one row per implanted instance: id, motif_id, start, end, strand)."""

    ids: list[str]
    sequences: list[str]
    labels: np.ndarray
    implants: pd.DataFrame


def _codes(seqs: Sequence[str]) -> np.ndarray:
    return _CODE[np.frombuffer("".join(seqs).encode(), dtype=np.uint8)].reshape(len(seqs), -1)


def _decode(codes: np.ndarray) -> list[str]:
    raw = np.frombuffer(b"ACGT", dtype=np.uint8)[codes]
    return [bytes(row).decode() for row in raw]


def gc_shifted(gc_factor: float, transitions: np.ndarray | None = None) -> np.ndarray:
    """A Markov chain like ``transitions`` (default human) with C and G ``gc_factor`` times as
    likely as next base (rows renormalised), shape (4, 4)."""
    t = np.array(HUMAN_TRANSITIONS if transitions is None else transitions, dtype=np.float64)
    t = t * np.array([1.0, gc_factor, gc_factor, 1.0])[None, :]
    return t / t.sum(axis=1, keepdims=True)


def weak_gc_set(
    *,
    n_positive: int = 2000,
    n_negative: int = 2000,
    length: int = 201,
    motifs: Sequence[str] = WEAK_MOTIFS,
    positive_prob: float = 0.2,
    negative_prob: float = 0.08,
    gc_factor: float = 1.12,
    seed: int = 0,
) -> SimSet:
    """Many weak motifs and a GC shift.

    Positives: a background whose C/G are ``gc_factor`` times as likely (:func:`gc_shifted`),
    each motif present with ``positive_prob``; negatives: the human background, each motif
    with ``negative_prob``. (As in :func:`cislearn.simulate.simulate`, every sequence carries
    at least one instance, so no single motif separates the classes.)
    """
    pos = simulate(
        n_positive=n_positive,
        n_negative=0,
        length=length,
        motifs=motifs,
        motif_prob=positive_prob,
        transitions=gc_shifted(gc_factor),
        seed=seed,
    )
    neg = simulate(
        n_positive=n_negative,
        n_negative=0,
        length=length,
        motifs=motifs,
        motif_prob=negative_prob,
        seed=seed + 10_000,
    )
    ids = [f"pos_{i}" for i in range(1, n_positive + 1)]
    ids += [f"neg_{i}" for i in range(1, n_negative + 1)]
    implants = pd.concat(
        [
            pos.implants.assign(
                id=pos.implants["id"].map(dict(zip(pos.ids, ids[:n_positive], strict=True)))
            ),
            neg.implants.assign(
                id=neg.implants["id"].map(dict(zip(neg.ids, ids[n_positive:], strict=True)))
            ),
        ],
        ignore_index=True,
    )
    labels = np.r_[np.ones(n_positive, np.int64), np.zeros(n_negative, np.int64)]
    return SimSet(ids, pos.sequences + neg.sequences, labels, implants)


def grammar_set(
    *,
    n_positive: int = 2000,
    n_negative: int = 2000,
    length: int = 201,
    motifs: Sequence[str] = GRAMMAR_MOTIFS,
    spacing: int = 3,
    seed: int = 0,
) -> SimSet:
    """Two motifs in every sequence; the label is their arrangement.

    Positives: motif A on ``+`` then, ``spacing`` bp after its end, motif B on ``+`` (the
    composite is written on a random strand). Negatives: both motifs, arranged wrongly in
    one of three ways chosen at random: another spacing (10 to 60 bp), B on the other strand,
    or B before A.
    """
    a, b = load_jaspar(list(motifs))
    rng = np.random.default_rng(seed)
    n = n_positive + n_negative
    codes = _codes(markov_background(n, length, seed=rng))
    labels = np.r_[np.ones(n_positive, np.int64), np.zeros(n_negative, np.int64)]
    ids = [f"pos_{i}" for i in range(1, n_positive + 1)]
    ids += [f"neg_{i}" for i in range(1, n_negative + 1)]
    kind = np.where(labels == 1, 0, rng.integers(1, 4, size=n))
    gaps = np.where(kind == 1, rng.integers(10, 61, size=n), spacing)
    rows = []
    for i in range(n):
        sa = sample_sites(a, 1, rng)[0]
        sb = sample_sites(b, 1, rng)[0]
        if kind[i] == 2:
            sb = 3 - sb[::-1]
        first, second = (sb, sa) if kind[i] == 3 else (sa, sb)
        block = np.r_[first, np.full(int(gaps[i]), 255, np.int16), second]
        if rng.random() < 0.5:  # the whole composite on the minus strand
            block = np.where(block == 255, 255, 3 - block)[::-1]
        start = int(rng.integers(0, length - block.size + 1))
        keep = block != 255
        window = codes[i, start : start + block.size]
        window[keep] = block[keep].astype(np.uint8)
        rows.append((ids[i], start, start + block.size, int(kind[i])))
    implants = pd.DataFrame(rows, columns=["id", "start", "end", "arrangement"])
    return SimSet(ids, _decode(codes), labels, implants)


class LogisticModel(NamedTuple):
    """The label model of :func:`logistic_set`:
    ``logit = beta * Σ_m max(0, best_m) + intercept``."""

    motifs: list[Motif]
    log_odds: list[np.ndarray]
    beta: float
    intercept: float


def log_odds(motif: Motif, *, pseudocount: float = 0.5) -> np.ndarray:
    """Natural-log odds of each base at each motif position against a uniform background,
    shape (width, 4)."""
    counts = np.asarray(motif.counts, dtype=np.float64).T  # (width, 4)
    probs = (counts + pseudocount / 4) / (counts.sum(axis=1, keepdims=True) + pseudocount)
    return np.log(probs / 0.25)


def _best_scores(codes: np.ndarray, lo: np.ndarray) -> np.ndarray:
    """Best log-odds score over positions and both strands per row, (n,); N scores 0."""
    w = lo.shape[0]
    padded = np.c_[lo, np.zeros(w)]  # code 4 (N) scores 0
    rc = np.c_[lo[::-1, ::-1], np.zeros(w)]
    n, length = codes.shape
    fwd = np.zeros((n, length - w + 1))
    rev = np.zeros_like(fwd)
    for i in range(w):
        col = codes[:, i : length - w + 1 + i]
        fwd += padded[i][col]
        rev += rc[i][col]
    return np.maximum(fwd.max(axis=1), rev.max(axis=1))


def true_logit(model: LogisticModel, sequences: Sequence[str]) -> np.ndarray:
    """The generative model's label logit for each sequence, float64 (n,)."""
    codes = _codes(sequences)
    total = np.zeros(len(sequences))
    for lo in model.log_odds:
        total += np.maximum(0.0, _best_scores(codes, lo))
    return model.beta * total + model.intercept


def logistic_set(
    *,
    n: int = 6000,
    length: int = 201,
    motifs: Sequence[str] = LOGISTIC_MOTIFS,
    implant_prob: float = 0.5,
    beta: float = 0.5,
    seed: int = 0,
) -> tuple[SimSet, LogisticModel]:
    """Sequences with motif instances implanted at random, labels from a known logistic model.

    Each motif is implanted once with ``implant_prob`` (sampled from its PFM, random position
    and strand) into a human-like background. The label is drawn from
    ``sigmoid(beta * Σ_m max(0, best log-odds of m) + intercept)``, the intercept set so the
    median sequence has probability 1/2.

    Returns
    -------
    SimSet, LogisticModel
    """
    sim = simulate(
        n_positive=n,
        n_negative=0,
        length=length,
        motifs=motifs,
        motif_prob=implant_prob,
        seed=seed,
    )
    # simulate() gives every sequence at least one instance; the label model below looks
    # only at the sequence, so that changes the mix of scores, not the truth.
    lo = [log_odds(m) for m in sim.motifs]
    model = LogisticModel(list(sim.motifs), lo, float(beta), 0.0)
    raw = true_logit(model, sim.sequences)
    model = model._replace(intercept=-float(np.median(raw)))
    rng = np.random.default_rng(seed + 1)
    p = 1.0 / (1.0 + np.exp(-(raw + model.intercept)))
    labels = (rng.random(n) < p).astype(np.int64)
    implants = sim.implants[["id", "motif_id", "start", "end", "strand"]]
    return SimSet(list(sim.ids), list(sim.sequences), labels, implants), model


def implant_model(motifs: Sequence[Motif]) -> LogisticModel:
    """The motif-score model of an implant simulation: ``Σ_m max(0, best log-odds of m)``
    (beta 1, intercept 0), whose change is the true effect of an SNV there."""
    return LogisticModel(list(motifs), [log_odds(m) for m in motifs], 1.0, 0.0)


def simulated_snvs(
    sequences: Sequence[str],
    ids: Sequence[str],
    implants: pd.DataFrame,
    model: LogisticModel,
    *,
    n: int,
    inside_fraction: float = 0.5,
    seed: int = 0,
) -> pd.DataFrame:
    """Random SNVs inside and outside implanted instances, with their true effect.

    Parameters
    ----------
    sequences, ids : sequences of str, length N
    implants : DataFrame with ``id, start, end`` (0-based, end exclusive)
    model : LogisticModel
        The generative model; the true effect is ``true_logit(alt) - true_logit(ref)``.
    n : int
        SNVs to draw (distinct sequence and position).
    inside_fraction : float
        Share drawn inside an implanted instance (the rest outside every instance).

    Returns
    -------
    DataFrame
        ``chrom`` (the sequence id), ``pos`` (1-based on the sequence), ``ref``, ``alt``,
        ``id`` (``snv_1``...), ``in_motif`` (bool), ``true_effect`` (float).
    """
    rng = np.random.default_rng(seed)
    codes = _codes(sequences)
    length = codes.shape[1]
    row_of = {s: i for i, s in enumerate(ids)}
    inside = np.zeros(codes.shape, dtype=bool)
    rows = implants["id"].map(row_of).to_numpy()
    for r, a, b in zip(rows, implants["start"], implants["end"], strict=True):
        inside[int(r), int(a) : int(b)] = True
    n_in = int(round(n * inside_fraction))
    picked: set[tuple[int, int]] = set()
    out: list[tuple[int, int, bool]] = []
    tries = 0
    while len(out) < n and tries < 50 * max(n, 1):
        tries += 1
        want_in = len([o for o in out if o[2]]) < n_in
        if want_in:
            k = int(rng.integers(len(implants)))
            r = int(rows[k])
            p = int(rng.integers(int(implants["start"].iloc[k]), int(implants["end"].iloc[k])))
        else:
            r, p = int(rng.integers(len(ids))), int(rng.integers(length))
            if inside[r, p]:
                continue
        if (r, p) in picked or codes[r, p] > 3:
            continue
        picked.add((r, p))
        out.append((r, p, want_in))
    out.sort(key=lambda o: (o[0], o[1]))  # genome order, as a VCF lists them
    r_idx = np.array([o[0] for o in out], dtype=np.int64)
    pos = np.array([o[1] for o in out], dtype=np.int64)
    ref = codes[r_idx, pos]
    alt = (ref + rng.integers(1, 4, size=len(out))) % 4
    mutated = codes[r_idx].copy()
    mutated[np.arange(len(out)), pos] = alt
    effect = true_logit(model, _decode(mutated)) - true_logit(model, _decode(codes[r_idx]))
    bases = np.array(list("ACGT"))
    return pd.DataFrame(
        {
            "chrom": np.asarray(ids, dtype=object)[r_idx],
            "pos": pos + 1,
            "ref": bases[ref],
            "alt": bases[alt],
            "id": [f"snv_{i}" for i in range(1, len(out) + 1)],
            "in_motif": [o[2] for o in out],
            "true_effect": effect,
        }
    )
