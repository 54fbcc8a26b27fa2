"""Moving a page between nodes (mm/migrate.c) and picking the demotion target
(mm/memory-tiers.c next_demotion_node()).

The caller has already isolated the page (it is on no LRU list); migration gives it a frame in
the new zone, frees the old one, and puts it on the new node's LRU as putback would.
"""

from __future__ import annotations

import numpy as np
from .jit import njit

from . import vmstat as vs
from .lru import lruvec_add_folio
from .page_alloc import page_task, zone_statistics
from .state import C_MIGRATE


@njit(cache=True)
def prandom(mm, n):
    """A deterministic pseudo-random integer in [0, n) (xorshift64*)."""
    x = mm.rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    mm.rng[0] = x
    return int((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(33)) % n


@njit(cache=True)
def next_demotion_node(mm, node):
    """next_demotion_node(): one of the preferred targets, at random when several are equally
    near (node_random(), v6.1+); -1 for a terminal node."""
    n = mm.demote_pref_len[node]
    if n == 0:
        return -1
    if n == 1:
        return mm.demote_pref[node, 0]
    return mm.demote_pref[node, prandom(mm, n)]


@njit(cache=True)
def migrate_cost_ns(mm, src, dst):
    """Per base page: fixed unmap/remap/TLB cost + copying 4 KiB at the slower node's bandwidth
    (kernel-spec 7.3)."""
    bw = min(mm.node_bw[src], mm.node_bw[dst])
    return mm.cost[C_MIGRATE] + 4096.0 / bw


@njit(cache=True)
def migrate_folio(mm, page, new_zone, cpu_node):
    """migrate_folio() + remove_migration_ptes() for an isolated page: allocate in new_zone
    (counted as a THISNODE allocation by a CPU of cpu_node), free the old frame, keep the page
    flags (folio_migrate_flags()) and put it back on the new node's LRU. Returns the cost in ns."""
    old_zone = mm.pg_zone[page]
    src = mm.zone_node[old_zone]
    dst = mm.zone_node[new_zone]
    mm.zone_free[old_zone] += 1
    mm.zone_free[new_zone] -= 1
    mm.pg_zone[page] = new_zone
    t = page_task(mm, page)
    mm.task_rss[t, src] -= 1
    mm.task_rss[t, dst] += 1
    mm.vmstat[dst, vs.PGALLOC_DMA + mm.zone_type[new_zone]] += 1
    mm.vmstat[src, vs.PGFREE] += 1
    zone_statistics(mm, dst, dst, cpu_node)
    if mm.toptier[src] != mm.toptier[dst]:
        mm.pg_scan[page] = 0        # folio_migrate_flags(): cpupid/access time reset across tiers
    mm.vmstat[src, vs.PGMIGRATE_SUCCESS] += 1
    # PG_active (under MGLRU: isolated from the two youngest gens, lru_gen_del_folio()) and the
    # LRU_REFS bits (folio_migrate_refs()) come along: lru_gen_add_folio() places it by them
    lruvec_add_folio(mm, page)
    return migrate_cost_ns(mm, src, dst)


