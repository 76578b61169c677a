"""Server settings (validated once): data folder, database URL, workers, token, limits, genomes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["Settings", "TOKEN_ENV"]

#: Environment variable read by ``cislearn serve`` when ``--token`` is not given.
TOKEN_ENV = "CISLEARN_TOKEN"


class Settings(BaseModel):
    """Everything ``cislearn serve`` can be told.

    Attributes
    ----------
    data_dir : Path
        Job inputs and outputs (``jobs/<id>/``) and, by default, the SQLite job database.
    db_url : str or None
        SQLAlchemy URL of the job store; None → ``sqlite:///<data_dir>/jobs.sqlite``
        (``postgresql://...`` works too).
    workers : int
        Worker processes started with the server (0: none; jobs wait in the queue).
    token : str or None
        When set, every request needs ``Authorization: Bearer <token>`` (or the login cookie).
    max_upload_bytes : int
        Largest request body accepted (all uploads of one request together).
    max_sequences : int
        Most sequences accepted in one training input or one prediction request.
    max_predict_sequences : int
        Most sequences in one synchronous prediction request.
    max_sequence_length : int
        Longest sequence accepted (bp) in training inputs, predictions and mutation maps: a
        worker's memory grows with the input length.
    max_epochs : int
        Largest ``max_epochs`` a job may ask for.
    genomes : dict of str to Path
        Genomes the server was started with (``--genome NAME=PATH``), offered for variants.
    poll_seconds : float
        How often idle workers look for queued jobs.
    accelerator : {"auto", "cpu", "gpu"}
        Where jobs train, embed, find motifs and score variants: ``auto``, a GPU when the
        worker has one (as the command line chooses). Predictions and mutation maps asked on
        a page run on the CPU (small requests; the server process never starts CUDA).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    data_dir: Path = Path("cislearn_data")
    db_url: str | None = None
    workers: int = Field(default=1, ge=0, le=64)
    token: str | None = None
    max_upload_bytes: int = Field(default=50_000_000, gt=0)
    max_sequences: int = Field(default=200_000, gt=0)
    max_predict_sequences: int = Field(default=10_000, gt=0)
    max_sequence_length: int = Field(default=10_000, gt=0)
    max_epochs: int = Field(default=100, gt=0)
    genomes: dict[str, Path] = Field(default_factory=dict)
    poll_seconds: float = Field(default=0.5, gt=0)
    accelerator: Literal["auto", "cpu", "gpu"] = "auto"

    @property
    def job_device(self) -> str | None:
        """The ``device`` of the library calls a job makes (None: a GPU when present)."""
        return {"auto": None, "cpu": "cpu", "gpu": "cuda"}[self.accelerator]

    @property
    def database_url(self) -> str:
        """The job store URL (the SQLite default lives in ``data_dir``)."""
        if self.db_url:
            return self.db_url
        return f"sqlite:///{os.fspath(Path(self.data_dir).resolve() / 'jobs.sqlite')}"

    @property
    def jobs_dir(self) -> Path:
        """Folder holding one sub-folder per job, named by its random id."""
        return Path(self.data_dir) / "jobs"
