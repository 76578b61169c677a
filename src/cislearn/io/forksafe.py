"""Readers that stay right in a forked child process.

A file opened before ``fork`` shares its offset with the child: pyfaidx and pyBigWig read by
seeking, so parent and child (or two children) reading at once get each other's bytes (seen:
windows of 200 bp in place of 201 when two forked ranks read one genome). Readers registered
here reopen their file in every child, right after the fork."""

from __future__ import annotations

import logging
import os
import weakref
from typing import Protocol

__all__ = ["Reopens", "reopen_in_forked_children", "forget"]

log = logging.getLogger(__name__)


class Reopens(Protocol):
    def _reopen(self) -> None:
        """Open the file again (this process's own offset); the old handle is dropped."""
        ...


_OPEN: weakref.WeakSet[Reopens] = weakref.WeakSet()


def reopen_in_forked_children(reader: Reopens) -> None:
    """Have ``reader`` reopen its file in every child forked while it is alive."""
    _OPEN.add(reader)


def forget(reader: Reopens) -> None:
    """``reader`` was closed: nothing to reopen."""
    _OPEN.discard(reader)


def _after_fork_in_child() -> None:
    for reader in list(_OPEN):
        try:
            reader._reopen()
        except OSError as exc:  # e.g. the file was removed since: it fails where it is read
            log.debug("could not reopen %r after fork: %s", reader, exc)


if hasattr(os, "register_at_fork"):  # POSIX
    os.register_at_fork(after_in_child=_after_fork_in_child)
