"""The FastAPI application factory: routers, the token guard (checks in ``web/auth.py``), upload
limit, JSON errors, workers."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.datastructures import MutableHeaders
from starlette.exceptions import HTTPException as StarletteHTTPException

from cislearn.errors import CislearnError
from cislearn.web import pages
from cislearn.web.auth import OPEN_PATHS, request_token_ok
from cislearn.web.errors import ApiError, error_body, web_message
from cislearn.web.settings import Settings
from cislearn.web.store import JobStore
from cislearn.web.submit import validation_message

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_STATIC = Path(__file__).parent / "static"
_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
}


def _is_api(request: Request) -> bool:
    return request.url.path.startswith("/api/")


class _Guard:
    """The token (every request but the login form), the upload limit (before the body is
    read) and security headers on every response.

    A plain ASGI middleware: Starlette's ``@app.middleware("http")`` runs each request through
    task groups and memory streams, which cost ~1 ms of event-loop time per request here.
    """

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app = app
        self.settings = settings

    def _refusal(self, request: Request) -> Response | None:
        settings = self.settings
        if settings.token and not request.url.path.startswith(OPEN_PATHS):
            if not request_token_ok(request, settings.token):
                if _is_api(request) or request.method != "GET":
                    return JSONResponse(
                        error_body(
                            "unauthorized",
                            "this server needs a token: send 'Authorization: Bearer <token>'",
                        ),
                        status_code=401,
                        headers={"WWW-Authenticate": "Bearer"},
                    )
                return RedirectResponse("/login", status_code=303)
        length = request.headers.get("content-length")
        limit = settings.max_upload_bytes + 1_000_000  # room for the form's other fields
        if length is not None and length.isdigit() and int(length) > limit:
            message = (
                f"request body of {int(length):,} bytes is larger than this server's upload "
                f"limit of {settings.max_upload_bytes:,} bytes"
            )
            if _is_api(request):
                return JSONResponse(error_body("too_large", message), status_code=413)
            return pages.error_page(request, 413, message)
        return None

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "same-origin")
            await send(message)

        refusal = self._refusal(Request(scope, receive))
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)


def create_app(settings: Settings, *, start_workers: bool = True) -> FastAPI:
    """Build the web app for ``settings``.

    Parameters
    ----------
    settings : Settings
        Data folder, database, workers, token, limits and genomes.
    start_workers : bool
        Start ``settings.workers`` worker processes while the app runs (lifespan); tests pass
        False and run queued jobs with :func:`cislearn.web.worker.run_pending`.

    Returns
    -------
    FastAPI
        Serve it with uvicorn (``cislearn serve`` does).

    Examples
    --------
    >>> from fastapi.testclient import TestClient  # doctest: +SKIP
    >>> client = TestClient(create_app(Settings(data_dir="d", workers=0)))  # doctest: +SKIP
    >>> client.get("/api/v1/health").json()["status"]  # doctest: +SKIP
    'ok'
    """
    from cislearn import __version__
    from cislearn.web import api

    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    settings.jobs_dir.mkdir(parents=True, exist_ok=True)
    store = JobStore(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        pool = None
        if start_workers:
            from cislearn.web.worker import WorkerPool

            pool = WorkerPool(settings, store)
            pool.start()
        app.state.pool = pool
        try:
            yield
        finally:
            if pool is not None:
                pool.stop()
            store.dispose()

    app = FastAPI(
        title="cislearn",
        version=__version__,
        description=(
            "Train and compare deep-learning models on DNA sequences, browse their results, "
            "predict new sequences. Every API error has the shape "
            '`{"error": {"code": "...", "message": "..."}}`. When the server has a token, '
            "send `Authorization: Bearer <token>` with every request."
        ),
        lifespan=lifespan,
        openapi_url="/api/v1/openapi.json",
        # FastAPI's Swagger/ReDoc pages load their scripts from a CDN; the server must work
        # offline, so /api (pages.py) renders the OpenAPI spec itself instead
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.store = store

    app.add_middleware(_Guard, settings=settings)

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> Response:
        if _is_api(request):
            return JSONResponse(
                error_body(exc.code, exc.message, exc.details), status_code=exc.status
            )
        return pages.error_page(request, exc.status, exc.message)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = _STATUS_CODES.get(exc.status_code, "error")
        message = str(exc.detail) if exc.detail else code.replace("_", " ")
        if _is_api(request):
            return JSONResponse(error_body(code, message), status_code=exc.status_code)
        return pages.error_page(request, exc.status_code, message)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
        message = validation_message(exc)
        if _is_api(request):
            return JSONResponse(error_body("invalid_request", message), status_code=422)
        return pages.error_page(request, 422, message)

    @app.exception_handler(CislearnError)
    async def _library_error(request: Request, exc: CislearnError) -> Response:
        message = web_message(str(exc))
        if _is_api(request):
            return JSONResponse(error_body("input_error", message), status_code=422)
        return pages.error_page(request, 422, message)

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s", request.url.path)
        message = f"internal error: {type(exc).__name__}"
        if _is_api(request):
            return JSONResponse(error_body("internal", message), status_code=500)
        return pages.error_page(request, 500, message)

    app.mount("/static", StaticFiles(directory=_STATIC), name="static")
    app.include_router(api.router)
    app.include_router(pages.router)
    return app
