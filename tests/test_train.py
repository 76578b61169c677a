"""Supervised training (cislearn.train): learning, every architecture and task, resume, DDP."""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch

from cislearn.config import TrainConfig, dump_config, load_config, resolve_config
from cislearn.data import SequenceDataset
from cislearn.encode import one_hot
from cislearn.errors import ConfigError, InputError, ModelLoadError
from cislearn.io.bundle import save_bundle
from cislearn.models.registry import ARCHITECTURES
from cislearn.predict import load
from cislearn.train import fit, infer_task
from synthetic import motif_data

SRC = Path(__file__).resolve().parents[1] / "src"

TINY = {
    "cnn": {"filters": 8, "width": 5, "dense": 4},
    "cnn-multi": {"filters": 4, "widths": [3, 5], "dense": 4},
    "cnn-deep": {"filters": [4, 4], "widths": [3, 3], "pool_sizes": [2, 2], "dense": 4},
    "lstm": {"units": 4},
    "cnn-lstm": {"filters": 4, "width": 5, "pool_size": 3, "units": 4, "dense": 4},
    "basset": {"filters": [4, 4, 4], "widths": [5, 3, 3], "pool_sizes": [2, 2, 2], "dense": [8]},
    "resnet": {"filters": 4, "blocks": 2},
    "transformer": {"d_model": 8, "heads": 2, "layers": 1, "ff": 16, "k": 3},
    "hybrid": {"filters": 4, "width": 5, "track_filters": 2, "track_width": 3, "dense": 4},
    "layers": {"layers": [{"conv1d": {"filters": 4, "width": 5}}, {"gru": 4}, {"dense": {}}]},
    "graph": {
        "nodes": [
            {"name": "a", "inputs": "sequence", "layers": [{"conv1d": {"filters": 4, "width": 3}}]},
            {"name": "b", "inputs": "a", "layers": ["global_max_pool", {"dense": {}}]},
        ]
    },
    # fit() trains it jointly; the staged (stacked) fit is tested in test_stack.py
    "wide-deep": {"k": 3, "deep_arch": ["cnn"], "deep": [{"filters": 4, "width": 5}]},
}
# (task, number of target columns) exercised by each architecture
TASK_OF = {
    "cnn": "binary",
    "cnn-multi": "multilabel",
    "cnn-deep": "multiclass",
    "lstm": "regression",
    "cnn-lstm": "binary",
    "basset": "multilabel",
    "resnet": "counts",
    "transformer": "binary",
    "hybrid": "binary",
    "layers": "counts",
    "graph": "multiclass",
    "wide-deep": "regression",
}


def task_data(task: str, *, n: int = 48, length: int = 40, tracks: bool = False):
    rng = np.random.default_rng(1)
    seqs = ["".join(rng.choice(list("ACGT"), length)) for _ in range(n)]
    if task == "binary":
        y, names = (np.arange(n) % 2)[:, None], ["label"]
    elif task == "multilabel":
        y, names = rng.integers(0, 2, (n, 3)), ["a", "b", "c"]
        y[:4] = [[0, 0, 0], [1, 1, 1], [0, 1, 0], [1, 0, 1]]
    elif task == "multiclass":
        y, names = (np.arange(n) % 3)[:, None], ["cls"]
    elif task == "regression":
        y, names = rng.normal(size=(n, 2)), ["x", "y"]
    else:
        y, names = rng.poisson(30, (n, 2)), ["count1", "count2"]
    extra = {}
    if tracks:
        extra = {"tracks": rng.random((n, 1, length)).astype(np.float32), "track_names": ("acc",)}
    return SequenceDataset(
        ids=tuple(f"s{i}" for i in range(n)),
        sequences=tuple(seqs),
        targets=y.astype(np.float32),
        target_names=tuple(names),
        **extra,
    )


