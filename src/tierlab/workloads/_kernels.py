"""Compiled helpers of the workload layer (numba): loops that have no vectorised form."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..kernel.state import prefetch

AHEAD = 16     # draws: how far ahead alias_draws() prefetches its random table entries


@njit(cache=True)
def build_alias(p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vose's alias table for the distribution ``p`` (sums to 1): O(1) sampling per draw.

    A draw is ``i = uniform int < n; i if u < prob[i] else alias[i]``.
    """
    n = p.shape[0]
    prob = np.ones(n, np.float64)
    alias = np.arange(n).astype(np.int64)
    scaled = p * n
    small = np.empty(n, np.int64)
    large = np.empty(n, np.int64)
    ns = 0
    nl = 0
    for i in range(n):
        if scaled[i] < 1.0:
            small[ns] = i
            ns += 1
        else:
            large[nl] = i
            nl += 1
    while ns > 0 and nl > 0:
        ns -= 1
        s = small[ns]
        nl -= 1
        g = large[nl]
        prob[s] = scaled[s]
        alias[s] = g
        scaled[g] = (scaled[g] + scaled[s]) - 1.0
        if scaled[g] < 1.0:
            small[ns] = g
            ns += 1
        else:
            large[nl] = g
            nl += 1
    # Leftovers are 1 up to rounding error: they keep prob 1 (never take their alias).
    return prob, alias


@njit(cache=True)
def reuse_distances(ids: np.ndarray, n_pages: int) -> np.ndarray:
    """Exact LRU stack (reuse) distance of each access: distinct other pages touched since the
    previous access to the same page; -1 for a first touch. Fenwick tree over time, O(n log n)."""
    m = ids.shape[0]
    tree = np.zeros(m + 1, np.int64)
    last = np.full(n_pages, -1, np.int64)
    out = np.full(m, -1, np.int64)
    marks = 0
    for t in range(m):
        p = ids[t]
        prev = last[p]
        if prev >= 0:
            # marks at positions <= prev, inclusive prefix sum
            s = 0
            j = prev + 1
            while j > 0:
                s += tree[j]
                j -= j & (-j)
            out[t] = marks - s
            j = prev + 1
            while j <= m:
                tree[j] -= 1
                j += j & (-j)
            marks -= 1
        j = t + 1
        while j <= m:
            tree[j] += 1
            j += j & (-j)
        marks += 1
        last[p] = t
    return out


@njit(cache=True, nogil=True)
def alias_draws(i, u, prob, hit, miss):
    """The alias method over a block of uniform draws: ``where(u < prob[i], hit[i], miss[i])``,
    the same values numpy computes, in one pass that prefetches the tables' random entries
    ahead (for a million pages they are far larger than the caches; prob, hit and miss are
    best the fields of one record array, one cache line per draw). Returns int64. Releases
    the GIL: the chunk-ahead thread runs it beside the engine."""
    n = i.shape[0]
    out = np.empty(n, np.int64)
    for k in range(n):
        if k + AHEAD < n:
            prefetch(prob, i[k + AHEAD])
        j = i[k]
        out[k] = hit[j] if u[k] < prob[j] else miss[j]
    return out
