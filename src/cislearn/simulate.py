"""Demo data without downloads: a human-like Markov background with implanted JASPAR motifs."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import InputError
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif

__all__ = [
    "HUMAN_DINUCLEOTIDES",
    "HUMAN_TRANSITIONS",
    "Simulation",
    "estimate_transitions",
    "markov_background",
    "sample_sites",
    "simulate",
    "stationary",
]

#: Approximate human-genome dinucleotide frequencies ``f[x, y] = P(xy)``, rows and columns in
#: A, C, G, T order. Rounded values of the size typical of whole-genome (hg19/hg38) counts, set
#: by hand rather than copied from one publication, and made strand-symmetric
#: (``f[x, y] == f[comp(y), comp(x)]``) with equal row and column sums, so a Markov chain built
#: from them reproduces them: base composition A = T = 0.295, C = G = 0.205 (41 % GC), CpG
#: depleted (observed/expected = 0.009 / 0.205² ≈ 0.21) with the matching CpA/TpG excess.
HUMAN_DINUCLEOTIDES = np.array(
    [
        [0.098, 0.050, 0.070, 0.077],  # AA AC AG AT
        [0.074, 0.052, 0.009, 0.070],  # CA CC CG CT
        [0.060, 0.043, 0.052, 0.050],  # GA GC GG GT
        [0.063, 0.060, 0.074, 0.098],  # TA TC TG TT
    ]
)
HUMAN_DINUCLEOTIDES.flags.writeable = False

#: First-order transition matrix ``P(next = y | current = x)`` from :data:`HUMAN_DINUCLEOTIDES`.
HUMAN_TRANSITIONS = HUMAN_DINUCLEOTIDES / HUMAN_DINUCLEOTIDES.sum(axis=1, keepdims=True)
HUMAN_TRANSITIONS.flags.writeable = False

logger = logging.getLogger(__name__)

_ASCII = np.frombuffer(b"ACGT", dtype=np.uint8)
_CODE = np.full(256, 4, dtype=np.uint8)  # byte -> 0..3 for ACGT/acgt, 4 for anything else
for _i, _b in enumerate(b"ACGT"):
    _CODE[_b] = _CODE[_b + 32] = _i


class Simulation(NamedTuple):
    """Simulated labelled sequences and the record of every implanted motif instance.

    Attributes
    ----------
    ids : list of str
        ``sim_pos_1 … sim_pos_P`` then ``sim_neg_1 … sim_neg_N``.
    sequences : list of str
        Upper-case A/C/G/T, all of the same length.
    labels : ndarray of int64, shape (n,)
        1 for positives, 0 for negatives.
    implants : DataFrame
        One row per implanted instance: ``id, motif_id, motif_name, start, end, strand, site,
        decoy``. ``[start, end)`` is 0-based on the sequence; ``site`` is the sampled instance
        read on the motif's own strand, so ``sequence[start:end]`` equals ``site`` on ``+`` and
        its reverse complement on ``-``. Decoys (negatives only) have ``decoy`` True.
    motifs : list of Motif
        The motifs implanted in positives.
    """

    ids: list[str]
    sequences: list[str]
    labels: np.ndarray
    implants: pd.DataFrame
    motifs: list[Motif]

    def presence(self) -> pd.DataFrame:
        """Per-motif presence, DataFrame of bool, shape (n, n_motifs): index ids, columns ids of
        the motifs; decoys do not count. Handy as multi-task labels."""
        real = self.implants[~self.implants["decoy"]]
        table = pd.crosstab(real["id"], real["motif_id"]) > 0
        cols = [m.id for m in self.motifs]
        return table.reindex(index=self.ids, columns=cols, fill_value=False).astype(bool)


def _check_transitions(transitions: np.ndarray | None) -> np.ndarray:
    if transitions is None:
        return np.asarray(HUMAN_TRANSITIONS)
    t = np.asarray(transitions, dtype=np.float64)
    if t.shape != (4, 4) or not np.all(np.isfinite(t)) or np.any(t < 0):
        raise InputError(
            f"transitions must be a (4, 4) matrix of non-negative numbers; got shape {t.shape}"
        )
    sums = t.sum(axis=1, keepdims=True)
    if np.any(sums <= 0):
        raise InputError("transitions: every row (A, C, G, T) needs a positive sum")
    return t / sums


def stationary(transitions: np.ndarray) -> np.ndarray:
    """Stationary base distribution, ndarray of shape (4,), of a (4, 4) transition matrix.

    Examples
    --------
    >>> stationary(HUMAN_TRANSITIONS).round(3)
    array([0.295, 0.205, 0.205, 0.295])
    """
    t = _check_transitions(transitions)
    values, vectors = np.linalg.eig(t.T)
    pi = np.abs(np.real(vectors[:, np.argmin(np.abs(values - 1.0))]))
    return pi / pi.sum()


def _background_codes(
    n: int, length: int, transitions: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Markov-chain base codes, uint8 of shape (n, length): one vectorised step per position."""
    cum = np.cumsum(transitions, axis=1)[:, :3]  # thresholds between the 4 outcomes
    u = rng.random((length, n))
    codes = np.empty((length, n), dtype=np.uint8)
    codes[0] = np.searchsorted(np.cumsum(stationary(transitions))[:3], u[0], side="right")
    for j in range(1, length):
        codes[j] = (u[j, :, None] >= cum[codes[j - 1]]).sum(axis=1)
    return np.ascontiguousarray(codes.T)


