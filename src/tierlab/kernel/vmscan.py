"""Page reclaim (mm/vmscan.c): the classic two-list LRU, demotion in lieu of discard, kswapd
and direct reclaim. Function names are the kernel's; each says which version it follows.

Scan control is an int64 array (fields SC_* in state.py) as ``struct scan_control``; the time
a reclaim call costs accumulates in ``sc[SC_COST_NS]`` and is charged by the caller to its
clock (kswapd's own, or the task's for direct reclaim).
"""

from __future__ import annotations

import numpy as np
from .jit import njit

from . import vmstat as vs
from .lru import (inactive_list_is_low, folio_lru_list, inactive_is_low, isolate_lru_folios, lru_add_head,
                  lru_gen_enabled, lruvec_of, node_lru_pages)
from .damon_paddr import damon_folio_referenced
from .migrate import migrate_folio, next_demotion_node
from .workingset import workingset_eviction
from .page_alloc import (page_task, DEF_PRIORITY, MAX_RECLAIM_RETRIES, demote_wmark_pages, free_page,
                         get_page_from_freelist, kswapd_start, pgdat_balanced, tpp_toptier, wakeup_kswapd)
from .state import (BATCH, C_FILE_WRITE, C_FREE, C_SCAN, C_SWAP_OUT, K_MEMCG_DEMOTION,
                    K_PROACTIVE_NO_FALLBACK, MEMCG_LOW_EVENTS, MEMCG_PGDEMOTE, MEMCG_PGSCAN,
                    MEMCG_PGSTEAL, MEMCG_PSWPOUT, SC_MAY_UNMAP, SC_MAY_WRITEPAGE,
                    SC_MEMCG_LOW_RECLAIM, SC_MEMCG_LOW_SKIPPED, SC_NR_PAGEOUT, SC_PROACTIVE,
                    SC_TARGET, KSWAPD_NAPPING, KSWAPD_RUNNING, KSWAPD_TPP_WAIT,
                    KSWAPD_SLEEPING, K_BATCH_DEMOTION, K_CHECK, K_DEMOTE_FALLBACK, K_DEMOTION,
                    K_ERROR, K_PINGPONG, K_SWAP_PAGES, K_SWAP_USED, K_SWAPPINESS, LRU_ACTIVE_ANON,
                    LRU_ACTIVE_FILE, LRU_INACTIVE_ANON, LRU_INACTIVE_FILE, NR_SC, SHADOW,
                    NR_LRU_LISTS, PG_ACTIVE, PG_PROMOTED, PG_DIRTY, PG_FILE, PG_REFERENCED, PG_WORKINGSET,
                    PG_YOUNG, SC_CACHE_TRIM, SC_COST_NS, SC_FILE_IS_TINY, SC_KSWAPD,
                    SC_MAY_DEACTIVATE, SC_MAY_SWAP, SC_NO_DEMOTION, SC_NR_DEMOTED, SC_NR_RECLAIMED,
                    SC_NR_SCANNED, SC_NR_TO_RECLAIM, SC_PRIORITY, SWAPPED, WMARK_HIGH, WMARK_LOW,
                    WMARK_MIN)

DEACTIVATE_ANON = 1
DEACTIVATE_FILE = 2
MAX_SWAPPINESS = 200
KSWAPD_NAP_NS = 100_000_000.0      # HZ/10
TPP_RETRY_NS = 10e9                # TPP 4/5: schedule_timeout(10 * HZ)

# folio_check_references() outcomes
FOLIOREF_RECLAIM, FOLIOREF_RECLAIM_CLEAN, FOLIOREF_KEEP, FOLIOREF_ACTIVATE = 0, 1, 2, 3

SCAN_EQUAL, SCAN_FRACT, SCAN_ANON, SCAN_FILE = 0, 1, 2, 3


@njit(cache=True)
def new_sc(priority, nr_to_reclaim, kswapd):
    sc = np.zeros(NR_SC, np.int64)
    sc[SC_PRIORITY] = priority
    sc[SC_NR_TO_RECLAIM] = nr_to_reclaim
    sc[SC_KSWAPD] = kswapd
    sc[SC_MAY_SWAP] = 1
    sc[SC_MAY_WRITEPAGE] = 1
    sc[SC_MAY_UNMAP] = 1
    sc[SC_TARGET] = -1
    return sc


@njit(cache=True, inline="always")
def cgroup_reclaim(sc):
    """cgroup_reclaim(): reclaim on behalf of a memcg's limit or memory.reclaim."""
    return sc[SC_TARGET] >= 0


# ---------------------------------------------------------------- eligibility (kernel-spec 3.7)

@njit(cache=True)
def can_demote(mm, node, sc):
    """can_demote(): demotion switched on for the profile, not disabled for this reclaim, and the
    node has a demotion target. (RFC: zone_reclaim_mode bit 8; v5.15+: demotion_enabled.)
    Cgroup reclaim never demotes before v5.19 (RFC 7/8 "never demote for memcg reclaim",
    reverted by 3f1509c57b1b): migration does not lower the cgroup's charge."""
    if cgroup_reclaim(sc) and mm.knob[K_MEMCG_DEMOTION] == 0:
        return False
    return mm.knob[K_DEMOTION] != 0 and sc[SC_NO_DEMOTION] == 0 and mm.demote_pref_len[node] > 0


