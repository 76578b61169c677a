"""What a job does: run the :mod:`cislearn.pipelines` calls a job's JSON params ask for (the
same functions as the CLI commands), reporting progress.

Runs inside a worker process (or inline in tests via :func:`run_job`). Outputs go to
``<data_dir>/jobs/<id>/out``; every file name below is chosen here, never by the user.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

from cislearn.config import N_BOOT, N_NULL
from cislearn.web import present
from cislearn.web.errors import web_message
from cislearn.web.settings import Settings
from cislearn.web.store import JobRecord, JobStore

__all__ = [
    "JobCancelled",
    "JobProgress",
    "run_job",
    "failure_reason",
    "job_dir",
    "out_dir",
    "run_dirs",
    "train_config",
    "INPUT_NAMES",
    "LOG_NAME",
]

log = logging.getLogger(__name__)

#: Server-chosen names of the stored inputs (relative to the job folder).
INPUT_NAMES = {
    "data_fasta": "input/data.fa",
    "data_table": "input/data.tsv",
    "pos": "input/pos.fa",
    "neg": "input/neg.fa",
    "vcf": "input/variants.vcf",
    "vcf_gz": "input/variants.vcf.gz",
    "bcf": "input/variants.bcf",
    "variants_tsv": "input/variants.tsv",
}
LOG_NAME = "job.log"
#: At most this many positives and negatives are scanned for the learned motifs.
MOTIF_SEQUENCES = 2000


class JobCancelled(Exception):
    """Raised from the progress callback when the user asked to cancel the job."""


def job_dir(settings: Settings, job_id: str) -> Path:
    """The folder of job ``job_id`` (a random hex id from the store, never user text)."""
    return settings.jobs_dir / job_id


def out_dir(settings: Settings, job_id: str) -> Path:
    return job_dir(settings, job_id) / "out"


def run_dirs(settings: Settings, job: JobRecord) -> dict[str, Path]:
    """Model name → run folder of a training job (in the order the models were asked for)."""
    root = out_dir(settings, job.id) / "runs"
    return {name: root / name for name in job.params.get("models", [])}


class JobProgress:
    """A library ``Progress`` callback that writes progress to the store and the job log.

    Database writes are throttled to one per ``min_interval`` seconds (plus every finished
    stage); a cancel request raises :class:`JobCancelled` at the next call.
    """

    def __init__(
        self, store: JobStore, job_id: str, log_path: Path, *, min_interval: float = 0.5
    ) -> None:
        self.store = store
        self.job_id = job_id
        self.log_path = log_path
        self.prefix = ""
        self.min_interval = min_interval
        self._last = 0.0

    def __call__(self, stage: str, done: int, total: int | None, detail: str = "") -> None:
        name = f"{self.prefix}{stage}"
        message = detail or (f"{name} {done}/{total}" if total else f"{name} {done}")
        self.write_log(message)
        now = time.monotonic()
        if now - self._last < self.min_interval and not (total and done >= total):
            return
        self._last = now
        if self.store.progress(self.job_id, stage=name, done=done, total=total, message=message):
            raise JobCancelled("cancelled by the user")

    def write_log(self, line: str) -> None:
        with open(self.log_path, "a", encoding="utf-8") as fh:
            fh.write(f"{time.strftime('%H:%M:%S')} {line}\n")

    def check_cancel(self) -> None:
        if self.store.cancel_requested(self.job_id):
            raise JobCancelled("cancelled by the user")


def _dataset(root: Path, inputs: dict[str, str]) -> Any:
    from cislearn.data import load_dataset

    if "data" in inputs:
        return load_dataset(root / INPUT_NAMES[inputs["data"]])
    return load_dataset(pos=root / INPUT_NAMES["pos"], neg=root / INPUT_NAMES["neg"])


def train_config(params: dict[str, Any], arch: str, accelerator: str = "auto") -> Any:
    """The :class:`cislearn.config.TrainConfig` of a job's model ``arch``: the settings the
    job gave, the command line's defaults for the others (``auto``: the default recipe), on
    one device of the server's ``accelerator``."""
    from cislearn.config import TrainConfig

    keys = ("max_epochs", "lr", "batch_size", "seed", "patience", "optimizer", "rc_augment")
    given = {k: params[k] for k in keys if params.get(k) is not None}
    # the web split: the file's own split when it has one (DeepBIO headers), else random
    return TrainConfig(arch=arch, accelerator=accelerator, devices=1, **given)


def _run_train(store: JobStore, job: JobRecord, settings: Settings, cb: JobProgress) -> None:
    from cislearn.pipelines.panel import baseline_run
    from cislearn.pipelines.train import compare_runs_dir, train_run

    params = job.params
    root = job_dir(settings, job.id)
    out = out_dir(settings, job.id)
    cb("load data", 0, 1)
    dataset = _dataset(root, params["inputs"])
    # one split for every model, so that their held-out metrics compare; a file split into
    # training/testing only gets a validation part carved from its training records
    from cislearn.data import assign_split, carve_note, carve_valid

    cfg = train_config(params, "auto")
    if dataset.split is None:
        dataset = assign_split(dataset, **cfg.split_kwargs())
    dataset = carve_valid(dataset, fraction=cfg.valid_fraction, seed=cfg.seed)
    cb("load data", 1, 1, carve_note(dataset) or "")
    runs = run_dirs(settings, job)
    models = list(runs)
    for i, (name, run) in enumerate(runs.items()):
        cb.prefix = f"{name} ({i + 1}/{len(models)}): "
        cb.write_log(f"training {name}")
        if run.exists():
            shutil.rmtree(run)
        if present.is_baseline_choice(name):
            features, model = present.panel_entry(name)
            baseline_run(
                dataset,
                run,
                features=features,
                model=model,
                seed=int(params.get("seed", 0)),
                n_boot=int(params.get("n_boot", N_BOOT)),
                progress=cb,
            )
        else:
            train_run(
                dataset,
                train_config(params, name, settings.accelerator),
                run,
                n_boot=int(params.get("n_boot", N_BOOT)),
                progress=cb,
            )
            _embedding(run, dataset, int(params.get("seed", 0)), settings.job_device, cb)
        cb.check_cancel()
    cb.prefix = ""
    if len(models) > 1:
        cb("compare models", 0, 1)
        compare_runs_dir([runs[m] for m in models], out / "compare")
        cb("compare models", 1, 1)
    deep = [m for m in models if not present.is_baseline_choice(m)]
    if params.get("motifs", True) and deep:
        cb("learned motifs", 0, 1)
        _learned_motifs(runs[deep[0]], dataset, out / "motifs", settings.job_device, cb)
        cb("learned motifs", 1, 1)