def test_cnn_learns_a_motif(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    calls = []
    cfg = TrainConfig(arch="cnn", model=TINY["cnn"], lr=0.02, batch_size=32, max_epochs=25)
    result = fit(motif_data(), cfg, workdir=tmp_path / "run", progress=lambda *a: calls.append(a))
    assert result.task == "binary"
    assert result.best_score > 0.9, result.history
    assert result.best_score == result.history["valid_auroc"].max()
    assert result.history["valid_auroc"].iloc[result.best_epoch - 1] == result.best_score
    assert list(result.history.columns) == [
        "epoch", "train_loss", "valid_loss", "valid_auroc", "valid_auprc", "lr", "seconds",
    ]  # fmt: skip
    assert result.history["epoch"].tolist() == list(range(1, len(result.history) + 1))
    # the resolved config is concrete
    assert (result.config.monitor, result.config.accelerator) == ("valid_auroc", "cpu")
    assert result.config.precision == "32-true" and result.config.num_threads >= 1
    assert result.config.devices == 1
    # progress: one call per epoch, bar name then metrics (the best so far marked), then the end
    assert len(calls) == len(result.history) + 1
    stage, done, total, detail = calls[-2]
    assert stage == "epoch" and detail.startswith(f"epoch {done}/25 ") and "valid_auroc=" in detail
    assert total == 25
    best_marked = [int(c[1]) for c in calls[:-1] if c[3].endswith("*best valid_auroc*")]
    assert best_marked[0] == 1 and best_marked[-1] == result.best_epoch
    assert calls[-1][3] == result.notes[-1]
    assert calls[-1][3].endswith(
        f"best epoch {result.best_epoch} (valid_auroc {result.best_score:.4g})"
    )
    # quiet: nothing on stdout, no lightning_logs, checkpoints under workdir only
    assert capsys.readouterr().out == ""
    assert not (tmp_path / "lightning_logs").exists()
    assert sorted(p.name for p in (tmp_path / "run" / "checkpoints").iterdir()) == [
        "best.ckpt",
        "last.ckpt",
    ]
    assert not result.model.training and next(result.model.parameters()).device.type == "cpu"
    assert len(result.split) == 300 and set(result.split) == {"train", "valid", "test"}
    # the recorded config reads back as the same config; global state is left as found
    path = tmp_path / "config.yaml"
    path.write_text(dump_config(result.config))
    assert resolve_config(load_config(path)) == result.config
    assert result.config.model["filters"] == 8 and result.config.model["pool"] == "max"
    assert "PL_GLOBAL_SEED" not in os.environ


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_every_architecture_trains_and_predicts(tmp_path: Path, arch: str) -> None:
    task = TASK_OF[arch]
    ds = task_data(task, tracks=arch == "hybrid")
    cfg = TrainConfig(
        arch=arch,
        model=TINY[arch],
        max_epochs=1,
        batch_size=16,
        rc_augment=arch == "cnn-lstm",
        rc_average=arch == "cnn-lstm",
        class_weights=task in ("binary", "multiclass"),
    )
    result = fit(ds, cfg, workdir=tmp_path)
    assert result.task == task == infer_task(ds.targets[result.split == "train"])
    assert len(result.history) == 1
    n_out = 3 if task in ("multiclass", "multilabel") else ds.targets.shape[1]
    save_bundle(tmp_path, result.model.state_dict(), result.meta)
    predictor = load(tmp_path, device="cpu")
    assert predictor.task == task and len(predictor.output_names) == n_out
    x = one_hot(list(ds.sequences))
    if ds.tracks is not None:
        x = np.concatenate([x, ds.tracks], axis=1)
    pred = predictor.predict(x, batch_size=7, rc_average=False)
    assert pred.logits.shape == (len(ds), n_out) and np.isfinite(pred.probs).all()
    with torch.inference_mode():
        expected = result.model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(pred.logits, expected, rtol=1e-5, atol=1e-6)
    if task == "counts":
        assert (pred.probs >= 0).all()  # Poisson rates


def test_resume_continues_exactly(tmp_path: Path) -> None:
    ds = motif_data(120)
    cfg = TrainConfig(arch="cnn", model=TINY["cnn"], batch_size=16, max_epochs=4, patience=0)
    whole = fit(ds, cfg, workdir=tmp_path / "whole")
    first = fit(ds, cfg.model_copy(update={"max_epochs": 2}), workdir=tmp_path / "cut")
    assert len(first.history) == 2
    resumed = fit(ds, cfg, workdir=tmp_path / "cut", resume=True)
    assert resumed.history["epoch"].tolist() == [1, 2, 3, 4]
    cols = ["train_loss", "valid_loss", "valid_auroc"]
    np.testing.assert_array_equal(resumed.history[cols], whole.history[cols])
    assert resumed.best_epoch == whole.best_epoch

    # a run that dies in epoch 3 (after validation, before its checkpoint) resumes from 2
    def crash(stage: str, done: int, total: int | None, detail: str = "") -> None:
        if done == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        fit(ds, cfg, workdir=tmp_path / "crash", progress=crash)
    again = fit(ds, cfg, workdir=tmp_path / "crash", resume=True)
    np.testing.assert_array_equal(again.history[cols], whole.history[cols])
    # a different model cannot resume these checkpoints
    other = cfg.model_copy(update={"model": {**TINY["cnn"], "filters": 4}})
    with pytest.raises(ConfigError, match="cannot resume.*different model"):
        fit(ds, other, workdir=tmp_path / "cut", resume=True)


def test_resume_without_checkpoint_starts_over(tmp_path: Path) -> None:
    cfg = TrainConfig(arch="cnn", model=TINY["cnn"], max_epochs=1)
    result = fit(motif_data(60), cfg, workdir=tmp_path, resume=True)
    assert len(result.history) == 1 and any("no checkpoint" in n for n in result.notes)


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_resume_never_unpickles_a_checkpoint(tmp_path: Path) -> None:
    marker = tmp_path / "code_ran"

    class Payload:
        def __reduce__(self):  # noqa: ANN204
            return (os.system, (f"touch {marker}",))

    (tmp_path / "checkpoints").mkdir()
    with open(tmp_path / "checkpoints" / "last.ckpt", "wb") as fh:
        pickle.dump({"state_dict": {}, "x": Payload()}, fh)
    cfg = TrainConfig(arch="cnn", model=TINY["cnn"], max_epochs=1)
    with pytest.raises(ModelLoadError, match="last.ckpt: not a readable cislearn checkpoint"):
        fit(motif_data(60), cfg, workdir=tmp_path, resume=True)
    assert not marker.exists()


def test_same_seed_gives_identical_weights(tmp_path: Path) -> None:
    ds = motif_data(80)
    cfg = TrainConfig(
        arch="cnn-multi", model=TINY["cnn-multi"], max_epochs=2, batch_size=16, deterministic=True
    )
    a = fit(ds, cfg, workdir=tmp_path / "a").model.state_dict()
    b = fit(ds, cfg, workdir=tmp_path / "b").model.state_dict()
    c = fit(ds, cfg.model_copy(update={"seed": 1}), workdir=tmp_path / "c").model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert not torch.are_deterministic_algorithms_enabled()  # global flag restored


@pytest.mark.parametrize("rc_augment", [False, True])
def test_grouped_steps_equal_one_step_per_batch(
    tmp_path: Path, monkeypatch, rc_augment: bool
) -> None:
    """Several mini-batches per Lightning step make the same updates as one per step.

    80 training sequences at batch 7 end in a partial batch, and with 3 per call the last
    group is short too; rc augmentation checks that the random draws stay in step.
    """
    import cislearn.engine as engine

    ds = motif_data(100)
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], max_epochs=2, batch_size=7, rc_augment=rc_augment
    )
    monkeypatch.setattr(engine, "BATCHES_PER_CALL", 1)
    one = fit(ds, cfg, workdir=tmp_path / "one")
    monkeypatch.setattr(engine, "BATCHES_PER_CALL", 3)
    grouped = fit(ds, cfg, workdir=tmp_path / "grouped")
    a, b = one.model.state_dict(), grouped.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    cols = ["train_loss", "valid_loss", "valid_auroc"]
    assert np.allclose(one.history[cols].to_numpy(), grouped.history[cols].to_numpy(), atol=1e-5)


