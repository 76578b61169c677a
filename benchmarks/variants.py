"""Benchmark: ``score_variants`` SNV throughput for ``cnn`` at 201 bp (target >= 10,000 SNV/s).

Measured: SNVs per second from a VCF file to scored DataFrames (VCF parsing, genome access
through pyfaidx, encoding, ref and alt outputs, Δscores) with
``cislearn.variants.iter_variant_scores``, on a synthetic genome (8 chromosomes x 2 Mb,
uniform bases) and random SNVs, with the ``cnn`` model (128 filters x 16) untrained (speed
does not depend on the weights). Cases, side by side in one run:

- ``naive`` SNV method: two full forward passes per variant — the issue's "naive scoring"
  baseline — through the whole pipeline;
- ``auto`` SNV method (the default, :data:`cislearn.variants.SNV_METHOD`): for ``cnn`` the
  exact one-substitution fast path of :func:`cislearn.interpret.ism.substitution_logits`,
  which on the CPU runs from base codes (:mod:`cislearn.fastpath.codeconv`: no one-hot input);
- a bare ``model(x)`` loop over the same number of pre-encoded windows (one forward pass per
  variant: the ceiling for any method that computes the reference output);
- the same pipeline without the model (parsing, genome access, windows, base codes): the
  ceiling set by everything but the forward passes;
- the default null (10,000 random substitutions) as a separate one-off cost.

Cases are interleaved (A B C A B C ...); each figure is the median over the repeats.
glibc's malloc is pinned first (:func:`machine.pin_malloc`), as in train_overhead.py.

Run: ``.venv/bin/python benchmarks/variants.py [--n 100000]`` (writes
benchmarks/results/variants.json).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from cislearn.encode import one_hot, to_codes
from cislearn.io.genome import Genome
from cislearn.predict import load
from cislearn.variants import VariantScorer, iter_variant_scores
from machine import LoadProbe, pin_malloc, write_result
from predict import save_untrained_bundle

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "variants.json"
TARGET = 10_000
CHROMS, CHROM_LEN, LENGTH = 8, 2_000_000, 201


def write_inputs(folder: Path, n: int, seed: int = 0) -> tuple[Path, Path]:
    rng = np.random.default_rng(seed)
    fasta, vcf = folder / "genome.fa", folder / "snvs.vcf"
    seqs = {}
    with open(fasta, "w") as fh:
        for c in range(CHROMS):
            name = f"chr{c + 1}"
            seq = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, CHROM_LEN)].tobytes()
            seqs[name] = seq
            fh.write(f">{name}\n")
            fh.write("\n".join(seq[i : i + 60].decode() for i in range(0, CHROM_LEN, 60)) + "\n")
    chrom = rng.integers(0, CHROMS, n)
    pos = rng.integers(1, CHROM_LEN + 1, n)
    order = np.lexsort((pos, chrom))  # a sorted VCF, as tools write them
    with open(vcf, "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write("".join(f"##contig=<ID=chr{c + 1},length={CHROM_LEN}>\n" for c in range(CHROMS)))
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n")
        lines = []
        for k, i in enumerate(order):
            name = f"chr{chrom[i] + 1}"
            ref = chr(seqs[name][pos[i] - 1])
            alt = "ACGT"[("ACGT".index(ref) + 1 + k % 3) % 4]
            lines.append(f"{name}\t{pos[i]}\trs{k}\t{ref}\t{alt}\t.\t.\t.\n")
        fh.write("".join(lines))
    return fasta, vcf


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=100_000, help="random SNVs")
    ap.add_argument("--repeats", type=int, default=3, help="interleaved repeats (>= 1)")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (default: cores)")
    args = ap.parse_args(argv)
    threads = args.threads or len(os.sched_getaffinity(0))
    torch.set_num_threads(threads)
    pinned = pin_malloc()  # allocation costs independent of what ran before (machine.py)
    probe = LoadProbe()
    n = args.n

    with tempfile.TemporaryDirectory(prefix="cislearn-bench-") as tmp:
        fasta, vcf = write_inputs(Path(tmp), n)
        save_untrained_bundle(Path(tmp) / "bundle")
        predictor = load(Path(tmp) / "bundle", device="cpu")
        genome = Genome(fasta)

        def pipeline(method: str) -> Callable[[], None]:
            def fn() -> None:
                scorer = VariantScorer(predictor, genome, n_null=0, method=method)
                for _ in iter_variant_scores(scorer, vcf):
                    pass

            return fn

        windows = VariantScorer(predictor, genome, n_null=0)
        first = [w for w in _windows(windows, vcf, 4096)]
        x = torch.from_numpy(one_hot(first))

        def bare() -> None:  # one forward pass per variant on pre-encoded windows
            with torch.inference_mode():
                for _ in range(max(1, n // len(x))):
                    for s in range(0, len(x), 128):
                        predictor.model(x[s : s + 128])

        def no_model() -> None:  # VCF parsing + genome access + windows + codes only
            scorer = VariantScorer(predictor, genome, n_null=0)
            it = _iter(vcf)
            while chunk := [v for v, _ in zip(it, range(4096), strict=False)]:
                prep = scorer.windows.prepare(chunk)
                to_codes(prep.snv_windows)

        def null_cost() -> float:
            """Seconds to draw and score the null after one chunk offered its candidates
            (the null is drawn once, after the last chunk)."""
            scorer = VariantScorer(predictor, genome, n_null=10_000)
            scorer.score([v for v, _ in zip(_iter(vcf), range(4096), strict=False)])
            start = time.perf_counter()
            scorer.finish()
            assert scorer.null is not None and scorer.null.n == 10_000
            return time.perf_counter() - start

        bare_count = max(1, n // len(x)) * len(x)
        cases: dict[str, tuple[Callable[[], None], int]] = {
            "score_variants, SNV method naive": (pipeline("naive"), n),
            "score_variants, SNV method auto (default)": (pipeline("auto"), n),
            "bare model(x), one forward per variant": (bare, bare_count),
            "parse + genome + windows + codes, no model": (no_model, n),
        }
        # the same numbers from both methods (and warm-up)
        a = VariantScorer(predictor, genome, n_null=0, method="naive")
        b = VariantScorer(predictor, genome, n_null=0, method="fast")
        head = [v for v, _ in zip(_iter(vcf), range(500), strict=False)]
        fa, fb = a.score(head), b.score(head)
        diff = float(np.max(np.abs(fa["label_delta_logit"] - fb["label_delta_logit"])))
        rates: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(max(1, args.repeats)):
            for name, (fn, count) in cases.items():
                t0 = time.perf_counter()
                fn()
                rates[name].append(count / (time.perf_counter() - t0))
        null_seconds = null_cost()

    med = {name: statistics.median(r) for name, r in rates.items()}
    ours = med["score_variants, SNV method auto (default)"]
    naive = med["score_variants, SNV method naive"]
    best = ours  # the default path
    bare_rate = med["bare model(x), one forward per variant"]
    print(
        f"cnn 128x16 at {LENGTH} bp, {n:,} random SNVs on {CHROMS} x {CHROM_LEN:,} bp, "
        f"{threads} torch thread(s), {max(1, args.repeats)} interleaved repeats"
    )
    print(f"{'case':48s} {'SNV/s':>9s} {'vs naive':>9s}")
    for name, rate in med.items():
        print(f"{name:48s} {rate:9,.0f} {rate / naive:9.3f}")
    print(f"null of 10,000 random substitutions: {null_seconds:.2f} s once per call")
    print(f"max |Δlogit| fast vs naive on 500 SNVs: {diff:.2e}")
    verdict = "PASS" if best >= TARGET else "FAIL"
    print(f"default SNV/s {best:,.0f}  target >= {TARGET:,}  {verdict}")
    machine = probe.finish(threads, torch=torch.__version__)
    write_result(
        RESULTS,
        {
            "benchmark": "variants",
            "arch": "cnn",
            "length": LENGTH,
            "n_snvs": n,
            "threads": threads,
            "malloc_pinned": pinned,
            "repeats": max(1, args.repeats),
            "snv_per_s": best,
            "target_snv_per_s": TARGET,
            "pass": best >= TARGET,
            "ratio_default_to_naive": ours / naive,
            "ratio_default_to_bare_one_forward": ours / bare_rate,
            "null_10000_seconds": null_seconds,
            "max_abs_diff_fast_vs_naive": diff,
            "median_snv_per_s": med,
            "snv_per_s_all": rates,
            "machine": machine,
        },
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0


def _iter(vcf: Path):
    from cislearn.io.vcf import read_variants

    return read_variants(vcf)


def _windows(scorer: VariantScorer, vcf: Path, k: int) -> list[str]:
    out = []
    for v, _ in zip(_iter(vcf), range(k), strict=False):
        out.append(scorer.reference_window(v.chrom, v.pos))
    return out


if __name__ == "__main__":
    raise SystemExit(main())
