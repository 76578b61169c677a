"""cislearn.distribute: one full-precision process runs its items without Lightning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

_SCRIPT = """
import sys
import numpy as np
from cislearn.distribute import inference_hardware, run_sharded
from cislearn.io.shards import read_shard_items, read_shard_states

class Work:
    model = None
    def items(self, part, parts):
        return ((i, i * 10) for i in range(7) if i % parts == part)
    def run(self, index, item, device):
        return str(item).encode()
    def state(self):
        return {"n": np.array([7])}

res = run_sharded(Work(), sys.argv[1], inference_hardware(accelerator="cpu"))
items = [(i, p.decode()) for i, p in read_shard_items(res.folder, res.world_size)]
print(res.rank, res.world_size, items, int(read_shard_states(res.folder, 1)[0]["n"][0]))
print("pytorch_lightning" in sys.modules)
"""


def test_one_process_plain_loop_without_lightning(tmp_path: Path) -> None:
    src = str(Path(__file__).resolve().parents[1] / "src")
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(tmp_path / "shards")],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    ).stdout.splitlines()
    expected = [(i, str(i * 10)) for i in range(7)]
    assert out[0] == f"0 1 {expected} 7"
    assert out[1] == "False"  # Lightning is imported only when several processes run


@pytest.mark.parametrize("kernel_copy", [True, False])
def test_copy_range_fills_one_file_from_several_writers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kernel_copy: bool
) -> None:
    """Pieces copied in any order by several writers (their own part files and descriptors,
    as ranks do) land at their offsets; the same without ``os.copy_file_range``."""
    import os

    from cislearn.io.shards import copy_range

    if not kernel_copy:
        monkeypatch.delattr(os, "copy_file_range", raising=False)
    rng = np.random.default_rng(0)
    pieces = [rng.bytes(int(n)) for n in rng.integers(0, 20_000, 12)]
    starts = np.concatenate([[0], np.cumsum([len(p) for p in pieces])[:-1]])
    out = tmp_path / "out.bin"
    for writer in (1, 0):  # writer w holds pieces w, w + 2, ... in its part file
        own = list(range(writer, len(pieces), 2))
        part = tmp_path / f"part{writer}"
        part.write_bytes(b"".join(pieces[i] for i in own))
        dst = os.open(out, os.O_WRONLY | os.O_CREAT, 0o644)
        with open(part, "rb") as src:
            for i in reversed(own):  # any order: offsets, not file positions
                at = sum(len(pieces[j]) for j in own if j < i)
                copy_range(src.fileno(), dst, len(pieces[i]), at, int(starts[i]))
        os.close(dst)
    assert out.read_bytes() == b"".join(pieces)


_FAILING_RANK = """
import sys, time
import numpy as np
from cislearn.distribute import inference_hardware, run_sharded
from cislearn.errors import CislearnError, InputError

class Stalls:
    def __del__(self):  # an exception raised in here is printed, not raised
        time.sleep(60)

class Work:
    model = None
    def items(self, part, parts):
        if part == 1:
            raise InputError("records.txt, line 3: bad record")
        return ((i, i) for i in range(4))
    def run(self, index, item, device):
        Stalls()
        return b"x"
    def state(self):
        return {}

hardware = inference_hardware(accelerator="cpu", devices=2, strategy="ddp", num_threads=1)
try:
    run_sharded(Work(), sys.argv[1], hardware)
except CislearnError as exc:
    print(f"error: {exc}", file=sys.stderr)
    sys.exit(2)
"""


@pytest.mark.slow
def test_a_failing_forked_rank_stops_the_others_quietly(tmp_path: Path) -> None:
    """When one forked rank fails, the others are stopped (SIGTERM) without a word: the
    user sees the failing rank's one-line error only, wherever the others were (here inside
    a ``__del__``, where an exception raised by a signal handler is printed, not raised)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    proc = subprocess.run(
        [sys.executable, "-c", _FAILING_RANK, str(tmp_path / "shards")],
        capture_output=True,
        text=True,
        timeout=120,
        env={"PYTHONPATH": src, "PATH": "/usr/bin:/bin", "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert proc.stderr.strip() == "error: records.txt, line 3: bad record", proc.stderr[-2000:]
