"""LRU lists (mm/swap.c, include/linux/mm_inline.h), per node: the classic ones, and at the
end the multi-gen LRU's generation lists (lru_gen.py ages and evicts them).

Each lruvec -- one per (memcg, node) -- has four lists (inactive/active x anon/file), doubly
linked through the page arrays, head = most recently added. Reclaim takes pages from the tail. The list a page is
on follows from its node and its PG_active/PG_file bits (folio_lru_list()), so those bits
change only together with a list move.
"""

from __future__ import annotations

from .jit import njit

from .state import (K_LRU_GEN, MAX_NR_GENS, MIN_NR_GENS, NR_LRU_LISTS, NR_ZONE_TYPES, PG_ACTIVE,
                    PG_FILE, PG_REFERENCED, PG_WORKINGSET)


@njit(cache=True, inline="always")
def lruvec_of(mm, memcg, node):
    """mem_cgroup_lruvec(): the lruvec index of (memcg, node)."""
    return memcg * mm.kswapd_state.shape[0] + node


@njit(cache=True, inline="always")
def folio_lru_list(mm, page):
    """folio_lru_list(): which list of its lruvec (memcg, node) the page belongs on."""
    f = mm.pg_flags[page]
    node = mm.zone_node[mm.pg_zone[page]]
    lru = (2 if f & PG_FILE else 0) + (1 if f & PG_ACTIVE else 0)
    return lruvec_of(mm, mm.pg_memcg[page], node) * NR_LRU_LISTS + lru


@njit(cache=True, inline="always")
def list_add(head, tail, prev, next_, lst, page, at_tail):
    """list_add() / list_add_tail() (include/linux/list.h) for lists threaded through the page
    arrays: head[lst] is the young end, reclaim takes from tail[lst]."""
    if at_tail:
        t = tail[lst]
        next_[page] = -1
        prev[page] = t
        if t >= 0:
            next_[t] = page
        else:
            head[lst] = page
        tail[lst] = page
    else:
        h = head[lst]
        prev[page] = -1
        next_[page] = h
        if h >= 0:
            prev[h] = page
        else:
            tail[lst] = page
        head[lst] = page


@njit(cache=True, inline="always")
def list_del(head, tail, prev, next_, lst, page):
    """list_del() (include/linux/list.h)."""
    p = prev[page]
    n = next_[page]
    if p >= 0:
        next_[p] = n
    else:
        head[lst] = n
    if n >= 0:
        prev[n] = p
    else:
        tail[lst] = p
    prev[page] = -1
    next_[page] = -1


@njit(cache=True)
def lru_add_head(mm, lst, page):
    """lruvec_add_folio(): put the page at the head (young end) of list ``lst``."""
    list_add(mm.lru_head, mm.lru_tail, mm.pg_prev, mm.pg_next, lst, page, False)
    mm.lru_size[lst] += 1
    if mm.pg_flags[page] & PG_FILE:
        mm.zone_file[mm.pg_zone[page]] += 1


@njit(cache=True)
def lru_del(mm, lst, page):
    """lruvec_del_folio(): unlink the page from list ``lst``."""
    list_del(mm.lru_head, mm.lru_tail, mm.pg_prev, mm.pg_next, lst, page)
    mm.lru_size[lst] -= 1
    if mm.pg_flags[page] & PG_FILE:
        mm.zone_file[mm.pg_zone[page]] -= 1


@njit(cache=True)
def isolate_lru_folios(mm, lst, nr_to_scan, buf):
    """isolate_lru_folios(): take up to nr_to_scan pages off the tail into buf; return the count."""
    n = 0
    while n < nr_to_scan:
        page = mm.lru_tail[lst]
        if page < 0:
            break
        lru_del(mm, lst, page)
        buf[n] = page
        n += 1
    return n


@njit(cache=True)
def lru_pages(mm, lruvec, lru):
    return mm.lru_size[lruvec * NR_LRU_LISTS + lru]


@njit(cache=True)
def node_lru_pages(mm, node, lru):
    """node_page_state(NR_<lru>): the list summed over every memcg's lruvec on the node."""
    n_nodes = mm.kswapd_state.shape[0]
    total = 0
    for m in range(mm.memcg_usage.shape[0]):
        total += mm.lru_size[(m * n_nodes + node) * NR_LRU_LISTS + lru]
    return total


@njit(cache=True)
def isqrt(n):
    r = int(n ** 0.5)
    while r * r > n:
        r -= 1
    while (r + 1) * (r + 1) <= n:
        r += 1
    return r


@njit(cache=True)
def inactive_list_is_low(inactive, active):
    """The rule of inactive_is_low() (mm/vmscan.c, v5.x-v6.x): the inactive list is too small
    for its active list when inactive * isqrt(10 * GiB) < active (ratio 1 below 1 GiB)."""
    gb = (inactive + active) >> (30 - 12)
    ratio = isqrt(10 * gb) if gb else 1
    return inactive * ratio < active


