"""CLI: `interpret`, `mutation-map` and `motifs` end to end on a small run of the CTCF data."""

from __future__ import annotations

import csv
import json
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
    """A cnn (16 filters of width 19) trained 4 epochs on 1,000 + 1,000 CTCF sequences (held-out
    AUROC about 0.93), and FASTA files of the first 300 positives and negatives."""
    out = tmp_path_factory.mktemp("interp")
    paths, train = [], []
    for name in ("pos", "neg"):
        records = list(read_fasta(ctcf / f"{name}.fa.gz"))[:1000]
        for path, n in ((out / f"{name}.fa", 300), (out / f"train_{name}.fa", 1000)):
            path.write_text("".join(f">{r.id}\n{r.sequence}\n" for r in records[:n]))
        paths.append(out / f"{name}.fa")
        train.append(out / f"train_{name}.fa")
    run_dir = out / "run"
    argv = ["train", "--pos", train[0], "--neg", train[1], "--arch", "cnn", "--max-epochs", "4",
            "--lr", "0.005", "--set", "model.filters=16", "--set", "model.width=19",
            "--set", "model.dense=0", "--out", run_dir]  # fmt: skip
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


@pytest.fixture(scope="module")
def both_strands(small_run, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The small run as a model that predicts averaged over both strands (what the default
    model's recipe records in its bundle: ``rc_average``)."""
    import shutil

    both = tmp_path_factory.mktemp("both") / "run"
    shutil.copytree(small_run[0], both)
    meta = json.loads((both / "model.json").read_text())
    assert meta["rc_average"] is False
    (both / "model.json").write_text(json.dumps({**meta, "rc_average": True}))
    return both


def test_mutation_map_averages_strands_when_the_model_predicts_so(
    capsys, tmp_path, small_run, both_strands
) -> None:
    """A model that predicts averaged over both strands is mapped that way too: the map's
    reference logit is ``predict``'s, not the forward strand's. ``--no-rc-average`` still
    maps one strand."""
    _, pos, _ = small_run
    both = both_strands
    seq = next(read_fasta(pos)).sequence
    (tmp_path / "one.fa").write_text(f">s\n{seq}\n")
    assert run(capsys, "predict", both, tmp_path / "one.fa", "--out", tmp_path / "p.tsv")[0] == 0
    predicted = float((tmp_path / "p.tsv").read_text().splitlines()[1].split("\t")[-1])

    def reference_logit(*flags: str) -> float:
        out = tmp_path / ("map" + "".join(flags))
        code, _, err = run(capsys, "mutation-map", both, "--sequence", seq, "--out", out, *flags)
        assert code == 0, err
        row = next(csv.DictReader(open(out / "mutation_map.tsv"), delimiter="\t"))
        return float(row["logit"]) - float(row["delta_logit"])

    assert reference_logit() == pytest.approx(predicted, abs=1e-4)
    assert reference_logit("--rc-average") == pytest.approx(predicted, abs=1e-4)
    assert abs(reference_logit("--no-rc-average") - predicted) > 1e-3


def test_attributions_of_a_strand_averaged_model_are_strand_symmetric(
    capsys, tmp_path, small_run, both_strands
) -> None:
    """`interpret` explains the output `predict` reports: for a model that averages both
    strands, a sequence's attributions are those of its reverse complement, put back on its
    strand (one strand's gradients are not)."""
    from cislearn.encode import one_hot, reverse_complement

    _, pos, _ = small_run
    seq = next(read_fasta(pos)).sequence
    (tmp_path / "pair.fa").write_text(f">fwd\n{seq}\n>rev\n{reverse_complement(seq)}\n")
    # flipping both axes of an A, C, G, T map is the reverse complement
    assert (one_hot([seq])[0, ::-1, ::-1] == one_hot([reverse_complement(seq)])[0]).all()
    for run_dir, name in ((both_strands, "both"), (small_run[0], "one")):
        out = tmp_path / name
        code, _, err = run(capsys, "interpret", run_dir, tmp_path / "pair.fa", "--out", out)
        assert code == 0, err
        attr = np.load(out / "attributions.npz")["attributions"]
        back = attr[1, ::-1, ::-1]  # the reverse strand's, on the forward strand
        if name == "both":
            np.testing.assert_allclose(back, attr[0], atol=1e-5)
        else:
            assert np.abs(back - attr[0]).max() > 1e-3


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
    _names_only_when_significant(rows, out)
    auroc = json.loads((run_dir / "metrics.json").read_text())["metrics"]["label"]["auroc"]
    assert auroc >= 0.75  # trained: no warning, the top motif is CTCF
    assert "warning" not in out and f"held-out AUROC {auroc:.3f}" in out
    assert rows[0]["name"] in ("CTCF", "CTCFL") and float(rows[0]["match_q"]) < 0.05
    assert f"  {rows[0]['motif']}: {rows[0]['name']} (q=" in out


def _names_only_when_significant(rows: list[dict], out: str) -> None:
    """A motif carries its best hit's name only when q < 0.05; the CLI prints that name."""
    for r in rows:
        significant = float(r["match_q"]) < 0.05
        assert r["name"] == (r["match_name"] if significant else "no match"), r
        assert float(r["influence_sd"]) >= 0
    for r in rows[:5]:
        hit = "" if r["name"] == r["match_name"] else f", best hit {r['match_name']}"
        assert f"  {r['motif']}: {r['name']} (q={float(r['match_q']):.2g}{hit}); influence" in out


def test_motifs_of_an_untrained_model_warn(capsys, tmp_path, small_run) -> None:
    _, pos, neg = small_run
    run_dir = tmp_path / "untrained"
    args = ("train", "--pos", pos, "--neg", neg, "--arch", "cnn", "--max-epochs", "1",
            "--lr", "1e-9", "--set", "model.filters=16", "--out", run_dir)  # fmt: skip
    assert run(capsys, *args)[0] == 0
    auroc = json.loads((run_dir / "metrics.json").read_text())["metrics"]["label"]["auroc"]
    assert auroc < 0.75
    code, out, err = run(capsys, "motifs", run_dir, "--data", pos, "--neg", neg,
                         "--out", tmp_path / "m", "--min-sites", "5", "--min-ic", "1")  # fmt: skip
    assert code == 0, err
    warning = (
        f"warning: the model's held-out AUROC is {auroc:.3f} (< 0.75); its filters are not "
        "interpretable: motifs and their matches may be noise"
    )
    assert out.splitlines()[0] == warning
    html = (tmp_path / "m" / "motifs.html").read_text()
    assert "its filters are not" in html and 'class="box warn note"' in html
    assert json.loads((tmp_path / "m" / "motifs.json").read_text())["held_out_auroc"] == auroc
    rows = list(csv.DictReader(open(tmp_path / "m" / "motifs.tsv"), delimiter="\t"))
    _names_only_when_significant(rows, out)
