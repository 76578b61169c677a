"""CLI: `interpret`, `mutation-map` and `motifs` end to end on a small run of the CTCF data."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest

from cislearn.cli.main import main
from cislearn.io.fasta import read_fasta
from cislearn.io.motifs import read_motifs


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def small_run(tmp_path_factory: pytest.TempPathFactory, ctcf: Path) -> tuple[Path, Path, Path]:
    """A cnn (16 filters) trained 2 epochs on 300 + 300 CTCF sequences, and the FASTA files."""
    out = tmp_path_factory.mktemp("interp")
    paths = []
    for name in ("pos", "neg"):
        records = list(read_fasta(ctcf / f"{name}.fa.gz"))[:300]
        path = out / f"{name}.fa"
        path.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in records))
        paths.append(path)
    run_dir = out / "run"
    argv = [
        "train",
        "--pos",
        paths[0],
        "--neg",
        paths[1],
        "--arch",
        "cnn",
        "--max-epochs",
        "2",
        "--set",
        "model.filters=16",
        "--out",
        run_dir,
    ]
    assert main([str(a) for a in argv]) == 0
    return run_dir, paths[0], paths[1]


def test_help_lists_interpretation_commands(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0
    for command in ("interpret", "mutation-map", "motifs"):
        assert f"  {command} " in out


def test_interpret_saliency(capsys, tmp_path, small_run) -> None:
    run_dir, pos, _ = small_run
    code, out, err = run(
        capsys, "interpret", run_dir, pos, "--out", tmp_path, "--top", "2", "--positions", "5"
    )
    assert code == 0, err
    data = np.load(tmp_path / "attributions.npz")
    assert data["attributions"].shape == data["x"].shape == (300, 4, 201)
    assert len(data["ids"]) == 300
    rows = list(csv.DictReader(open(tmp_path / "top_positions.tsv"), delimiter="\t"))
    assert len(rows) == 300 * 5 and rows[0]["rank"] == "1"
    assert len(list((tmp_path / "logos").glob("*.png"))) == 2


def test_mutation_map_fasta_and_sequence(capsys, tmp_path, small_run) -> None:
    run_dir, pos, _ = small_run
    code, out, err = run(
        capsys, "mutation-map", run_dir, "--fasta", pos, "--first", "3", "--out", tmp_path / "a"
    )
    assert code == 0, err
    assert "fast path" in out
    rows = list(csv.DictReader(open(tmp_path / "a" / "mutation_map.tsv"), delimiter="\t"))
    assert len(rows) == 3 * 3 * 201
    assert set(rows[0]) == {
        "id",
        "pos",
        "ref",
        "alt",
        "logit",
        "delta_logit",
        "prob",
        "delta_prob",
        "delta_score",
    }
    assert all(r["ref"] != r["alt"] for r in rows)
    r = rows[100]
    p, dp, ds = float(r["prob"]), float(r["delta_prob"]), float(r["delta_score"])
    assert ds == pytest.approx(dp * max(p, p - dp), abs=1e-5)
    assert len(list((tmp_path / "a" / "maps").glob("*.png"))) == 3
    first = next(read_fasta(pos))
    code, _, err = run(
        capsys, "mutation-map", run_dir, "--sequence", first.sequence, "--out", tmp_path / "b"
    )
    assert code == 0, err
    one = list(csv.DictReader(open(tmp_path / "b" / "mutation_map.tsv"), delimiter="\t"))
    got = [float(r["delta_logit"]) for r in one]
    assert got == pytest.approx([float(r["delta_logit"]) for r in rows[: 3 * 201]], abs=1e-4)
    assert max(map(abs, got)) > 0


def test_mutation_map_bad_input_is_one_line(capsys, tmp_path, small_run) -> None:
    run_dir, pos, _ = small_run
    code, _, err = run(capsys, "mutation-map", run_dir, "--sequence", "ACGT", "--out", tmp_path)
    assert code == 2 and "201" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(capsys, "mutation-map", run_dir, "--out", tmp_path)
    assert code == 2 and "--fasta" in err
    code, _, err = run(
        capsys, "mutation-map", run_dir, "--fasta", pos, "--ids", "nope", "--out", tmp_path
    )
    assert code == 2 and "nope" in err


def test_motifs(capsys, tmp_path, small_run) -> None:
    run_dir, pos, neg = small_run
    code, out, err = run(
        capsys,
        "motifs",
        run_dir,
        "--data",
        pos,
        "--neg",
        neg,
        "--out",
        tmp_path,
        "--min-sites",
        "5",
        "--min-ic",
        "1",
    )
    assert code == 0, err
    rows = list(csv.DictReader(open(tmp_path / "motifs.tsv"), delimiter="\t"))
    assert rows, out
    influence = [float(r["influence"]) for r in rows]
    assert influence == sorted(influence, reverse=True)
    for col in ("match_id", "match_p", "match_q", "pos_frac", "neg_frac", "fisher_p"):
        assert col in rows[0]
    meme = read_motifs(tmp_path / "motifs.meme")
    jaspar = read_motifs(tmp_path / "motifs.jaspar")
    assert [m.id for m in meme] == [m.id for m in jaspar] == [r["motif"] for r in rows]
    assert len(list((tmp_path / "logos").glob("*.png"))) == len(rows)
    html = (tmp_path / "motifs.html").read_text()
    assert rows[0]["motif"] in html and "data:image/png;base64," in html
    assert len(list(csv.DictReader(open(tmp_path / "filters.tsv"), delimiter="\t"))) == 16
