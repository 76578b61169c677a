"""Tests for cislearn.intervals on the real CTCF peaks and on hypothesis-generated tables."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cislearn.errors import ConfigError, InputError
from cislearn.intervals import (
    Dropped,
    Merged,
    chromosome_split,
    drop_out_of_bounds,
    from_grange_bed,
    merge_duplicates,
    overlaps,
    resize,
    top_k,
)

DATA = Path(__file__).parents[2] / "shared" / "data" / "ctcf_gm12878"
COLUMNS = [
    "chrom",
    "start",
    "end",
    "name",
    "score",
    "strand",
    "signal",
    "pvalue",
    "qvalue",
    "summit",
]


@pytest.fixture(scope="module")
def peaks() -> pd.DataFrame:
    return pd.read_csv(DATA / "peaks.narrowPeak.gz", sep="\t", header=None, names=COLUMNS)


@pytest.fixture(scope="module")
def pos_bed() -> pd.DataFrame:
    return pd.read_csv(DATA / "pos.bed.gz", sep="\t", header=None, names=["chrom", "start", "end"])


def table(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["chrom", "start", "end", "signal", "summit"])
    frame["score"] = 0
    return frame


# --- real data -------------------------------------------------------------------------------


def test_top_4000_resized_on_summit(peaks):
    top = top_k(peaks, 4000, by="signal")
    assert len(top) == 4000
    assert top["signal"].is_monotonic_decreasing
    assert top["signal"].min() >= peaks["signal"].nlargest(4000).min()
    windows = resize(top, 201)
    assert (windows["end"] - windows["start"] == 201).all()
    assert (windows["summit"] == 100).all()
    # the summit base is the centre base of every window
    np.testing.assert_array_equal(windows["start"] + 100, top["start"] + top["summit"])
    # other columns untouched, input untouched
    pd.testing.assert_frame_equal(
        windows[["chrom", "signal", "name"]], top[["chrom", "signal", "name"]]
    )
    assert top["end"].sub(top["start"]).ne(201).any()


def test_centre_windows_match_the_shared_pos_bed(peaks, pos_bed):
    """pos.bed holds the top 4,000 peaks resized to 201 bp on the peak centre, in order.

    The workshop that made it passed narrowPeak's 0-based start to GRanges as if 1-based, so
    its windows sit exactly 1 bp left of ours; a constant offset confirms order and widths.
    """
    ours = resize(top_k(peaks, 4000), 201, anchor="center")
    theirs = from_grange_bed(pos_bed)
    assert (theirs["end"] - theirs["start"] == 201).all()
    assert (pos_bed["end"] - pos_bed["start"] == 200).all()
    np.testing.assert_array_equal(ours["chrom"], theirs["chrom"])
    np.testing.assert_array_equal(ours["start"] - 1, theirs["start"])
    np.testing.assert_array_equal(ours["end"] - 1, theirs["end"])


def test_merge_duplicates_on_real_peaks(peaks):
    windows = resize(peaks, 201)
    merged = merge_duplicates(windows)
    assert isinstance(merged, Merged)
    expected = windows.duplicated(["chrom", "start", "end"]).sum()
    assert merged.n_merged == expected and len(merged.frame) == len(peaks) - expected
    assert not merged.frame.duplicated(["chrom", "start", "end"]).any()
    best = windows.groupby(["chrom", "start", "end"])["signal"].max()
    kept = merged.frame.set_index(["chrom", "start", "end"])["signal"]
    pd.testing.assert_series_equal(kept.sort_index(), best.sort_index(), check_names=False)
    raw = merge_duplicates(peaks)  # multi-summit peaks share coordinates before resizing
    assert raw.n_merged == peaks.duplicated(["chrom", "start", "end"]).sum() > 0


def test_split_real_chromosomes_by_fraction(peaks):
    split = chromosome_split(peaks["chrom"], test_fraction=0.1, valid_fraction=0.1, seed=1)
    assert split.shape == (len(peaks),)
    assert set(split) == {"train", "valid", "test"}
    frac = pd.Series(split).value_counts(normalize=True)
    assert frac["test"] == pytest.approx(0.1, abs=0.03)
    assert frac["valid"] == pytest.approx(0.1, abs=0.03)
    by_chrom = pd.DataFrame({"c": peaks["chrom"], "s": split}).groupby("c")["s"].nunique()
    assert (by_chrom == 1).all()  # whole chromosomes
    again = chromosome_split(peaks["chrom"], test_fraction=0.1, valid_fraction=0.1, seed=1)
    np.testing.assert_array_equal(split, again)
    other = chromosome_split(peaks["chrom"], test_fraction=0.1, valid_fraction=0.1, seed=2)
    assert (split != other).any()


# --- top_k -------------------------------------------------------------------------------------


def test_top_k_ties_nan_and_fallbacks(caplog):
    t = table([("c", i, i + 1, s, -1) for i, s in enumerate([1.0, 3.0, np.nan, 3.0, 2.0])])
    assert top_k(t, 3)["start"].tolist() == [1, 3, 4]  # tie 1 before 3 (file order)
    assert top_k(t, 10)["start"].tolist() == [1, 3, 4, 0, 2]  # NaN last
    assert top_k(t, 0).empty and top_k(t.iloc[:0], 3).empty
    t2 = t.assign(signal=np.nan, score=[5, 1, 9, 9, 0])
    with caplog.at_level(logging.WARNING):
        assert top_k(t2, 3)["start"].tolist() == [2, 3, 0]
    assert "ranking by 'score'" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert top_k(t2.assign(score=np.nan), 2)["start"].tolist() == [0, 1]
    assert "keeping the first 2 rows" in caplog.text
    with pytest.raises(InputError, match="no column 'pval'"):
        top_k(t, 2, by="pval")
    with pytest.raises(InputError, match="k must be"):
        top_k(t, -1)


# --- resize ----------------------------------------------------------------------------------


def test_resize_summit_centre_and_parity():
    t = table([("c", 100, 200, 1.0, 10), ("c", 100, 200, 1.0, -1), ("c", 100, 201, 1.0, -1)])
    r = resize(t, 5)
    assert r[["start", "end"]].values.tolist() == [[108, 113], [148, 153], [148, 153]]
    even = resize(t, 4)  # anchor at offset width // 2 = 2
    assert even[["start", "end"]].values.tolist() == [[108, 112], [148, 152], [148, 152]]
    centre = resize(t, 5, anchor="center")
    assert centre["start"].tolist() == [148, 148, 148]
    assert resize(t, 1)["start"].tolist() == [110, 150, 150]
    assert (resize(t, 5)["summit"] == 2).all()
    assert resize(t.drop(columns="summit"), 5)["start"].tolist() == [148, 148, 148]
    assert t["start"].tolist() == [100, 100, 100]  # input not modified
    with pytest.raises(InputError, match="width"):
        resize(t, 0)
    with pytest.raises(ConfigError, match="anchor"):
        resize(t, 5, anchor="middle")  # type: ignore[arg-type]


intervals = st.lists(
    st.tuples(
        st.sampled_from(["chr1", "chr2", "chrX"]),
        st.integers(0, 500),
        st.integers(1, 80),
        st.integers(-1, 100),
    ),
    max_size=40,
)


@settings(max_examples=150, deadline=None)
@given(rows=intervals, width=st.integers(1, 300))
def test_resize_invariants(rows, width):
    t = pd.DataFrame(
        [(c, s, s + n, min(sm, n - 1)) for c, s, n, sm in rows],
        columns=["chrom", "start", "end", "summit"],
    )
    r = resize(t, width)
    assert (r["end"] - r["start"] == width).all()
    assert (r["summit"] == width // 2).all()
    anchor = np.where(
        t["summit"] >= 0, t["start"] + t["summit"], t["start"] + (t["end"] - t["start"]) // 2
    )
    np.testing.assert_array_equal(r["start"] + width // 2, anchor)
    # the anchor base lies inside the original interval and inside the window
    assert ((anchor >= t["start"]) & (anchor < t["end"])).all()
    # resizing again to the same width on the new summit is a no-op
    pd.testing.assert_frame_equal(resize(r, width), r)


# --- duplicates and bounds -------------------------------------------------------------------


def test_merge_duplicates_keeps_best_in_file_order():
    t = table(
        [
            ("c", 0, 10, 1.0, -1),
            ("c", 5, 15, 2.0, -1),
            ("c", 0, 10, 3.0, -1),
            ("d", 0, 10, np.nan, -1),
            ("c", 0, 10, 3.0, -1),
        ]
    )
    merged = merge_duplicates(t)
    assert merged.n_merged == 2
    # rows 0, 2, 4 share coordinates: row 2 wins (highest signal, first of the tie with 4)
    assert merged.frame["chrom"].tolist() == ["c", "c", "d"]
    assert merged.frame["start"].tolist() == [5, 0, 0]
    np.testing.assert_array_equal(merged.frame["signal"], [2.0, 3.0, np.nan])
    assert len(t) == 5  # input not modified
    assert merge_duplicates(t.iloc[:0]).n_merged == 0


def test_drop_out_of_bounds():
    t = table(
        [
            ("chr1", -1, 9, 1, -1),
            ("chr1", 0, 10, 1, -1),
            ("chr1", 5, 11, 1, -1),
            ("chr2", 0, 3, 1, -1),
        ]
    )
    out = drop_out_of_bounds(t, {"chr1": 10, "chr2": 3})
    assert isinstance(out, Dropped)
    assert out.n_dropped == 2 and out.frame["start"].tolist() == [0, 0]
    with pytest.raises(
        InputError, match=r"'chr2' \(1 rows\) is not in the genome; the genome names it '2'"
    ):
        drop_out_of_bounds(t, {"chr1": 10, "2": 3})
    dropped = drop_out_of_bounds(t, {"chr1": 10}, unknown="drop")
    assert dropped.n_dropped == 3 and len(dropped.frame) == 1


# --- chromosome splits -----------------------------------------------------------------------


def test_explicit_split_and_errors():
    chroms = ["chr1", "chr2", "chr8", "chr9", "chr8", "chr1"]
    split = chromosome_split(chroms, valid=["chr9"], test=("chr8",))
    assert split.tolist() == ["train", "train", "test", "valid", "test", "train"]
    assert chromosome_split(chroms).tolist() == ["train"] * 6
    assert chromosome_split([], test_fraction=0.2).size == 0
    with pytest.raises(ConfigError, match=r"test chromosome 'chr3' has no records; .*chr1, chr2"):
        chromosome_split(chroms, test=["chr3"])
    with pytest.raises(ConfigError, match="names it 'chr8'"):
        chromosome_split(chroms, test=["8"])
    with pytest.raises(ConfigError, match="both valid and test"):
        chromosome_split(chroms, test=["chr8"], valid=["chr8"])
    with pytest.raises(ConfigError, match="not both"):
        chromosome_split(chroms, test=["chr8"], test_fraction=0.1)
    with pytest.raises(ConfigError, match=r"in \(0, 1\)"):
        chromosome_split(chroms, test_fraction=1.5)
    with pytest.raises(ConfigError, match="must be < 1"):
        chromosome_split(chroms, test_fraction=0.6, valid_fraction=0.5)
    with pytest.raises(ConfigError, match="leave at least one"):
        chromosome_split(chroms, test=["chr1", "chr2"], valid=["chr8", "chr9"])


def test_fraction_split_never_leaves_a_split_empty():
    chroms = ["big"] * 90 + ["mid"] * 9 + ["tiny"]
    split = chromosome_split(chroms, test_fraction=0.01, valid_fraction=0.05)
    assert split[-1] == "test"  # tiny: exactly 1 %
    assert (split[90:99] == "valid").all()  # closest available to 5 %
    assert (split[:90] == "train").all()


@settings(max_examples=60, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 50), min_size=3, max_size=12),
    tf=st.floats(0.05, 0.4),
    seed=st.integers(0, 10),
)
def test_fraction_split_is_whole_chromosomes(sizes, tf, seed):
    chroms = np.repeat([f"c{i}" for i in range(len(sizes))], sizes)
    split = chromosome_split(chroms, test_fraction=tf, seed=seed)
    per = pd.DataFrame({"c": chroms, "s": split}).groupby("c")["s"]
    assert (per.nunique() == 1).all()
    assert (split == "test").any() and (split == "train").any()
    # greedy closeness: the test share is within half the largest chromosome of the target,
    # unless the one forced chromosome overshoots
    taken = (split == "test").sum()
    assert (
        abs(taken - tf * len(chroms)) <= max(sizes) / 2 + 1e-9 or per.first().eq("test").sum() == 1
    )


# --- overlaps --------------------------------------------------------------------------------


def brute_overlaps(a: pd.DataFrame, b: pd.DataFrame, flank: int) -> np.ndarray:
    out = []
    for ra in a.itertuples():
        out.append(
            any(
                rb.chrom == ra.chrom and ra.start < rb.end + flank and rb.start - flank < ra.end
                for rb in b.itertuples()
            )
        )
    return np.array(out, dtype=bool)


def frame_of(rows):
    return pd.DataFrame([(c, s, s + n) for c, s, n, _ in rows], columns=["chrom", "start", "end"])


@settings(max_examples=200, deadline=None)
@given(a=intervals, b=intervals, flank=st.integers(0, 30))
def test_overlaps_matches_brute_force(a, b, flank):
    fa, fb = frame_of(a), frame_of(b)
    got = overlaps(fa, fb, flank=flank)
    assert got.dtype == bool and got.shape == (len(fa),)
    np.testing.assert_array_equal(got, brute_overlaps(fa, fb, flank))
    # symmetric without flank; every interval overlaps itself
    if flank == 0 and len(fa) and len(fb):
        assert overlaps(fb, fa).any() == got.any()
    assert overlaps(fa, fa).all()


def test_overlaps_edges_and_real_data(peaks, pos_bed):
    a = pd.DataFrame({"chrom": ["c", "c", "d"], "start": [0, 10, 0], "end": [10, 20, 5]})
    b = pd.DataFrame({"chrom": ["c"], "start": [20], "end": [25]})
    assert overlaps(a, b).tolist() == [False, False, False]  # half-open: [10,20) and [20,25)
    assert overlaps(a, b, flank=1).tolist() == [False, True, False]
    assert overlaps(a, b.iloc[:0]).tolist() == [False] * 3
    with pytest.raises(InputError, match="flank"):
        overlaps(a, b, flank=-1)
    # every positive window lies on a called peak
    assert overlaps(from_grange_bed(pos_bed), peaks).all()


def test_from_grange_bed_rejects_zero_based():
    with pytest.raises(InputError, match=r"row 2 \(chr1:0-10\) is not a 1-based"):
        from_grange_bed(pd.DataFrame({"chrom": ["chr1"] * 2, "start": [5, 0], "end": [10, 10]}))
