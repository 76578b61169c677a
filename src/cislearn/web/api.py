"""REST API under ``/api/v1``: jobs (create, list, status, cancel, delete), results, predict."""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cislearn.config import N_NULL
from cislearn.web import service
from cislearn.web.errors import ApiError
from cislearn.web.inputs import Upload, check_inputs, decode_upload
from cislearn.web.settings import Settings
from cislearn.web.store import FINISHED, JobRecord, JobStore
from cislearn.web.submit import (
    TrainParams,
    create_train_job,
    create_variants_job,
    get_job,
    model_choices,
    train_params,
)

__all__ = [
    "router",
    "TrainRequest",
    "CheckRequest",
    "PredictRequest",
    "MutationMapRequest",
]

router = APIRouter(prefix="/api/v1", tags=["api"])

_ERRORS: dict[int | str, dict[str, Any]] = {
    code: {"description": 'Error: `{"error": {"code": ..., "message": ...}}`'}
    for code in (401, 404, 409, 413, 422)
}


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _store(request: Request) -> JobStore:
    return request.app.state.store


class CheckRequest(BaseModel):
    """Inputs as text: ``data`` (DeepBIO FASTA or table) or ``pos`` + ``neg`` (FASTA)."""

    model_config = ConfigDict(extra="forbid")

    data: str | None = None
    pos: str | None = None
    neg: str | None = None


class TrainRequest(CheckRequest, TrainParams):
    """A training job: inputs, the models to train and compare, a few hyper-parameters
    (``seed`` in 0..2**32-1, ``name`` shown on the jobs list)."""

    model_config = ConfigDict(extra="forbid")


class PredictRequest(BaseModel):
    """Sequences of the model's length; ``ids`` optional (``seq1``..)."""

    model_config = ConfigDict(extra="forbid")

    sequences: list[str] = Field(min_length=1)
    ids: list[str] | None = None
    model: str | None = None


class MutationMapRequest(BaseModel):
    """One sequence of the model's length (bare, no header)."""

    model_config = ConfigDict(extra="forbid")

    sequence: str = Field(min_length=1)
    model: str | None = None


def _uploads(
    settings: Settings, data: str | None, pos: str | None, neg: str | None
) -> dict[str, Upload | None]:
    def one(label: str, text: str | None) -> Upload | None:
        if text is None or not text.strip():
            return None
        return decode_upload(label, text.encode("utf-8"), settings)

    return {"data": one("data", data), "pos": one("pos", pos), "neg": one("neg", neg)}


def _job_json(settings: Settings, job: JobRecord) -> dict[str, Any]:
    body = job.to_json()
    body["log_tail"] = service.log_tail(settings, job.id, lines=20)
    body["links"] = {
        "self": f"/api/v1/jobs/{job.id}",
        "results": f"/api/v1/jobs/{job.id}/results",
        "page": f"/jobs/{job.id}",
    }
    return body


@router.get("/health")
def health(request: Request) -> dict[str, Any]:
    """Liveness: the server answers and its worker count."""
    pool = request.app.state.pool if hasattr(request.app.state, "pool") else None
    return {"status": "ok", "workers": pool.alive if pool is not None else 0}


@router.get("/models")
def models() -> dict[str, Any]:
    """Architectures (any can be trained) and baseline models of the panel."""
    return model_choices()


@router.get("/genomes")
def genomes(request: Request) -> dict[str, Any]:
    """Genome names this server offers for scoring variants (set by its administrator)."""
    return {"genomes": sorted(_settings(request).genomes)}


@router.get("/example")
def example() -> dict[str, str]:
    """Simulated example data (CTCF motif implanted in positives) as DeepBIO FASTA text."""
    from cislearn.web.inputs import example_fasta

    return {"data": example_fasta()}


@router.post("/check", responses=_ERRORS)
def check(request: Request, body: CheckRequest) -> dict[str, Any]:
    """Check inputs as ``cislearn check`` does: format, counts, problems with line numbers."""
    settings = _settings(request)
    stored = check_inputs(settings, **_uploads(settings, body.data, body.pos, body.neg))
    return {"ok": stored.ok, "reports": stored.reports}


@router.post("/jobs", status_code=201, responses=_ERRORS)
def create_job(request: Request, body: TrainRequest) -> dict[str, Any]:
    """Queue a training job: train each model, compare them, find learned motifs."""
    settings = _settings(request)
    params = train_params(body.model_dump(exclude={"data", "pos", "neg"}))
    job = create_train_job(
        settings,
        _store(request),
        uploads=_uploads(settings, body.data, body.pos, body.neg),
        params=params,
    )
    return _job_json(settings, job)


