"""The web job queue: store semantics, progress/cancel callbacks, restart recovery, workers."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from cislearn.web.inputs import Upload, example_fasta, store_training_inputs
from cislearn.web.jobs import JobCancelled, JobProgress, job_dir, run_job
from cislearn.web.settings import Settings
from cislearn.web.store import JobStore
from cislearn.web.worker import INTERRUPTED, WorkerPool


@pytest.fixture
def store(tmp_path: Path) -> JobStore:
    return JobStore(f"sqlite:///{tmp_path / 'jobs.sqlite'}")


def test_claim_is_fifo_and_exclusive(store: JobStore) -> None:
    a = store.create("train", {"models": ["cnn"], "note": "ünïcode <b>"})
    b = store.create("train", {"models": ["lstm"]})
    other = JobStore(str(store.engine.url))  # a second connection, as a worker process has
    first, second = store.claim(worker=1), other.claim(worker=2)
    assert (first.id, second.id) == (a.id, b.id)
    assert store.claim(worker=1) is None and other.claim(worker=2) is None
    assert first.params == {"models": ["cnn"], "note": "ünïcode <b>"}  # JSON round trip
    assert json.dumps(first.to_json())  # the API view is JSON


def test_ids_are_random_hex(store: JobStore) -> None:
    ids = {store.create("train", {}).id for _ in range(50)}
    assert len(ids) == 50 and all(len(i) == 32 and int(i, 16) >= 0 for i in ids)


def test_cancel_queued_and_running(store: JobStore) -> None:
    queued = store.create("train", {})
    assert store.request_cancel(queued.id).status == "cancelled"
    running = store.create("train", {})
    assert store.claim(worker=1).id == running.id
    job = store.request_cancel(running.id)
    assert job.status == "running" and job.cancel  # stops at its next progress call
    assert store.progress(running.id, stage="epoch", done=1, total=2, message="m") is True


def test_progress_callback_writes_db_and_log_and_cancels(store: JobStore, tmp_path) -> None:
    job = store.create("train", {})
    store.claim(worker=1)
    cb = JobProgress(store, job.id, tmp_path / "job.log", min_interval=0.0)
    cb("epoch", 1, 4, "epoch 1/4 train_loss=0.5")
    row = store.get(job.id)
    assert (row.stage, row.done, row.total, row.fraction) == ("epoch", 1, 4, 0.25)
    assert row.message == "epoch 1/4 train_loss=0.5"
    assert "epoch 1/4 train_loss=0.5" in (tmp_path / "job.log").read_text()
    store.request_cancel(job.id)
    with pytest.raises(JobCancelled):
        cb("epoch", 2, 4)


def test_restart_marks_running_jobs_failed(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=0)
    store = JobStore(settings.database_url)
    running = store.create("train", {})
    store.claim(worker=123)
    queued = store.create("train", {})
    pool = WorkerPool(settings, store)  # a new server starting on the same database
    pool.start()
    pool.stop()
    assert store.get(running.id).status == "failed"
    assert store.get(running.id).error == INTERRUPTED
    assert store.get(queued.id).status == "queued"  # waiting jobs survive the restart


def test_failed_job_records_reason(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, workers=0)
    store = JobStore(settings.database_url)
    job = store.create("train", {"models": ["cnn"], "inputs": {"data": "data_fasta"}})
    store.claim(worker=1)
    assert run_job(store, job, settings) == "failed"  # its input file was never stored
    row = store.get(job.id)
    assert row.status == "failed" and "file not found" in row.error
    assert "failed:" in (job_dir(settings, job.id) / "job.log").read_text()


@pytest.mark.slow
def test_worker_process_runs_job_and_cancel_stops_it(tmp_path: Path) -> None:
    """A real spawned worker takes a queued job; a cancel stops it between epochs."""
    settings = Settings(data_dir=tmp_path, workers=1, poll_seconds=0.2)
    store = JobStore(settings.database_url)
    data = Upload("data", example_fasta(n=60, length=50, seed=2).encode())
    job_id = "0" * 31 + "1"
    stored = store_training_inputs(job_dir(settings, job_id), settings, data=data)
    params = {"models": ["cnn"], "max_epochs": 50, "patience": 0, "n_boot": 20, "motifs": False}
    store.create("train", {**params, "inputs": stored.inputs}, job_id=job_id)
    pool = WorkerPool(settings, store)
    pool.start()
    try:
        deadline = time.monotonic() + 120
        while store.get(job_id).done < 1 and time.monotonic() < deadline:
            assert store.get(job_id).status in ("queued", "running"), store.get(job_id).error
            time.sleep(0.1)
        store.request_cancel(job_id)
        while store.get(job_id).status == "running" and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        pool.stop()
    job = store.get(job_id)
    assert job.status == "cancelled" and 1 <= job.done < 50
    assert "cancelled by the user" in (job_dir(settings, job_id) / "job.log").read_text()
