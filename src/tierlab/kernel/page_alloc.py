"""The page allocator's fast path and watermarks (mm/page_alloc.c), and kswapd wake-ups.

Zones keep only a free-page count: which physical frame a page gets does not matter to
reclaim or tiering, only which zone and node it comes from.
"""

from __future__ import annotations

from .jit import njit

from . import vmstat as vs
from .state import (KSWAPD_NAPPING, KSWAPD_RUNNING, K_HAS_PROMO, K_NUMA_BALANCING, K_TPP,
                    NOT_PRESENT, WMARK_HIGH, WMARK_PROMO)

MAX_RECLAIM_RETRIES = 16
DEF_PRIORITY = 12


@njit(cache=True, inline="always")
def zone_watermark_ok(mm, z, wmark, extra):
    """__zone_watermark_ok() for order 0 and classzone ZONE_MOVABLE (user pages): the zone must
    keep more than mark + lowmem_reserve[MOVABLE] free pages (strictly greater)."""
    return mm.zone_free[z] > mm.zone_wmark[z, wmark] + extra + mm.zone_reserve[z]


@njit(cache=True)
def page_task(mm, page):
    """Which task a page belongs to (tasks own consecutive page ranges)."""
    for t in range(mm.task_base.shape[0]):
        if mm.task_base[t] <= page < mm.task_base[t] + mm.task_footprint[t]:
            return t
    return -1


@njit(cache=True)
def get_page_from_freelist(mm, pref_node, nodemask, wmark):
    """get_page_from_freelist(): first zone of pref_node's zonelist, filtered by the policy
    nodemask, that passes its watermark; -1 if none. No kswapd wake-up here (v5.x-v6.x)."""
    for i in range(mm.zonelist_len[pref_node]):
        z = mm.zonelist[pref_node, i]
        if not (nodemask >> mm.zone_node[z]) & 1:
            continue
        if zone_watermark_ok(mm, z, wmark, 0):
            return z
    return -1


@njit(cache=True)
def rmqueue(mm, z, page):
    """Take one page from zone z for ``page``; count pgalloc_<zone>."""
    mm.zone_free[z] -= 1
    mm.pg_zone[page] = z
    node = mm.zone_node[z]
    mm.vmstat[node, vs.PGALLOC_DMA + mm.zone_type[z]] += 1
    t = page_task(mm, page)
    mm.task_rss[t, node] += 1


@njit(cache=True)
def free_page(mm, page):
    """free_unref_folios(): give the page's frame back to its zone and uncharge its memcg."""
    z = mm.pg_zone[page]
    mm.memcg_usage[mm.pg_memcg[page]] -= 1
    node = mm.zone_node[z]
    mm.zone_free[z] += 1
    mm.pg_zone[page] = NOT_PRESENT
    mm.vmstat[node, vs.PGFREE] += 1
    t = page_task(mm, page)
    mm.task_rss[t, node] -= 1


@njit(cache=True)
def zone_statistics(mm, pref_node, node, cpu_node):
    """zone_statistics() (mm/vmstat.c): numa_hit on the serving node when it is the preferred
    one, else numa_miss there and numa_foreign on the preferred; numa_local/other by CPU."""
    if node == pref_node:
        mm.vmstat[node, vs.NUMA_HIT] += 1
    else:
        mm.vmstat[node, vs.NUMA_MISS] += 1
        mm.vmstat[pref_node, vs.NUMA_FOREIGN] += 1
    if node == cpu_node:
        mm.vmstat[node, vs.NUMA_LOCAL] += 1
    else:
        mm.vmstat[node, vs.NUMA_OTHER] += 1


@njit(cache=True)
def balance_wmark(mm):
    """The mark kswapd balances to: WMARK_PROMO in NUMA-balancing tiering mode (v5.18+ with
    numa_balancing & 2, all nodes in current kernels), WMARK_HIGH otherwise."""
    if mm.knob[K_HAS_PROMO] and mm.knob[K_NUMA_BALANCING] & 2:
        return WMARK_PROMO
    return WMARK_HIGH


# ---------------------------------------------------------------- TPP (out of tree)
# "[PATCH 0/5] Transparent Page Placement for Tiered-Memory" (Hasan Al Maruf, 2021-11-24),
# patches 3/5 "Decouple reclaim and allocation for toptier nodes" and 4/5 "Reclaim to satisfy
# WMARK_DEMOTE on toptier nodes": in tiering mode kswapd of a top-tier node is woken, and keeps
# demoting, until the node has demote_scale_factor/10000 of its memory free, while allocations
# still only need the usual watermarks; the headroom takes new allocations and promotions.
# (3/5 also checks from the scheduler's load-balance tick; only allocations and promotions
# lower a node's free memory, and both check here.)