@njit(cache=True)
def inactive_is_low(mm, lruvec, inactive_lru):
    """inactive_is_low() for one lruvec."""
    return inactive_list_is_low(lru_pages(mm, lruvec, inactive_lru),
                                lru_pages(mm, lruvec, inactive_lru + 1))


# ---------------------------------------------------------------- multi-gen LRU lists
# include/linux/mm_inline.h (v6.12) lru_gen_* helpers. Under MGLRU a lruvec keeps one list per
# (generation, type, zone): gen = seq % MAX_NR_GENS, type 0 anon, 1 file. The lists stay per
# zone as in the kernel because scan_folios() drains the highest zone first, which decides
# when a node's small DMA zone gets free pages back and so when kswapd finds the node
# balanced (kernel-spec 2.7); nr_pages is kept per (gen, type) only.
# A page's gen and LRU_REFS counter live in pg_gen (state.py); PG_ACTIVE is clear while the
# page is on a generation list and set only between lru_gen_del_folio() and the next add
# (isolation for migration), as the kernel does.

LRU_GEN_ANON, LRU_GEN_FILE = 0, 1
LRU_GEN_MASK = 7                  # gen + 1
LRU_REFS_SHIFT = 3
LRU_REFS_WIDTH = 2                # MAX_NR_TIERS - 2
LRU_REFS_MASK = 3 << LRU_REFS_SHIFT


@njit(cache=True, inline="always")
def lru_gen_enabled(mm):
    return mm.knob[K_LRU_GEN] != 0


@njit(cache=True, inline="always")
def lru_gen_from_seq(seq):
    return seq % MAX_NR_GENS


@njit(cache=True, inline="always")
def gen_list(lruvec, gen, type_, zone_type):
    """Index of lrugen->folios[gen][type][zone] of the lruvec."""
    return ((lruvec * MAX_NR_GENS + gen) * 2 + type_) * NR_ZONE_TYPES + zone_type


@njit(cache=True, inline="always")
def gen_nr(lruvec, gen, type_):
    """Index of lrugen->nr_pages[gen][type] (summed over zones, as every user here sums them)."""
    return (lruvec * MAX_NR_GENS + gen) * 2 + type_


@njit(cache=True, inline="always")
def folio_lru_gen(mm, page):
    """folio_lru_gen(): the page's generation, -1 when it is on no generation list."""
    return (mm.pg_gen[page] & LRU_GEN_MASK) - 1


@njit(cache=True, inline="always")
def folio_lru_refs(mm, page):
    """folio_lru_refs() (v6.12): accesses through file descriptors beyond PG_referenced: the
    LRU_REFS counter plus PG_workingset."""
    ws = 1 if mm.pg_flags[page] & PG_WORKINGSET else 0
    return ((mm.pg_gen[page] & LRU_REFS_MASK) >> LRU_REFS_SHIFT) + ws


@njit(cache=True, inline="always")
def lru_tier_from_refs(refs):
    """lru_tier_from_refs(): order_base_2(refs + 1): refs 0 -> tier 0, 1 -> 1, 2-3 -> 2, 4 -> 3."""
    if refs == 0:
        return 0
    if refs == 1:
        return 1
    if refs <= 3:
        return 2
    return 3


@njit(cache=True, inline="always")
def page_lruvec(mm, page):
    return lruvec_of(mm, mm.pg_memcg[page], mm.zone_node[mm.pg_zone[page]])


@njit(cache=True)
def lru_gen_is_active(mm, lruvec, gen):
    """lru_gen_is_active(): the two youngest generations count as "active"."""
    max_seq = mm.lrugen_seq[lruvec, 0]
    return gen == lru_gen_from_seq(max_seq) or gen == lru_gen_from_seq(max_seq - 1)


@njit(cache=True)
def gen_list_add(mm, lst, page, tail):
    """list_add()/list_add_tail() on a generation list."""
    list_add(mm.lrugen_head, mm.lrugen_tail, mm.pg_prev, mm.pg_next, lst, page, tail)


@njit(cache=True)
def gen_list_del(mm, lst, page):
    list_del(mm.lrugen_head, mm.lrugen_tail, mm.pg_prev, mm.pg_next, lst, page)


