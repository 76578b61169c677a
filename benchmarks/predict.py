"""Benchmark: ``cislearn predict`` throughput for ``cnn`` at 201 bp (target >= 10,000 seq/s).

Measured: sequences per second of ``cislearn.predict.predict_records`` over parsed FASTA records
of the shared CTCF data (validation, encoding, model outputs, probabilities and logits in
DataFrames), against a bare ``model(x)`` loop over the same sequences pre-encoded as one
one-hot tensor, same batch size, same model, same threads. On the CPU cislearn evaluates this
model from base codes with the kernel of :mod:`cislearn.fastpath.codeconv` (exact to float32
rounding), so its ratio to the bare loop is above 1. Also reported, for context: a bare
loop that one-hot encodes first, and the whole ``cislearn predict`` path from the .fa.gz files
to a TSV file. The weights are untrained (throughput does not depend on them), saved as a
bundle and loaded back with ``cislearn.predict.load``, as ``cislearn predict`` does.

Cases are interleaved (A B C D A B C D ...); each figure is the median over the repeats.
glibc's malloc is pinned first (:func:`machine.pin_malloc`), as in train_overhead.py.

Run: ``.venv/bin/python benchmarks/predict.py`` (about a minute on 2 cores; writes
benchmarks/results/predict.json).
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cislearn.encode import one_hot
from cislearn.io.atomic import atomic_write
from cislearn.io.bundle import save_bundle
from cislearn.io.fasta import read_fasta
from cislearn.models.registry import build_model
from cislearn.predict import CPU_BATCH_SIZE, Predictor, load, predict_records
from machine import LoadProbe, pin_malloc, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
FASTAS = (DATA / "pos.fa.gz", DATA / "neg.fa.gz")
RESULTS = ROOT / "benchmarks" / "results" / "predict.json"
TARGET = 10_000
ARCH = "cnn"
LENGTH = 201
OURS = "cislearn predict_records (records -> DataFrames)"
BARE = "bare model(x) on pre-encoded tensor"


def save_untrained_bundle(
    path: Path, *, seed: int = 0, arch: str = ARCH, rc_average: bool = False
) -> None:
    """A bundle (``cnn`` by default) with the metadata ``cislearn.train.fit`` records for a
    binary task (``rc_average``: predictions averaged over both strands, as the default
    recipe records)."""
    torch.manual_seed(seed)
    model = build_model(arch, length=LENGTH, n_outputs=1)
    meta = {
        "arch": model.arch,
        "model": model.config.model_dump(mode="json"),
        "length": int(model.length),
        "n_outputs": int(model.n_outputs),
        "n_tracks": int(model.n_tracks),
        "track_names": [],
        "task": "binary",
        "target_names": ["label"],
        "output_names": ["label"],
        "n_value": 0.25,
        "rc_average": bool(rc_average),
        "seed": seed,
    }
    save_bundle(path, model.state_dict(), meta)


def bare_loop(model: torch.nn.Module, x: torch.Tensor, batch_size: int) -> None:
    with torch.inference_mode():
        for start in range(0, len(x), batch_size):
            model(x[start : start + batch_size])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=3, help="times the 8,478 records are repeated")
    ap.add_argument("--repeats", type=int, default=7, help="interleaved repeats (>= 3)")
    ap.add_argument("--batch-size", type=int, default=CPU_BATCH_SIZE)
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    bs = args.batch_size
    pinned = pin_malloc()  # allocation costs independent of what ran before (machine.py)
    probe = LoadProbe()

    parsed = [(r.id, r.sequence) for path in FASTAS for r in read_fasta(path)]
    records = [(f"{rid}#{c}", seq) for c in range(args.copies) for rid, seq in parsed]
    seqs = [seq for _, seq in records]
    n = len(records)

    with tempfile.TemporaryDirectory(prefix="cislearn-bench-") as tmp:
        bundle, tsv = Path(tmp) / "bundle", Path(tmp) / "preds.tsv"
        save_untrained_bundle(bundle)
        predictor: Predictor = load(bundle, device="cpu")
        model = predictor.model
        x = torch.from_numpy(one_hot(seqs))

        def cislearn_records() -> None:
            for _ in predict_records(predictor, records, batch_size=bs):
                pass

        def bare_model() -> None:
            bare_loop(model, x, bs)

        def bare_encode_model() -> None:
            bare_loop(model, torch.from_numpy(one_hot(seqs)), bs)

        def cislearn_files_to_tsv() -> None:  # what `cislearn predict RUN INPUT` does
            stream = itertools.chain.from_iterable(read_fasta(p) for p in FASTAS)
            with atomic_write(tsv) as fh:
                for i, chunk in enumerate(predict_records(predictor, stream, batch_size=bs)):
                    chunk.to_csv(fh, sep="\t", index=False, header=i == 0, float_format="%.6g")

        cases: dict[str, tuple[Callable[[], None], int]] = {
            OURS: (cislearn_records, n),
            BARE: (bare_model, n),
            "bare one_hot + model(x)": (bare_encode_model, n),
            "cislearn .fa.gz -> TSV (parse, predict, write)": (cislearn_files_to_tsv, len(parsed)),
        }
        # the same numbers from both routes (and warm-up: numba kernel, allocator, caches)
        first = next(predict_records(predictor, records[:1000], batch_size=bs))
        with torch.inference_mode():
            expected = model(x[:1000]).numpy()[:, 0]
        np.testing.assert_allclose(first["label_logit"], expected, rtol=1e-5, atol=1e-6)
        for fn, _ in cases.values():
            fn()

        rates: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(max(3, args.repeats)):  # interleaved: A B C D A B C D ...
            for name, (fn, count) in cases.items():
                t0 = time.perf_counter()
                fn()
                rates[name].append(count / (time.perf_counter() - t0))

    med = {name: statistics.median(r) for name, r in rates.items()}
    ours, bare = med[OURS], med[BARE]
    ratio = ours / bare
    print(
        f"{ARCH} at {LENGTH} bp, {n:,} sequences ({len(parsed):,} CTCF records x {args.copies}), "
        f"batch {bs}, {threads} torch thread(s), {max(3, args.repeats)} interleaved repeats"
    )
    print(f"{'case':50s} {'seq/s':>9s} {'vs bare':>8s}")
    for name, rate in med.items():
        print(f"{name:50s} {rate:9,.0f} {rate / bare:8.3f}")
    verdict = "PASS" if ours >= TARGET else "FAIL"
    print(f"predict_records: {ours:,.0f} seq/s  target >= {TARGET:,}  {verdict}")
    print(f"ratio to bare model(x) = {ratio:.3f}")
    machine = probe.finish(threads, torch=torch.__version__)

    result = {
        "benchmark": "predict",
        "arch": ARCH,
        "length": LENGTH,
        "n_sequences": n,
        "batch_size": bs,
        "threads": threads,
        "malloc_pinned": pinned,
        "repeats": max(3, args.repeats),
        "seq_per_s": ours,
        "target_seq_per_s": TARGET,
        "pass": ours >= TARGET,
        "ratio_to_bare_model": ratio,
        "median_seq_per_s": med,
        "seq_per_s_all": rates,
        "machine": machine,
    }
    write_result(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
