"""Page faults and the allocation slow path: do_anonymous_page()/do_swap_page() (mm/memory.c),
alloc_pages_mpol() (mm/mempolicy.c), __alloc_pages_slowpath() (mm/page_alloc.c) and the OOM
killer (mm/oom_kill.c). Kept apart from page_alloc.py because the slow path calls reclaim.
"""

from __future__ import annotations

import numpy as np
from .jit import njit

from . import vmstat as vs
from .damon_paddr import damon_new_folio
from .lru import lru_gen_enabled, lruvec_add_folio, lruvec_del_folio
from .page_alloc import (zone_watermark_ok, MAX_RECLAIM_RETRIES, free_page, get_page_from_freelist, rmqueue,
                         rmqueue_wakeup_toptier, wakeup_kswapd, zone_statistics)
from .state import (BATCH, K_NODE_RECLAIM, K_ZONE_RECLAIM_MODE, SC_MAY_UNMAP, SC_MAY_WRITEPAGE,
                    SC_PRIORITY, MEMCG_MAX_EVENTS, MEMCG_OOM_KILL, C_FILE_READ, C_PAGE_FAULT, C_SWAP_IN, K_ANON_ACTIVE_START, K_SWAP_USED,
                    MPOL_BIND, MPOL_INTERLEAVE, MPOL_PREFERRED, NOT_PRESENT, PG_ACTIVE, PG_DIRTY,
                    PG_FILE, PG_REFERENCED, PG_YOUNG, SC_COST_NS, SC_NR_RECLAIMED, SHADOW, SWAPPED,
                    WMARK_LOW, WMARK_MIN, mm_view)
from .vmscan import (new_sc, reclaim_concurrently, shrink_node, run_kswapds, try_to_free_mem_cgroup_pages, try_to_free_pages,
                     zone_reclaimable_pages)
from .workingset import lru_gen_refault, workingset_refault

ALL_NODES = np.int64(-1)


@njit(cache=True)
def policy_zonelist(mm, t):
    """alloc_pages_mpol()/policy_node(): (zonelist node, nodemask) for the task's next page.
    default/local: the CPU's node, no mask; preferred: that node's zonelist, no mask (it spills
    like default); bind: the CPU's zonelist filtered by the bound nodes; interleave: the next
    node round-robin, its zonelist, no mask."""
    mode = mm.task_mpol[t]
    if mode == MPOL_PREFERRED:
        return mm.task_pref[t], ALL_NODES
    if mode == MPOL_BIND:
        return mm.task_cpu[t], mm.task_nodemask[t]
    if mode == MPOL_INTERLEAVE:
        mask = mm.task_nodemask[t]
        n_nodes = mm.kswapd_state.shape[0]
        nid = mm.task_il_next[t]
        for _ in range(n_nodes):
            nid = (nid + 1) % n_nodes
            if (mask >> nid) & 1:
                break
        mm.task_il_next[t] = nid
        return nid, ALL_NODES
    return mm.task_cpu[t], ALL_NODES


@njit(cache=True)
def first_allowed_node(mm, zl_node, nodemask):
    """The node of ac->preferred_zoneref: first zone of the zonelist allowed by the nodemask."""
    for i in range(mm.zonelist_len[zl_node]):
        node = mm.zone_node[mm.zonelist[zl_node, i]]
        if (nodemask >> node) & 1:
            return node
    return zl_node


@njit(cache=True)
def should_reclaim_retry(mm, zl_node, nodemask, no_progress_loops):
    """should_reclaim_retry(): retry while some allowed zone could pass MIN if its reclaimable
    pages were freed, counting that hope down with every loop without progress."""
    if no_progress_loops > MAX_RECLAIM_RETRIES:
        return False
    sc = new_sc(0, 0, 0)
    for i in range(mm.zonelist_len[zl_node]):
        z = mm.zonelist[zl_node, i]
        if not (nodemask >> mm.zone_node[z]) & 1:
            continue
        available = zone_reclaimable_pages(mm, z, sc) + mm.zone_free[z]
        available -= (no_progress_loops * available + MAX_RECLAIM_RETRIES - 1) // MAX_RECLAIM_RETRIES
        if available > mm.zone_wmark[z, WMARK_MIN] + mm.zone_reserve[z]:
            return True
    return False


