"""scan.py: tiling, chunking and skipping rules, with a model replaced by a known function."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cislearn.encode import to_codes
from cislearn.errors import InputError
from cislearn.scan import scan_regions, tile_regions, window_of_bin

GENOME = {
    "c1": "".join(np.random.default_rng(0).choice(list("ACGT"), 1_000)),
    "c2": "N" * 300 + "ACGT" * 100,
}
LENGTHS = {c: len(s) for c, s in GENOME.items()}


def fetch(chrom, start, end):
    return GENOME[chrom][start:end]


def gc_count(span, offsets, chrom, starts, width=21):
    """A stand-in model: G/C count of the window, and a check that it was given the window
    at ``starts`` (the coordinates passed along for input tracks)."""
    codes = span[offsets[:, None] + np.arange(width)]
    for row, s in zip(codes, starts, strict=True):
        assert (row == to_codes(GENOME[chrom][s : s + codes.shape[1]])).all()
    return ((codes == 1) | (codes == 2)).sum(axis=1, keepdims=True).astype(np.float32)


def run(regions, chunk_bins, width=21, stride=10):
    chunks = list(scan_regions(gc_count, fetch, regions, LENGTHS, width=width, stride=stride,
                               chunk_bins=chunk_bins))  # fmt: skip
    return chunks, pd.DataFrame(
        {
            "chrom": np.concatenate([[c.chrom] * len(c.starts) for c in chunks]),
            "start": np.concatenate([c.starts for c in chunks]),
            "end": np.concatenate([c.ends for c in chunks]),
            "value": np.concatenate([c.values[:, 0] for c in chunks]),
        }
    )


def test_bins_values_and_chunking():
    regions = tile_regions(None, LENGTHS)
    chunks, frame = run(regions, chunk_bins=7)
    _, frame_big = run(regions, chunk_bins=10_000)
    pd.testing.assert_frame_equal(frame, frame_big)  # chunk size changes nothing
    assert (frame["end"] - frame["start"]).max() == 10
    for row in frame.itertuples(index=False):
        w = int(window_of_bin(np.array([row.start]), 10, 21)[0])
        if w < 0 or w + 21 > LENGTHS[row.chrom] or set(GENOME[row.chrom][w : w + 21]) == {"N"}:
            assert np.isnan(row.value)
        else:
            seq = GENOME[row.chrom][w : w + 21]
            assert row.value == seq.count("G") + seq.count("C")
    skipped = sum(c.n_skipped for c in chunks)
    assert skipped == int(frame["value"].isna().sum()) > 0


def test_tile_regions_merges_and_checks():
    regions = pd.DataFrame({"chrom": ["c2", "c1", "c1"], "start": [0, 50, 10],
                            "end": [100, 90, 60]})  # fmt: skip
    tiles = tile_regions(regions, LENGTHS)
    assert tiles.values.tolist() == [["c1", 10, 90], ["c2", 0, 100]]
    with pytest.raises(InputError, match="not in the genome"):
        tile_regions(pd.DataFrame({"chrom": ["c9"], "start": [0], "end": [5]}), LENGTHS)
    with pytest.raises(InputError, match="outside c1"):
        tile_regions(pd.DataFrame({"chrom": ["c1"], "start": [0], "end": [5000]}), LENGTHS)


@pytest.mark.parametrize(
    ("arch", "params", "rc"),
    [
        ("cnn", {}, False),
        ("cnn", {}, True),
        ("cnn-multi", {}, False),  # several branches
        ("cnn", {"pool": "maxmean", "activation": "gelu"}, False),  # per-position activation
    ],
)
def test_shared_convolutions_equal_the_model(arch, params, rc):
    """span_logits on overlapping windows = the model's own forward pass on each window."""
    import torch

    from cislearn.encode import one_hot
    from cislearn.fastpath.codeconv import code_plan
    from cislearn.fastpath.scanconv import covers, span_logits
    from cislearn.models.layers import reverse_complement_batch
    from cislearn.models.registry import build_model

    torch.manual_seed(0)
    model = build_model(arch, params, length=101, n_outputs=2).eval()
    plan = code_plan(model)
    assert covers(plan), "the fast scan path must cover these models"
    rng = np.random.default_rng(1)
    span = rng.integers(0, 4, size=3_000).astype(np.uint8)
    span[700:760] = 4  # N run
    starts = np.r_[np.arange(0, 2_800, 17), 2_899]  # uneven tail
    with torch.inference_mode():
        got = span_logits(plan, span, starts, 101, rc_average=rc)
        x = torch.from_numpy(one_hot(span[starts[:, None] + np.arange(101)]))
        want = model(x)
        if rc:
            want = 0.5 * (want + model(reverse_complement_batch(x)))
    np.testing.assert_allclose(got, want.numpy(), rtol=1e-5, atol=1e-5)
