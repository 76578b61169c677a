"""What a new user trips on (issue 15): output folders are never clobbered nor left behind,
stale genome indexes, unverifiable bundles, seeds out of range, honest help."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cislearn.cli.main import main
from cislearn.io.atomic import RUN_MARKER

MOTIF = "CCGCGAGGGCGC"  # CTCF-like core implanted into positives


def run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _random(rng: np.random.Generator, n: int) -> str:
    return "".join(rng.choice(list("ACGT"), size=n))


def write_fasta(path: Path, seqs: list[str], prefix: str) -> Path:
    path.write_text("".join(f">{prefix}{i}\n{s}\n" for i, s in enumerate(seqs)))
    return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> tuple[Path, Path]:
    """80 positives (with a motif) and 80 negatives of 60 bp."""
    rng = np.random.default_rng(0)
    folder = tmp_path_factory.mktemp("tiny")
    pos = []
    for _ in range(80):
        s = _random(rng, 60)
        pos.append(s[:24] + MOTIF + s[36:])
    neg = [_random(rng, 60) for _ in range(80)]
    return write_fasta(folder / "pos.fa", pos, "p"), write_fasta(folder / "neg.fa", neg, "n")


TRAIN = ("--arch", "cnn", "--set", "model.filters=8", "--max-epochs", "1", "--num-threads", "1")


def train(capsys, tiny, out: Path, *extra: object) -> tuple[int, str, str]:
    pos, neg = tiny
    return run(capsys, "train", "--pos", pos, "--neg", neg, *TRAIN, "--out", out, *extra)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory, tiny) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    pos, neg = tiny
    code = main(["train", "--pos", str(pos), "--neg", str(neg), *TRAIN, "--out", str(out)])
    assert code == 0
    return out


# -- point 1: a non-empty output folder is refused without --force / --resume -------------------


def test_train_refuses_to_replace_a_finished_run(capsys, tmp_path, tiny) -> None:
    out = tmp_path / "run"
    code, _, err = train(capsys, tiny, out)
    assert code == 0, err
    weights = (out / "model.safetensors").read_bytes()
    code, _, err = train(capsys, tiny, out, "--seed", "7")
    assert code == 2
    assert len(err.strip().splitlines()) == 1
    assert "not empty" in err and "--force" in err and "--resume" in err
    assert (out / "model.safetensors").read_bytes() == weights  # untouched
    code, _, err = train(capsys, tiny, out, "--seed", "7", "--force")
    assert code == 0, err
    assert (out / "model.safetensors").read_bytes() != weights
    assert not (out / RUN_MARKER).exists()


@pytest.mark.parametrize("command", ["baseline", "benchmark", "evaluate", "score-variants"])
def test_other_commands_refuse_a_non_empty_folder(capsys, tmp_path, tiny, command) -> None:
    pos, neg = tiny
    out = tmp_path / "results"
    out.mkdir()
    (out / "keep.txt").write_text("earlier work")
    args = {
        "baseline": ("baseline", "--pos", pos, "--neg", neg, "--features", "composition"),
        "benchmark": ("benchmark", "--pos", pos, "--neg", neg, "--models", "composition"),
        "evaluate": ("evaluate", tmp_path, "--pos", pos, "--neg", neg),
        "score-variants": ("score-variants", tmp_path, pos, "--genome", pos),
    }[command]
    code, _, err = run(capsys, *args, "--out", out)
    assert code == 2 and "not empty (keep.txt)" in err and "--force" in err, err
    assert "--resume" not in err  # these commands cannot resume
    assert (out / "keep.txt").read_text() == "earlier work"
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]


def test_an_interrupted_run_of_the_same_command_is_reused(capsys, tmp_path, tiny) -> None:
    pos, neg = tiny
    out = tmp_path / "b"
    out.mkdir()
    (out / RUN_MARKER).write_text("baseline\n")
    (out / "partial.tsv").write_text("x")
    code, _, err = run(
        capsys, "baseline", "--pos", pos, "--neg", neg, "--features", "composition", "--out", out
    )
    assert code == 0, err
    assert (out / "report.html").exists() and not (out / RUN_MARKER).exists()
    (out / RUN_MARKER).write_text("train\n")  # another command's leftovers: refused
    code, _, err = run(
        capsys, "baseline", "--pos", pos, "--neg", neg, "--features", "composition", "--out", out
    )
    assert code == 2 and "--force" in err


def test_predict_refuses_to_overwrite_a_file(capsys, tmp_path, tiny_run, tiny) -> None:
    pos, _ = tiny
    out = tmp_path / "p.tsv"
    out.write_text("earlier\n")
    code, _, err = run(capsys, "predict", tiny_run, pos, "--out", out)
    assert code == 2 and "exists" in err and "--force" in err
    assert out.read_text() == "earlier\n"
    code, _, err = run(capsys, "predict", tiny_run, pos, "--out", out, "--force")
    assert code == 0, err
    assert out.read_text().startswith("id\t")


# -- point 2: a failed command leaves no output folder behind ----------------------------------


@pytest.mark.parametrize(
    "extra",
    [
        ("--arch", "cnnn"),  # architecture typo
        ("--set", "model.filterz=3"),  # unknown model key
        ("--set", "lr"),  # malformed --set
    ],
)
def test_failed_train_leaves_no_folder(capsys, tmp_path, tiny, extra) -> None:
    out = tmp_path / "nested" / "run"
    code, _, err = train(capsys, tiny, out, *extra)
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_failed_train_on_mixed_lengths_leaves_no_folder(capsys, tmp_path, tiny) -> None:
    pos, _ = tiny
    neg = write_fasta(tmp_path / "short.fa", ["ACGT" * 10] * 20, "s")
    out = tmp_path / "run"
    code, _, err = run(capsys, "train", "--pos", pos, "--neg", neg, *TRAIN, "--out", out)
    assert code == 2, err
    assert not out.exists()


def test_failed_command_empties_a_folder_it_was_given_empty(capsys, tmp_path, tiny) -> None:
    out = tmp_path / "given"
    out.mkdir()
    code, _, _ = train(capsys, tiny, out, "--arch", "cnnn")
    assert code == 2
    assert out.is_dir() and not any(out.iterdir())


@pytest.mark.parametrize(
    "text",
    [
        "##fileformat=VCFv4.2\nchr1\t10\t.\tA\tC\t.\t.\t.\n",  # no #CHROM line
        "chrom\tpos\tref\talt\nchr1\tten\tA\tC\n",  # bad TSV line
    ],
)
def test_failed_score_variants_leaves_no_folder(capsys, tmp_path, tiny_run, text) -> None:
    genome = write_fasta(tmp_path / "g.fa", ["ACGT" * 50], "chr")
    suffix = ".vcf" if text.startswith("##") else ".tsv"
    variants = tmp_path / f"v{suffix}"
    variants.write_text(text)
    out = tmp_path / "scores"
    code, _, err = run(
        capsys, "score-variants", tiny_run, variants, "--genome", genome, "--out", out
    )
    assert code == 2 and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


# -- point 5 (CLI half): one seed range, checked in config.py ---------------------------------


@pytest.mark.parametrize("seed", [2**32, 10**29, -1])
@pytest.mark.parametrize("command", ["train", "simulate", "baseline", "score-variants"])
def test_seed_out_of_range_is_one_line(capsys, tmp_path, tiny, command, seed) -> None:
    pos, neg = tiny
    out = tmp_path / "out"
    args = {
        "train": ("train", "--pos", pos, "--neg", neg, *TRAIN),
        "simulate": ("simulate", "--n-positive", "5", "--n-negative", "5", "--length", "30"),
        "baseline": ("baseline", "--pos", pos, "--neg", neg, "--features", "composition"),
        "score-variants": ("score-variants", tmp_path, pos, "--genome", pos),
    }[command]
    code, _, err = run(capsys, *args, "--seed", seed, "--out", out)
    assert code == 2
    assert err.strip() == (
        f"cislearn: error: --seed: must be an integer from 0 to 4294967295 (2**32 - 1); got {seed}"
    )
    assert not out.exists()


def test_seed_range_is_shared_by_configs() -> None:
    from pydantic import BaseModel

    from cislearn.config import MAX_SEED, Seed, TrainConfig, check_seed
    from cislearn.errors import ConfigError

    class Form(BaseModel):  # how the web's request models use it
        seed: Seed = 0

    assert check_seed(MAX_SEED) == MAX_SEED and Form(seed=MAX_SEED).seed == MAX_SEED
    for bad in (MAX_SEED + 1, -1, True):
        with pytest.raises(ConfigError, match="0 to 4294967295"):
            check_seed(bad)
    with pytest.raises(ValueError):
        Form(seed=MAX_SEED + 1)
    with pytest.raises(ValueError):
        TrainConfig(seed=2**32)


# -- point 4: a bundle without its weights checksum is refused ---------------------------------


def test_bundle_without_checksum_is_refused(capsys, tmp_path, tiny_run, tiny) -> None:
    import shutil

    run_dir = tmp_path / "tampered"
    shutil.copytree(tiny_run, run_dir)
    meta = json.loads((run_dir / "model.json").read_text())
    del meta["weights_sha256"]
    (run_dir / "model.json").write_text(json.dumps(meta))
    weights = bytearray((run_dir / "model.safetensors").read_bytes())
    weights[-3] ^= 0x40  # flip a bit of the last float
    (run_dir / "model.safetensors").write_bytes(bytes(weights))
    code, _, err = run(capsys, "predict", run_dir, tiny[0], "--out", tmp_path / "p.tsv")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "no 'weights_sha256'" in err and "cannot be verified" in err
    assert not (tmp_path / "p.tsv").exists()


# -- point 3: a stale .fai is detected and rebuilt, whatever the file times say -----------------


def _write_genome(path: Path, chroms: dict[str, str], width: int) -> Path:
    with open(path, "w") as fh:
        for name, seq in chroms.items():
            fh.write(
                f">{name}\n" + "".join(seq[i : i + width] + "\n" for i in range(0, len(seq), width))
            )
    return path


@pytest.mark.parametrize("change", ["line width", "chromosome added"])
def test_stale_fai_is_rebuilt_before_scoring(capsys, caplog, tmp_path, tiny_run, change) -> None:
    import os

    rng = np.random.default_rng(3)
    chroms = {f"chr{i}": _random(rng, 400) for i in (1, 2)}
    chroms["chr2"] = chroms["chr2"][:170] + MOTIF + chroms["chr2"][182:]
    lines = ["chrom\tpos\tref\talt\tid"]
    for k, pos in enumerate(range(150, 200, 5)):
        ref = chroms["chr2"][pos - 1]
        lines.append(f"chr2\t{pos}\t{ref}\t{'A' if ref != 'A' else 'C'}\tv{k}")
    variants = tmp_path / "v.tsv"
    variants.write_text("\n".join(lines) + "\n")
    fresh = _write_genome(tmp_path / "fresh.fa", chroms, 60)
    stale = _write_genome(tmp_path / "stale.fa", chroms, 60)
    from cislearn.io.genome import Genome

    Genome(stale).close()  # index the old layout ...
    if change == "line width":  # ... then rewrite the FASTA under it
        _write_genome(stale, chroms, 50)
    else:
        _write_genome(stale, {"chr0": _random(rng, 300), **chroms}, 60)
    later = stale.stat().st_mtime + 60
    os.utime(f"{stale}.fai", (later, later))  # an index newer than the FASTA: pyfaidx trusts it
    tables = []
    for genome in (fresh, stale):
        out = tmp_path / f"scores_{genome.stem}"
        code, _, err = run(
            capsys, "score-variants", tiny_run, variants, "--genome", genome, "--out", out,
            "--n-null", "50", "--top-maps", "0",
        )  # fmt: skip
        assert code == 0, err
        tables.append((out / "variants.tsv").read_text())
    assert tables[0] == tables[1]
    assert "does not match the FASTA" in caplog.text and "re-indexing" in caplog.text


# -- point 6: honest help -----------------------------------------------------------------------


def _commands() -> dict:
    import typer

    from cislearn.cli.main import app

    return typer.main.get_command(app).commands


def test_version(capsys) -> None:
    import cislearn

    code, out, _ = run(capsys, "--version")
    assert code == 0 and out.strip() == f"cislearn {cislearn.__version__}"


def test_train_help_shows_config_defaults_and_allowed_values() -> None:
    import typing

    from cislearn.cli.app import ARCHS
    from cislearn.config import MONITORS as CONFIG_MONITORS
    from cislearn.config import TrainConfig
    from cislearn.models.registry import ARCHITECTURES

    assert ARCHS == ARCHITECTURES  # the CLI's copy (no torch import for --help)
    params = {p.name: p for p in _commands()["train"].params}
    for key, field in TrainConfig.model_fields.items():
        if key == "model":
            continue
        text = params[key].help
        default = field.default
        if default not in (None, ()):
            shown = str(default).lower() if isinstance(default, bool) else str(default)
            assert f"Default: {shown}." in text, (key, text)
        choices = [
            a
            for arg in (field.annotation, *typing.get_args(field.annotation))
            if typing.get_origin(arg) is typing.Literal
            for a in typing.get_args(arg)
        ]
        if len(choices) > 1:
            assert f"One of: {', '.join(choices)}." in text, (key, text)
    assert ", ".join(ARCHITECTURES) in params["arch"].help
    assert ", ".join(CONFIG_MONITORS) in params["monitor"].help


def test_every_option_with_a_default_shows_it() -> None:
    for name, command in _commands().items():
        for param in command.params:
            if param.param_type_name != "option" or param.default in (None, False, ()):
                continue
            assert param.show_default or "Default:" in (param.help or ""), (name, param.name)


# -- point 10: DeepLIFT/SHAP says one line about its convergence deltas --------------------------


def test_deeplift_shap_reports_one_convergence_line(capsys, caplog, tmp_path, tiny_run, tiny):
    import logging
    import warnings

    caplog.set_level(logging.INFO, logger="cislearn")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, out, err = run(
            capsys, "interpret", tiny_run, tiny[0], "--method", "deeplift-shap",
            "--out", tmp_path / "attr", "--top", "1",
        )  # fmt: skip
    assert code == 0, err
    assert "tensor(" not in err + out + caplog.text
    assert not [w for w in caught if "Convergence deltas" in str(w.message)]
    lines = [r.getMessage() for r in caplog.records if "convergence deltas" in r.getMessage()]
    assert len(lines) == 1 and "\n" not in lines[0]
    # the cnn's global max pool has no DeepLIFT rule: the deltas are large and IG is suggested
    assert "% of the mean output change" in lines[0] and "integrated-gradients" in lines[0]


def test_convergence_deltas_are_small_for_a_model_deeplift_handles_exactly() -> None:
    import torch

    from cislearn.interpret.attribution import convergence_deltas, log_convergence

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(4 * 20, 1))
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (6, 20)), 4).permute(0, 2, 1).float()
    refs = x[torch.randperm(6)].unsqueeze(1).repeat(1, 3, 1, 1)
    weight = net[1].weight.reshape(1, 4, 20)
    exact = weight * (x - refs.mean(dim=1))  # a linear model's exact attributions
    deltas, diff = convergence_deltas(net, x, exact, refs, 4, "cpu")
    assert np.abs(diff).mean() > 0.01 and deltas.max() < 1e-5
    assert log_convergence((deltas, diff)) < 1e-4
    deltas, diff = convergence_deltas(net, x, exact * 2, refs, 4, "cpu")
    assert log_convergence((deltas, diff)) > 0.5


# -- point 7: early stopping is announced; slow steps show progress ------------------------------


def test_train_announces_the_best_epoch(capsys, tmp_path, tiny) -> None:
    pos, neg = tiny
    code, out, err = run(
        capsys, "train", "--pos", pos, "--neg", neg, "--arch", "cnn", "--set", "model.filters=8",
        "--max-epochs", "4", "--patience", "1", "--lr", "0.5", "--out", tmp_path / "r",
    )  # fmt: skip
    assert code == 0, err
    notes = [line for line in out.splitlines() if "; best epoch" in line]
    assert len(notes) == 1, out
    history = (tmp_path / "r" / "history.csv").read_text().strip().splitlines()
    n_epochs = len(history) - 1
    if n_epochs < 4:
        assert f"stopped early at epoch {n_epochs}" in notes[0]
    else:
        assert "ran all 4 epochs" in notes[0]
    best = json.loads((tmp_path / "r" / "model.json").read_text())["best_epoch"]
    assert f"best epoch {best} (valid_auroc " in notes[0]


def test_stopping_note_wording() -> None:
    import pandas as pd

    from cislearn.train import stop_summary

    history = pd.DataFrame({"valid_auroc": [0.8, 0.91234, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]})
    assert stop_summary(history, 2, "valid_auroc", 20) == (
        "stopped early at epoch 9; best epoch 2 (valid_auroc 0.9123)"
    )


def test_motifs_shows_its_steps(capsys, tmp_path, tiny_run, tiny) -> None:
    pos, neg = tiny
    code, out, err = run(
        capsys, "motifs", tiny_run, "--data", pos, "--neg", neg, "--min-sites", "2",
        "--min-ic", "0", "--out", tmp_path / "m",
    )  # fmt: skip
    assert code == 0, err
    for step in ("influence of 8 filters", "Tomtom", "FIMO enrichment"):
        assert step in err, err


# -- point 8: length errors name the file and a fix that works; BED where FASTA is expected -----


def test_length_error_names_the_file_and_resize_fixes_it(capsys, tmp_path, tiny) -> None:
    pos, _ = tiny
    rng = np.random.default_rng(5)
    seqs = [_random(rng, 60) for _ in range(60)] + [_random(rng, 75), _random(rng, 41)]
    neg = write_fasta(tmp_path / "neg.fa", seqs, "n")
    code, _, err = train(capsys, (pos, neg), tmp_path / "r")
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{neg}: record 'n60' has 75 bp but most sequences have 60 bp" in err
    assert f"cislearn resize {neg} --length 60" in err
    fixed = tmp_path / "fixed.fa"
    code, out, err = run(capsys, "resize", neg, "--length", "60", "--out", fixed)
    assert code == 0 and "1 trimmed, 1 padded with N" in out, err
    from cislearn.io.fasta import read_fasta

    records = {r.id: r.sequence for r in read_fasta(fixed)}
    assert {len(s) for s in records.values()} == {60}
    assert records["n60"] == seqs[60][7:67]  # 15 extra bases: 7 off the left, 8 off the right
    assert records["n61"] == "N" * 9 + seqs[61] + "N" * 10  # 19 missing: 9 left, 10 right
    code, _, err = train(capsys, (pos, fixed), tmp_path / "r")
    assert code == 0, err


def test_predict_length_error_gives_the_resize_command(capsys, tmp_path, tiny_run) -> None:
    fasta = write_fasta(tmp_path / "long.fa", ["ACGT" * 20], "x")
    code, _, err = run(capsys, "predict", tiny_run, fasta, "--out", tmp_path / "p.tsv")
    assert code == 2 and str(fasta) in err
    assert "cislearn resize FASTA --length 60" in err


@pytest.mark.parametrize("command", ["train", "predict"])
def test_bed_where_fasta_is_expected(capsys, tmp_path, tiny, tiny_run, command) -> None:
    bed = tmp_path / "peaks.bed"
    bed.write_text("chr1\t100\t300\tpeak1\t0\t+\nchr1\t500\t700\tpeak2\t0\t+\n")
    args = {
        "train": ("train", "--pos", bed, "--neg", tiny[1], "--out", tmp_path / "r"),
        "predict": ("predict", tiny_run, bed, "--out", tmp_path / "p.tsv"),
    }[command]
    code, _, err = run(capsys, *args)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{bed}, line 1" in err and "this looks like BED" in err and "cislearn prepare" in err


# -- point 9: one naming, plurals, check order and outliers, maps, summary, titles, figure ------


def test_run_predictions_and_predict_name_columns_alike(capsys, tmp_path, tiny_run, tiny):
    code, _, err = run(capsys, "predict", tiny_run, tiny[0], "--out", tmp_path / "p.tsv")
    assert code == 0, err
    predicted = (tmp_path / "p.tsv").read_text().splitlines()[0].split("\t")
    held_out = (tiny_run / "predictions.tsv").read_text().splitlines()[0].split("\t")
    assert predicted == ["id", "label_prob", "label_logit"]
    assert held_out[-2:] == predicted[1:] and "label_true" in held_out


def test_one_sequence_is_singular_and_maps_are_written_once(capsys, tmp_path, tiny_run):
    out = tmp_path / "maps"
    seq = "ACGT" * 6 + MOTIF + "TTGCA" * 4 + "ACGT"
    code, stdout, err = run(capsys, "mutation-map", tiny_run, "--sequence", seq, "--out", out)
    assert code == 0, err
    assert "mutation maps of 1 sequence (" in stdout
    assert (out / "sequence.png").exists() and not (out / "maps").exists()
    code, _, err = run(
        capsys, "mutation-map", tiny_run, "--sequence", seq, "--zoom", "20-35",
        "--out", tmp_path / "z",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        capsys, "mutation-map", tiny_run, "--sequence", seq, "--zoom", "20-99",
        "--out", tmp_path / "bad",
    )  # fmt: skip
    assert code == 2 and "zoom: positions 20-99 are not within the sequence (0-59)" in err
    assert not (tmp_path / "bad").exists()


def test_zoom_centres_on_the_strongest_effects() -> None:
    from cislearn.report.maps import zoom_window

    d = np.zeros((4, 200))
    d[2, 125:141] = -2.0  # a CTCF-like site at 125-140, off the centre
    lo, hi = zoom_window(d, 20)
    assert hi - lo == 41 and lo <= 125 and hi >= 141
    assert zoom_window(np.zeros((4, 200)), 20) == (80, 121)  # nothing: the centre
    assert zoom_window(d, (10, 19)) == (10, 20)


def test_check_orders_chromosomes_naturally_and_flags_long_records(capsys, tmp_path):
    bed = tmp_path / "p.bed"
    bed.write_text("chr10\t1\t100\nchr2\t1\t100\nchrX\t5\t50\nchr1\t1\t100\n")
    code, out, err = run(capsys, "check", bed)
    assert code == 0, err
    assert "chr1: 1  chr2: 1  chr10: 1  chrX: 1" in out
    seqs = ["ACGTACGTAA", "ACGTACGTAA", "ACGTTTGCAA", "ACGTTTGCAC", "ACGTTTGCAG", "A" * 300]
    fasta = write_fasta(tmp_path / "s.fa", seqs, "r")
    code, out, err = run(capsys, "check", fasta)
    assert code == 0, err
    assert "long records 1 over 10x the median length (longest: 'r5', 300 bp)" in out
    assert "duplicates   1 sequence, 0 ids" in out


def test_summary_units_and_run_titles(capsys, tmp_path, tiny) -> None:
    code, out, err = run(capsys, "summary", "cnn", "--length", "60")
    assert code == 0, err
    assert "Total mult-adds (M):" in out and "Units." not in out
    from cislearn.pipelines.train import run_name

    assert run_name(Path("demo_out/run")) == "demo_out/run"
    assert run_name(Path("runs/ctcf")) == "ctcf"


def test_history_figure_names_the_best_epoch_in_the_legend(monkeypatch, tmp_path) -> None:
    import pandas as pd

    from cislearn.report import figures

    seen = {}

    def keep(fig, path):  # noqa: ANN001, ANN202
        seen["fig"] = fig
        return Path(path)

    monkeypatch.setattr(figures, "save_figure", keep)
    history = pd.DataFrame(
        {
            "epoch": [1, 2, 3, 4],
            "train_loss": [0.7, 0.5, 0.4, 0.3],
            "valid_loss": [0.7, 0.6, 0.55, 0.6],
            "valid_auroc": [0.6, 0.8, 0.9, 0.85],
        }
    )
    figures.plot_history(history, tmp_path / "h.png", monitor="valid_auroc")
    axes = seen["fig"].axes
    assert all(not ax.texts for ax in axes)  # no label written over the curves
    labels = [t.get_text() for ax in axes if ax.get_legend() for t in ax.get_legend().get_texts()]
    assert "best epoch 3: valid_auroc 0.9" in labels
