"""Genomic background: random windows matched to positives on length, GC and repeat content."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import ConfigError, InputError
from cislearn.negatives.checks import check_int
from cislearn.negatives.stats import byte_stats, sequence_stats
from cislearn.negatives.windows import Windows, merged_exclusion, window_overlaps
from cislearn.types import Progress, no_progress

if TYPE_CHECKING:
    from cislearn.io.genome import Genome

__all__ = ["Background", "genomic_background"]

log = logging.getLogger(__name__)


class Background(NamedTuple):
    """Result of :func:`genomic_background`."""

    intervals: pd.DataFrame
    """One row per negative: chrom, start, end (0-based half-open), name (``chrom:start-end``),
    gc, repeat_fraction, matched_to (index of its positive), exact (False when it was taken
    from the nearest bin after ``max_tries``)."""
    sequences: list[str]
    """The negatives' sequences, case preserved, in the order of ``intervals``."""
    qc: pd.DataFrame
    """One row per sequence, positives then negatives: set (``positive``/``negative``),
    index, length, gc, repeat_fraction, n_fraction, gc_bin, repeat_bin, matched_to (the
    positive's own index for positives) and exact (for a positive: all its negatives
    matched its bin)."""
    n_unmatched: int
    """Positives with at least one negative not in their own bin (or missing)."""


