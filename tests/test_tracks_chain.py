"""The real-data chain of issue 16: CTCF peak signal as a bigWig → prepare --signal → train
regression → evaluate → scan to bigWig → read back; values equal numpy on the same fixture."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyBigWig
import pytest

from cislearn.cli.main import main
from conftest import read_fa

N_CHROMS, PER_CHROM = 3, 100


def _runs(arr: np.ndarray):
    """(start, end, value) runs of equal non-NaN values."""
    idx = np.flatnonzero(~np.isnan(arr))
    if not len(idx):
        return
    cut = np.flatnonzero((np.diff(idx) != 1) | (np.diff(arr[idx]) != 0)) + 1
    for part in np.split(idx, cut):
        yield int(part[0]), int(part[-1]) + 1, float(arr[part[0]])


@pytest.fixture(scope="module")
def signal_world(ctcf, tmp_path_factory):
    """A small genome of real CTCF positives between real negatives, the positives' narrowPeak
    signalValue as per-base coverage (max where peaks overlap; NaN = no data), its bigWig
    written with pyBigWig directly, and a peak file of the placed positives."""
    tmp = tmp_path_factory.mktemp("signal")
    pos, neg = read_fa(ctcf / "pos.fa.gz"), read_fa(ctcf / "neg.fa.gz")
    bed = pd.read_csv(ctcf / "pos.bed.gz", sep="\t", header=None, usecols=[0, 1, 2])
    bed.columns = ["chrom", "start", "end"]
    bed["start"] -= 1  # GRanges 1-based inclusive → 0-based half-open
    peaks = pd.read_csv(ctcf / "peaks.narrowPeak.gz", sep="\t", header=None)
    by_chrom = {c: g for c, g in peaks.groupby(0)}
    cover, rows, k = {}, [], 0
    with open(tmp / "genome.fa", "w") as fh:
        for c in range(N_CHROMS):
            chrom, parts, offset = f"chr{c + 1}", [], 0
            spans = []
            for _ in range(PER_CHROM):
                spacer = "".join(neg[(3 * k + j) % len(neg)] for j in range(3))
                parts.append(spacer)
                offset += len(spacer)
                spans.append((offset, k))
                rows.append((chrom, offset, offset + 201, f"p{k}", 0, ".", 1.0, -1, -1, 100))
                parts.append(pos[k])
                offset += 201
                k += 1
            # a peak-free tail (real negatives) where genomic negatives can be drawn
            parts.append("".join(neg[(1000 + 150 * c + j) % len(neg)] for j in range(150)))
            seq = "".join(parts)
            fh.write(f">{chrom}\n{seq}\n")
            arr = np.full(len(seq), np.nan)
            for off, i in spans:
                h = bed.iloc[i]
                g = by_chrom[h["chrom"]]
                hit = g[(g[1] < h["end"]) & (g[2] > h["start"])]
                for ps, pe, value in zip(hit[1], hit[2], hit[6], strict=True):
                    a = max(ps, h["start"]) - h["start"] + off
                    b = min(pe, h["end"]) - h["start"] + off
                    arr[a:b] = np.fmax(arr[a:b], value)
            cover[chrom] = arr
    bw = pyBigWig.open(str(tmp / "ctcf.bw"), "w")
    bw.addHeader([(c, len(a)) for c, a in cover.items()])
    for chrom, arr in cover.items():
        runs = list(_runs(arr))
        bw.addEntries([chrom] * len(runs), [r[0] for r in runs], ends=[r[1] for r in runs],
                      values=[r[2] for r in runs])  # fmt: skip
    bw.close()
    with open(tmp / "peaks.bed", "w") as fh:
        for r in rows:
            fh.write("\t".join(map(str, r)) + "\n")
    return tmp, cover


@pytest.mark.slow
def test_signal_chain(signal_world, tmp_path):
    world, cover = signal_world
    data = tmp_path / "data"
    rc = main([
        "prepare", str(world / "peaks.bed"), "--genome", str(world / "genome.fa"),
        "--out", str(data), "--top", "0", "--signal", f"ctcf={world / 'ctcf.bw'}",
        "--log1p", "--profiles", "--seed", "1",
    ])  # fmt: skip
    assert rc == 0
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    assert list(table.columns[:6]) == ["id", "chrom", "start", "end", "sequence", "split"]
    # the target equals log1p(sum over the window / width), uncovered bases 0, from numpy
    expect = [
        np.log1p(np.nan_to_num(cover[c][s:e]).sum() / (e - s))
        for c, s, e in table[["chrom", "start", "end"]].itertuples(index=False)
    ]
    np.testing.assert_allclose(table["ctcf"], expect, rtol=1e-5, atol=1e-6)
    summary = json.loads((data / "summary.json").read_text())
    n_empty = sum(np.isnan(cover[c][s:e]).all() for c, s, e in
                  table[["chrom", "start", "end"]].itertuples(index=False))  # fmt: skip
    assert summary["signals"]["ctcf"]["no_data"] == n_empty > 0  # negatives: counted, set to 0
    assert summary["signals"]["ctcf"]["filled_zero"] == n_empty
    prof = np.load(data / "profiles.npz", allow_pickle=False)
    assert prof["values"].shape == (len(table), 1, 201)
    c, s, e = table.loc[0, ["chrom", "start", "end"]]
    np.testing.assert_allclose(prof["values"][0, 0], np.log1p(np.nan_to_num(cover[c][s:e])), 1e-5)

    run = tmp_path / "run"
    rc = main([
        "train", "--data", str(data / "dataset.tsv"), "--targets", "ctcf", "--task", "regression",
        "--arch", "cnn", "--max-epochs", "4", "--lr", "0.005", "--split", "given",
        "--out", str(run),
    ])  # fmt: skip
    assert rc == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "regression"
    # positives carry signal, negatives none: the model must rank them (measured ~0.8)
    assert metrics["metrics"]["ctcf"]["spearman"] > 0.3

    ev = tmp_path / "eval"
    assert main(["evaluate", str(run), "--data", str(data / "dataset.tsv"),
                 "--targets", "ctcf", "--out", str(ev)]) == 0  # fmt: skip
    assert {"pearson", "spearman"} <= set(json.loads((ev / "metrics.json").read_text())
                                          ["metrics"]["ctcf"])  # fmt: skip

    # scan two regions of chr2 to bigWig + bedGraph; read back with pyBigWig
    regions = tmp_path / "r.bed"
    regions.write_text("chr2\t0\t3000\nchr2\t2500\t5100\n")  # overlapping: merged
    out = tmp_path / "pred.bw"
    assert main(["scan", str(run), "--genome", str(world / "genome.fa"), "--regions",
                 str(regions), "--stride", "50", "--out", str(out),
                 "--bedgraph", str(tmp_path / "pred.bedGraph")]) == 0  # fmt: skip
    bw = pyBigWig.open(str(out))
    got = bw.intervals("chr2")
    assert bw.intervals("chr1") is None
    starts = np.array([g[0] for g in got])
    # bins of 50 bp from 0 to 5100; windows off the chromosome start are skipped
    assert starts[0] == 100 and starts[-1] == 5050 and (np.diff(starts) == 50).all()
    import cislearn

    pred = cislearn.load(run)
    genome = "".join(open(world / "genome.fa").read().split(">chr2\n")[1].split("\n")[0])
    windows = [genome[s + 25 - 100 : s + 25 - 100 + 201] for s in starts]
    np.testing.assert_allclose([g[2] for g in got], pred.predict(windows).probs[:, 0], rtol=1e-5)
    assert len(open(tmp_path / "pred.bedGraph").read().splitlines()) == len(got)
    # the regression model scores variants as s_alt - s_ref (three SNVs in chr2 positives)
    var = tmp_path / "v.tsv"
    snvs = [(int(s) + 100, genome[int(s) + 100]) for s in table.loc[table["chrom"] == "chr2",
                                                                    "start"].head(3)]  # fmt: skip
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}
    var.write_text("".join(f"chr2\t{p + 1}\t{b}\t{alt[b.upper()]}\tv{i}\n"
                           for i, (p, b) in enumerate(snvs)))  # fmt: skip
    assert (
        main(
            [
                "score-variants",
                str(run),
                str(var),
                "--genome",
                str(world / "genome.fa"),
                "--out",
                str(tmp_path / "var"),
                "--n-null",
                "50",
                "--top-maps",
                "0",
            ]
        )
        == 0
    )
    scored = pd.read_csv(tmp_path / "var" / "variants.tsv", sep="\t")
    np.testing.assert_allclose(scored["ctcf_delta"], scored["ctcf_alt"] - scored["ctcf_ref"],
                               atol=1e-5)  # fmt: skip
    ref_w = [genome[p - 100 : p + 101] for p, _ in snvs]
    alt_w = [w[:100] + alt[w[100].upper()] + w[101:] for w in ref_w]
    d = pred.predict(alt_w).probs[:, 0] - pred.predict(ref_w).probs[:, 0]
    np.testing.assert_allclose(scored["ctcf_delta"], d, atol=1e-4)
    # attributions and mutation-map summaries as browser tracks at the windows' coordinates
    attr_bw, ism_bw = tmp_path / "attr.bw", tmp_path / "ism.bw"
    assert main(["interpret", str(run), str(data / "pos.fa"), "--out", str(tmp_path / "int"),
                 "--top", "0", "--bigwig", str(attr_bw),
                 "--genome", str(world / "genome.fa")]) == 0  # fmt: skip
    npz = np.load(tmp_path / "int" / "attributions.npz", allow_pickle=False)
    per_base = (npz["attributions"][:, :4] * npz["x"][:, :4]).sum(axis=1)
    h = pyBigWig.open(str(attr_bw))
    assert h.chroms() == {c: len(a) for c, a in cover.items()}
    for i in (0, 7, 150):  # prepare's windows do not overlap: one window per base
        c, se = str(npz["ids"][i]).split(":")
        s, e = map(int, se.split("-"))
        np.testing.assert_allclose(h.values(c, s, e), per_base[i], rtol=1e-5, atol=1e-7)
    assert main(["mutation-map", str(run), "--fasta", str(data / "pos.fa"), "--first", "2",
                 "--out", str(tmp_path / "mm"), "--bigwig", str(ism_bw)]) == 0  # fmt: skip
    first = [r.split("\n", 1) for r in open(data / "pos.fa").read().split(">")[1:3]]
    mm = cislearn.saturation_mutagenesis(pred.model, cislearn.one_hot(
        ["".join(seq.split()) for _, seq in first]))  # fmt: skip
    summary = (mm.logits[..., 0] - mm.ref_logits[:, None, None, 0]).sum(axis=1) / 3
    h = pyBigWig.open(str(ism_bw))
    for (name, _), row in zip(first, summary, strict=True):
        c, se = name.strip().split(":")
        s, e = map(int, se.split("-"))
        np.testing.assert_allclose(h.values(c, s, e), row, rtol=1e-4, atol=1e-5)
    # again without --force: refused, one line, exit 2
    assert main(["scan", str(run), "--genome", str(world / "genome.fa"), "--out", str(out)]) == 2


def test_prepare_signal_missing_rules(signal_world, tmp_path, capsys):
    world, _ = signal_world
    args = ["prepare", str(world / "peaks.bed"), "--genome", str(world / "genome.fa"),
            "--top", "40", "--signal", f"ctcf={world / 'ctcf.bw'}"]  # fmt: skip
    assert main([*args, "--missing", "drop", "--out", str(tmp_path / "d")]) == 0
    table = pd.read_csv(tmp_path / "d" / "dataset.tsv", sep="\t")
    assert (table["ctcf"] > 0).all()  # windows without data were dropped …
    summary = json.loads((tmp_path / "d" / "summary.json").read_text())
    assert summary["signals"]["ctcf"]["dropped"] == summary["signal_windows_dropped"] > 0
    assert main([*args, "--missing", "error", "--out", str(tmp_path / "e")]) == 2
    assert "has no value" in capsys.readouterr().err
    assert main([*args, "--out", str(tmp_path / "d")]) == 2  # exists, no --force
    assert main([*args, "--negatives", "shuffle", "--out", str(tmp_path / "s")]) == 2


@pytest.mark.slow
def test_two_experiments_multilabel(signal_world, tmp_path):
    """Two peak files (all placed CTCF peaks; every third of them) → one set with a label per
    experiment → multilabel training with per-task AUROCs and figures."""
    world, _ = signal_world
    rows = (world / "peaks.bed").read_text().splitlines()
    (tmp_path / "b.bed").write_text("\n".join(rows[::3]) + "\n")
    data = tmp_path / "data"
    assert (
        main(
            [
                "prepare",
                f"all={world / 'peaks.bed'}",
                f"third={tmp_path / 'b.bed'}",
                "--genome",
                str(world / "genome.fa"),
                "--top",
                "0",
                "--out",
                str(data),
            ]
        )
        == 0
    )
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    assert list(table.columns[-2:]) == ["all", "third"]
    # every window holding a 'third' summit holds the same 'all' summit; negatives have none
    assert table["all"].sum() == len(rows) and table["third"].sum() == len(rows[::3])
    assert (table["third"] <= table["all"]).all()
    summary = json.loads((data / "summary.json").read_text())
    assert summary["union"]["suppressed_by_overlap"] == len(rows[::3])  # identical windows
    run = tmp_path / "run"
    assert main(["train", "--data", str(data / "dataset.tsv"), "--targets", "all,third",
                 "--arch", "cnn", "--max-epochs", "4", "--lr", "0.005", "--split", "given",
                 "--out", str(run)]) == 0  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["task"] == "multilabel"
    assert {"all", "third"} <= set(metrics["metrics"])
    for name in ("all", "third"):
        assert 0.0 <= metrics["metrics"][name]["auroc"] <= 1.0
    assert metrics["metrics"]["all"]["auroc"] > 0.7  # CTCF peaks vs background (measured 0.82)
    assert (run / "figures" / "roc.png").is_file()  # one ROC curve per experiment
    assert "third" in (run / "report.html").read_text()


@pytest.mark.slow
def test_folds_train_and_benchmark(signal_world, tmp_path):
    """`--folds 3` writes three runs (one chromosome held out each) and a summary."""
    world, _ = signal_world
    data = tmp_path / "data"
    rows = (world / "peaks.bed").read_text().splitlines()
    (tmp_path / "p.bed").write_text("\n".join(rows[::3]) + "\n")  # 100 peaks on 3 chromosomes
    assert main(["prepare", str(tmp_path / "p.bed"), "--genome", str(world / "genome.fa"),
                 "--top", "0", "--out", str(data)]) == 0  # fmt: skip
    cv = tmp_path / "cv"
    assert main(["train", "--data", str(data / "dataset.tsv"), "--arch", "cnn",
                 "--max-epochs", "1", "--folds", "3", "--out", str(cv)]) == 0  # fmt: skip
    for i in (1, 2, 3):
        assert (cv / f"fold{i}" / "model.safetensors").is_file()
    folds = pd.read_csv(cv / "folds.tsv", sep="\t")
    assert sorted(folds["test_chroms"]) == ["chr1", "chr2", "chr3"]
    summary = pd.read_csv(cv / "summary.tsv", sep="\t").set_index("metric")
    assert summary.loc["auroc", "mean"] == pytest.approx(folds["auroc"].mean())
    assert summary.loc["auroc", "sd"] == pytest.approx(folds["auroc"].std(ddof=1))
    assert (cv / "folds.png").is_file()
    assert main(["train", "--data", str(data / "dataset.tsv"), "--folds", "3",
                 "--out", str(cv)]) == 2  # exists: needs --force  # fmt: skip
    bench = tmp_path / "bench"
    assert (
        main(
            [
                "benchmark",
                "--data",
                str(data / "dataset.tsv"),
                "--models",
                "composition",
                "--folds",
                "3",
                "--out",
                str(bench),
            ]
        )
        == 0
    )
    summary = pd.read_csv(bench / "summary.tsv", sep="\t")
    assert set(summary["run"]) == {"composition"}
    assert (summary.loc[summary["metric"] == "auroc", "n_folds"] == 3).all()
    assert (bench / "fold3" / "composition" / "metrics.json").is_file()


@pytest.mark.slow
def test_hybrid_input_tracks(signal_world, tmp_path, capsys):
    """`--input-track` feeds a hybrid model from a bigWig; the bundle records it; predict and
    scan read it back (or from a given path), and a missing bigWig is a clear error."""
    import shutil

    import cislearn

    world, cover = signal_world
    data, run = tmp_path / "data", tmp_path / "run"
    assert main(["prepare", str(world / "peaks.bed"), "--genome", str(world / "genome.fa"),
                 "--top", "60", "--out", str(data)]) == 0  # fmt: skip
    bw = tmp_path / "acc.bw"
    shutil.copy(world / "ctcf.bw", bw)
    assert main(["train", "--data", str(data / "dataset.tsv"), "--arch", "hybrid",
                 "--input-track", f"acc={bw}", "--input-log1p", "--max-epochs", "1",
                 "--out", str(run)]) == 0  # fmt: skip
    meta = json.loads((run / "model.json").read_text())
    assert meta["n_tracks"] == 1 and meta["track_names"] == ["acc"]
    assert meta["data"]["input_tracks"][0]["path"] == str(bw)
    assert meta["data"]["input_tracks"][0]["transform"] == "log1p"

    preds = tmp_path / "p.tsv"
    assert main(["predict", str(run), str(data / "pos.fa"), "--out", str(preds)]) == 0
    got = pd.read_csv(preds, sep="\t")
    # the same numbers from one-hot + log1p(coverage, uncovered bases 0) computed here
    table = pd.read_csv(data / "dataset.tsv", sep="\t").set_index("id").loc[got["id"]]
    x = cislearn.one_hot(table["sequence"].tolist())
    acc = np.stack(
        [
            np.log1p(np.nan_to_num(cover[c][s:e]))
            for c, s, e in table[["chrom", "start", "end"]].itertuples(index=False)
        ]
    )
    x = np.concatenate([x, acc[:, None, :].astype(np.float32)], axis=1)
    pred = cislearn.load(run)
    np.testing.assert_allclose(got["label_prob"], pred.predict(x).probs[:, 0], rtol=1e-5)

    regions = tmp_path / "r.bed"
    regions.write_text("chr1\t0\t2000\n")
    assert main(["scan", str(run), "--genome", str(world / "genome.fa"), "--regions",
                 str(regions), "--out", str(tmp_path / "s.bw")]) == 0  # fmt: skip
    bw.rename(tmp_path / "moved.bw")
    capsys.readouterr()
    assert main(["scan", str(run), "--genome", str(world / "genome.fa"), "--regions",
                 str(regions), "--out", str(tmp_path / "t.bw")]) == 2  # fmt: skip
    assert "input track 'acc'" in capsys.readouterr().err
    assert main(["scan", str(run), "--genome", str(world / "genome.fa"), "--regions",
                 str(regions), "--out", str(tmp_path / "t.bw"),
                 "--input-track", f"acc={tmp_path / 'moved.bw'}"]) == 0  # fmt: skip
    a = pyBigWig.open(str(tmp_path / "s.bw")).intervals("chr1")
    b = pyBigWig.open(str(tmp_path / "t.bw")).intervals("chr1")
    assert a == b

    # score-variants reads the same track: Δ = model(alt + track) - model(ref + track)
    genome = open(world / "genome.fa").read().split(">chr1\n")[1].split("\n")[0]
    p = int(table.loc[table["chrom"] == "chr1", "start"].iloc[0]) + 100  # a window centre
    alt = {"A": "C", "C": "G", "G": "T", "T": "A"}[genome[p].upper()]
    (tmp_path / "v.tsv").write_text(f"chr1\t{p + 1}\t{genome[p]}\t{alt}\tv1\n")
    assert main(["score-variants", str(run), str(tmp_path / "v.tsv"), "--genome",
                 str(world / "genome.fa"), "--out", str(tmp_path / "var"), "--n-null", "20",
                 "--input-track", f"acc={tmp_path / 'moved.bw'}"]) == 0  # fmt: skip
    scored = pd.read_csv(tmp_path / "var" / "variants.tsv", sep="\t")
    w = genome[p - 100 : p + 101]
    track = np.log1p(np.nan_to_num(cover["chr1"][p - 100 : p + 101])).astype(np.float32)
    xs = cislearn.one_hot([w, w[:100] + alt + w[101:]])
    xs = np.concatenate([xs, np.stack([track, track])[:, None, :]], axis=1)
    probs = pred.predict(xs).probs[:, 0]
    np.testing.assert_allclose(scored["label_p_ref"], probs[0], rtol=1e-4)
    np.testing.assert_allclose(scored["label_delta_p"], probs[1] - probs[0], atol=1e-5)


def test_bigwig_baseline_features(signal_world, tmp_path):
    """`bigwig:NAME=PATH` features beside composition: the track's mean/max/covered per
    window equal numpy on the fixture, and the fitted baseline predicts from its run folder."""
    from cislearn.baseline import featurize, parse_features

    world, cover = signal_world
    data = tmp_path / "data"
    assert main(["prepare", str(world / "peaks.bed"), "--genome", str(world / "genome.fa"),
                 "--top", "80", "--out", str(data)]) == 0  # fmt: skip
    table = pd.read_csv(data / "dataset.tsv", sep="\t")
    spec = f"bigwig:ctcf={world / 'ctcf.bw'}"
    fm = featurize(parse_features(spec), table["sequence"].tolist(), ids=table["id"].tolist())
    assert fm.names == ["ctcf_mean", "ctcf_max", "ctcf_covered"]
    for i, (c, s, e) in enumerate(table[["chrom", "start", "end"]].itertuples(index=False)):
        seg = cover[c][s:e]
        covered = ~np.isnan(seg)
        expect = [np.nansum(seg) / (e - s), np.nanmax(seg) if covered.any() else 0.0,
                  covered.mean()]  # fmt: skip
        np.testing.assert_allclose(fm.values[i], expect, rtol=1e-5, atol=1e-7)
    run = tmp_path / "run"
    assert main(["baseline", "--data", str(data / "dataset.tsv"), "--targets", "label",
                 "--features", f"composition:1,{spec}", "--model", "lasso",
                 "--out", str(run)]) == 0  # fmt: skip
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["metrics"]["label"]["auroc"] > 0.95  # signal marks the peaks
    prob = {}
    for part in ("pos", "neg"):  # `predict` reads the windows from the FASTA ids
        assert main(["predict", str(run), str(data / f"{part}.fa"),
                     "--out", str(tmp_path / f"{part}.tsv")]) == 0  # fmt: skip
        prob[part] = pd.read_csv(tmp_path / f"{part}.tsv", sep="\t")["label_prob"]
    assert prob["pos"].min() > prob["neg"].max()
