"""Tests for cislearn.io.motifs: Motif, bundled JASPAR databases, MEME/JASPAR/TRANSFAC files."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cislearn.errors import InputError
from cislearn.io.jaspar import jaspar_releases, load_jaspar
from cislearn.io.motifs import Motif, read_motifs, write_jaspar, write_meme

DATA = Path(__file__).parent / "data" / "motifs"


# --- Motif ----------------------------------------------------------------------------------


def test_motif_properties():
    m = Motif("m1", "toy", [[9, 0, 1], [1, 0, 1], [0, 10, 1], [0, 0, 1]])
    assert m.width == 3
    assert m.label == "m1 toy"
    assert Motif("m2", "", [[1], [0], [0], [0]]).label == "m2"
    assert m.consensus == "AGA"  # ties go to the first letter
    np.testing.assert_allclose(m.pfm.sum(axis=0), 1.0)
    np.testing.assert_allclose(m.pfm[:, 0], [0.9, 0.1, 0, 0])
    ic = m.information_content()
    assert ic.shape == (3,)
    assert ic[1] == pytest.approx(2.0)  # one certain base
    assert ic[2] == pytest.approx(0.0)  # uniform column
    assert ic[0] == pytest.approx(2 + 0.9 * np.log2(0.9) + 0.1 * np.log2(0.1))


def test_pwm_is_log_odds_with_fractional_pseudocount():
    m = Motif("m", "", [[8, 2], [0, 2], [2, 2], [0, 2]])
    bg = (0.3, 0.2, 0.2, 0.3)
    pwm = m.pwm(bg, pseudocount=0.1)
    b = np.array(bg)[:, None]
    expected = np.log2(((m.pfm + 0.1 * b) / 1.1) / b)
    np.testing.assert_allclose(pwm, expected)
    # counts and probabilities give the same PWM
    np.testing.assert_allclose(Motif("p", "", m.pfm).pwm(bg, pseudocount=0.1), pwm)
    assert np.isneginf(m.pwm(pseudocount=0)[1, 0])


def test_motif_is_immutable_and_validated():
    raw = np.ones((4, 3))
    m = Motif("m", "", raw)
    raw[0, 0] = 100  # the motif keeps its own copy
    assert m.counts[0, 0] == 1
    with pytest.raises(ValueError):
        m.counts[0, 0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        m.id = "x"  # type: ignore[misc]
    assert m == Motif("m", "", np.ones((4, 3))) and hash(m) == hash(Motif("m", "", raw * 0 + 1))
    assert m != Motif("m", "", np.ones((4, 4)))
    for bad in (np.ones((3, 5)), np.ones((4, 0)), -np.ones((4, 2)), [[0, 1]] * 4, "ACGT"):
        with pytest.raises(InputError, match="motif 'm'"):
            Motif("m", "", bad)


def test_reverse_complement():
    m = Motif("m", "", [[5, 1], [1, 2], [0, 3], [0, 4]])
    rc = m.reverse_complement()
    assert rc.consensus == "AT"  # AT... reversed and complemented
    np.testing.assert_array_equal(rc.counts[:, 0], [4, 3, 2, 1])
    assert rc.reverse_complement() == m


# --- JASPAR databases ------------------------------------------------------------------------


def test_releases_and_default():
    import pyjaspar

    releases = jaspar_releases()
    assert releases[0] == pyjaspar.jaspardb().release
    assert "JASPAR2024" in releases and releases == sorted(releases, reverse=True)


def test_load_jaspar_matches_pyjaspar_counts():
    import pyjaspar

    for release in ("JASPAR2020", "JASPAR2024"):
        ref = pyjaspar.jaspardb(release=release).fetch_motif_by_id("MA0139")
        (m,) = load_jaspar(["MA0139"], release=release)
        assert m.id == ref.matrix_id and m.name == ref.name == "CTCF"
        np.testing.assert_array_equal(m.counts, np.array([ref.counts[b] for b in "ACGT"]))
    assert load_jaspar(["MA0139"], release="JASPAR2020")[0].id == "MA0139.1"
    assert load_jaspar(["MA0139"], release="JASPAR2024")[0].id == "MA0139.2"


def test_load_jaspar_ids_versions_and_order():
    ms = load_jaspar(["MA0139.1", "MA0002", "MA0139"], release="JASPAR2024")
    assert [m.id for m in ms] == ["MA0139.1", "MA0002.3", "MA0139.2"]
    assert ms[0].width == 19 and ms[2].width == 15
    all_v = load_jaspar(["MA0139"], release="JASPAR2024", all_versions=True)
    assert [m.id for m in all_v] == ["MA0139.1", "MA0139.2"]
    assert load_jaspar("MA0139", release="JASPAR2024") == [ms[2]]


def test_load_jaspar_collection_matches_pyjaspar_selection():
    import pyjaspar

    db = pyjaspar.jaspardb(release="JASPAR2024")
    ref = db.fetch_motifs(collection="CORE", tax_group=["nematodes"])
    ours = load_jaspar(release="JASPAR2024", tax_group="nematodes")
    assert sorted(m.matrix_id for m in ref) == sorted(m.id for m in ours)
    assert len(ours) > 5
    vert = load_jaspar(release="JASPAR2024")
    assert len(vert) > 500 and len({m.id.split(".")[0] for m in vert}) == len(vert)
    assert len(load_jaspar(release="JASPAR2024", all_versions=True)) > len(vert)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ids": ["MA9999"]}, "'MA9999' is not in JASPAR2024; .*JASPAR2022"),
        ({"ids": ["MA0139.9"]}, "'MA0139.9' is not in JASPAR2024; it has MA0139.1, MA0139.2"),
        ({"ids": ["MA0139.x"]}, "it has MA0139.1"),
    ],
)
def test_load_jaspar_unknown_ids(kwargs, message):
    with pytest.raises(InputError, match=message):
        load_jaspar(release="JASPAR2024", **kwargs)


def test_load_jaspar_unknown_release_names_allowed(capsys):
    with pytest.raises(InputError, match="unknown JASPAR release 'JASPAR1999'; allowed: .*2024"):
        load_jaspar(["MA0139"], release="JASPAR1999")
    assert capsys.readouterr().out == ""  # pyjaspar would print; we do not


# --- motif files -----------------------------------------------------------------------------


def test_read_hand_written_jaspar():
    ms = read_motifs(DATA / "tiny.jaspar")
    assert [(m.id, m.name) for m in ms] == [
        ("MA0001.1", "Toy one"),
        ("MA0002.1", "two"),
        ("MA0003.1", "three"),
    ]
    np.testing.assert_array_equal(ms[0].counts, [[10, 0, 5], [0, 10, 5], [0, 0, 0], [0, 0, 0]])
    np.testing.assert_array_equal(ms[1].counts, [[1, 2], [3, 4], [5, 6], [7, 8]])  # no letters
    np.testing.assert_array_equal(ms[2].counts, [[0, 3], [2, 0], [0, 1], [1, 0]])  # T G C A


def test_read_hand_written_transfac():
    ms = read_motifs(DATA / "tiny.transfac")
    assert [(m.id, m.name) for m in ms] == [("MA0001.1", "Toy"), ("V$TWO_01", "Two factor")]
    np.testing.assert_array_equal(ms[0].counts, [[10, 0, 5], [0, 10, 5], [0, 0, 0], [0, 0, 0]])
    # columns given as T G C A
    np.testing.assert_array_equal(ms[1].counts, [[0, 3], [2, 0], [0, 1], [1, 0]])


def test_read_hand_written_meme():
    ms = read_motifs(DATA / "tiny.meme")
    assert [(m.id, m.name, m.width) for m in ms] == [("m1", "first", 2), ("m2", "", 1)]
    np.testing.assert_allclose(ms[0].counts, [[1, 0], [0, 0.5], [0, 0.5], [0, 0]])


def test_meme_round_trip_of_jaspar_motifs(tmp_path):
    motifs = load_jaspar(release="JASPAR2024")[:60] + load_jaspar(["MA0139"])
    for name in ("out.meme", "out.meme.gz"):
        write_meme(tmp_path / name, motifs)
        back = read_motifs(tmp_path / name)
        assert [(m.id, m.name) for m in back] == [(m.id, m.name) for m in motifs]
        for a, b in zip(motifs, back, strict=True):
            np.testing.assert_allclose(b.counts, a.pfm, atol=1e-6)
    text = (tmp_path / "out.meme").read_text()
    assert "MOTIF MA0139.2 CTCF\nletter-probability matrix: alength= 4 w= 15 nsites= " in text
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file


def test_jaspar_round_trip(tmp_path):
    probs = Motif("p 1", "two words", [[0.5, 0.1], [0.25, 0.2], [0.25, 0.3], [0.0, 0.4]])
    motifs = [*load_jaspar(["MA0139"]), probs]
    for name in ("out.jaspar", "out.jaspar.gz"):
        write_jaspar(tmp_path / name, motifs)
        back = read_motifs(tmp_path / name)
        assert [(m.id, m.name) for m in back] == [("MA0139.2", "CTCF"), ("p_1", "two words")]
        for a, b in zip(motifs, back, strict=True):
            np.testing.assert_allclose(b.counts, a.counts, atol=5e-3)
    assert (tmp_path / "out.jaspar").read_text().startswith(">MA0139.2\tCTCF\nA [ ")
    assert not list(tmp_path.glob(".*tmp"))  # atomic write left no temporary file
    with pytest.raises(InputError, match="write_jaspar expects Motif"):
        write_jaspar(tmp_path / "bad.jaspar", ["ACGT"])


@settings(max_examples=60, deadline=None)
@given(
    counts=arrays(
        np.float64, st.tuples(st.just(4), st.integers(1, 12)), elements=st.integers(0, 500)
    ),
    name=st.text("ABCxyz:-_ .", max_size=8),
)
def test_round_trips_hypothesis(tmp_path_factory, counts, name):
    counts[0] += 1  # every column needs a positive sum
    m = Motif("MX1.1", name.strip(), counts)
    d = tmp_path_factory.mktemp("rt")
    write_meme(d / "m.meme", [m, m.reverse_complement()])
    back = read_motifs(d / "m.meme")
    assert back[0].name == "_".join(name.split())
    np.testing.assert_allclose(back[0].counts, m.pfm, atol=1e-6)
    np.testing.assert_allclose(back[1].counts, m.reverse_complement().pfm, atol=1e-6)
    # JASPAR text written by hand from the same counts
    rows = "\n".join(
        f"{b} [ {' '.join(str(int(v)) for v in r)} ]" for b, r in zip("ACGT", counts, strict=True)
    )
    (d / "m.jaspar").write_text(f">MX1.1\t{name}\n{rows}\n")
    (j,) = read_motifs(d / "m.jaspar")
    np.testing.assert_array_equal(j.counts, counts)
    assert j.name == name.strip()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty motif file"),
        ("hello world\n", r"line 1: unrecognised motif format"),
        (
            "MEME version 4\n\nMOTIF a\nletter-probability matrix: alength= 4 w= 3\n"
            "0.25 0.25 0.25 0.25\n0.25 0.25 0.25 0.25\n",
            r"line 4: MOTIF a: expected 3 matrix rows, found 2",
        ),
        (
            "MEME version 4\nMOTIF a\nletter-probability matrix: alength= 4 w= 1\n0.5 0.5 0\n",
            r"line 4: MOTIF a: expected 4 probabilities per row, found 3",
        ),
        ("MEME version 4\nALPHABET= ACDEFGHIKLMNPQRSTVWY\n", r"line 2: only DNA motifs"),
        ("MEME version 4\nMOTIF a\nMOTIF b\n", r"line 2: MOTIF a has no 'letter-probability"),
        ("MEME version 4\n\n", "no motifs found"),
        (
            ">m1\nA [ 1 2 ]\nC [ 1 x ]\nG [ 1 2 ]\nT [ 1 2 ]\n",
            r"line 3: expected a number, found 'x'",
        ),
        (">m1\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\n", r"line 1: motif m1: expected 4 rows"),
        (">m1\nA [ 1 2 ]\nC [ 1 2 ]\nG [ 1 2 ]\nT [ 1 ]\n", "rows have different lengths"),
        (">m1\nA [ 1 ]\nA [ 1 ]\nG [ 1 ]\nT [ 1 ]\n", "labelled A, C, G, T once each"),
        (">m1\nA [ 0 ]\nC [ 0 ]\nG [ 0 ]\nT [ 0 ]\n", r"line 1: motif 'm1': column 1 sums to zero"),
        ("A [ 1 ]\n", "unrecognised motif format"),
        ("AC  M1\nXX\nID  x\n//\n", r"line 1: record M1 has no P0 matrix"),
        ("AC  M1\nP0 A C G T\n01 1 2 3 q\n//\n", r"line 3: expected a number, found 'q'"),
        ("AC  M1\nP0 A C G A\n01 1 2 3 4\n//\n", r"line 2: P0 header must name A C G T"),
    ],
)
def test_bad_motif_files(tmp_path, text, message):
    path = tmp_path / "bad.txt"
    path.write_text(text)
    with pytest.raises(InputError, match=message) as info:
        read_motifs(path)
    assert str(info.value).startswith(str(path))


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read motif file"):
        read_motifs(tmp_path / "nope.meme")
