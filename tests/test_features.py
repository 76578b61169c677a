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