def test_direct_torch_steps_equal_lightning_steps(tmp_path: Path, monkeypatch) -> None:
    """In one float32 process the engine calls backward/step itself; through Lightning's
    manual_backward / optimizer wrappers (as mixed precision and DDP run) the weights match."""
    from cislearn.engine import Engine

    ds = motif_data(100)
    cfg = TrainConfig(arch="cnn", model=TINY["cnn"], max_epochs=2, batch_size=8, grad_clip=0.05)
    direct = fit(ds, cfg, workdir=tmp_path / "direct")
    monkeypatch.setattr(Engine, "_plain_steps", lambda self: False)
    wrapped = fit(ds, cfg, workdir=tmp_path / "wrapped")
    a, b = direct.model.state_dict(), wrapped.model.state_dict()
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_no_validation_set(tmp_path: Path) -> None:
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], max_epochs=2, valid_fraction=0.0, scheduler="plateau"
    )
    result = fit(motif_data(60), cfg, workdir=tmp_path)
    assert len(result.history) == 2 and result.best_epoch == 2
    assert result.history["valid_loss"].isna().all() and np.isnan(result.best_score)
    assert any(
        n.startswith("warning: no validation part") and "without early stopping" in n
        for n in result.notes
    )
    assert result.notes[-1] == "ran all 2 epochs; kept the last epoch (no validation part)"
    assert result.history.attrs["notes"] == list(result.notes)


