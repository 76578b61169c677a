"""Benchmark: full mutation maps for ``cnn`` at 201 bp (target >= 20x naive ISM, exact).

Measured, side by side in one run on the same sequences (CTCF positives of the shared data),
same model (the default ``cnn``: CNN1, 128 filters of width 16, dense 10; untrained weights,
speed does not depend on them), same torch threads, sequences per second of the full 3 x L map:

- ``fast``: ``cislearn.interpret.ism.saturation_mutagenesis(method="fast")`` (window update +
  pooling bookkeeping; the fused numba kernel on the CPU);
- ``naive``: the same function with ``method="naive"`` (every mutated sequence through the
  whole model, batched);
- ``tangermeme``: ``tangermeme.saturation_mutagenesis.saturation_mutagenesis(raw_outputs=True)``
  with its defaults (it picks its own fastISM or plain path).

Also the max absolute difference of the fast map to the naive one (target <= 1e-4) and to
tangermeme's raw outputs. Cases are interleaved (A B C A B C ...); each figure is the median.
glibc's malloc is pinned first (:func:`machine.pin_malloc`), as in train_overhead.py.

Run: ``.venv/bin/python benchmarks/ism.py`` (a few minutes on 2 cores; writes
benchmarks/results/ism.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cislearn.encode import one_hot
from cislearn.interpret.ism import saturation_mutagenesis
from cislearn.io.fasta import read_fasta
from cislearn.models.registry import build_model
from machine import LoadProbe, pin_malloc, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results" / "ism.json"
TARGET_RATIO = 20.0
TARGET_DIFF = 1e-4
ARCH = "cnn"
LENGTH = 201


def tangermeme_map(model: torch.nn.Module, x: torch.Tensor) -> np.ndarray:
    """tangermeme's raw outputs for every base at every position, (n, 4, L, t)."""
    from tangermeme.saturation_mutagenesis import saturation_mutagenesis as tm_ism

    res = tm_ism(model, x, raw_outputs=True, device="cpu", verbose=False)
    return res.y_hat.float().numpy()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-fast", type=int, default=256, help="sequences per fast run")
    ap.add_argument("--n-slow", type=int, default=16, help="sequences per naive/tangermeme run")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (>= 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    ap.add_argument("--no-tangermeme", action="store_true")
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    pinned = pin_malloc()  # allocation costs independent of what ran before (machine.py)
    probe = LoadProbe()

    seqs = [r.sequence for r in read_fasta(DATA / "pos.fa.gz")][: max(args.n_fast, args.n_slow)]
    x = one_hot(seqs)
    torch.manual_seed(0)
    model = build_model(ARCH, length=LENGTH, n_outputs=1).eval()
    xs = x[: args.n_slow]

    # Exactness (and warm-up: numba kernel, allocator).
    fast_small = saturation_mutagenesis(model, xs, method="fast", device="cpu")
    naive_small = saturation_mutagenesis(model, xs, method="naive", device="cpu")
    diff_naive = float(np.abs(fast_small.logits - naive_small.logits).max())
    print(f"max |fast - naive| over {len(xs)} x 4 x {LENGTH} outputs: {diff_naive:.2e}")

    cases: dict[str, tuple[Callable[[], object], int]] = {
        "fast": (lambda: saturation_mutagenesis(model, x, method="fast", device="cpu"), len(x)),
        "naive": (lambda: saturation_mutagenesis(model, xs, method="naive", device="cpu"), len(xs)),
    }
    diff_tm = None
    if not args.no_tangermeme:
        xt = torch.from_numpy(xs)
        diff_tm = float(np.abs(tangermeme_map(model, xt) - fast_small.logits).max())
        print(f"max |fast - tangermeme raw outputs|: {diff_tm:.2e}")
        cases["tangermeme"] = (lambda: tangermeme_map(model, xt), len(xs))

    rates: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(max(1, args.repeats)):
        for name, (fn, count) in cases.items():
            t0 = time.perf_counter()
            fn()
            rates[name].append(count / (time.perf_counter() - t0))
    med = {name: statistics.median(r) for name, r in rates.items()}
    ratio = med["fast"] / med["naive"]
    print(f"{ARCH} at {LENGTH} bp, {threads} torch thread(s), {args.repeats} interleaved repeats")
    print(f"{'case':12s} {'seq/s':>9s} {'fast is x':>10s}")
    for name, rate in med.items():
        print(f"{name:12s} {rate:9,.1f} {med['fast'] / rate:10.1f}")
    ok = ratio >= TARGET_RATIO and diff_naive <= TARGET_DIFF
    print(
        f"fast / naive = {ratio:.1f} (target >= {TARGET_RATIO:.0f}), max abs diff "
        f"{diff_naive:.1e} (target <= {TARGET_DIFF:.0e}): {'PASS' if ok else 'FAIL'}"
    )
    import tangermeme

    machine = probe.finish(threads, torch=torch.__version__, tangermeme=tangermeme.__version__)
    result = {
        "benchmark": "ism",
        "arch": ARCH,
        "config": model.config.model_dump(mode="json"),
        "length": LENGTH,
        "n_sequences": {"fast": len(x), "naive": len(xs), "tangermeme": len(xs)},
        "threads": threads,
        "malloc_pinned": pinned,
        "repeats": args.repeats,
        "median_seq_per_s": med,
        "seq_per_s_all": rates,
        "fast_over_naive": ratio,
        "fast_over_tangermeme": med["fast"] / med["tangermeme"] if "tangermeme" in med else None,
        "target_ratio": TARGET_RATIO,
        "max_abs_diff_to_naive": diff_naive,
        "max_abs_diff_to_tangermeme": diff_tm,
        "target_max_abs_diff": TARGET_DIFF,
        "pass": ok,
        "machine": machine,
    }
    write_result(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
