"""The multi-gen LRU: aging and eviction (mm/vmscan.c, the CONFIG_LRU_GEN section, v6.12).

Each lruvec keeps generations max_seq (youngest) down to min_seq[type] (oldest), 2 to 4 of
them (MIN_NR_GENS .. MAX_NR_GENS); gen = seq % MAX_NR_GENS. The lists and a page's place on
them are in lru.py (lru_gen_add_folio()/lru_gen_del_folio(), include/linux/mm_inline.h).

    shrink_node() [root reclaim] -> lru_gen_shrink_node(): set_initial_priority(), then for each
        memcg shrink_one() -> try_to_shrink_lruvec(), until should_abort_scan()
    shrink_lruvec() [memcg reclaim] -> lru_gen_shrink_lruvec() -> try_to_shrink_lruvec()
    try_to_shrink_lruvec(): loop
        nr = get_nr_to_scan(): should_run_aging()? at DEF_PRIORITY just scan less; else
             try_to_inc_max_seq() (walk the page tables: young pages -> max_seq; then
             inc_max_seq(), which first retires the oldest gen if all four are in use) and stop
        evict_folios(): isolate_folios() picks the type (and the tiers to protect) from the
             refault feedback, scan_folios() sorts the oldest gen (sort_folio(): pages the walk
             promoted move to their gen, protected tiers to the next gen) and isolates up to
             MIN_LRU_BATCH; try_to_inc_min_seq(); then the SAME shrink_folio_list() as the
             classic LRU (demotion, swap, page-cache drop); survivors go back young
        stop when enough was scanned, or should_abort_scan()

Modelled as v6.12 does it: placement, lazy promotion by the walk (folio_update_gen()) and by
sort_folio(), the tiers of pages read through file descriptors (folio_inc_refs()) and the
refault PID controller (read_ctrl_pos()/positive_ctrl_err(), NR_HIST_GENS = 1),
lru_gen_look_around() around a young page found by reclaim, get_swappiness() (anon evictable
by demotion without swap), should_abort_scan() (v6.7), set_initial_priority() (v6.8 clamp).
Not modelled: the walk's Bloom filter and should_skip_mm() (every mapped page is looked at, at
the cost of one pte each), the memcg LRU of shrink_many() (memcgs are visited in id order),
min_ttl_ms (0, the default), PG_reclaim (dirty page cache is written back at once when
reclaim meets it, see sort_folio()), MAX_LRU_BATCH restarts of inc_min_seq() (same result).
"""

from __future__ import annotations

import numpy as np

from . import vmstat as vs
from .jit import njit
from .damon_paddr import damon_folio_referenced
from .lru import (LRU_GEN_ANON, LRU_GEN_FILE, LRU_GEN_MASK, LRU_REFS_MASK, LRU_REFS_WIDTH,
                  folio_lru_gen, folio_lru_refs, gen_list, gen_list_add, gen_list_del, gen_nr,
                  lru_gen_add_folio, lru_gen_del_folio, lru_gen_from_seq, lru_tier_from_refs,
                  lruvec_of)
from .page_alloc import DEF_PRIORITY, balance_wmark, page_task, zone_watermark_ok
from .state import (C_NUMA_SCAN_PTE, C_SCAN, CTRL_AVG_REFAULTED, CTRL_AVG_TOTAL, CTRL_EVICTED,
                    CTRL_PROTECTED, CTRL_REFAULTED, K_CHECK, K_ERROR, K_SWAPPINESS, MAX_NR_GENS,
                    MAX_NR_TIERS, MEMCG_PGSCAN, MEMCG_PGSTEAL, MIN_NR_GENS, NR_ZONE_TYPES,
                    PG_ACTIVE, PG_DIRTY, PG_FILE, PG_REFERENCED, PG_WORKINGSET, PG_YOUNG,
                    SC_KSWAPD, SC_MAY_SWAP, SC_MAY_UNMAP, SC_MAY_WRITEPAGE, SC_NR_RECLAIMED,
                    SC_NR_SCANNED, SC_NR_TO_RECLAIM, SC_PRIORITY, SC_PROACTIVE, SC_TARGET,
                    SC_COST_NS)
from .vmscan import (FOLIOREF_ACTIVATE, FOLIOREF_KEEP, FOLIOREF_RECLAIM, can_demote, can_reclaim_anon_pages,
                     cgroup_reclaim, check_page_accounting, memcg_protected, folio_mapped, shrink_folio_list, swap_free_pages)

MIN_LRU_BATCH = 64                 # BITS_PER_LONG
MAX_LRU_BATCH = MIN_LRU_BATCH * 64
MAX_SWAPPINESS = 200


@njit(cache=True, inline="always")
def root_reclaim(sc):
    """root_reclaim(): global reclaim, or reclaim on behalf of the root memcg."""
    return sc[SC_TARGET] <= 0


@njit(cache=True, inline="always")
def get_nr_gens(mm, lruvec, type_):
    return mm.lrugen_seq[lruvec, 0] - mm.lrugen_seq[lruvec, 1 + type_] + 1


