"""Shared by the benchmark scripts: how busy the machine is, pinning malloc, writing results."""

from __future__ import annotations

import ctypes
import json
import os
import platform
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


def pin_malloc() -> bool:
    """Fix glibc's mmap and trim thresholds so that allocation costs do not depend on what ran
    before (False when the C library is not glibc).

    With glibc's defaults the mmap threshold adapts to the sizes freed so far, so the same
    torch loop ran 9.7k or 31k ``cnn`` forwards/s in one process depending on what had run
    before it. Cases measured side by side share the process, so pinning removes noise, not
    overhead.
    """
    m_trim_threshold, m_mmap_threshold = -1, -3  # from <malloc.h>
    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(m_mmap_threshold, 32 << 20)) and bool(
            libc.mallopt(m_trim_threshold, 1 << 30)
        )
    except (OSError, AttributeError):
        return False


def write_result(path: Path, result: dict) -> None:
    """Write a benchmark's result as indented JSON, atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(path) as fh:
        fh.write(json.dumps(result, indent=2) + "\n")


class LoadProbe:
    """The machine's load before and after a benchmark, to flag runs disturbed by other jobs."""

    def __init__(self) -> None:
        self.load_before = os.getloadavg()[0]
        self.busy_before = busy_cpus()

    def finish(self, threads: int, **versions: str) -> dict:
        """Print the load figures (and a warning when contended); return them for the result."""
        loadavg = (self.load_before, os.getloadavg()[0])
        busy = (self.busy_before, busy_cpus())
        cpus = os.cpu_count()
        print(
            f"1-min load average before/after: {loadavg[0]:.2f} / {loadavg[1]:.2f} on {cpus} cpus"
        )
        print(f"CPUs busy with other work before/after: {busy[0]:.2f} / {busy[1]:.2f}")
        contended = max(busy) > (cpus or 1) - threads + 0.25
        if contended:  # torch's thread pool slows down a lot when a core is taken by another job
            print(
                "warning: other processes were using the CPU; rerun on an idle machine to confirm"
            )
        return {
            "cpus": cpus,
            "load_average_before_after": loadavg,
            "other_busy_cpus_before_after": busy,
            "contended": contended,
            "platform": platform.platform(),
            "python": platform.python_version(),
            **versions,
        }
