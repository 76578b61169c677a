"""Tests for cislearn.io.bed: BED/narrowPeak reading, genome checks and writing."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cislearn.errors import InputError
from cislearn.io.bed import BED_COLUMNS, check_chromosomes, read_bed, write_bed
from cislearn.io.genome import Genome

CTCF = Path(__file__).resolve().parents[2] / "shared" / "data" / "ctcf_gm12878"
TINY_GENOME = Path(__file__).resolve().parent / "data" / "tiny_genome.fa"
FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def genome():
    with Genome(TINY_GENOME) as g:
        yield g


def test_real_narrowpeak():
    peaks = read_bed(CTCF / "peaks.narrowPeak.gz")
    assert list(peaks.columns) == list(BED_COLUMNS)
    assert len(peaks) == 44_982
    assert peaks["line"].tolist() == list(range(1, 44_983))
    width = peaks["end"] - peaks["start"]
    assert (width > 0).all() and (peaks["start"] >= 0).all()
    assert ((peaks["summit"] >= 0) & (peaks["summit"] <= width)).all()
    assert peaks["signal"].notna().all()
    first = peaks.iloc[0]
    assert (first["chrom"], first["start"], first["end"], first["summit"]) == (
        "chr14",
        106873419,
        106873927,
        262,
    )
    assert first["name"] == "chr14:106873419-106873927"
    assert peaks["start"].dtype == np.int64 and peaks["summit"].dtype == np.int64


def test_real_bed3_is_read_as_given():
    bed = read_bed(CTCF / "pos.bed.gz")
    assert len(bed) == 4000
    assert ((bed["end"] - bed["start"]) == 200).all()  # 1-based inclusive R ranges, read verbatim
    assert (bed["summit"] == -1).all() and bed["signal"].isna().all()


def test_defaults_skips_and_line_numbers(tmp_path):
    path = _write(
        tmp_path / "a.bed",
        "track name=x\nbrowser position chr1\n# comment\n\nchr1\t10\t20\n"
        "chr1 30 40 named 7 -\nchr2\t5\t9\t.\t3.5\t+\n",
    )
    bed = read_bed(path)
    assert bed["line"].tolist() == [5, 6, 7]
    assert bed["name"].tolist() == ["chr1:10-20", "named", "chr2:5-9"]
    assert bed["score"].tolist() == [0.0, 7.0, 3.5]
    assert bed["strand"].tolist() == [".", "-", "+"]
    assert bed["summit"].tolist() == [-1, -1, -1]
    assert bed["pvalue"].isna().all()


def test_header_line_is_skipped(tmp_path):
    bed = read_bed(_write(tmp_path / "h.bed", "chrom\tstart\tend\nchr1\t0\t5\n"))
    assert bed["line"].tolist() == [2]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("chr1\t0\t10\nchr1\t5\n", "line 2: too few columns: 2"),
        ("chr1\t0\t10\nchr1\tx\t10\n", "line 2: start 'x' is not an integer"),
        ("chr1\t0\t10\nchr1\t0\t1e3\n", "line 2: end '1e3' is not an integer"),
        ("chr1\t0\t10\nchr1\t0\t10.5\n", "line 2: end '10.5' is not an integer"),
        ("chr1\t-1\t10\n", "line 1: negative start -1"),
        ("chr1\t0\t10\nchr1\t20\t10\n", "line 2: end < start (start 20, end 10)"),
        ("chr1\t10\t10\n", "line 1: empty interval"),
        ("chr1\t0\t10\tn\t0\tx\n", "line 1: bad strand 'x'"),
        ("chr1\t0\t10\tn\thigh\t+\n", "line 1: score 'high' is not a number"),
        ("chr1\t0\t100\t.\t0\t.\t1\t-1\t-1\t101\n", "line 1: summit offset 101 is outside"),
        ("chr1\t0\t100\t.\t0\t.\t1\t-1\t-1\t-5\n", "line 1: summit offset -5 is outside"),
        ("chr1\t0\t100\t.\t0\t.\t1\t-1\t-1\tmid\n", "line 1: summit 'mid' is not an integer"),
        ("# only a comment\n", "no intervals found"),
    ],
)
def test_errors_name_file_and_line(tmp_path, content, message):
    path = _write(tmp_path / "e.bed", content)
    with pytest.raises(InputError) as err:
        read_bed(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_on_error_drops_bad_lines(tmp_path):
    path = _write(
        tmp_path / "m.bed",
        "chr1\t0\t10\nchr1\t20\t10\nchr1\tx\t5\nchr1\t5\nchr2\t3\t4\t.\t0\t?\nchr2\t0\t9\n",
    )
    problems: list[InputError] = []
    bed = read_bed(path, on_error=problems.append)
    assert bed["line"].tolist() == [1, 6]
    assert sorted(p.line for p in problems) == [2, 3, 4, 5]


def test_check_chromosomes(tmp_path, genome):
    ok = read_bed(_write(tmp_path / "ok.bed", "chr1\t0\t3000\nchr2\t1\t2000\n"))
    check_chromosomes(ok, genome, path="ok.bed")
    bad = read_bed(
        _write(
            tmp_path / "bad.bed", "chr1\t0\t10\n1\t0\t10\nchrZ\t0\t5\nchrZ\t9\t19\nchr2\t0\t2001\n"
        )
    )
    problems: list[InputError] = []
    check_chromosomes(bad, genome, path="bad.bed", on_error=problems.append)
    messages = sorted(str(p) for p in problems)
    assert len(messages) == 3
    assert "bad.bed, line 2: chromosome '1' is not in genome tiny_genome.fa" in messages[0]
    assert "the genome names it 'chr1'" in messages[0]
    assert "line 3: chromosome 'chrZ'" in messages[1] and "the genome has chr1, chr2" in messages[1]
    assert "(2 intervals)" in messages[1]
    assert (
        "line 5: interval chr2:0-2001 extends beyond the end of chr2 (length 2000)" in messages[2]
    )
    with pytest.raises(InputError, match="chromosome '1'"):
        check_chromosomes(bad, genome, path="bad.bed")


interval_st = st.tuples(
    st.sampled_from(["chr1", "chr2", "chrX", "scaffold_7"]),
    st.integers(0, 10**9),
    st.integers(1, 5000),
    st.sampled_from(["+", "-", "."]),
    st.integers(0, 1000),
)


@FAST
@given(rows=st.lists(interval_st, min_size=1, max_size=30), data=st.data())
def test_write_read_round_trip(tmp_path_factory, rows, data):
    frame = pd.DataFrame(
        {
            "chrom": [r[0] for r in rows],
            "start": [r[1] for r in rows],
            "end": [r[1] + r[2] for r in rows],
            "name": [f"p{i}" if i % 3 else "" for i in range(len(rows))],
            "score": [float(r[4]) for r in rows],
            "strand": [r[3] for r in rows],
            "signal": [data.draw(st.floats(0, 1e4, allow_nan=False)) for _ in rows],
            "pvalue": [data.draw(st.sampled_from([np.nan, 3.25, 100.0])) for _ in rows],
            "qvalue": [2.5] * len(rows),
            "summit": [data.draw(st.integers(-1, r[2])) for r in rows],
        }
    )
    folder = tmp_path_factory.mktemp("bed")
    write_bed(folder / "x.bed.gz", frame)
    back = read_bed(folder / "x.bed.gz")
    for col in ("chrom", "start", "end", "score", "strand"):
        assert back[col].tolist() == frame[col].tolist()
    coords = zip(frame["name"], frame["chrom"], frame["start"], frame["end"], strict=True)
    expected_names = [n or f"{c}:{s}-{e}" for n, c, s, e in coords]
    assert back["name"].tolist() == expected_names
    assert (back["summit"] == -1).all()

    write_bed(folder / "x.narrowPeak", frame, columns="narrowpeak")
    peaks = read_bed(folder / "x.narrowPeak")
    assert peaks["summit"].tolist() == frame["summit"].tolist()
    assert peaks["signal"].tolist() == frame["signal"].tolist()
    assert peaks["pvalue"].tolist() == frame["pvalue"].fillna(-1).tolist()


def test_write_bed_defaults_and_validation(tmp_path):
    frame = pd.DataFrame({"chrom": ["chr1"], "start": [5], "end": [9]})
    write_bed(tmp_path / "a.bed", frame)
    assert (tmp_path / "a.bed").read_text() == "chr1\t5\t9\t.\t0\t.\n"
    write_bed(tmp_path / "a.narrowPeak", frame, columns="narrowpeak")
    assert (tmp_path / "a.narrowPeak").read_text() == "chr1\t5\t9\t.\t0\t.\t0\t-1\t-1\t-1\n"
    with pytest.raises(ValueError, match="columns must be"):
        write_bed(tmp_path / "b.bed", frame, columns="bed12")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="lacks"):
        write_bed(tmp_path / "b.bed", frame.drop(columns="end"))
    assert not (tmp_path / "b.bed").exists()


def test_gzip_bed(tmp_path):
    path = tmp_path / "g.bed.gz"
    path.write_bytes(gzip.compress(b"chr1\t1\t2\n"))
    assert read_bed(path)["end"].tolist() == [2]
