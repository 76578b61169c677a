"""The persistent job queue: one SQLAlchemy table (SQLite by default, PostgreSQL by URL)."""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    Integer,
    String,
    Text,
    create_engine,
    event,
    select,
    update,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

__all__ = ["JobStore", "JobRecord", "STATUSES", "FINISHED", "new_job_id"]

#: Job states: queued → running → done | failed | cancelled.
STATUSES = ("queued", "running", "done", "failed", "cancelled")
FINISHED = frozenset({"done", "failed", "cancelled"})


def new_job_id() -> str:
    """A random job id (32 hex digits): ids cannot be guessed and name the job's folder."""
    return secrets.token_hex(16)


def _now() -> datetime:
    return datetime.now(UTC)


class _Base(DeclarativeBase):
    pass


class _Job(_Base):
    __tablename__ = "cislearn_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)  # JSON (never pickle)
    status: Mapped[str] = mapped_column(String(16), index=True, default="queued")
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    started: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    finished: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    stage: Mapped[str] = mapped_column(String(200), default="")
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    fraction: Mapped[float | None] = mapped_column(Float, nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    cancel: Mapped[bool] = mapped_column(Boolean, default=False)
    worker: Mapped[int | None] = mapped_column(Integer, nullable=True)


@dataclass(frozen=True)
class JobRecord:
    """A snapshot of one job row; ``params`` is the decoded JSON."""

    id: str
    kind: str
    params: dict[str, Any]
    status: str
    created: datetime
    started: datetime | None
    finished: datetime | None
    stage: str
    done: int
    total: int | None
    fraction: float | None
    message: str
    error: str | None
    cancel: bool

    def to_json(self) -> dict[str, Any]:
        """The JSON view the API returns (datetimes as ISO 8601 strings)."""

        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        return {
            "id": self.id,
            "kind": self.kind,
            "params": self.params,
            "status": self.status,
            "created": iso(self.created),
            "started": iso(self.started),
            "finished": iso(self.finished),
            "progress": {
                "stage": self.stage,
                "done": self.done,
                "total": self.total,
                "fraction": self.fraction,
                "message": self.message,
            },
            "error": self.error,
            "cancel_requested": self.cancel,
        }


def _record(row: _Job) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        params=json.loads(row.params),
        status=row.status,
        created=row.created,
        started=row.started,
        finished=row.finished,
        stage=row.stage or "",
        done=row.done or 0,
        total=row.total,
        fraction=row.fraction,
        message=row.message or "",
        error=row.error,
        cancel=bool(row.cancel),
    )