def _embedding(run: Path, dataset: Any, seed: int, device: str | None, cb: JobProgress) -> None:
    """The 2-D embedding of the learned features on the results page (skipped, with a log
    line, for a model whose features cannot be embedded)."""
    from cislearn.errors import CislearnError
    from cislearn.pipelines.embedding import embedding_run

    try:
        embedding_run(run, dataset, seed=seed, device=device, progress=cb)
    except CislearnError as exc:
        cb.write_log(f"no embedding of the learned features: {web_message(str(exc))}")


def _learned_motifs(
    run: Path, dataset: Any, out: Path, device: str | None, cb: JobProgress
) -> None:
    """Motifs of a binary model's first layer from up to ``MOTIF_SEQUENCES`` of each class."""
    import numpy as np

    from cislearn.pipelines.interpret import motifs_run
    from cislearn.predict import load

    predictor = load(run, device=device)
    if predictor.task != "binary":
        cb.write_log(f"learned motifs are shown for binary tasks; this one is {predictor.task}")
        return
    labels = np.asarray(dataset.targets)[:, 0]
    seqs = list(dataset.sequences)
    pos = [s for s, y in zip(seqs, labels, strict=True) if y == 1][:MOTIF_SEQUENCES]
    neg = [s for s, y in zip(seqs, labels, strict=True) if y == 0][:MOTIF_SEQUENCES]
    motifs_run(run, pos, out, negatives=neg or None, n_logos=present.MOTIFS_SHOWN, progress=cb)


def _run_variants(store: JobStore, job: JobRecord, settings: Settings, cb: JobProgress) -> None:
    from cislearn.errors import ConfigError
    from cislearn.pipelines.variants import score_variants_run

    params = job.params
    genome = settings.genomes.get(params["genome"])
    if genome is None:
        raise ConfigError(f"genome {params['genome']!r} is not one this server was started with")
    run = out_dir(settings, params["model_job"]) / "runs" / params["model"]
    cb("score variants", 0, 1)
    score_variants_run(
        run,
        job_dir(settings, job.id) / INPUT_NAMES[params["input"]],
        genome,
        out_dir(settings, job.id),
        n_null=int(params.get("n_null", N_NULL)),
        device=settings.job_device,
        progress=cb,
    )
    cb("score variants", 1, 1)


_KINDS = {"train": _run_train, "variants": _run_variants}


class _NoTraceback(logging.Formatter):
    """Job-log lines: the first line of each message, never an exception's traceback."""

    def format(self, record: logging.LogRecord) -> str:
        record = logging.makeLogRecord(record.__dict__)
        record.exc_info = record.exc_text = record.stack_info = None
        return super().format(record).splitlines()[0]


def failure_reason(exc: BaseException) -> str:
    """The one line a failed job shows: a library error's message, else the error's kind and
    first line (the traceback is in the server log)."""
    from cislearn.errors import CislearnError

    if isinstance(exc, CislearnError):
        return web_message(str(exc))
    first = web_message(str(exc))
    kind = f"{type(exc).__name__}: {first}" if first else type(exc).__name__
    return f"internal error ({kind}); the server's log has the details"


def run_job(store: JobStore, job: JobRecord, settings: Settings) -> str:
    """Execute a claimed (running) job to the end; return its final status.

    Every failure is caught and recorded on the job (``failed`` with the error's message);
    a cancel request ends it as ``cancelled``.
    """
    root = job_dir(settings, job.id)
    root.mkdir(parents=True, exist_ok=True)
    out_dir(settings, job.id).mkdir(exist_ok=True)
    cb = JobProgress(store, job.id, root / LOG_NAME)
    handler = logging.FileHandler(root / LOG_NAME, encoding="utf-8")
    handler.setFormatter(_NoTraceback("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.setLevel(logging.INFO)
    logging.getLogger().addHandler(handler)
    cb.write_log(f"job {job.id} ({job.kind}) started")
    try:
        runner = _KINDS.get(job.kind)
        if runner is None:
            raise ValueError(f"unknown job kind {job.kind!r}")
        runner(store, job, settings, cb)
    except JobCancelled:
        cb.write_log("cancelled by the user")
        store.finish(job.id, "cancelled", error="cancelled by the user")
        return "cancelled"
    except Exception as exc:  # noqa: BLE001 - any failure ends the job, with its reason
        reason = failure_reason(exc)
        cb.write_log(f"failed: {reason}")
        # the traceback (server paths, code) goes to the server's log only, never to the job
        # log, the job page or the API
        logging.getLogger().removeHandler(handler)
        log.error("job %s failed", job.id, exc_info=True)
        store.finish(job.id, "failed", error=reason)
        return "failed"
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    cb.write_log("done")
    store.finish(job.id, "done")
    return "done"
