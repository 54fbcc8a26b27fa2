"""Classic LRU lists (mm/swap.c, include/linux/mm_inline.h), per node.

Each lruvec -- one per (memcg, node) -- has four lists (inactive/active x anon/file), doubly
linked through the page arrays, head = most recently added. Reclaim takes pages from the tail. The list a page is
on follows from its node and its PG_active/PG_file bits (folio_lru_list()), so those bits
change only together with a list move.
"""

from __future__ import annotations

from .jit import njit

from .state import NR_LRU_LISTS, PG_ACTIVE, PG_FILE


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


@njit(cache=True)
def lru_add_head(mm, lst, page):
    """lruvec_add_folio(): put the page at the head (young end) of list ``lst``."""
    h = mm.lru_head[lst]
    mm.pg_prev[page] = -1
    mm.pg_next[page] = h
    if h >= 0:
        mm.pg_prev[h] = page
    else:
        mm.lru_tail[lst] = page
    mm.lru_head[lst] = page
    mm.lru_size[lst] += 1
    if mm.pg_flags[page] & PG_FILE:
        mm.zone_file[mm.pg_zone[page]] += 1


@njit(cache=True)
def lru_del(mm, lst, page):
    """lruvec_del_folio(): unlink the page from list ``lst``."""
    p = mm.pg_prev[page]
    n = mm.pg_next[page]
    if p >= 0:
        mm.pg_next[p] = n
    else:
        mm.lru_head[lst] = n
    if n >= 0:
        mm.pg_prev[n] = p
    else:
        mm.lru_tail[lst] = p
    mm.pg_prev[page] = -1
    mm.pg_next[page] = -1
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
