"""Benchmark: baseline feature matrices on the 8,478 shared CTCF sequences.

Targets (issue 4): the motif-count matrix of all JASPAR CORE vertebrate motifs (~1,000, newest
bundled release) for the 8,478 sequences in <= 3 s on 2 cores, FASTA reading included; gapped
k-mer (3, 3) features for the same sequences in <= 2 s.

Measured, interleaved (A B C D E A B C D E ...), median of the repeats:
A. ``motif_counts`` from the two .fa.gz files (read + encode + FIMO + per-sequence counts);
B. memelite's ``fimo`` alone on the pre-encoded one-hot array (the floor A is compared to);
C. ``gapped_kmer_counts(k=3, max_gap=3)`` from the .fa.gz files, and D. on parsed strings;
E. ``kmer_counts(k=6)`` on parsed strings, for context.
Also: first and second run of ``motif_counts`` in fresh processes sharing a new, empty numba
cache directory (``NUMBA_CACHE_DIR``): the first compiles memelite's kernels and writes the
cache, the second loads it.

Run: ``.venv/bin/python benchmarks/features.py`` (writes benchmarks/results/features.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from cislearn.encode import one_hot
from cislearn.features import gapped_kmer_counts, kmer_counts
from cislearn.io.fasta import read_fasta
from cislearn.io.jaspar import load_jaspar
from cislearn.motif_counts import motif_counts
from machine import LoadProbe, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
FASTAS = (DATA / "pos.fa.gz", DATA / "neg.fa.gz")
RESULTS = ROOT / "benchmarks" / "results" / "features.json"
MOTIF_TARGET_S = 3.0
GAPPED_TARGET_S = 2.0

COLD = """
import time
t0 = time.perf_counter()
from pathlib import Path
from cislearn.io.fasta import read_fasta
from cislearn.motif_counts import motif_counts
seqs = [r.sequence for p in {fastas!r} for r in read_fasta(Path(p))]
fm = motif_counts(seqs)
print(time.perf_counter() - t0, fm.shape[1])
"""


def read_seqs() -> list[str]:
    return [rec.sequence for path in FASTAS for rec in read_fasta(path)]


def cold_runs() -> list[float]:
    """Wall time of two fresh processes (imports included) sharing a new numba cache."""
    times = []
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, "NUMBA_CACHE_DIR": cache}
        code = COLD.format(fastas=[str(p) for p in FASTAS])
        for _ in range(2):
            t0 = time.perf_counter()
            done = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            wall = time.perf_counter() - t0
            inner = float(done.stdout.split()[0])
            print(f"  fresh process: {wall:.1f} s wall ({inner:.1f} s after interpreter start)")
            times.append(wall)
    return times


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--no-cold", action="store_true", help="skip the fresh-process runs")
    args = ap.parse_args(argv)

    from memelite import fimo

    probe = LoadProbe()
    motifs = load_jaspar()  # newest bundled release, CORE, vertebrates
    seqs = read_seqs()
    x = one_hot(seqs, n_value=0.0)
    pwms = {m.label: m.pfm for m in motifs}
    print(f"{len(seqs)} sequences, {len(motifs)} JASPAR CORE vertebrate motifs")

    cases: dict[str, Callable[[], object]] = {
        "motif_counts from FASTA": lambda: motif_counts(read_seqs(), motifs),
        "memelite fimo alone (pre-encoded)": lambda: fimo(pwms, x, threshold=1e-4),
        "gapped k-mer (3,3) from FASTA": lambda: gapped_kmer_counts(read_seqs(), k=3, max_gap=3),
        "gapped k-mer (3,3) on strings": lambda: gapped_kmer_counts(seqs, k=3, max_gap=3),
        "k-mer 6 on strings": lambda: kmer_counts(seqs, k=6),
    }
    for fn in cases.values():  # warm-up: numba kernels loaded from the on-disk cache
        fn()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(max(1, args.repeats)):
        for name, fn in cases.items():
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(v) for name, v in times.items()}
    for name, v in med.items():
        print(f"{name:38s} {v:6.2f} s  (all: {', '.join(f'{t:.2f}' for t in times[name])})")
    motif_s = med["motif_counts from FASTA"]
    gapped_s = med["gapped k-mer (3,3) from FASTA"]
    ratio = motif_s / med["memelite fimo alone (pre-encoded)"]
    print(f"motif counts: {motif_s:.2f} s (target <= {MOTIF_TARGET_S} s); {ratio:.2f}x fimo alone")
    print(f"gapped k-mer (3,3): {gapped_s:.2f} s (target <= {GAPPED_TARGET_S} s)")
    cold = [] if args.no_cold else cold_runs()
    machine = probe.finish(os.cpu_count() or 1)
    result = {
        "benchmark": "features",
        "n_sequences": len(seqs),
        "n_motifs": len(motifs),
        "repeats": max(1, args.repeats),
        "median_s": med,
        "all_s": times,
        "motif_counts_s": motif_s,
        "motif_target_s": MOTIF_TARGET_S,
        "motif_pass": motif_s <= MOTIF_TARGET_S,
        "motif_ratio_to_fimo_alone": ratio,
        "gapped_s": gapped_s,
        "gapped_target_s": GAPPED_TARGET_S,
        "gapped_pass": gapped_s <= GAPPED_TARGET_S,
        "fresh_process_first_second_s": cold,
        "machine": machine,
    }
    write_result(RESULTS, result)
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
