"""Dinucleotide shuffles per second: cislearn vs tangermeme, measured side by side.

Target (issue): cislearn >= 2x tangermeme.ersatz.dinucleotide_shuffle in its fastest mode,
with exact dinucleotide counts. Input: the 4,000 shared CTCF positives (201 bp), 20 shuffles
each. Every method is warmed up first (numba compiles or loads its cache), then all are timed
interleaved, ``--repeats`` rounds, and the median is reported. Every cislearn output is
checked for exact counts (and kept first/last letters). Writes benchmarks/results/shuffle.json.

    .venv/bin/python benchmarks/shuffle.py [--repeats 5]    # exit status 1 below the 2x target
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numba
import numpy as np
import torch
from tangermeme import __version__ as tangermeme_version
from tangermeme.ersatz import dinucleotide_shuffle
from tangermeme.utils import PackedSequence

from cislearn.encode import to_codes
from cislearn.io.fasta import read_fasta
from cislearn.negatives import kshuffle, shuffle_codes

ROOT = Path(__file__).resolve().parents[1]
POS = ROOT.parent / "shared" / "data" / "ctcf_gm12878" / "pos.fa.gz"
OUT = ROOT / "benchmarks" / "results" / "shuffle.json"
N_SHUFFLES = 20


def dinuc_counts(codes: np.ndarray) -> np.ndarray:
    """Dinucleotide counts of each row of codes (rows, L): shape (rows, 25)."""
    ids = codes[:, :-1].astype(np.int64) * 5 + codes[:, 1:]
    flat = ids + (np.arange(codes.shape[0]) * 25)[:, None]
    return np.bincount(flat.ravel(), minlength=25 * codes.shape[0]).reshape(-1, 25)


def check_exact(original: np.ndarray, shuffled: np.ndarray) -> None:
    """Raise unless every shuffle keeps its input's dinucleotide counts and both ends."""
    n, length = original.shape
    flat = shuffled.reshape(-1, length)
    rep = np.repeat(original, flat.shape[0] // n, axis=0)
    if not np.array_equal(dinuc_counts(flat), dinuc_counts(rep)):
        raise SystemExit("cislearn shuffle changed dinucleotide counts")
    if not (np.array_equal(flat[:, 0], rep[:, 0]) and np.array_equal(flat[:, -1], rep[:, -1])):
        raise SystemExit("cislearn shuffle changed the first or last letter")


def with_threads(n: int, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        numba.set_num_threads(n)
        return fn()

    return run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    seqs = [r.sequence for r in read_fasta(POS)]
    codes = to_codes(seqs)
    n, length = codes.shape
    total = n * N_SHUFFLES
    x_int8 = torch.nn.functional.one_hot(torch.from_numpy(codes.astype(np.int64)), 5)[..., :4]
    x_int8 = x_int8.permute(0, 2, 1).contiguous().to(torch.int8)  # (n, 4, L)
    x_f32 = x_int8.float()
    x_packed = PackedSequence.from_one_hot(x_int8)
    threads = min(2, numba.config.NUMBA_NUM_THREADS)

    seed = [0]
    methods: dict[str, Callable[[], object]] = {
        "cislearn shuffle_codes (uint8 codes, 2 threads)": with_threads(
            threads, lambda: shuffle_codes(codes, k=2, n_shuffles=N_SHUFFLES, seed=seed[0])
        ),
        "cislearn shuffle_codes (uint8 codes, 1 thread)": with_threads(
            1, lambda: shuffle_codes(codes, k=2, n_shuffles=N_SHUFFLES, seed=seed[0])
        ),
        "cislearn kshuffle (str in/out, 2 threads)": with_threads(
            threads, lambda: kshuffle(seqs, k=2, n_shuffles=N_SHUFFLES, seed=seed[0])
        ),
        "tangermeme int8 one-hot, return_packed, n_jobs=2": lambda: dinucleotide_shuffle(
            x_int8, n=N_SHUFFLES, random_state=seed[0], return_packed=True, n_jobs=2
        ),
        "tangermeme PackedSequence in/out, n_jobs=2": lambda: dinucleotide_shuffle(
            x_packed, n=N_SHUFFLES, random_state=seed[0], return_packed=True, n_jobs=2
        ),
        "tangermeme float32 one-hot (default)": lambda: dinucleotide_shuffle(
            x_f32, n=N_SHUFFLES, random_state=seed[0]
        ),
    }
    for fn in methods.values():  # warm-up: numba compilation / cache loading
        fn()
    times: dict[str, list[float]] = {name: [] for name in methods}
    for rep in range(args.repeats):
        seed[0] = rep
        for name, fn in methods.items():
            t0 = time.perf_counter()
            out = fn()
            times[name].append(time.perf_counter() - t0)
            if name.startswith("cislearn"):  # verify every cislearn output (untimed)
                arr = to_codes(out) if isinstance(out, list) else out
                check_exact(codes, np.asarray(arr))
            del out
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)

    rate = {name: total / statistics.median(t) for name, t in times.items()}
    ours = rate["cislearn shuffle_codes (uint8 codes, 2 threads)"]
    tm_fastest_name = max((k for k in rate if k.startswith("tangermeme")), key=rate.get)
    tm_fastest = rate[tm_fastest_name]
    print(
        f"{n} sequences x {N_SHUFFLES} dinucleotide shuffles ({length} bp), median of "
        f"{args.repeats} interleaved runs, {os.cpu_count()} cores"
    )
    print(f"{'method':<52} {'shuffles/s':>12} {'vs tangermeme fastest':>22}")
    for name, r in sorted(rate.items(), key=lambda kv: -kv[1]):
        print(f"{name:<52} {r:>12,.0f} {r / tm_fastest:>21.2f}x")
    one = rate["cislearn shuffle_codes (uint8 codes, 1 thread)"]
    print(f"cislearn 2 vs 1 thread: {ours / one:.2f}x; all cislearn outputs exact")
    result = {
        "benchmark": "dinucleotide shuffle",
        "data": "shared/data/ctcf_gm12878/pos.fa.gz",
        "n_sequences": n,
        "length": length,
        "n_shuffles": N_SHUFFLES,
        "repeats": args.repeats,
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "numba_threading_layer": numba.threading_layer(),
        },
        "versions": {
            "numpy": np.__version__,
            "numba": numba.__version__,
            "torch": torch.__version__,
            "tangermeme": tangermeme_version,
        },
        "shuffles_per_s": {k: round(v) for k, v in rate.items()},
        "seconds": times,
        "tangermeme_fastest_mode": tm_fastest_name,
        "ratio_vs_tangermeme_fastest": round(ours / tm_fastest, 2),
        "ratio_vs_tangermeme_float32": round(
            ours / rate["tangermeme float32 one-hot (default)"], 2
        ),
        "ratio_2_vs_1_thread": round(ours / one, 2),
        "target_ratio": 2.0,
        "counts_exact": True,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"written {OUT.relative_to(ROOT)}")
    return 0 if ours / tm_fastest >= 2.0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