class JobStore:
    """Jobs in a database shared by the server and its worker processes.

    Parameters
    ----------
    url : str
        SQLAlchemy URL, e.g. ``sqlite:////srv/cislearn/jobs.sqlite`` or ``postgresql://...``.

    Examples
    --------
    >>> store = JobStore("sqlite://")
    >>> job = store.create("train", {"models": ["cnn"]})
    >>> store.claim(worker=1).id == job.id
    True
    """

    def __init__(self, url: str) -> None:
        kwargs: dict[str, Any] = {}
        if url.startswith("sqlite"):
            # several processes write: wait for the lock instead of failing at once
            kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
        self.engine = create_engine(url, **kwargs)
        if url.startswith("sqlite") and url not in ("sqlite://", "sqlite:///:memory:"):

            @event.listens_for(self.engine, "connect")
            def _wal(dbapi_conn: Any, _record: Any) -> None:
                # WAL: readers (status polling) never block the worker writing progress
                cur = dbapi_conn.cursor()
                cur.execute("PRAGMA journal_mode=WAL")
                cur.execute("PRAGMA synchronous=NORMAL")
                cur.close()

        _Base.metadata.create_all(self.engine)

    def dispose(self) -> None:
        """Close the connection pool (before forking, or at shutdown)."""
        self.engine.dispose()

    def create(self, kind: str, params: dict[str, Any], *, job_id: str | None = None) -> JobRecord:
        """Queue a new job; ``params`` must be JSON-serialisable."""
        row = _Job(
            id=job_id or new_job_id(),
            kind=kind,
            params=json.dumps(params),
            status="queued",
            created=_now(),
            stage="queued",
            done=0,
            message="",
            cancel=False,
        )
        with Session(self.engine) as s, s.begin():
            s.add(row)
            s.flush()
            return _record(row)

    def get(self, job_id: str) -> JobRecord | None:
        with Session(self.engine) as s:
            row = s.get(_Job, job_id)
            return _record(row) if row is not None else None

    def list(self, *, limit: int = 100) -> list[JobRecord]:
        """The newest ``limit`` jobs, newest first."""
        with Session(self.engine) as s:
            rows = s.scalars(select(_Job).order_by(_Job.created.desc()).limit(limit))
            return [_record(r) for r in rows]

    def claim(self, *, worker: int) -> JobRecord | None:
        """Atomically take the oldest queued job (status → running), or None."""
        with Session(self.engine) as s:
            ids = s.scalars(
                select(_Job.id).where(_Job.status == "queued").order_by(_Job.created).limit(5)
            ).all()
            for job_id in ids:
                # compare-and-set: another worker may have taken it since the select
                res = s.execute(
                    update(_Job)
                    .where(_Job.id == job_id, _Job.status == "queued")
                    .values(status="running", started=_now(), worker=worker, stage="starting")
                )
                s.commit()
                if res.rowcount == 1:
                    return _record(s.get(_Job, job_id, populate_existing=True))
        return None

    def progress(
        self, job_id: str, *, stage: str, done: int, total: int | None, message: str
    ) -> bool:
        """Record progress; returns True when a cancel was requested meanwhile."""
        fraction = min(max(done / total, 0.0), 1.0) if total else None
        with Session(self.engine) as s, s.begin():
            s.execute(
                update(_Job)
                .where(_Job.id == job_id)
                .values(
                    stage=stage[:200], done=done, total=total, fraction=fraction, message=message
                )
            )
            return bool(s.scalar(select(_Job.cancel).where(_Job.id == job_id)))

    def cancel_requested(self, job_id: str) -> bool:
        with Session(self.engine) as s:
            return bool(s.scalar(select(_Job.cancel).where(_Job.id == job_id)))

    def finish(self, job_id: str, status: str, *, error: str | None = None) -> None:
        """Mark a job done, failed or cancelled."""
        if status not in FINISHED:
            raise ValueError(f"status must be one of {sorted(FINISHED)}; got {status!r}")
        with Session(self.engine) as s, s.begin():
            s.execute(
                update(_Job)
                .where(_Job.id == job_id)
                .values(status=status, finished=_now(), error=error, stage=status)
            )

    def request_cancel(self, job_id: str) -> JobRecord | None:
        """Cancel a queued job at once; ask a running one to stop at its next progress call."""
        with Session(self.engine) as s, s.begin():
            s.execute(
                update(_Job)
                .where(_Job.id == job_id, _Job.status == "queued")
                .values(status="cancelled", finished=_now(), stage="cancelled", cancel=True)
            )
            s.execute(
                update(_Job).where(_Job.id == job_id, _Job.status == "running").values(cancel=True)
            )
        return self.get(job_id)

    def delete(self, job_id: str) -> bool:
        """Delete a job row (the caller removes its folder); False when it did not exist."""
        with Session(self.engine) as s, s.begin():
            row = s.get(_Job, job_id)
            if row is None:
                return False
            s.delete(row)
            return True

    def fail_interrupted(self, reason: str) -> int:
        """Mark every running job failed with ``reason`` (at server start); return how many."""
        with Session(self.engine) as s, s.begin():
            res = s.execute(
                update(_Job)
                .where(_Job.status == "running")
                .values(status="failed", finished=_now(), error=reason, stage="failed")
            )
            return int(res.rowcount or 0)
