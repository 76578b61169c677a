"""Speed of the default model vs `cnn` on CPU, side by side in one run: prediction (seq/s),
mutation maps (maps/s, 201 bp x 3 substitutions) and SNV scoring (SNV/s), each exact.

Both bundles are trained here for 1 epoch on the shared CTCF data (speed does not depend on
the weights), or given as run folders, then timed on the same 201-bp sequences with one torch
thread, best of 3.

Usage: python benchmarks/default_speed.py [--cnn RUN --default RUN]
Writes benchmarks/results/default_speed.json.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import cislearn
from cislearn.encode import to_codes

ROOT = Path(__file__).resolve().parents[1]
CTCF = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results"


def best_of(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def speeds(pred: Any, seqs: list[str], rng: np.random.Generator) -> dict:
    """seq/s, maps/s and SNV/s of one loaded bundle, with its own strand averaging."""
    rc = bool(pred.meta.get("rc_average"))
    batch = seqs[:1000]
    t_pred = best_of(lambda: pred.predict(batch))
    maps = pred.encode(seqs[:20])
    t_map = best_of(lambda: cislearn.saturation_mutagenesis(pred.model, maps, rc_average=rc))
    n_snv = 2000
    codes = to_codes([seqs[i] for i in rng.integers(len(seqs), size=n_snv)])
    pos = np.full(n_snv, 100)
    alts = (codes[:, 100] + 1) % 4
    t_snv = best_of(
        lambda: cislearn.substitution_logits(pred.model, codes, pos, alts, rc_average=rc)
    )
    return {
        "arch": pred.meta["arch"],
        "rc_average": rc,
        "seq_per_s": len(batch) / t_pred,
        "maps_per_s": 20 / t_map,
        "snv_per_s": n_snv / t_snv,
    }


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--cnn", default=None, help="an existing cnn run (else trained here)")
    parser.add_argument("--default", default=None, help="an existing default run")
    args = parser.parse_args()
    torch.set_num_threads(1)
    ds = cislearn.load_dataset(pos=CTCF / "pos.fa.gz", neg=CTCF / "neg.fa.gz")
    ds = cislearn.assign_split(ds, method="random", valid_fraction=0.1, test_fraction=0.3)
    seqs = list(ds.part("test").sequences)
    rng = np.random.default_rng(0)
    rows = {}
    for name, arch in (("cnn", "cnn"), ("default", "auto")):
        given = getattr(args, name)
        run = Path(given) if given else Path("/tmp/cislearn-default-speed") / name
        if not given:
            config = cislearn.resolve_config(
                {}, {"arch": arch, "max_epochs": 1, "split": "given", "num_threads": 1}
            )
            cislearn.train_run(ds, config, run, n_boot=10)
        rows[name] = speeds(cislearn.load(run), seqs, rng)
        print(name, rows[name], flush=True)
    for key in ("seq_per_s", "maps_per_s", "snv_per_s"):
        rows["default"][f"{key}_vs_cnn"] = rows["default"][key] / rows["cnn"][key]
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "default_speed.json"
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({"benchmark": "default vs cnn CPU speed", "threads": 1, "rows": rows}, indent=1)
        + "\n"
    )
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