@njit(cache=True)
def swap_free_pages(mm):
    return mm.knob[K_SWAP_PAGES] - mm.knob[K_SWAP_USED]


@njit(cache=True)
def can_reclaim_anon_pages(mm, node, sc):
    """can_reclaim_anon_pages() (RFC 6/8, v5.15+): anon is reclaimable when swap has room or the
    node can demote — so without swap, anon leaves a node only by demotion."""
    return swap_free_pages(mm) > 0 or can_demote(mm, node, sc)


@njit(cache=True)
def can_age_anon_pages(mm, node, sc):
    """can_age_anon_pages(): there is swap at all, or the node can demote."""
    return mm.knob[K_SWAP_PAGES] > 0 or can_demote(mm, node, sc)


# ---------------------------------------------------------------- demotion (kernel-spec 3.3-3.5)

@njit(cache=True)
def alloc_demote_folio(mm, target, src, now):
    """alloc_migrate_folio()/alloc_demote_folio(): GFP_NOWAIT on the target only (LOW, wake the
    target's kswapd, MIN; no direct reclaim, no reserves); from v6.1 then the same over every
    node of the source's lower_tier_mask, in the target's zonelist order. -1 on failure."""
    mask = np.int64(1) << target
    z = get_page_from_freelist(mm, target, mask, WMARK_LOW)
    if z >= 0:
        return z
    wakeup_kswapd(mm, target, now)
    z = get_page_from_freelist(mm, target, mask, WMARK_MIN)
    if z >= 0 or mm.knob[K_DEMOTE_FALLBACK] == 0:
        return z
    allowed = mm.demote_allowed[src]
    z = get_page_from_freelist(mm, target, allowed, WMARK_LOW)
    if z >= 0:
        return z
    for n in range(mm.kswapd_state.shape[0]):
        if (allowed >> n) & 1:
            wakeup_kswapd(mm, n, now)
    return get_page_from_freelist(mm, target, allowed, WMARK_MIN)


@njit(cache=True)
def demote_folio_list(mm, pages, n, node, sc, cpu_node, now):
    """demote_folio_list() (v5.15+): migrate the isolated pages to the node's demotion target
    (MIGRATE_ASYNC, MR_DEMOTION). An order-0 allocation failure stops the whole batch
    (migrate_pages() returns -ENOMEM): pages[k:n] are left for normal reclaim. Returns k."""
    target = next_demotion_node(mm, node)
    if target < 0:
        return 0
    for k in range(n):
        z = alloc_demote_folio(mm, target, node, now + sc[SC_COST_NS])
        if z < 0:
            return k
        page = pages[k]
        mm.memcg_stat[mm.pg_memcg[page], MEMCG_PGDEMOTE] += 1
        if mm.pg_flags[page] & PG_PROMOTED:            # promoted, now demoted again
            mm.knob[K_PINGPONG] += 1
            mm.pg_flags[page] &= ~PG_PROMOTED
        sc[SC_COST_NS] += np.int64(migrate_folio(mm, page, z, cpu_node))
        mm.vmstat[node, vs.PGDEMOTE_DIRECT - sc[SC_KSWAPD]] += 1
        sc[SC_NR_DEMOTED] += 1
    return n


# ---------------------------------------------------------------- shrink_folio_list

@njit(cache=True)
def folio_check_references(mm, page):
    """folio_check_references() (v6.x, classic LRU): the rmap walk reads and clears the pte
    accessed bit (and, with DAMON, PG_young: damon_folio_referenced()); PG_referenced gives a
    page seen once a second trip round the inactive list."""
    f = mm.pg_flags[page]
    young = damon_folio_referenced(mm, page, (f & PG_YOUNG) != 0)
    referenced = f & PG_REFERENCED
    f &= ~(PG_YOUNG | PG_REFERENCED)
    if young:
        mm.pg_flags[page] = f | PG_REFERENCED
        if referenced:
            return FOLIOREF_ACTIVATE
        return FOLIOREF_KEEP
    mm.pg_flags[page] = f
    if referenced and f & PG_FILE:
        return FOLIOREF_RECLAIM_CLEAN
    return FOLIOREF_RECLAIM


@njit(cache=True)
def putback_folio(mm, page):
    """move_folios_to_lru() for a page shrink_folio_list() did not free: the head of its list;
    under MGLRU evict_folios()'s rule first (lru_gen.lru_gen_putback())."""
    if lru_gen_enabled(mm):
        _lru_gen.lru_gen_putback(mm, page)
    else:
        lru_add_head(mm, folio_lru_list(mm, page), page)


@njit(cache=True)
def activate_locked(mm, page, node, sc):
    """activate_locked: the page goes back to the head of its active list (pgactivate)."""
    mm.pg_flags[page] |= PG_ACTIVE
    mm.vmstat[node, vs.PGACTIVATE] += 1
    putback_folio(mm, page)


