"""Tests for cislearn.encode: round trips, reverse-complement symmetry, k-mers, composition."""

from __future__ import annotations

import doctest
import gzip
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import cislearn.encode as enc
from cislearn.encode import (
    KMER_SPECIAL,
    decode,
    from_codes,
    gc_content,
    kmer_token_names,
    kmer_tokens,
    kmer_vocab_size,
    one_hot,
    reverse_complement,
    soft_mask_fraction,
    to_codes,
)
from cislearn.errors import InputError

DATA = Path(__file__).parents[2] / "shared" / "data" / "ctcf_gm12878"
fast = settings(deadline=None, max_examples=60)  # first calls may load the numba cache

dna = st.text(alphabet="ACGTNacgtn", max_size=50)
batch = st.integers(0, 30).flatmap(
    lambda n: st.lists(st.text(alphabet="ACGTNacgtn", min_size=n, max_size=n), max_size=6)
)
n_values = st.sampled_from([0.25, 0.0])


def ref_codes(s: str) -> list[int]:
    return ["ACGT".index(ch) if ch in "ACGT" else 4 for ch in s.upper()]


def ref_one_hot(s: str, n_value: float) -> np.ndarray:
    table = np.vstack([np.eye(4), np.full(4, n_value)])
    return table[np.array(ref_codes(s), dtype=int)].T.reshape(4, len(s))


def ref_kmers(s: str, k: int, stride: int) -> list[int]:
    ids = []
    for start in range(0, len(s) - k + 1, stride):
        word = s[start : start + k].upper()
        if set(word) <= set("ACGT"):
            ids.append(len(KMER_SPECIAL) + int(word.translate(str.maketrans("ACGT", "0123")), 4))
        else:
            ids.append(KMER_SPECIAL["UNK"])
    return ids


@fast
@given(dna, n_values)
def test_one_hot_matches_reference_and_decodes(s: str, n_value: float) -> None:
    x = one_hot(s, n_value=n_value)
    assert x.shape == (4, len(s)) and x.dtype == np.float32
    np.testing.assert_array_equal(x, ref_one_hot(s, n_value))
    assert decode(x) == s.upper()
    sums = x.sum(axis=0)
    is_n = np.array([ch in "Nn" for ch in s], dtype=bool)
    np.testing.assert_allclose(sums, np.where(is_n, 4 * n_value, 1.0))


@fast
@given(batch, n_values)
def test_batch_equals_single(seqs: list[str], n_value: float) -> None:
    x = one_hot(seqs, n_value=n_value)
    length = len(seqs[0]) if seqs else 0
    assert x.shape == (len(seqs), 4, length)
    assert decode(x) == [s.upper() for s in seqs]
    codes = to_codes(seqs)
    np.testing.assert_array_equal(one_hot(codes, n_value=n_value), x)  # codes == strings
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(x[i], one_hot(s, n_value=n_value))
        np.testing.assert_array_equal(codes[i], to_codes(s))
        assert from_codes(codes[i]) == s.upper()
    np.testing.assert_array_equal(gc_content(seqs), [gc_content(s) for s in seqs])


@fast
@given(st.text(alphabet="ACGTNRYKMBVDHSWacgtnrykm-.", max_size=40))
def test_rc_string_involution_and_case(s: str) -> None:
    rc = reverse_complement(s)
    assert reverse_complement(rc) == s
    assert len(rc) == len(s)
    assert [ch.islower() for ch in rc] == [ch.islower() for ch in reversed(s)]


@fast
@given(batch)
def test_rc_commutes_with_encoding(seqs: list[str]) -> None:
    rcs = reverse_complement(seqs)
    assert reverse_complement(rcs) == seqs
    codes = to_codes(seqs)
    np.testing.assert_array_equal(reverse_complement(codes), to_codes(rcs))
    np.testing.assert_array_equal(reverse_complement(reverse_complement(codes)), codes)
    x = one_hot(seqs)
    np.testing.assert_array_equal(reverse_complement(x), one_hot(rcs))
    np.testing.assert_array_equal(reverse_complement(reverse_complement(x)), x)
    t = torch.from_numpy(x)
    np.testing.assert_array_equal(reverse_complement(t).numpy(), one_hot(rcs))
    assert torch.equal(reverse_complement(reverse_complement(t)), t)
    tc = torch.from_numpy(codes.astype(np.int64))
    np.testing.assert_array_equal(reverse_complement(tc).numpy(), to_codes(rcs))
    for s, r in zip(seqs, rcs, strict=True):
        np.testing.assert_array_equal(reverse_complement(one_hot(s)), one_hot(r))  # (4, L)
        np.testing.assert_array_equal(reverse_complement(torch.from_numpy(one_hot(s))), one_hot(r))


