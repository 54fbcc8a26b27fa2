"""tierlab's benchmark suite (issue 7): ``python -m benchmarks`` (``--small`` for CI).

Runs tierlab through its public API on seeded synthetic cases and, in the same process, the
references on the same access stream (libCacheSim LRU and Clock, a pure-Python LRU, tierlab
with demotion off), and prints accesses/s, peak RSS, page-state bytes per page, JIT compile
time cold and cached, ratios from interleaved runs, and which targets of issue 7 hold.
"""

from .runner import format_report, run_suite

__all__ = ["run_suite", "format_report"]
