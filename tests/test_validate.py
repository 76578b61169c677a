"""Tests for cislearn.validate (``cislearn check``) and io.formats, over the bad-input corpus."""

from __future__ import annotations

import csv
import gzip
import json
import shlex
import time
from pathlib import Path

import pytest

from cislearn.errors import InputError
from cislearn.io.formats import detect_format, open_text
from cislearn.io.genome import Genome
from cislearn.validate import MAX_PROBLEMS, CheckReport, check_file, format_report

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
CTCF = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
MANIFEST = list(
    csv.DictReader(
        (DATA / "bad" / "EXPECTED.tsv").open(encoding="utf-8"),
        delimiter="\t",
        quoting=csv.QUOTE_NONE,
    )
)
GOOD = sorted((DATA / "good").iterdir())


@pytest.fixture(scope="module")
def tiny_genome():
    with Genome(DATA / "tiny_genome.fa") as genome:
        yield genome


def _options(args: str, genome: Genome) -> dict:
    """Map the manifest's CLI arguments onto check_file keywords."""
    words = shlex.split(args)
    options: dict = {}
    while words:
        word = words.pop(0)
        if word == "--genome":
            assert ROOT / words.pop(0) == DATA / "tiny_genome.fa"
            options["genome"] = genome
        elif word == "--fixed-length":
            options["fixed_length"] = True
        elif word == "--iupac-to-n":
            options["iupac_to_n"] = True
        else:
            raise AssertionError(f"unknown argument in EXPECTED.tsv: {word}")
    return options


def test_manifest_covers_the_corpus():
    files = {row["file"] for row in MANIFEST}
    on_disk = {p.name for p in (DATA / "bad").iterdir()} - {"EXPECTED.tsv"}
    assert files == on_disk
    assert len(files) >= 28
    assert all(row["expect"] for row in MANIFEST)


@pytest.mark.parametrize("row", MANIFEST, ids=[row["file"] for row in MANIFEST])
def test_bad_file_is_reported(row, tiny_genome):
    path = DATA / "bad" / row["file"]
    report = check_file(path, **_options(row["args"], tiny_genome))
    assert isinstance(report, CheckReport)
    assert not report.ok
    assert report.problems
    assert any(row["expect"] in p for p in report.problems), report.problems
    # The first problem is the CLI's one-line error: it must be the expected one.
    assert row["expect"] in report.problems[0], report.problems
    assert all("\n" not in p and p.startswith(str(path)) for p in report.problems)
    json.dumps(report.summary)
    assert str(path) in format_report(report)


@pytest.mark.parametrize("path", GOOD, ids=[p.name for p in GOOD])
def test_good_file_checks_clean(path, tiny_genome):
    for genome in (None, tiny_genome):
        report = check_file(path, genome=genome)
        assert report.ok and report.problems == [], report.problems
        assert report.n_records > 0
        json.dumps(report.summary)
        assert "OK" in format_report(report).splitlines()[0]


def test_good_formats_are_detected():
    expected = {
        "bed3.bed.gz": "bed",
        "deepbio.fa": "deepbio",
        "gzip_without_suffix.fa": "fasta",
        "peaks.bed": "bed",
        "peaks.narrowPeak": "narrowpeak",
        "plain.fa": "fasta",
        "table.csv": "table",
        "table.tsv": "table",
        "wrapped_crlf.fa.gz": "fasta",
    }
    assert {p.name: detect_format(p) for p in GOOD} == expected


def test_summary_of_a_deepbio_file():
    report = check_file(DATA / "good" / "deepbio.fa", fixed_length=True)
    s = report.summary
    assert report.format == "deepbio" and report.n_records == 8
    assert s["labels"] == {"label": {"0": 4, "1": 4}}
    assert s["splits"] == {"train": 4, "test": 2, "valid": 2}
    assert s["length"] == {"min": 40, "median": 40, "max": 40}
    assert 0.2 < s["gc_mean"] < 0.8


def test_summary_counts_composition_and_duplicates(tmp_path):
    path = tmp_path / "c.fa"
    path.write_text(">a\nGGCCnnnnAT\n>b\nGGCCNNNNAT\n>c\nAAAA\n>a\nCC\n")
    report = check_file(path)
    s = report.summary
    assert report.n_records == 4 and len(report.problems) == 1
    assert s["duplicate_ids"] == 1
    assert s["duplicate_sequences"] == 1  # a and b differ only by soft-masking
    assert s["n_fraction"] == pytest.approx(8 / 24, abs=1e-5)
    assert s["softmasked_fraction"] == pytest.approx(4 / 24, abs=1e-5)
    assert s["gc_mean"] == pytest.approx((4 / 6 + 4 / 6 + 0) / 3, abs=1e-4)
    assert s["length"] == {"min": 4, "median": 10, "max": 10}


