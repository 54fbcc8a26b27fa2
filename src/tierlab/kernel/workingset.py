"""Workingset detection for the page cache (mm/workingset.c, classic LRU, v5.9+) and
folio_mark_accessed() (mm/swap.c).

An evicted page-cache page leaves a shadow entry (kept in pg_scan of the non-present page):
the node it left and that node's nonresident_age at eviction. On refault, the distance is how
much the node aged since; a page whose distance fits in the workingset (active file, plus anon
when there is swap) comes back straight onto the active list.
"""

from __future__ import annotations

import numpy as np
from .jit import njit

from . import vmstat as vs
from .damon_paddr import folio_clear_idle
from .lru import folio_lru_list, lru_add_head, lru_del, node_lru_pages
from .state import (K_SWAP_PAGES, LRU_ACTIVE_ANON, LRU_ACTIVE_FILE, LRU_INACTIVE_ANON,
                    LRU_INACTIVE_FILE,
                    PG_ACTIVE, PG_REFERENCED, PG_WORKINGSET)

AGE_BITS = 24
AGE_MASK = (1 << AGE_BITS) - 1


@njit(cache=True)
def workingset_age_nonresident(mm, node, nr):
    mm.node_age[node] += nr


@njit(cache=True)
def workingset_eviction(mm, page, node, state):
    """workingset_eviction(): leave a shadow entry (node, age, workingset bit) in the page cache
    (state SHADOW) or the swap cache (state SWAPPED); the eviction itself ages the node."""
    eviction = mm.node_age[node] & AGE_MASK
    ws = 1 if mm.pg_flags[page] & PG_WORKINGSET else 0
    workingset_age_nonresident(mm, node, 1)
    mm.pg_zone[page] = state
    mm.pg_scan[page] = np.int32((eviction << 7) | (ws << 6) | node)
    mm.pg_flags[page] = 0


@njit(cache=True)
def workingset_refault(mm, page, node, file):
    """workingset_refault() for a page coming back on ``node`` from storage (page cache) or
    swap (anon): count the refault; activate it when its refault distance fits in the
    eviction node's workingset -- active file pages, plus inactive file for anon, plus the anon
    lists when there is swap (workingset_test_recent()). Returns the flags to add."""
    packed = int(mm.pg_scan[page])
    evict_node = packed & 63
    ws = (packed >> 6) & 1
    eviction = packed >> 7
    mm.vmstat[node, vs.WORKINGSET_REFAULT_ANON + file] += 1
    distance = (mm.node_age[evict_node] - eviction) & AGE_MASK
    workingset = node_lru_pages(mm, evict_node, LRU_ACTIVE_FILE)
    if not file:
        workingset += node_lru_pages(mm, evict_node, LRU_INACTIVE_FILE)
    if mm.knob[K_SWAP_PAGES] > 0:
        workingset += node_lru_pages(mm, evict_node, LRU_ACTIVE_ANON)
        if file:
            workingset += node_lru_pages(mm, evict_node, LRU_INACTIVE_ANON)
    if distance > workingset:
        return 0
    workingset_age_nonresident(mm, node, 1)
    mm.vmstat[node, vs.WORKINGSET_ACTIVATE_ANON + file] += 1
    return PG_ACTIVE | (PG_WORKINGSET if ws else 0)


@njit(cache=True)
def folio_mark_accessed(mm, page):
    """folio_mark_accessed(): a read()/write() of a cached page. The first marks it referenced,
    the second moves an inactive page to the active list (pgactivate) and ages the node."""
    folio_clear_idle(mm, page)
    f = mm.pg_flags[page]
    if not (f & PG_REFERENCED):
        mm.pg_flags[page] = f | PG_REFERENCED
        return
    if f & PG_ACTIVE:
        return
    node = mm.zone_node[mm.pg_zone[page]]
    lru_del(mm, folio_lru_list(mm, page), page)
    mm.pg_flags[page] = (f | PG_ACTIVE) & ~PG_REFERENCED
    lru_add_head(mm, folio_lru_list(mm, page), page)
    mm.vmstat[node, vs.PGACTIVATE] += 1
    workingset_age_nonresident(mm, node, 1)
