"""SequenceDataset, its builders, splits, leakage report and torch loaders."""

from __future__ import annotations

import numpy as np
import pytest

from cislearn.data import (
    OneHotDataset,
    SequenceDataset,
    assign_split,
    carve_valid,
    from_fasta_pair,
    load_dataset,
    make_loader,
    random_split,
)
from cislearn.errors import ConfigError, InputError
from cislearn.leakage import describe_leakage, drop_leaked, leakage_report, split_notes


def toy(n: int = 40, length: int = 20, seed: int = 0) -> SequenceDataset:
    rng = np.random.default_rng(seed)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    return SequenceDataset.from_arrays(seqs, np.arange(n) % 2)


def test_fasta_pair_on_shared_ctcf(ctcf) -> None:
    ds = from_fasta_pair(ctcf / "pos.fa.gz", ctcf / "neg.fa.gz")
    assert len(ds) == 4000 + 4478
    assert ds.fixed_length == 201
    assert int(ds.labels.sum()) == 4000
    # names overlap between the two files: prefixes keep ids unique
    assert ds.ids[0].startswith("pos:") and ds.ids[-1].startswith("neg:")
    assert set(ds.provenance["files"]) == {str(ctcf / "pos.fa.gz"), str(ctcf / "neg.fa.gz")}
    assert all(len(h) == 64 for h in ds.provenance["files"].values())


def test_load_dataset_argument_errors(ctcf) -> None:
    with pytest.raises(ConfigError, match="either --data or --pos/--neg"):
        load_dataset(ctcf / "pos.fa.gz", pos=ctcf / "pos.fa.gz")
    with pytest.raises(ConfigError, match="both --pos and --neg"):
        load_dataset(pos=ctcf / "pos.fa.gz")
    with pytest.raises(InputError, match="--pos/--neg"):
        load_dataset(ctcf / "pos.fa.gz")


def test_deepbio_round_trip(tmp_path) -> None:
    from cislearn.io.fasta import write_deepbio_fasta

    ds = assign_split(toy(), method="random", seed=1)
    path = tmp_path / "d.fa"
    write_deepbio_fasta(path, list(ds.ids), ds.labels.tolist(), list(ds.split), list(ds.sequences))
    back = load_dataset(path)
    assert back.ids == ds.ids and back.sequences == ds.sequences
    assert (back.split == ds.split).all() and (back.labels == ds.labels).all()
    assert assign_split(back, method="given") is back


def test_random_split_is_stratified_and_seeded() -> None:
    labels = np.array([1] * 300 + [0] * 700)
    a = random_split(labels, valid_fraction=0.1, test_fraction=0.3, seed=3)
    b = random_split(labels, valid_fraction=0.1, test_fraction=0.3, seed=3)
    c = random_split(labels, valid_fraction=0.1, test_fraction=0.3, seed=4)
    assert (a == b).all() and not (a == c).all()
    for part, frac in (("test", 0.3), ("valid", 0.1)):
        assert ((a == part) & (labels == 1)).sum() == round(300 * frac)
        assert ((a == part) & (labels == 0)).sum() == round(700 * frac)


@pytest.mark.parametrize("valid,test", [(-0.1, 0.2), (0.5, 0.5), (0.0, 1.0)])
def test_random_split_rejects_bad_fractions(valid: float, test: float) -> None:
    with pytest.raises(ConfigError):
        random_split(np.zeros(10), valid_fraction=valid, test_fraction=test)


def test_chromosome_split_keeps_chromosomes_whole() -> None:
    ds = toy(60)
    chroms = [f"chr{i % 6 + 1}" for i in range(60)]
    ds = SequenceDataset.from_arrays(list(ds.sequences), ds.targets, chroms=chroms)
    out = assign_split(ds, method="chromosome", valid_chroms=["chr2"], test_chroms=["chr3"])
    for chrom, part in zip(chroms, out.split, strict=True):
        assert part == {"chr2": "valid", "chr3": "test"}.get(chrom, "train")
    with pytest.raises(ConfigError, match="genomic coordinates"):
        assign_split(toy(), method="chromosome")