def test_bed_summary(tiny_genome):
    report = check_file(DATA / "good" / "peaks.narrowPeak", genome=tiny_genome)
    s = report.summary
    assert s["intervals"] == 3 and s["per_chromosome"] == {"chr1": 2, "chr2": 1}
    assert s["width"] == {"min": 300, "median": 300, "max": 300}
    assert s["has_summits"] is True


def test_problems_are_capped_and_sorted(tmp_path):
    path = tmp_path / "many.fa"
    path.write_text("".join(f">s{i}\nACXT\n" for i in range(120)))
    report = check_file(path)
    assert report.n_records == 120
    assert len(report.problems) == MAX_PROBLEMS + 1
    assert report.problems[-1] == f"… and {120 - MAX_PROBLEMS} more problems"
    lines = [int(p.split("line ")[1].split(":")[0]) for p in report.problems[:-1]]
    assert lines == sorted(lines) and lines[0] == 2
    text = format_report(report)
    assert text.splitlines()[0].endswith("120 problems")


def test_ragged_lengths_only_with_fixed_length(tmp_path):
    path = tmp_path / "r.tsv"
    path.write_text("id\tsequence\ty\na\tACGT\t1\nb\tACGT\t0\nc\tAC\t1\nd\tA\t0\n")
    assert check_file(path).ok
    report = check_file(path, fixed_length=True)
    (problem,) = report.problems
    assert 'record "c": ragged lengths: 2 bp, but record "a" has 4 bp' in problem
    assert "(2 of 4 records differ)" in problem


def test_unreadable_file_gives_one_problem(tmp_path):
    report = check_file(tmp_path / "missing.fa")
    assert report.format == "unknown" and report.problems == [
        f"{tmp_path / 'missing.fa'}: file not found"
    ]
    assert "unknown format" in format_report(report)


def test_real_positives_check_quickly():
    path = CTCF / "pos.fa.gz"
    times = []
    for _ in range(2):
        start = time.perf_counter()
        report = check_file(path)
        times.append(time.perf_counter() - start)
    assert report.ok and report.format == "fasta" and report.n_records == 4000
    assert report.summary["length"] == {"min": 201, "median": 201, "max": 201}
    assert report.summary["duplicate_ids"] == 0
    assert min(times) < 0.5, times
    first = format_report(report).splitlines()
    assert first[0].endswith("FASTA, 4,000 records, OK")
    assert "201 bp (all equal)" in first[1]


def test_real_narrowpeak_checks_clean():
    report = check_file(CTCF / "peaks.narrowPeak.gz")
    assert report.ok and report.format == "narrowpeak" and report.n_records == 44_982
    assert report.summary["has_summits"]


# --- io.formats ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "content", "expected"),
    [
        ("x.txt", ">a\nACGT\n", "fasta"),
        ("x.dat", ">a|1|training\nACGT\n", "deepbio"),
        ("x.fa", ">sp|P12345|KIN\nACGT\n", "fasta"),
        ("x.dat", "# note\nid,Sequence,y\na,AC,1\n", "table"),
        ("x.dat", "track name=t\nchr1\t1\t5\n", "bed"),
        ("x.dat", "chr1 1 5\n", "bed"),
        ("x.dat", "chr1\t1\t5\t.\t0\t.\t1\t-1\t-1\t2\n", "narrowpeak"),
        ("x.narrowPeak", "chr1\t1\t5\n", "narrowpeak"),
        ("x.bed", "chr1\tone\t5\n", "bed"),
        ("x.tsv", "a\tb\n", "table"),
    ],
)
def test_detect_format(tmp_path, name, content, expected):
    path = tmp_path / name
    path.write_text(content)
    assert detect_format(path) == expected
    gz = tmp_path / f"{name}.gz"
    gz.write_bytes(gzip.compress(content.encode()))
    assert detect_format(gz) == expected


def test_detect_format_rejects_unknown_content(tmp_path):
    path = tmp_path / "x.dat"
    path.write_text("hello\n")
    with pytest.raises(InputError, match="cannot tell the format: the first line is 'hello'"):
        detect_format(path)


def test_open_text_handles_crlf_bom_and_gzip_magic(tmp_path):
    path = tmp_path / "noext"
    path.write_bytes(gzip.compress(b"\xef\xbb\xbfa\r\nb\rc\n"))
    with open_text(path) as fh:
        assert fh.compressed
        assert list(fh) == ["a\n", "b\n", "c\n"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x1f\x8b\x08\x00garbage", "gzip data"),
        (b"abc\x00def", "binary data"),
        (b"ok\n\xff\xfe\n", "line 2: not valid UTF-8"),
    ],
)
def test_open_text_errors_are_input_errors(tmp_path, data, message):
    path = tmp_path / "f.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        with open_text(path) as fh:
            fh.read()
