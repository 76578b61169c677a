"""Tests of cislearn.features: composition frequencies against a direct count."""

from __future__ import annotations

from collections import Counter
from itertools import product

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from cislearn import features
from cislearn.errors import InputError
from cislearn.features import FeatureMatrix, composition, concat, kmer_names

DNA = st.text(alphabet="ACGTNacgtnRY", min_size=0, max_size=40)


def direct(seq: str, k: int) -> np.ndarray:
    """Reference: frequencies of every ACGT k-mer by counting substrings one by one."""
    seq = seq.upper()
    windows = [seq[i : i + k] for i in range(len(seq) - k + 1)]
    valid = Counter(w for w in windows if set(w) <= set("ACGT"))
    total = sum(valid.values())
    kmers = ["".join(p) for p in product("ACGT", repeat=k)]
    return np.array([valid[m] / total if total else 0.0 for m in kmers])


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(DNA, min_size=1, max_size=8), orders=st.sampled_from([(1,), (1, 2), (3, 1)]))
def test_composition_matches_direct_count(seqs: list[str], orders: tuple[int, ...]) -> None:
    fm = composition(seqs, orders=orders)
    expected = np.array([np.concatenate([direct(s, k) for k in orders]) for s in seqs])
    assert fm.values.dtype == np.float32
    assert fm.values.shape == (len(seqs), sum(4**k for k in orders))
    np.testing.assert_allclose(fm.values, expected, atol=1e-6)
    assert fm.names == [m for k in orders for m in kmer_names(k)]


def test_names_and_block_sums() -> None:
    fm = composition(["ACGTTGCA" * 5, "AAAA", "NNNN", ""], orders=(1, 2, 3))
    assert fm.names[:6] == ["A", "C", "G", "T", "AA", "AC"]
    assert fm.names[-1] == "TTT" and len(fm.names) == 4 + 16 + 64
    sums = [fm.values[:, :4].sum(1), fm.values[:, 4:20].sum(1), fm.values[:, 20:].sum(1)]
    np.testing.assert_allclose(sums[0], [1, 1, 0, 0], atol=1e-6)  # no valid base: all zeros
    np.testing.assert_allclose(sums[1], [1, 1, 0, 0], atol=1e-6)
    assert fm.values[1, fm.names.index("AA")] == 1.0
    frame = fm.to_frame(index=["a", "b", "c", "d"])
    assert list(frame.columns) == fm.names and frame.loc["b", "AAA"] == 1.0


def test_chunked_equals_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGTN"), size=rng.integers(0, 60))) for _ in range(50)]
    whole = composition(seqs, orders=(1, 2))
    monkeypatch.setattr(features, "_CHUNK_BASES", 70)  # forces many small chunks
    np.testing.assert_array_equal(composition(seqs, orders=(1, 2)).values, whole.values)


def test_no_kmer_spans_two_sequences() -> None:
    # "A" then "C": a joined string would contain the dinucleotide AC
    fm = composition(["A", "C"], orders=(2,))
    assert fm.values.sum() == 0


@pytest.mark.parametrize("orders", [(), (0,), (7,), (1, 1), (1.5,), (True,)])
def test_bad_orders(orders: tuple) -> None:
    with pytest.raises(InputError, match="orders"):
        composition(["ACGT"], orders=orders)


def test_bad_sequences() -> None:
    with pytest.raises(InputError, match="not one string"):
        composition("ACGT")
    with pytest.raises(InputError, match="sequence 1 is int"):
        composition(["ACGT", 5])


def test_concat() -> None:
    a = composition(["ACGT", "GGCC"], orders=(1,))
    b = FeatureMatrix(np.ones((2, 2), dtype=np.float32), ["x", "y"])
    both = concat([a, b])
    assert both.names == ["A", "C", "G", "T", "x", "y"] and both.shape == (2, 6)
    sparse = concat([a, FeatureMatrix(sp.csr_matrix(np.eye(2)), ["p", "q"])])
    assert sp.issparse(sparse.values) and sparse.values.toarray()[1, 5] == 1.0
    with pytest.raises(InputError, match='"A" appears twice'):
        concat([a, a])
    with pytest.raises(InputError, match="row count"):
        concat([a, FeatureMatrix(np.ones((3, 1)), ["z"])])


# -- k-mer and gapped k-mer counts ---------------------------------------------------------

from cislearn.encode import reverse_complement  # noqa: E402
from cislearn.features import gapped_kmer_counts, kmer_counts  # noqa: E402