def _decode(codes: np.ndarray) -> list[str]:
    """Rows of base codes (n, length) to strings, via one bytes view (no per-base Python)."""
    if codes.shape[1] == 0:
        return [""] * codes.shape[0]
    raw = np.ascontiguousarray(_ASCII[codes])
    return raw.view(f"S{codes.shape[1]}").ravel().astype(str).tolist()


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def markov_background(
    n: int,
    length: int,
    *,
    transitions: np.ndarray | None = None,
    seed: int | np.random.Generator = 0,
) -> list[str]:
    """Random sequences from a first-order (dinucleotide) Markov chain.

    Parameters
    ----------
    n, length : int
        Number of sequences and their length.
    transitions : ndarray of shape (4, 4), optional
        ``P(next | current)`` in A, C, G, T order (rows are normalised); default
        :data:`HUMAN_TRANSITIONS`. :func:`estimate_transitions` makes one from sequences.
        The first base is drawn from the chain's stationary distribution.
    seed : int or numpy Generator

    Returns
    -------
    list of str
        ``n`` upper-case sequences of ``length`` bases.

    Examples
    --------
    >>> seqs = markov_background(3, 10, seed=1)
    >>> len(seqs), {len(s) for s in seqs}
    (3, {10})
    """
    if n < 0 or length < 0:
        raise InputError(f"n and length must be >= 0; got n={n}, length={length}")
    t = _check_transitions(transitions)
    return _decode(_background_codes(int(n), int(length), t, _rng(seed)))


def estimate_transitions(seqs: Sequence[str], *, pseudocount: float = 1.0) -> np.ndarray:
    """Estimate a first-order transition matrix from sequences.

    Counts adjacent pairs of A/C/G/T (case-insensitive) within each sequence; pairs touching
    any other character are skipped. ``pseudocount`` is added to every pair count; a row
    with no counts at all (a base never followed by another) becomes uniform, with a warning.

    Returns
    -------
    ndarray of shape (4, 4)
        Rows (current base A, C, G, T) sum to 1.

    Examples
    --------
    >>> estimate_transitions(["ACACAC"], pseudocount=0)[0].tolist()
    [0.0, 1.0, 0.0, 0.0]
    """
    if isinstance(seqs, str):
        seqs = [seqs]
    # One joined buffer (a separator between sequences stops pairs crossing them): pair
    # counting is then a single bincount instead of a Python loop over positions.
    codes = _CODE[np.frombuffer("|".join(seqs).encode("ascii", "replace"), dtype=np.uint8)]
    pairs = codes[:-1].astype(np.int64) * 5 + codes[1:]
    counts = np.bincount(pairs, minlength=25).reshape(5, 5)[:4, :4] + float(pseudocount)
    empty = counts.sum(axis=1) <= 0
    if empty.any():
        logger.warning(
            "estimate_transitions: no pairs start with %s; using uniform rows for them",
            ", ".join("ACGT"[i] for i in np.flatnonzero(empty)),
        )
        counts[empty] = 1.0
    return counts / counts.sum(axis=1, keepdims=True)


