"""`cislearn score-variants` end to end on the shared CTCF data used as a small genome."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from cislearn.cli.main import main
from cislearn.io.genome import Genome
from test_variants import (
    VCF_HEAD,
    control_variants,
    motif_variants,
    train_ctcf_bundle,
    write_vcf_text,
)


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_two_cpu_processes(*argv: object, outside: bool = False, ok: bool = True) -> str:
    """``python -m cislearn ARGV`` as 2 CPU processes (Lightning DDP, gloo); rank 0's stdout
    (with ``ok=False``: its exit code and stderr instead, the run expected to fail).

    By default Lightning starts the second rank (forked); ``outside``: both ranks are started
    here with torchrun's environment (``RANK``, ``WORLD_SIZE``, ``MASTER_PORT``, ...), so
    Lightning launches nothing and each process runs the command as one rank (with
    ``ok=False``: each rank's exit code and stderr, the ranks apart by a ``--`` line).
    """
    import os
    import socket
    import subprocess
    import sys

    src = str(Path(__file__).resolve().parents[1] / "src")
    env = {**os.environ, "PYTHONPATH": src, "OMP_NUM_THREADS": "1"}
    ddp = ["--accelerator", "cpu", "--devices", "2", "--strategy", "ddp", "--num-threads", "1"]
    cmd = [sys.executable, "-m", "cislearn", *map(str, argv), *ddp]
    if outside:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        ranks = [
            subprocess.Popen(
                cmd,
                env={
                    **env,
                    "MASTER_ADDR": "127.0.0.1",
                    "MASTER_PORT": str(port),
                    "WORLD_SIZE": "2",
                    "NODE_RANK": "0",
                    "RANK": str(r),
                    "LOCAL_RANK": str(r),
                },
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for r in (0, 1)
        ]
        outs = [p.communicate(timeout=300) for p in ranks]
        if not ok:
            return "\n--\n".join(
                f"{p.returncode}\n{err}" for p, (_, err) in zip(ranks, outs, strict=True)
            )
        for p, (_, err) in zip(ranks, outs, strict=True):
            assert p.returncode == 0, err[-2000:]
        assert outs[1][0] == ""  # rank 1 is silent
        return outs[0][0]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    if not ok:
        return f"{proc.returncode}\n{proc.stderr}"
    assert proc.returncode == 0, proc.stderr[-2000:]
    return proc.stdout


@pytest.fixture(scope="module")
def bundle(ctcf, tmp_path_factory) -> Path:
    return train_ctcf_bundle(ctcf, tmp_path_factory.mktemp("cli_variant_model"))


def test_score_variants_writes_tsv_vcf_figure_maps(capsys, tmp_path, bundle, ctcf_genome):
    import cyvcf2

    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=30) + control_variants(genome, peaks, n=30)
    # a multi-allelic record, a ref mismatch and an unknown contig among them
    first = hits[0]
    other = [b for b in "ACGT" if b not in (first.ref, first.alt)]
    extra = (
        f"{first.chrom}\t{first.pos}\tmulti\t{first.ref}\t{first.alt},{other[0]}\t.\t.\t.\n"
        f"{first.chrom}\t{first.pos}\tmismatch\t{other[1]}\t{first.alt}\t.\t.\t.\n"
        "chrZ\t10\tnowhere\tA\tC\t.\t.\t.\n"
    )
    vcf = write_vcf_text(tmp_path / "in.vcf", hits, extra)
    out = tmp_path / "out"
    code, stdout, err = run(
        capsys, "score-variants", bundle, vcf, "--genome", genome, "--out", out,
        "--top-maps", "3", "--n-null", "300", "--chunk-size", "16",
    )  # fmt: skip
    assert code == 0, err
    assert "ref_mismatch 1" in stdout and "unknown_contig 1" in stdout
    with open(out / "variants.tsv", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    assert len(rows) == len(hits) + 4
    byid = {}
    for r in rows:
        byid.setdefault(r["id"], []).append(r)
    assert [r["alt"] for r in byid["multi"]] == [first.alt, other[0]]
    mismatch = byid["mismatch"][0]
    assert mismatch["flag"] == "ref_mismatch" and mismatch["label_p_ref"] == ""
    q = np.array([float(r["label_qvalue"]) for r in rows if r["flag"] == "ok"])
    p = np.array([float(r["label_pvalue"]) for r in rows if r["flag"] == "ok"])
    assert (q >= p - 1e-9).all() and (q <= 1).all()
    motif = [float(r["label_dscore"]) for r in rows if r["id"][1:].isdigit() and r["id"][0] == "m"]
    assert len(motif) >= 25
    assert np.mean(motif) < 0
    # annotated VCF: INFO fields declared, values equal to the TSV
    reader = cyvcf2.VCF(str(out / "variants.vcf"))
    assert reader.get_header_type("CL_LABEL_DSCORE")["Type"] == "Float"
    recs = list(reader)
    assert len(recs) == len(rows)
    for rec, row in zip(recs, rows, strict=True):
        assert rec.INFO["CL_FLAG"] == row["flag"]
        if row["flag"] == "ok":
            assert rec.INFO["CL_LABEL_Q"] == pytest.approx(float(row["label_qvalue"]), rel=1e-4)
    assert (out / "figures" / "variant_effects.png").stat().st_size > 10_000
    summary = json.loads((out / "summary.json").read_text())
    assert summary["flags"]["ref_mismatch"] == 1 and summary["n_null"] == 300
    assert summary["n_variants"] == len(rows)
    assert not list(out.glob(".*part*"))
    maps = sorted((out / "maps").glob("*.png"))
    assert len(maps) == 3 and maps[0].name.startswith("01_")
    assert all(m.stat().st_size > 10_000 for m in maps)


def test_strict_ref_mismatch_is_one_line_exit_2(capsys, tmp_path, bundle, ctcf_genome):
    genome, peaks = ctcf_genome
    v = control_variants(genome, peaks, n=1)[0]
    wrong = next(b for b in "ACGT" if b != v.ref)
    vcf = write_vcf_text(tmp_path / "in.vcf", [v._replace(ref=wrong)])
    args = ("score-variants", bundle, vcf, "--genome", genome, "--out", tmp_path / "o")
    code, _, err = run(capsys, *args, "--strict")
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err
    assert lines[0].startswith(f"cislearn: error: {vcf}, line 7: REF '{wrong}' does not match")
    assert not (tmp_path / "o" / "variants.tsv").exists()
    code, out, err = run(capsys, *args)  # without --strict: flagged, not an error
    assert code == 0 and "ref_mismatch 1" in out, err


@pytest.mark.parametrize(
    ("body", "expect"),
    [
        ("chr1\tabc\t.\tA\tC\t.\t.\t.\n", "in.vcf, line 7: position 'abc' is not a 1-based"),
        ("chr1 5 . A C . . .\n", "in.vcf, line 7: expected at least 8 tab-separated"),
        ("chr1\t5\t.\tA\tZ\t.\t.\t.\n", "in.vcf, line 7: ALT allele 'Z'"),
    ],
)
def test_malformed_vcf_is_one_line_exit_2(capsys, tmp_path, bundle, ctcf_genome, body, expect):
    genome, _ = ctcf_genome
    vcf = tmp_path / "in.vcf"
    vcf.write_text(VCF_HEAD + body)
    code, _, err = run(
        capsys, "score-variants", bundle, vcf, "--genome", genome, "--out", tmp_path / "o"
    )
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and expect in lines[0] and "Traceback" not in err


def test_missing_genome_and_bad_shifts(capsys, tmp_path, bundle, ctcf_genome):
    genome, peaks = ctcf_genome
    vcf = write_vcf_text(tmp_path / "in.vcf", control_variants(genome, peaks, n=2))
    code, _, err = run(
        capsys,
        "score-variants",
        bundle,
        vcf,
        "--genome",
        tmp_path / "no.fa",
        "--out",
        tmp_path / "o",
    )
    assert code == 2 and "no.fa" in err and len(err.strip().splitlines()) == 1
    code, _, err = run(
        capsys, "score-variants", bundle, vcf, "--genome", genome, "--out", tmp_path / "o",
        "--shifts", "a,b",
    )  # fmt: skip
    assert code == 2 and "--shifts" in err and len(err.strip().splitlines()) == 1


def _one_process(capsys, tmp_path, bundle, ctcf_genome, *, n: int) -> tuple[Path, list, int]:  # noqa: ANN001
    """``n`` motif and ``n`` control SNVs scored by one process into ``tmp_path / "one"``:
    the VCF, the options shared with the multi-process run, the number of variants."""
    genome, peaks = ctcf_genome
    hits = motif_variants(genome, peaks, n=n) + control_variants(genome, peaks, n=n)
    vcf = write_vcf_text(tmp_path / "in.vcf", hits, "")
    common = ["--genome", genome, "--top-maps", "0", "--n-null", str(5 * n), "--chunk-size", "8"]
    code, _, err = run(capsys, "score-variants", bundle, vcf, "--out", tmp_path / "one", *common)
    assert code == 0, err
    return vcf, common, len(hits)


@pytest.mark.slow
def test_ddp_two_cpu_processes_byte_identical(capsys, tmp_path, bundle, ctcf_genome):
    """`--devices 2 --accelerator cpu --strategy ddp` (2 processes, gloo, Lightning's predict
    loop) writes the same variants.tsv and variants.vcf, byte for byte, as one process."""
    vcf, common, n = _one_process(capsys, tmp_path, bundle, ctcf_genome, n=40)
    two = tmp_path / "two"
    stdout = run_two_cpu_processes("score-variants", bundle, vcf, "--out", two, *common)
    assert stdout.count("scored ") == 1  # rank 0 reports, rank 1 is silent
    for name in ("variants.tsv", "variants.vcf"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    summary = json.loads((tmp_path / "two" / "summary.json").read_text())
    assert summary["hardware"]["world_size"] == 2 and summary["n_variants"] == n
    assert not (tmp_path / "two" / ".shards").exists()


@pytest.mark.slow
def test_ddp_ranks_started_outside_and_a_bad_record_on_the_second_rank(
    capsys, tmp_path, bundle, ctcf_genome
):
    """Ranks started as torchrun starts them (Lightning launches nothing: no fork) write the
    same bytes as one process; a malformed record read by the second (forked) rank is the same
    one-line error, exit 2, as with one process, and leaves nothing behind."""
    vcf, common, _ = _one_process(capsys, tmp_path, bundle, ctcf_genome, n=20)
    stdout = run_two_cpu_processes(
        "score-variants", bundle, vcf, "--out", tmp_path / "two", *common, outside=True
    )
    assert stdout.count("scored ") == 1
    for name in ("variants.tsv", "variants.vcf"):
        assert (tmp_path / "two" / name).read_bytes() == (tmp_path / "one" / name).read_bytes()
    # records 9-16 are the second chunk: the second rank's
    lines = vcf.read_text().splitlines(keepends=True)
    head = sum(line.startswith("#") for line in lines)
    lines[head + 11] = "chr1\tabc\t.\tA\tC\t.\t.\t.\n"
    bad = tmp_path / "bad.vcf"
    bad.write_text("".join(lines))
    result = run_two_cpu_processes(
        "score-variants", bundle, bad, "--out", tmp_path / "bad", *common, ok=False
    )
    code, err = result.split("\n", 1)
    expect = f"bad.vcf, line {head + 12}: position 'abc' is not a 1-based"
    assert code == "2" and expect in err and len(err.strip().splitlines()) == 1, err[-2000:]
    assert not (tmp_path / "bad" / "variants.tsv").exists()
    assert not (tmp_path / "bad" / ".shards").exists()
    # started outside, every rank (each its own log under SLURM) says the same line: rank 0,
    # waiting for the failed rank, reports its error, not gloo's "connection closed"
    result = run_two_cpu_processes(
        "score-variants", bundle, bad, "--out", tmp_path / "bad2", *common, outside=True, ok=False
    )
    for rank in result.split("\n--\n"):
        code, err = rank.split("\n", 1)
        assert code == "2" and "Traceback" not in err and "gloo" not in err, rank[-3000:]
        assert expect in err.strip().splitlines()[-1]
    assert not (tmp_path / "bad2" / "variants.tsv").exists()


def test_gpu_settings_exercised_on_cpu(capsys, tmp_path, bundle, ctcf_genome):
    """The GPU inference settings (mixed precision, GPU batch size) run on CPU: bf16 autocast
    around the predict step, 1,024 windows per pass; scores stay close to float32."""
    genome, peaks = ctcf_genome
    vcf = write_vcf_text(tmp_path / "in.vcf", motif_variants(genome, peaks, n=20), "")
    outs = {}
    for name, extra in (
        ("fp32", []),
        ("gpu", ["--precision", "bf16-mixed", "--batch-size", "1024"]),
    ):
        out = tmp_path / name
        code, _, err = run(
            capsys, "score-variants", bundle, vcf, "--genome", genome, "--out", out,
            "--top-maps", "0", "--n-null", "50", "--accelerator", "cpu", *extra,
        )  # fmt: skip
        assert code == 0, err
        outs[name] = list(csv.DictReader(open(out / "variants.tsv"), delimiter="\t"))
        summary = json.loads((out / "summary.json").read_text())
    assert summary["hardware"]["precision"] == "bf16-mixed"
    a = np.array([float(r["label_p_alt"]) for r in outs["fp32"]])
    b = np.array([float(r["label_p_alt"]) for r in outs["gpu"]])
    np.testing.assert_allclose(b, a, atol=0.02)


@pytest.mark.slow
def test_scan_ddp_two_cpu_processes_identical_bigwig(capsys, tmp_path, bundle, ctcf_genome):
    """`scan --devices 2 --accelerator cpu --strategy ddp`: the chunks (8,192 bins each) split
    over 2 processes on Lightning's predict loop give the same bigWig values as one process."""
    import pyBigWig

    genome, _ = ctcf_genome
    chrom, size = next(iter(Genome(genome).lengths.items()))
    regions = tmp_path / "r.bed"
    assert size > 3 * 2 * 8192
    regions.write_text(f"{chrom}\t0\t{size}\n")  # stride 2: chunks of 8,192 bins, at least 3
    common = ["--genome", genome, "--regions", regions, "--stride", "2"]
    code, out, err = run(capsys, "scan", bundle, "--out", tmp_path / "one.bw", *common)
    assert code == 0, err
    stdout = run_two_cpu_processes("scan", bundle, "--out", tmp_path / "two.bw", *common)
    assert stdout.count("windows of") == 1  # rank 0 reports, rank 1 is silent
    one, two = pyBigWig.open(str(tmp_path / "one.bw")), pyBigWig.open(str(tmp_path / "two.bw"))
    a, b = one.intervals(chrom), two.intervals(chrom)
    assert len(a) > 2 * 8192 and a == b
    assert not (tmp_path / ".two.bw.shards").exists()


def test_failed_scan_and_scoring_leave_no_shards(
    capsys, tmp_path, bundle, ctcf_genome, monkeypatch
):
    """A scan or a variant scoring that fails part-way leaves neither its output nor its
    shard folder behind (one line, exit 2 for the CLI; the error for the Python call)."""
    import cislearn.pipelines.scan as scan_pipeline
    from cislearn.errors import InputError
    from cislearn.pipelines.variants import score_variants_run
    from cislearn.variants import VariantScorer

    genome, peaks = ctcf_genome
    chrom, size = next(iter(Genome(genome).lengths.items()))
    regions = tmp_path / "r.bed"
    regions.write_text(f"{chrom}\t0\t{size}\n")
    real_chunk, calls = scan_pipeline.scan_chunk, []

    def failing_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise InputError("disk full (simulated)")
        return real_chunk(*args, **kwargs)

    monkeypatch.setattr(scan_pipeline, "scan_chunk", failing_chunk)
    out = tmp_path / "pred.bw"
    code, _, err = run(capsys, "scan", bundle, "--genome", genome, "--regions", regions,
                       "--stride", "2", "--out", out)  # fmt: skip
    assert code == 2 and "disk full (simulated)" in err and len(calls) == 2
    assert not out.exists() and not (tmp_path / ".pred.bw.shards").exists()

    real_score = VariantScorer.score

    def failing_score(self, chunk, **kwargs):
        if kwargs.get("index") == 1:
            raise InputError("disk full (simulated)")
        return real_score(self, chunk, **kwargs)

    monkeypatch.setattr(VariantScorer, "score", failing_score)
    vcf = write_vcf_text(tmp_path / "in.vcf", control_variants(genome, peaks, n=20), "")
    folder = tmp_path / "scored"
    with pytest.raises(InputError, match="simulated"):
        score_variants_run(bundle, vcf, genome, folder, top_maps=0, n_null=50, chunk_size=8)
    assert not (folder / ".shards").exists() and not (folder / "variants.tsv").exists()


def test_files_left_by_a_killed_run_do_not_leak_into_the_output(tmp_path, bundle, ctcf_genome):
    """Each rank writes its chunks into ``.shards/variants.tsv`` at their offsets; a longer
    file left there by a killed run is cut to the new length (it was not, once)."""
    from cislearn.pipelines.variants import score_variants_run

    genome, peaks = ctcf_genome
    vcf = write_vcf_text(tmp_path / "in.vcf", control_variants(genome, peaks, n=10), "")
    fresh = score_variants_run(bundle, vcf, genome, tmp_path / "fresh", top_maps=0, n_null=50)
    stale = tmp_path / "again" / ".shards"
    stale.mkdir(parents=True)
    for name in ("variants.tsv", "variants.vcf"):
        (stale / name).write_bytes(b"x" * 1_000_000)
    again = score_variants_run(bundle, vcf, genome, tmp_path / "again", top_maps=0, n_null=50)
    assert again.table.read_bytes() == fresh.table.read_bytes()
    assert again.vcf.read_bytes() == fresh.vcf.read_bytes()