@njit(cache=True, inline="always")
def n_nodes_of(mm):
    return mm.kswapd_state.shape[0]


@njit(cache=True)
def lru_gen_update_size(mm, lruvec, type_, old_gen, new_gen):
    if old_gen >= 0:
        mm.lrugen_nr[gen_nr(lruvec, old_gen, type_)] -= 1
    if new_gen >= 0:
        mm.lrugen_nr[gen_nr(lruvec, new_gen, type_)] += 1


@njit(cache=True)
def list_move(mm, src, dst, page, tail):
    gen_list_del(mm, src, page)
    gen_list_add(mm, dst, page, tail)


# ---------------------------------------------------------------- generations of one page

@njit(cache=True)
def folio_update_gen(mm, page, gen):
    """folio_update_gen() (v6.12): the walk (or look-around) saw the page young: give it ``gen``
    without moving it (sort_folio() moves it when eviction reaches it), clearing its refs. A
    page isolated by reclaim gets PG_referenced instead, for shrink_folio_list(). Returns the
    old gen, -1 if isolated."""
    g = mm.pg_gen[page]
    if not (g & LRU_GEN_MASK):
        mm.pg_flags[page] |= PG_REFERENCED
        return -1
    mm.pg_gen[page] = gen + 1
    mm.pg_flags[page] &= ~(PG_REFERENCED | PG_WORKINGSET)
    return (g & LRU_GEN_MASK) - 1


@njit(cache=True)
def folio_inc_gen(mm, lruvec, page, type_):
    """folio_inc_gen() (v6.12): a page of the oldest gen moves one gen up (refs cleared); one the
    walk already promoted keeps its gen. Returns the gen. (``reclaiming`` would set PG_reclaim,
    not modelled.)"""
    old_gen = lru_gen_from_seq(mm.lrugen_seq[lruvec, 1 + type_])
    new_gen = folio_lru_gen(mm, page)
    if new_gen >= 0 and new_gen != old_gen:
        return new_gen
    new_gen = (old_gen + 1) % MAX_NR_GENS
    mm.pg_gen[page] = new_gen + 1
    mm.pg_flags[page] &= ~(PG_REFERENCED | PG_WORKINGSET)
    lru_gen_update_size(mm, lruvec, type_, old_gen, new_gen)
    return new_gen


# ---------------------------------------------------------------- the refault controller

@njit(cache=True)
def read_ctrl_pos(mm, lruvec, type_, tier):
    """read_ctrl_pos() (v6.12): (refaulted, total) of a tier: the running averages plus this
    generation's refaults and evictions, plus the pages sort_folio() protected in the tier."""
    c = mm.lrugen_ctrl[lruvec, type_]
    refaulted = c[CTRL_AVG_REFAULTED, tier] + c[CTRL_REFAULTED, tier]
    total = c[CTRL_AVG_TOTAL, tier] + c[CTRL_EVICTED, tier]
    if tier:
        total += c[CTRL_PROTECTED, tier - 1]
    return refaulted, total


@njit(cache=True)
def positive_ctrl_err(sp_ref, sp_tot, sp_gain, pv_ref, pv_tot, pv_gain):
    """positive_ctrl_err(): true if the PV has few refaults or a lower refaulted/total than
    the SP (set point)."""
    return (pv_ref < MIN_LRU_BATCH or
            pv_ref * (sp_tot + MIN_LRU_BATCH) * sp_gain <= (sp_ref + 1) * pv_tot * pv_gain)


@njit(cache=True)
def reset_ctrl_pos(mm, lruvec, type_, carryover):
    """reset_ctrl_pos() with NR_HIST_GENS = 1: when min_seq moves (carryover), fold this
    generation's counts into the averages (halved) and start again."""
    if not carryover:
        return
    c = mm.lrugen_ctrl[lruvec, type_]
    for tier in range(MAX_NR_TIERS):
        c[CTRL_AVG_REFAULTED, tier] = (c[CTRL_AVG_REFAULTED, tier] + c[CTRL_REFAULTED, tier]) // 2
        total = c[CTRL_AVG_TOTAL, tier] + c[CTRL_EVICTED, tier]
        if tier:
            total += c[CTRL_PROTECTED, tier - 1]
        c[CTRL_AVG_TOTAL, tier] = total // 2
        c[CTRL_REFAULTED, tier] = 0
        c[CTRL_EVICTED, tier] = 0
        if tier:
            c[CTRL_PROTECTED, tier - 1] = 0


@njit(cache=True)
def get_tier_idx(mm, lruvec, type_):
    """get_tier_idx(): the highest tier whose refault rate stays within twice tier 0's (gain
    1:2); tiers above it are protected."""
    sp_ref, sp_tot = read_ctrl_pos(mm, lruvec, type_, 0)
    tier = 1
    while tier < MAX_NR_TIERS:
        pv_ref, pv_tot = read_ctrl_pos(mm, lruvec, type_, tier)
        if not positive_ctrl_err(sp_ref, sp_tot, 1, pv_ref, pv_tot, 2):
            break
        tier += 1
    return tier - 1