def test_schedulers_optimisers_and_clipping_run(tmp_path: Path) -> None:
    ds = task_data("regression")
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], max_epochs=2, optimizer="sgd", scheduler="cosine",
        grad_clip=0.5, loss="mae", lr=0.1, batch_size=16,
    )  # fmt: skip
    result = fit(ds, cfg, workdir=tmp_path)
    assert result.config.monitor == "valid_loss"
    assert result.history["lr"].iloc[1] < result.history["lr"].iloc[0]  # cosine decays
    # plateau watches the monitored validation metric (which does not improve at lr 1e-6):
    # the lr halves once 2 epochs went without improvement
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], max_epochs=4, optimizer="rmsprop", scheduler="plateau",
        lr=1e-6, patience=0, monitor="valid_pearson", batch_size=16,
    )  # fmt: skip
    lrs = fit(ds, cfg, workdir=tmp_path / "plateau").history["lr"].tolist()
    assert lrs == [1e-6, 1e-6, 1e-6, 5e-7]


@pytest.mark.parametrize(
    ("targets", "task"),
    [
        ([[0], [1], [1]], "binary"),
        ([[0, 1], [1, 0]], "multilabel"),
        ([[0], [1], [2], [1]], "multiclass"),
        ([[0], [1], [3]], "counts"),  # not 0..K-1: counts
        ([[0, 4], [7, 1]], "counts"),
        ([[0.5], [1.0]], "regression"),
        ([[-1], [2]], "regression"),
        ([[0], [np.nan], [1]], "binary"),
    ],
)
def test_infer_task(targets: list, task: str) -> None:
    assert infer_task(np.array(targets, dtype=float)) == task


def test_targets_must_fit_the_task(tmp_path: Path) -> None:
    ds = task_data("regression")
    with pytest.raises(InputError, match=r"task 'binary': targets must be 0 or 1.*--task"):
        fit(ds, TrainConfig(arch="cnn", task="binary"), workdir=tmp_path)
    with pytest.raises(ConfigError, match="config key 'class_weights'"):
        fit(ds, TrainConfig(arch="cnn", class_weights=True), workdir=tmp_path)
    with pytest.raises(ConfigError, match="config key 'monitor': valid_auroc needs a class"):
        fit(ds, TrainConfig(arch="cnn", monitor="valid_auroc"), workdir=tmp_path)
    with pytest.raises(ConfigError, match="16-mixed needs a GPU"):
        fit(ds, TrainConfig(arch="cnn", accelerator="cpu", precision="16-mixed"), workdir=tmp_path)


