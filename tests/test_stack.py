"""The ``wide-deep`` model and its staged fit (cislearn.stack): exact parts, one bundle, and
prediction / mutation maps / variant scoring on a simulated set with known SNV effects."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
import torch

import cislearn
from cislearn.baseline import fit_baseline, parse_features
from cislearn.cli.main import main
from cislearn.encode import one_hot, reverse_complement
from cislearn.features import kmer_counts
from cislearn.models.registry import build_model

SMALL = {
    "k": 4,
    "deep_arch": ["cnn", "cnn-lstm"],
    "deep": [
        {"filters": 8, "width": 6, "dense": 0},
        {"filters": 4, "width": 5, "pool_size": 3, "units": 4, "dense": 4},
    ],
}


def test_wide_path_is_the_strand_merged_kmer_linear_model() -> None:
    rng = np.random.default_rng(0)
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(30)]
    seqs[3] = seqs[3][:10] + "N" + seqs[3][11:]  # windows over an N are not counted
    net = build_model("wide-deep", SMALL, length=50, n_outputs=2)
    torch.nn.init.normal_(net.table)
    want = kmer_counts(seqs, k=4, rc_merge=True).values @ net.table.detach().numpy()
    x = torch.as_tensor(one_hot(seqs))
    np.testing.assert_allclose(net.wide(x).detach().numpy(), want, rtol=1e-5, atol=1e-5)
    rc = torch.as_tensor(one_hot([reverse_complement(s) for s in seqs]))
    np.testing.assert_allclose(
        net.wide(rc).detach().numpy(), net.wide(x).detach().numpy(), rtol=1e-5, atol=1e-5
    )


@pytest.mark.parametrize("rc_average", [False, True])
def test_parts_path_equals_naive_mutagenesis(rc_average) -> None:
    """wide-deep scored part by part (the CNN member on its fast path, the LSTM member and
    the wide path naive, summed with the member scales) equals the naive whole-model ISM:
    SNV substitutions from base codes and full mutation maps with an N."""
    from cislearn.encode import to_codes
    from cislearn.interpret.ism import saturation_mutagenesis, substitution_logits

    torch.manual_seed(0)
    net = build_model("wide-deep", SMALL, length=50, n_outputs=2).eval()
    with torch.no_grad():
        torch.nn.init.normal_(net.table, std=0.2)
        torch.nn.init.normal_(net.deep_scale, mean=1.0, std=0.5)
        net.bias.fill_(0.3)
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), 50)) for _ in range(40)]
    seqs[2] = seqs[2][:20] + "N" + seqs[2][21:]
    codes = to_codes(seqs)
    pos = rng.integers(0, 50, 40)
    alt = (np.minimum(codes[np.arange(40), pos], 3) + rng.integers(1, 4, 40)) % 4
    fast = substitution_logits(net, codes, pos, alt, rc_average=rc_average)
    slow = substitution_logits(net, codes, pos, alt, rc_average=rc_average, method="naive")
    np.testing.assert_allclose(fast.ref, slow.ref, atol=1e-5)
    np.testing.assert_allclose(fast.alt, slow.alt, atol=1e-5)
    x = one_hot(seqs[:3])
    fmap = saturation_mutagenesis(net, x, rc_average=rc_average)
    nmap = saturation_mutagenesis(net, x, rc_average=rc_average, method="naive")
    assert fmap.method == "fast+naive" and nmap.method == "naive"
    np.testing.assert_allclose(fmap.logits, nmap.logits, atol=1e-5)
    np.testing.assert_allclose(fmap.ref_logits, nmap.ref_logits, atol=1e-5)


@pytest.fixture(scope="module")
def sim_run(tmp_path_factory) -> tuple[Path, Path, cislearn.SequenceDataset]:
    """`cislearn simulate --logistic --variants` data and a staged wide-deep run on it."""
    root = tmp_path_factory.mktemp("stack")
    code = main(
        [
            "simulate", "--out", str(root / "data"), "--n-positive", "200",
            "--n-negative", "200", "--length", "60", "--logistic", "--variants", "24",
            "--seed", "1",
        ]
    )  # fmt: skip
    assert code == 0
    ds = cislearn.load_dataset(root / "data" / "dataset.fa")
    config = cislearn.resolve_config(
        {},
        {"arch": "wide-deep", "model": SMALL, "max_epochs": 2, "split": "given",
         "rc_average": True, "num_threads": 1},
    )  # fmt: skip
    cislearn.train_run(ds, config, root / "run", n_boot=20)
    return root / "data", root / "run", ds


@pytest.mark.slow
def test_stack_is_one_bundle_equal_to_weighted_members(sim_run) -> None:
    _, run, ds = sim_run
    pred = cislearn.load(run)
    stack = pred.meta["stack"]
    assert pred.meta["arch"] == "wide-deep" and stack["learned_on"] == "valid"
    assert not list(run.glob("*.pkl")) and (run / "model.safetensors").exists()
    # refit the k-mer member independently (same data, seed, model) and recombine by hand
    train = ds.with_split(ds.split).part("train")
    assert (
        stack["kmer"]["linear"]["model"]
        == getattr(pred.model, "model", pred.model).config.wide_model
    )
    lasso = fit_baseline(
        kmer_counts(train.sequences, k=4, rc_merge=True),
        train.targets,
        model=stack["kmer"]["linear"]["model"],
        spec=parse_features("kmer:4:rc"),
        n_jobs=1,
    )
    test = ds.part("test")
    seqs = list(test.sequences)
    x = torch.as_tensor(one_hot(seqs))
    net = getattr(pred.model, "model", pred.model)
    kmer = lasso.decision(kmer_counts(seqs, k=4, rc_merge=True).values)
    want = stack["kmer"]["weight"][0] * kmer[:, 0] + stack["intercept"][0]
    assert [m["arch"] for m in stack["members"]] == ["cnn", "cnn-lstm"]
    for member, info in zip(net.deep, stack["members"], strict=True):
        with torch.inference_mode():
            out = 0.5 * (member(x) + member(x.flip(1).flip(2)))
        want = want + info["weight"][0] * out.numpy()[:, 0]
    got = pred.predict(seqs).logits[:, 0]
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_mutation_map_is_exact(sim_run) -> None:
    _, run, ds = sim_run
    pred = cislearn.load(run)
    seq = ds.sequences[0]
    mm = cislearn.saturation_mutagenesis(pred.model, one_hot([seq]))
    mutants = [seq[:p] + b + seq[p + 1 :] for p in range(len(seq)) for b in "ACGT"]
    brute = pred.predict(mutants, rc_average=False).logits[:, 0].reshape(len(seq), 4).T
    np.testing.assert_allclose(mm.logits[0, :, :, 0], brute, rtol=1e-4, atol=1e-4)


@pytest.mark.slow
def test_score_variants_on_simulated_genome(sim_run, tmp_path, capsys) -> None:
    data, run, _ = sim_run
    out = tmp_path / "scores"
    code = main(
        [
            "score-variants", str(run), str(data / "variants.vcf"), "--genome",
            str(data / "genome.fa"), "--out", str(out), "--n-null", "50",
        ]
    )  # fmt: skip
    assert code == 0, capsys.readouterr().err
    with open(out / "variants.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    with open(data / "variants_truth.tsv", newline="") as fh:
        truth = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == len(truth) == 24
    assert all(r["flag"] == "ok" for r in rows)  # REF matches; windows inside the flanks
    assert all(np.isfinite(float(r["label_dscore"])) for r in rows)