@njit(cache=True)
def get_type_to_scan(mm, lruvec, swappiness):
    """get_type_to_scan(): compare tier 0 of anon and file (gains swappiness and 200 -
    swappiness) to pick the type; then the tiers of that type to evict. Returns (type, tier)."""
    gain0 = swappiness
    gain1 = MAX_SWAPPINESS - swappiness
    a_ref, a_tot = read_ctrl_pos(mm, lruvec, LRU_GEN_ANON, 0)
    f_ref, f_tot = read_ctrl_pos(mm, lruvec, LRU_GEN_FILE, 0)
    type_ = 1 if positive_ctrl_err(a_ref, a_tot, gain0, f_ref, f_tot, gain1) else 0
    other = 1 - type_
    sp_ref, sp_tot = read_ctrl_pos(mm, lruvec, other, 0)
    sp_gain = gain1 if other else gain0
    pv_gain = gain1 if type_ else gain0
    tier = 1
    while tier < MAX_NR_TIERS:
        pv_ref, pv_tot = read_ctrl_pos(mm, lruvec, type_, tier)
        if not positive_ctrl_err(sp_ref, sp_tot, sp_gain, pv_ref, pv_tot, pv_gain):
            break
        tier += 1
    return type_, tier - 1


# ---------------------------------------------------------------- aging

@njit(cache=True)
def walk_mm(mm, lruvec, new_gen, can_swap, sc):
    """walk_mm() -> walk_pte_range() (v6.12) over every task's mappings: a young pte of a page
    on this lruvec is cleared and the page gets the current max_seq (folio_update_gen(),
    update_batch_size()); anon is skipped when it cannot be evicted (get_pfn_folio()).
    tierlab's PG_YOUNG is the pte accessed bit. Costs one pte look per mapped present page."""
    node = lruvec % n_nodes_of(mm)
    memcg = lruvec // n_nodes_of(mm)
    # the arrays the loop reads, held locally (each mm.x is a load through the struct)
    pg_zone = mm.pg_zone
    pg_flags = mm.pg_flags
    pg_memcg = mm.pg_memcg
    zone_node = mm.zone_node
    looked = 0
    for owner in range(mm.task_base.shape[0]):
        if not mm.owner_mapped[owner]:
            continue
        base = mm.task_base[owner]
        for page in range(base, base + mm.task_footprint[owner]):
            z = pg_zone[page]
            if z < 0:
                continue
            looked += 1
            f = pg_flags[page]
            if not (f & PG_YOUNG) or zone_node[z] != node or pg_memcg[page] != memcg:
                continue
            if not (f & PG_FILE) and not can_swap:
                continue
            pg_flags[page] = f & ~PG_YOUNG
            old_gen = folio_update_gen(mm, page, new_gen)
            if old_gen >= 0 and old_gen != new_gen:
                lru_gen_update_size(mm, lruvec, 1 if f & PG_FILE else 0, old_gen, new_gen)
    sc[SC_COST_NS] += np.int64(looked * mm.cost[C_NUMA_SCAN_PTE])


@njit(cache=True)
def inc_min_seq(mm, lruvec, type_, can_swap):
    """inc_min_seq() (v6.12): retire the oldest gen: its pages move to the next gen's tail
    (folio_inc_gen()); anon that cannot be evicted stays where it is (the kernel's noted
    cold/hot inversion)."""
    if not (type_ == LRU_GEN_ANON and not can_swap):
        old_gen = lru_gen_from_seq(mm.lrugen_seq[lruvec, 1 + type_])
        for zt in range(NR_ZONE_TYPES):
            src = gen_list(lruvec, old_gen, type_, zt)
            while mm.lrugen_tail[src] >= 0:
                page = mm.lrugen_tail[src]
                new_gen = folio_inc_gen(mm, lruvec, page, type_)
                list_move(mm, src, gen_list(lruvec, new_gen, type_, zt), page, True)
    reset_ctrl_pos(mm, lruvec, type_, True)
    mm.lrugen_seq[lruvec, 1 + type_] += 1


@njit(cache=True)
def try_to_inc_min_seq(mm, lruvec, can_swap):
    """try_to_inc_min_seq() (v6.12): min_seq of each type moves past empty gens; with swap (or
    demotion) anon and file min_seq are kept together (anon never older than file's old)."""
    max_seq = mm.lrugen_seq[lruvec, 0]
    ms = np.empty(2, np.int64)
    ms[0] = mm.lrugen_seq[lruvec, 1]
    ms[1] = mm.lrugen_seq[lruvec, 2]
    start = 0 if can_swap else 1
    for type_ in range(start, 2):
        while ms[type_] + MIN_NR_GENS <= max_seq:
            gen = lru_gen_from_seq(ms[type_])
            empty = True
            for zt in range(NR_ZONE_TYPES):
                if mm.lrugen_head[gen_list(lruvec, gen, type_, zt)] >= 0:
                    empty = False
                    break
            if not empty:
                break
            ms[type_] += 1
    if can_swap:
        ms[0] = min(ms[0], ms[1])
        ms[1] = max(ms[0], mm.lrugen_seq[lruvec, 2])
    success = False
    for type_ in range(start, 2):
        if ms[type_] == mm.lrugen_seq[lruvec, 1 + type_]:
            continue
        reset_ctrl_pos(mm, lruvec, type_, True)
        mm.lrugen_seq[lruvec, 1 + type_] = ms[type_]
        success = True
    return success


