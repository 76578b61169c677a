"""Shared by the benchmark scripts: how busy the machine is, and writing a result file."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from cislearn.io.atomic import atomic_write


def busy_cpus(seconds: float = 1.0) -> float:
    """CPUs kept busy by other processes while this one sleeps (from /proc/stat; Linux only;
    the load average lags by minutes, so it is only the fallback)."""

    def sample() -> tuple[int, int]:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
        return sum(fields), fields[3] + fields[4]  # total, idle + iowait

    try:
        total0, idle0 = sample()
        time.sleep(seconds)
        total1, idle1 = sample()
    except OSError:
        return os.getloadavg()[0]
    return (os.cpu_count() or 1) * (1.0 - (idle1 - idle0) / max(total1 - total0, 1))


def write_result(path: Path, result: dict) -> None:
    """Write a benchmark's result as indented JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        fh.write(json.dumps(result, indent=2) + "\n")