@njit(cache=True)
def zap_page(mm, page):
    """zap_pte_range() for one page (munmap, MADV_DONTNEED, exit): it leaves its LRU and node,
    or its swap slot."""
    z = mm.pg_zone[page]
    if z >= 0:
        lruvec_del_folio(mm, page)
        free_page(mm, page)
        mm.pg_flags[page] = 0
        if lru_gen_enabled(mm):
            mm.pg_gen[page] = 0
    elif z == SWAPPED:
        mm.pg_zone[page] = NOT_PRESENT
        mm.knob[K_SWAP_USED] -= 1


@njit(cache=True)
def oom_kill_process(mm, t, now, memcg):
    """out_of_memory() / mem_cgroup_out_of_memory(): kill the task with the most resident pages
    (oom_badness()), among the memcg's tasks when memcg >= 0, and free its memory. Returns the
    victim."""
    victim = t
    best = -1
    for k in range(mm.task_alive.shape[0]):
        if mm.task_alive[k] and (memcg < 0 or mm.task_memcg[k] == memcg):
            rss = mm.task_rss[k].sum()
            if rss > best or (rss == best and k == t):
                best = rss
                victim = k
    for page in range(mm.task_base[victim], mm.task_base[victim] + mm.task_footprint[victim]):
        zap_page(mm, page)
    mm.task_alive[victim] = 0
    mm.vmstat[mm.task_cpu[t], vs.OOM_KILL] += 1
    mm.memcg_stat[mm.task_memcg[victim], MEMCG_OOM_KILL] += 1
    k = int(mm.oom_log[0, 0]) + 1
    if k < mm.oom_log.shape[0]:
        mm.oom_log[0, 0] = k
        mm.oom_log[k, 0] = now
        mm.oom_log[k, 1] = victim
        mm.oom_log[k, 2] = t
    return victim


@njit(cache=True)
def try_charge_memcg(mm, t, memcg):
    """try_charge_memcg() (mm/memcontrol.c, v6.x): charge one page; over memory.max, reclaim
    inside the memcg and retry -- without limit while reclaim reports progress (demotions
    count, though they do not lower the charge), else MAX_RECLAIM_RETRIES times. False: memcg
    OOM."""
    limit = mm.memcg_max[memcg]
    mm.memcg_usage[memcg] += 1           # charged here; taken back if the charge fails
    if limit < 0 or mm.memcg_usage[memcg] <= limit:
        return True
    mm.memcg_usage[memcg] -= 1
    retries = MAX_RECLAIM_RETRIES
    for _ in range(1_000_000):           # bound for safety; progress always ends sooner
        mm.memcg_stat[memcg, MEMCG_MAX_EVENTS] += 1
        sc = try_to_free_mem_cgroup_pages(mm, memcg, 1, mm.task_cpu[t], mm.task_clock[t], False)
        mm.task_clock[t] += sc[SC_COST_NS]
        mm.task_stall_ns[t] += sc[SC_COST_NS]
        if mm.memcg_usage[memcg] + 1 <= limit:
            mm.memcg_usage[memcg] += 1
            return True
        if sc[SC_NR_RECLAIMED] > 0:
            continue
        if retries == 0:
            return False
        retries -= 1
    return False


@njit(cache=True)
def memory_reclaim(mm_struct, t, memcg, nr_pages):
    """memory.reclaim (proactive reclaim, v5.19+): reclaim nr_pages from the memcg in
    SWAP_CLUSTER_MAX steps, giving up after MAX_RECLAIM_RETRIES steps without progress.
    Returns the pages reclaimed. (Called from Python with the MM: works on its view.)"""
    mm = mm_view(mm_struct)
    done = 0
    retries = MAX_RECLAIM_RETRIES
    while done < nr_pages:
        sc = try_to_free_mem_cgroup_pages(mm, memcg, min(nr_pages - done, 32), mm.task_cpu[t],
                                          mm.task_clock[t], True)
        mm.task_clock[t] += sc[SC_COST_NS]
        if sc[SC_NR_RECLAIMED] == 0:
            if retries == 0:
                break
            retries -= 1
        done += sc[SC_NR_RECLAIMED]
    return done


RECLAIM_DISTANCE = 30
NODE_RECLAIM_PRIORITY = 4
RECLAIM_WRITE = 2
RECLAIM_UNMAP = 4


