"""Variant effect scoring on the shared CTCF data used as a small genome, plus invariants."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.stats
import torch

from cislearn.errors import InputError
from cislearn.io.genome import Genome
from cislearn.io.vcf import Variant
from cislearn.models.registry import build_model
from cislearn.variant_stats import bh_qvalues, bh_qvalues_from_counts
from cislearn.variants import RAW_DELTA, VariantScorer, score_variants

VCF_HEAD = (
    "##fileformat=VCFv4.2\n"
    + "".join(f"##contig=<ID=chr{i}>\n" for i in range(1, 5))
    + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
)
COMP = {"A": "T", "C": "G", "G": "C", "T": "A"}


def train_ctcf_bundle(ctcf: Path, out: Path) -> Path:
    """A small ``cnn`` trained on 3,000 shared CTCF records for 3 epochs (seeded)."""
    from cislearn.config import TrainConfig
    from cislearn.data import load_dataset
    from cislearn.io.bundle import save_bundle
    from cislearn.train import fit

    ds = load_dataset(pos=ctcf / "pos.fa.gz", neg=ctcf / "neg.fa.gz")
    idx = np.sort(np.random.default_rng(0).choice(len(ds.ids), 3000, replace=False))
    cfg = TrainConfig(
        arch="cnn",
        model={"filters": 16, "width": 19, "dense": 0, "dropout": 0.0},
        optimizer="adam",
        lr=0.01,
        batch_size=64,
        max_epochs=3,
        seed=0,
        num_threads=2,
    )
    result = fit(ds.subset(idx), cfg, workdir=out / "work")
    save_bundle(out / "bundle", result.model.state_dict(), result.meta)
    return out / "bundle"


def motif_variants(genome_path: Path, peaks: pd.DataFrame, n: int = 60) -> list[Variant]:
    """SNVs that destroy the most informative base of the strongest CTCF matches."""
    from cislearn.io.jaspar import load_jaspar

    motif = load_jaspar(["MA0139"])[0]
    pwm, pfm = motif.pwm(), motif.pfm
    ic = motif.information_content()
    w = pwm.shape[1]
    found = []
    with Genome(genome_path) as g:
        for row in peaks.itertuples():
            seq = g.fetch(row.chrom, row.start, row.end).upper()
            codes = np.array(["ACGT".index(b) if b in "ACGT" else 0 for b in seq])
            win = np.lib.stride_tricks.sliding_window_view(codes, w)  # (n_pos, w)
            best = (-np.inf, 0, 1)
            for strand, mat in ((1, pwm), (-1, pwm[::-1, ::-1])):
                scores = mat[win, np.arange(w)].sum(axis=1)
                i = int(np.argmax(scores))
                if scores[i] > best[0]:
                    best = (float(scores[i]), i, strand)
            score, i, strand = best
            col = int(np.argmax(ic))  # motif column, forward orientation
            off = col if strand == 1 else w - 1 - col
            ref = seq[i + off]
            worst = "ACGT"[int(np.argmin(pfm[:, col]))]
            alt = worst if strand == 1 else COMP[worst]
            if ref != alt:
                found.append((score, Variant(row.chrom, row.start + i + off + 1, ref, alt,
                                             f"m{row.Index}", 0, 1)))  # fmt: skip
    found.sort(key=lambda t: -t[0])
    return [v for _, v in found[:n]]


def control_variants(genome_path: Path, peaks: pd.DataFrame, n: int = 60) -> list[Variant]:
    """Random SNVs at the edges of the same peak windows (far from the centred motifs)."""
    rng = np.random.default_rng(1)
    out = []
    with Genome(genome_path) as g:
        for row in peaks.head(n).itertuples():
            p = row.start + int(rng.integers(0, 20))
            ref = g.fetch(row.chrom, p, p + 1).upper()
            alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
            out.append(Variant(row.chrom, p + 1, ref, alt, f"c{row.Index}", 0, 1))
    return out


def write_vcf_text(path: Path, variants: list[Variant], extra: str = "") -> Path:
    body = "".join(f"{v.chrom}\t{v.pos}\t{v.id}\t{v.ref}\t{v.alt}\t.\t.\t.\n" for v in variants)
    path.write_text(VCF_HEAD + body + extra)
    return path


@pytest.fixture(scope="module")
def ctcf_bundle(ctcf, tmp_path_factory) -> Path:
    return train_ctcf_bundle(ctcf, tmp_path_factory.mktemp("variant_model"))


@pytest.fixture(scope="module")
def predictor(ctcf_bundle):
    from cislearn.predict import load

    return load(ctcf_bundle, device="cpu")


def test_motif_disruptions_lower_the_ctcf_score(predictor, ctcf_genome, tmp_path) -> None:
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks)
    controls = control_variants(genome, peaks)
    vcf = write_vcf_text(tmp_path / "motif.vcf", hits + controls)
    scores = score_variants(predictor, genome, vcf, n_null=500)
    assert (scores["flag"] == "ok").all(), scores["flag"].value_counts()
    motif = scores[scores["id"].str.startswith("m")]
    ctrl = scores[scores["id"].str.startswith("c")]
    assert len(motif) >= 40
    assert motif["label_delta_logit"].mean() < 0
    assert (motif["label_delta_logit"] < 0).mean() >= 0.7
    assert motif["label_delta_logit"].mean() < ctrl["label_delta_logit"].mean()
    assert motif["label_dscore"].mean() < 0
    # disrupting the strongest motifs is rarer than random substitutions: small p-values
    assert motif["label_pvalue"].median() < ctrl["label_pvalue"].median()
    # the Δscore definition
    p_ref, p_alt = scores["label_p_ref"], scores["label_p_alt"]
    expect = (p_alt - p_ref) * np.maximum(p_alt, p_ref)
    np.testing.assert_allclose(scores["label_dscore"], expect, rtol=1e-6)
    np.testing.assert_allclose(scores["label_delta_p"], p_alt - p_ref, rtol=1e-6)


def test_snv_scores_match_two_forward_passes(predictor, ctcf_genome) -> None:
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=20)
    opts = {"n_null": 0, "rc_average": True, "shifts": (-2, 0, 3)}
    fast = score_variants(predictor, genome, hits, method="fast", **opts)
    naive = score_variants(predictor, genome, hits, method="naive", **opts)
    np.testing.assert_allclose(fast["label_delta_logit"], naive["label_delta_logit"], atol=2e-4)
    np.testing.assert_allclose(fast["label_p_ref"], naive["label_p_ref"], atol=1e-5)
    # and a by-hand check of one variant: the windows centred on it, ref and alt
    v = hits[0]
    with Genome(genome) as g:
        ref = g.fetch(v.chrom, v.pos - 1 - 100, v.pos - 1 + 101)
    alt = ref[:100] + v.alt + ref[101:]
    pred = predictor.predict([ref, alt], rc_average=False).logits[:, 0]
    one = score_variants(predictor, genome, [v], n_null=0, rc_average=False)
    assert one["label_delta_logit"].iloc[0] == pytest.approx(pred[1] - pred[0], abs=2e-4)


def test_chunking_does_not_change_scores(predictor, ctcf_genome) -> None:
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=25)
    whole = score_variants(predictor, genome, hits, n_null=0, chunk_size=4096)
    calls = []
    small = score_variants(
        predictor, genome, hits, n_null=0, chunk_size=7, progress=lambda *a: calls.append(a)
    )
    pd.testing.assert_frame_equal(whole, small)
    assert [c[1] for c in calls] == [7, 14, 21, 25]


def test_flags_ref_mismatch_multiallelic_indel_unknown_contig(predictor, ctcf_genome, tmp_path):
    genome, peaks = ctcf_genome
    with Genome(genome) as g:
        row = peaks.iloc[3]
        p = int(row.start) + 100  # 0-based
        base = g.fetch(row.chrom, p, p + 1).upper()
        three = g.fetch(row.chrom, p, p + 3).upper()
        size = g.lengths["chr2"]
        end_base = g.fetch("chr2", size - 5, size - 4).upper()
    others = [b for b in "ACGT" if b != base]
    wrong = others[0]
    end_alt = "ACGT"[("ACGT".index(end_base) + 1) % 4]
    lines = [
        f"{row.chrom}\t{p + 1}\tmismatch\t{wrong}\t{base}\t.\t.\t.",
        f"{row.chrom}\t{p + 1}\tmulti\t{base}\t{others[0]},{others[1]}\t.\t.\t.",
        f"{row.chrom}\t{p + 1}\tdel\t{three}\t{three[0]}\t.\t.\t.",
        f"{row.chrom}\t{p + 1}\tins\t{base}\t{base}GATTACA\t.\t.\t.",
        f"chrUn\t{p + 1}\tunknown\tA\tC\t.\t.\t.",
        f"chr2\t{size - 4}\tend\t{end_base}\t{end_alt}\t.\t.\t.",
        f"{row.chrom}\t{p + 1}\tsym\t{base}\t<DEL>\t.\t.\t.",
    ]
    vcf = tmp_path / "flags.vcf"
    head = VCF_HEAD.replace("#CHROM", "##contig=<ID=chrUn>\n#CHROM")
    vcf.write_text(head + "\n".join(lines) + "\n")
    s = score_variants(predictor, genome, vcf, n_null=200).set_index("id", drop=False)
    assert s.loc["mismatch", "flag"] == "ref_mismatch"
    assert np.isnan(s.loc["mismatch", "label_p_ref"])
    multi = s.loc["multi"]
    assert len(multi) == 2 and list(multi["alt"]) == others[:2]
    assert (multi["flag"] == "ok").all() and multi["label_delta_logit"].notna().all()
    assert s.loc["del", "kind"] == "indel" and s.loc["del", "flag"] == "ok"
    assert s.loc["ins", "kind"] == "indel" and np.isfinite(s.loc["ins", "label_delta_logit"])
    assert s.loc["unknown", "flag"] == "unknown_contig"
    assert s.loc["end", "flag"] == "near_end" and np.isfinite(s.loc["end", "label_p_alt"])
    assert s.loc["sym", "flag"] == "symbolic"
    summary = s.attrs["summary"]
    assert summary.flags == {"ref_mismatch": 1, "unknown_contig": 1, "near_end": 1, "symbolic": 1}
    assert summary.n_variants == 8 and summary.n_multiallelic == 2 and summary.n_scored == 5
    assert summary.n_null == 200
    with pytest.raises(InputError, match=r"flags.vcf, line \d+: REF 'C|REF '[ACGT]' does not"):
        score_variants(predictor, genome, vcf, n_null=0, strict=True)


def test_indel_windows_are_recentred(ctcf_genome) -> None:
    genome, _ = ctcf_genome
    net = build_model("cnn", {"filters": 4, "width": 5, "dense": 0}, length=21, n_outputs=1)
    scorer = VariantScorer(net, genome, n_null=0)
    with Genome(genome) as g:
        seq = g.fetch("chr1", 1000, 1060).upper()
    p = 1030  # 0-based; deletion of 5 bases after the anchor base, insertion of 4
    dele = Variant("chr1", p + 1, seq[30:36], seq[30], "d", 1, 1)
    ins = Variant("chr1", p + 1, seq[30], seq[30] + "TTTT", "i", 2, 1)
    prep = scorer.windows.prepare([dele, ins])
    prep = prep._replace(
        ref_windows=[w.upper() for w in prep.ref_windows],
        alt_windows=[w.upper() for w in prep.alt_windows],
    )
    assert prep.flags == ["ok", "ok"] and prep.other == [0, 1]
    # deletion: ref window centred on the 6-bp ref allele; alt on the 1-bp alt allele
    assert prep.ref_windows[0] == seq[30 + 3 - 10 : 30 + 3 + 11]
    assert prep.alt_windows[0] == seq[20:30] + seq[30] + seq[36:46]
    # insertion: the 5-bp alt allele sits in the middle of the alt window
    assert prep.ref_windows[1] == seq[20:41]
    assert prep.alt_windows[1] == seq[22:30] + seq[30] + "TTTT" + seq[31:39]
    assert all(len(w) == 21 for w in prep.ref_windows + prep.alt_windows)


def test_contig_names_resolved_with_warning(predictor, ctcf_genome, caplog) -> None:
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=3)
    renamed = [v._replace(chrom=v.chrom.removeprefix("chr")) for v in hits]
    with caplog.at_level("WARNING"):
        a = score_variants(predictor, genome, renamed, n_null=0)
    assert "named 'chr" in caplog.text
    b = score_variants(predictor, genome, hits, n_null=0)
    np.testing.assert_allclose(a["label_delta_logit"], b["label_delta_logit"])
    assert a.attrs["summary"].renamed_contigs == {v.chrom: f"chr{v.chrom}" for v in renamed}


def test_regression_columns_and_table_input(ctcf_genome) -> None:
    genome, peaks = ctcf_genome
    torch.manual_seed(0)
    net = build_model("cnn", {"filters": 4, "width": 5, "dense": 0}, length=51, n_outputs=2)
    hits = motif_variants(genome, peaks, n=5)
    table = pd.DataFrame([v._asdict() for v in hits])[["chrom", "pos", "ref", "alt"]]
    s = score_variants(net, genome, table, task="counts", n_null=100)
    for o in ("output_0", "output_1"):
        rate_ref, rate_alt = s[f"{o}_ref"], s[f"{o}_alt"]
        assert (rate_ref > 0).all()
        np.testing.assert_allclose(s[f"{o}_delta"], rate_alt - rate_ref, rtol=1e-6)
        np.testing.assert_allclose(s[f"{o}_log2fc"], np.log2(rate_alt / rate_ref), atol=1e-4)
        assert s[f"{o}_pvalue"].between(1 / 101, 1).all()
    with pytest.raises(InputError, match="missing ref"):
        score_variants(net, genome, table.drop(columns="ref"))


def test_bh_qvalues_match_scipy_and_counts() -> None:
    rng = np.random.default_rng(0)
    n_null = 50
    k = rng.integers(0, n_null + 1, size=400)
    p = (k + 1) / (n_null + 1)
    q = bh_qvalues(p)
    np.testing.assert_allclose(q, scipy.stats.false_discovery_control(p), rtol=1e-12)
    table = bh_qvalues_from_counts(np.bincount(k, minlength=n_null + 1), n_null)
    np.testing.assert_allclose(table[k], q, rtol=1e-12)
    with_nan = bh_qvalues(np.array([0.01, np.nan, 0.04]))
    assert np.isnan(with_nan[1]) and with_nan[0] == pytest.approx(0.02)


def test_bad_arguments_raise_input_error(predictor, ctcf_genome) -> None:
    genome, _ = ctcf_genome
    with pytest.raises(InputError, match="shifts"):
        score_variants(predictor, genome, [], shifts=(500,))
    with pytest.raises(InputError, match="n_null"):
        score_variants(predictor, genome, [], n_null=-1)
    with pytest.raises(InputError, match="Predictor"):
        score_variants("model", genome, [])
    empty = score_variants(predictor, genome, [])
    assert len(empty) == 0 and "label_qvalue" in empty.columns


def test_scorer_qvalues_are_bh_over_every_chunk(predictor, ctcf_genome) -> None:
    """Streamed q-values (the scorer's counters) equal BH on all p-values at once."""
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=25)
    scorer = VariantScorer(predictor, genome, n_null=200, seed=1)
    frames = [scorer.score(hits[i : i + 7]) for i in range(0, len(hits), 7)]
    assert all(f["label_pvalue"].isna().all() for f in frames)  # no null before finish()
    scorer.finish()
    scorer.close()
    ps = [scorer.pvalues(f[[RAW_DELTA + "label"]].to_numpy())[:, 0] for f in frames]
    p = np.concatenate(ps)
    q = [scorer.qvalues(pf, "label") for pf in ps]
    streamed = np.concatenate(q)
    assert np.isfinite(p).all() and len(np.unique(p)) > 3
    np.testing.assert_allclose(streamed, bh_qvalues(p))


