"""Windows ↔ experiments and tracks: multi-task labels, signal targets and per-base input tracks.

Pure array / DataFrame code over opened :class:`cislearn.io.bigwig.BigWig` objects:
:func:`union_windows` and :func:`experiment_labels` turn several peak files into one set of
windows with one binary label per experiment (Basset-style); :func:`signal_targets`,
:func:`profile_targets` and :func:`input_tracks` read continuous targets and extra inputs for
windows, applying the missing-value rule of :mod:`cislearn.io.bigwig` and counting.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from cislearn.errors import ConfigError, InputError
from cislearn.io.bigwig import MISSING, STATS, apply_missing, central

__all__ = [
    "LABEL_RULE",
    "TRANSFORMS",
    "TrackSpec",
    "SignalTargets",
    "parse_named",
    "union_windows",
    "experiment_labels",
    "signal_targets",
    "profile_targets",
    "input_tracks",
    "transform",
    "base_track",
    "coordinates",
]

_COORD = re.compile(r"^(?:[^:]*:)?(?P<chrom>[^:\s]+):(?P<start>\d+)-(?P<end>\d+)$")

#: How a window gets label 1 for an experiment.
LABEL_RULE = "the summit of one of the experiment's peaks (its centre without one) is inside"
#: Transforms of signal values.
TRANSFORMS: tuple[str, ...] = ("none", "log1p")


class TrackSpec(NamedTuple):
    """One bigWig track and how to turn it into numbers (recorded in summaries and bundles)."""

    name: str
    path: str
    stat: str = "mean"
    center: int | None = None
    transform: str = "none"
    missing: str = "zero"

    def describe(self) -> dict[str, Any]:
        return self._asdict()


class SignalTargets(NamedTuple):
    """Continuous targets of n windows from t tracks."""

    values: np.ndarray
    """float32 of shape (n, t), transformed, missing values filled by the rule."""
    keep: np.ndarray
    """bool (n,): False for windows dropped by a ``drop`` rule."""
    counts: dict[str, dict[str, Any]]
    """Per track: windows absent (chromosome not in the bigWig), empty, dropped, filled."""


def parse_named(items: Sequence[str], *, what: str) -> dict[str, str]:
    """``NAME=PATH`` or ``PATH`` items → {name: path} (name = file name without extensions).

    Examples
    --------
    >>> parse_named(["ctcf=a/ctcf.bw", "b/dnase.narrowPeak.gz"], what="--signal")
    {'ctcf': 'a/ctcf.bw', 'dnase': 'b/dnase.narrowPeak.gz'}
    """
    out: dict[str, str] = {}
    for item in items:
        name, sep, path = item.partition("=")
        if not sep:
            path, name = item, Path(item).name.split(".")[0]
        name = name.strip()
        if not name or not path:
            raise ConfigError(f"{what} expects NAME=PATH or PATH; got '{item}'")
        if name in out:
            raise ConfigError(f"{what}: name '{name}' given twice; name them NAME=PATH")
        out[name] = path
    return out


def transform(values: np.ndarray, how: str) -> np.ndarray:
    """Apply a :data:`TRANSFORMS` entry (``log1p`` needs values > -1)."""
    if how not in TRANSFORMS:
        raise ConfigError(f"transform must be one of {', '.join(TRANSFORMS)}; got '{how}'")
    if how == "log1p":
        if np.nanmin(values, initial=0.0) <= -1:
            raise ConfigError("transform 'log1p' needs values > -1; the track has smaller ones")
        return np.log1p(values)
    return values


def _rank_score(frame: pd.DataFrame) -> np.ndarray:
    """1 for the strongest peak of a file down to ~0 for the weakest (signal, else score)."""
    for column in ("signal", "score"):
        if column in frame.columns:
            values = pd.to_numeric(frame[column], errors="coerce")
            if values.notna().any():
                ranks = values.rank(ascending=False, method="first", na_option="bottom")
                return 1.0 - (ranks.to_numpy() - 1) / max(len(frame), 1)
    return 1.0 - np.arange(len(frame)) / max(len(frame), 1)


def union_windows(
    frames: Mapping[str, pd.DataFrame],
    *,
    width: int,
    top: int | None = None,
    anchor: Literal["summit", "center"] = "summit",
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The union of several experiments' peaks as non-overlapping windows of one width.

    Each file keeps its ``top`` strongest peaks; every peak becomes a ``width`` window around
    its summit; then, strongest first (by rank within its own file, so experiments of
    different signal scales weigh alike), a window is kept unless it overlaps one already
    kept. Labels come afterwards from :func:`experiment_labels`.

    Returns
    -------
    windows : DataFrame
        chrom, start, end, signal (the rank score, 1 = strongest) and ``experiment`` (whose
        peak placed it), sorted by chrom and start.
    counts : dict
        Per experiment: peaks in, kept by ``top``; and windows suppressed by overlap.
    """
    from cislearn.intervals import resize, top_k

    parts, counts = [], {}
    for name, frame in frames.items():
        kept = top_k(frame, top) if top is not None else frame.reset_index(drop=True)
        counts[name] = {"peaks_in": len(frame), "peaks_used": len(kept)}
        windows = resize(kept, width, anchor=anchor)[["chrom", "start", "end"]]
        parts.append(windows.assign(signal=_rank_score(kept), experiment=name))
    allw = pd.concat(parts, ignore_index=True)
    order = np.argsort(-allw["signal"].to_numpy(), kind="stable")
    kept_starts: dict[str, list[int]] = {}
    keep = np.zeros(len(allw), dtype=bool)
    chroms = allw["chrom"].astype(str).to_numpy()
    starts = allw["start"].to_numpy(np.int64)
    for i in order:
        taken = kept_starts.setdefault(chroms[i], [])
        j = bisect.bisect_left(taken, starts[i])
        near = taken[max(j - 1, 0) : j + 1]
        if any(abs(s - starts[i]) < width for s in near):
            continue
        taken.insert(j, int(starts[i]))
        keep[i] = True
    out = allw[keep].sort_values(["chrom", "start"], kind="stable").reset_index(drop=True)
    return out, {"experiments": counts, "suppressed_by_overlap": int((~keep).sum())}


