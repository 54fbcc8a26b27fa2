"""Reference implementations run on the same access stream as tierlab: libCacheSim LRU and
Clock (PyPI ``libcachesim``, its C simulator fed from an oracleGeneral file, as
reference/perf-anchors.md measured it) and a pure-Python OrderedDict LRU."""

from __future__ import annotations

import os
import time
from collections import OrderedDict

import numpy as np

_ORACLE = np.dtype([("t", "<u4"), ("id", "<u8"), ("size", "<u4"), ("next", "<i8")])


def have_libcachesim() -> bool:
    try:
        import libcachesim  # noqa: F401
    except Exception:
        return False
    return True


def write_oracle_general(vpn: np.ndarray, path: str, chunk: int = 1 << 22) -> None:
    """The trace as libCacheSim's oracleGeneral binary (24-byte records: time, id, size, next)."""
    with open(path, "wb") as f:
        for s in range(0, len(vpn), chunk):
            v = vpn[s:s + chunk]
            rec = np.zeros(len(v), _ORACLE)
            rec["t"] = (np.arange(s, s + len(v)) // 1000).astype(np.uint32)
            rec["id"] = v.astype(np.uint64) + 1          # id 0 is reserved in some readers
            rec["size"] = 1
            rec["next"] = -1
            rec.tofile(f)


def run_libcachesim(algo: str, trace_path: str, cache_pages: int) -> tuple[float, float]:
    """(seconds, miss ratio) of libCacheSim's ``algo`` ("LRU" or "Clock") over the trace."""
    import libcachesim as lcs
    reader = lcs.TraceReader(trace_path, lcs.TraceType.ORACLE_GENERAL_TRACE)
    cache = getattr(lcs, algo)(cache_pages)
    t = time.perf_counter()
    miss, _ = cache.process_trace(reader)
    return time.perf_counter() - t, float(miss)


def run_python_lru(trace: list[int], cache_pages: int) -> tuple[float, float]:
    """(seconds, miss ratio) of an OrderedDict LRU (trace given as a Python list)."""
    cache: OrderedDict[int, None] = OrderedDict()
    misses = 0
    move = cache.move_to_end
    pop = cache.popitem
    t = time.perf_counter()
    for p in trace:
        if p in cache:
            move(p)
        else:
            misses += 1
            cache[p] = None
            if len(cache) > cache_pages:
                pop(last=False)
    dt = time.perf_counter() - t
    return dt, misses / max(1, len(trace))


def remove_quietly(path: str) -> None:
    try:
        os.remove(path)
    except OSError:
        pass