def test_null_is_drawn_over_the_whole_input_in_any_split(predictor, ctcf_genome) -> None:
    """The null's sites come from every chunk, and the same sites whatever the chunks' order
    or how they are split over scorers (each merged into one, as ranks are)."""
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=24)
    chunks = [hits[i : i + 6] for i in range(0, len(hits), 6)]
    whole = VariantScorer(predictor, genome, n_null=50, seed=3)
    for i, c in enumerate(chunks):
        whole.score(c, index=i)
    near = {v.chrom: [] for v in hits}
    for v in hits:
        near[v.chrom].append(v.pos)
    c = predictor.length // 2
    used = {
        j
        for j, ch in enumerate(chunks)
        for v in ch
        for s in whole.sites.ordered()[:50]
        if s[0] == v.chrom and abs(s[1] + 1 - v.pos) <= c
    }
    assert len(used) > 1  # not the first chunk only
    a, b = (VariantScorer(predictor, genome, n_null=50, seed=3) for _ in range(2))
    for i in (3, 1):
        a.score(chunks[i], index=i)
    for i in (0, 2):
        b.score(chunks[i], index=i)
    a.merge(b.state())
    assert a.sites.ordered() == whole.sites.ordered()
    assert a.summary().n_variants == whole.summary().n_variants == len(hits)
    a.finish(), whole.finish()
    np.testing.assert_array_equal(a.null.sorted, whole.null.sorted)
    for s in (a, b, whole):
        s.close()