def sample_sites(motif: Motif, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` instances of ``motif``, base codes (k, width), each base drawn from its column."""
    cum = np.cumsum(motif.pfm.T, axis=1)[:, :3]  # (width, 3)
    u = rng.random((k, motif.width, 1))
    return (u >= cum[None]).sum(axis=2).astype(np.uint8)


def _free_starts(
    occupied: np.ndarray, width: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """A uniformly random start per row whose window ``[s, s + width)`` is still free, and
    whether each row had any such window."""
    cs = np.zeros((occupied.shape[0], occupied.shape[1] + 1), dtype=np.int32)
    np.cumsum(occupied, axis=1, out=cs[:, 1:])
    free = (cs[:, width:] - cs[:, :-width]) == 0
    keys = np.where(free, rng.random(free.shape), -1.0)
    return keys.argmax(axis=1), free.any(axis=1)


def _counts(
    rng: np.random.Generator, n: int, probs: np.ndarray, copies: float, poisson: bool
) -> np.ndarray:
    """Instances per (sequence, motif), int (n, n_motifs); every sequence gets at least one."""
    present = rng.random((n, probs.size)) < probs
    none = ~present.any(axis=1)
    if none.any():
        present[none, rng.choice(probs.size, size=int(none.sum()), p=probs / probs.sum())] = True
    k = (
        1 + rng.poisson(copies - 1.0, size=present.shape)
        if poisson
        else np.full(present.shape, int(copies))
    )
    return np.where(present, k, 0)


def simulate(
    *,
    n_positive: int = 1000,
    n_negative: int = 1000,
    length: int = 201,
    motifs: Sequence[str | Motif] = ("MA0139",),
    motif_prob: float | Sequence[float] = 1.0,
    copies: float = 1,
    poisson: bool = False,
    negative_decoys: bool = False,
    transitions: np.ndarray | None = None,
    release: str | None = None,
    seed: int = 0,
) -> Simulation:
    """Simulate positives (background + implanted motif instances) and negatives (background).

    Positives and negatives share one Markov background (:func:`markov_background`). Each
    positive carries motif ``m`` with probability ``motif_prob[m]``, independently; a positive
    that drew none gets one motif chosen in proportion to ``motif_prob``, so every positive
    has at least one instance. A present motif is implanted ``copies`` times (with
    ``poisson``: ``1 + Poisson(copies - 1)`` times). Every instance is sampled base by base
    from the motif's PFM and written at a random free position (instances never overlap) on a
    random strand (reverse complement on ``-``). An instance that finds no free room is left
    out with a logged warning; the first instance in a sequence always fits.

    Parameters
    ----------
    n_positive, n_negative, length : int
        Counts of sequences and their common length.
    motifs : sequence of str or Motif
        JASPAR ids (``"MA0139"``: latest version in ``release``) or Motif objects.
    motif_prob : float or sequence of float
        Probability of each motif per positive (one value for all, or one per motif).
    copies : float
        Instances per present motif; an integer >= 1 unless ``poisson`` (then the mean, >= 1).
    poisson : bool
        Draw the number of instances as ``1 + Poisson(copies - 1)``.
    negative_decoys : bool
        Also implant decoys into negatives with the same counts: each motif with its columns
        permuted (same composition, no motif), recorded as ``<id>_decoy`` with ``decoy`` True.
    transitions : ndarray of shape (4, 4), optional
        Background chain; default :data:`HUMAN_TRANSITIONS`.
    release : str, optional
        JASPAR release for ids; default the newest bundled.
    seed : int
        Everything is reproducible from it.

    Returns
    -------
    Simulation
        ``ids``, ``sequences``, ``labels`` (n,), ``implants`` table and ``motifs``.

    Examples
    --------
    >>> sim = simulate(n_positive=5, n_negative=5, seed=1)
    >>> sim.labels.tolist(), sim.implants["motif_name"].unique().tolist()
    ([1, 1, 1, 1, 1, 0, 0, 0, 0, 0], ['CTCF'])
    """
    if isinstance(motifs, (str, Motif)):
        motifs = [motifs]
    if n_positive < 0 or n_negative < 0 or length < 1:
        raise InputError(
            f"need n_positive, n_negative >= 0 and length >= 1; got {n_positive}, "
            f"{n_negative}, {length}"
        )
    if not motifs:
        raise InputError("simulate needs at least one motif, e.g. motifs=('MA0139',)")
    names = [m for m in motifs if not isinstance(m, Motif)]
    loaded = iter(load_jaspar([str(m) for m in names], release=release) if names else [])
    motif_list = [m if isinstance(m, Motif) else next(loaded) for m in motifs]
    probs = np.broadcast_to(np.asarray(motif_prob, dtype=np.float64), (len(motif_list),)).copy()
    if np.any(~np.isfinite(probs)) or np.any(probs < 0) or np.any(probs > 1) or probs.sum() == 0:
        raise InputError(f"motif_prob must be in [0, 1], not all 0; got {motif_prob!r}")
    if not (copies >= 1 and (poisson or float(copies).is_integer())):
        raise InputError(
            f"copies must be an integer >= 1 (or a mean >= 1 with poisson); got {copies!r}"
        )
    wide = [m.label for m in motif_list if m.width > length]
    if wide:
        raise InputError(f"motif {wide[0]} is wider than the {length}-bp sequences")

    rng = np.random.default_rng(seed)
    t = _check_transitions(transitions)
    n = n_positive + n_negative
    codes = _background_codes(n, length, t, rng)
    labels = np.r_[np.ones(n_positive, np.int64), np.zeros(n_negative, np.int64)]
    ids = [f"sim_pos_{i}" for i in range(1, n_positive + 1)]
    ids += [f"sim_neg_{i}" for i in range(1, n_negative + 1)]

    groups = [(np.arange(n_positive), motif_list, False)]
    if negative_decoys and n_negative:
        decoys = [
            Motif(f"{m.id}_decoy", f"{m.name} decoy".strip(), m.counts[:, rng.permutation(m.width)])
            for m in motif_list
        ]
        groups.append((n_positive + np.arange(n_negative), decoys, True))

    occupied = np.zeros((n, length), dtype=bool)
    skipped = 0
    records: list[pd.DataFrame] = []
    for rows, group, decoy in groups:
        if rows.size == 0:
            continue
        k = _counts(rng, rows.size, probs, float(copies), poisson)
        for r in range(int(k.max())):
            for j, motif in enumerate(group):
                seq = rows[k[:, j] > r]
                if seq.size == 0:
                    continue
                w = motif.width
                start, fits = _free_starts(occupied[seq], w, rng)
                if not fits.all():
                    skipped += int((~fits).sum())
                    seq, start = seq[fits], start[fits]
                site = sample_sites(motif, seq.size, rng)
                minus = rng.random(seq.size) < 0.5
                placed = np.where(minus[:, None], 3 - site[:, ::-1], site)
                cols = start[:, None] + np.arange(w)
                codes[seq[:, None], cols] = placed
                occupied[seq[:, None], cols] = True
                records.append(
                    pd.DataFrame(
                        {
                            "row": seq,
                            "motif_id": motif.id,
                            "motif_name": motif.name,
                            "start": start.astype(np.int64),
                            "end": (start + w).astype(np.int64),
                            "strand": np.where(minus, "-", "+"),
                            "site": _decode(site),
                            "decoy": decoy,
                        }
                    )
                )
    if skipped:
        logger.warning(
            "simulate: %d motif instances found no free room in %d-bp sequences and were left "
            "out (every sequence keeps its first); lower copies or lengthen the sequences",
            skipped,
            length,
        )
    columns = ["id", "motif_id", "motif_name", "start", "end", "strand", "site", "decoy"]
    if records:
        table = pd.concat(records, ignore_index=True).sort_values(["row", "start"], kind="stable")
        table.insert(0, "id", np.asarray(ids, dtype=object)[table.pop("row").to_numpy()])
        implants = table.reset_index(drop=True)[columns]
    else:
        implants = pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    return Simulation(ids, _decode(codes), labels, implants, motif_list)