def experiment_labels(windows: pd.DataFrame, frames: Mapping[str, pd.DataFrame]) -> np.ndarray:
    """One 0/1 column per experiment: 1 when :data:`LABEL_RULE` holds for the window.

    Parameters
    ----------
    windows : DataFrame of n rows with chrom, start, end
    frames : mapping name → peak table (``summit`` offsets used when >= 0)

    Returns
    -------
    ndarray of shape (n, len(frames)), float32
    """
    from cislearn.intervals import overlaps

    out = np.zeros((len(windows), len(frames)), dtype=np.float32)
    for j, frame in enumerate(frames.values()):
        start = frame["start"].to_numpy(np.int64)
        point = start + (frame["end"].to_numpy(np.int64) - start) // 2
        if "summit" in frame.columns:
            summit = pd.to_numeric(frame["summit"], errors="coerce").fillna(-1).to_numpy()
            point = np.where(summit >= 0, start + np.maximum(summit, 0).astype(np.int64), point)
        points = pd.DataFrame({"chrom": frame["chrom"], "start": point, "end": point + 1})
        out[:, j] = overlaps(windows, points)
    return out


def _check(spec: TrackSpec) -> None:
    if spec.stat not in STATS:
        raise ConfigError(f"signal '{spec.name}': stat must be one of {', '.join(STATS)}")
    if spec.missing not in MISSING:
        raise ConfigError(f"signal '{spec.name}': missing must be one of {', '.join(MISSING)}")
    if spec.transform not in TRANSFORMS:
        raise ConfigError(f"signal '{spec.name}': transform must be one of {', '.join(TRANSFORMS)}")


def signal_targets(
    windows: pd.DataFrame, tracks: Mapping[str, Any], specs: Sequence[TrackSpec]
) -> SignalTargets:
    """One continuous target per track: a statistic over each window (or its central width).

    Parameters
    ----------
    windows : DataFrame of n rows with chrom, start, end (and ``name`` for messages)
    tracks : mapping name → opened :class:`cislearn.io.bigwig.BigWig`
    specs : sequence of TrackSpec
        ``stat``, ``center`` (central width in bp, None = whole window), ``transform``
        (applied after the missing rule) and ``missing`` per track.

    Returns
    -------
    SignalTargets
        ``values`` (n, t) float32; ``keep`` is False where a ``drop`` rule removed a window.
    """
    n = len(windows)
    chroms = windows["chrom"].astype(str).tolist()
    names = windows["name"].astype(str).tolist() if "name" in windows else None
    values = np.zeros((n, len(specs)), dtype=np.float32)
    keep = np.ones(n, dtype=bool)
    counts: dict[str, dict[str, Any]] = {}
    for j, spec in enumerate(specs):
        _check(spec)
        starts, ends = central(windows["start"].to_numpy(), windows["end"].to_numpy(), spec.center)
        sig = tracks[spec.name].window_stats(chroms, starts, ends, stat=spec.stat)
        filled, ok = apply_missing(
            sig.values, spec.missing, what=f"signal '{spec.name}' ({spec.path})", names=names
        )
        n_missing = sig.n_absent + sig.n_empty
        counts[spec.name] = {
            "absent_chromosome": sig.n_absent,
            "absent_chromosomes": list(sig.absent_chroms),
            "no_data": sig.n_empty,
            "filled_zero": n_missing if spec.missing == "zero" else 0,
            "dropped": int((~ok).sum()),
            **spec.describe(),
        }
        values[:, j] = transform(filled, spec.transform)
        keep &= ok
    return SignalTargets(values, keep, counts)


