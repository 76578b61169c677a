"""Choose the default architecture: held-out AUROC and training time of each candidate on the
shared CTCF data (seeded stratified split: 60% train, 10% validation, 30% test), in one run.

Usage: python benchmarks/default_arch.py [--epochs 10] [--archs cnn,cnn-multi,...]
Writes benchmarks/results/default_arch.json and prints a table.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from cislearn.config import resolve_config
from cislearn.data import assign_split, load_dataset
from cislearn.pipelines.train import train_run
from cislearn.predict import load

ROOT = Path(__file__).resolve().parents[1]
CTCF = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument(
        "--archs", default="cnn,cnn-multi,cnn-deep,basset,resnet,cnn-lstm,transformer"
    )
    parser.add_argument("--work", default="/tmp/cislearn-default-arch")
    parser.add_argument("--results", default="default_arch.json", help="file in results/")
    args = parser.parse_args()

    ds = load_dataset(pos=CTCF / "pos.fa.gz", neg=CTCF / "neg.fa.gz")
    ds = assign_split(ds, method="random", valid_fraction=0.1, test_fraction=0.3, seed=0)
    rows = []
    for arch in args.archs.split(","):
        config = resolve_config(
            {}, {"arch": arch, "max_epochs": args.epochs, "seed": 0, "split": "given"}
        )
        start = time.perf_counter()
        result = train_run(ds, config, Path(args.work) / arch, n_boot=200)
        seconds = time.perf_counter() - start
        m = result.metrics["label"]
        rows.append(
            {
                "arch": arch,
                "test_auroc": m["auroc"],
                "test_auprc": m["auprc"],
                "auroc_ci": m.get("auroc_ci"),
                "seconds": seconds,
                "seconds_vs_cnn": None,
                "epochs": args.epochs,
                "params": sum(p.numel() for p in load(Path(args.work) / arch).model.parameters()),
            }
        )
        print(
            f"{arch:12s} AUROC {m['auroc']:.4f}  AUPRC {m['auprc']:.4f}  {seconds:7.1f} s",
            flush=True,
        )
    base = next((r["seconds"] for r in rows if r["arch"] == "cnn"), None)
    for r in rows:
        r["seconds_vs_cnn"] = None if base is None else r["seconds"] / base
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / args.results).write_text(
        json.dumps(
            {
                "benchmark": "default architecture on CTCF GM12878",
                "split": "60/10/30 seeded",
                "torch_threads": torch.get_num_threads(),
                "rows": rows,
            },
            indent=2,
        )
        + "\n"
    )
    print("arch          test AUROC  test AUPRC  time/cnn  params")
    for r in rows:
        ratio = "" if r["seconds_vs_cnn"] is None else f"{r['seconds_vs_cnn']:.2f}"
        print(
            f"{r['arch']:12s}  {r['test_auroc']:.4f}      {r['test_auprc']:.4f}      "
            f"{ratio:>6s}  {r['params']:,}"
        )


if __name__ == "__main__":
    main()