@njit(cache=True)
def pageout_or_free(mm, page, node, sc, ref):
    """The rest of shrink_folio_list() for a page that is not demoted: anon goes to swap if a
    slot is free (else it is activated: add_to_swap() failed); clean page cache is dropped,
    leaving a shadow entry; dirty page cache is written back by kswapd only (pageout()), else
    activated for the flushers. Returns 1 if reclaimed."""
    f = mm.pg_flags[page]
    if not (f & PG_FILE):
        if sc[SC_MAY_SWAP] == 0 or swap_free_pages(mm) <= 0:
            activate_locked(mm, page, node, sc)
            return 0
        mm.knob[K_SWAP_USED] += 1
        mm.memcg_stat[mm.pg_memcg[page], MEMCG_PSWPOUT] += 1
        free_page(mm, page)
        workingset_eviction(mm, page, node, SWAPPED)     # the swap cache keeps a shadow too
        mm.vmstat[node, vs.PSWPOUT] += 1
        mm.vmstat[node, vs.PGPGOUT] += 4
        sc[SC_COST_NS] += np.int64(mm.cost[C_SWAP_OUT])
        sc[SC_NR_PAGEOUT] += 1
        return 1
    if f & PG_DIRTY:
        if ref == FOLIOREF_RECLAIM_CLEAN or sc[SC_KSWAPD] == 0 or sc[SC_MAY_WRITEPAGE] == 0:
            activate_locked(mm, page, node, sc)
            return 0
        mm.vmstat[node, vs.PGPGOUT] += 4
        sc[SC_COST_NS] += np.int64(mm.cost[C_FILE_WRITE])
        sc[SC_NR_PAGEOUT] += 1
    free_page(mm, page)
    workingset_eviction(mm, page, node, SHADOW)
    sc[SC_COST_NS] += np.int64(mm.cost[C_FREE])
    return 1


@njit(cache=True)
def shrink_folio_list(mm, pages, n, node, sc, cpu_node, now):
    """shrink_folio_list(): reference check, then demotion (after the check, before swap and
    pageout), then normal reclaim. v5.15+ collect demotion candidates and migrate them in one
    batch after the loop; failures fall back to normal reclaim. rfc-2020 demotes page by page
    inline and continues down the normal path for a page that could not move."""
    do_demote = can_demote(mm, node, sc)
    batch = mm.knob[K_BATCH_DEMOTION] != 0
    demote = mm.demote_buf
    nd = 0
    reclaimed = 0
    for i in range(n):
        page = pages[i]
        if sc[SC_MAY_UNMAP] == 0 and folio_mapped(mm, page):
            putback_folio(mm, page)                                  # keep_locked
            continue
        if lru_gen_enabled(mm):
            ref = _lru_gen.lru_gen_folio_check_references(mm, page, sc)
        else:
            ref = folio_check_references(mm, page)
        if ref == FOLIOREF_ACTIVATE:
            activate_locked(mm, page, node, sc)
            continue
        if ref == FOLIOREF_KEEP:
            putback_folio(mm, page)
            continue
        if do_demote:
            if batch:
                demote[nd] = page
                nd += 1
                continue
            if demote_folio_list(mm, pages[i:i + 1], 1, node, sc, cpu_node, now) == 1:
                reclaimed += 1
                continue
        reclaimed += pageout_or_free(mm, page, node, sc, ref)
    if nd > 0:
        k = demote_folio_list(mm, demote, nd, node, sc, cpu_node, now)
        reclaimed += k
        for j in range(k, nd):
            if sc[SC_PROACTIVE] and mm.knob[K_PROACTIVE_NO_FALLBACK]:
                # v6.2+: proactive reclaim does not reclaim top-tier pages it could not demote
                putback_folio(mm, demote[j])
            else:
                reclaimed += pageout_or_free(mm, demote[j], node, sc, FOLIOREF_RECLAIM)
    return reclaimed


@njit(cache=True)
def folio_mapped(mm, page):
    """folio_mapped(): anonymous memory always is; page cache when its file is mmap-ed."""
    if not (mm.pg_flags[page] & PG_FILE):
        return True
    return mm.owner_mapped[page_task(mm, page)] != 0


@njit(cache=True)
def lru_note_cost(mm, lruvec, file, nr_io, nr_rotated):
    """lru_note_cost() (mm/swap.c): IO costs SWAP_CLUSTER_MAX per page written, a rotation 1;
    both costs halve once they exceed a quarter of the LRU. Demotions are neither."""
    mm.lruvec_cost[lruvec, file] += nr_io * BATCH + nr_rotated
    total = 0
    for lru in range(NR_LRU_LISTS):
        total += mm.lru_size[lruvec * NR_LRU_LISTS + lru]
    if mm.lruvec_cost[lruvec, 0] + mm.lruvec_cost[lruvec, 1] > total / 4:
        mm.lruvec_cost[lruvec, 0] /= 2
        mm.lruvec_cost[lruvec, 1] /= 2