@njit(cache=True)
def node_reclaim(mm, node, cpu, t):
    """node_reclaim() (mm/vmscan.c): reclaim on a node whose zone failed its watermark, before
    falling back to the next node -- only the local node or a CPU-less one, only when it has
    more than min_unmapped_ratio (1 %) of reclaimable page cache; priority 4 down to 0 with
    may_writepage = RECLAIM_WRITE and may_unmap = RECLAIM_UNMAP, until a page is freed.
    Counts zone_reclaim_failed when nothing came back. Returns the pages reclaimed."""
    mode = mm.knob[K_ZONE_RECLAIM_MODE]
    managed = 0
    cache = 0
    for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
        managed += mm.zone_managed[z]
        cache += mm.zone_file[z]
    if cache <= managed // 100:                      # node_pagecache_reclaimable() vs min_unmapped
        return 0
    if mm.task_cpu[t] != node and mm.node_cpus[node] > 0:
        return 0
    sc = new_sc(NODE_RECLAIM_PRIORITY, BATCH, 0)
    sc[SC_MAY_WRITEPAGE] = 1 if mode & RECLAIM_WRITE else 0
    sc[SC_MAY_UNMAP] = 1 if mode & RECLAIM_UNMAP else 0
    for prio in range(NODE_RECLAIM_PRIORITY, -1, -1):
        sc[SC_PRIORITY] = prio
        shrink_node(mm, node, sc, cpu, mm.task_clock[t] + sc[SC_COST_NS])
        reclaim_concurrently(mm, sc, mm.task_clock[t])
        if sc[SC_NR_RECLAIMED] >= 1:
            break
    mm.task_clock[t] += sc[SC_COST_NS]
    mm.task_stall_ns[t] += sc[SC_COST_NS]
    if sc[SC_NR_RECLAIMED] == 0:
        mm.vmstat[node, vs.ZONE_RECLAIM_FAILED] += 1
    return sc[SC_NR_RECLAIMED]


@njit(cache=True)
def get_page_from_freelist_reclaim(mm, t, zl_node, nodemask, wmark):
    """get_page_from_freelist() for a task's own allocation: as the fast walk, but a zone that
    fails its watermark first gets node_reclaim() when zone_reclaim_mode enables it and the
    zone is within RECLAIM_DISTANCE of the preferred zone (zone_allows_reclaim())."""
    if not mm.knob[K_NODE_RECLAIM]:
        return get_page_from_freelist(mm, zl_node, nodemask, wmark)
    pref = first_allowed_node(mm, zl_node, nodemask)
    cpu = mm.task_cpu[t]
    for i in range(mm.zonelist_len[zl_node]):
        z = mm.zonelist[zl_node, i]
        node = mm.zone_node[z]
        if not (nodemask >> node) & 1:
            continue
        if zone_watermark_ok(mm, z, wmark, 0):
            return z
        if mm.node_dist[pref, node] > RECLAIM_DISTANCE:
            continue
        if node_reclaim(mm, node, cpu, t) > 0 and zone_watermark_ok(mm, z, wmark, 0):
            return z
    return -1


@njit(cache=True)
def alloc_pages(mm, t, page):
    """__alloc_pages() for one user page of task t: fast path at LOW (no kswapd wake-up), then
    the slow path: wake kswapd on every allowed node, retry at MIN, direct reclaim, retry,
    and OOM when reclaim stops making progress. Returns the zone, or -1 if t was OOM-killed."""
    zl_node, nodemask = policy_zonelist(mm, t)
    cpu = mm.task_cpu[t]
    z = get_page_from_freelist_reclaim(mm, t, zl_node, nodemask, WMARK_LOW)
    if z < 0:
        now = mm.task_clock[t]
        for i in range(mm.zonelist_len[zl_node]):          # wake_all_kswapds()
            node = mm.zone_node[mm.zonelist[zl_node, i]]
            if (nodemask >> node) & 1:
                wakeup_kswapd(mm, node, now)
        z = get_page_from_freelist_reclaim(mm, t, zl_node, nodemask, WMARK_MIN)
        no_progress = 0
        while z < 0:
            sc = try_to_free_pages(mm, zl_node, nodemask, cpu, mm.task_clock[t])
            mm.task_clock[t] += sc[SC_COST_NS]
            mm.task_stall_ns[t] += sc[SC_COST_NS]
            run_kswapds(mm, mm.task_clock[t])
            z = get_page_from_freelist(mm, zl_node, nodemask, WMARK_MIN)
            if z >= 0:
                break
            no_progress = 0 if sc[SC_NR_RECLAIMED] > 0 else no_progress + 1
            if not should_reclaim_retry(mm, zl_node, nodemask, no_progress):
                victim = oom_kill_process(mm, t, mm.task_clock[t], -1)
                if victim == t:
                    return -1
                no_progress = 0
            z = get_page_from_freelist(mm, zl_node, nodemask, WMARK_MIN)
    rmqueue(mm, z, page)
    rmqueue_wakeup_toptier(mm, z, mm.task_clock[t])
    zone_statistics(mm, first_allowed_node(mm, zl_node, nodemask), mm.zone_node[z], cpu)
    return z