@njit(cache=True)
def tpp_toptier(mm, node):
    """TPP's patches act on top-tier nodes in NUMA-balancing tiering mode."""
    return mm.knob[K_TPP] != 0 and mm.knob[K_NUMA_BALANCING] & 2 and mm.toptier[node] != 0


@njit(cache=True)
def demote_wmark_pages(mm, z):
    """WMARK_DEMOTE (TPP 3/5, __setup_per_zone_wmarks()): managed * demote_scale_factor / 10000,
    clamped between twice the high watermark and the zone's managed pages."""
    mark = mm.zone_managed[z] * mm.knob[K_TPP] // 10000
    return min(max(mark, 2 * mm.zone_wmark[z, WMARK_HIGH]), mm.zone_managed[z])


@njit(cache=True)
def pgdat_toptier_balanced(mm, node):
    """pgdat_toptier_balanced() (TPP 3/5): a top-tier node is balanced once its main zone has
    WMARK_DEMOTE free pages. TPP reads ZONE_NORMAL, which holds all of a node's memory on the
    machines it targets; a small simulated node may have only DMA32, so the node's highest
    managed zone stands in for it."""
    if not tpp_toptier(mm, node):
        return True
    for z in range(mm.node_zone_hi[node] - 1, mm.node_zone_lo[node] - 1, -1):
        if mm.zone_managed[z] > 0:
            return mm.zone_free[z] >= demote_wmark_pages(mm, z)
    return True


@njit(cache=True)
def rmqueue_wakeup_toptier(mm, z, now):
    """rmqueue() with TPP 3/5: an allocation that leaves a top-tier node below WMARK_DEMOTE
    wakes its kswapd (upstream wakes kswapd only from the slow path, below LOW)."""
    node = mm.zone_node[z]
    if mm.knob[K_TPP] and not pgdat_toptier_balanced(mm, node):
        wakeup_kswapd(mm, node, now)


@njit(cache=True)
def pgdat_balanced(mm, node):
    """pgdat_balanced(): true if ANY managed zone of the node is above the balance mark
    (+ lowmem_reserve for classzone MOVABLE); a node without managed zones is balanced. With
    TPP a top-tier node is balanced by WMARK_DEMOTE alone (TPP 4/5)."""
    if tpp_toptier(mm, node):
        return pgdat_toptier_balanced(mm, node)
    mark = balance_wmark(mm)
    managed = False
    for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
        if mm.zone_managed[z] == 0:
            continue
        managed = True
        if zone_watermark_ok(mm, z, mark, 0):
            return True
    return not managed


@njit(cache=True)
def kswapd_start(mm, node, now):
    """kswapd leaves its wait queue and starts balance_pgdat() at DEF_PRIORITY."""
    mm.kswapd_state[node] = KSWAPD_RUNNING
    if mm.kswapd_clock[node] < now:
        mm.kswapd_clock[node] = now
    mm.kswapd_priority[node] = DEF_PRIORITY
    mm.kswapd_reclaimed[node] = 0
    mm.vmstat[node, vs.PAGEOUTRUN] += 1
    if mm.kswapd_clock[node] < mm.kswapd_due[0]:
        mm.kswapd_due[0] = mm.kswapd_clock[node]


@njit(cache=True)
def wakeup_kswapd(mm, node, now):
    """wakeup_kswapd() (mm/vmscan.c): no-op if kswapd runs already, if the node is hopeless
    (kswapd_failures >= MAX_RECLAIM_RETRIES) or balanced; a napping kswapd is cut short."""
    state = mm.kswapd_state[node]
    if state == KSWAPD_RUNNING:
        return
    if mm.kswapd_failures[node] >= MAX_RECLAIM_RETRIES or pgdat_balanced(mm, node):
        return
    mm.vmstat[node, vs.KSWAPD_WAKE] += 1
    if state == KSWAPD_NAPPING:
        # kswapd_try_to_sleep(): woken before the HZ/10 nap ended
        mm.vmstat[node, vs.KSWAPD_LOW_WMARK_HIT_QUICKLY] += 1
    kswapd_start(mm, node, now)