@njit(cache=True)
def shrink_inactive_list(mm, lruvec, lru, nr_to_scan, sc, cpu_node, now):
    """shrink_inactive_list(): isolate up to nr_to_scan pages from the tail and reclaim them;
    pgscan/pgsteal count demoted pages too. The global pgscan/pgsteal_{kswapd,direct} skip
    cgroup reclaim; pgscan/pgsteal_{anon,file} and the memcg's own counters do not."""
    n_nodes = mm.kswapd_state.shape[0]
    node = lruvec % n_nodes
    memcg = lruvec // n_nodes
    lst = lruvec * NR_LRU_LISTS + lru
    buf = mm.isolate_buf
    n = isolate_lru_folios(mm, lst, nr_to_scan, buf)
    if n == 0:
        return 0
    file = 1 if lru == LRU_INACTIVE_FILE else 0
    if not cgroup_reclaim(sc):
        mm.vmstat[node, vs.PGSCAN_DIRECT - sc[SC_KSWAPD]] += n
    mm.vmstat[node, vs.PGSCAN_ANON + file] += n
    mm.memcg_stat[memcg, MEMCG_PGSCAN] += n
    sc[SC_NR_SCANNED] += n
    sc[SC_COST_NS] += np.int64(n * mm.cost[C_SCAN])
    pageout_before = sc[SC_NR_PAGEOUT]
    reclaimed = shrink_folio_list(mm, buf, n, node, sc, cpu_node, now)
    if not cgroup_reclaim(sc):
        mm.vmstat[node, vs.PGSTEAL_DIRECT - sc[SC_KSWAPD]] += reclaimed
    mm.vmstat[node, vs.PGSTEAL_ANON + file] += reclaimed
    mm.memcg_stat[memcg, MEMCG_PGSTEAL] += reclaimed
    sc[SC_NR_RECLAIMED] += reclaimed
    lru_note_cost(mm, lruvec, file, sc[SC_NR_PAGEOUT] - pageout_before, n - reclaimed)
    if mm.knob[K_CHECK]:
        check_invariants(mm)
    return reclaimed


@njit(cache=True)
def shrink_active_list(mm, lruvec, lru, nr_to_scan, sc):
    """shrink_active_list(): the rmap walk clears the accessed bits; every page but a referenced
    executable file page moves to the inactive head with PG_workingset (pgdeactivate)."""
    node = lruvec % mm.kswapd_state.shape[0]
    lst = lruvec * NR_LRU_LISTS + lru
    buf = mm.isolate_buf
    n = isolate_lru_folios(mm, lst, nr_to_scan, buf)
    mm.vmstat[node, vs.PGREFILL] += n
    sc[SC_COST_NS] += np.int64(n * mm.cost[C_SCAN])
    # pages go to the inactive head in isolation order, as move_folios_to_lru() does
    for i in range(n):
        page = buf[i]
        damon_folio_referenced(mm, page, (mm.pg_flags[page] & PG_YOUNG) != 0)
        mm.pg_flags[page] = (mm.pg_flags[page] & ~(PG_YOUNG | PG_ACTIVE)) | PG_WORKINGSET
        lru_add_head(mm, lst - 1, page)
    mm.vmstat[node, vs.PGDEACTIVATE] += n


# ---------------------------------------------------------------- shrink_node

@njit(cache=True)
def target_lru_pages(mm, node, lru, sc):
    """Size of a list in the reclaim target's lruvec on the node: the memcg's own for reclaim of
    a non-root memcg, else the whole node (the root lruvec counts every cgroup, hierarchically)."""
    if sc[SC_TARGET] > 0:
        return mm.lru_size[lruvec_of(mm, sc[SC_TARGET], node) * NR_LRU_LISTS + lru]
    return node_lru_pages(mm, node, lru)


@njit(cache=True)
def target_inactive_is_low(mm, node, inactive_lru, sc):
    """inactive_is_low() judged on the reclaim target's lruvec (prepare_scan_control())."""
    return inactive_list_is_low(target_lru_pages(mm, node, inactive_lru, sc),
                                target_lru_pages(mm, node, inactive_lru + 1, sc))


@njit(cache=True)
def prepare_scan_control(mm, node, sc):
    """prepare_scan_control() (v6.x): which active lists may be aged (judged on the target
    lruvec), cache_trim_mode and file_is_tiny. Refault-driven deactivation is not modelled."""
    may = 0
    if target_inactive_is_low(mm, node, LRU_INACTIVE_ANON, sc):
        may |= DEACTIVATE_ANON
    if target_inactive_is_low(mm, node, LRU_INACTIVE_FILE, sc):
        may |= DEACTIVATE_FILE
    if sc[SC_MAY_DEACTIVATE] & 4:      # force_deactivate
        may = DEACTIVATE_ANON | DEACTIVATE_FILE
    sc[SC_MAY_DEACTIVATE] = (sc[SC_MAY_DEACTIVATE] & 12) | may
    prio = sc[SC_PRIORITY]
    ifile = target_lru_pages(mm, node, LRU_INACTIVE_FILE, sc)
    sc[SC_CACHE_TRIM] = 1 if (ifile >> prio) and not (may & DEACTIVATE_FILE) else 0
    sc[SC_FILE_IS_TINY] = 0
    if not cgroup_reclaim(sc):
        free = 0
        high = 0
        tpp = tpp_toptier(mm, node)
        for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
            free += mm.zone_free[z]
            high += demote_wmark_pages(mm, z) if tpp else mm.zone_wmark[z, WMARK_HIGH]
        file = ifile + node_lru_pages(mm, node, LRU_ACTIVE_FILE)
        anon = node_lru_pages(mm, node, LRU_INACTIVE_ANON)
        sc[SC_FILE_IS_TINY] = 1 if (file + free <= high and not (may & DEACTIVATE_ANON)
                                    and (anon >> prio)) else 0


