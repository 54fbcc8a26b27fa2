"""NUMA balancing (kernel/sched/fair.c, mm/memory.c, mm/migrate.c): the scanner that makes
ptes PROT_NONE, the hint fault that follows the next access, and the migration it decides —
toward the faulting CPU's node in normal mode (numa_balancing & 1), hot slow-tier pages up
to the top tier in memory-tiering mode (numa_balancing & 2, v5.18+; hot-page threshold,
rate limit and self-adjusting threshold from v6.0). Profiles before v6.1 have no tiering
mode here (kernel-spec 6.4: v5.18 promoted every sampled page).
"""

from __future__ import annotations

import math

import numpy as np
from .jit import njit

from . import vmstat as vs
from .lru import lruvec_del_folio
from .migrate import migrate_folio
from .page_alloc import get_page_from_freelist, rmqueue_wakeup_toptier, wakeup_kswapd, zone_watermark_ok
from .workingset import folio_mark_accessed
from .state import (C_HINT_FAULT, C_NUMA_SCAN_PTE, K_HOT_THRESHOLD_MS, K_NUMA_BALANCING, K_TPP, PG_ACTIVE,
                    K_PROMOTE_RATE_LIMIT, K_SCAN_DELAY_MS, K_SCAN_PERIOD_MAX_MS,
                    K_SCAN_PERIOD_MIN_MS, K_SCAN_SIZE_MB, MPOL_BIND,
                    NBP_RL_NR_CAND, NBP_RL_START, NBP_TH_NR_CAND, NBP_TH_START, NBP_THRESHOLD,
                    PG_PROMOTED, PG_PROTNONE, WMARK_HIGH, WMARK_LOW, WMARK_MIN, WMARK_PROMO)

NUMA_BALANCING_NORMAL = 1
NUMA_BALANCING_MEMORY_TIERING = 2
MAX_SCAN_WINDOW = 2560               # MB/s the scanner may cover at most
NUMA_PERIOD_SLOTS = 10
NUMA_PERIOD_THRESHOLD = 7
NUMA_MIGRATION_ADJUST_STEPS = 16
HPAGE_PAGES = 512                    # the scanner walks 2 MiB at a time
PAGE_ACCESS_TIME_MASK = (1 << 21) - 1   # ms kept in the cpupid bits (LAST_CPUPID_WIDTH on x86-64)
LOCAL, REMOTE, FAILED = 0, 1, 2


