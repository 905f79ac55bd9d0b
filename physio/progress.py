"""Progress of a batch: a live bar on a terminal, one plain line per update elsewhere.

A tqdm bar redraws itself with carriage returns, which a log file, a CI console or a pipe
shows as a new line for every redraw (and tqdm redraws twice when a postfix is set after
an update). Where the output is not a terminal, :class:`BatchProgress` writes exactly one
line per finished item instead.
"""

from __future__ import annotations

import sys
import time
from typing import IO


class BatchProgress:
    """Count finished items: ``update(detail)`` once per item, then ``close()``.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> bar = BatchProgress(2, "physio", stream=out)
    >>> bar.update("ok sub-01"); bar.update("failed sub-02", failed=1); bar.close()
    >>> print(out.getvalue(), end="")
    physio: 1/2 ok sub-01
    physio: 2/2 failed sub-02 (failed=1)
    """

    def __init__(self, total: int, desc: str, *, unit: str = "rec", enabled: bool = True,
                 stream: IO[str] | None = None) -> None:
        self.total, self.desc, self.n = total, desc, 0
        self.stream = stream if stream is not None else sys.stderr
        self.enabled = enabled
        self._bar = None
        self._t0 = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        if enabled and isatty is not None and isatty():
            # lazy: tqdm is needed only when the output is a terminal
            from tqdm import tqdm

            self._bar = tqdm(total=total, desc=desc, unit=unit, file=self.stream)

    def update(self, detail: str = "", *, failed: int = 0) -> None:
        """One more item finished (``detail`` names it; ``failed`` counts failures so far)."""
        self.n += 1
        if not self.enabled:
            return
        if self._bar is not None:
            # postfix without its own redraw, then one redraw for the update
            self._bar.set_postfix_str(f"failed={failed}", refresh=False)
            self._bar.update(1)
            return
        tail = f" (failed={failed})" if failed else ""
        self.stream.write(f"{self.desc}: {self.n}/{self.total} {detail}{tail}".rstrip() + "\n")
        self.stream.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
