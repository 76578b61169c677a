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


@pytest.fixture(scope="session")
def ctcf_cnn_run(ctcf: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small ``cnn`` (32 filters of width 19) trained once per session for 6 epochs on 2,500
    CTCF positives and 2,500 negatives (records 1-2,500 of each), saved as a model bundle.

    Records 3,001-4,000 of both files are never used for training: tests explain those.
    """
    from cislearn.config import TrainConfig
    from cislearn.data import SequenceDataset
    from cislearn.io.bundle import save_bundle
    from cislearn.train import fit

    pos, neg = read_fa(ctcf / "pos.fa.gz"), read_fa(ctcf / "neg.fa.gz")
    ds = SequenceDataset.from_arrays(pos[:2500] + neg[:2500], [1] * 2500 + [0] * 2500)
    cfg = TrainConfig(
        arch="cnn",
        model={"filters": 32, "width": 19, "dense": 0, "dropout": 0.1},
        lr=5e-3,
        batch_size=64,
        max_epochs=6,
        patience=0,
        seed=0,
        accelerator="cpu",
    )
    out = tmp_path_factory.mktemp("ctcf_cnn")
    res = fit(ds, cfg, workdir=out / "work")
    assert res.best_score > 0.9  # valid AUROC: the model learned CTCF
    save_bundle(out / "run", res.model.state_dict(), res.meta)
    return out / "run"


@pytest.fixture(scope="session")
def ctcf_held_out(ctcf: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """FASTA files of CTCF records never trained on by ``ctcf_cnn_run``: ``pos`` (positives
    3,001-3,400), ``neg`` (negatives 3,001-3,400) and ``pos_bed`` (their regions, GRanges
    style as in the shared data)."""
    out = tmp_path_factory.mktemp("ctcf_held_out")
    files = {}
    for name in ("pos", "neg"):
        with gzip.open(ctcf / f"{name}.fa.gz", "rt") as fh:
            recs = fh.read().split(">")[1:]
        path = out / f"{name}.fa"
        path.write_text("".join(">" + r for r in recs[3000:3400]))
        files[name] = path
        with gzip.open(ctcf / f"{name}.bed.gz", "rt") as fh:
            lines = fh.read().splitlines()
        bed = out / f"{name}.bed"
        bed.write_text("\n".join(lines[3000:3400]) + "\n")
        files[f"{name}_bed"] = bed
    return files
