"""Server-rendered pages (Jinja2, autoescaped): new job, job status and results, predict, login."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup, escape

from cislearn.web import present, service
from cislearn.web.auth import set_token_cookie, token_matches
from cislearn.web.errors import ApiError
from cislearn.web.inputs import check_inputs, decode_upload, stage_uploads, staged_uploads
from cislearn.web.settings import Settings
from cislearn.web.store import FINISHED
from cislearn.web.submit import (
    create_train_job,
    create_variants_job,
    get_job,
    model_choices,
    train_params,
)

__all__ = ["router", "error_page", "render"]

router = APIRouter(include_in_schema=False)

_ENV = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    # every template is HTML: escape all values (a FASTA header "<script>" renders as text)
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
#: Metrics shown in the results table, in this order, when present.
METRIC_ORDER = ("auroc", "auprc", "accuracy", "f1", "mcc", "pearson", "spearman", "r2", "mse")
#: Numbers of the training form; left empty, the command line's default (shown greyed).
_NUMBERS = ("max_epochs", "lr", "batch_size", "seed")


def _number_hints() -> dict[str, str]:
    """The defaults an empty training field stands for, from the one place they are set."""
    from cislearn.config import DEFAULT_RECIPE, TrainConfig

    hints = {key: str(TrainConfig.model_fields[key].default) for key in _NUMBERS}
    epochs = DEFAULT_RECIPE.get("max_epochs", TrainConfig.model_fields["max_epochs"].default)
    hints["max_epochs"] = f"{epochs} for {present.DEFAULT_CHOICE}, {hints['max_epochs']} others"
    return hints


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return "" if value is None else str(value)


_CODE = re.compile(r"``(.+?)``|`([^`]+)`")


def _inline_code(text: Any) -> Markup:
    """Docstring text with ``code`` / `code` spans as <code> (everything else escaped)."""
    escaped = str(escape("" if text is None else str(text)))
    return Markup(_CODE.sub(lambda m: f"<code>{m[1] or m[2]}</code>", escaped))


_ENV.filters["fmt"] = _fmt
_ENV.filters["sig"] = present.significant
_ENV.filters["code"] = _inline_code
_ENV.filters["label"] = present.column_label


def render(request: Request, name: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    from cislearn import __version__

    html = _ENV.get_template(name).render(
        version=__version__, has_token=bool(settings.token), path=request.url.path, **context
    )
    return HTMLResponse(html, status_code=status)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    return render(request, "error.html", status=status, code=status, message=message)


async def _form(request: Request) -> Any:
    settings: Settings = request.app.state.settings
    return await request.form(
        max_files=4, max_fields=64, max_part_size=settings.max_upload_bytes + 1
    )


async def _upload(form: Any, text_field: str | None, file_field: str, settings: Settings) -> Any:
    """A file upload wins over pasted text; None when neither was given."""
    upload = form.get(file_field)
    if upload is not None and not isinstance(upload, str) and upload.filename:
        content = await upload.read(settings.max_upload_bytes + 1)
        label = f"{file_field.removesuffix('_file')} file"
        return decode_upload(label, content, settings, filename=str(upload.filename))
    text = form.get(text_field) if text_field else None
    if isinstance(text, str) and text.strip():
        return decode_upload("pasted data", text.encode("utf-8"), settings)
    return None


def _values(form: Any) -> dict[str, Any]:
    """The form's fields as given (numbers checked later, by :func:`train_params`)."""

    def field(key: str) -> Any:
        text = str(form.get(key) or "").strip()
        return text or None  # empty: the default

    return {
        "data": form.get("data") or "",
        "name": str(form.get("name") or "")[:200],
        "models": [m for m in form.getlist("models") if isinstance(m, str)]
        or [present.DEFAULT_CHOICE],
        **{key: field(key) for key in _NUMBERS},
        "staged": "",
        "kept": [],
    }


def _new_page(request: Request, values: dict[str, Any], status: int = 200, **extra: Any) -> Any:
    return render(
        request,
        "new.html",
        status=status,
        values=values,
        choices=model_choices(),
        arch_help=present.arch_help(),
        hints=_number_hints(),
        **extra,
    )


@router.get("/", response_class=HTMLResponse)
def new_job(request: Request) -> Response:
    values = dict.fromkeys(_NUMBERS) | {"models": [present.DEFAULT_CHOICE], "data": "", "name": ""}
    return _new_page(request, values | {"staged": "", "kept": []})


