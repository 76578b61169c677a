"""Terminal progress bars for the CLI: turns library progress callbacks into tqdm bars."""

from __future__ import annotations

import sys
from typing import Any


class ProgressBars:
    """A :class:`cislearn.types.Progress` callback drawing one tqdm bar per stage on stderr.

    Bars are only drawn when ``enabled`` (default: stderr is a terminal); otherwise each stage
    is logged once when it starts and once when it ends, so CI logs stay readable.
    """

    def __init__(self, *, enabled: bool | None = None) -> None:
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._bars: dict[str, Any] = {}
        self._started: set[str] = set()

    def __call__(self, stage: str, done: int, total: int | None, detail: str = "") -> None:
        if not self.enabled:
            if detail:
                sys.stderr.write(f"{detail}\n")
            elif stage not in self._started:
                self._started.add(stage)
                sys.stderr.write(f"{stage}…\n")
            return
        from tqdm.auto import tqdm

        bar = self._bars.get(stage)
        if bar is None:
            bar = self._bars[stage] = tqdm(
                total=total, desc=stage, file=sys.stderr, leave=True, dynamic_ncols=True
            )
        if total is not None and bar.total != total:
            bar.total = total
        if detail:
            bar.set_postfix_str(detail, refresh=False)
        bar.n = done
        bar.refresh()
        if total is not None and done >= total:
            bar.close()
            del self._bars[stage]

    def close(self) -> None:
        for bar in self._bars.values():
            bar.close()
        self._bars.clear()

    def __enter__(self) -> ProgressBars:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
