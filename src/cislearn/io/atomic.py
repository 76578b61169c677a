"""Atomic file writing: outputs appear complete under their final name or not at all."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

__all__ = ["atomic_write", "atomic_dir", "atomic_path", "refuse_overwrite"]


def _default_mode() -> int:
    """Permissions a plain ``open()`` would give (0666 less the umask); mkstemp gives 0600."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


@contextlib.contextmanager
def atomic_write(path: str | os.PathLike[str], mode: str = "w") -> Iterator[IO]:
    """Open a temporary file beside ``path``; rename it over ``path`` only on success.

    A ``.gz`` suffix writes gzip. On any exception the temporary file is removed, so no
    half-written output is ever left behind.

    Examples
    --------
    >>> with atomic_write("out.fa") as fh:  # doctest: +SKIP
    ...     fh.write(">a\\nACGT\\n")
    """
    binary = "b" in mode
    with atomic_path(path) as tmp:
        if Path(path).suffix == ".gz":
            fh = gzip.open(tmp, "wb" if binary else "wt")
        else:
            fh = open(tmp, "wb" if binary else "w", newline=None if binary else "\n")  # noqa: SIM115
        with fh:
            yield fh


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A temporary path beside ``path`` for writers that open files themselves (pyBigWig);
    renamed over ``path`` only on success, removed on any exception."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, _default_mode())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def atomic_dir(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Build a whole output directory in a temporary sibling, then move it into place.

    If ``path`` already exists its files are replaced one by one (existing extra files are
    kept). On failure nothing under ``path`` is touched.
    """
    import shutil

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        os.chmod(tmp, _default_mode() | 0o111)
        if path.exists():
            for item in tmp.iterdir():
                target = path / item.name
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                os.replace(item, target)
            shutil.rmtree(tmp)
        else:
            os.replace(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def refuse_overwrite(path: str | os.PathLike[str], force: bool) -> None:
    """Raise ConfigError when ``path`` is a file or a non-empty folder and ``force`` is off
    (no command overwrites results without ``--force``)."""
    from cislearn.errors import ConfigError

    path = Path(path)
    if force or not path.exists() or (path.is_dir() and not any(path.iterdir())):
        return
    what = "output folder exists and is not empty" if path.is_dir() else "exists"
    raise ConfigError(f"{path}: {what}; add --force to replace it")
