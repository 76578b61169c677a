"""CLI for layer-list/graph models and Keras import: import-keras, summary of a YAML, train."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cislearn.cli.main import main
from cislearn.encode import one_hot
from cislearn.models.keras import read_keras
from cislearn.predict import load
from conftest import read_fa
from synthetic import motif_data

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
CNN1 = Path(__file__).parents[2] / "shared" / "data" / "workshop_models" / "CNN1_model_CTCF.hdf5"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("keras") / "cnn1"
    assert main(["import-keras", str(CNN1), "--out", str(out)]) == 0
    return out


def test_import_keras_writes_a_bundle_that_predicts_like_the_keras_model(
    imported, ctcf, capsys, tmp_path
) -> None:
    meta = json.loads((imported / "model.json").read_text())
    assert (meta["arch"], meta["task"], meta["length"]) == ("layers", "binary", 201)
    assert meta["source"]["keras_version"] == "2.3.0-tf" and len(meta["source"]["sha256"]) == 64
    pred = load(imported, device="cpu")
    seqs = read_fa(ctcf / "pos.fa.gz")[:50] + read_fa(ctcf / "neg.fa.gz")[:50]
    model = read_keras(CNN1).build()
    with torch.no_grad():
        want = torch.sigmoid(model(torch.from_numpy(one_hot(seqs)))).numpy()
    np.testing.assert_allclose(pred.predict(seqs).probs, want, atol=1e-6)
    fasta = tmp_path / "in.fa"
    fasta.write_text("".join(f">s{i}\n{s}\n" for i, s in enumerate(seqs)))
    code, out, err = run(capsys, "predict", imported, fasta, "--out", tmp_path / "p.tsv")
    assert code == 0, err
    rows = (tmp_path / "p.tsv").read_text().splitlines()
    assert rows[0].split("\t")[:2] == ["id", "label_prob"] and len(rows) == 101
    got = np.array([float(r.split("\t")[1]) for r in rows[1:]])
    np.testing.assert_allclose(got, want[:, 0], atol=1e-5)
    code, out, _ = run(capsys, "summary", imported)
    assert code == 0 and "Total params: 9,623" in out  # Keras reports 9,623 for CNN1 too


def test_imported_model_takes_the_fast_mutation_map_path(imported, ctcf) -> None:
    ism = pytest.importorskip("cislearn.interpret.ism")
    pred = load(imported, device="cpu")
    assert ism.fast_path_available(pred.model)
    x = one_hot(read_fa(ctcf / "pos.fa.gz")[:3])
    fast = ism.saturation_mutagenesis(pred.model, x, method="fast")
    naive = ism.saturation_mutagenesis(pred.model, x, method="naive")
    np.testing.assert_allclose(fast.logits, naive.logits, atol=1e-4)


def test_import_keras_unsupported_layer_is_one_line(capsys, tmp_path) -> None:
    import h5py

    config = {
        "class_name": "Sequential",
        "config": {
            "layers": [
                {
                    "class_name": "Embedding",
                    "config": {"name": "emb", "batch_input_shape": [None, 20, 4]},
                }
            ]
        },
    }
    with h5py.File(tmp_path / "bad.h5", "w") as fh:
        fh.attrs["model_config"] = json.dumps(config)
        fh.create_group("model_weights").attrs["layer_names"] = np.array([b"emb"])
        fh["model_weights"].create_group("emb").attrs["weight_names"] = np.array([], dtype="S1")
    code, _, err = run(capsys, "import-keras", tmp_path / "bad.h5", "--out", tmp_path / "o")
    assert code == 2
    assert err.strip().count("\n") == 0
    assert "Keras layer 'emb' (Embedding): layer class 'Embedding' is not supported" in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize(
    ("example", "params"),
    [("cnn1.yaml", "9,623"), ("cnn2.yaml", "12,481"), ("cnn_lstm.yaml", None)],
)
def test_summary_of_a_yaml_config(capsys, example, params) -> None:
    code, out, err = run(capsys, "summary", EXAMPLES / example, "--length", 201)
    assert code == 0, err
    assert "Total params" in out and "Output Shape" in out
    if params:
        assert f"Total params: {params}" in out


@pytest.mark.parametrize("example", ["cnn1.yaml", "cnn2.yaml", "cnn_lstm.yaml"])
def test_workshop_architectures_train_from_yaml(capsys, tmp_path, example) -> None:
    ds = motif_data(n=160, length=60)
    pos = tmp_path / "pos.fa"
    neg = tmp_path / "neg.fa"
    labels = ds.targets[:, 0]
    for path, want in ((pos, 1), (neg, 0)):
        path.write_text(
            "".join(f">s{i}\n{s}\n" for i, s in enumerate(ds.sequences) if labels[i] == want)
        )
    out = tmp_path / "run"
    code, stdout, err = run(
        capsys,
        "train",
        "--config",
        EXAMPLES / example,
        "--pos",
        pos,
        "--neg",
        neg,
        "--out",
        out,
        "--max-epochs",
        1,
        "--accelerator",
        "cpu",
    )
    assert code == 0, err
    assert "held-out" in stdout
    pred = load(out, device="cpu")
    assert pred.meta["arch"] in ("layers", "graph")
    probs = pred.predict(list(ds.sequences[:5])).probs
    assert probs.shape == (5, 1) and np.all((probs >= 0) & (probs <= 1))


def test_imported_model_scores_variants(imported, ctcf_genome) -> None:
    variants = pytest.importorskip("cislearn.variants")
    from cislearn.io.genome import Genome
    from cislearn.io.vcf import Variant

    genome_path, peaks = ctcf_genome
    genome = Genome(genome_path)
    pred = load(imported, device="cpu")
    rows, refs, alts = [], [], []
    for i, peak in enumerate(peaks.head(4).itertuples()):
        window = genome.fetch(peak.chrom, peak.start, peak.start + 201).upper()
        ref = window[100]
        alt = "A" if ref != "A" else "C"
        rows.append(Variant(peak.chrom, peak.start + 101, ref, alt, f"v{i}", i + 1, 1))
        refs.append(window)
        alts.append(window[:100] + alt + window[101:])
    table = variants.score_variants(pred, genome_path, rows, n_null=100)
    assert list(table["flag"]) == ["ok"] * 4
    # the variant sits at the centre (index 100) of a 201-bp window: check against predict
    np.testing.assert_allclose(table["label_p_ref"], pred.predict(refs).probs[:, 0], atol=1e-5)
    np.testing.assert_allclose(table["label_p_alt"], pred.predict(alts).probs[:, 0], atol=1e-5)


def test_mutation_map_and_score_variants_commands_run_on_the_imported_bundle(
    imported, ctcf, ctcf_genome, capsys, tmp_path
) -> None:
    fasta = tmp_path / "pos.fa"
    fasta.write_text(
        "".join(f">p{i}\n{s}\n" for i, s in enumerate(read_fa(ctcf / "pos.fa.gz")[:2]))
    )
    code, out, err = run(
        capsys,
        "mutation-map",
        imported,
        "--fasta",
        fasta,
        "--out",
        tmp_path / "mm",
        "--method",
        "fast",
    )
    assert code == 0, err
    assert "fast path" in out and (tmp_path / "mm" / "mutation_map.tsv").is_file()
    genome_path, peaks = ctcf_genome
    from cislearn.io.genome import Genome

    genome = Genome(genome_path)
    lines = ["chrom\tpos\tref\talt\tid"]
    for i, peak in enumerate(peaks.head(3).itertuples()):
        ref = genome.fetch(peak.chrom, peak.start + 100, peak.start + 101).upper()
        lines.append(f"{peak.chrom}\t{peak.start + 101}\t{ref}\t{'A' if ref != 'A' else 'C'}\tv{i}")
    (tmp_path / "v.tsv").write_text("\n".join(lines) + "\n")
    code, out, err = run(
        capsys,
        "score-variants",
        imported,
        tmp_path / "v.tsv",
        "--genome",
        genome_path,
        "--out",
        tmp_path / "sv",
        "--n-null",
        100,
        "--top-maps",
        1,
    )
    assert code == 0, err
    assert any((tmp_path / "sv").iterdir())
