"""Logos, mutation-map figures and tables, and the motifs page."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from cislearn.encode import one_hot
from cislearn.errors import InputError
from cislearn.interpret.compare import LearnedMotifs
from cislearn.interpret.ism import MutationMap, map_effects
from cislearn.io.jaspar import load_jaspar
from cislearn.io.motifs import Motif, read_motifs
from cislearn.report.logos import (
    plot_attribution_logo,
    plot_motif_logo,
    render_motif_page,
    write_learned_motifs,
    write_motif_page,
)
from cislearn.report.maps import mutation_map_table, plot_mutation_map

PNG = b"\x89PNG"


def test_motif_and_attribution_logos(tmp_path) -> None:
    motif = load_jaspar(["MA0139"])[0]
    path = plot_motif_logo(motif, tmp_path / "m.png", title="#1 filter3: CTCF")
    assert path.read_bytes()[:4] == PNG
    x = one_hot(["ACGTACGTAC"])[0]
    attr = np.linspace(-1, 1, 40, dtype=np.float32).reshape(4, 10)
    assert plot_attribution_logo(attr, x, tmp_path / "a.png", start=2, end=8).stat().st_size
    with pytest.raises(InputError, match="same shape"):
        plot_attribution_logo(attr[:, :5], x, tmp_path / "b.png")


def test_mutation_map_figure(tmp_path) -> None:
    seq = "ACGT" * 25 + "A"
    delta = np.random.default_rng(0).normal(size=(4, 101))
    path = plot_mutation_map(delta, seq, tmp_path / "map.png", title="x", zoom=20)
    assert path.read_bytes()[:4] == PNG
    assert plot_mutation_map(delta[:, :30], seq[:30], tmp_path / "s.png", zoom=20).exists()
    with pytest.raises(InputError, match="shape"):
        plot_mutation_map(delta, seq[:50], tmp_path / "bad.png")


def test_mutation_map_table_rows_and_values() -> None:
    seqs = ["ACG", "TTN"]
    rng = np.random.default_rng(1)
    ref = rng.normal(size=(2, 2)).astype(np.float32)
    logits = rng.normal(size=(2, 4, 3, 2)).astype(np.float32)
    for i, s in enumerate(seqs):  # reference cells hold the reference output
        for p, b in enumerate(s):
            if b in "ACGT":
                logits[i, "ACGT".index(b), p] = ref[i]
    eff = map_effects(MutationMap(ref, logits, "naive"), "binary")
    table = mutation_map_table(
        ["a", "b"],
        seqs,
        logits,
        eff.delta_logit,
        eff.prob,
        eff.delta_prob,
        eff.delta_score,
        output=1,
    )
    assert len(table) == 3 * 3 + (3 + 3 + 4)  # N position: all four bases
    assert (table["ref"] != table["alt"]).all()
    first = table.iloc[0]
    assert (first["id"], first["pos"], first["ref"], first["alt"]) == ("a", 0, "A", "C")
    assert first["logit"] == pytest.approx(logits[0, 1, 0, 1])
    assert first["delta_logit"] == pytest.approx(logits[0, 1, 0, 1] - ref[0, 1])
    assert table["pos"].tolist()[:3] == [0, 0, 0]


def test_motif_page_is_ordered_and_escaped(tmp_path) -> None:
    motif = load_jaspar(["MA0139"])[0]
    logo = plot_motif_logo(motif, tmp_path / "l.png")
    table = pd.DataFrame(
        {
            "motif": ["filter3", "<b>filter1</b>"],
            "influence": [0.2, 0.1],
            "match_name": ["CTCF", None],
            "match_id": ["MA0139.2", None],
            "match_p": [1e-9, np.nan],
            "match_q": [1e-6, np.nan],
            "n_sites": [300, 25],
        }
    )
    html = render_motif_page(table, {"filter3": logo})
    assert html.index("filter3") < html.index("filter1")
    assert "<b>filter1</b>" not in html and "&lt;b&gt;filter1" in html
    assert html.count("data:image/png;base64,") == 1
    out = write_motif_page(tmp_path / "motifs.html", table, {"filter3": logo})
    assert out.read_text() == html


def test_write_learned_motifs(tmp_path) -> None:
    ctcf = load_jaspar(["MA0139"])[0]
    motifs = [Motif("filter3", "CTCF", ctcf.counts), Motif("filter1", "", ctcf.counts[:, :6])]
    table = pd.DataFrame(
        {
            "motif": ["filter3", "filter1"],
            "influence": [0.2, 0.1],
            "match_name": ["CTCF", None],
            "match_id": ["MA0139.2", None],
            "match_q": [1e-6, np.nan],
        }
    )
    matches = pd.DataFrame({"motif": ["filter3"], "target_id": ["MA0139.2"], "q_value": [1e-6]})
    found = LearnedMotifs(motifs, table, table[["motif", "influence"]], matches)
    calls = []
    warning = "warning: the model's held-out AUROC is 0.560 (< 0.75); ..."
    out = write_learned_motifs(
        tmp_path / "m",
        found,
        n_logos=1,
        notes=[warning],
        held_out_auroc=0.56,
        progress=lambda *a: calls.append(a),
    )
    assert out == tmp_path / "m"
    names = {"motifs.tsv", "filters.tsv", "matches.tsv", "motifs.meme", "motifs.jaspar"}
    assert names | {"motifs.html", "motifs.json", "logos"} == {p.name for p in out.iterdir()}
    summary = json.loads((out / "motifs.json").read_text())
    assert summary == {"held_out_auroc": 0.56, "n_motifs": 2, "notes": [warning]}
    assert (
        'class="box warn note">warning: the model&#39;s held-out AUROC is 0.560'
        in (out / "motifs.html").read_text()
    )
    assert [p.name for p in (out / "logos").iterdir()] == ["filter3.png"]
    assert (out / "logos" / "filter3.png").read_bytes().startswith(PNG)
    assert pd.read_csv(out / "motifs.tsv", sep="\t")["motif"].tolist() == ["filter3", "filter1"]
    for name in ("motifs.meme", "motifs.jaspar"):
        assert [m.id for m in read_motifs(out / name)] == ["filter3", "filter1"]
    assert (out / "motifs.html").read_text().count("data:image/png;base64,") == 1
    assert calls == [("motif logos", 0, 1), ("motif logos", 1, 1)]
    with pytest.raises(InputError, match="n_logos"):
        write_learned_motifs(tmp_path / "bad", found, n_logos=-1)