@router.get("/jobs")
def list_jobs(request: Request, limit: int = 100) -> dict[str, Any]:
    """The newest jobs, newest first."""
    jobs = _store(request).list(limit=max(1, min(limit, 1000)))
    return {"jobs": [j.to_json() for j in jobs]}


@router.get("/jobs/{job_id}", responses=_ERRORS)
def job_status(request: Request, job_id: str) -> dict[str, Any]:
    """Status, progress (stage, done/total, last message), error and the log's last lines."""
    return _job_json(_settings(request), get_job(request, job_id))


@router.post("/jobs/{job_id}/cancel", responses=_ERRORS)
def cancel_job(request: Request, job_id: str) -> dict[str, Any]:
    """Cancel a queued job at once, or a running one at its next progress step."""
    job = get_job(request, job_id)
    if job.status in FINISHED:
        raise ApiError(409, "job_finished", f"job {job_id} is already {job.status}")
    job = _store(request).request_cancel(job_id) or job
    return _job_json(_settings(request), job)


@router.delete("/jobs/{job_id}", responses=_ERRORS)
def delete_job(request: Request, job_id: str) -> dict[str, Any]:
    """Delete a finished job and all its files (cancel a running job first)."""
    service.delete_job(_settings(request), _store(request), get_job(request, job_id))
    return {"deleted": job_id}


@router.get("/jobs/{job_id}/results", responses=_ERRORS)
def results(request: Request, job_id: str) -> dict[str, Any]:
    """Metrics with CIs per model, comparison table, motifs, and the list of output files."""
    return service.job_results(_settings(request), get_job(request, job_id))


@router.get("/jobs/{job_id}/files/{name:path}", responses=_ERRORS)
def job_file(request: Request, job_id: str, name: str) -> FileResponse:
    """One output file, by its name in the results' ``files`` list."""
    get_job(request, job_id)
    path = service.resolve_file(_settings(request), job_id, name)
    inline = path.suffix in (".png", ".svg", ".html", ".tsv", ".json", ".txt", ".csv", ".meme")
    return FileResponse(
        path,
        filename=path.name,
        content_disposition_type="inline" if inline else "attachment",
        headers={"Content-Security-Policy": "sandbox"} if path.suffix == ".html" else None,
    )


@router.get("/jobs/{job_id}/archive", responses=_ERRORS)
def archive(request: Request, job_id: str) -> Response:
    """All outputs of a job as one zip archive."""
    get_job(request, job_id)
    data = service.zip_outputs(_settings(request), job_id)
    name = f"cislearn-{job_id[:8]}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/jobs/{job_id}/models/{model}/bundle", responses=_ERRORS)
def bundle(request: Request, job_id: str, model: str) -> Response:
    """A trained model's bundle (safetensors weights + JSON metadata + config), zipped."""
    job = get_job(request, job_id)
    data = service.zip_bundle(_settings(request), job, model)
    name = f"cislearn-{job_id[:8]}-{model}.zip" if re.fullmatch(r"[\w.-]+", model) else "m.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/jobs/{job_id}/predict", responses=_ERRORS)
def predict(request: Request, job_id: str, body: PredictRequest) -> dict[str, Any]:
    """Score sequences with a trained model of the job (probabilities and logits)."""
    job = get_job(request, job_id)
    return service.predict(_settings(request), job, body.model, body.sequences, body.ids)


@router.post("/jobs/{job_id}/mutation-map", responses=_ERRORS)
def mutation_map(request: Request, job_id: str, body: MutationMapRequest) -> dict[str, Any]:
    """Saturation mutagenesis of one sequence: Δlogit of each base at each position (4 × L)."""
    job = get_job(request, job_id)
    return service.mutation_map(_settings(request), job, body.model, body.sequence)


@router.post("/jobs/{job_id}/variants", status_code=201, responses=_ERRORS)
def variants(
    request: Request,
    job_id: str,
    file: Annotated[UploadFile, File(description="VCF, VCF.gz, BCF or TSV (chrom pos ref alt)")],
    genome: Annotated[str, Form(description="A genome name from GET /api/v1/genomes")],
    model: Annotated[str | None, Form(description="Model of the job (default: first)")] = None,
    n_null: Annotated[int, Form(description="Random substitutions in the null")] = N_NULL,
) -> dict[str, Any]:
    """Queue a variants job: score each variant with a trained model of job ``job_id``."""
    settings = _settings(request)
    source = get_job(request, job_id)
    content = file.file.read(settings.max_upload_bytes + 1)
    job = create_variants_job(
        settings,
        _store(request),
        source,
        content=content,
        genome=genome,
        model=model,
        n_null=n_null,
    )
    return _job_json(settings, job)
