"""Benchmark: seconds per epoch of cislearn training vs a bare PyTorch loop (target ratio <= 1.10).

Both train the same ``cnn`` (built by ``cislearn.models.registry.build_model``, default
parameters) at 201 bp on the shared CTCF data with the same split, batch size, optimiser (Adam,
lr 1e-3), loss (BCE with logits) and torch thread count, and both validate after every epoch
(loss, AUROC, AUPRC). The bare loop is the leanest plain-PyTorch loop we could write: the data
pre-encoded once, batches cut from a ``randperm`` by indexing, no DataLoader, no checkpoints.
cislearn's side is ``cislearn.train.fit`` exactly as ``cislearn train`` runs it, so its epochs
also include the Lightning loop, the DataLoader and two checkpoint writes per epoch.

An epoch of ``fit`` is the wall time between two consecutive per-epoch progress callbacks
(end of one validation to the end of the next: checkpoint saving, training, validation).
Runs are interleaved (cislearn, bare, cislearn, bare, ...); each run drops its first epoch
as warm-up; the ratio is median(cislearn) / median(bare) over all kept epochs.

glibc's malloc is pinned first (``mallopt``: mmap threshold 32 MiB, trim threshold 1 GiB; see
:func:`machine.pin_malloc`). With its defaults the activation buffers (~12 MB at batch 128) go back
and forth between mmap and the heap depending on the process's history, and the same loop
ran 1.35 s or 2.1 s per epoch from one run to the next; pinned, runs agree within ~5 %. Both
sides share the process, so this removes noise, not overhead (``--default-malloc`` to skip).

Run: ``.venv/bin/python benchmarks/train_overhead.py`` (~1.5 minutes on 2 idle cores; writes
benchmarks/results/train_overhead.json).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pytorch_lightning as pl
import torch
from sklearn.metrics import average_precision_score, roc_auc_score

from cislearn.config import TrainConfig
from cislearn.data import OneHotDataset, SequenceDataset, assign_split, load_dataset
from cislearn.models.registry import build_model
from cislearn.train import default_threads, fit
from machine import LoadProbe, pin_malloc, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results" / "train_overhead.json"
TARGET = 1.10
ARCH = "cnn"
LR = 1e-3


def cislearn_epochs(
    ds: SequenceDataset, *, batch_size: int, epochs: int, threads: int
) -> tuple[list[float], float]:
    """Seconds of each epoch after the first (from ``fit``'s per-epoch progress calls), and
    the last epoch's validation AUROC."""
    stamps: list[float] = []
    cfg = TrainConfig(
        arch=ARCH,
        batch_size=batch_size,
        max_epochs=epochs + 1,
        # early stopping watched as in a real run, but never triggered: equal epochs per run
        patience=max(TrainConfig().patience, epochs + 2),
        optimizer="adam",
        lr=LR,
        num_threads=threads,
    )
    with tempfile.TemporaryDirectory(prefix="cislearn-bench-") as workdir:
        result = fit(
            ds, cfg, workdir=workdir, progress=lambda *_: stamps.append(time.perf_counter())
        )
    return np.diff(stamps).tolist(), float(result.history["valid_auroc"].iloc[-1])


def bare_epochs(
    ds: SequenceDataset, *, batch_size: int, epochs: int, threads: int
) -> tuple[list[float], float]:
    """Seconds of each epoch after the first of a plain PyTorch loop on the same split, and
    the last epoch's validation AUROC."""
    old_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.manual_seed(0)
        train, valid = OneHotDataset(ds.part("train")), OneHotDataset(ds.part("valid"))
        model = build_model(ARCH, length=train.x.shape[2], n_outputs=1)
        opt = torch.optim.Adam(model.parameters(), lr=LR)
        loss_fn = torch.nn.BCEWithLogitsLoss()
        n = len(train)
        times = []
        for _ in range(epochs + 1):
            t0 = time.perf_counter()
            model.train()
            order = torch.randperm(n)
            for start in range(0, n, batch_size):
                idx = order[start : start + batch_size]
                opt.zero_grad(set_to_none=True)
                loss = loss_fn(model(train.x[idx]), train.y[idx])
                loss.backward()
                opt.step()
            model.eval()
            with torch.no_grad():
                out = torch.cat(
                    [model(valid.x[s : s + batch_size]) for s in range(0, len(valid), batch_size)]
                )
                float(loss_fn(out, valid.y))
            y, p = valid.y.numpy()[:, 0], torch.sigmoid(out).numpy()[:, 0]
            auroc, _ = roc_auc_score(y, p), average_precision_score(y, p)
            times.append(time.perf_counter() - t0)
    finally:
        torch.set_num_threads(old_threads)
    return times[1:], float(auroc)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128])
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per run (after warm-up)")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved runs of each side")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    ap.add_argument("--default-malloc", action="store_true", help="do not pin glibc's malloc")
    args = ap.parse_args(argv)
    pinned = False if args.default_malloc else pin_malloc()
    threads = args.threads or default_threads()
    probe = LoadProbe()

    pos, neg = DATA / "pos.fa.gz", DATA / "neg.fa.gz"
    ds = load_dataset(pos=pos, neg=neg)
    ds = assign_split(ds, **TrainConfig().split_kwargs())  # fit's default split, made explicit
    n_train, n_valid = len(ds.part("train")), len(ds.part("valid"))

    rows = []
    for bs in args.batch_sizes:
        times: dict[str, list[float]] = {"cislearn": [], "bare": []}
        aurocs: dict[str, list[float]] = {"cislearn": [], "bare": []}
        for _ in range(args.repeats):  # interleaved: cislearn, bare, cislearn, bare, ...
            kw = {"batch_size": bs, "epochs": args.epochs, "threads": threads}
            for name, run in (("cislearn", cislearn_epochs), ("bare", bare_epochs)):
                seconds, auroc = run(ds, **kw)
                times[name] += seconds
                aurocs[name].append(auroc)
        med = {k: statistics.median(v) for k, v in times.items()}
        ratio = med["cislearn"] / med["bare"]
        rows.append({
            "batch_size": bs,
            "median_s_per_epoch": med,
            "ratio": ratio,
            "pass": ratio <= TARGET,
            "final_valid_auroc": aurocs,
            "epoch_times_s": times,
        })  # fmt: skip

    print(
        f"{ARCH} at 201 bp on CTCF GM12878: {n_train} train / {n_valid} valid sequences, "
        f"Adam lr {LR:g}, {threads} torch thread(s), {args.repeats} interleaved runs x "
        f"{args.epochs} timed epochs, malloc {'pinned' if pinned else 'default'}"
    )
    print(
        f"{'batch':>5s} {'cislearn s/epoch':>17s} {'bare s/epoch':>13s} {'ratio':>6s} "
        f"{'AUROC cislearn/bare':>20s}  verdict"
    )
    for r in rows:
        m, a = r["median_s_per_epoch"], r["final_valid_auroc"]
        verdict = "PASS" if r["pass"] else "FAIL"
        aucs = f"{statistics.median(a['cislearn']):.3f} / {statistics.median(a['bare']):.3f}"
        print(
            f"{r['batch_size']:5d} {m['cislearn']:17.3f} {m['bare']:13.3f} "
            f"{r['ratio']:6.3f} {aucs:>20s}  {verdict} (target <= {TARGET})"
        )
    machine = probe.finish(threads, torch=torch.__version__, pytorch_lightning=pl.__version__)

    result = {
        "benchmark": "train_overhead",
        "arch": ARCH,
        "data": {"pos": str(pos), "neg": str(neg), "n_train": n_train, "n_valid": n_valid},
        "optimizer": "adam",
        "lr": LR,
        "threads": threads,
        "malloc_pinned": pinned,
        "repeats": args.repeats,
        "timed_epochs_per_run": args.epochs,
        "target": TARGET,
        "pass": all(r["pass"] for r in rows),
        "rows": rows,
        "machine": machine,
    }
    write_result(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