DDP_SCRIPT = """
import json, os, sys
import numpy as np
from cislearn.config import TrainConfig, dump_config, load_config, resolve_config
from cislearn.data import SequenceDataset
from cislearn.train import fit

rng = np.random.default_rng(0)
seqs = ["".join(rng.choice(list("ACGT"), 40)) for _ in range(96)]
ds = SequenceDataset.from_arrays(seqs, [i % 2 for i in range(96)])
cfg = TrainConfig(arch="cnn", model={"filters": 4, "width": 5, "dense": 4}, max_epochs=2,
                  batch_size=16, strategy="ddp", devices=2, accelerator="cpu")
res = fit(ds, cfg, workdir=sys.argv[1])
rank = int(os.environ.get("LOCAL_RANK", 0))
w = res.model.state_dict()["head.output.weight"].flatten().tolist()
with open(f"{sys.argv[1]}/rank{rank}.json", "w") as fh:
    json.dump({"rank": rank, "world": res.meta["world_size"], "epochs": len(res.history), "w": w},
              fh)
"""


def test_ddp_two_processes_on_cpu(tmp_path: Path) -> None:
    """Lightning launches the second process by re-running the script, as under torchrun."""
    script = tmp_path / "ddp_train.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT))
    env = {**os.environ, "PYTHONPATH": str(SRC), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "run")],
        capture_output=True, text=True, timeout=150, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr[-3000:]
    assert out.stdout == ""  # library code prints nothing
    results = [json.loads(p.read_text()) for p in sorted((tmp_path / "run").glob("rank*.json"))]
    assert sorted(r["rank"] for r in results) == [0, 1]
    assert all(r["world"] == 2 and r["epochs"] == 2 for r in results)
    assert results[0]["w"] == results[1]["w"]  # the ranks end with the same weights


def test_early_stopping_keeps_the_best_epoch_and_resumes_its_count(tmp_path: Path) -> None:
    # random labels: validation loss soon stops improving, so patience 2 ends the run early
    ds = task_data("binary", n=64)
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], batch_size=8, max_epochs=30, patience=2, lr=0.05,
        monitor="valid_loss",
    )  # fmt: skip
    whole = fit(ds, cfg, workdir=tmp_path / "whole")
    losses = whole.history["valid_loss"].to_numpy()
    best = int(np.argmin(losses))
    assert len(losses) < 30, "patience 2 should stop a run on random labels"
    assert whole.best_epoch == best + 1 and whole.best_score == pytest.approx(losses[best])
    assert len(losses) == best + 1 + 2  # stopped exactly `patience` epochs after the best
    # the best weights are the ones returned
    ckpt = torch.load(tmp_path / "whole" / "checkpoints" / "best.ckpt", weights_only=True)
    assert ckpt["epoch"] == best
    # interrupted one epoch after the best, a resumed run stops at the same epoch
    cut = fit(ds, cfg.model_copy(update={"max_epochs": best + 2}), workdir=tmp_path / "cut")
    assert len(cut.history) == best + 2
    again = fit(ds, cfg, workdir=tmp_path / "cut", resume=True)
    assert len(again.history) == len(losses) and again.best_epoch == whole.best_epoch
    assert not list((tmp_path / "whole" / "checkpoints").glob(".*.tmp"))


@pytest.mark.parametrize("scheduler", ["cosine", "plateau"])
def test_resume_keeps_the_learning_rate_schedule(tmp_path: Path, scheduler: str) -> None:
    ds = motif_data(80)
    cfg = TrainConfig(
        arch="cnn", model=TINY["cnn"], batch_size=16, max_epochs=4, patience=0,
        scheduler=scheduler, lr=0.01,
    )  # fmt: skip
    whole = fit(ds, cfg, workdir=tmp_path / "whole")

    def crash(stage: str, done: int, total: int | None, detail: str = "") -> None:  # epoch 3
        if done == 3:
            raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        fit(ds, cfg, workdir=tmp_path / "cut", progress=crash)
    resumed = fit(ds, cfg, workdir=tmp_path / "cut", resume=True)
    np.testing.assert_allclose(resumed.history["lr"], whole.history["lr"])
    np.testing.assert_array_equal(resumed.history["train_loss"], whole.history["train_loss"])
    if scheduler == "cosine":
        assert whole.history["lr"].iloc[-1] < whole.history["lr"].iloc[0]