@njit(cache=True)
def handle_mm_fault(mm, t, page, write, file, syscall):
    """Task t touches a page that is not present. Anonymous memory: do_anonymous_page() for a
    first touch, do_swap_page() from swap; new anon pages go on the LRU as folio_add_lru_vma()
    puts them: inactive from v5.9 on, active before (rfc-2020's v5.8 base); under MGLRU into the
    youngest generation (a read() into the oldest ones, lru_gen_add_folio()). Page cache
    (``file``): filemap_fault()/filemap_read() allocate a page, read it from storage (not for
    a whole-page write()) and put it on the inactive file list, or the active one when the
    refault is within the workingset; read() marks it accessed. Returns False if the task was
    OOM-killed."""
    cpu = mm.task_cpu[t]
    if not syscall:                     # read()/write() miss the page cache without a fault
        mm.vmstat[cpu, vs.PGFAULT] += 1
    old = mm.pg_zone[page]
    memcg = mm.task_memcg[t]
    # The kernel charges right after allocating; charging first is the same here and keeps
    # the new page out of the memcg reclaim the charge may run.
    while not try_charge_memcg(mm, t, memcg):
        if oom_kill_process(mm, t, mm.task_clock[t], memcg) == t:
            return False
    mm.pg_memcg[page] = memcg
    z = alloc_pages(mm, t, page)
    if z < 0:
        mm.memcg_usage[memcg] -= 1
        return False
    node = mm.zone_node[z]
    cost = mm.cost[C_PAGE_FAULT]
    mglru = lru_gen_enabled(mm)
    if mglru:
        mm.pg_gen[page] = 0             # a new folio: no gen, no refs
    if file:
        f = PG_FILE
        if old == SHADOW:
            if mglru:
                f |= lru_gen_refault(mm, page, node, 1, not syscall)
            else:
                f |= workingset_refault(mm, page, node, 1)
            # the whole refault is time a machine with enough fast memory would not spend
            mm.task_tier_ns[t] += mm.cost[C_FILE_READ] + mm.cost[C_PAGE_FAULT]
        if not (syscall and write):
            mm.vmstat[cpu, vs.PGPGIN] += 4
            cost += mm.cost[C_FILE_READ]
            mm.task_from_storage[t, node] += 1
            if not syscall:             # filemap_fault(): VM_FAULT_MAJOR
                mm.vmstat[cpu, vs.PGMAJFAULT] += 1
        if syscall:
            f |= PG_REFERENCED          # filemap_read() -> folio_mark_accessed() on a new folio
        else:
            f |= PG_YOUNG
    else:
        f = PG_YOUNG
        if mm.knob[K_ANON_ACTIVE_START]:
            f |= PG_ACTIVE
        if old == SWAPPED:
            if mglru:
                f |= lru_gen_refault(mm, page, node, 0, True)
            else:
                f |= workingset_refault(mm, page, node, 0)
            mm.knob[K_SWAP_USED] -= 1
            mm.vmstat[cpu, vs.PSWPIN] += 1
            mm.vmstat[cpu, vs.PGPGIN] += 4
            mm.vmstat[cpu, vs.PGMAJFAULT] += 1  # do_swap_page(): no swap cache, read it in
            mm.task_from_storage[t, node] += 1
            cost += mm.cost[C_SWAP_IN]
            mm.task_tier_ns[t] += mm.cost[C_SWAP_IN] + mm.cost[C_PAGE_FAULT]
    if write:
        f |= PG_DIRTY
    if mglru and not syscall:
        # folio_add_lru() (mm/swap.c, v6.12): a folio added in a fault (lru_gen_in_fault())
        # is set active, so lru_gen_add_folio() puts it in the youngest generation
        f |= PG_ACTIVE
    mm.pg_flags[page] = f
    mm.pg_scan[page] = 0
    damon_new_folio(mm, page)
    lruvec_add_folio(mm, page)
    mm.task_clock[t] += cost
    return True
