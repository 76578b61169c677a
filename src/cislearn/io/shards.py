"""Shard files of a distributed run: each rank appends its items' payloads to one file and,
at the end, an index and a state; rank 0 reads every rank's items back in input order."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO

import numpy as np

from cislearn.io.atomic import atomic_write

__all__ = [
    "ShardWriter",
    "read_shard_items",
    "read_shard_states",
    "pack_arrays",
    "unpack_arrays",
    "copy_range",
]


def _name(folder: Path, rank: int, what: str) -> Path:
    return folder / f"rank{rank:05d}.{what}"


class ShardWriter:
    """Appends ``(index, payload)`` items of one rank to ``folder/rankNNNNN.bin``.

    :meth:`close` writes the index (``.index.npy``: item, offset, length) and the rank's
    state (``.state.npz``, arrays only: read back without pickle), each atomically, the
    index last: a shard with an index is complete.

    Parameters
    ----------
    folder : path
        Shard folder, shared by all ranks (on a cluster: a shared file system).
    rank : int
        Global rank of the writing process.
    """

    def __init__(self, folder: str | os.PathLike[str], rank: int) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rank = int(rank)
        self._fh: IO[bytes] = open(_name(self.folder, rank, "bin"), "wb")  # noqa: SIM115
        self._rows: list[tuple[int, int, int]] = []
        self._offset = 0

    def append(self, index: int, payload: bytes) -> None:
        """Add one item's payload."""
        self._fh.write(payload)
        self._rows.append((int(index), self._offset, len(payload)))
        self._offset += len(payload)

    def close(self, state: dict[str, np.ndarray]) -> None:
        """Flush the payloads; write the state, then the index."""
        self._fh.close()
        with atomic_write(_name(self.folder, self.rank, "state.npz"), "wb") as fh:
            np.savez(fh, **state)
        with atomic_write(_name(self.folder, self.rank, "index.npy"), "wb") as fh:
            np.save(fh, np.array(self._rows, np.int64).reshape(-1, 3))


def read_shard_states(
    folder: str | os.PathLike[str], world_size: int
) -> dict[int, dict[str, np.ndarray]]:
    """The state of each rank ``0 .. world_size - 1``, by rank."""
    folder = Path(folder)
    out = {}
    for r in range(world_size):
        with np.load(_name(folder, r, "state.npz"), allow_pickle=False) as z:
            out[r] = {k: z[k] for k in z.files}
    return out


def read_shard_items(
    folder: str | os.PathLike[str],
    world_size: int,
    *,
    ranks: Sequence[int] | None = None,
    limit: int | None = None,
) -> Iterator[tuple[int, bytes]]:
    """The items of ranks ``0 .. world_size - 1`` (or of ``ranks`` only, e.g. a rank's own),
    ``(index, payload)`` in increasing index (= input) order; one payload in memory at a time
    (the indexes hold three integers per item). ``limit``: only the first bytes of each
    payload are read (a header the writer put first). Files of other ranks (an earlier,
    larger run) are ignored."""
    folder = Path(folder)
    ranks = list(range(world_size)) if ranks is None else [int(r) for r in ranks]
    index = [np.load(_name(folder, r, "index.npy"), allow_pickle=False) for r in ranks]
    owner = np.concatenate([np.full(len(ix), k) for k, ix in enumerate(index)] or [[]])
    rows = np.concatenate(index or [np.empty((0, 3), np.int64)])
    order = np.argsort(rows[:, 0], kind="stable")
    files = [open(_name(folder, r, "bin"), "rb") for r in ranks]  # noqa: SIM115
    try:
        for i in order:
            fh = files[int(owner[i])]
            item, offset, length = (int(x) for x in rows[i])
            fh.seek(offset)
            yield item, fh.read(length if limit is None else min(length, limit))
    finally:
        for fh in files:
            fh.close()


def pack_arrays(arrays: Mapping[str, np.ndarray | list[str]]) -> bytes:
    """Named arrays as one payload (npz, no pickle), in order; :func:`unpack_arrays` reads
    them back. A list of str is stored as its UTF-8 text joined by NUL (1 byte a character
    for ASCII, where a unicode array takes 4; the text must hold no NUL) and comes back as
    a list of str."""
    buf = io.BytesIO()
    members, kinds = {}, []
    for i, value in enumerate(arrays.values()):
        if isinstance(value, list):
            members[f"a{i}"] = np.frombuffer("\x00".join(value).encode(), np.uint8)
            kinds.append("t" if value else "e")
        else:
            members[f"a{i}"] = np.asarray(value)
            kinds.append("a")
    np.savez(buf, names=np.array(list(arrays), dtype=str), kinds=np.array(kinds), **members)
    return buf.getvalue()


def unpack_arrays(
    payload: bytes, only: Sequence[str] | None = None
) -> dict[str, np.ndarray | list[str]]:
    """The arrays of :func:`pack_arrays`, in order (those named in ``only``: the others are
    not read)."""
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        names, kinds = z["names"].tolist(), z["kinds"].tolist()
        out: dict[str, np.ndarray | list[str]] = {}
        for i, (name, kind) in enumerate(zip(names, kinds, strict=True)):
            if only is not None and name not in only:
                continue
            if kind == "a":
                out[name] = z[f"a{i}"]
            else:
                out[name] = z[f"a{i}"].tobytes().decode().split("\x00") if kind == "t" else []
        return out


def copy_range(src: int, dst: int, count: int, src_offset: int, dst_offset: int) -> None:
    """Copy ``count`` bytes of file descriptor ``src`` from ``src_offset`` to ``dst`` at
    ``dst_offset`` (neither file position moves, so several processes can fill one file):
    ``os.copy_file_range`` where the system has it (the kernel copies; no bytes through
    Python), else ``pread``/``pwrite`` in 8 MB pieces."""
    while count > 0:
        done = 0
        if hasattr(os, "copy_file_range"):
            try:
                done = os.copy_file_range(src, dst, count, src_offset, dst_offset)
            except OSError:  # e.g. across file systems on an older kernel
                done = 0
        if done <= 0:
            piece = os.pread(src, min(count, 8 << 20), src_offset)
            if not piece:
                raise OSError(f"copy_range: source ends {count} bytes early")
            done = os.pwrite(dst, piece, dst_offset)
        count, src_offset, dst_offset = count - done, src_offset + done, dst_offset + done
