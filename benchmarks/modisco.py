"""Benchmark: motifs from attributions on the 4,000 CTCF positives (target <= 5 min for
attributions + TF-MoDISco on 2 cores), and exact-ISM hypothetical contributions vs
DeepLIFT/SHAP (target >= 10x faster), with their agreement.

Model: the ``cnn`` (default options) trained with the default recipe for ``--epochs`` epochs
on a seeded random 70% of the CTCF data (training time is not counted). Measured in one run:

- ``ism``: :func:`cislearn.interpret.contributions.hypothetical_contributions` with
  ``method="ism"`` (exact, fast path) on all positives; sequences per second;
- ``deeplift-shap``: the same function with ``method="deeplift-shap"`` (tangermeme, 20
  dinucleotide shuffles) on the first ``--n-slow`` positives; sequences per second;
- agreement: per-sequence Pearson r between the two (observed base of the contributions
  centred over the four bases), median and 10th percentile over the ``--n-slow`` sequences;
- ``modisco``: :func:`cislearn.interpret.modisco.attribution_motifs` (TF-MoDISco, Tomtom vs
  JASPAR, FIMO hits) on the ISM contributions of all positives, after a warm-up on 200
  sequences so that numba's caches are warm; wall seconds, and the top pattern's match.

Run: ``.venv/bin/python benchmarks/modisco.py`` (writes benchmarks/results/modisco.json).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from cislearn.config import TrainConfig
from cislearn.data import load_dataset
from cislearn.encode import one_hot
from cislearn.interpret.contributions import actual_contributions, hypothetical_contributions
from cislearn.interpret.modisco import attribution_motifs
from cislearn.io.fasta import read_fasta
from cislearn.train import fit
from machine import LoadProbe, pin_malloc, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results" / "modisco.json"
TARGET_SECONDS = 300.0
TARGET_RATIO = 10.0


def _centred_scores(hyp: np.ndarray, x: np.ndarray) -> np.ndarray:
    return actual_contributions(hyp - hyp.mean(axis=1, keepdims=True), x)


def _row_corr(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    return (a * b).sum(axis=1) / np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=3, help="training epochs of the cnn")
    ap.add_argument("--n-slow", type=int, default=64, help="sequences for DeepLIFT/SHAP")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    pinned = pin_malloc()

    ds = load_dataset(pos=DATA / "pos.fa.gz", neg=DATA / "neg.fa.gz")
    cfg = TrainConfig(arch="cnn", max_epochs=args.epochs, seed=0, accelerator="cpu")
    with tempfile.TemporaryDirectory() as work:
        t0 = time.perf_counter()
        trained = fit(ds, cfg, workdir=work)
        train_s = time.perf_counter() - t0
    model = trained.model.eval()
    print(f"cnn trained {args.epochs} epochs in {train_s:.0f} s, valid {trained.best_score:.3f}")
    records = list(read_fasta(DATA / "pos.fa.gz"))
    ids, x = [r.id for r in records], one_hot([r.sequence for r in records])

    # Warm-up (numba kernels of the fast path, modisco-lite, memelite), not timed.
    warm = hypothetical_contributions(model, x[:200], device="cpu")
    attribution_motifs(x[:200], warm.hypothetical)

    probe = LoadProbe()
    t0 = time.perf_counter()
    ism = hypothetical_contributions(model, x, device="cpu")
    ism_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    found = attribution_motifs(x, ism.hypothetical, ids=ids)
    modisco_s = time.perf_counter() - t0
    xs = x[: args.n_slow]
    t0 = time.perf_counter()
    dl = hypothetical_contributions(model, xs, method="deeplift-shap", device="cpu")
    dl_s = time.perf_counter() - t0
    ism_rate, dl_rate = len(x) / ism_s, len(xs) / dl_s
    r = _row_corr(
        _centred_scores(ism.hypothetical[: len(xs)], xs), _centred_scores(dl.hypothetical, xs)
    )
    total = ism_s + modisco_s
    top = found.table.iloc[0].to_dict() if len(found.table) else {}
    ok = total <= TARGET_SECONDS and ism_rate / dl_rate >= TARGET_RATIO
    print(f"ISM contributions: {len(x)} sequences in {ism_s:.1f} s ({ism_rate:,.0f} seq/s)")
    print(f"DeepLIFT/SHAP:     {len(xs)} sequences in {dl_s:.1f} s ({dl_rate:,.1f} seq/s)")
    print(
        f"ISM / DeepLIFT = {ism_rate / dl_rate:.0f}x (target >= {TARGET_RATIO:.0f}x); r median "
        f"{np.median(r):.3f}, 10th percentile {np.percentile(r, 10):.3f}"
    )
    print(
        f"TF-MoDISco + Tomtom + hits: {modisco_s:.1f} s; attributions + motifs {total:.1f} s "
        f"(target <= {TARGET_SECONDS:.0f} s); {len(found.patterns)} patterns; top "
        f"{top.get('motif')} ({top.get('n_seqlets')} seqlets) -> {top.get('match_id')} "
        f"{top.get('match_name')} q={top.get('match_q', float('nan')):.2g}"
    )
    print("PASS" if ok else "FAIL")
    machine = probe.finish(threads, torch=torch.__version__)
    result = {
        "benchmark": "modisco",
        "arch": "cnn",
        "train_epochs": args.epochs,
        "valid_auroc": trained.best_score,
        "n_sequences": len(x),
        "n_deeplift": len(xs),
        "threads": threads,
        "malloc_pinned": pinned,
        "seconds": {"ism": ism_s, "modisco": modisco_s, "total": total, "deeplift": dl_s},
        "seq_per_s": {"ism": ism_rate, "deeplift-shap": dl_rate},
        "ism_over_deeplift": ism_rate / dl_rate,
        "corr_ism_deeplift": {"median": float(np.median(r)), "p10": float(np.percentile(r, 10))},
        "deeplift_delta_median": float(np.nanmedian(dl.delta)),
        "patterns": found.table.drop(columns=["consensus"]).to_dict("records"),
        "target_seconds": TARGET_SECONDS,
        "target_ratio": TARGET_RATIO,
        "pass": ok,
        "machine": machine,
    }
    write_result(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