def test_leakage_report_names_shared_sequences() -> None:
    ds = SequenceDataset.from_arrays(
        ["ACGT", "acgt", "TTTT", "GGGG"],
        [1, 0, 1, 0],
        ids=["a", "b", "c", "d"],
        split=["train", "test", "train", "train"],
    )
    report = leakage_report(ds)
    assert report.n_shared == 1 and report.n_records == 2
    assert report.examples == [{"test": ["b"], "train": ["a"]}]
    assert leakage_report(ds.with_split(["train"] * 4)).n_shared == 0
    assert describe_leakage(report) == (
        "1 identical sequence shared between splits (2 records), e.g. train a = test b"
    )
    dropped = drop_leaked(ds)
    assert dropped.ids == ("a", "c", "d")
    assert dropped.provenance["leaked_dropped"] == {"valid": 0, "test": 1}
    assert leakage_report(dropped).n_shared == 0
    notes = split_notes(ds)
    assert len(notes) == 1 and notes[0].startswith("warning: leakage: 1 identical sequence")
    assert split_notes(dropped) == [
        "--drop-leaked: dropped 0 validation and 1 test records whose sequence also occurs "
        "in an earlier split"
    ]


def test_carve_valid_takes_a_seeded_stratified_part_of_train_only() -> None:
    labels = [0, 1] * 50
    split = ["test" if i < 20 else "train" for i in range(100)]
    ds = SequenceDataset.from_arrays([f"A{'C' * i}" for i in range(100)], labels, split=split)
    carved = carve_valid(ds, fraction=0.25, seed=3)
    assert carved.counts()["valid"] == {"0": 10, "1": 10}  # 25% of 40 per class
    assert (carved.split[:20] == "test").all()  # test records are never moved
    assert carved.provenance["valid_carved"]["n_valid"] == 20
    assert (carve_valid(ds, fraction=0.25, seed=3).split == carved.split).all()
    assert (carve_valid(ds, fraction=0.25, seed=4).split != carved.split).any()
    # unchanged: no fraction, or a validation part already there
    assert carve_valid(ds, fraction=0.0) is ds
    assert carve_valid(carved, fraction=0.5) is carved


def test_dataset_validation_messages() -> None:
    with pytest.raises(InputError, match='duplicate id "x"'):
        SequenceDataset.from_arrays(["A", "C"], [0, 1], ids=["x", "x"])
    with pytest.raises(InputError, match="split must be one of"):
        SequenceDataset.from_arrays(["A"], [0], split=["training"])
    with pytest.raises(InputError, match="targets have shape"):
        SequenceDataset.from_arrays(["A", "C"], [0, 1, 1])


def test_subset_and_part_keep_alignment() -> None:
    ds = assign_split(toy(50), method="random", seed=0)
    test = ds.part("test")
    index = [ds.ids.index(i) for i in test.ids]
    assert [ds.sequences[i] for i in index] == list(test.sequences)
    assert (ds.targets[index] == test.targets).all()
    assert sum(len(ds.part(p)) for p in ("train", "valid", "test")) == len(ds)


def test_loader_batches_match_encoding() -> None:
    from cislearn.encode import one_hot

    ds = toy(37, 15)
    batches = list(make_loader(ds, batch_size=8, shuffle=False))
    assert [len(b[0]) for b in batches] == [8, 8, 8, 8, 5]
    x = np.concatenate([b[0].numpy() for b in batches])
    assert np.array_equal(x, one_hot(list(ds.sequences)))
    assert np.array_equal(np.concatenate([b[1].numpy() for b in batches]), ds.targets)
    shuffled = np.concatenate([b[1].numpy() for b in make_loader(ds, batch_size=8, shuffle=True)])
    assert sorted(shuffled.ravel()) == sorted(ds.targets.ravel())


def test_loader_rejects_ragged_lengths() -> None:
    ds = SequenceDataset.from_arrays(["ACGT", "ACG"], [1, 0])
    with pytest.raises(InputError, match="one length"):
        OneHotDataset(ds)
