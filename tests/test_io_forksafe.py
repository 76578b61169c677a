"""Readers opened before a fork read with their own file offset in the child."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from cislearn.io.bigwig import BigWig, write_bigwig
from cislearn.io.genome import Genome

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="POSIX fork")


def _in_child(check) -> int:  # noqa: ANN001
    """Run ``check()`` in a forked child; its exit code (0: it returned True)."""
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        try:
            os._exit(0 if check() else 1)
        except BaseException:  # noqa: BLE001
            os._exit(2)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_genome_reopens_in_a_forked_child(tmp_path: Path) -> None:
    """The child reads far away in the genome; the parent's file offset does not move (it
    did before: parent and child shared one offset, and two forked ranks read each other's
    bytes)."""
    rng = np.random.default_rng(0)
    seqs = {f"c{i}": "".join(rng.choice(list("ACGT"), 20_000)) for i in (1, 2)}
    path = tmp_path / "g.fa"
    path.write_text("".join(f">{k}\n" + "\n".join(v[j : j + 60] for j in range(0, len(v), 60))
                            + "\n" for k, v in seqs.items()))  # fmt: skip
    with Genome(path) as genome:
        fh = genome._fasta.faidx.file
        assert genome.fetch("c1", 0, 10) == seqs["c1"][:10]
        before = os.lseek(fh.fileno(), 0, os.SEEK_CUR)

        def child() -> bool:
            return genome.fetch("c2", 15_000, 15_100) == seqs["c2"][15_000:15_100]

        assert _in_child(child) == 0
        assert os.lseek(fh.fileno(), 0, os.SEEK_CUR) == before
        assert genome.fetch("c1", 100, 200) == seqs["c1"][100:200]
    closed = Genome(path)
    closed.close()
    assert _in_child(lambda: True) == 0  # a closed genome is not reopened (no error either)


def test_bigwig_reopens_in_a_forked_child(tmp_path: Path) -> None:
    path = tmp_path / "s.bw"
    values = np.arange(1000, dtype=np.float32)
    write_bigwig(path, {"c1": 1000}, ["c1"] * 1000, np.arange(1000), np.arange(1, 1001), values)
    with BigWig(path) as bw:
        handle = bw._bw

        def child() -> bool:
            return bw._bw is not handle and bool(np.all(bw.values("c1", 10, 20) == values[10:20]))

        assert _in_child(child) == 0
        assert bw._bw is handle
