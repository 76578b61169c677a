"""Shared fixtures: paths to the real shared data and a small synthetic genome."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
CTCF = SHARED / "ctcf_gm12878"
TEST_DATA = Path(__file__).resolve().parent / "data"


@pytest.fixture(scope="session")
def ctcf() -> Path:
    """Folder of the real CTCF GM12878 data (pos.fa.gz, neg.fa.gz, peaks.narrowPeak.gz)."""
    return CTCF


@pytest.fixture(scope="session")
def small_genome(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded 3-chromosome genome (200 kb each) with soft-masked runs and an N block."""
    rng = np.random.default_rng(7)
    path = tmp_path_factory.mktemp("genome") / "genome.fa"
    with open(path, "w") as fh:
        for c, gc in (("chr1", 0.38), ("chr2", 0.45), ("chr3", 0.52)):
            n = 200_000
            p = [(1 - gc) / 2, gc / 2, gc / 2, (1 - gc) / 2]
            seq = np.array(list("ACGT"))[rng.choice(4, size=n, p=p)]
            for start in rng.integers(0, n - 2_000, size=20):
                seq[start : start + 300] = np.char.lower(seq[start : start + 300])
            seq[10_000:12_000] = "N"
            text = "".join(seq)
            fh.write(f">{c}\n")
            for i in range(0, n, 60):
                fh.write(text[i : i + 60] + "\n")
    return path


def read_fa(path: Path) -> list[str]:
    """Sequences of a (gzipped, possibly wrapped) FASTA, parsed independently of cislearn."""
    with gzip.open(path, "rt") as fh:
        return ["".join(rec.split("\n")[1:]) for rec in fh.read().split(">")[1:]]


def build_ctcf_genome(ctcf: Path, out: Path, n_chroms: int = 4, per_chrom: int = 60):
    """Chromosomes alternating CTCF negatives (as spacer/background) and positives.

    Returns the genome path and a narrowPeak-like frame of the positives' 201-bp windows, with
    a signal that decreases along the file and the summit at the centre.
    """
    pos, neg = read_fa(ctcf / "pos.fa.gz"), read_fa(ctcf / "neg.fa.gz")
    rows, k = [], 0
    with open(out, "w") as fh:
        for c in range(n_chroms):
            chrom = f"chr{c + 1}"
            parts, offset = [], 0
            for _ in range(per_chrom):
                spacer = "".join(neg[(k + j) % len(neg)] for j in range(3)).lower()
                parts.append(spacer)
                offset += len(spacer)
                rows.append(
                    (chrom, offset, offset + 201, f"peak{k}", 0, ".", 1000.0 - k, -1, -1, 100)
                )
                parts.append(pos[k])
                offset += 201
                k += 1
            parts.append("".join(neg[(k + j) % len(neg)] for j in range(6)))
            fh.write(f">{chrom}\n{''.join(parts)}\n")
    cols = [
        "chrom",
        "start",
        "end",
        "name",
        "score",
        "strand",
        "signal",
        "pvalue",
        "qvalue",
        "summit",
    ]
    frame = pd.DataFrame(rows, columns=cols).assign(line=np.arange(1, len(rows) + 1))
    return out, frame


@pytest.fixture(scope="session")
def ctcf_genome(ctcf, tmp_path_factory):
    return build_ctcf_genome(ctcf, tmp_path_factory.mktemp("g") / "ctcf_genome.fa")