async def _inputs(form: Any, settings: Settings, values: dict[str, Any]) -> dict[str, Any]:
    """This request's uploads and pasted data; when it brings none, the files kept by an
    earlier "Check format" (``staged``). Files are kept again, and ``values`` told, so that
    the page can show which files the next submit will use."""
    uploads = {
        "data": await _upload(form, "data", "data_file", settings),
        "pos": await _upload(form, None, "pos_file", settings),
        "neg": await _upload(form, None, "neg_file", settings),
    }
    files = {k: u for k, u in uploads.items() if u is not None and u.filename}
    if files:
        values["staged"] = stage_uploads(settings, files) or ""
    elif not any(uploads.values()):
        staged_id = str(form.get("staged") or "")
        kept = staged_uploads(settings, staged_id)
        if kept:
            uploads.update(kept)
            values["staged"] = staged_id
            files = kept
    values["kept"] = [f"{u.label}: {u.filename}" for u in files.values()]
    return uploads


@router.post("/", response_class=HTMLResponse)
async def new_job_action(request: Request) -> Response:
    """One form, three buttons: example data, check format, submit."""
    settings: Settings = request.app.state.settings
    form = await _form(request)
    action = form.get("action", "submit")
    values = _values(form)
    if action == "example":
        from cislearn.web.inputs import example_fasta

        values["data"] = example_fasta()
        return _new_page(request, values, notice="Example data loaded: simulated CTCF sites.")
    try:
        uploads = await _inputs(form, settings, values)
        if action == "check":
            stored = check_inputs(settings, **uploads)
            return _new_page(request, values, reports=stored.reports, checked_ok=stored.ok)
        fields = ("name", "models", "max_epochs", "lr", "batch_size", "seed")
        given = {k: values[k] for k in fields if values[k] is not None}  # others: defaults
        params = train_params(given | {"motifs": True})
        job = create_train_job(settings, request.app.state.store, uploads=uploads, params=params)
    except ApiError as exc:
        reports = (exc.details or {}).get("reports")
        return _new_page(request, values, status=exc.status, error=exc.message, reports=reports)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.get("/jobs", response_class=HTMLResponse)
def jobs_page(request: Request, deleted: str = "") -> Response:
    return render(
        request,
        "jobs.html",
        jobs=request.app.state.store.list(limit=200),
        finished=FINISHED,
        deleted=deleted[:8] if re.fullmatch(r"[0-9a-f]{1,32}", deleted) else "",
    )


@router.post("/jobs/{job_id}/delete")
def delete(request: Request, job_id: str) -> Response:
    """Delete a finished job and its files (the jobs list's Delete button)."""
    job = get_job(request, job_id)
    service.delete_job(request.app.state.settings, request.app.state.store, job)
    return RedirectResponse(f"/jobs?deleted={job.id[:8]}", status_code=303)