def profile_targets(
    windows: pd.DataFrame, tracks: Mapping[str, Any], specs: Sequence[TrackSpec]
) -> tuple[np.ndarray, np.ndarray, dict[str, dict[str, Any]]]:
    """Base-resolution values (n, t, L) float32 of the windows: bases without data get 0 under
    ``zero`` (counted as ``uncovered_bases``), windows without any data follow the rule.

    Returns ``(values, keep, counts)`` as :func:`signal_targets` does.
    """
    n = len(windows)
    chroms = windows["chrom"].astype(str).tolist()
    names = windows["name"].astype(str).tolist() if "name" in windows else None
    width = int((windows["end"] - windows["start"]).max()) if n else 0
    out = np.zeros((n, len(specs), width), dtype=np.float32)
    keep = np.ones(n, dtype=bool)
    counts: dict[str, dict[str, Any]] = {}
    for j, spec in enumerate(specs):
        _check(spec)
        prof = tracks[spec.name].profiles(chroms, windows["start"], windows["end"])
        filled, ok = apply_missing(
            prof.values, spec.missing, what=f"track '{spec.name}' ({spec.path})", names=names
        )
        counts[spec.name] = {
            "absent_chromosome": prof.n_absent,
            "no_data": prof.n_empty,
            "uncovered_bases": prof.n_uncovered,
            "dropped": int((~ok).sum()),
            **spec.describe(),
        }
        out[:, j] = transform(filled, spec.transform)
        keep &= ok
    return out, keep, counts


def input_tracks(
    chroms: Sequence[str],
    starts: np.ndarray,
    ends: np.ndarray,
    tracks: Mapping[str, Any],
    specs: Sequence[TrackSpec],
) -> np.ndarray:
    """Per-base extra inputs (n, c, L) float32 for windows, as a model bundle records them.

    Inputs must never silently differ from training: a window with no value under an
    ``error`` rule raises; ``zero`` fills 0 (bases and windows without data).
    """
    frame = pd.DataFrame({"chrom": list(chroms), "start": starts, "end": ends})
    for spec in specs:
        if spec.missing == "drop":
            raise ConfigError(
                f"input track '{spec.name}': missing 'drop' cannot be used for model inputs "
                "(use zero or error)"
            )
    values, _, _ = profile_targets(frame, tracks, specs)
    return values


def base_track(
    chroms: Sequence[str], starts: np.ndarray, values: np.ndarray
) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """Per-base values of windows (e.g. attributions) as non-overlapping 1-bp intervals.

    Where windows overlap, a base gets the mean of the windows covering it; bases between
    windows get nothing (no data).

    Parameters
    ----------
    chroms : sequence of str, length n
    starts : ndarray of int, shape (n,)
        0-based start of each window.
    values : ndarray of shape (n, L)

    Returns
    -------
    list of (chrom, starts, ends, values)
        One entry per run of covered bases, sorted by chromosome (first appearance) and start.

    Examples
    --------
    >>> [(c, s.tolist(), v.tolist()) for c, s, _, v in
    ...  base_track(["c", "c"], np.array([0, 1]), np.array([[1.0, 2.0], [4.0, 6.0]]))]
    [('c', [0, 1, 2], [1.0, 3.0, 6.0])]
    """
    values = np.asarray(values, dtype=np.float64)
    starts = np.asarray(starts, dtype=np.int64)
    width = values.shape[1]
    out = []
    chroms_arr = np.asarray(chroms, dtype=object)
    for chrom in dict.fromkeys(chroms_arr.tolist()):
        idx = np.flatnonzero(chroms_arr == chrom)
        idx = idx[np.argsort(starts[idx], kind="stable")]
        # clusters of overlapping windows, each accumulated on its own span
        s = starts[idx]
        breaks = np.flatnonzero(s[1:] >= np.maximum.accumulate(s + width)[:-1]) + 1
        for group in np.split(idx, breaks):
            lo = int(starts[group].min())
            span = int(starts[group].max()) + width - lo
            total = np.zeros(span)
            count = np.zeros(span)
            for i in group:
                o = int(starts[i]) - lo
                total[o : o + width] += values[i]
                count[o : o + width] += 1
            pos = np.arange(lo, lo + span)
            out.append((str(chrom), pos, pos + 1, total / count))
    return out


def coordinates(
    ids: Sequence[str], frame: pd.DataFrame | None = None, *, path: Any = None
) -> pd.DataFrame:
    """chrom, start, end of each record: from ``frame``'s coordinate columns when it has them,
    else parsed from ids written as ``chrom:start-end`` (what ``cislearn prepare`` names
    windows; a ``pos:``-style prefix is ignored)."""
    if frame is not None and {"chrom", "start", "end"} <= set(frame.columns):
        return frame[["chrom", "start", "end"]].reset_index(drop=True)
    rows = []
    for i, rid in enumerate(ids):
        m = _COORD.match(str(rid))
        if m is None:
            raise InputError(
                "a model with input tracks needs each record's coordinates: ids like "
                "chr1:1000-1201, or a table with chrom, start, end columns",
                path=path,
                record=i + 1,
                record_id=str(rid),
            )
        rows.append((m["chrom"], int(m["start"]), int(m["end"])))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])