@njit(cache=True)
def inc_max_seq(mm, lruvec, seq, can_swap):
    """inc_max_seq() (v6.12): a new youngest generation; when all MAX_NR_GENS are in use the
    oldest of that type is retired first (file first, then anon)."""
    if seq != mm.lrugen_seq[lruvec, 0]:
        return False
    for type_ in range(1, -1, -1):
        if get_nr_gens(mm, lruvec, type_) == MAX_NR_GENS:
            inc_min_seq(mm, lruvec, type_, can_swap)
    mm.lrugen_seq[lruvec, 0] = seq + 1
    return True


@njit(cache=True)
def try_to_inc_max_seq(mm, lruvec, seq, can_swap, sc):
    """try_to_inc_max_seq() (v6.12, lru_gen enabled = 0x0007: the mm walk is on): walk the
    page tables for young pages, then inc_max_seq()."""
    walk_mm(mm, lruvec, lru_gen_from_seq(seq), can_swap, sc)
    return inc_max_seq(mm, lruvec, seq, can_swap)


@njit(cache=True)
def should_run_aging(mm, lruvec, max_seq, can_swap):
    """should_run_aging() (v6.12): age when the evictable type is down to MIN_NR_GENS, or
    (with exactly MIN_NR_GENS + 1 gens) when over half the pages are in the youngest gen or
    fewer than a quarter in the oldest. Returns (age, nr_to_scan = evictable pages)."""
    start = 0 if can_swap else 1
    if mm.lrugen_seq[lruvec, 1 + start] + MIN_NR_GENS > max_seq:
        return True, 0
    old = 0
    young = 0
    total = 0
    for type_ in range(start, 2):
        for seq in range(mm.lrugen_seq[lruvec, 1 + type_], max_seq + 1):
            size = max(mm.lrugen_nr[gen_nr(lruvec, lru_gen_from_seq(seq), type_)], 0)
            total += size
            if seq == max_seq:
                young += size
            elif seq + MIN_NR_GENS == max_seq:
                old += size
    if mm.lrugen_seq[lruvec, 1 + start] + MIN_NR_GENS < max_seq:
        return False, total
    if young * MIN_NR_GENS > total:
        return True, total
    if old * (MIN_NR_GENS + 2) < total:
        return True, total
    return False, total


# ---------------------------------------------------------------- eviction

@njit(cache=True)
def get_swappiness(mm, lruvec, sc):
    """get_swappiness() (v6.12): 0 (file only) without may_swap, or when the node cannot demote
    and fewer than MIN_LRU_BATCH swap slots are free; else vm.swappiness."""
    if not sc[SC_MAY_SWAP]:
        return 0
    node = lruvec % n_nodes_of(mm)
    if not can_demote(mm, node, sc) and swap_free_pages(mm) < MIN_LRU_BATCH:
        return 0
    return mm.knob[K_SWAPPINESS]


@njit(cache=True)
def mem_cgroup_below_min(mm, sc, memcg):
    """mem_cgroup_below_min(target, memcg): protected by memory.min, unless it is the target."""
    return memcg > 0 and memcg != sc[SC_TARGET] and mm.memcg_usage[memcg] <= mm.memcg_min[memcg]