def direct_counts(seq: str, k: int) -> Counter:
    seq = seq.upper()
    return Counter(
        w for w in (seq[i : i + k] for i in range(len(seq) - k + 1)) if set(w) <= set("ACGT")
    )


def direct_gapped(seq: str, k: int, max_gap: int) -> Counter:
    seq = seq.upper()
    out: Counter = Counter()
    for g in range(max_gap + 1):
        for i in range(len(seq) - 2 * k - g + 1):
            a, b = seq[i : i + k], seq[i + k + g : i + 2 * k + g]
            if set(a + b) <= set("ACGT"):
                out[a + "." * g + b] += 1
    return out


def as_dicts(fm: FeatureMatrix) -> list[dict[str, float]]:
    dense = fm.values.toarray()
    return [{fm.names[j]: v for j, v in enumerate(row) if v} for row in dense]


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(DNA, min_size=0, max_size=6), k=st.integers(1, 4))
def test_kmer_counts_match_direct_count(seqs: list[str], k: int) -> None:
    fm = kmer_counts(seqs, k=k)
    assert sp.issparse(fm.values) and fm.values.dtype == np.float32
    assert fm.shape == (len(seqs), 4**k) and fm.names == kmer_names(k)
    assert as_dicts(fm) == [dict(direct_counts(s, k)) for s in seqs]


@settings(max_examples=60, deadline=None)
@given(seqs=st.lists(DNA, min_size=1, max_size=6), k=st.integers(1, 3), gap=st.integers(0, 3))
def test_gapped_counts_match_direct_count(seqs: list[str], k: int, gap: int) -> None:
    fm = gapped_kmer_counts(seqs, k=k, max_gap=gap)
    assert fm.shape == (len(seqs), (gap + 1) * 4 ** (2 * k))
    assert len(set(fm.names)) == len(fm.names)
    assert as_dicts(fm) == [dict(direct_gapped(s, k, gap)) for s in seqs]


@settings(max_examples=40, deadline=None)
@given(seqs=st.lists(st.text(alphabet="ACGTN", max_size=30), min_size=1, max_size=5))
def test_rc_merge_is_strand_symmetric(seqs: list[str]) -> None:
    rcs = [reverse_complement(s) for s in seqs]
    for make in (
        lambda x, rc: kmer_counts(x, k=3, rc_merge=rc),
        lambda x, rc: gapped_kmer_counts(x, k=2, max_gap=2, rc_merge=rc),
    ):
        merged, merged_rc = make(seqs, True), make(rcs, True)
        # a sequence and its reverse complement have the same merged counts
        np.testing.assert_array_equal(merged.values.toarray(), merged_rc.values.toarray())
        # merging only folds columns: every window is still counted once
        np.testing.assert_array_equal(
            merged.values.sum(axis=1), make(seqs, False).values.sum(axis=1)
        )
        # each merged column is named by the alphabetically first of the word and its rc
        for name in merged.names[:50]:
            halves = name.replace(".", "")
            assert halves <= reverse_complement(halves) or "." in name


