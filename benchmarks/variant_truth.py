"""Variant effects against ground truth: the default model and `cnn` on a simulated set whose
labels come from a known function of the sequence (cislearn.simsets.logistic_set).

Generative model: P(y=1) = sigmoid(0.5 * Σ_m max(0, best log-odds of motif m) + c) over GATA1,
SPI1 and FOXA1 (each implanted once with probability 1/2 into a human-like background), so the
true effect of an SNV is the change of that logit. Each model is trained on the set (seeded
60/10/30 split); SNVs are drawn in the test part's sequences, half inside implanted instances,
half outside. Reported per model: Spearman(Δlogit, true effect) on all SNVs and inside motifs,
AUROC of sign(Δlogit) on SNVs with a non-zero true effect, and the Pearson correlation of Δlogit
computed on the forward sequences vs on their reverse complements (substitution mirrored), with
the bundle's strand averaging and without it.

Usage: python benchmarks/variant_truth.py [--epochs 20] [--snvs 2000] [--quick]
Writes benchmarks/results/variant_truth.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats
from sklearn.metrics import roc_auc_score

import cislearn
from cislearn.encode import to_codes
from cislearn.simsets import logistic_set, simulated_snvs

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
MODELS = {"default": {"arch": "auto"}, "cnn": {"arch": "cnn"}}


def deltas(pred, seqs, positions, alts, *, rc_average: bool, reverse: bool) -> np.ndarray:
    """Δlogit of each SNV (alt - ref), on the given strand."""
    if reverse:
        seqs = [cislearn.reverse_complement(s) for s in seqs]
        positions = len(seqs[0]) - 1 - positions
        alts = 3 - alts
    codes = to_codes(seqs)
    res = cislearn.substitution_logits(pred.model, codes, positions, alts, rc_average=rc_average)
    return (res.alt - res.ref)[:, 0].astype(np.float64)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=20, help="cap of `cnn` (not of `auto`)")
    parser.add_argument("--snvs", type=int, default=2000)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--work", default="/tmp/cislearn-variant-truth")
    args = parser.parse_args()
    torch.set_num_threads(1)
    n, epochs = (1000, 2) if args.quick else (4000, args.epochs)

    sim, truth = logistic_set(n=n, length=201, seed=0)
    ds = cislearn.SequenceDataset.from_arrays(sim.sequences, sim.labels, ids=sim.ids)
    ds = cislearn.assign_split(ds, method="random", valid_fraction=0.1, test_fraction=0.3, seed=0)
    test = ds.part("test")
    keep = set(test.ids)
    table = simulated_snvs(
        list(test.sequences),
        list(test.ids),
        sim.implants[sim.implants["id"].isin(keep)],
        truth,
        n=args.snvs,
        seed=1,
    )
    row_of = {s: i for i, s in enumerate(test.ids)}
    seqs = [test.sequences[row_of[c]] for c in table["chrom"]]
    positions = table["pos"].to_numpy() - 1
    alts = np.array(["ACGT".index(b) for b in table["alt"]])
    true = table["true_effect"].to_numpy()
    inside = table["in_motif"].to_numpy()
    nonzero = np.abs(true) > 1e-9

    out: dict = {
        "benchmark": "variant effects against ground truth (simulated logistic motif model)",
        "data": f"logistic_set(n={n}, length=201, seed=0); split 60/10/30 seed 0; "
        f"{len(table)} SNVs in test sequences (seed 1), {int(inside.sum())} inside motifs",
        "true_effect": "change of the generating label logit, 0.5 * Δ Σ_m max(0, best log-odds)",
        "n_nonzero_true_effect": int(nonzero.sum()),
        "epochs": epochs,
        "models": {},
    }
    for name, keys in MODELS.items():
        cap = {} if keys.get("arch") == "auto" and not args.quick else {"max_epochs": epochs}
        config = cislearn.resolve_config(  # `auto` keeps the default recipe's own cap
            {}, {**keys, **cap, "seed": 0, "split": "given", "num_threads": 1}
        )
        run = Path(args.work) / name
        start = time.perf_counter()
        res = cislearn.train_run(ds, config, run, n_boot=100)
        pred = cislearn.load(run)
        rc = bool(pred.meta.get("rc_average", False))
        fwd = deltas(pred, seqs, positions, alts, rc_average=rc, reverse=False)
        rev = deltas(pred, seqs, positions, alts, rc_average=rc, reverse=True)
        fwd_raw = deltas(pred, seqs, positions, alts, rc_average=False, reverse=False)
        rev_raw = deltas(pred, seqs, positions, alts, rc_average=False, reverse=True)
        out["models"][name] = {
            "arch": pred.meta["arch"],
            "max_epochs": config.max_epochs,
            "rc_average": rc,
            "rc_augment": bool(pred.meta["config"].get("rc_augment")),
            "test_auroc": res.metrics["label"]["auroc"],
            "spearman": float(stats.spearmanr(fwd, true).statistic),
            "spearman_inside_motifs": float(stats.spearmanr(fwd[inside], true[inside]).statistic),
            "sign_auroc": float(roc_auc_score(true[nonzero] > 0, fwd[nonzero])),
            "fwd_rc_pearson": float(np.corrcoef(fwd, rev)[0, 1]),
            "fwd_rc_pearson_without_rc_average": float(np.corrcoef(fwd_raw, rev_raw)[0, 1]),
            "seconds": time.perf_counter() - start,
        }
        print(name, json.dumps(out["models"][name]), flush=True)
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / ("variant_truth_quick.json" if args.quick else "variant_truth.json")
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(out, indent=1) + "\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