@njit(cache=True)
def lru_gen_add_folio(mm, page, reclaiming):
    """lru_gen_add_folio() (mm_inline.h, v6.12, with v6.7's "fix underprotected page cache"):
    active (faulted in, or isolated from the two youngest generations) -> youngest; anon not in
    the swap cache -> second youngest (tierlab keeps no swap cache: every anon page); else the
    oldest when reclaiming or only MIN_NR_GENS exist, otherwise the second oldest. (Dirty
    pages under PG_reclaim also go second youngest; tierlab has no PG_reclaim: page cache is
    written back when found dirty, see lru_gen.sort_folio().)"""
    f = mm.pg_flags[page]
    type_ = LRU_GEN_FILE if f & PG_FILE else LRU_GEN_ANON
    lruvec = page_lruvec(mm, page)
    max_seq = mm.lrugen_seq[lruvec, 0]
    min_seq = mm.lrugen_seq[lruvec, 1 + type_]
    if f & PG_ACTIVE:
        seq = max_seq
    elif type_ == LRU_GEN_ANON:
        seq = max_seq - 1
    elif reclaiming or min_seq + MIN_NR_GENS >= max_seq:
        seq = min_seq
    else:
        seq = min_seq + 1
    gen = lru_gen_from_seq(seq)
    mm.pg_flags[page] = f & ~PG_ACTIVE
    mm.pg_gen[page] = (mm.pg_gen[page] & ~LRU_GEN_MASK) | (gen + 1)
    mm.lrugen_nr[gen_nr(lruvec, gen, type_)] += 1
    gen_list_add(mm, gen_list(lruvec, gen, type_, mm.zone_type[mm.pg_zone[page]]), page, reclaiming)
    if type_ == LRU_GEN_FILE:
        mm.zone_file[mm.pg_zone[page]] += 1


@njit(cache=True)
def lru_gen_del_folio(mm, page, reclaiming):
    """lru_gen_del_folio() (v6.12): off its generation list; unless reclaim isolates it, it
    keeps "active" (PG_active) if it was in the two youngest generations, so that migration
    (folio_migrate_flags()) puts it young on the target node."""
    gen = folio_lru_gen(mm, page)
    f = mm.pg_flags[page]
    type_ = LRU_GEN_FILE if f & PG_FILE else LRU_GEN_ANON
    lruvec = page_lruvec(mm, page)
    if not reclaiming and lru_gen_is_active(mm, lruvec, gen):
        mm.pg_flags[page] = f | PG_ACTIVE
    mm.pg_gen[page] &= ~LRU_GEN_MASK
    mm.lrugen_nr[gen_nr(lruvec, gen, type_)] -= 1
    # the page sits on the list of the gen it had when it was last moved; folio_update_gen()
    # may have changed its gen since (lazily, without moving it), so find the list by links
    gen_list_del(mm, physical_list(mm, lruvec, page, type_), page)
    if type_ == LRU_GEN_FILE:
        mm.zone_file[mm.pg_zone[page]] -= 1


@njit(cache=True)
def physical_list(mm, lruvec, page, type_):
    """The generation list the page is linked on. Only lists whose head or tail is the page
    need their index; for a page inside a list any index is right, gen_list_del() touches
    only its neighbours."""
    zt = mm.zone_type[mm.pg_zone[page]]
    if mm.pg_prev[page] >= 0 and mm.pg_next[page] >= 0:
        return gen_list(lruvec, 0, type_, zt)
    for gen in range(MAX_NR_GENS):
        lst = gen_list(lruvec, gen, type_, zt)
        if mm.lrugen_head[lst] == page or mm.lrugen_tail[lst] == page:
            return lst
    return gen_list(lruvec, 0, type_, zt)


@njit(cache=True)
def lruvec_add_folio(mm, page):
    """lruvec_add_folio(): onto the page's lruvec, a generation list under MGLRU."""
    if lru_gen_enabled(mm):
        lru_gen_add_folio(mm, page, False)
    else:
        lru_add_head(mm, folio_lru_list(mm, page), page)


@njit(cache=True)
def lruvec_del_folio(mm, page):
    """lruvec_del_folio(): off the page's LRU list (isolation for migration, unmap)."""
    if lru_gen_enabled(mm):
        lru_gen_del_folio(mm, page, False)
    else:
        lru_del(mm, folio_lru_list(mm, page), page)


@njit(cache=True)
def folio_inc_refs(mm, page):
    """folio_inc_refs() (mm/swap.c, v6.12): folio_mark_accessed() under MGLRU. A read()/write()
    sets PG_referenced, then PG_workingset, then counts LRU_REFS up to its maximum; the page
    does not move (sort_folio() protects it by its tier when reclaim reaches it)."""
    f = mm.pg_flags[page]
    if not (f & PG_REFERENCED):
        mm.pg_flags[page] = f | PG_REFERENCED
        return
    if not (f & PG_WORKINGSET):
        mm.pg_flags[page] = f | PG_WORKINGSET
        return
    g = mm.pg_gen[page]
    if (g & LRU_REFS_MASK) != LRU_REFS_MASK:
        mm.pg_gen[page] = g + (1 << LRU_REFS_SHIFT)
