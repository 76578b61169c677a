"""Tests for cislearn.io.fasta: streaming reader, writer, DeepBIO format, error messages."""

from __future__ import annotations

import gzip
import time
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cislearn.errors import InputError
from cislearn.io import fasta
from cislearn.io.fasta import (
    DeepBioRecord,
    FastaRecord,
    is_deepbio_header,
    read_deepbio_fasta,
    read_fasta,
    write_deepbio_fasta,
    write_fasta,
)
from cislearn.types import SPLITS

CTCF = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctcf_gm12878"
ID_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.:-"

ids_st = st.lists(st.text(ID_CHARS, min_size=1, max_size=10), min_size=1, max_size=12, unique=True)
seq_st = st.text("ACGTNacgtn", min_size=1, max_size=250)
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(path: Path, text: str, *, compress: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _errors(path: Path, **kwargs) -> tuple[list[FastaRecord], list[str]]:
    problems: list[InputError] = []
    records = list(read_fasta(path, on_error=problems.append, **kwargs))
    return records, [str(p) for p in problems]


# --- round trips ---------------------------------------------------------------------------


@FAST
@given(
    data=st.data(),
    ids=ids_st,
    width=st.one_of(st.none(), st.integers(1, 90)),
    newline=st.sampled_from(["\n", "\r\n"]),
    blank_lines=st.booleans(),
    compress=st.booleans(),
    final_newline=st.booleans(),
    block=st.sampled_from([3, 17, 64, 1 << 20]),
)
def test_random_files_read_back_identical(
    tmp_path_factory, data, ids, width, newline, blank_lines, compress, final_newline, block
):
    seqs = [data.draw(seq_st) for _ in ids]
    lines: list[str] = []
    header_lines: list[int] = []
    for i, (rid, seq) in enumerate(zip(ids, seqs, strict=True)):
        header_lines.append(len(lines) + 1)
        lines.append(f">{rid} record {i}")
        chunks = [seq] if width is None else [seq[j : j + width] for j in range(0, len(seq), width)]
        lines.extend(chunks)
        if blank_lines:
            lines.append("")
    text = newline.join(lines) + (newline if final_newline else "")
    path = _write(tmp_path_factory.mktemp("fa") / "x.fa", text, compress=compress)
    # A tiny block size exercises records split across read blocks.
    with mock.patch.object(fasta, "_BLOCK", block):
        records = list(read_fasta(path))
    assert [r.id for r in records] == ids
    assert [r.sequence for r in records] == seqs
    assert [r.description for r in records] == [f"{rid} record {i}" for i, rid in enumerate(ids)]
    assert [r.line for r in records] == header_lines
    assert [r.index for r in records] == list(range(1, len(ids) + 1))


@FAST
@given(ids=ids_st, data=st.data(), width=st.one_of(st.none(), st.integers(1, 70)))
def test_write_then_read_is_identity(tmp_path_factory, ids, data, width):
    seqs = [data.draw(seq_st) for _ in ids]
    path = tmp_path_factory.mktemp("w") / "out.fa.gz"
    assert write_fasta(path, zip(ids, seqs, strict=True), line_width=width) == len(ids)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    back = list(read_fasta(path))
    assert [(r.id, r.sequence) for r in back] == list(zip(ids, seqs, strict=True))


@FAST
@given(
    data=st.data(),
    ids=ids_st,
    width=st.integers(1, 40),
    newline=st.sampled_from(["\n", "\r\n"]),
    bad=st.sampled_from(list("XZ*1-.xu")),
)
def test_bad_letter_reports_its_record_and_line(tmp_path_factory, data, ids, width, newline, bad):
    seqs = [data.draw(st.text("ACGT", min_size=1, max_size=120)) for _ in ids]
    target = data.draw(st.integers(0, len(ids) - 1))
    pos = data.draw(st.integers(0, len(seqs[target]) - 1))
    seqs[target] = seqs[target][:pos] + bad + seqs[target][pos + 1 :]
    lines: list[str] = []
    expected_line = 0
    for i, (rid, seq) in enumerate(zip(ids, seqs, strict=True)):
        lines.append(f">{rid}")
        chunks = [seq[j : j + width] for j in range(0, len(seq), width)]
        if i == target:
            expected_line = len(lines) + 1 + pos // width
        lines.extend(chunks)
    path = _write(tmp_path_factory.mktemp("bad") / "b.fa", newline.join(lines) + newline)
    with pytest.raises(InputError) as err:
        list(read_fasta(path))
    exc = err.value
    assert (exc.record, exc.record_id, exc.line) == (target + 1, ids[target], expected_line)
    assert f"unexpected character {bad!r}" in str(exc)
    assert "\n" not in str(exc)


@given(st.text("ACGTNacgtnRYSWKMBDHVryswkmbdhv", min_size=1, max_size=200))
@settings(max_examples=50, deadline=None)
def test_iupac_to_n_keeps_case_and_other_letters(seq):
    text, problem = fasta.check_dna(seq, iupac_to_n=True)
    assert problem is None
    assert len(text) == len(seq)
    for a, b in zip(seq, text, strict=True):
        if a in "RYSWKMBDHV":
            assert b == "N"
        elif a in "ryswkmbdhv":
            assert b == "n"
        else:
            assert a == b


def test_iupac_file_needs_the_flag(tmp_path):
    path = _write(tmp_path / "i.fa", ">s1\nACRY\nswKM\n")
    with pytest.raises(InputError, match=r"unexpected character 'R'.*--iupac-to-n"):
        list(read_fasta(path))
    (rec,) = read_fasta(path, iupac_to_n=True)
    assert rec.sequence == "ACNNnnNN"


# --- DeepBIO ---------------------------------------------------------------------------------


@FAST
@given(
    ids=st.lists(st.text(ID_CHARS, min_size=1, max_size=8), min_size=1, max_size=10, unique=True),
    data=st.data(),
)
def test_deepbio_round_trip(tmp_path_factory, ids, data):
    labels = [data.draw(st.integers(-3, 20)) for _ in ids]
    splits = [data.draw(st.sampled_from(SPLITS)) for _ in ids]
    seqs = [data.draw(seq_st) for _ in ids]
    path = tmp_path_factory.mktemp("d") / "d.fa"
    assert write_deepbio_fasta(path, ids, labels, splits, seqs) == len(ids)
    words = {"train": "training", "test": "testing", "valid": "validation"}
    headers = [line for line in path.read_text().splitlines() if line.startswith(">")]
    assert headers == [
        f">{i}|{lab}|{words[s]}" for i, lab, s in zip(ids, labels, splits, strict=True)
    ]
    assert all(is_deepbio_header(h[1:]) for h in headers)
    back = list(read_deepbio_fasta(path))
    assert [(r.id, r.label, r.split, r.sequence) for r in back] == list(
        zip(ids, labels, splits, seqs, strict=True)
    )


def test_deepbio_reader_maps_split_words(tmp_path):
    path = _write(
        tmp_path / "d.fa",
        ">a|1|training\nACGT\n>b|0|testing\nAC\n>c|1|validation\nGG\n>d|0|Train\nTT\n",
    )
    recs = list(read_deepbio_fasta(path))
    assert recs[0] == DeepBioRecord("a", 1, "train", "ACGT", 1, 1)
    assert [r.split for r in recs] == ["train", "test", "valid", "train"]


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ("b|pos|training", "label 'pos' is not an integer"),
        ("b|1|holdout", "unknown split 'holdout'; allowed: training, testing, validation"),
        ("b|1", "has 2 '|'-separated fields, expected 3"),
        ("b|1|training|x", "has 4 '|'-separated fields"),
        ("a|0|testing", 'duplicate id "a" (first seen at line 1)'),
    ],
)
def test_deepbio_errors(tmp_path, header, message):
    path = _write(tmp_path / "d.fa", f">a|1|training\nACGT\n>{header}\nACGT\n")
    with pytest.raises(InputError, match="line 3") as err:
        list(read_deepbio_fasta(path))
    assert message in str(err.value)


