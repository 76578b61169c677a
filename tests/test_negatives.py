"""Tests of cislearn.negatives (k-let shuffles, genomic background) and report.qc."""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import numba
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import chisquare

from cislearn.encode import gc_content, soft_mask_fraction, to_codes
from cislearn.errors import ConfigError, InputError
from cislearn.io.fasta import read_fasta
from cislearn.io.genome import Genome
from cislearn.negatives import genomic_background, kshuffle, sequence_stats, shuffle_codes
from cislearn.negatives import windows as negative_windows
from cislearn.report.qc import plot_background_qc

CTCF_POS = Path(__file__).parents[2] / "shared" / "data" / "ctcf_gm12878" / "pos.fa.gz"


def kmer_counts(codes: np.ndarray, k: int, base: int = 5) -> np.ndarray:
    """Counts of every k-mer in each row of ``codes`` (n, L): shape (n, base**k)."""
    n, length = codes.shape
    if length < k:
        return np.zeros((n, base**k), dtype=np.int64)
    ids = np.zeros((n, length - k + 1), dtype=np.int64)
    for i in range(k):
        ids = ids * base + codes[:, i : length - k + 1 + i]
    flat = ids + (np.arange(n) * base**k)[:, None]
    return np.bincount(flat.ravel(), minlength=n * base**k).reshape(n, base**k)


def kmer_counter(s: str, k: int) -> Counter[str]:
    return Counter(s[i : i + k] for i in range(len(s) - k + 1))


def eulerian_outcomes(s: str, k: int) -> set[str]:
    """Every sequence with the k-let counts and first k-1 letters of ``s`` (brute force)."""
    budget = kmer_counter(s, k)
    out: set[str] = set()

    def extend(prefix: str) -> None:
        if len(prefix) == len(s):
            out.add(prefix)
            return
        for b in sorted(set(s)):
            kmer = (prefix + b)[-k:]
            if budget[kmer] > 0:
                budget[kmer] -= 1
                extend(prefix + b)
                budget[kmer] += 1

    extend(s[: k - 1])
    return out


@pytest.fixture(scope="module")
def ctcf_seqs() -> list[str]:
    return [r.sequence for r in read_fasta(CTCF_POS)]


# ----------------------------------------------------------------------------- k-let shuffle


@pytest.mark.parametrize("k", [1, 2, 3])
def test_counts_exact_on_every_ctcf_positive(ctcf_seqs: list[str], k: int) -> None:
    n_shuffles = 5
    assert len(ctcf_seqs) == 4000
    shuffled = kshuffle(ctcf_seqs, k=k, n_shuffles=n_shuffles, seed=11)
    assert len(shuffled) == 4000 * n_shuffles
    original = to_codes(ctcf_seqs)
    out = to_codes(shuffled)
    assert out.shape == (4000 * n_shuffles, 201)
    expected = np.repeat(kmer_counts(original, k), n_shuffles, axis=0)
    np.testing.assert_array_equal(kmer_counts(out, k), expected)
    if k >= 2:  # Eulerian path: first and last k-1 letters are kept
        rep = np.repeat(original, n_shuffles, axis=0)
        np.testing.assert_array_equal(out[:, : k - 1], rep[:, : k - 1])
        np.testing.assert_array_equal(out[:, -(k - 1) :], rep[:, -(k - 1) :])
    # The shuffles are really shuffled: almost none equals its input.
    same = (out == np.repeat(original, n_shuffles, axis=0)).all(axis=1)
    assert same.mean() < 0.01


def test_string_and_code_apis_agree(ctcf_seqs: list[str]) -> None:
    codes = to_codes(ctcf_seqs[:300])
    by_codes = shuffle_codes(codes, k=2, n_shuffles=3, seed=5)
    assert by_codes.shape == (300, 3, 201) and by_codes.dtype == np.uint8
    by_strings = kshuffle(ctcf_seqs[:300], k=2, n_shuffles=3, seed=5)
    assert to_codes(by_strings).tolist() == by_codes.reshape(900, 201).tolist()