def test_rc_returns_new_arrays_and_rejects_bad_shapes() -> None:
    x = one_hot(["ACGT"])
    y = reverse_complement(x)
    y[:] = 7
    assert decode(x) == ["ACGT"]
    assert reverse_complement(np.array([[0, 4, 3]], dtype=np.int64)).dtype == np.int64
    with pytest.raises(InputError, match="4 channels"):
        reverse_complement(np.zeros((2, 3, 5), dtype=np.float32))
    with pytest.raises(InputError, match="0-4"):
        reverse_complement(np.array([0, 9]))
    with pytest.raises(InputError, match="expected str"):
        reverse_complement(["AC", 5])


@fast
@given(
    st.text(alphabet="ACGTNacgtn", min_size=1, max_size=40),
    st.integers(1, 6),
    st.integers(1, 4),
)
def test_kmer_tokens_match_slow_reference(s: str, k: int, stride: int) -> None:
    if len(s) < k:
        with pytest.raises(InputError, match="shorter than k"):
            kmer_tokens(s, k, stride=stride)
        return
    tokens = kmer_tokens(s, k, stride=stride)
    assert tokens.dtype == np.int64
    assert tokens.shape == ((len(s) - k) // stride + 1,)
    assert tokens.tolist() == ref_kmers(s, k, stride)
    np.testing.assert_array_equal(kmer_tokens([s, s.swapcase()], k, stride=stride)[1], tokens)
    np.testing.assert_array_equal(kmer_tokens(to_codes(s), k, stride=stride), tokens)
    assert tokens.max() < kmer_vocab_size(k)


def test_kmer_vocabulary() -> None:
    names = kmer_token_names(3)
    assert len(names) == kmer_vocab_size(3) == 68
    assert [names[i] for i in KMER_SPECIAL.values()] == ["[PAD]", "[UNK]", "[MASK]", "[CLS]"]
    tokens = kmer_tokens("ACGTTGCA", 3)
    assert [names[t] for t in tokens] == ["ACG", "CGT", "GTT", "TTG", "TGC", "GCA"]
    for bad in (0, 32, 2.0, True):
        with pytest.raises(InputError, match="k must be"):
            kmer_vocab_size(bad)
    with pytest.raises(InputError, match="stride"):
        kmer_tokens("ACGT", 2, stride=0)


@fast
@given(st.lists(st.text(alphabet="ACGTNacgtnX", max_size=30), max_size=8))
def test_composition_against_direct_count(seqs: list[str]) -> None:
    gc = gc_content(seqs)
    lower = soft_mask_fraction(seqs)
    assert gc.shape == lower.shape == (len(seqs),)
    for i, s in enumerate(seqs):
        up = s.upper()
        acgt = sum(up.count(b) for b in "ACGT")
        expect_gc = (up.count("G") + up.count("C")) / acgt if acgt else np.nan
        expect_lower = sum(ch.islower() for ch in s) / len(s) if s else np.nan
        np.testing.assert_allclose(gc[i], expect_gc)
        np.testing.assert_allclose(lower[i], expect_lower)
        if s:
            codes = to_codes(s)
            np.testing.assert_allclose(gc_content(codes), expect_gc)
    if seqs and len(set(map(len, seqs))) == 1:
        np.testing.assert_allclose(gc_content(to_codes(seqs)), gc)


@fast
@given(
    st.lists(st.text(alphabet="ACGTacgt", max_size=12), min_size=1, max_size=6), st.integers(0, 9)
)
def test_to_codes_centre_crop_and_pad(seqs: list[str], length: int) -> None:
    codes = to_codes(seqs, length=length)
    assert codes.shape == (len(seqs), length)
    for s, row in zip(seqs, codes, strict=True):
        d = len(s) - length
        if d >= 0:
            expect = ref_codes(s[d // 2 : d // 2 + length])
        else:
            left = -d // 2
            expect = [4] * left + ref_codes(s) + [4] * (-d - left)
        assert row.tolist() == expect


def test_dtypes_and_out() -> None:
    seqs = ["ACGTN", "nnaCG"]
    ref = one_hot(seqs)
    for dtype, n_value in [(np.float64, 0.25), (np.float16, 0.25), (np.uint8, 0.0), (bool, 0.0)]:
        x = one_hot(seqs, dtype=dtype, n_value=n_value)
        assert x.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(x.astype(np.float32), np.where(ref == 0.25, n_value, ref))
    out = np.full((2, 4, 5), 9.0, dtype=np.float32)
    assert one_hot(seqs, out=out) is out
    np.testing.assert_array_equal(out, ref)
    with pytest.raises(InputError, match="shape"):
        one_hot(seqs, out=np.empty((2, 5, 4), dtype=np.float32))
    with pytest.raises(InputError, match="dtype"):
        one_hot(seqs, out=np.empty((2, 4, 5), dtype=np.float64))
    with pytest.raises(InputError, match="C-contiguous"):
        one_hot(seqs, out=np.empty((2, 4, 10), dtype=np.float32)[:, :, ::2])
    with pytest.raises(InputError, match="n_value"):
        one_hot(seqs, dtype=np.int8)


def test_chunked_threaded_path(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(1)
    codes = rng.integers(0, 5, size=(301, 23)).astype(np.uint8)
    seqs = from_codes(codes)
    single_chunk = one_hot(seqs)
    monkeypatch.setattr(enc, "_CHUNK_BASES", 50)  # two rows per chunk: many chunks, threads
    np.testing.assert_array_equal(one_hot(seqs), single_chunk)
    np.testing.assert_array_equal(one_hot(codes), single_chunk)
    np.testing.assert_array_equal(single_chunk, np.stack([ref_one_hot(s, 0.25) for s in seqs]))
    seqs[250] = seqs[250][:-1]
    with pytest.raises(InputError, match="sequence 250 has 22 bp"):
        one_hot(seqs)


def test_bad_input_messages() -> None:
    with pytest.raises(InputError, match="sequence 0 has 3 bp, sequence 2 has 2 bp"):
        one_hot(["ACG", "TTT", "AC"])
    with pytest.raises(InputError, match="sequence 1 is int"):
        to_codes(["AC", 3])
    with pytest.raises(InputError, match="bytes"):
        one_hot(b"ACGT")
    with pytest.raises(InputError, match="got float"):
        gc_content(1.5)
    with pytest.raises(InputError, match="0-4"):
        one_hot(np.array([[0, 1, 7]], dtype=np.uint8))
    with pytest.raises(InputError, match="shape"):
        decode(np.zeros((3, 5)))
    assert to_codes("AßC").tolist() == [0, 4, 1]  # non-ASCII letters are N, length kept


def test_newlines_inside_strings() -> None:
    # lengths 5, 0, 1 joined with a newline after each look like three rows of 2 + newline
    for encode in (one_hot, to_codes):
        with pytest.raises(InputError, match="sequence 0 has 5 bp, sequence 1 has 0 bp"):
            encode(["AC\nGT", "", "A"])
    equal = ["A\nC", "GGT"]
    assert decode(one_hot(equal)) == from_codes(to_codes(equal)) == ["ANC", "GGT"]


def test_real_ctcf_peaks_round_trip() -> None:
    with gzip.open(DATA / "pos.fa.gz", "rt") as fh:  # wrapped FASTA; no header in sequences
        seqs = [rec.split("\n", 1)[1].replace("\n", "") for rec in fh.read().split(">")[1:]]
    assert len(seqs) == 4000
    x = one_hot(seqs)
    assert x.shape == (4000, 4, 201)
    assert decode(x) == seqs
    np.testing.assert_allclose(gc_content(x.argmax(axis=1).astype(np.uint8)), gc_content(seqs))
    np.testing.assert_array_equal(reverse_complement(x), one_hot(reverse_complement(seqs)))


def test_docstring_examples() -> None:
    result = doctest.testmod(enc, optionflags=doctest.ELLIPSIS)
    assert result.attempted > 5 and result.failed == 0


def test_import_does_not_load_torch() -> None:
    code = "import sys, cislearn.encode; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0