def test_block_reads_give_the_windows_of_one_read_per_variant(tmp_path) -> None:
    """Windows cut from the per-chunk genome blocks (close variants share one read) equal
    those of one read per variant: unsorted variants on two contigs, near both ends, an
    indel and a far-away one."""
    from cislearn.variant_windows import VariantWindows

    rng = np.random.default_rng(0)
    seqs = {c: "".join(rng.choice(list("ACGTacgt"), 30_000)) for c in ("chr1", "chr2")}
    fa = tmp_path / "g.fa"
    fa.write_text("".join(f">{c}\n{s}\n" for c, s in seqs.items()))
    pos = [("chr2", 15_000), ("chr1", 3), ("chr1", 29_999), ("chr1", 500), ("chr2", 5)]
    pos += [("chr1", 520), ("chr2", 29_000), ("chr1", 25_000)]
    chunk = [
        Variant(c, p, seqs[c][p - 1].upper(), "T" if seqs[c][p - 1].upper() != "T" else "A",
                f"v{i}", i + 1, 1)
        for i, (c, p) in enumerate(pos)
    ]  # fmt: skip
    chunk.append(Variant("chr1", 600, seqs["chr1"][599:602].upper(), "A", "del", 99, 1))
    with Genome(fa) as g:
        windows = VariantWindows(g, 101, (0, -7, 7))
        got = windows.prepare(chunk)
        single = VariantWindows(g, 101, (0, -7, 7))
        single._read_blocks = lambda chunk: None  # one genome read per variant
        want = single.prepare(chunk)
    assert got == want
    assert len(got.snv) == len(pos) and got.other == [len(pos)]
