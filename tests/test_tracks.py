"""tracks.py: experiment unions and labels, signal targets and input tracks from bigWig."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from cislearn.errors import ConfigError, InputError
from cislearn.io.bigwig import BigWig
from cislearn.tracks import (
    TrackSpec,
    experiment_labels,
    input_tracks,
    parse_named,
    signal_targets,
    union_windows,
)


def peaks(rows):
    return pd.DataFrame(rows, columns=["chrom", "start", "end", "signal", "summit"])


def test_parse_named():
    assert parse_named(["a=x.bw", "y/dnase.bw.gz"], what="t") == {
        "a": "x.bw",
        "dnase": "y/dnase.bw.gz",
    }
    with pytest.raises(ConfigError, match="given twice"):
        parse_named(["a=x.bw", "a=y.bw"], what="--signal")
    with pytest.raises(ConfigError, match="NAME=PATH"):
        parse_named(["=x.bw"], what="--signal")


def test_union_windows_and_labels():
    a = peaks([("c1", 1000, 1100, 9.0, 50), ("c1", 5000, 5100, 1.0, 50), ("c2", 10, 300, 5.0, -1)])
    b = peaks([("c1", 1020, 1120, 3.0, 50), ("c1", 8000, 8100, 2.0, 50)])
    windows, counts = union_windows({"A": a, "B": b}, width=101)
    # B's strongest peak (1070) overlaps A's strongest (1050): merged into A's window
    assert counts["suppressed_by_overlap"] == 1
    got = windows[["chrom", "start", "end", "experiment"]].values.tolist()
    assert got == [
        ["c1", 1000, 1101, "A"],
        ["c1", 5000, 5101, "A"],
        ["c1", 8000, 8101, "B"],
        ["c2", 105, 206, "A"],  # no summit: centred
    ]
    labels = experiment_labels(windows, {"A": a, "B": b})
    # window 1 holds A's summit 1050 and B's summit 1070
    assert labels.tolist() == [[1, 1], [1, 0], [0, 1], [1, 0]]
    windows, counts = union_windows({"A": a, "B": b}, width=101, top=1)
    assert counts["experiments"]["A"] == {"peaks_in": 3, "peaks_used": 1}
    assert len(windows) == 1


@pytest.fixture()
def bw(tmp_path):
    path = tmp_path / "s.bw"
    h = pyBigWig.open(str(path), "w")
    h.addHeader([("c1", 1000), ("c2", 500)])
    h.addEntries(["c1", "c1"], [100, 150], ends=[110, 160], values=[2.0, 4.0])
    h.close()
    with BigWig(path) as opened:
        yield opened


def test_signal_targets_rules_and_counts(bw):
    windows = pd.DataFrame(
        {"chrom": ["c1", "c1", "c2", "c9"], "start": [100, 300, 0, 0], "end": [200, 400, 100, 100],
         "name": ["w1", "w2", "w3", "w4"]}
    )  # fmt: skip
    spec = TrackSpec("s", "s.bw", stat="sum")
    out = signal_targets(windows, {"s": bw}, [spec])
    assert out.values[:, 0].tolist() == [60.0, 0.0, 0.0, 0.0]
    c = out.counts["s"]
    assert (c["no_data"], c["absent_chromosome"], c["filled_zero"]) == (2, 1, 3)
    assert c["absent_chromosomes"] == ["c9"]
    out = signal_targets(windows, {"s": bw}, [spec._replace(missing="drop", transform="log1p")])
    assert out.keep.tolist() == [True, False, False, False]
    assert out.values[0, 0] == pytest.approx(np.log1p(60.0))
    # the central 20 bp of window 1 hold bases 140..160: 10 bases of 4.0 → mean 2.0
    out = signal_targets(windows[:1], {"s": bw}, [TrackSpec("s", "s.bw", center=20)])
    assert out.values[0, 0] == pytest.approx(2.0)
    with pytest.raises(InputError, match=r'window 2 \("w2"\)'):
        signal_targets(windows, {"s": bw}, [spec._replace(missing="error")])


def test_input_tracks(bw):
    x = input_tracks(["c1", "c9"], np.array([95, 0]), np.array([115, 20]), {"s": bw},
                     [TrackSpec("s", "s.bw")])  # fmt: skip
    assert x.shape == (2, 1, 20)
    assert x[0, 0].tolist() == [0.0] * 5 + [2.0] * 10 + [0.0] * 5
    assert not x[1].any()
    with pytest.raises(ConfigError, match="drop"):
        input_tracks(["c1"], np.array([0]), np.array([10]), {"s": bw},
                     [TrackSpec("s", "s.bw", missing="drop")])  # fmt: skip