def test_is_deepbio_header():
    assert is_deepbio_header("seq1|1|training")
    assert is_deepbio_header("seq1|0|testing")
    assert is_deepbio_header("seq1|-1|validation")
    assert not is_deepbio_header("seq1")
    assert not is_deepbio_header("sp|P12345|NAME_HUMAN")
    assert not is_deepbio_header("seq1|x|training")
    assert not is_deepbio_header("|1|training")


def test_write_deepbio_rejects_bad_input(tmp_path):
    with pytest.raises(ValueError, match="differ in length"):
        write_deepbio_fasta(tmp_path / "x.fa", ["a"], [1, 0], ["train"], ["AC"])
    with pytest.raises(ValueError, match="'|'"):
        write_deepbio_fasta(tmp_path / "x.fa", ["a|b"], [1], ["train"], ["AC"])
    with pytest.raises(ValueError, match="unknown split"):
        write_deepbio_fasta(tmp_path / "x.fa", ["a"], [1], ["dev"], ["AC"])
    assert not (tmp_path / "x.fa").exists()


# --- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("\n  \n\n", "file is empty (only blank lines)"),
        ("notes\n>s1\nACGT\n", "line 1: text before the first '>' header"),
        (">s1\nACGT\n>s2\n>s3\nAC\n", 'record 2 ("s2"), line 3: header has no sequence lines'),
        (">s1\nACGT\n>\nAC\n", "record 2, line 3: empty id in header"),
        (">s1\nACGT\n> s2\nAC\n", "record 2, line 3: empty id in header"),
        (">s1\nACGT\n>s2\nAA\n>s1\nCC\n", 'line 5: duplicate id "s1" (first seen at line 1)'),
        (">s1\nAC\n>s2\nACGTX\n", "line 4: unexpected character 'X'; allowed: A C G T N"),
        (">s1\r\nAC\r\n\r\n>s2\r\nAC\r\nA7\r\n", "line 6: unexpected character '7'"),
    ],
)
def test_errors_name_file_and_line(tmp_path, content, message):
    path = _write(tmp_path / "e.fa", content)
    with pytest.raises(InputError) as err:
        list(read_fasta(path))
    text = str(err.value)
    assert text.startswith(str(path))
    assert message in text
    assert "\n" not in text


