"""Benchmark: the web app under load — 50 concurrent prediction requests of 100 sequences each.

Starts a real ``cislearn serve`` (uvicorn, loopback only, one worker process) on a free port in
a temporary data folder, trains a tiny ``cnn`` on 201-bp CTCF sequences through the REST API
(1 epoch, 1,000 sequences), then sends ``--rounds`` bursts of ``--concurrency`` simultaneous
``POST /api/v1/jobs/{id}/predict`` requests, each with ``--per-request`` CTCF sequences, and
reports the latency of every request (p50/p95, from sending to the full answer) and errors.
Target: no errors, p95 < 500 ms on 2 cores. Bounded: every request has a 30 s timeout and the
server is stopped at the end (its process group killed if it does not exit).

Run: ``.venv/bin/python benchmarks/web_load.py`` (about a minute; writes
benchmarks/results/web_load.json).
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from machine import LoadProbe, write_result

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "ctcf_gm12878"
RESULTS = ROOT / "benchmarks" / "results" / "web_load.json"
TARGET_P95_MS = 500.0


def _fasta(path: Path, n: int) -> tuple[str, list[str]]:
    with gzip.open(path, "rt") as fh:
        records = fh.read().split(">")[1 : n + 1]
    seqs = ["".join(r.split("\n")[1:]) for r in records]
    return "".join(">" + r for r in records), seqs


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


async def _burst(
    client: httpx.AsyncClient, url: str, batches: list[list[str]]
) -> tuple[list[float], list[str]]:
    async def one(seqs: list[str]) -> tuple[float, str | None]:
        t0 = time.perf_counter()
        try:
            r = await client.post(url, json={"sequences": seqs})
            elapsed = time.perf_counter() - t0
            if r.status_code != 200:
                return elapsed, f"HTTP {r.status_code}: {r.text[:200]}"
            if len(r.json()["probs"]) != len(seqs):
                return elapsed, "wrong number of scores"
            return elapsed, None
        except httpx.HTTPError as exc:
            return time.perf_counter() - t0, f"{type(exc).__name__}: {exc}"

    results = await asyncio.gather(*(one(b) for b in batches))
    return [t for t, _ in results], [e for _, e in results if e]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--concurrency", type=int, default=50)
    ap.add_argument("--per-request", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=5)
    args = ap.parse_args()
    probe = LoadProbe()
    pos_text, pos = _fasta(DATA / "pos.fa.gz", 500)
    neg_text, neg = _fasta(DATA / "neg.fa.gz", 500)
    pool = pos + neg
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as tmp:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cislearn",
                "serve",
                "--port",
                str(port),
                "--workers",
                "1",
                "--data-dir",
                tmp,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            with httpx.Client(base_url=base, timeout=30) as client:
                deadline = time.monotonic() + 90
                while True:
                    try:
                        if client.get("/api/v1/health").status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    if server.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("server did not start")
                    time.sleep(0.3)
                job = client.post(
                    "/api/v1/jobs",
                    json={
                        "pos": pos_text,
                        "neg": neg_text,
                        "models": ["cnn"],
                        "max_epochs": 1,
                        "n_boot": 100,
                        "motifs": False,
                    },
                ).json()
                job_id = job["id"]
                deadline = time.monotonic() + 300
                while (status := client.get(f"/api/v1/jobs/{job_id}").json())["status"] in (
                    "queued",
                    "running",
                ):
                    if time.monotonic() > deadline:
                        raise SystemExit("training did not finish in 300 s")
                    time.sleep(0.5)
                if status["status"] != "done":
                    raise SystemExit(f"training job {status['status']}: {status['error']}")
                url = f"/api/v1/jobs/{job_id}/predict"
                warm = client.post(url, json={"sequences": pool[: args.per_request]})
                warm.raise_for_status()

            from cislearn.runload import load_run as load

            # reference, measured side by side: the same bursts predicted in this process
            # (no HTTP, no JSON), one Predictor.predict call per request, one after another
            predictor = load(Path(tmp) / "jobs" / job_id / "out" / "runs" / "cnn", device="cpu")
            inproc: list[float] = []

            async def run() -> tuple[list[float], list[str], list[float]]:
                limits = httpx.Limits(max_connections=args.concurrency)
                latencies: list[float] = []
                errors: list[str] = []
                walls: list[float] = []
                async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as ac:
                    for r in range(args.rounds):
                        batches = [
                            [
                                pool[(r * 7 + i * args.per_request + j) % len(pool)]
                                for j in range(args.per_request)
                            ]
                            for i in range(args.concurrency)
                        ]
                        t0 = time.perf_counter()
                        times, errs = await _burst(ac, url, batches)
                        walls.append(time.perf_counter() - t0)
                        latencies += times
                        errors += errs
                        t0 = time.perf_counter()
                        for batch in batches:
                            predictor.predict(batch)
                        inproc.append(time.perf_counter() - t0)
                return latencies, errors, walls

            latencies, errors, walls = asyncio.run(run())
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(timeout=10)
    ms = [1000 * t for t in latencies]
    p50, p95 = _percentile(ms, 0.5), _percentile(ms, 0.95)
    n_req = len(ms)
    seqs_per_s = args.concurrency * args.per_request / statistics.median(walls)
    print(
        f"{args.rounds} bursts of {args.concurrency} concurrent requests x {args.per_request} "
        f"sequences (cnn, 201 bp), {n_req} requests"
    )
    print(f"latency p50 {p50:.0f} ms  p95 {p95:.0f} ms  max {max(ms):.0f} ms  errors {len(errors)}")
    print(
        f"burst wall time median {1000 * statistics.median(walls):.0f} ms "
        f"({seqs_per_s:,.0f} sequences/s served)"
    )
    ratio = statistics.median(walls) / statistics.median(inproc)
    print(
        "same burst predicted in-process, sequentially: median "
        f"{1000 * statistics.median(inproc):.0f} ms; served burst / in-process = {ratio:.2f}"
    )
    ok = not errors and p95 < TARGET_P95_MS
    print(f"target: no errors and p95 < {TARGET_P95_MS:.0f} ms  {'PASS' if ok else 'FAIL'}")
    for e in errors[:5]:
        print(f"error: {e}")
    machine = probe.finish(2, httpx=httpx.__version__)
    write_result(
        RESULTS,
        {
            "benchmark": "web_load",
            "arch": "cnn",
            "length": 201,
            "concurrency": args.concurrency,
            "sequences_per_request": args.per_request,
            "rounds": args.rounds,
            "requests": n_req,
            "p50_ms": p50,
            "p95_ms": p95,
            "max_ms": max(ms),
            "errors": len(errors),
            "error_samples": errors[:5],
            "burst_wall_ms": [1000 * w for w in walls],
            "sequences_per_s": seqs_per_s,
            "inprocess_burst_ms": [1000 * w for w in inproc],
            "served_over_inprocess_ratio": ratio,
            "target_p95_ms": TARGET_P95_MS,
            "pass": ok,
            "machine": machine,
        },
    )
    print(f"wrote {RESULTS.relative_to(ROOT)}")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
