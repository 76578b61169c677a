"""Worker processes started by ``cislearn serve``: each takes queued jobs and runs them."""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
from typing import Any

from cislearn.web.jobs import run_job
from cislearn.web.settings import Settings
from cislearn.web.store import JobStore

__all__ = ["WorkerPool", "worker_main", "run_pending", "INTERRUPTED"]

log = logging.getLogger(__name__)

#: Reason recorded on jobs that were running when the server stopped or crashed.
INTERRUPTED = "the server stopped while this job was running; submit it again"


def run_pending(settings: Settings, *, store: JobStore | None = None, limit: int = 100) -> int:
    """Run queued jobs in this process until none is left (tests, ``--workers 0``); count."""
    store = store or JobStore(settings.database_url)
    n = 0
    while n < limit:
        job = store.claim(worker=os.getpid())
        if job is None:
            break
        run_job(store, job, settings)
        n += 1
    return n


def worker_main(settings_json: str, stop: Any) -> None:
    """Body of one worker process: claim a queued job, run it, repeat until ``stop`` is set."""
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.model_validate_json(settings_json)
    store = JobStore(settings.database_url)
    try:
        import cislearn.pipelines.train  # noqa: F401 - import torch/Lightning once, before the first job

        while not stop.is_set():
            job = store.claim(worker=os.getpid())
            if job is None:
                stop.wait(settings.poll_seconds)
                continue
            run_job(store, job, settings)
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group
        pass
    finally:
        store.dispose()


class WorkerPool:
    """``settings.workers`` spawned processes running :func:`worker_main`.

    ``start()`` first marks jobs left ``running`` by a previous server as failed
    (:data:`INTERRUPTED`); ``stop()`` asks the workers to finish, terminates those still busy
    after ``grace`` seconds and marks their jobs failed the same way.
    """

    def __init__(self, settings: Settings, store: JobStore) -> None:
        self.settings = settings
        self.store = store
        self._ctx = mp.get_context("spawn")  # no fork: torch and the DB pool are not fork-safe
        self._stop = self._ctx.Event()
        self._procs: list[Any] = []

    def start(self) -> None:
        n = self.store.fail_interrupted(INTERRUPTED)
        if n:
            log.warning("%d job(s) were running when the server last stopped: marked failed", n)
        payload = self.settings.model_dump_json()
        for i in range(self.settings.workers):
            proc = self._ctx.Process(
                target=worker_main,
                args=(payload, self._stop),
                name=f"cislearn-worker-{i + 1}",
                daemon=True,
            )
            proc.start()
            self._procs.append(proc)

    @property
    def alive(self) -> int:
        return sum(p.is_alive() for p in self._procs)

    def stop(self, *, grace: float = 3.0) -> None:
        self._stop.set()
        for proc in self._procs:
            proc.join(timeout=grace)
        killed = [p for p in self._procs if p.is_alive()]
        for proc in killed:
            proc.terminate()
            proc.join(timeout=5)
        if killed:
            self.store.fail_interrupted(INTERRUPTED)
        self._procs.clear()
