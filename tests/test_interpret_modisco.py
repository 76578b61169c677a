"""Motifs from attributions on the real CTCF data: the top TF-MoDISco pattern is CTCF, its hits
cover the FIMO CTCF sites, the audit line reports DeepLIFT vs ISM, and implanting the CTCF
consensus into negatives raises the predicted probability.

The model is the session's small ``cnn`` (``ctcf_cnn_run`` in conftest.py); every check runs on
400 held-out records it was not trained on (``ctcf_held_out``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from cislearn.encode import one_hot
from cislearn.interpret.experiments import marginalize_motif
from cislearn.io.jaspar import load_jaspar
from cislearn.pipelines.attribution_motifs import attribution_motifs_run
from cislearn.predict import load
from conftest import read_fa

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def discovered(ctcf_cnn_run: Path, ctcf_held_out: dict, tmp_path_factory):
    out = tmp_path_factory.mktemp("modisco") / "motifs"
    res = attribution_motifs_run(
        ctcf_cnn_run, ctcf_held_out["pos"], out, regions=ctcf_held_out["pos_bed"], audit_sample=24
    )
    return res, ctcf_held_out


def test_top_pattern_is_ctcf_and_its_hits_cover_the_fimo_sites(discovered) -> None:
    from memelite import fimo

    res, held = discovered
    table = res.found.table
    top = table.iloc[0]
    assert top["motif"].startswith("pos_"), table
    assert str(top["match_id"]).startswith("MA0139") and top["match_q"] < 0.05, table
    assert top["name"] == "CTCF"
    # Hits of the top pattern fall on the FIMO CTCF (MA0139) sites of the positives.
    x = one_hot([s.upper() for s in read_fa_plain(held["pos"])])
    sites = fimo({"ctcf": load_jaspar(["MA0139"])[0].pfm}, x, threshold=1e-4)[0]
    assert len(sites) > 200
    hits = res.found.hits[res.found.hits["pattern"] == top["motif"]]
    by_seq = {i: g for i, g in hits.groupby("seq_index")}
    covered = [
        i in by_seq and bool(((by_seq[i]["start"] < e) & (by_seq[i]["end"] > s)).any())
        for i, s, e in zip(sites["sequence_name"], sites["start"], sites["end"], strict=True)
    ]
    assert np.mean(covered) >= 0.70, np.mean(covered)
    # Hits carry the contribution, and the BED is in genome coordinates of the records.
    assert hits["contribution_frac"].median() > 0.2
    bed = pd.read_csv(res.hits_bed, sep="\t", header=None)
    assert len(bed) == len(res.found.hits) and bed[0].str.startswith("chr").all()
    assert (bed[1] > 1000).all()  # genome positions, not 0-200 offsets in the record


def test_outputs_and_audit_line(discovered) -> None:
    res, _ = discovered
    for name in (
        "patterns.tsv",
        "hits.tsv",
        "hits.bed",
        "motifs.meme",
        "motifs.html",
        "audit.txt",
        "figures/audit.png",
        "record.json",
        "contributions.npz",
    ):
        assert (res.out / name).is_file(), name
    line = (res.out / "audit.txt").read_text()
    assert "deeplift-shap r=" in line and "integrated-gradients r=" in line
    row = res.audit.table.set_index("method").loc["deeplift-shap"]
    assert np.isfinite(row["corr_median"]) and np.isfinite(row["delta_median"])
    assert "CTCF" in (res.out / "motifs.html").read_text()


def test_marginalizing_ctcf_into_negatives_raises_the_probability(
    ctcf_cnn_run: Path, ctcf_held_out: dict
) -> None:
    predictor = load(ctcf_cnn_run, device="cpu")
    x = one_hot([s.upper() for s in read_fa_plain(ctcf_held_out["neg"])])
    consensus = load_jaspar(["MA0139"])[0].consensus
    res = marginalize_motif(predictor.model, x, consensus, device="cpu")
    s = res.summary.iloc[0]
    assert s["mean_after"] - s["mean_before"] >= 0.5, s
    # The control: the same bases shuffled do far less.
    rng = np.random.default_rng(0)
    shuffled = "".join(rng.permutation(list(consensus)))
    ctrl = marginalize_motif(predictor.model, x, shuffled, device="cpu").summary.iloc[0]
    assert ctrl["mean_delta"] < s["mean_delta"] / 2, (shuffled, ctrl)


def read_fa_plain(path: Path) -> list[str]:
    text = Path(path).read_text()
    return ["".join(r.split("\n")[1:]) for r in text.split(">")[1:]]


def test_read_fa_matches_the_shared_reader(ctcf: Path, ctcf_held_out: dict) -> None:
    assert read_fa_plain(ctcf_held_out["pos"])[0] == read_fa(ctcf / "pos.fa.gz")[3000]