def _job_page(request: Request, job_id: str, status: int = 200, **extra: Any) -> Response:
    settings: Settings = request.app.state.settings
    job = get_job(request, job_id)
    results = service.job_results(settings, job)
    if results.get("comparison"):
        comparison = results["comparison"]
        comparison["view"] = present.comparison_view(comparison["columns"], comparison["rows"])
    return render(
        request,
        "job.html",
        status=status,
        job=job,
        active=job.status not in FINISHED,
        log=service.log_tail(settings, job.id, lines=40),
        results=results,
        metric_order=METRIC_ORDER,
        trained=service.trained_models(settings, job) if job.kind == "train" else [],
        genomes=sorted(settings.genomes),
        **extra,
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(request: Request, job_id: str) -> Response:
    return _job_page(request, job_id)


@router.post("/jobs/{job_id}/cancel")
def cancel(request: Request, job_id: str) -> Response:
    job = get_job(request, job_id)
    if job.status not in FINISHED:
        request.app.state.store.request_cancel(job.id)
    return RedirectResponse(f"/jobs/{job.id}", status_code=303)


@router.post("/jobs/{job_id}/predict", response_class=HTMLResponse)
async def predict_page(request: Request, job_id: str) -> Response:
    settings: Settings = request.app.state.settings
    job = get_job(request, job_id)
    form = await _form(request)
    text = form.get("sequences") or ""
    model = form.get("model") or None
    try:
        ids, seqs = service.parse_sequences(str(text), settings)
        scores = service.predict(
            settings, job, model if isinstance(model, str) else None, seqs, ids
        )
    except ApiError as exc:
        return _job_page(
            request, job_id, status=exc.status, predict_error=exc.message, predict_text=text
        )
    rows = [
        {"id": i, "values": [p for p in probs]}
        for i, probs in zip(ids, scores["probs"], strict=True)
    ]
    return _job_page(
        request,
        job_id,
        predictions=scores,
        prediction_rows=rows,
        predictions_tsv=present.predictions_tsv(scores),
        predict_text=text,
    )


def _map_cells(result: dict[str, Any]) -> list[dict[str, Any]]:
    """Rows of a mutation-map heat map: colour of each cell scaled by the largest |Δ|."""
    grid = result["delta_logit"]
    peak = max((abs(v) for row in grid for v in row), default=0.0) or 1.0
    seq = result["sequence"].upper()
    rows = []
    for b, base in enumerate(result["bases"]):
        cells = []
        for i, value in enumerate(grid[b]):
            t = min(abs(value) / peak, 1.0)
            shade = int(255 * (1 - t))
            colour = f"rgb(255,{shade},{shade})" if value > 0 else f"rgb({shade},{shade},255)"
            ref = i < len(seq) and seq[i] == base
            cells.append(
                {
                    "colour": "#000" if ref else colour,
                    "title": f"{i + 1} {seq[i] if i < len(seq) else '?'}>{base}: {value:+.3f}",
                }
            )
        rows.append({"base": base, "cells": cells})
    return rows


@router.post("/jobs/{job_id}/mutation-map", response_class=HTMLResponse)
async def mutation_map_page(request: Request, job_id: str) -> Response:
    settings: Settings = request.app.state.settings
    job = get_job(request, job_id)
    form = await _form(request)
    text = str(form.get("sequence") or "")
    model = form.get("model")
    try:
        result = service.mutation_map(
            settings, job, model if isinstance(model, str) and model else None, text
        )
    except ApiError as exc:
        return _job_page(request, job_id, status=exc.status, map_error=exc.message, map_text=text)
    return _job_page(
        request,
        job_id,
        mutation=result,
        map_rows=_map_cells(result),
        map_figure=present.mutation_map_figure(result),
        map_text=text,
    )


@router.post("/jobs/{job_id}/variants", response_class=HTMLResponse)
async def variants_page(request: Request, job_id: str) -> Response:
    settings: Settings = request.app.state.settings
    job = get_job(request, job_id)
    form = await _form(request)
    upload = form.get("vcf_file")
    model = form.get("model")
    try:
        if upload is None or isinstance(upload, str) or not upload.filename:
            raise ApiError(422, "missing_input", "choose a VCF (or TSV) file to upload")
        content = await upload.read(settings.max_upload_bytes + 1)
        created = create_variants_job(
            settings,
            request.app.state.store,
            job,
            content=content,
            genome=str(form.get("genome") or ""),
            model=model if isinstance(model, str) and model else None,
        )
    except ApiError as exc:
        return _job_page(request, job_id, status=exc.status, variants_error=exc.message)
    return RedirectResponse(f"/jobs/{created.id}", status_code=303)


@router.get("/api", response_class=HTMLResponse)
def api_docs(request: Request) -> Response:
    """The REST API's reference, rendered from the generated OpenAPI spec (no CDN assets)."""
    spec = request.app.openapi()
    endpoints = []
    for path, methods in spec.get("paths", {}).items():
        for method, op in methods.items():
            body = op.get("requestBody", {}).get("content", {})
            endpoints.append(
                {
                    "method": method.upper(),
                    "path": path,
                    "summary": op.get("summary", ""),
                    "description": op.get("description", ""),
                    "params": [p["name"] for p in op.get("parameters", [])],
                    "body": ", ".join(body),
                }
            )
    return render(
        request, "api.html", endpoints=endpoints, description=spec["info"].get("description", "")
    )


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request) -> Response:
    return render(request, "login.html")


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    form = await request.form(max_files=0, max_fields=4, max_part_size=4096)
    given = str(form.get("token") or "")
    if not token_matches(given, settings.token or ""):
        return render(request, "login.html", status=401, error="wrong token")
    response = RedirectResponse("/", status_code=303)
    set_token_cookie(response, given)
    return response