def test_reproducible_and_seed_dependent(ctcf_seqs: list[str]) -> None:
    seqs = ctcf_seqs[:200]
    a = kshuffle(seqs, n_shuffles=3, seed=1)
    assert a == kshuffle(seqs, n_shuffles=3, seed=1)
    b = kshuffle(seqs, n_shuffles=3, seed=2)
    assert sum(x != y for x, y in zip(a, b, strict=True)) > 0.95 * len(a)
    # shuffle j of sequence i does not depend on n_shuffles
    five = kshuffle(seqs, n_shuffles=5, seed=1)
    assert [five[i * 5 + j] for i in range(200) for j in range(3)] == a
    # the shuffles of one sequence differ from each other
    assert len(set(a[:3])) == 3
    assert kshuffle(seqs[:5], seed=None) != kshuffle(seqs[:5], seed=None)


def test_independent_of_thread_count(ctcf_seqs: list[str]) -> None:
    codes = to_codes(ctcf_seqs[:500])
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = shuffle_codes(codes, k=3, n_shuffles=4, seed=3)
        numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)
        many = shuffle_codes(codes, k=3, n_shuffles=4, seed=3)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, many)


def test_n_and_other_letters_are_ordinary_letters() -> None:
    seqs = ["ACGTNNNNACGTTGCANNACGRYACGT", "NNNN", "acgtnACGTN"]
    for k in (1, 2, 3):
        out = kshuffle(seqs, k=k, n_shuffles=20, seed=0)
        for i, s in enumerate(seqs):
            for o in out[i * 20 : (i + 1) * 20]:
                assert kmer_counter(o, k) == kmer_counter(s.upper(), k)
    # lower case is upper-cased
    assert all(o.isupper() for o in kshuffle(["acgtacgtaacc"], n_shuffles=5))


@pytest.mark.parametrize("k", [1, 2, 3])
def test_very_short_sequences(k: int) -> None:
    seqs = ["", "A", "AC", "ACG"[:k], "ACGT"[: k + 1]]
    out = kshuffle(seqs, k=k, n_shuffles=4, seed=0)
    assert len(out) == 20
    for i, s in enumerate(seqs):
        for o in out[i * 4 : (i + 1) * 4]:
            assert len(o) == len(s)
            assert sorted(o) == sorted(s)
            if k >= 2 and len(s) <= k:
                assert o == s  # at most one k-let: nothing to shuffle
    assert shuffle_codes(np.zeros((3, 0), np.uint8), n_shuffles=2).shape == (3, 2, 0)
    assert shuffle_codes(np.zeros((0, 7), np.uint8), n_shuffles=2).shape == (0, 2, 7)
    assert kshuffle([]) == []


@pytest.mark.parametrize(("s", "k"), [("AACCGGTTACGT", 2), ("AACAGACAAGACAGCA", 3), ("ACGTA", 1)])
def test_shuffles_are_uniform_over_all_outcomes(s: str, k: int) -> None:
    if k == 1:
        from itertools import permutations

        outcomes = {"".join(p) for p in permutations(s)}
    else:
        outcomes = eulerian_outcomes(s, k)
    assert len(outcomes) >= 5
    n = 400 * len(outcomes)
    counts = Counter(kshuffle([s], k=k, n_shuffles=n, seed=123))
    assert set(counts) == outcomes  # every outcome reached, nothing else
    assert chisquare([counts[o] for o in sorted(outcomes)]).pvalue > 1e-4


@settings(max_examples=150, deadline=None)
@given(
    seqs=st.lists(st.text(alphabet="ACGTNacgtR", max_size=40), min_size=1, max_size=6),
    k=st.integers(1, 6),
    n_shuffles=st.integers(1, 3),
    seed=st.integers(0, 2**64 - 1),
)
def test_property_counts_and_ends(seqs: list[str], k: int, n_shuffles: int, seed: int) -> None:
    out = kshuffle(seqs, k=k, n_shuffles=n_shuffles, seed=seed)
    assert len(out) == len(seqs) * n_shuffles
    for i, s in enumerate(seqs):
        s = s.upper()
        for o in out[i * n_shuffles : (i + 1) * n_shuffles]:
            assert len(o) == len(s)
            assert kmer_counter(o, k) == kmer_counter(s, k)
            if k >= 2:
                assert o[: k - 1] == s[: k - 1]
                assert o[len(o) - (k - 1) :] == s[len(s) - (k - 1) :]