@njit(cache=True)
def get_scan_count(mm, lruvec, sc, nr):
    """get_scan_count() (v5.9+): how many pages of each list to scan at this priority; the
    anon/file split follows swappiness and the recorded reclaim costs (kernel-spec 2.9)."""
    swappiness = mm.knob[K_SWAPPINESS]
    prio = sc[SC_PRIORITY]
    node = lruvec % mm.kswapd_state.shape[0]
    if sc[SC_MAY_SWAP] == 0 or not can_reclaim_anon_pages(mm, node, sc):
        scan_balance = SCAN_FILE
    elif cgroup_reclaim(sc) and swappiness == 0:
        scan_balance = SCAN_FILE
    elif prio == 0 and swappiness > 0:
        scan_balance = SCAN_EQUAL
    elif sc[SC_FILE_IS_TINY]:
        scan_balance = SCAN_ANON
    elif sc[SC_CACHE_TRIM]:
        scan_balance = SCAN_FILE
    else:
        scan_balance = SCAN_FRACT
    anon_cost = mm.lruvec_cost[lruvec, 0]
    file_cost = mm.lruvec_cost[lruvec, 1]
    total = anon_cost + file_cost
    a = total + anon_cost
    f = total + file_cost
    t = a + f
    ap = int(swappiness * (t + 1) // (a + 1))
    fp = int((MAX_SWAPPINESS - swappiness) * (t + 1) // (f + 1))
    for lru in range(NR_LRU_LISTS):
        file = lru >= LRU_INACTIVE_FILE
        scan = mm.lru_size[lruvec * NR_LRU_LISTS + lru] >> prio
        if scan_balance == SCAN_FRACT:
            denom = ap + fp
            scan = scan * (fp if file else ap) // denom if denom > 0 else 0
        elif scan_balance == SCAN_FILE:
            scan = scan if file else 0
        elif scan_balance == SCAN_ANON:
            scan = 0 if file else scan
        nr[lru] = scan


@njit(cache=True)
def shrink_list(mm, lruvec, lru, nr_to_scan, sc, cpu_node, now):
    """shrink_list(): active lists are aged only when prepare_scan_control() allowed it."""
    if lru == LRU_ACTIVE_ANON or lru == LRU_ACTIVE_FILE:
        bit = DEACTIVATE_FILE if lru == LRU_ACTIVE_FILE else DEACTIVATE_ANON
        if sc[SC_MAY_DEACTIVATE] & bit:
            shrink_active_list(mm, lruvec, lru, nr_to_scan, sc)
        else:
            sc[SC_MAY_DEACTIVATE] |= 8       # skipped_deactivate
        return 0
    return shrink_inactive_list(mm, lruvec, lru, nr_to_scan, sc, cpu_node, now)


@njit(cache=True)
def shrink_lruvec(mm, lruvec, sc, cpu_node, now):
    """shrink_lruvec() (v6.x): scan the lists round-robin, SWAP_CLUSTER_MAX at a time; once
    nr_to_reclaim is met (kswapd and non-initial direct reclaim) stop the smaller type and
    scale the other down to its remaining proportion. Under MGLRU only memcg reclaim gets here
    (root reclaim goes to lru_gen_shrink_node() from shrink_node())."""
    if lru_gen_enabled(mm):
        return _lru_gen.lru_gen_shrink_lruvec(mm, lruvec, sc, cpu_node, now)
    nr = np.zeros(NR_LRU_LISTS, np.int64)
    node = lruvec % mm.kswapd_state.shape[0]
    get_scan_count(mm, lruvec, sc, nr)
    targets = nr.copy()
    nr_to_reclaim = sc[SC_NR_TO_RECLAIM]
    proportional = sc[SC_KSWAPD] == 0 and sc[SC_PRIORITY] == DEF_PRIORITY
    reclaimed = 0
    while nr[LRU_INACTIVE_ANON] or nr[LRU_ACTIVE_FILE] or nr[LRU_INACTIVE_FILE]:
        for lru in range(NR_LRU_LISTS):
            if nr[lru]:
                k = min(nr[lru], BATCH)
                nr[lru] -= k
                reclaimed += shrink_list(mm, lruvec, lru, k, sc, cpu_node, now)
        if reclaimed < nr_to_reclaim or proportional:
            continue
        nr_file = nr[LRU_INACTIVE_FILE] + nr[LRU_ACTIVE_FILE]
        nr_anon = nr[LRU_INACTIVE_ANON] + nr[LRU_ACTIVE_ANON]
        if nr_file == 0 or nr_anon == 0:
            break
        if nr_file > nr_anon:
            pct = nr_anon * 100 // (targets[0] + targets[1] + 1)
            stop, other = 0, 2
        else:
            pct = nr_file * 100 // (targets[2] + targets[3] + 1)
            stop, other = 2, 0
        nr[stop] = 0
        nr[stop + 1] = 0
        for lru in (other, other + 1):
            done = targets[lru] - nr[lru]
            nr[lru] = targets[lru] * (100 - pct) // 100
            nr[lru] -= min(nr[lru], done)
    if can_age_anon_pages(mm, node, sc) and inactive_is_low(mm, lruvec, LRU_INACTIVE_ANON):
        shrink_active_list(mm, lruvec, LRU_ACTIVE_ANON, BATCH, sc)
    return reclaimed


@njit(cache=True)
def memcg_protected(mm, memcg, sc):
    """The protection checks of global reclaim's memcg walk (shrink_node_memcgs(), and
    shrink_one() under MGLRU): a memcg under memory.min is skipped; one under memory.low too,
    except on the pass that reclaims protected memory, where it counts a low event."""
    if mm.memcg_usage[memcg] <= mm.memcg_min[memcg]:
        return True
    if mm.memcg_usage[memcg] <= mm.memcg_low[memcg]:
        if not sc[SC_MEMCG_LOW_RECLAIM]:
            sc[SC_MEMCG_LOW_SKIPPED] = 1
            return True
        mm.memcg_stat[memcg, MEMCG_LOW_EVENTS] += 1
    return False


@njit(cache=True)
def shrink_node_memcgs(mm, node, sc, cpu_node, now):
    """shrink_node_memcgs(): every memcg under the target (all of them for global reclaim and
    for the root), skipping those under memory.min, and under memory.low unless this is the
    pass that reclaims protected memory."""
    reclaimed = 0
    target = sc[SC_TARGET]
    for m in range(mm.memcg_usage.shape[0]):
        if target > 0 and m != target:
            continue
        if m > 0 and not cgroup_reclaim(sc) and memcg_protected(mm, m, sc):
            continue
        reclaimed += shrink_lruvec(mm, lruvec_of(mm, m, node), sc, cpu_node, now)
    return reclaimed


@njit(cache=True)
def shrink_node(mm, node, sc, cpu_node, now):
    """shrink_node(): one pass over the node's lruvecs; any progress resets kswapd_failures.
    Under MGLRU root reclaim is lru_gen_shrink_node() (v6.12)."""
    if lru_gen_enabled(mm) and sc[SC_TARGET] <= 0:
        reclaimed = _lru_gen.lru_gen_shrink_node(mm, node, sc, cpu_node, now)
        sc[SC_COST_NS] += np.int64(mm.cost[C_SCAN])
        return reclaimed
    prepare_scan_control(mm, node, sc)
    reclaimed = shrink_node_memcgs(mm, node, sc, cpu_node, now)
    sc[SC_COST_NS] += np.int64(mm.cost[C_SCAN])
    if reclaimed > 0:
        mm.kswapd_failures[node] = 0
    return reclaimed


# ---------------------------------------------------------------- kswapd (kernel-spec 2.7)

@njit(cache=True)
def kswapd_try_to_sleep(mm, node):
    """kswapd_try_to_sleep(): a balanced (or hopeless) node naps HZ/10 first; an unbalanced one
    goes straight back to balance_pgdat()."""
    if pgdat_balanced(mm, node) or mm.kswapd_failures[node] >= MAX_RECLAIM_RETRIES:
        mm.kswapd_state[node] = KSWAPD_NAPPING
        mm.kswapd_nap_end[node] = mm.kswapd_clock[node] + KSWAPD_NAP_NS
    else:
        kswapd_start(mm, node, mm.kswapd_clock[node])


@njit(cache=True)
def kswapd_sleep(mm, node):
    """After the nap: a hopeless top-tier kswapd under TPP sleeps only 10 s and then tries
    again (TPP 4/5: promotion keeps the node from the direct reclaim that would otherwise
    reset kswapd_failures); any other kswapd sleeps until woken."""
    if tpp_toptier(mm, node) and mm.kswapd_failures[node] >= MAX_RECLAIM_RETRIES:
        mm.kswapd_state[node] = KSWAPD_TPP_WAIT
        mm.kswapd_nap_end[node] = mm.kswapd_clock[node] + TPP_RETRY_NS
    else:
        mm.kswapd_state[node] = KSWAPD_SLEEPING


@njit(cache=True)
def balance_pgdat_step(mm, node):
    """One iteration of balance_pgdat()'s priority loop, so kswapd runs beside the tasks in
    simulated time: stop when balanced; age anon; reclaim at most the HIGH marks' worth
    (kswapd_shrink_node()); raise the priority when that scanned too little or freed nothing.
    Under MGLRU kswapd_age_node() is lru_gen_age_node(), which with min_ttl_ms = 0 ages nothing,
    and lru_gen_shrink_node() may lower the starting priority (set_initial_priority())."""
    if pgdat_balanced(mm, node):
        balance_pgdat_done(mm, node)
        return
    prio = mm.kswapd_priority[node]
    sc = new_sc(prio, 0, 1)
    now = mm.kswapd_clock[node]
    if not lru_gen_enabled(mm) and can_age_anon_pages(mm, node, sc):   # kswapd_age_node()
        for m in range(mm.memcg_usage.shape[0]):
            lruvec = lruvec_of(mm, m, node)
            if inactive_is_low(mm, lruvec, LRU_INACTIVE_ANON):
                shrink_active_list(mm, lruvec, LRU_ACTIVE_ANON, BATCH, sc)
    nr_to_reclaim = 0
    tpp = tpp_toptier(mm, node)
    for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
        if mm.zone_managed[z] > 0:
            mark = demote_wmark_pages(mm, z) if tpp else mm.zone_wmark[z, WMARK_HIGH]
            nr_to_reclaim += max(mark, BATCH)        # kswapd_shrink_node(); TPP 4/5: DEMOTE
    sc[SC_NR_TO_RECLAIM] = nr_to_reclaim
    shrink_node(mm, node, sc, node, now)
    mm.kswapd_reclaimed[node] += sc[SC_NR_RECLAIMED]
    mm.kswapd_clock[node] += sc[SC_COST_NS]
    mm.kswapd_cpu[node] += sc[SC_COST_NS]
    mm.kswapd_priority[node] = sc[SC_PRIORITY]
    if sc[SC_NR_SCANNED] < nr_to_reclaim or sc[SC_NR_RECLAIMED] == 0:
        mm.kswapd_priority[node] = sc[SC_PRIORITY] - 1
    if mm.kswapd_priority[node] < 1:
        balance_pgdat_done(mm, node)


@njit(cache=True)
def balance_pgdat_done(mm, node):
    """End of balance_pgdat(): a call that reclaimed nothing counts a kswapd failure."""
    if mm.kswapd_reclaimed[node] == 0:
        mm.kswapd_failures[node] += 1
    kswapd_try_to_sleep(mm, node)


@njit(cache=True)
def run_kswapds(mm, until):
    """Let every awake kswapd catch up to simulated time ``until``; then note when the next
    one has work (kswapd_due), so the access loop checks a single time."""
    for node in range(mm.kswapd_state.shape[0]):
        while True:
            st = mm.kswapd_state[node]
            if st == KSWAPD_RUNNING:
                if mm.kswapd_clock[node] >= until:
                    break
                balance_pgdat_step(mm, node)
            elif st == KSWAPD_NAPPING or st == KSWAPD_TPP_WAIT:
                if mm.kswapd_nap_end[node] > until:
                    break
                mm.kswapd_clock[node] = mm.kswapd_nap_end[node]
                if st == KSWAPD_TPP_WAIT:                # timed out: balance_pgdat() again
                    kswapd_start(mm, node, mm.kswapd_clock[node])
                elif pgdat_balanced(mm, node) or mm.kswapd_failures[node] >= MAX_RECLAIM_RETRIES:
                    kswapd_sleep(mm, node)
                else:
                    mm.vmstat[node, vs.KSWAPD_HIGH_WMARK_HIT_QUICKLY] += 1
                    kswapd_start(mm, node, mm.kswapd_clock[node])
            else:
                break
    due = np.inf
    for node in range(mm.kswapd_state.shape[0]):
        st = mm.kswapd_state[node]
        if st == KSWAPD_RUNNING:
            due = min(due, mm.kswapd_clock[node])
        elif st == KSWAPD_NAPPING or st == KSWAPD_TPP_WAIT:
            due = min(due, mm.kswapd_nap_end[node])
    mm.kswapd_due[0] = due


# ---------------------------------------------------------------- direct reclaim (2.8)

@njit(cache=True)
def reclaim_concurrently(mm, sc, now):
    """A task reclaiming for itself (direct, memcg or node reclaim) and the kswapds run at the
    same time on different CPUs and take pages off the same LRU tails. The model runs each
    priority round of the task's reclaim loop in one piece, then lets the kswapds catch up to
    the task's clock so far. Without this, the first pass over a list of pages still young from
    their fault (each needs a second trip, FOLIOREF_KEEP) fell to the task alone: pgscan_direct
    twice the kernel's, pgscan_kswapd a third short (docs/kernelref.md)."""
    run_kswapds(mm, now + sc[SC_COST_NS])


@njit(cache=True)
def shrink_zones(mm, pref_node, nodemask, sc, cpu_node, now):
    """shrink_zones(): shrink_node() once for each node of the (nodemask-filtered) zonelist,
    in zonelist order (consecutive zones of one node count once)."""
    last = -1
    for i in range(mm.zonelist_len[pref_node]):
        node = mm.zone_node[mm.zonelist[pref_node, i]]
        if not (nodemask >> node) & 1 or node == last:
            continue
        last = node
        shrink_node(mm, node, sc, cpu_node, now + sc[SC_COST_NS])


@njit(cache=True)
def try_to_free_pages(mm, pref_node, nodemask, cpu_node, now):
    """try_to_free_pages() -> do_try_to_free_pages(): priority 12 down to 0, shrink every node of
    the (nodemask-filtered) zonelist once per round, stop at SWAP_CLUSTER_MAX reclaimed; if
    nothing came back while active lists were skipped, retry once forcing deactivation.
    Returns the scan control (reclaimed pages, cost).

    The kswapds run meanwhile on other CPUs: after each priority round they catch up to the
    task's clock (reclaim_concurrently()), so a long round is not scanned by the task alone."""
    sc = new_sc(DEF_PRIORITY, BATCH, 0)
    mm.vmstat[cpu_node, vs.ALLOCSTALL_DMA + 3] += 1        # allocstall_movable: user pages
    for attempt in range(3):
        for prio in range(DEF_PRIORITY, -1, -1):
            sc[SC_PRIORITY] = prio
            sc[SC_NR_SCANNED] = 0
            shrink_zones(mm, pref_node, nodemask, sc, cpu_node, now)
            reclaim_concurrently(mm, sc, now)
            if sc[SC_NR_RECLAIMED] >= sc[SC_NR_TO_RECLAIM]:
                return sc
        if sc[SC_NR_RECLAIMED] > 0:
            return sc
        if sc[SC_MAY_DEACTIVATE] & 8:
            sc[SC_MAY_DEACTIVATE] = 4                          # force_deactivate
        elif sc[SC_MEMCG_LOW_SKIPPED]:
            sc[SC_MEMCG_LOW_RECLAIM] = 1                       # memory.low is best effort
            sc[SC_MEMCG_LOW_SKIPPED] = 0
        else:
            return sc
    return sc


@njit(cache=True)
def try_to_free_mem_cgroup_pages(mm, memcg, nr_pages, cpu_node, now, proactive):
    """try_to_free_mem_cgroup_pages(): cgroup reclaim of the memcg's pages on every node,
    priority 12 down to 0, until max(nr_pages, SWAP_CLUSTER_MAX) are reclaimed. Demoted pages
    count as reclaimed although the charge stays with the page (kernel-spec 4)."""
    sc = new_sc(DEF_PRIORITY, max(nr_pages, BATCH), 0)
    sc[SC_TARGET] = memcg
    sc[SC_PROACTIVE] = 1 if proactive else 0
    for prio in range(DEF_PRIORITY, -1, -1):
        sc[SC_PRIORITY] = prio
        sc[SC_NR_SCANNED] = 0
        shrink_zones(mm, cpu_node, np.int64(-1), sc, cpu_node, now)
        reclaim_concurrently(mm, sc, now)
        if sc[SC_NR_RECLAIMED] >= sc[SC_NR_TO_RECLAIM]:
            break
    return sc


@njit(cache=True)
def zone_reclaimable_pages(mm, z, sc):
    """zone_reclaimable_pages(): page cache always, anon only if it can be reclaimed.
    Every user page sits on an LRU list, so the zone's anon pages are its used pages less the
    page cache."""
    used = mm.zone_managed[z] - mm.zone_free[z] - mm.zone_kernel[z]
    if can_reclaim_anon_pages(mm, mm.zone_node[z], sc):
        return used
    return mm.zone_file[z]


# ---------------------------------------------------------------- invariants

@njit(cache=True)
def check_invariants(mm):
    """Checking mode: every present page on exactly one LRU list, on the list its node and
    flags say; list sizes right; used + free = managed for every zone; no zone over its size."""
    if lru_gen_enabled(mm):
        _lru_gen.lru_gen_check_invariants(mm)
        return
    n_zones = mm.zone_free.shape[0]
    counted = np.zeros(n_zones, np.int64)
    on_lists = 0
    for lst in range(mm.lru_head.shape[0]):
        k = 0
        page = mm.lru_head[lst]
        prev = -1
        while page >= 0:
            if mm.pg_zone[page] < 0 or folio_lru_list(mm, page) != lst or mm.pg_prev[page] != prev:
                mm.knob[K_ERROR] = 1
                return
            counted[mm.pg_zone[page]] += 1
            k += 1
            prev = page
            page = mm.pg_next[page]
        if k != mm.lru_size[lst] or mm.lru_tail[lst] != prev:
            mm.knob[K_ERROR] = 2
            return
        on_lists += k
    check_page_accounting(mm, counted, on_lists, mm.zone_file)


@njit(cache=True)
def check_page_accounting(mm, counted, on_lists, file_pages):
    """The part of the invariants both LRUs share: every present page was found on a list
    (on_lists of them, counted[z] per zone, file_pages[z] page cache) and every zone's used +
    free + kernel pages make its managed pages."""
    present = 0
    for p in range(mm.pg_zone.shape[0]):
        if mm.pg_zone[p] >= 0:
            present += 1
    if present != on_lists:
        mm.knob[K_ERROR] = 3
        return
    for z in range(mm.zone_free.shape[0]):
        if (mm.zone_free[z] < 0 or file_pages[z] != mm.zone_file[z]
                or counted[z] + mm.zone_free[z] + mm.zone_kernel[z] != mm.zone_managed[z]):
            mm.knob[K_ERROR] = 4
            return


# The multi-gen LRU calls shrink_folio_list() above and is called from shrink_node() and
# shrink_lruvec(): the two modules import each other, so vmscan reaches it as a module (bound
# last, complete by the time numba compiles a caller), whichever of the two is imported first.
from . import lru_gen as _lru_gen  # noqa: E402