class _Bins:
    """Matching bins: (length index, GC bin, repeat bin) flattened to one integer key."""

    def __init__(self, gc_bins: int, repeat_bins: int, lengths: np.ndarray) -> None:
        self.gc_bins, self.repeat_bins, self.lengths = gc_bins, repeat_bins, lengths
        self.per_len = gc_bins * repeat_bins
        self.max_len = int(lengths.max()) if lengths.size else 0

    def of(self, stats: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """GC bin and repeat bin of each row of :func:`sequence_stats` output."""
        gc = (np.nan_to_num(stats["gc"].to_numpy()) * self.gc_bins).astype(np.int64)
        rep = stats["repeat_fraction"].to_numpy() * self.repeat_bins
        rep = np.nan_to_num(rep).astype(np.int64)
        return np.minimum(gc, self.gc_bins - 1), np.minimum(rep, self.repeat_bins - 1)

    def key(self, len_idx: np.ndarray | int, gc: np.ndarray, rep: np.ndarray) -> np.ndarray:
        return (len_idx * self.gc_bins + gc) * self.repeat_bins + rep

    def window_key(self, cand: np.ndarray) -> np.ndarray:
        """Unique key of windows ``cand`` = rows (global start, bin)."""
        return cand[0] * (self.max_len + 1) + self.lengths[cand[1] // self.per_len]


def _draw(
    windows: Windows,
    rng: np.random.Generator,
    bins: _Bins,
    draw_bin: np.ndarray,
    excluded: tuple[np.ndarray, np.ndarray],
    used: np.ndarray,
    max_n_fraction: float,
) -> np.ndarray:
    """One batch of valid candidate windows, rows (global start, bin), in random order.

    One window is drawn per entry of ``draw_bin`` (only its length matters); windows
    overlapping ``excluded``, repeated, already ``used`` or with too many N are dropped.
    """
    out = [np.empty((2, 0), dtype=np.int64)]
    len_idx = draw_bin // bins.per_len
    for li in np.unique(len_idx).tolist():
        length = int(bins.lengths[li])
        gstart = windows.sample(rng, length, int((len_idx == li).sum()))
        gstart = gstart[~window_overlaps(gstart, length, *excluded)]
        keys, first = np.unique(gstart * (bins.max_len + 1) + length, return_index=True)
        gstart = gstart[np.sort(first[~np.isin(keys, used)])]  # keep the random order
        stats = byte_stats(
            windows.bytes(gstart, length).reshape(-1),
            np.arange(gstart.size + 1, dtype=np.int64) * length,
        )
        ok = stats["n_fraction"].to_numpy() <= max_n_fraction
        gc, rep = bins.of(stats[ok])
        out.append(np.stack([gstart[ok], bins.key(li, gc, rep)]))
    return np.concatenate(out, axis=1)


def _check_background_options(
    fold: int,
    gc_bins: int,
    repeat_bins: int,
    exclude_flank: int,
    max_n_fraction: float,
    batch: int,
    max_tries: int,
) -> None:
    for name, value, minimum in (
        ("fold", fold, 1),
        ("gc_bins", gc_bins, 1),
        ("repeat_bins", repeat_bins, 1),
        ("exclude_flank", exclude_flank, 0),
        ("batch", batch, 1),
        ("max_tries", max_tries, 1),
    ):
        check_int(name, value, minimum)
    if not 0.0 <= float(max_n_fraction) <= 1.0:
        raise ConfigError(f"max_n_fraction must be between 0 and 1; got {max_n_fraction!r}")


def _fill_nearest(
    need_bin: np.ndarray, pool_bin: np.ndarray, bins: _Bins
) -> tuple[np.ndarray, np.ndarray]:
    """Match slots to spare windows of the same length from the nearest (GC, repeat) bin.

    The distance is |Δgc_bin| + |Δrepeat_bin|, the GC difference breaking ties. Returns the
    matched positions in ``need_bin`` and in ``pool_bin``.
    """
    gc_bins, repeat_bins, per_len = bins.gc_bins, bins.repeat_bins, bins.per_len
    n_bins = (int(max(need_bin.max(), pool_bin.max(initial=0))) // per_len + 1) * per_len
    order = np.argsort(pool_bin, kind="stable")
    first = np.searchsorted(pool_bin[order], np.arange(n_bins))
    total = np.bincount(pool_bin, minlength=n_bins)
    left = total.copy()
    grid_g, grid_r = np.divmod(np.arange(per_len), repeat_bins)
    slots_out: list[int] = []
    pool_out: list[int] = []
    for slot, b in enumerate(need_bin.tolist()):
        base, g, r = b - b % per_len, (b % per_len) // repeat_bins, b % repeat_bins
        dg = np.abs(grid_g - g)
        key = (dg + np.abs(grid_r - r)) * (gc_bins + 1) + dg
        key = np.where(left[base : base + per_len] > 0, key, np.iinfo(np.int64).max)
        best = int(np.argmin(key))
        if key[best] == np.iinfo(np.int64).max:
            continue
        cand = base + best
        slots_out.append(slot)
        pool_out.append(int(order[first[cand] + total[cand] - left[cand]]))
        left[cand] -= 1
    return np.asarray(slots_out, dtype=np.int64), np.asarray(pool_out, dtype=np.int64)


def genomic_background(
    sequences: Sequence[str],
    genome: Genome,
    *,
    exclude: pd.DataFrame | None = None,
    fold: int = 1,
    gc_bins: int = 20,
    repeat_bins: int = 5,
    exclude_flank: int = 1000,
    max_n_fraction: float = 0.01,
    batch: int = 20_000,
    max_tries: int = 50,
    seed: int = 0,
    progress: Progress | None = None,
) -> Background:
    """Random genomic windows matched to positives on length, GC and repeat content.

    As gkmSVM's ``genNullSeqs``: each positive gets ``fold`` negatives of its exact length
    whose GC fraction (among A/C/G/T, see :func:`sequence_stats`) and soft-masked
    (lower-case) repeat fraction fall in the same bins (``gc_bins`` equal bins of [0, 1],
    ``repeat_bins`` likewise; gkmSVM matches within ±0.02 instead). Candidates are drawn in
    vectorised batches of ``batch`` windows, uniformly over all windows of the genome (each
    chromosome weighted by its number of windows); a window is dropped when more than
    ``max_n_fraction`` of it is not A/C/G/T, when it overlaps ``exclude`` extended by
    ``exclude_flank`` on each side, or when it was drawn before. Genomes up to 300 Mb are
    read into memory one chromosome at a time; larger ones are read window by window.

    After ``max_tries`` batches, slots still empty are filled from the windows seen whose bin
    is nearest (|Δgc_bin| + |Δrepeat_bin|, GC first on ties; same length), marked
    ``exact=False``; gkmSVM instead drops them. Their positives are counted in
    ``n_unmatched`` and a warning is logged.

    Parameters
    ----------
    sequences : sequence of str
        Positive sequences, case preserved (lower case = soft-masked repeat). Sequences
        typed or converted to upper case have repeat fraction 0 and get repeat-free
        negatives.
    genome : Genome
        The reference genome to draw windows from.
    exclude : DataFrame, optional
        Regions to avoid (chrom, start, end; 0-based half-open), normally the positives'.
    fold : int
        Negatives per positive.
    gc_bins, repeat_bins : int
        Number of equal-width bins of GC and repeat fraction to match.
    exclude_flank : int
        Bases added on each side of every ``exclude`` interval.
    max_n_fraction : float
        Largest allowed fraction of non-ACGT letters in a negative.
    batch : int
        Candidate windows drawn per try.
    max_tries : int
        Batches drawn before falling back to the nearest bin.
    seed : int
        Random seed; the result is reproducible.
    progress : Progress, optional
        Called as ``progress("genomic background", done, total)`` with negatives found.

    Returns
    -------
    Background
        ``intervals`` and ``sequences`` of the negatives (sorted by positive, at most
        ``fold * len(sequences)``), per-sequence ``qc``, and ``n_unmatched``.

    Examples
    --------
    >>> bg = genomic_background(seqs, Genome("hg38.fa"), exclude=peaks, fold=2)  # doctest: +SKIP
    >>> bg.intervals[["chrom", "start", "end", "matched_to"]].head(2)  # doctest: +SKIP
      chrom     start       end  matched_to
    0  chr7  81263912  81264113           0
    1  chr2  19450388  19450589           0
    """
    _check_background_options(
        fold, gc_bins, repeat_bins, exclude_flank, max_n_fraction, batch, max_tries
    )
    progress = progress or no_progress
    pos = sequence_stats(sequences)
    if (pos["length"] == 0).any():
        first_empty = int(np.flatnonzero(pos["length"].to_numpy() == 0)[0])
        raise InputError("empty sequence; a genomic window needs a length", record=first_empty + 1)
    lengths, pos_len_idx = np.unique(pos["length"].to_numpy(), return_inverse=True)
    bins = _Bins(gc_bins, repeat_bins, lengths)
    pos_gc_bin, pos_rep_bin = bins.of(pos)
    # Slot s is replicate s % fold of positive s // fold; each takes one window.
    slot_bin = np.repeat(bins.key(pos_len_idx, pos_gc_bin, pos_rep_bin), fold)
    slot_win = np.full(slot_bin.size, -1, dtype=np.int64)  # global start of the slot's window
    slot_exact = np.zeros(slot_bin.size, dtype=np.bool_)
    windows = Windows(genome)
    if windows.offsets[-1] * (bins.max_len + 1) >= 2**62:
        raise InputError(f"sequences of {bins.max_len} bp are too long for this genome")
    excluded = merged_exclusion(windows, exclude, int(exclude_flank))
    rng = np.random.default_rng(seed)
    used = np.empty(0, dtype=np.int64)  # window keys already taken
    spare: list[np.ndarray] = []  # (global start, bin) of valid windows not taken
    progress("genomic background", 0, slot_bin.size)
    for attempt in range(max_tries):
        open_slots = np.flatnonzero(slot_win < 0)
        if open_slots.size == 0:
            break
        draw_bin = np.resize(slot_bin[open_slots], batch)
        cand = _draw(windows, rng, bins, draw_bin, excluded, used, max_n_fraction)
        if attempt == 0 and cand.shape[1] and not pos["repeat_fraction"].any():
            masked = float((cand[1] % repeat_bins > 0).mean())
            if masked > 0.2:
                log.warning(
                    "positives have no lower-case (soft-masked) letters but %.0f%% of genome "
                    "windows are in a higher repeat bin: negatives will be repeat-poor; pass "
                    "case-preserving sequences to match repeat content",
                    100 * masked,
                )
        # The first candidates of each bin fill that bin's open slots, in slot order.
        slots = open_slots[np.argsort(slot_bin[open_slots], kind="stable")]
        sb = slot_bin[slots]
        oc = np.argsort(cand[1], kind="stable")
        cb = cand[1, oc]
        rank = np.arange(cb.size) - np.searchsorted(cb, cb, side="left")
        first = np.searchsorted(sb, cb, side="left")
        take = rank < np.searchsorted(sb, cb, side="right") - first
        chosen = slots[first[take] + rank[take]]
        slot_win[chosen] = cand[0, oc[take]]
        slot_exact[chosen] = True
        used = np.concatenate([used, bins.window_key(cand[:, oc[take]])])
        spare.append(cand[:, oc[~take]])
        progress("genomic background", int((slot_win >= 0).sum()), slot_bin.size)

    open_slots = np.flatnonzero(slot_win < 0)
    if open_slots.size and spare:
        pool = np.concatenate(spare, axis=1)
        keys, first = np.unique(bins.window_key(pool), return_index=True)
        pool = pool[:, np.sort(first[~np.isin(keys, used)])]
        got_slot, got_pool = _fill_nearest(slot_bin[open_slots], pool[1], bins)
        slot_win[open_slots[got_slot]] = pool[0, got_pool]
        progress("genomic background", int((slot_win >= 0).sum()), slot_bin.size)
    return _assemble(windows, pos, bins, slot_bin, slot_win, slot_exact, fold)


def _assemble(
    windows: Windows,
    pos: pd.DataFrame,
    bins: _Bins,
    slot_bin: np.ndarray,
    slot_win: np.ndarray,
    slot_exact: np.ndarray,
    fold: int,
) -> Background:
    """Fetch the chosen windows and build the :class:`Background` tables."""
    rows = np.flatnonzero(slot_win >= 0)
    gstart, win_len = slot_win[rows], bins.lengths[slot_bin[rows] // bins.per_len]
    seqs: list[str] = [""] * rows.size
    for length in np.unique(win_len).tolist():
        sel = np.flatnonzero(win_len == length)
        text = windows.bytes(gstart[sel], length).tobytes().decode("latin-1")
        for j, i in enumerate(sel.tolist()):
            seqs[i] = text[j * length : (j + 1) * length]
    neg = sequence_stats(seqs)
    chrom, start = windows.locate(gstart)
    chroms = [windows.names[c] for c in chrom.tolist()]
    matched_to = rows // fold
    intervals = pd.DataFrame(
        {
            "chrom": chroms,
            "start": start,
            "end": start + win_len,
            "name": [f"{c}:{a}-{a + n}" for c, a, n in zip(chroms, start, win_len, strict=True)],
            "gc": neg["gc"].to_numpy(),
            "repeat_fraction": neg["repeat_fraction"].to_numpy(),
            "matched_to": matched_to,
            "exact": slot_exact[rows],
        }
    )
    pos_exact = slot_exact.reshape(len(pos), fold).all(axis=1)
    n_unmatched = int((~pos_exact).sum())
    if n_unmatched:
        log.warning(
            "genomic background: %d of %d positives have negatives outside their GC/repeat "
            "bin or missing (%d of %d found); raise max_tries or batch, or lower gc_bins",
            n_unmatched,
            len(pos),
            rows.size,
            slot_win.size,
        )
    parts = []
    for name, stats, idx, exact in (
        ("positive", pos, np.arange(len(pos)), pos_exact),
        ("negative", neg, matched_to, slot_exact[rows]),
    ):
        gc_bin, rep_bin = bins.of(stats)
        parts.append(
            stats.assign(
                set=name,
                index=np.arange(len(stats)),
                gc_bin=gc_bin,
                repeat_bin=rep_bin,
                matched_to=idx,
                exact=exact,
            )
        )
    columns = [
        "set",
        "index",
        "length",
        "gc",
        "repeat_fraction",
        "n_fraction",
        "gc_bin",
        "repeat_bin",
        "matched_to",
        "exact",
    ]
    qc = pd.concat(parts, ignore_index=True)[columns]
    return Background(intervals, seqs, qc, n_unmatched)