def test_large_k_uses_compacted_nodes() -> None:
    s = "ACGTTGCAAGCTTAGCATCGATCGGCTAAGCTTACGATCGATCGTAGC" * 3
    for k in (5, 8, 20):
        for o in kshuffle([s], k=k, n_shuffles=5, seed=k):
            assert kmer_counter(o, k) == kmer_counter(s, k)


def test_shuffle_rejects_bad_input() -> None:
    with pytest.raises(InputError, match="not one string"):
        kshuffle("ACGT")
    with pytest.raises(ConfigError, match="k must be"):
        kshuffle(["ACGT"], k=0)
    with pytest.raises(ConfigError, match="n_shuffles"):
        kshuffle(["ACGT"], n_shuffles=0)
    with pytest.raises(ConfigError, match="seed"):
        kshuffle(["ACGT"], seed=1.5)  # type: ignore[arg-type]
    with pytest.raises(InputError, match=r"record 2.*non-ASCII"):
        kshuffle(["ACGT", "ACGé"])
    with pytest.raises(InputError, match="2-D"):
        shuffle_codes(np.zeros(5, np.uint8))
    with pytest.raises(InputError, match="letter codes 0-255"):
        shuffle_codes(np.full((2, 3), 300))
    with pytest.raises(ConfigError, match="too large"):
        shuffle_codes(np.array([[0, 4, 1, 2]], np.uint8), k=40)


# ------------------------------------------------------------------------- sequence_stats


@settings(max_examples=100, deadline=None)
@given(st.lists(st.text(alphabet="ACGTNacgtnRy", max_size=30), max_size=8))
def test_sequence_stats_match_encode(seqs: list[str]) -> None:
    stats = sequence_stats(seqs)
    assert list(stats.columns) == ["length", "gc", "repeat_fraction", "n_fraction"]
    assert stats["length"].tolist() == [len(s) for s in seqs]
    if seqs:
        np.testing.assert_allclose(stats["gc"], gc_content(seqs), equal_nan=True)
        np.testing.assert_allclose(
            stats["repeat_fraction"], soft_mask_fraction(seqs), equal_nan=True
        )
    for s, n in zip(seqs, stats["n_fraction"], strict=True):
        expect = sum(c not in "ACGTacgt" for c in s) / len(s) if s else np.nan
        np.testing.assert_allclose(n, expect, equal_nan=True)


# --------------------------------------------------------------------- genomic background

N_SPRINKLED = (60_000, 70_000)  # chr1 region with 3% N: its windows have > 1% N