def test_rc_merge_column_counts_and_names() -> None:
    assert kmer_counts(["A"], k=6, rc_merge=True).shape == (1, (4**6 + 4**3) // 2)
    assert kmer_counts(["A"], k=5, rc_merge=True).shape == (1, 4**5 // 2)
    fm = kmer_counts(["CCCTC", "GAGGG"], k=5, rc_merge=True)
    col = fm.names.index("CCCTC")
    assert "GAGGG" not in fm.names and fm.values[:, col].toarray().ravel().tolist() == [1, 1]
    g = gapped_kmer_counts(["AAACCTTT"], k=3, max_gap=3)
    assert g.values[0, g.names.index("AAA..TTT")] == 1 and "AAA..AAA" in g.names


def test_sparse_counts_chunked_equal_single_pass(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    seqs = ["".join(rng.choice(list("ACGTN"), size=rng.integers(0, 40))) for _ in range(40)]
    whole = gapped_kmer_counts(seqs, k=2, max_gap=2).values.toarray()
    kmers = kmer_counts(seqs, k=4).values.toarray()
    monkeypatch.setattr(features, "_CHUNK_BASES", 50)
    np.testing.assert_array_equal(gapped_kmer_counts(seqs, k=2, max_gap=2).values.toarray(), whole)
    np.testing.assert_array_equal(kmer_counts(seqs, k=4).values.toarray(), kmers)


def test_no_gapped_pair_spans_two_sequences() -> None:
    assert gapped_kmer_counts(["AC", "GT"], k=1, max_gap=3).values.nnz == 2  # AC and GT only


@pytest.mark.parametrize(
    "call",
    [
        lambda: kmer_counts(["ACGT"], k=0),
        lambda: kmer_counts(["ACGT"], k=13),
        lambda: kmer_counts(["ACGT"], k=2.0),
        lambda: gapped_kmer_counts(["ACGT"], k=7),
        lambda: gapped_kmer_counts(["ACGT"], max_gap=-1),
        lambda: gapped_kmer_counts(["ACGT"], max_gap=True),
    ],
)
def test_bad_kmer_arguments(call) -> None:
    with pytest.raises(InputError, match="must be an int"):
        call()


# -- motif hit counts ----------------------------------------------------------------------

from cislearn.io.jaspar import load_jaspar  # noqa: E402
from cislearn.io.motifs import Motif, write_meme  # noqa: E402
from cislearn.motif_counts import motif_counts  # noqa: E402

CTCF_SITE = "CCACCAGGGGGCGC"  # consensus of MA0139.2 CTCF


def random_dna(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


@pytest.fixture(scope="module")
def ctcf_motif() -> list[Motif]:
    return load_jaspar(["MA0139.2"])


def test_motif_counts_find_implanted_sites(ctcf_motif) -> None:
    rng = np.random.default_rng(0)
    plain = [random_dna(rng, 60) for _ in range(20)]
    one = [s[:20] + CTCF_SITE + s[34:] for s in plain]
    two = [s[:5] + CTCF_SITE + s[19:30] + reverse_complement(CTCF_SITE) + s[44:] for s in plain]
    fm = motif_counts(plain + one + two, ctcf_motif)
    assert fm.names == ["MA0139.2 CTCF"] and sp.issparse(fm.values)
    counts = fm.values.toarray().ravel()
    assert (counts[20:40] >= 1).all() and (counts[40:] >= 2).all()
    assert counts[:20].mean() < 0.2
    fwd = motif_counts(one, ctcf_motif, both_strands=False).values.toarray().ravel()
    assert (fwd >= 1).all() and (counts[20:40] >= fwd).all()
    rc_only = motif_counts([reverse_complement(s) for s in one], ctcf_motif, both_strands=False)
    # the reverse complement of a forward site is found on the forward strand only when
    # scanning both strands
    both = motif_counts([reverse_complement(s) for s in one], ctcf_motif)
    assert (both.values.toarray() >= 1).all() and rc_only.values.sum() < both.values.sum()


def test_motif_counts_any_lengths_equal_per_length(ctcf_motif) -> None:
    rng = np.random.default_rng(1)
    seqs = [random_dna(rng, 10)[:3] + CTCF_SITE + random_dna(rng, n) for n in (0, 5, 30, 80)]
    seqs += ["ACG", "", random_dna(rng, 40)[:20] + CTCF_SITE[:10]]  # site cut by the end
    together = motif_counts(seqs, ctcf_motif, threshold=1e-3).values.toarray()
    alone = np.vstack(
        [motif_counts([s], ctcf_motif, threshold=1e-3).values.toarray() for s in seqs]
    )
    np.testing.assert_array_equal(together, alone)
    assert together[:4].min() >= 1 and together[4:6].sum() == 0


def test_motif_counts_from_file_and_errors(tmp_path, ctcf_motif) -> None:
    path = tmp_path / "m.meme"
    toy = Motif("toy", "GGGCGG", np.eye(4)[:, [2, 2, 2, 1, 2, 2]] * 10)
    write_meme(path, [toy, *ctcf_motif])
    # a perfect 6-mer match has p = 4**-6 = 2.4e-4: a hit at 1e-3, never at the default 1e-4
    assert motif_counts(["AAGGGCGGAA"], [toy]).values.sum() == 0
    fm = motif_counts(["AAGGGCGGAA", "AAAAAAAAAA"], path, threshold=1e-3)
    assert fm.names == ["toy GGGCGG", "MA0139.2 CTCF"]
    assert fm.values.toarray()[:, 0].tolist() == [1.0, 0.0]
    with pytest.raises(InputError, match="appears twice"):
        motif_counts(["ACGT"], [toy, toy])
    with pytest.raises(InputError, match="threshold"):
        motif_counts(["ACGT"], [toy], threshold=2.0)
    with pytest.raises(InputError, match="no motifs"):
        motif_counts(["ACGT"], [])
    empty = motif_counts([], [toy])
    assert empty.shape == (0, 1)
