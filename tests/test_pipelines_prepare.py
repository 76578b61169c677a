"""prepare_peaks on a small genome built from the real CTCF sequences, with real peak shapes."""

from __future__ import annotations

import pytest

from cislearn.errors import InputError
from cislearn.io.genome import Genome
from cislearn.pipelines.prepare import prepare_peaks


def test_prepare_shuffle_negatives(ctcf_genome) -> None:
    path, peaks = ctcf_genome
    prep = prepare_peaks(peaks, Genome(path), top=100, width=101, negatives="shuffle", fold=2)
    ds = prep.dataset
    assert int(ds.labels.sum()) == 100 and len(ds) == 300
    assert ds.fixed_length == 101
    # the top 100 by signal are the first 100 peaks, centred on their summit
    pos = prep.regions[prep.regions.label == 1]
    kept = set(zip(pos["chrom"], pos["start"], strict=True))
    top = peaks.iloc[:100]
    assert kept == set(zip(top["chrom"], top["start"] + 50, strict=True))
    assert prep.summary["positives"] == 100 and prep.summary["negatives"] == 200
    assert set(ds.split) == {"train", "valid", "test"}


def test_prepare_genomic_negatives_and_chromosome_split(ctcf_genome) -> None:
    path, peaks = ctcf_genome
    prep = prepare_peaks(
        peaks,
        Genome(path),
        top=None,
        width=201,
        negatives="genomic",
        split="chromosome",
        valid_chroms=["chr2"],
        test_chroms=["chr3"],
        seed=1,
    )
    ds, regions = prep.dataset, prep.regions
    assert int(ds.labels.sum()) == len(peaks)
    neg = regions[regions.label == 0]
    assert len(neg) == len(peaks) - prep.summary["unmatched_positives"] or len(neg) == len(peaks)
    # chromosome split: every record on chr2 is valid, chr3 test, others train
    expected = regions["chrom"].map({"chr2": "valid", "chr3": "test"}).fillna("train")
    assert (regions["split"] == expected).all()
    # negatives avoid the positives
    pos = regions[regions.label == 1]
    for row in neg.itertuples():
        same = pos[pos.chrom == row.chrom]
        assert not ((same.start < row.end) & (same.end > row.start)).any()


def test_prepare_drops_windows_off_the_chromosome(ctcf_genome) -> None:
    path, peaks = ctcf_genome
    edge = peaks.iloc[:3].copy()
    edge.loc[edge.index[0], ["start", "end", "summit"]] = [0, 50, 10]
    prep = prepare_peaks(edge, Genome(path), top=None, width=201, negatives="none")
    assert prep.summary["dropped_off_chromosome"] == 1
    assert len(prep.dataset) == 2


def test_prepare_unknown_chromosome_names_hint(ctcf_genome) -> None:
    path, peaks = ctcf_genome
    bad = peaks.iloc[:2].assign(chrom="1")
    with pytest.raises(InputError, match="'chr1' \\(with 'chr'\\)"):
        prepare_peaks(bad, Genome(path), source="peaks.bed")