@pytest.fixture(scope="module")
def varied_genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Seeded ~400 kb genome: GC-varying blocks, soft-masked runs, an N block, N-rich region."""
    rng = np.random.default_rng(2024)
    letters = np.array(list("ACGT"))
    path = tmp_path_factory.mktemp("varied") / "genome.fa"
    with open(path, "w") as fh:
        for chrom, size in (("chr1", 200_000), ("chr2", 150_000), ("chrS", 50_000)):
            parts, total = [], 0
            while total < size:
                n, gc = int(rng.integers(2_000, 6_000)), rng.uniform(0.3, 0.7)
                p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
                parts.append(letters[rng.choice(4, size=n, p=p)])
                total += n
            seq = np.concatenate(parts)[:size]
            for start in rng.integers(0, size - 700, size=size // 4000):
                end = start + int(rng.integers(100, 600))
                seq[start:end] = np.char.lower(seq[start:end])
            if chrom == "chr1":
                a, b = N_SPRINKLED
                seq[a:b][rng.random(b - a) < 0.03] = "N"
            if chrom == "chr2":
                seq[100_000:105_000] = "N"
            text = "".join(seq)
            fh.write(f">{chrom}\n")
            for i in range(0, size, 60):
                fh.write(text[i : i + 60] + "\n")
    return path


@pytest.fixture(scope="module")
def positives(varied_genome: Path) -> tuple[list[str], pd.DataFrame]:
    """120 windows of 201 bp on chr1 and 30 of 151 bp on chr2, away from the N regions."""
    rng = np.random.default_rng(5)
    genome = Genome(varied_genome)
    rows = []
    for chrom, n, length, bad in (
        ("chr1", 120, 201, N_SPRINKLED),
        ("chr2", 30, 151, (99_000, 106_000)),
    ):
        starts = rng.choice(np.arange(0, genome.lengths[chrom] - length, 301), n, replace=False)
        for s in starts.tolist():
            if not (s + length <= bad[0] or s >= bad[1]):
                s = (s + 20_000) % (genome.lengths[chrom] - length)
            rows.append((chrom, s, s + length))
    frame = pd.DataFrame(rows, columns=["chrom", "start", "end"])
    seqs = [genome.fetch(c, s, e) for c, s, e in rows]
    return seqs, frame


def test_background_matches_length_gc_repeat(varied_genome: Path, positives) -> None:
    seqs, exclude = positives
    genome = Genome(varied_genome)
    calls: list[tuple[str, int, int | None]] = []
    bg = genomic_background(
        seqs, genome, exclude=exclude, fold=2, seed=3, progress=lambda *a: calls.append(a)
    )
    iv = bg.intervals
    assert bg.n_unmatched == 0
    assert len(iv) == len(bg.sequences) == 2 * len(seqs)
    assert list(iv.columns)[:7] == [
        "chrom",
        "start",
        "end",
        "name",
        "gc",
        "repeat_fraction",
        "matched_to",
    ]
    # fold respected, each negative has its positive's length and bins
    assert (iv["matched_to"].value_counts() == 2).all()
    pos = sequence_stats(seqs)
    neg = sequence_stats(bg.sequences)
    matched = iv["matched_to"].to_numpy()
    np.testing.assert_array_equal(neg["length"], pos["length"].to_numpy()[matched])
    np.testing.assert_array_equal(iv["end"] - iv["start"], neg["length"])
    gc_bin = lambda x: np.minimum((x * 20).astype(int), 19)  # noqa: E731
    rep_bin = lambda x: np.minimum((x * 5).astype(int), 4)  # noqa: E731
    np.testing.assert_array_equal(gc_bin(neg["gc"]), gc_bin(pos["gc"].to_numpy()[matched]))
    np.testing.assert_array_equal(
        rep_bin(neg["repeat_fraction"]), rep_bin(pos["repeat_fraction"].to_numpy()[matched])
    )
    assert abs(neg["gc"].mean() - pos["gc"].mean()) < 0.01
    np.testing.assert_allclose(iv["gc"], neg["gc"])
    # sequences are the genome's windows, case preserved; no duplicates
    for row, s in zip(iv.itertuples(), bg.sequences, strict=True):
        assert genome.fetch(row.chrom, row.start, row.end) == s
    assert not iv.duplicated(["chrom", "start", "end"]).any()
    assert iv["name"].tolist() == [
        f"{c}:{s}-{e}" for c, s, e in zip(iv.chrom, iv.start, iv.end, strict=True)
    ]
    # N-rich windows dropped
    assert (neg["n_fraction"] <= 0.01).all()
    a, b = N_SPRINKLED
    assert not ((iv["chrom"] == "chr1") & (iv["start"] >= a) & (iv["end"] <= b)).any()
    # no overlap with the excluded intervals +- 1000 bp
    for row in iv.itertuples():
        ex = exclude[exclude["chrom"] == row.chrom]
        assert not ((ex["start"] - 1000 < row.end) & (row.start < ex["end"] + 1000)).any()
    # qc table: one row per sequence, usable for the plot and a summary
    qc = bg.qc
    assert (qc["set"] == "positive").sum() == len(seqs)
    assert (qc["set"] == "negative").sum() == len(iv)
    assert qc["exact"].all()
    # progress reported up to the total
    assert calls[0] == ("genomic background", 0, 2 * len(seqs))
    assert calls[-1] == ("genomic background", 2 * len(seqs), 2 * len(seqs))
    # reproducible
    again = genomic_background(seqs, genome, exclude=exclude, fold=2, seed=3)
    pd.testing.assert_frame_equal(again.intervals, iv)
    other = genomic_background(seqs, genome, exclude=exclude, fold=2, seed=4)
    assert not other.intervals["start"].equals(iv["start"])


def test_window_fetch_path_gives_the_same_result(
    varied_genome: Path, positives, monkeypatch: pytest.MonkeyPatch
) -> None:
    seqs, exclude = positives
    genome = Genome(varied_genome)
    kwargs = dict(exclude=exclude, fold=1, seed=9, batch=1_500, max_tries=3)
    cached = genomic_background(seqs[:20], genome, **kwargs)
    monkeypatch.setattr(negative_windows, "_CACHE_GENOME_MAX", 0)  # human-sized: window by window
    fetched = genomic_background(seqs[:20], genome, **kwargs)
    pd.testing.assert_frame_equal(cached.intervals, fetched.intervals)
    assert cached.sequences == fetched.sequences


def test_unmatched_positive_filled_from_nearest_bin(
    varied_genome: Path, caplog: pytest.LogCaptureFixture
) -> None:
    genome = Genome(varied_genome)
    seqs = [genome.fetch("chr2", 5_000, 5_201), "GC" * 100 + "G"]  # GC 1.0: no such window
    bg = genomic_background(seqs, genome, fold=2, seed=1, batch=2_000, max_tries=2)
    assert bg.n_unmatched == 1
    iv = bg.intervals
    assert len(iv) == 4 and (iv["end"] - iv["start"] == 201).all()
    assert iv["exact"].tolist() == [True, True, False, False]
    assert (iv.loc[iv["matched_to"] == 1, "gc"] > 0.6).all()  # the nearest bins are GC-rich
    assert bg.qc.loc[bg.qc["set"] == "positive", "exact"].tolist() == [True, False]
    assert "1 of 2 positives" in caplog.text


def test_positive_longer_than_every_chromosome(varied_genome: Path) -> None:
    bg = genomic_background(["A" * 300_000], Genome(varied_genome), max_tries=1, batch=10)
    assert bg.n_unmatched == 1 and len(bg.intervals) == 0 and bg.sequences == []


def test_background_rejects_bad_input(varied_genome: Path) -> None:
    genome = Genome(varied_genome)
    with pytest.raises(InputError, match="missing end"):
        genomic_background(
            ["ACGT"], genome, exclude=pd.DataFrame({"chrom": ["chr1"], "start": [0]})
        )
    with pytest.raises(InputError, match="record 2.*empty"):
        genomic_background(["ACGT", ""], genome)
    with pytest.raises(ConfigError, match="fold"):
        genomic_background(["ACGT"], genome, fold=0)
    with pytest.raises(ConfigError, match="max_n_fraction"):
        genomic_background(["ACGT"], genome, max_n_fraction=2.0)
    empty = genomic_background([], genome)
    assert empty.n_unmatched == 0 and empty.sequences == [] and len(empty.qc) == 0


# ------------------------------------------------------------------------------ QC figure


def test_plot_background_qc(tmp_path: Path) -> None:
    pos = sequence_stats(["ACGTGGCC", "acgtAATT", "GGGCCCAT"])
    neg = sequence_stats(["ACGTGGCA", "acgtAATA"])
    out = tmp_path / "figs" / "qc.png"
    plot_background_qc(pos, neg, out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plot_background_qc(pos, neg.iloc[:0], tmp_path / "figs" / "empty.svg")
    assert b"<svg" in (tmp_path / "figs" / "empty.svg").read_bytes()[:500]
    assert sorted(os.listdir(tmp_path / "figs")) == ["empty.svg", "qc.png"]  # no temp files
    with pytest.raises(InputError, match="repeat_fraction"):
        plot_background_qc(pos[["gc"]], neg, tmp_path / "bad.png")
    assert not (tmp_path / "bad.png").exists()
