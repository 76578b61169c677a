"""CLI: `experiment marginalize|ablate|spacing`, `design` and `motifs --from attributions` end to
end on the session's CTCF cnn, and their bad-input errors (one line, exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from cislearn.cli.main import main

BAD = Path(__file__).resolve().parent / "data" / "bad"


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_help_lists_the_commands(capsys) -> None:
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "  experiment " in out and "  design " in out
    code, out, _ = run(capsys, "experiment", "--help")
    for command in ("marginalize", "ablate", "spacing"):
        assert command in out
    code, out, _ = run(capsys, "motifs", "--help")
    assert "--from" in out and "attributions" in out


def test_marginalize_ablate_spacing_design(capsys, tmp_path, ctcf_cnn_run, ctcf_held_out) -> None:
    neg, pos = ctcf_held_out["neg"], ctcf_held_out["pos"]
    out = tmp_path / "marg"
    code, text, err = run(
        capsys,
        "experiment",
        "marginalize",
        ctcf_cnn_run,
        "--background",
        neg,
        "--motif",
        "MA0139.2",
        "--first",
        100,
        "--out",
        out,
    )
    assert code == 0, err
    assert "marginalize GCCACCAGGGGGCGC" in text and "change +" in text
    table = pd.read_csv(out / "marginalize.tsv", sep="\t")
    assert len(table) == 100 and (table["after"] - table["before"]).mean() > 0.3
    assert (out / "figures" / "marginalize.png").is_file()
    assert json.loads((out / "record.json").read_text())["options"]["bases"] == "GCCACCAGGGGGCGC"
    # Results are never overwritten without --force.
    code, _, err = run(
        capsys,
        "experiment",
        "marginalize",
        ctcf_cnn_run,
        "--background",
        neg,
        "--motif",
        "MA0139.2",
        "--out",
        out,
    )
    assert code == 2 and "--force" in err and len(err.strip().splitlines()) == 1

    out = tmp_path / "abl"
    code, text, err = run(
        capsys,
        "experiment",
        "ablate",
        ctcf_cnn_run,
        "--data",
        pos,
        "--motif",
        "MA0139",
        "--first",
        60,
        "--n-shuffles",
        3,
        "--out",
        out,
    )
    assert code == 0, err
    summary = pd.read_csv(out / "summary.tsv", sep="\t").iloc[0]
    assert summary["mean_delta"] < -0.1 and (out / "figures" / "ablate.png").is_file()

    out = tmp_path / "space"
    code, text, err = run(
        capsys,
        "experiment",
        "spacing",
        ctcf_cnn_run,
        "--background",
        neg,
        "--motif-a",
        "CCGCGNGG",
        "--motif-b",
        "AGGGGGCG",
        "--spacings",
        "0-20:10",
        "--first",
        20,
        "--out",
        out,
    )
    assert code == 0, err
    summary = pd.read_csv(out / "summary.tsv", sep="\t")
    assert len(summary) == 4 * 3 and (out / "figures" / "spacing.png").is_file()

    out = tmp_path / "design"
    code, text, err = run(
        capsys,
        "design",
        ctcf_cnn_run,
        "--fasta",
        neg,
        "--first",
        2,
        "--budget",
        3,
        "--fixed",
        "0-50",
        "--out",
        out,
    )
    assert code == 0, err
    traj = pd.read_csv(out / "trajectory.tsv", sep="\t")
    edits = traj[traj["step"] > 0]
    assert len(edits) >= 2 and (edits["position"] >= 50).all()
    assert (out / "designed.fa").read_text().count(">") == 2


@pytest.mark.parametrize(
    ("argv", "expect"),
    [
        (
            ["experiment", "marginalize", "{run}", "--background", "{neg}", "--motif", "CTCF!"],
            "not a JASPAR ID",
        ),
        (
            ["experiment", "marginalize", "{run}", "--background", "{missing}", "--motif", "ACGT"],
            "missing.fa",
        ),
        (
            [
                "experiment",
                "ablate",
                "{run}",
                "--data",
                str(BAD / "bad_letter_x.fa"),
                "--motif",
                "MA0139",
            ],
            "unexpected character",
        ),
        (
            ["experiment", "ablate", "{run}", "--data", "{pos}", "--motif", "{meme}#nope"],
            "'nope' is not in the file",
        ),
        (
            [
                "experiment",
                "spacing",
                "{run}",
                "--background",
                "{neg}",
                "--motif-a",
                "ACGT",
                "--motif-b",
                "ACGT",
                "--spacings",
                "0-500",
            ],
            "does not fit",
        ),
        (
            [
                "experiment",
                "spacing",
                "{run}",
                "--background",
                "{neg}",
                "--motif-a",
                "ACGT",
                "--motif-b",
                "ACGT",
                "--spacings",
                "a-b",
            ],
            "--spacings",
        ),
        (["design", "{run}", "--fasta", "{neg}", "--fixed", "5-999"], "--fixed"),
        (["design", "{run}", "--fasta", "{neg}", "--goal", "higher"], "goal"),
        (["design", "{run}", "--fasta", "{neg}", "--sequence", "ACGT"], "either --fasta"),
        (["design", "{run}", "--sequence", "ACGT"], "length"),
        (
            [
                "motifs",
                "{run}",
                "--data",
                "{pos}",
                "--from",
                "attributions",
                "--regions",
                "{short_bed}",
            ],
            "one per FASTA record",
        ),
        (
            ["motifs", "{run}", "--data", "{pos}", "--from", "attributions", "--max-seqlets", 0],
            "must be >= 1",
        ),
    ],
)
def test_bad_input_is_one_line(capsys, tmp_path, ctcf_cnn_run, ctcf_held_out, argv, expect):
    meme = tmp_path / "m.meme"
    meme.write_text(
        "MEME version 4\n\nALPHABET= ACGT\n\nMOTIF m1\nletter-probability matrix: w= 2\n"
        "1 0 0 0\n0 1 0 0\n"
    )
    short_bed = tmp_path / "short.bed"
    short_bed.write_text("chr1\t1\t201\n")
    values = {
        "run": ctcf_cnn_run,
        "neg": ctcf_held_out["neg"],
        "pos": ctcf_held_out["pos"],
        "missing": tmp_path / "missing.fa",
        "meme": meme,
        "short_bed": short_bed,
    }
    args = [str(a).format(**{k: str(v) for k, v in values.items()}) for a in argv]
    code, _, err = run(capsys, *args, "--out", tmp_path / "out")
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert not (tmp_path / "out").exists()  # a failed command leaves no output folder
    assert expect in lines[0], lines[0]


def test_interpret_writes_the_audit(capsys, tmp_path, ctcf_cnn_run, ctcf_held_out) -> None:
    records = ctcf_held_out["pos"].read_text().split(">")[1:21]
    fasta = tmp_path / "twenty.fa"
    fasta.write_text("".join(">" + r for r in records))
    out = tmp_path / "ig"
    code, text, err = run(
        capsys,
        "interpret",
        ctcf_cnn_run,
        fasta,
        "--method",
        "deeplift-shap",
        "--top",
        1,
        "--out",
        out,
    )
    assert code == 0, err
    line = (out / "audit.txt").read_text().strip()
    assert line in text and "deeplift-shap r=" in line and "delta median" in line
    assert (out / "figures" / "audit.png").is_file()
    # The warnings of tangermeme are summarised, not printed one per batch.
    assert err.count("Convergence deltas") <= 2, err