@njit(cache=True)
def task_scan_min(mm, t):
    """task_scan_min(): never faster than MAX_SCAN_WINDOW MB/s, nor than period_min/windows."""
    scan_size = mm.knob[K_SCAN_SIZE_MB]
    rss = mm.task_rss[t].sum()
    windows = max(1, (rss + (scan_size << 8) - 1) // (scan_size << 8))
    floor = 1000 // (MAX_SCAN_WINDOW // scan_size) if scan_size < MAX_SCAN_WINDOW else 1000
    return max(floor, mm.knob[K_SCAN_PERIOD_MIN_MS] // windows)


@njit(cache=True)
def task_scan_max(mm, t):
    scan_size = mm.knob[K_SCAN_SIZE_MB]
    rss = mm.task_rss[t].sum()
    windows = max(1, (rss + (scan_size << 8) - 1) // (scan_size << 8))
    return max(task_scan_min(mm, t), mm.knob[K_SCAN_PERIOD_MAX_MS] // windows)


@njit(cache=True)
def init_numa_balancing(mm, t, now):
    """init_numa_balancing(): the first scan comes numa_balancing_scan_delay_ms after the mm."""
    if mm.knob[K_NUMA_BALANCING] == 0:
        mm.task_numa_next[t] = math.inf
        return
    mm.task_scan_period[t] = 0
    mm.task_numa_next[t] = now + mm.knob[K_SCAN_DELAY_MS] * 1e6


@njit(cache=True)
def update_task_scan_period(mm, t):
    """update_task_scan_period() at the end of a full pass: scan slower (x2) when no hint fault
    was recorded or a migration failed; else, for a private single-threaded task (ps_ratio 10),
    lengthen by (10 - 7) slots of period/10."""
    local = mm.task_numa_faults[t, LOCAL]
    remote = mm.task_numa_faults[t, REMOTE]
    period = mm.task_scan_period[t]
    if local + remote == 0 or mm.task_numa_faults[t, FAILED]:
        period = min(task_scan_max(mm, t), period << 1)
    else:
        slot = (period + NUMA_PERIOD_SLOTS - 1) // NUMA_PERIOD_SLOTS
        diff = (NUMA_PERIOD_SLOTS - NUMA_PERIOD_THRESHOLD) * slot
        period = min(max(period + diff, task_scan_min(mm, t)), task_scan_max(mm, t))
    mm.task_scan_period[t] = period
    mm.task_numa_faults[t, :] = 0


@njit(cache=True)
def task_numa_work(mm, t, now):
    """task_numa_work() + change_prot_numa(): make up to scan_size_mb of present ptes PROT_NONE
    from numa_scan_offset on, looking at no more than 8x that much address space. Only tasks
    whose policy has MPOL_F_MOF (default/local) are scanned; without the NORMAL bit top-tier
    pages are skipped; slow-tier pages get the scan time in ms (tiering mode). Returns the
    scanner's cost in ns, charged to the task."""
    mode = mm.knob[K_NUMA_BALANCING]
    if mm.task_scan_period[t] == 0:
        mm.task_scan_period[t] = task_scan_min(mm, t)       # task_scan_start()
    mm.task_numa_next[t] = now + mm.task_scan_period[t] * 1e6
    if not mm.task_mof[t]:                  # vma_policy_mof(): explicit policies are not sampled
        return 0.0
    base = mm.task_base[t]
    n = mm.task_footprint[t]
    cpu = mm.task_cpu[t]
    pages = mm.knob[K_SCAN_SIZE_MB] << 8
    virtpages = pages * 8
    now_ms = np.int32(int(now / 1e6) & PAGE_ACCESS_TIME_MASK)
    vpn = mm.task_scan_offset[t]
    looked = 0
    updates = 0
    while pages > 0 and virtpages > 0:
        end = min(vpn + HPAGE_PAGES - vpn % HPAGE_PAGES, n)
        updated = 0
        for v in range(vpn, end):
            p = base + v
            z = mm.pg_zone[p]
            looked += 1
            if z < 0 or mm.pg_flags[p] & PG_PROTNONE:
                continue
            node = mm.zone_node[z]
            if not (mode & NUMA_BALANCING_NORMAL) and mm.toptier[node]:
                continue
            if node == cpu:
                continue            # private single-threaded VMA: already on the CPU's node
            if (mode & NUMA_BALANCING_MEMORY_TIERING) and not mm.toptier[node]:
                mm.pg_scan[p] = now_ms
            mm.pg_flags[p] |= PG_PROTNONE
            updated += 1
        if updated:
            pages -= end - vpn
        virtpages -= end - vpn
        updates += updated
        vpn = end
        if vpn >= n:
            # the end of the address space ends this scan; the next starts over (numa_scan_seq++)
            vpn = 0
            update_task_scan_period(mm, t)        # a full pass: task_numa_placement()
            break
    mm.task_scan_offset[t] = vpn
    mm.vmstat[cpu, vs.NUMA_PTE_UPDATES] += updates
    return looked * mm.cost[C_NUMA_SCAN_PTE]


@njit(cache=True)
def pgdat_free_space_enough(mm, node):
    """pgdat_free_space_enough(): some zone has PROMO + max(1 GiB, node/16) free pages."""
    for z in range(mm.node_zone_hi[node] - 1, mm.node_zone_lo[node] - 1, -1):
        if mm.zone_managed[z] and zone_watermark_ok(mm, z, WMARK_PROMO, mm.node_enough[node]):
            return True
    return False


@njit(cache=True)
def numa_promotion_adjust_threshold(mm, node, rate_limit, ref_th, now_ms):
    """numa_promotion_adjust_threshold() (v6.0): once per scan_period_max, move the hot threshold
    one step (ref_th/8) toward promoting about rate_limit pages per second."""
    period = mm.knob[K_SCAN_PERIOD_MAX_MS]
    st = mm.node_promo[node]
    if now_ms - st[NBP_TH_START] <= period:
        return
    st[NBP_TH_START] = now_ms
    ref_cand = rate_limit * period // 1000
    nr_cand = mm.vmstat[node, vs.PGPROMOTE_CANDIDATE]
    diff = nr_cand - st[NBP_TH_NR_CAND]
    unit = ref_th * 2 // NUMA_MIGRATION_ADJUST_STEPS
    th = st[NBP_THRESHOLD] if st[NBP_THRESHOLD] else ref_th
    if diff > ref_cand * 11 // 10:
        th = max(th - unit, unit)
    elif diff < ref_cand * 9 // 10:
        th = min(th + unit, ref_th * 2)
    st[NBP_TH_NR_CAND] = nr_cand
    st[NBP_THRESHOLD] = th


@njit(cache=True)
def numa_promotion_rate_limit(mm, node, rate_limit, now_ms):
    """numa_promotion_rate_limit() (v6.0): count the candidate, then refuse once this second's
    candidates reach rate_limit pages."""
    mm.vmstat[node, vs.PGPROMOTE_CANDIDATE] += 1
    nr_cand = mm.vmstat[node, vs.PGPROMOTE_CANDIDATE]
    st = mm.node_promo[node]
    if now_ms - st[NBP_RL_START] > 1000:
        st[NBP_RL_START] = now_ms
        st[NBP_RL_NR_CAND] = nr_cand
    return nr_cand - st[NBP_RL_NR_CAND] >= rate_limit


@njit(cache=True)
def should_numa_migrate_memory(mm, page, src, dst, cpu, now):
    """should_numa_migrate_memory(): in tiering mode a slow-tier page is promoted when the fast
    node has lots of room, or when its hint-fault latency is under the hot threshold and the
    rate limit allows; otherwise (normal mode) the two-reference filter on the last node."""
    mode = mm.knob[K_NUMA_BALANCING]
    if mode & NUMA_BALANCING_MEMORY_TIERING and not mm.toptier[src]:
        if pgdat_free_space_enough(mm, dst):
            mm.node_promo[dst, NBP_THRESHOLD] = 0
            return True
        now_ms = int(now / 1e6)
        def_th = mm.knob[K_HOT_THRESHOLD_MS]
        rate_limit = mm.knob[K_PROMOTE_RATE_LIMIT]
        numa_promotion_adjust_threshold(mm, dst, rate_limit, def_th, now_ms)
        th = mm.node_promo[dst, NBP_THRESHOLD]
        if th == 0:
            th = def_th
        t_ms = np.int32(now_ms & PAGE_ACCESS_TIME_MASK)
        latency = (t_ms - mm.pg_scan[page]) & PAGE_ACCESS_TIME_MASK
        mm.pg_scan[page] = t_ms
        if latency >= th:
            return False
        return not numa_promotion_rate_limit(mm, dst, rate_limit, now_ms)
    if not (mode & NUMA_BALANCING_NORMAL):
        return False
    last = mm.pg_scan[page]            # last faulting node + 1 (0 = unset), the cpupid filter
    mm.pg_scan[page] = dst + 1
    return last == 0 or last == dst + 1


@njit(cache=True)
def migrate_balanced_pgdat(mm, node):
    """migrate_balanced_pgdat(): some zone stays above HIGH + 1 after taking the page."""
    for z in range(mm.node_zone_hi[node] - 1, mm.node_zone_lo[node] - 1, -1):
        if mm.zone_managed[z] and zone_watermark_ok(mm, z, WMARK_HIGH, 1):
            return True
    return False


@njit(cache=True)
def do_numa_page(mm, t, page, now):
    """do_numa_page(): the hint fault. Restore the pte, count it, ask mpol_misplaced() for a
    target, and migrate if the target node is balanced (in tiering mode an unbalanced target
    gets its kswapd woken, which reclaims -- demotes -- toward PROMO). Returns the cost in ns."""
    cpu = mm.task_cpu[t]
    mm.pg_flags[page] &= ~PG_PROTNONE
    mm.vmstat[cpu, vs.NUMA_HINT_FAULTS] += 1
    z = mm.pg_zone[page]
    src = mm.zone_node[z]
    if src == cpu:
        mm.vmstat[cpu, vs.NUMA_HINT_FAULTS_LOCAL] += 1
    cost = mm.cost[C_HINT_FAULT]
    tiering_page = (mm.knob[K_NUMA_BALANCING] & NUMA_BALANCING_MEMORY_TIERING) and not mm.toptier[src]
    if tiering_page and mm.knob[K_TPP] and not (mm.pg_flags[page] & PG_ACTIVE):
        # TPP 5/5 "active LRU-based promotion to avoid ping-pong" (out of tree): a slow-tier
        # page on the inactive list is only marked accessed; the fault that finds it active
        # may promote it
        folio_mark_accessed(mm, page)
        return cost
    dst = cpu
    # mpol_misplaced(): a bind policy (with MPOL_F_NUMA_BALANCING) moves pages only to the
    # faulting CPU's node when that node is one of the bound ones
    if mm.task_mpol[t] == MPOL_BIND and not (mm.task_nodemask[t] >> cpu) & 1:
        dst = src
    if src == dst or not should_numa_migrate_memory(mm, page, src, dst, cpu, now):
        if not tiering_page:
            mm.task_numa_faults[t, LOCAL if src == cpu else REMOTE] += 1
        return cost
    if not migrate_balanced_pgdat(mm, dst):
        if mm.knob[K_NUMA_BALANCING] & NUMA_BALANCING_MEMORY_TIERING:
            wakeup_kswapd(mm, dst, now)
        mm.task_numa_faults[t, FAILED] += 1
        return cost
    # alloc_misplaced_dst_folio(): THISNODE, no reclaim: LOW, then MIN
    mask = np.int64(1) << dst
    nz = get_page_from_freelist(mm, dst, mask, WMARK_LOW)
    if nz < 0:
        nz = get_page_from_freelist(mm, dst, mask, WMARK_MIN)
    if nz < 0:
        mm.vmstat[src, vs.PGMIGRATE_FAIL] += 1
        mm.task_numa_faults[t, FAILED] += 1
        return cost
    lruvec_del_folio(mm, page)
    cost += migrate_folio(mm, page, nz, cpu)
    mm.vmstat[dst, vs.NUMA_PAGES_MIGRATED] += 1
    if tiering_page and mm.toptier[dst]:
        mm.vmstat[dst, vs.PGPROMOTE_SUCCESS] += 1
        mm.pg_flags[page] |= PG_PROMOTED
    rmqueue_wakeup_toptier(mm, nz, now)
    mm.task_numa_faults[t, LOCAL] += 1
    return cost
