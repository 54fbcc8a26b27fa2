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
from .lru import (LRU_REFS_MASK, LRU_REFS_WIDTH, folio_inc_refs, folio_lru_list, folio_lru_refs,
                  lru_add_head, lru_del, lru_gen_enabled, lru_tier_from_refs, lruvec_of,
                  node_lru_pages)
from .state import (CTRL_EVICTED, CTRL_REFAULTED, K_SWAP_PAGES, LRU_ACTIVE_ANON, LRU_ACTIVE_FILE,
                    LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, PG_ACTIVE, PG_FILE, PG_REFERENCED,
                    PG_WORKINGSET)

AGE_BITS = 24
AGE_MASK = (1 << AGE_BITS) - 1


@njit(cache=True)
def workingset_age_nonresident(mm, node, nr):
    mm.node_age[node] += nr


@njit(cache=True)
def workingset_eviction(mm, page, node, state):
    """workingset_eviction(): leave a shadow entry (node, age, workingset bit) in the page cache
    (state SHADOW) or the swap cache (state SWAPPED); the eviction itself ages the node."""
    if lru_gen_enabled(mm):
        lru_gen_eviction(mm, page, node, state)
        return
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
    if lru_gen_enabled(mm):
        folio_inc_refs(mm, page)
        return
    folio_clear_idle(mm, page)      # (v6.12 clears PG_idle only on the classic path)
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


# ---------------------------------------------------------------- multi-gen LRU (v6.12)

@njit(cache=True)
def lru_gen_eviction(mm, page, node, state):
    """lru_gen_eviction() (mm/workingset.c, v6.12): the shadow keeps min_seq of the page's type
    at eviction and its refs beyond the first (token = min_seq << LRU_REFS_WIDTH | refs - 1),
    plus a workingset bit when refs != 0; the eviction counts in evicted[type][tier] for the
    refault controller. The node and its memcg (the page keeps pg_memcg) name the lruvec."""
    type_ = 1 if mm.pg_flags[page] & PG_FILE else 0
    refs = folio_lru_refs(mm, page)
    tier = lru_tier_from_refs(refs)
    lruvec = lruvec_of(mm, mm.pg_memcg[page], node)
    min_seq = mm.lrugen_seq[lruvec, 1 + type_]
    token = (min_seq << LRU_REFS_WIDTH) | max(refs - 1, 0)
    mm.lrugen_ctrl[lruvec, type_, CTRL_EVICTED, tier] += 1
    ws = 1 if refs else 0
    mm.pg_zone[page] = state
    mm.pg_scan[page] = np.int32(((token & AGE_MASK) << 7) | (ws << 6) | node)
    mm.pg_flags[page] = 0
    mm.pg_gen[page] = 0


@njit(cache=True)
def lru_gen_refault(mm, page, node, file, in_fault):
    """lru_gen_refault() (mm/workingset.c, v6.12) for a page coming back on ``node``: counted
    only when it comes back to the lruvec it left; "recent" when the min_seq of its type has
    not moved since its eviction: then refaulted[type][tier] grows (the controller protects
    tiers that refault more) and workingset_activate counts. A refault through a page fault,
    or of a page read often through file descriptors, gets its refs restored to the maximum
    and PG_workingset. Returns the page flags to add."""
    packed = int(mm.pg_scan[page])
    evict_node = packed & 63
    workingset = (packed >> 6) & 1
    token = packed >> 7
    lruvec = lruvec_of(mm, mm.pg_memcg[page], evict_node)
    if evict_node != node:
        return 0
    mm.vmstat[node, vs.WORKINGSET_REFAULT_ANON + file] += 1
    min_seq = mm.lrugen_seq[lruvec, 1 + file]
    if (token >> LRU_REFS_WIDTH) != (min_seq & (AGE_MASK >> LRU_REFS_WIDTH)):
        return 0
    refs = (token & ((1 << LRU_REFS_WIDTH) - 1)) + workingset
    mm.lrugen_ctrl[lruvec, file, CTRL_REFAULTED, lru_tier_from_refs(refs)] += 1
    mm.vmstat[node, vs.WORKINGSET_ACTIVATE_ANON + file] += 1
    if in_fault or refs >= (1 << LRU_REFS_WIDTH) - 1:
        mm.pg_gen[page] |= LRU_REFS_MASK
        return PG_WORKINGSET
    return 0