@njit(cache=True)
def get_nr_to_scan(mm, lruvec, sc, can_swap):
    """get_nr_to_scan() (v6.12): the evictable size >> priority; at DEF_PRIORITY reclaim tries
    to get by without aging; otherwise, if aging is due, age and report -1 (rotate: this lruvec
    is low on cold pages) or 0."""
    if mem_cgroup_below_min(mm, sc, lruvec // n_nodes_of(mm)):
        return -1
    max_seq = mm.lrugen_seq[lruvec, 0]
    success, nr_to_scan = should_run_aging(mm, lruvec, max_seq, can_swap)
    if not success or sc[SC_PRIORITY] == DEF_PRIORITY:
        return nr_to_scan >> sc[SC_PRIORITY]
    return -1 if try_to_inc_max_seq(mm, lruvec, max_seq, can_swap, sc) else 0


@njit(cache=True)
def should_abort_scan(mm, lruvec, sc):
    """should_abort_scan() (v6.7 "mm/mglru: try to stop at high watermarks"): root reclaim stops
    once nr_to_reclaim (at least compact_gap(0) = 2) is met; kswapd also once every managed zone
    of the node is MIN_LRU_BATCH above the mark it balances to (PROMO in tiering mode)."""
    if not root_reclaim(sc):
        return False
    if sc[SC_NR_RECLAIMED] >= max(sc[SC_NR_TO_RECLAIM], 2):
        return True
    if not sc[SC_KSWAPD]:
        return False
    mark = balance_wmark(mm)
    node = lruvec % n_nodes_of(mm)
    for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
        if mm.zone_managed[z] > 0 and not zone_watermark_ok(mm, z, mark, MIN_LRU_BATCH):
            return False
    return True


@njit(cache=True)
def sort_folio(mm, lruvec, page, src, type_, tier_idx, sc):
    """sort_folio() (v6.12): a page of the oldest gen that need not be evicted now: promoted by
    the walk (moves to its gen), in a protected tier (tier > tier_idx, or refs at the maximum:
    next gen, counted as protected), or dirty page cache (waiting for writeback: next gen).
    tierlab has no flusher: the writeback the kernel leaves to it is done here at once
    (pgpgout), so the page is clean when reclaim meets it again. Returns True if sorted."""
    gen = folio_lru_gen(mm, page)
    zt = mm.zone_type[mm.pg_zone[page]]
    if gen != lru_gen_from_seq(mm.lrugen_seq[lruvec, 1 + type_]):
        list_move(mm, src, gen_list(lruvec, gen, type_, zt), page, False)
        return True
    refs = folio_lru_refs(mm, page)
    tier = lru_tier_from_refs(refs)
    if tier > tier_idx or refs == (1 << LRU_REFS_WIDTH):
        gen = folio_inc_gen(mm, lruvec, page, type_)
        list_move(mm, src, gen_list(lruvec, gen, type_, zt), page, True)
        mm.lrugen_ctrl[lruvec, type_, CTRL_PROTECTED, tier - 1] += 1
        return True
    if type_ == LRU_GEN_FILE and mm.pg_flags[page] & PG_DIRTY:
        gen = folio_inc_gen(mm, lruvec, page, type_)
        list_move(mm, src, gen_list(lruvec, gen, type_, zt), page, False)
        mm.pg_flags[page] &= ~PG_DIRTY
        mm.vmstat[lruvec % n_nodes_of(mm), vs.PGPGOUT] += 4
        return True
    return False


@njit(cache=True)
def isolate_folio(mm, page):
    """isolate_folio() (v6.12): refs are forgotten unless PG_referenced is set; PG_referenced is
    cleared for shrink_folio_list(); off the list, not active (reclaiming)."""
    f = mm.pg_flags[page]
    if not (f & PG_REFERENCED):
        mm.pg_gen[page] &= ~LRU_REFS_MASK
        f &= ~PG_WORKINGSET
    mm.pg_flags[page] = f & ~PG_REFERENCED
    lru_gen_del_folio(mm, page, True)


@njit(cache=True)
def scan_folios(mm, lruvec, sc, type_, tier, buf):
    """scan_folios() (v6.12): sort or isolate pages from the tail of the oldest gen, highest zone
    first, until MIN_LRU_BATCH are isolated or MAX_LRU_BATCH looked at. pgscan counts the
    isolated pages only, pgrefill the sorted ones. Returns (scanned, isolated); scanned is 0
    when nothing could be isolated from a non-exhausted list (no progress)."""
    if get_nr_gens(mm, lruvec, type_) == MIN_NR_GENS:
        return 0, 0
    gen = lru_gen_from_seq(mm.lrugen_seq[lruvec, 1 + type_])
    remaining = MAX_LRU_BATCH
    scanned = 0
    sorted_ = 0
    isolated = 0
    for zt in range(NR_ZONE_TYPES - 1, -1, -1):
        src = gen_list(lruvec, gen, type_, zt)
        while mm.lrugen_tail[src] >= 0:
            page = mm.lrugen_tail[src]
            scanned += 1
            if sort_folio(mm, lruvec, page, src, type_, tier, sc):
                sorted_ += 1
            else:
                isolate_folio(mm, page)
                buf[isolated] = page
                isolated += 1
            remaining -= 1
            if remaining == 0 or isolated >= MIN_LRU_BATCH:
                break
        if remaining == 0 or isolated >= MIN_LRU_BATCH:
            break
    node = lruvec % n_nodes_of(mm)
    if not cgroup_reclaim(sc):
        mm.vmstat[node, vs.PGSCAN_DIRECT - sc[SC_KSWAPD]] += isolated
        mm.vmstat[node, vs.PGREFILL] += sorted_
    mm.memcg_stat[lruvec // n_nodes_of(mm), MEMCG_PGSCAN] += isolated
    mm.vmstat[node, vs.PGSCAN_ANON + type_] += isolated
    sc[SC_COST_NS] += np.int64(scanned * mm.cost[C_SCAN])
    if isolated or remaining == 0:
        return scanned, isolated
    return 0, isolated


@njit(cache=True)
def isolate_folios(mm, lruvec, sc, swappiness, buf):
    """isolate_folios() (v6.12): the obvious type first (file only at swappiness 0; anon when
    its min_seq is older; 1 = file first, 200 = anon first), else the refault feedback decides;
    the other type when the first yields nothing. Returns (scanned, isolated, type)."""
    tier = -1
    if not swappiness:
        type_ = LRU_GEN_FILE
    elif mm.lrugen_seq[lruvec, 1] < mm.lrugen_seq[lruvec, 2]:
        type_ = LRU_GEN_ANON
    elif swappiness == 1:
        type_ = LRU_GEN_FILE
    elif swappiness == MAX_SWAPPINESS:
        type_ = LRU_GEN_ANON
    else:
        type_, tier = get_type_to_scan(mm, lruvec, swappiness)
    scanned = 0
    isolated = 0
    for _ in range(0 if swappiness else 1, 2):
        if tier < 0:
            tier = get_tier_idx(mm, lruvec, type_)
        scanned, isolated = scan_folios(mm, lruvec, sc, type_, tier, buf)
        if scanned:
            break
        type_ = 1 - type_
        tier = -1
    return scanned, isolated, type_


@njit(cache=True)
def evict_folios(mm, lruvec, sc, swappiness, cpu_node, now):
    """evict_folios() (v6.12): isolate, advance min_seq past emptied gens, then the classic
    shrink_folio_list() (demotion, swap-out, page-cache drop; survivors go back through
    lru_gen_putback()). pgsteal counts demoted pages too. Returns the pages scanned (0: no
    progress possible)."""
    buf = mm.isolate_buf
    scanned, n, type_ = isolate_folios(mm, lruvec, sc, swappiness, buf)
    if try_to_inc_min_seq(mm, lruvec, swappiness != 0):
        scanned += 1
    if get_nr_gens(mm, lruvec, 0 if swappiness else 1) == MIN_NR_GENS:
        scanned = 0
    if n == 0:
        return scanned
    node = lruvec % n_nodes_of(mm)
    sc[SC_NR_SCANNED] += n              # shrink_folio_list() counts every page it is given
    reclaimed = shrink_folio_list(mm, buf, n, node, sc, cpu_node, now)
    sc[SC_NR_RECLAIMED] += reclaimed
    if not cgroup_reclaim(sc):
        mm.vmstat[node, vs.PGSTEAL_DIRECT - sc[SC_KSWAPD]] += reclaimed
    mm.memcg_stat[lruvec // n_nodes_of(mm), MEMCG_PGSTEAL] += reclaimed
    mm.vmstat[node, vs.PGSTEAL_ANON + type_] += reclaimed
    if mm.knob[K_CHECK]:
        lru_gen_check_invariants(mm)
    return scanned


@njit(cache=True)
def try_to_shrink_lruvec(mm, lruvec, sc, cpu_node, now):
    """try_to_shrink_lruvec() (v6.12): evict until get_nr_to_scan() pages were scanned, nothing
    moves, or should_abort_scan(). Returns True when the lruvec should be rotated (aged)."""
    swappiness = get_swappiness(mm, lruvec, sc)
    scanned = 0
    while True:
        nr_to_scan = get_nr_to_scan(mm, lruvec, sc, swappiness != 0)
        if nr_to_scan <= 0:
            break
        delta = evict_folios(mm, lruvec, sc, swappiness, cpu_node, now + sc[SC_COST_NS])
        if not delta:
            break
        scanned += delta
        if scanned >= nr_to_scan:
            break
        if should_abort_scan(mm, lruvec, sc):
            break
    return nr_to_scan < 0


@njit(cache=True)
def shrink_one(mm, lruvec, sc, cpu_node, now):
    """shrink_one() (v6.12): skip a memcg under memory.min; one under memory.low only on the
    pass that reclaims protected memory (the kernel moves it to the tail of the memcg LRU and
    comes back to it; tierlab's retry in try_to_free_pages() plays that part)."""
    memcg = lruvec // n_nodes_of(mm)
    if memcg > 0 and memcg_protected(mm, memcg, sc):
        return
    try_to_shrink_lruvec(mm, lruvec, sc, cpu_node, now)


@njit(cache=True)
def inactive_pages(mm, lruvec, type_):
    """NR_INACTIVE_<type> under MGLRU: the pages outside the two youngest gens."""
    total = 0
    for seq in range(mm.lrugen_seq[lruvec, 1 + type_], mm.lrugen_seq[lruvec, 0] - 1):
        total += mm.lrugen_nr[gen_nr(lruvec, lru_gen_from_seq(seq), type_)]
    return total


@njit(cache=True)
def fls_long(x):
    n = 0
    while x > 0:
        n += 1
        x >>= 1
    return n


@njit(cache=True)
def set_initial_priority(mm, node, sc):
    """set_initial_priority() (v6.12 with v6.8's clamp to DEF_PRIORITY/2): for reclaim of at least
    MIN_LRU_BATCH pages, start at the priority where (reclaimable >> priority) ~ nr_to_reclaim,
    reclaimable being the inactive pages of the node (anon only if it can be reclaimed)."""
    if sc[SC_PRIORITY] != DEF_PRIORITY or sc[SC_NR_TO_RECLAIM] < MIN_LRU_BATCH:
        return
    reclaimable = 0
    anon = can_reclaim_anon_pages(mm, node, sc)
    for m in range(mm.memcg_usage.shape[0]):
        lruvec = lruvec_of(mm, m, node)
        reclaimable += inactive_pages(mm, lruvec, LRU_GEN_FILE)
        if anon:
            reclaimable += inactive_pages(mm, lruvec, LRU_GEN_ANON)
    priority = fls_long(reclaimable) - 1 - fls_long(sc[SC_NR_TO_RECLAIM] - 1)
    sc[SC_PRIORITY] = min(max(priority, DEF_PRIORITY // 2), DEF_PRIORITY)


@njit(cache=True)
def lru_gen_shrink_node(mm, node, sc, cpu_node, now):
    """lru_gen_shrink_node() (v6.12): root reclaim of a node. Not at all without may_writepage
    and may_unmap (node_reclaim() without RECLAIM_WRITE/UNMAP); else set_initial_priority()
    and shrink_many(): each memcg's lruvec in turn (id order; the kernel's memcg LRU is not
    modelled) until should_abort_scan(). Any progress resets kswapd_failures. Returns the
    pages reclaimed."""
    before = sc[SC_NR_RECLAIMED]
    if sc[SC_MAY_WRITEPAGE] and sc[SC_MAY_UNMAP]:
        set_initial_priority(mm, node, sc)
        for m in range(mm.memcg_usage.shape[0]):
            lruvec = lruvec_of(mm, m, node)
            shrink_one(mm, lruvec, sc, cpu_node, now + sc[SC_COST_NS])
            if should_abort_scan(mm, lruvec, sc):
                break
    reclaimed = sc[SC_NR_RECLAIMED] - before
    if reclaimed > 0:
        mm.kswapd_failures[node] = 0
    return reclaimed


@njit(cache=True)
def lru_gen_shrink_lruvec(mm, lruvec, sc, cpu_node, now):
    """lru_gen_shrink_lruvec() (v6.12): memcg reclaim of one lruvec. Returns pages reclaimed."""
    before = sc[SC_NR_RECLAIMED]
    try_to_shrink_lruvec(mm, lruvec, sc, cpu_node, now)
    return sc[SC_NR_RECLAIMED] - before


# ---------------------------------------------------------------- inside shrink_folio_list()

@njit(cache=True)
def lru_gen_look_around(mm, page, sc):
    """lru_gen_look_around() (v6.12): reclaim found ``page`` young; look at up to MIN_LRU_BATCH
    ptes around it in the same PMD and mapping, and treat young pages of the same lruvec as
    the walk would: with a walk (kswapd, proactive reclaim) they get max_seq lazily
    (folio_update_gen()); without, they are activated (folio_activate(): moved to max_seq,
    pgactivate). Their young bits are cleared."""
    owner = page_task(mm, page)
    base = mm.task_base[owner]
    vpn = page - base
    start = vpn & ~511
    end = min(vpn | 511, mm.task_footprint[owner] - 1) + 1
    if end - start == 1:
        return
    if end - start > MIN_LRU_BATCH:
        if vpn - start < MIN_LRU_BATCH // 2:
            end = start + MIN_LRU_BATCH
        elif end - vpn < MIN_LRU_BATCH // 2:
            start = end - MIN_LRU_BATCH
        else:
            start = vpn - MIN_LRU_BATCH // 2
            end = vpn + MIN_LRU_BATCH // 2
    node = mm.zone_node[mm.pg_zone[page]]
    memcg = mm.pg_memcg[page]
    lruvec = lruvec_of(mm, memcg, node)
    new_gen = lru_gen_from_seq(mm.lrugen_seq[lruvec, 0])
    walk = sc[SC_KSWAPD] != 0 or sc[SC_PROACTIVE] != 0
    for p in range(base + start, base + end):
        z = mm.pg_zone[p]
        if z < 0 or p == page:
            continue
        f = mm.pg_flags[p]
        if not (f & PG_YOUNG) or mm.zone_node[z] != node or mm.pg_memcg[p] != memcg:
            continue
        mm.pg_flags[p] = f & ~PG_YOUNG
        if walk:
            old_gen = folio_update_gen(mm, p, new_gen)
            if old_gen >= 0 and old_gen != new_gen:
                lru_gen_update_size(mm, lruvec, 1 if f & PG_FILE else 0, old_gen, new_gen)
            continue
        old_gen = folio_lru_gen(mm, p)
        if old_gen < 0:
            mm.pg_flags[p] |= PG_REFERENCED
        elif old_gen != new_gen:
            mm.pg_gen[p] &= ~LRU_REFS_MASK                       # folio_clear_lru_refs()
            mm.pg_flags[p] &= ~(PG_REFERENCED | PG_WORKINGSET)
            lru_gen_del_folio(mm, p, False)                      # folio_activate()
            mm.pg_flags[p] |= PG_ACTIVE
            lru_gen_add_folio(mm, p, False)
            mm.vmstat[node, vs.PGACTIVATE] += 1


@njit(cache=True)
def lru_gen_folio_check_references(mm, page, sc):
    """folio_check_references() under MGLRU (v6.12): isolation cleared PG_referenced, so the
    rmap walk decides: a young pte runs lru_gen_look_around(), which marks the isolated folio
    PG_referenced; with that and the pte, the folio is activated (pgactivate) and goes back to
    the youngest gen. A page not young is reclaimed."""
    f = mm.pg_flags[page]
    pte_young = (f & PG_YOUNG) != 0
    if pte_young:
        mm.pg_flags[page] = f & ~PG_YOUNG
        lru_gen_look_around(mm, page, sc)
    # with DAMON, the PG_young it left for a pte bit it cleared counts too (folio_referenced_one())
    if not damon_folio_referenced(mm, page, pte_young):
        mm.pg_flags[page] &= ~PG_REFERENCED
        return FOLIOREF_RECLAIM
    mm.pg_flags[page] |= PG_REFERENCED
    # the look-around marked the folio referenced: activate; PG_young alone: one more trip
    return FOLIOREF_ACTIVATE if pte_young else FOLIOREF_KEEP


@njit(cache=True)
def lru_gen_putback(mm, page):
    """evict_folios() (v6.12) then move_folios_to_lru() for a page shrink_folio_list() kept:
    a rejected page (active, referenced, mapped or dirty) must not return to the oldest gen:
    it goes back active (youngest gen) with its refs cleared."""
    f = mm.pg_flags[page]
    if f & (PG_ACTIVE | PG_REFERENCED | PG_DIRTY) or folio_mapped(mm, page):
        mm.pg_gen[page] &= ~LRU_REFS_MASK
        mm.pg_flags[page] = (f & ~(PG_REFERENCED | PG_WORKINGSET)) | PG_ACTIVE
    lru_gen_add_folio(mm, page, False)


# ---------------------------------------------------------------- invariants

@njit(cache=True)
def lru_gen_check_invariants(mm):
    """Checking mode under MGLRU: every present page on exactly one generation list, the list of
    its lruvec, type and zone type; nr_pages equal to the pages of each gen; 2..4 gens per
    type; zone_file right; used + free = managed for every zone."""
    n_zones = mm.zone_free.shape[0]
    counted = np.zeros(n_zones, np.int64)
    file_pages = np.zeros(n_zones, np.int64)
    nr = np.zeros(mm.lrugen_nr.shape[0], np.int64)
    on_lists = 0
    for lst in range(mm.lrugen_head.shape[0]):
        zt = lst % NR_ZONE_TYPES
        type_ = (lst // NR_ZONE_TYPES) % 2
        lruvec = lst // (NR_ZONE_TYPES * 2 * MAX_NR_GENS)
        page = mm.lrugen_head[lst]
        prev = -1
        while page >= 0:
            z = mm.pg_zone[page]
            if (z < 0 or mm.zone_type[z] != zt or (1 if mm.pg_flags[page] & PG_FILE else 0) != type_
                    or lruvec_of(mm, mm.pg_memcg[page], mm.zone_node[z]) != lruvec
                    or mm.pg_prev[page] != prev or folio_lru_gen(mm, page) < 0
                    or mm.pg_flags[page] & PG_ACTIVE):
                mm.knob[K_ERROR] = 11
                return
            nr[gen_nr(lruvec, folio_lru_gen(mm, page), type_)] += 1
            counted[z] += 1
            if type_:
                file_pages[z] += 1
            on_lists += 1
            prev = page
            page = mm.pg_next[page]
        if mm.lrugen_tail[lst] != prev:
            mm.knob[K_ERROR] = 12
            return
    for i in range(nr.shape[0]):
        if nr[i] != mm.lrugen_nr[i]:
            mm.knob[K_ERROR] = 13
            return
    for lruvec in range(mm.lrugen_seq.shape[0]):
        for type_ in range(2):
            g = get_nr_gens(mm, lruvec, type_)
            if g < MIN_NR_GENS or g > MAX_NR_GENS:
                mm.knob[K_ERROR] = 14
                return
    check_page_accounting(mm, counted, on_lists, file_pages)


# ---------------------------------------------------------------- for the result (Python)

def lru_gen_debugfs(mm, memcg_names: list[str], node_ids: list[int]) -> dict:
    """What /sys/kernel/debug/lru_gen shows, per memcg and node: max_seq, min_seq (anon, file)
    and the pages of each live generation (anon, file)."""
    out = {}
    for m, name in enumerate(memcg_names):
        out[name] = {}
        for k, nid in enumerate(node_ids):
            lruvec = m * len(node_ids) + k
            max_seq, min_anon, min_file = (int(x) for x in mm.lrugen_seq[lruvec])
            gens = {}
            for seq in range(min(min_anon, min_file), max_seq + 1):
                i = (lruvec * MAX_NR_GENS + seq % MAX_NR_GENS) * 2          # gen_nr(), anon
                gens[str(seq)] = [int(mm.lrugen_nr[i]) if seq >= min_anon else 0,
                                  int(mm.lrugen_nr[i + 1]) if seq >= min_file else 0]
            out[name][str(nid)] = {"max_seq": max_seq, "min_seq": [min_anon, min_file],
                                   "generations": gens}
    return out
