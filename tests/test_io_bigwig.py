"""bigWig reading and writing: window stats and profiles equal numpy on the same data."""

from __future__ import annotations

import gzip

import numpy as np
import pyBigWig
import pytest

from cislearn.errors import InputError
from cislearn.io.bigwig import BigWig, TrackWriter, apply_missing, central, write_bigwig

SIZES = {"chr1": 5_000, "chr2": 3_000, "chrE": 1_000}


@pytest.fixture(scope="module")
def track(tmp_path_factory):
    """A bigWig written with pyBigWig itself from per-base arrays (NaN = no data), and the
    arrays: random runs on chr1/chr2, nothing on chrE."""
    rng = np.random.default_rng(3)
    base = {}
    path = tmp_path_factory.mktemp("bw") / "t.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(SIZES.items()))
    for chrom, size in SIZES.items():
        arr = np.full(size, np.nan)
        if chrom != "chrE":
            pos = 0
            while pos < size:
                run = int(rng.integers(1, 200))
                if rng.random() < 0.6:
                    arr[pos : pos + run] = round(float(rng.gamma(2.0, 3.0)), 3)
                pos += run
            # write runs of equal value as intervals
            idx = np.flatnonzero(~np.isnan(arr))
            starts = idx.tolist()
            bw.addEntries(
                [chrom] * len(idx), starts, ends=[s + 1 for s in starts], values=arr[idx].tolist()
            )
        base[chrom] = arr
    bw.close()
    return path, base


def windows(rng, n, width):
    chroms = rng.choice(["chr1", "chr2", "chrE", "chrX"], size=n).tolist()
    starts = np.array([rng.integers(0, SIZES.get(c, 1000) - width) for c in chroms])
    return chroms, starts, starts + width


def test_window_stats_equal_numpy(track):
    path, base = track
    rng = np.random.default_rng(0)
    chroms, starts, ends = windows(rng, 300, 150)
    with BigWig(path) as bw:
        got = {s: bw.window_stats(chroms, starts, ends, stat=s) for s in ("mean", "sum", "max")}
    n_absent = n_empty = 0
    for i, (c, s, e) in enumerate(zip(chroms, starts, ends, strict=True)):
        if c not in base:
            n_absent += 1
            assert all(np.isnan(got[k].values[i]) for k in got)
            continue
        seg = base[c][s:e]
        if np.isnan(seg).all():
            n_empty += 1
            assert np.isnan(got["mean"].values[i])
            continue
        assert got["sum"].values[i] == pytest.approx(np.nansum(seg), rel=1e-5)
        assert got["mean"].values[i] == pytest.approx(np.nansum(seg) / (e - s), rel=1e-5)
        assert got["max"].values[i] == pytest.approx(np.nanmax(seg), rel=1e-6)
    assert got["mean"].n_absent == n_absent > 0
    assert got["mean"].n_empty == n_empty > 0
    assert got["mean"].absent_chroms == ("chrX",)


def test_profiles_and_values(track):
    path, base = track
    rng = np.random.default_rng(1)
    chroms, starts, ends = windows(rng, 50, 101)
    with BigWig(path) as bw:
        prof = bw.profiles(chroms, starts, ends)
        assert bw.values("chr1", 10, 20).shape == (10,)
    assert prof.values.shape == (50, 101) and prof.values.dtype == np.float32
    uncovered = 0
    for i, (c, s, e) in enumerate(zip(chroms, starts, ends, strict=True)):
        expect = base[c][s:e] if c in base else np.full(e - s, np.nan)
        np.testing.assert_allclose(prof.values[i], expect, rtol=1e-6)
        uncovered += int(np.isnan(expect).sum()) if c in base else 0
    assert prof.n_absent == sum(c not in base for c in chroms)
    assert prof.n_uncovered == uncovered


def test_central_and_missing_rules():
    s, e = central(np.array([0, 10]), np.array([201, 20]), 51)
    assert s.tolist() == [75, 10] and e.tolist() == [126, 20]
    v = np.array([1.0, np.nan, 3.0])
    filled, keep = apply_missing(v, "zero", what="t")
    assert filled.tolist() == [1.0, 0.0, 3.0] and keep.all()
    filled, keep = apply_missing(v, "drop", what="t")
    assert keep.tolist() == [True, False, True]
    with pytest.raises(InputError, match=r'window 2 \("b"\) has no value'):
        apply_missing(v, "error", what="t", names=["a", "b", "c"])
    prof = np.array([[np.nan, 1.0], [np.nan, np.nan]])
    filled, keep = apply_missing(prof, "drop", what="t")
    assert keep.tolist() == [True, False] and filled[0].tolist() == [0.0, 1.0]


def test_write_read_back_bigwig_and_bedgraph(tmp_path):
    rng = np.random.default_rng(2)
    starts = np.arange(0, 2_000, 50)
    vals = rng.normal(size=len(starts))
    vals[3] = np.nan  # left out
    out, bg = tmp_path / "p.bw", tmp_path / "p.bedGraph.gz"
    n = write_bigwig(
        out,
        {"chr2": 3_000, "chr1": 5_000},
        ["chr1"] * len(starts) + ["chr2"],
        np.r_[starts, 100],
        np.r_[starts + 50, 150],
        np.r_[vals, 7.5],
        bedgraph=bg,
    )
    assert n == len(starts)  # one NaN dropped, one chr2 interval added
    bw = pyBigWig.open(str(out))
    got = bw.intervals("chr1")
    assert [g[0] for g in got] == [s for i, s in enumerate(starts.tolist()) if i != 3]
    np.testing.assert_allclose([g[2] for g in got], np.delete(vals, 3), rtol=1e-6)
    assert bw.intervals("chr2") == ((100, 150, 7.5),)
    lines = gzip.open(bg, "rt").read().splitlines()
    assert lines[0] == "chr2\t100\t150\t7.5" and len(lines) == n


def test_bad_inputs(tmp_path, track):
    path, _ = track
    (tmp_path / "x.bw").write_text("not a bigwig\n")
    with pytest.raises(InputError, match="not a bigWig"):
        BigWig(tmp_path / "x.bw")
    with pytest.raises(InputError, match="not found"):
        BigWig(tmp_path / "missing.bw")
    with BigWig(path) as bw, pytest.raises(InputError, match="outside chr2"):
        bw.window_stats(["chr2"], [2_900], [3_100])
    with pytest.raises(InputError, match="sorted, non-overlapping"):
        with TrackWriter(tmp_path / "o.bw", {"chr1": 100}) as w:
            w.add("chr1", [0, 10], [20, 30], [1.0, 2.0])
    assert not (tmp_path / "o.bw").exists()  # atomic: nothing left behind
    assert not list(tmp_path.glob(".o.bw*"))
