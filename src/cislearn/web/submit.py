"""Job creation for the API and the pages: look a job up, check and store a job's inputs, then
queue it in the store (a worker runs it through :mod:`cislearn.web.jobs`)."""

from __future__ import annotations

import re
import shutil
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cislearn.config import N_BOOT, N_NULL, Seed
from cislearn.web import present, service
from cislearn.web.errors import ApiError
from cislearn.web.inputs import Upload, decode_upload, store_training_inputs
from cislearn.web.jobs import INPUT_NAMES, job_dir, train_config
from cislearn.web.settings import Settings
from cislearn.web.store import JobRecord, JobStore, new_job_id

__all__ = [
    "TrainParams",
    "train_params",
    "get_job",
    "model_choices",
    "create_train_job",
    "create_variants_job",
]

_JOB_ID = re.compile(r"^[0-9a-f]{32}$")


_TRAINING_DEFAULT = "left out: the training default of cislearn train for the model"


class TrainParams(BaseModel):
    """What a training job may be told besides its inputs; the API and the page check their
    values here, so a bad value is a 422 before any job is queued. A training setting left
    out is the command line's (:class:`cislearn.config.TrainConfig`; for ``auto``, the
    default model, its recipe): a job trains what ``cislearn train`` would."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, max_length=100, description="A name for the job")
    models: list[str] = Field(
        default_factory=lambda: [present.DEFAULT_CHOICE],
        min_length=1,
        max_length=12,
        description=f"Architectures and baselines; {present.DEFAULT_CHOICE!r}: the default model",
    )
    max_epochs: int | None = Field(default=None, ge=1, description=_TRAINING_DEFAULT)
    lr: float | None = Field(default=None, gt=0, le=1, description=_TRAINING_DEFAULT)
    batch_size: int | None = Field(default=None, ge=1, le=4096, description=_TRAINING_DEFAULT)
    patience: int | None = Field(default=None, ge=0, description=_TRAINING_DEFAULT)
    seed: Seed = 0
    n_boot: int = Field(default=N_BOOT, ge=10, le=10_000)
    motifs: bool = True


def validation_message(exc: ValidationError) -> str:
    """One line naming each bad field: ``seed: Input should be less than or equal to ...``."""
    problems = [
        f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body')}: {e.get('msg')}"
        for e in exc.errors()
    ]
    return "; ".join(problems) or "invalid request"


def train_params(values: dict[str, Any]) -> dict[str, Any]:
    """``values`` checked as :class:`TrainParams` (422 naming the field otherwise), as JSON."""
    try:
        params = TrainParams.model_validate(values)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", validation_message(exc)) from None
    body = params.model_dump()
    body["name"] = (body["name"] or "").strip() or None
    return body


def get_job(request: Any, job_id: str) -> JobRecord:
    """The job ``job_id`` or a 404 (ids are checked to be 32 hex digits first)."""
    job = request.app.state.store.get(job_id) if _JOB_ID.match(job_id) else None
    if job is None:
        raise ApiError(404, "job_not_found", f"no job {job_id!r} on this server")
    return job


def model_choices() -> dict[str, Any]:
    """The architectures and baselines a training job may ask for."""
    from cislearn.models.registry import ARCHITECTURES

    return {
        "architectures": [present.DEFAULT_CHOICE, *ARCHITECTURES],
        "baselines": list(present.baseline_names()),
    }


def create_train_job(
    settings: Settings,
    store: JobStore,
    *,
    uploads: dict[str, Upload | None],
    params: dict[str, Any],
) -> JobRecord:
    """Check and store the inputs, then queue the job (422 with the reports if they fail)."""
    choices = model_choices()
    allowed = set(choices["architectures"]) | set(choices["baselines"])
    models = list(dict.fromkeys(params["models"]))
    unknown = [m for m in models if m not in allowed]
    if unknown:
        raise ApiError(
            422,
            "unknown_model",
            f"unknown model {unknown[0]!r}; choose from: {', '.join(sorted(allowed))}",
        )
    for name in models:
        if present.is_baseline_choice(name):
            continue
        epochs = train_config(params, name).max_epochs
        if epochs > settings.max_epochs:
            given = "" if params.get("max_epochs") else f" (the default for {name})"
            raise ApiError(
                422,
                "too_many_epochs",
                f"max_epochs {epochs}{given} is above this server's limit of {settings.max_epochs}",
            )
    job_id = new_job_id()
    root = job_dir(settings, job_id)
    try:
        stored = store_training_inputs(root, settings, **uploads)
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    if not stored.ok:
        shutil.rmtree(root, ignore_errors=True)
        first = next(r for r in stored.reports if not r["ok"])
        raise ApiError(
            422,
            "input_problems",
            f"the input has problems; first: {first['problems'][0]}",
            details={"reports": stored.reports},
        )
    try:
        _check_models(models, stored.reports)
    except ApiError:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return store.create(
        "train", {**params, "models": models, "inputs": stored.inputs}, job_id=job_id
    )


def _check_models(models: list[str], reports: list[dict[str, Any]]) -> None:
    """Build each deep model once for the input length: an unusable choice (e.g. an
    architecture that needs extra tracks) fails now, with the registry's message."""
    from cislearn.errors import CislearnError
    from cislearn.models.registry import build_model

    length = min((r["summary"].get("length", {}).get("min", 0) for r in reports), default=0)
    if not length:
        return
    for name in models:
        if present.is_baseline_choice(name):
            continue
        try:
            build_model(train_config({}, name).arch, {}, length=int(length), n_outputs=1)
        except CislearnError as exc:
            raise ApiError(
                422, "unusable_model", f"{name} cannot train on this data: {exc}"
            ) from None


def create_variants_job(
    settings: Settings,
    store: JobStore,
    model_job: JobRecord,
    *,
    content: bytes,
    genome: str,
    model: str | None,
    n_null: int = N_NULL,
) -> JobRecord:
    """Store an uploaded VCF (or TSV) and queue the scoring of its variants with a model."""
    if genome not in settings.genomes:
        have = ", ".join(sorted(settings.genomes)) or "none (ask its administrator to add one)"
        raise ApiError(422, "unknown_genome", f"unknown genome {genome!r}; this server has: {have}")
    models = service.trained_models(settings, model_job)
    if not models:
        raise ApiError(409, "no_model", f"job {model_job.id} has no trained model")
    model = model or models[0]
    if model not in models:
        raise ApiError(404, "model_not_found", f"no model {model!r}; have: {', '.join(models)}")
    if not 0 <= n_null <= 100_000:
        raise ApiError(422, "invalid_request", f"n_null must be in 0..100000; got {n_null}")
    upload = decode_upload("variants file", content, settings)
    data = upload.content
    n = sum(1 for line in data.splitlines() if line.strip() and not line.startswith(b"#"))
    if n > settings.max_sequences:
        raise ApiError(
            413,
            "too_many_variants",
            f"variants file: {n:,} variants; this server accepts at most "
            f"{settings.max_sequences:,} per job",
        )
    if not data.strip():
        raise ApiError(422, "missing_input", "variants file is empty")
    kind = "vcf" if data.startswith(b"##fileformat=VCF") else "bcf" if data[:3] == b"BCF" else None
    kind = kind or "variants_tsv"
    job_id = new_job_id()
    path = job_dir(settings, job_id) / INPUT_NAMES[kind]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    params = {
        "model_job": model_job.id,
        "model": model,
        "genome": genome,
        "input": kind,
        "n_null": n_null,
        "n_variants": n,
    }
    return store.create("variants", params, job_id=job_id)
