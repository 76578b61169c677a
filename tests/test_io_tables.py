"""Tests for cislearn.io.tables: TSV/CSV labelled sequence tables."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cislearn.errors import InputError
from cislearn.io.tables import LabelledTable, format_tsv, read_table, write_table

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789_:-"


def _write(path: Path, text: str, *, compress: bool = False) -> Path:
    data = text.encode()
    path.write_bytes(gzip.compress(data) if compress else data)
    return path


def _same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


@FAST
@given(
    data=st.data(),
    n=st.integers(1, 15),
    n_targets=st.integers(0, 3),
    with_split=st.booleans(),
    compress=st.booleans(),
)
def test_write_then_read_round_trip(tmp_path_factory, data, n, n_targets, with_split, compress):
    ids = data.draw(st.lists(st.text(ID_CHARS, min_size=1, max_size=8), min_size=n, max_size=n,
                             unique=True))  # fmt: skip
    seqs = [data.draw(st.text("ACGTNacgtn", min_size=1, max_size=60)) for _ in range(n)]
    floats = st.one_of(
        st.floats(allow_nan=True, allow_infinity=False, width=64), st.integers(-5, 5)
    )
    frame = pd.DataFrame({"id": ids, "sequence": seqs})
    names = [f"t{i}" for i in range(n_targets)]
    for name in names:
        frame[name] = [float(data.draw(floats)) for _ in range(n)]
    if with_split:
        frame["split"] = [data.draw(st.sampled_from(["train", "valid", "test"])) for _ in range(n)]
    path = tmp_path_factory.mktemp("t") / ("t.tsv.gz" if compress else "t.tsv")
    write_table(path, frame)
    table = read_table(path)
    assert isinstance(table, LabelledTable)
    assert table.target_names == names
    assert list(table.frame.columns) == list(frame.columns)
    assert table.frame["id"].tolist() == ids
    assert table.frame["sequence"].tolist() == seqs
    for name in names:
        assert table.frame[name].dtype == np.float64
        got = table.frame[name].tolist()
        assert all(_same(a, b) for a, b in zip(got, frame[name].tolist(), strict=True))
    if with_split:
        assert table.frame["split"].tolist() == frame["split"].tolist()


@FAST
@given(
    rows=st.lists(
        st.tuples(st.text("ACGT", min_size=1, max_size=30), st.integers(0, 1)),
        min_size=1,
        max_size=10,
    ),
    sep=st.sampled_from([",", "\t"]),
    newline=st.sampled_from(["\n", "\r\n"]),
)
def test_delimiter_and_line_endings_are_sniffed(tmp_path_factory, rows, sep, newline):
    text = newline.join([sep.join(["Sequence", "label"])] + [f"{s}{sep}{y}" for s, y in rows])
    path = _write(tmp_path_factory.mktemp("s") / "x.txt", text + newline)
    table = read_table(path)
    assert table.frame["id"].tolist() == [f"seq{i + 1}" for i in range(len(rows))]
    assert table.frame["sequence"].tolist() == [s for s, _ in rows]
    assert table.frame["label"].tolist() == [float(y) for _, y in rows]


def test_targets_selects_columns_and_split_words_are_mapped(tmp_path):
    path = _write(
        tmp_path / "t.csv",
        "name,id,sequence,a,b,split\nx,r1,ACGT,1,2,training\ny,r2,GGCC,0,3,validation\n"
        "z,r3,ttaa,1,NA,testing\n",
    )
    table = read_table(path, targets=["b"])
    assert table.target_names == ["b"]
    assert list(table.frame.columns) == ["id", "sequence", "b", "split"]
    assert table.frame["split"].tolist() == ["train", "valid", "test"]
    assert table.frame["sequence"].tolist() == ["ACGT", "GGCC", "ttaa"]
    assert math.isnan(table.frame["b"].iloc[2])
    with pytest.raises(InputError, match="target column 'c' not found"):
        read_table(path, targets=["c"])
    with pytest.raises(InputError, match="non-numeric|not a number"):
        read_table(path)  # 'name' becomes a target and is not numeric


def test_blank_lines_bom_and_iupac(tmp_path):
    path = tmp_path / "b.tsv"
    path.write_bytes(b"\xef\xbb\xbfid\tsequence\tlabel\n\na\tACRY\t1\n\nb\tAC\t0\n")
    with pytest.raises(InputError, match=r"line 3: column 'sequence': unexpected character 'R'"):
        read_table(path)
    table = read_table(path, iupac_to_n=True)
    assert table.frame["sequence"].tolist() == ["ACNN", "AC"]
    assert table.frame["id"].tolist() == ["a", "b"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        ("id\tseq\n", "line 1: no 'sequence' column (columns: 'id', 'seq')"),
        ("id\tsequence\n", "no data rows after the header"),
        ("id\tsequence\tsequence\n", "column 'sequence' appears twice"),
        (
            "id\tsequence\ty\na\tAC\t1\nb\tAC\tlow\n",
            "line 3: column 'y': value 'low' is not a number",
        ),
        ("id\tsequence\ty\na\tAC\t\n", "line 2: column 'y': empty value"),
        ("id\tsequence\tsplit\na\tAC\tdev\n", "line 2: column 'split': unknown split 'dev'"),
        ("id\tsequence\na\tAC\nb\tAC\na\tAC\n", 'line 4: duplicate id "a" (first seen at line 2)'),
        ("id\tsequence\n\ta\tAC\n", "line 2: row has 3 fields, the header has 2"),
        ("id\tsequence\na\tA-C\n", "line 2: column 'sequence': unexpected character '-'"),
        ("id\tsequence\na\t \n", "line 2: column 'sequence': empty sequence"),
        ("id\tsequence\n\ta\n", "line 2: column 'id': empty id"),
    ],
)
def test_errors_name_file_line_column_and_value(tmp_path, content, message):
    path = _write(tmp_path / "e.tsv", content)
    with pytest.raises(InputError) as err:
        read_table(path)
    assert str(err.value).startswith(str(path))
    assert message in str(err.value)


def test_on_error_drops_bad_rows_and_reports_all(tmp_path):
    path = _write(
        tmp_path / "m.tsv",
        "id\tsequence\ty\tsplit\na\tACGT\t1\ttrain\nb\tAXGT\t1\ttrain\nc\tACGT\tq\ttest\n"
        "d\tACGT\t0\tnope\na\tAAAA\t1\ttest\ne\tCC\t0\tvalid\n",
    )
    problems: list[InputError] = []
    table = read_table(path, on_error=problems.append)
    assert table.frame["id"].tolist() == ["a", "e"]
    assert sorted(p.line for p in problems) == [3, 4, 5, 6]


def test_gzip_and_binary(tmp_path):
    path = _write(tmp_path / "g.tsv.gz", "sequence\tz\nACGT\t1.5\n", compress=True)
    assert read_table(path).frame["z"].tolist() == [1.5]
    bad = tmp_path / "bin.tsv"
    bad.write_bytes(b"sequence\n\x00\x01\x02")
    with pytest.raises(InputError, match="binary"):
        read_table(bad)


_TEXT = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
_FLOAT = st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(float("nan")))


@settings(max_examples=150, deadline=None)
@given(
    rows=st.lists(
        st.tuples(_TEXT, st.integers(-(2**40), 2**40), _FLOAT, _FLOAT), min_size=0, max_size=12
    )
)
def test_format_tsv_writes_what_pandas_writes(rows) -> None:
    """format_tsv is pandas' to_csv(sep=tab, float_format=%.6g), byte for byte: NaN empty,
    quoted text (tabs, quotes, line breaks) through pandas itself."""
    cols = {
        "id": [r[0] for r in rows],
        "pos": np.array([r[1] for r in rows], np.int64),
        "a": np.array([r[2] for r in rows], np.float64),
        "b": np.array([r[3] for r in rows], np.float64),
    }
    expect = pd.DataFrame(cols).to_csv(
        sep="\t", index=False, header=False, float_format="%.6g", lineterminator="\n"
    )
    assert format_tsv(cols) == expect