def test_duplicate_ids_are_found_across_read_blocks(tmp_path):
    body = "".join(f">r{i}\n{'ACGT' * 10}\n" for i in range(200)) + ">r3\nAC\n"
    path = _write(tmp_path / "d.fa", body)
    with mock.patch.object(fasta, "_BLOCK", 100), pytest.raises(InputError) as err:
        list(read_fasta(path))
    assert 'duplicate id "r3" (first seen at line 7)' in str(err.value)
    assert err.value.line == 401


def test_on_error_collects_every_problem_and_keeps_reading(tmp_path):
    path = _write(
        tmp_path / "m.fa",
        ">a\nACGT\n>b\nAXGT\n>c\nACGT\n>\nAC\n>a\nGG\n>d\n>e\nAC*T\n>f\nTTTT\n",
    )
    records, problems = _errors(path)
    assert [r.id for r in records] == ["a", "c", "f"]
    assert [r.index for r in records] == [1, 3, 8]
    assert len(problems) == 5
    joined = "\n".join(problems)
    expected = [
        "line 4: unexpected character 'X'",
        "line 7: empty id",
        'duplicate id "a"',
        "line 11: header has no sequence",
        "line 13: unexpected character '*'",
    ]
    for part in expected:
        assert part in joined


def test_binary_garbage_is_one_clean_error(tmp_path):
    path = tmp_path / "g.fa"
    path.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(InputError, match="binary data"):
        list(read_fasta(path))


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "u.fa"
    path.write_bytes(b">s1\nACGT\n>s2 caf\xe9\nACGT\n")
    with pytest.raises(InputError, match=r"line 3: not valid UTF-8 text \(byte 0xe9"):
        list(read_fasta(path))


def test_truncated_gzip_is_a_clean_error(tmp_path):
    text = "".join(f">r{i}\n{'ACGTTGCA' * 20}\n" for i in range(2000)).encode()
    data = gzip.compress(text)
    path = tmp_path / "t.fa.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="gzip data is truncated"):
        list(read_fasta(path))
    problems: list[InputError] = []
    list(read_fasta(path, on_error=problems.append))
    assert len(problems) == 1


def test_gz_name_without_gzip_content_is_an_error_and_gzip_without_suffix_is_read(tmp_path):
    fake = _write(tmp_path / "x.fa.gz", ">s1\nACGT\n")
    with pytest.raises(InputError, match="not gzip data"):
        list(read_fasta(fake))
    real = _write(tmp_path / "x.fa", ">s1\nACGT\n", compress=True)
    assert [r.sequence for r in read_fasta(real)] == ["ACGT"]


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="file not found"):
        list(read_fasta(tmp_path / "nope.fa"))


def test_soft_masking_and_description_are_kept(tmp_path):
    path = _write(tmp_path / "s.fa", ">chr1_5 peak=3  score=2 \nACgtNN\nnnAC\n")
    (rec,) = read_fasta(path)
    assert rec == FastaRecord("chr1_5", "chr1_5 peak=3  score=2", "ACgtNNnnAC", 1, 1)


def test_write_fasta_validates_and_wraps(tmp_path):
    path = tmp_path / "o.fa"
    assert write_fasta(path, [("a desc", "ACGTACGTA")], line_width=4) == 1
    assert path.read_text() == ">a desc\nACGT\nACGT\nA\n"
    with pytest.raises(ValueError, match="invalid FASTA header"):
        write_fasta(path, [("bad\nheader", "AC")])
    with pytest.raises(ValueError, match="line_width"):
        write_fasta(path, [("a", "AC")], line_width=0)
    assert path.read_text() == ">a desc\nACGT\nACGT\nA\n"  # failed writes leave it untouched


# --- real data -----------------------------------------------------------------------------


def test_real_positives_read_fast():
    path = CTCF / "pos.fa.gz"
    records = list(read_fasta(path))
    assert len(records) == 4000
    assert {len(r.sequence) for r in records} == {201}
    assert records[0].id == "chr14_1" and records[0].line == 1
    assert records[-1].index == 4000

    def best(fn, repeat=3):
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        return min(times)

    # Measured side by side: the reader costs a few times a bare gzip read + line split
    # (~4x on an idle machine); 0.1 s is the brief's budget, kept loose for noisy CI.
    reader = best(lambda: list(read_fasta(path)))
    baseline = best(lambda: gzip.open(path, "rt").read().split("\n"))
    assert reader < 12 * baseline + 0.02, (reader, baseline)
    assert reader < 0.25
