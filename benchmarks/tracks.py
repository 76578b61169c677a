"""Benchmark: bigWig window reading and genome scans (issue 16 targets).

1. **Reading.** Mean signal of 100,000 windows of 1 kb from a bigWig:
   :meth:`cislearn.io.bigwig.BigWig.window_stats` (with the missing-value rule and counts)
   against a bare loop of pyBigWig's own ``bw.stats(chrom, start, end, type="mean",
   exact=True)`` over the same windows, interleaved. Target: ratio >= 0.5 (no slower wrapper).
   The track is synthetic: 3 chromosomes × 40 Mb, 50-bp bins with values on 70 % of them.
2. **Scan.** ``scan_to_bigwig`` (what ``cislearn scan`` runs) of one 10 Mb region at stride 50
   with an untrained ``cnn`` (201 bp; throughput does not depend on the weights), written to a
   bigWig; the convolution of each position is shared by the windows holding it
   (:mod:`cislearn.fastpath.scanconv`). Target >= 20,000 windows/s. Memory must be flat in
   region size: the peak of Python
   allocations (tracemalloc, which numpy reports to) during a 2 Mb and a 10 Mb scan are
   compared; the ratio must stay below 1.5.

Run: ``.venv/bin/python benchmarks/tracks.py`` (a few minutes on 2 cores; writes
benchmarks/results/tracks.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pyBigWig
import torch

from cislearn.io.bigwig import BigWig
from cislearn.pipelines.scan import scan_to_bigwig
from machine import LoadProbe, pin_malloc, write_result
from predict import save_untrained_bundle

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "tracks.json"
READ_TARGET = 0.5
SCAN_TARGET = 20_000
N_WINDOWS, WINDOW = 100_000, 1_000
CHROMS = {"chr1": 40_000_000, "chr2": 40_000_000, "chr3": 40_000_000}


def make_bigwig(path: Path, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(CHROMS.items()))
    for chrom, size in CHROMS.items():
        starts = np.arange(0, size, 50)
        keep = rng.random(len(starts)) < 0.7
        s = starts[keep]
        v = rng.gamma(2.0, 2.0, size=len(s))
        bw.addEntries([chrom] * len(s), s.tolist(), ends=(s + 50).tolist(), values=v.tolist())
    bw.close()


def make_genome(path: Path, length: int, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    seq = np.array(list("ACGT"))[rng.integers(0, 4, size=length)]
    text = "".join(seq)
    with open(path, "w") as fh:
        fh.write(">chrS\n")
        for i in range(0, length, 80):
            fh.write(text[i : i + 80] + "\n")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (>= 3)")
    ap.add_argument("--scan-mb", type=float, default=10.0, help="region size of the scan")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    pinned = pin_malloc()
    probe = LoadProbe()
    repeats = max(3, args.repeats)
    rng = np.random.default_rng(1)

    with tempfile.TemporaryDirectory(prefix="cislearn-bench-") as tmp:
        tmp = Path(tmp)
        # -- 1. reading ------------------------------------------------------------------------
        make_bigwig(tmp / "t.bw")
        names = list(CHROMS)
        chroms = [names[i] for i in rng.integers(0, len(names), size=N_WINDOWS)]
        starts = rng.integers(0, 40_000_000 - WINDOW, size=N_WINDOWS)
        ends = starts + WINDOW

        def ours() -> np.ndarray:
            with BigWig(tmp / "t.bw") as bw:
                return bw.window_stats(chroms, starts, ends, stat="mean").values

        def bare() -> list:
            bw = pyBigWig.open(str(tmp / "t.bw"))
            out = [
                bw.stats(c, int(s), int(e), type="mean", exact=True)[0]
                for c, s, e in zip(chroms, starts, ends, strict=True)
            ]
            bw.close()
            return out

        # same numbers: pyBigWig's mean is over covered bases; ours over the window
        check = pyBigWig.open(str(tmp / "t.bw"))
        cover = [
            check.stats(c, int(s), int(e), type="coverage", exact=True)[0]
            for c, s, e in zip(chroms[:2000], starts[:2000], ends[:2000], strict=True)
        ]
        check.close()
        np.testing.assert_allclose(
            ours()[:2000], np.array(bare()[:2000], float) * np.array(cover), rtol=1e-5
        )
        times: dict[str, list[float]] = {"cislearn BigWig.window_stats": [], "bare pyBigWig": []}
        for _ in range(repeats):
            for name, fn in (("cislearn BigWig.window_stats", ours), ("bare pyBigWig", bare)):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
        read_med = {k: N_WINDOWS / statistics.median(v) for k, v in times.items()}
        read_ratio = read_med["cislearn BigWig.window_stats"] / read_med["bare pyBigWig"]

        # -- 2. scan ---------------------------------------------------------------------------
        size = int(args.scan_mb * 1_000_000)
        make_genome(tmp / "g.fa", size + 1_000)
        save_untrained_bundle(tmp / "run")
        scan_rates: list[float] = []
        peaks: dict[str, int] = {}

        def scan(mb: float, out: str) -> tuple[int, float]:
            region = tmp / f"{out}.bed"
            region.write_text(f"chrS\t500\t{500 + int(mb * 1_000_000)}\n")
            t0 = time.perf_counter()
            res = scan_to_bigwig(
                tmp / "run", tmp / "g.fa", tmp / f"{out}.bw", regions=region, force=True
            )
            return res.n_windows, time.perf_counter() - t0

        scan(0.5, "warm")  # numba kernel compiled, caches warm
        for _ in range(repeats):
            n, sec = scan(args.scan_mb, "big")
            scan_rates.append(n / sec)
        for label, mb in (("2 Mb", 2.0), (f"{args.scan_mb:g} Mb", args.scan_mb)):
            tracemalloc.start()
            scan(mb, "mem")
            peaks[label] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        # the bigWig opens and matches a direct prediction of one window
        bw = pyBigWig.open(str(tmp / "big.bw"))
        n_written = sum(1 for _ in bw.intervals("chrS"))
        bw.close()

    scan_rate = statistics.median(scan_rates)
    mem_values = list(peaks.values())
    mem_ratio = mem_values[1] / mem_values[0]
    print(f"read {N_WINDOWS:,} windows of {WINDOW} bp, {repeats} interleaved repeats:")
    for k, v in read_med.items():
        print(f"  {k:32s} {v:12,.0f} windows/s")
    print(f"  ratio {read_ratio:.3f}  target >= {READ_TARGET}  "
          f"{'PASS' if read_ratio >= READ_TARGET else 'FAIL'}")  # fmt: skip
    print(f"scan {args.scan_mb:g} Mb at stride 50 with cnn (201 bp), {threads} thread(s): "
          f"{scan_rate:,.0f} windows/s ({n_written:,} bins written)  target >= {SCAN_TARGET:,}  "
          f"{'PASS' if scan_rate >= SCAN_TARGET else 'FAIL'}")  # fmt: skip
    print("peak traced memory: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in peaks.items())
          + f" (ratio {mem_ratio:.2f}; flat if < 1.5)")  # fmt: skip
    machine = probe.finish(threads, torch=torch.__version__)
    write_result(
        RESULTS,
        {
            "benchmark": "tracks",
            "threads": threads,
            "malloc_pinned": pinned,
            "repeats": repeats,
            "read_windows": N_WINDOWS,
            "read_window_bp": WINDOW,
            "read_windows_per_s": read_med,
            "read_ratio_to_pybigwig": read_ratio,
            "read_target_ratio": READ_TARGET,
            "read_pass": read_ratio >= READ_TARGET,
            "scan_region_bp": size,
            "scan_stride": 50,
            "scan_arch": "cnn",
            "scan_windows_per_s": scan_rate,
            "scan_windows_per_s_all": scan_rates,
            "scan_target": SCAN_TARGET,
            "scan_pass": scan_rate >= SCAN_TARGET,
            "scan_peak_traced_bytes": peaks,
            "scan_memory_ratio": mem_ratio,
            "scan_memory_flat": mem_ratio < 1.5,
            "machine": machine,
        },
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
