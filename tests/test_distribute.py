"""cislearn.distribute: one full-precision process runs its items without Lightning."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

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
