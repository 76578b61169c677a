"""The self-hosted web app: FastAPI pages + REST API + a job queue, on the public library API.

The web layer holds no science: every job is a :mod:`cislearn.pipelines` call (the same as the
CLI's), pages and the API read its files back (``cislearn.validate``, ``cislearn.predict``,
...). Start it with ``cislearn serve``.
"""

from __future__ import annotations

from typing import Any

__all__ = ["create_app", "Settings"]


def __getattr__(name: str) -> Any:
    # lazy, so that `cislearn --help` and the worker processes do not import FastAPI eagerly
    if name == "create_app":
        from cislearn.web.app import create_app

        return create_app
    if name == "Settings":
        from cislearn.web.settings import Settings

        return Settings
    raise AttributeError(f"module 'cislearn.web' has no attribute '{name}'")
