"""Atomic file writing: outputs appear complete under their final name or not at all."""

from __future__ import annotations

import contextlib
import gzip
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from cislearn.errors import InputError

__all__ = [
    "atomic_write",
    "atomic_dir",
    "atomic_path",
    "refuse_overwrite",
    "output_dir",
    "output_file",
    "RUN_MARKER",
    "later_rank",
]


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
    """Raise InputError when ``path`` is a file or a non-empty folder and ``force`` is off
    (no command overwrites results without ``--force``): the rule of :func:`output_file` for
    outputs that may be files or folders (tracks, fold summaries). Later DDP ranks pass."""
    path = Path(path)
    if force or later_rank() or not path.exists():
        return
    if path.is_dir():
        if any(path.iterdir()):
            raise InputError(
                f"{path}: output folder is not empty ({_listing(path)}); choose a new --out, "
                "or pass --force to overwrite it"
            )
        return
    raise InputError(f"{path}: file exists; choose a new --out, or pass --force to overwrite it")


#: Marker file of an output folder whose command has not finished yet (removed on success).
RUN_MARKER = ".cislearn-running"


def _listing(path: Path, limit: int = 3) -> str:
    names = sorted(p.name for p in path.iterdir() if p.name != RUN_MARKER)
    return ", ".join(names[:limit]) + (", …" if len(names) > limit else "")


def _interrupted_by(path: Path) -> str | None:
    """The command whose unfinished run ``path`` holds (its marker), or None."""
    try:
        return (path / RUN_MARKER).read_text().strip() or None
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def later_rank() -> bool:
    """True in a distributed job's process other than the first: Lightning's ``ddp`` re-runs
    the command line for local ranks 1..N-1 (torchrun and srun start every rank with it) after
    rank 0 made the output folder, so the output guards below leave those ranks alone."""
    return any(int(os.environ.get(k) or 0) for k in ("RANK", "LOCAL_RANK", "NODE_RANK"))


@contextlib.contextmanager
def output_dir(
    path: str | os.PathLike[str],
    command: str,
    *,
    force: bool = False,
    resume: bool | None = None,
    keep: str | None = None,
) -> Iterator[Path]:
    """The output folder of one command: refuse to clobber results, leave nothing on failure.

    The one rule every command that writes a folder follows:

    * a new or empty folder is used as is;
    * a non-empty folder is refused (:class:`~cislearn.errors.InputError`, one line naming
      ``--force`` and, where the command has it, ``--resume``) unless ``force`` is set, ``resume``
      is set, or the folder holds an unfinished run of the same ``command`` (its marker file
      :data:`RUN_MARKER`, written on entry and removed on success);
    * if the body fails, a folder this call created is removed and a folder that was empty is
      emptied again; a folder that held files before is left as it was found, plus what the
      body wrote. A run interrupted with Ctrl-C, or one whose ``keep`` file (relative path,
      e.g. ``checkpoints``) exists, is kept for a rerun or ``--resume``.

    Parameters
    ----------
    path : path
        The output folder.
    command : str
        Name of the command (``train``, ``score-variants``, …), stored in the marker.
    force : bool
        Write into a non-empty folder anyway (files of the same names are replaced).
    resume : bool or None
        ``True``: continue in a non-empty folder; ``None``: the command has no ``--resume``.
    keep : str, optional
        Relative path whose presence after a failure means the partial run is worth keeping.

    Examples
    --------
    >>> with output_dir("runs/a", "train") as out:  # doctest: +SKIP
    ...     (out / "model.json").write_text("{}")
    """
    import shutil

    path = Path(path)
    if later_rank():  # rank 0 guards, creates and cleans the folder
        path.mkdir(parents=True, exist_ok=True)
        yield path
        return
    if path.exists() and not path.is_dir():
        raise InputError(f"{path}: output folder expected, found a file; choose another --out")
    created = not path.exists()
    was_empty = created or not any(path.iterdir())
    if not was_empty and not force and not resume and _interrupted_by(path) != command:
        hint = "--force to overwrite it" + (
            "" if resume is None else ", --resume to continue an interrupted run"
        )
        raise InputError(
            f"{path}: output folder is not empty ({_listing(path)}); choose a new --out, "
            f"or pass {hint}"
        )
    path.mkdir(parents=True, exist_ok=True)
    marker = path / RUN_MARKER
    had_marker = marker.exists()
    marker.write_text(command + "\n")
    try:
        yield path
    except BaseException as exc:
        partial = isinstance(exc, KeyboardInterrupt) or (
            keep is not None and (path / keep).exists()
        )
        # an interrupted (partial) run is kept, with its marker, for a rerun or --resume
        if partial:
            raise
        if created:
            shutil.rmtree(path, ignore_errors=True)
        elif was_empty:
            for item in path.iterdir():
                if item.is_dir() and not item.is_symlink():
                    shutil.rmtree(item, ignore_errors=True)
                else:
                    item.unlink(missing_ok=True)
        elif not had_marker:
            marker.unlink(missing_ok=True)
        raise
    marker.unlink(missing_ok=True)


def output_file(path: str | os.PathLike[str], *, force: bool = False) -> Path:
    """``path`` as a new output file: an existing file is refused unless ``force`` is set.

    The file itself is then written with :func:`atomic_write`, so a failure leaves nothing.
    """
    path = Path(path)
    if path.is_dir() and not later_rank():
        raise InputError(f"{path}: output file expected, found a folder; choose another --out")
    refuse_overwrite(path, force)
    return path
