"""The profiler the benchmarks share: pyinstrument when importable, else cProfile.

Only the main thread is seen: SQLite runs in aiosqlite's thread, so waiting for it shows up as
time in the event loop's select/epoll.
"""

from __future__ import annotations

import cProfile
import io
import pstats
from typing import Any


class Profiler:
    def __init__(self) -> None:
        self._pyinstrument: Any = None
        self._cprofile: cProfile.Profile | None = None
        try:
            from pyinstrument import Profiler as Sampler
        except ImportError:
            self._cprofile = cProfile.Profile()
        else:
            self._pyinstrument = Sampler(interval=0.0005, async_mode="disabled")

    def enable(self) -> None:
        if self._cprofile is not None:
            self._cprofile.enable()
        else:
            self._pyinstrument.start()

    def disable(self) -> None:
        if self._cprofile is not None:
            self._cprofile.disable()
        else:
            self._pyinstrument.stop()

    def report(self) -> str:
        if self._cprofile is None:
            return str(self._pyinstrument.output_text(unicode=False, color=False))
        out = io.StringIO()
        stats = pstats.Stats(self._cprofile, stream=out)
        stats.sort_stats("tottime").print_stats(30)
        stats.sort_stats("cumulative").print_stats(40)
        return out.getvalue()
