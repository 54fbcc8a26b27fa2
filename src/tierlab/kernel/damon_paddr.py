"""DAMON's operations for the physical address space (mm/damon/paddr.c, ops-common.c, v6.12):
access checks by page-table accessed bits, the DAMOS actions migrate_hot / migrate_cold, and
the page flags that keep DAMON from hiding references from reclaim.

Physical addresses in tierlab: pages have no frame numbers, only an id (owner base + vpn) and
a zone. A page's id plays its physical address: a context monitoring node N watches ids
[start, end) and sees only the pages resident on N there; an id whose page is on another node,
in swap or not yet faulted is what a free frame or another node's frame is to paddr --
damon_get_folio() finds no LRU folio, so it is never young and never migrated. Two known
differences from the kernel: a node's "frames" are interleaved with other nodes' pages (so a
region's size counts them, as it counts free frames), and a migrated page keeps its address.

Page flags (``mm.pg_damon``, allocated only with DAMON): PG_idle and PG_young of
include/linux/page_idle.h. damon_ptep_mkold() clears the pte accessed bit (PG_YOUNG in
pg_flags) but sets PG_young, and folio_referenced_one() counts PG_young as a reference, so
reclaim sees every access DAMON's sampling cleared.
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from . import vmstat as vs
from .lru import lruvec_add_folio, lruvec_del_folio
from .migrate import migrate_folio
from .page_alloc import get_page_from_freelist, page_task, wakeup_kswapd
from .state import K_DAMON, PG_FILE, PG_YOUNG, WMARK_LOW, WMARK_MIN

PGD_IDLE = 1           # PG_idle: set by DAMON's mkold, cleared by any reference seen
PGD_YOUNG = 2          # PG_young: the pte accessed bit DAMON cleared, kept for reclaim
PGD_MOVED = 4          # migrated by the kdamond in bits 3-7 during its current apply (below)
PGD_MOVER_SHIFT = 3
A_BUSY = 19            # damon_attr column: ns when the kdamond's current step's work ends


@njit(cache=True, inline="always")
def damon_folio_referenced(mm, page, young):
    """The end of folio_referenced_one() (mm/rmap.c, v6.12) with DAMON on: a reference the
    rmap walk found clears PG_idle, and folio_test_clear_young() adds the accessed bit DAMON
    cleared. ``young`` is what the walk found in the pte; returns it with PG_young added."""
    if mm.knob[K_DAMON] == 0:
        return young
    d = mm.pg_damon[page]
    if d & PGD_YOUNG:
        young = True
    if young:
        d &= ~PGD_IDLE
    mm.pg_damon[page] = d & ~PGD_YOUNG
    return young


@njit(cache=True, inline="always")
def folio_clear_idle(mm, page):
    """folio_mark_accessed() clears PG_idle (mm/swap.c): read()/write() references."""
    if mm.knob[K_DAMON]:
        mm.pg_damon[page] &= ~PGD_IDLE


@njit(cache=True, inline="always")
def damon_new_folio(mm, page):
    """A freshly allocated page has neither PG_idle nor PG_young."""
    if mm.knob[K_DAMON]:
        mm.pg_damon[page] = 0


@njit(cache=True)
def damon_get_folio(mm, page, node, now):
    """damon_get_folio(): is there an LRU folio at this 'physical address' of the node? A kdamond
    applies a scheme in one step, but in the kernel its migrate_pages() holds the folios off
    the LRU for as long as the work takes (A_BUSY): until then another kdamond -- the two
    tiering contexts wake on the same 5 ms grid -- finds no folio there."""
    if page < 0 or page >= mm.pg_zone.shape[0]:
        return False
    z = mm.pg_zone[page]
    if z < 0 or mm.zone_node[z] != node:
        return False
    d = mm.pg_damon[page]
    if d & PGD_MOVED:
        if now < mm.damon_attr[d >> PGD_MOVER_SHIFT, A_BUSY]:
            return False
        mm.pg_damon[page] = d & (PGD_IDLE | PGD_YOUNG)
    return True


@njit(cache=True, inline="always")
def _mapped(mm, page):
    """folio_mapped(): anon always; page cache when its file is mmap-ed."""
    return not (mm.pg_flags[page] & PG_FILE) or mm.owner_mapped[page_task(mm, page)] != 0


@njit(cache=True)
def damon_pa_mkold(mm, page, node, now):
    """damon_pa_mkold() -> damon_folio_mkold() -> damon_ptep_mkold() (ops-common.c, v6.12):
    clear the pte accessed bit, remembering it in PG_young; set PG_idle. An unmapped folio only
    gets PG_idle."""
    if not damon_get_folio(mm, page, node, now):
        return
    if _mapped(mm, page) and mm.pg_flags[page] & PG_YOUNG:
        mm.pg_flags[page] &= ~PG_YOUNG
        mm.pg_damon[page] |= PGD_YOUNG
    mm.pg_damon[page] |= PGD_IDLE


@njit(cache=True)
def damon_pa_young(mm, page, node, now):
    """damon_pa_young() -> damon_folio_young() (v6.12): accessed if the pte is young or the
    folio lost PG_idle (a reference reclaim or read() saw since the mkold)."""
    if not damon_get_folio(mm, page, node, now):
        return False
    idle = mm.pg_damon[page] & PGD_IDLE
    if _mapped(mm, page):
        return (mm.pg_flags[page] & PG_YOUNG) != 0 or not idle
    return not idle


@njit(cache=True)
def damos_pa_filter_out(mm, page, node, young_filter, now):
    """damos_pa_filter_out() with a DAMOS_FILTER_TYPE_YOUNG filter (v6.10+): filtered out when
    the page's youngness equals the filter's ``matching`` (young_filter 1: matching=true,
    2: matching=false). The check marks a young page old again (damos_pa_filter_match())."""
    if young_filter == 0:
        return False
    young = damon_pa_young(mm, page, node, now)
    if young:
        damon_pa_mkold(mm, page, node, now)
    return young == (young_filter == 1)


@njit(cache=True)
def alloc_migrate_folio_thisnode(mm, target, now):
    """alloc_migrate_folio() as damon_pa_migrate_folio_list() calls it (v6.12): __GFP_THISNODE
    GFP_NOWAIT on the target (LOW, wake its kswapd, MIN; no reclaim, no reserves), then the
    same over an empty allowed nodemask, which cannot succeed. -1 on failure."""
    mask = np.int64(1) << target
    z = get_page_from_freelist(mm, target, mask, WMARK_LOW)
    if z >= 0:
        return z
    wakeup_kswapd(mm, target, now)
    return get_page_from_freelist(mm, target, mask, WMARK_MIN)


@njit(cache=True)
def damon_pa_migrate(mm, c, start, end, node, target, young_filter, cpu_node, now, out):
    """damon_pa_migrate() (paddr.c, v6.12) for region [start, end) of the node: isolate every
    LRU folio the filters keep, then migrate_pages(MIGRATE_ASYNC, MR_DAMON) to ``target``.
    migrate_pages() counts pgmigrate_success/fail only (not pgdemote/pgpromote); an order-0
    allocation failure (-ENOMEM) ends the call and the rest are put back on the LRU
    (folio_putback_lru(): at the head). The kernel isolates the whole region first; migrating
    each page as it is isolated gives the same result, since nothing else runs in between.
    Migrated pages are marked as kdamond c's until its work ends (damon_get_folio()).
    Returns pages migrated; out[0] += cost in ns."""
    if target == node or target < 0:
        return 0
    nr = 0
    failed = False
    for page in range(start, end):
        if not damon_get_folio(mm, page, node, now):
            continue
        if damos_pa_filter_out(mm, page, node, young_filter, now):
            continue
        lruvec_del_folio(mm, page)                          # folio_isolate_lru()
        z = -1 if failed else alloc_migrate_folio_thisnode(mm, target, now + out[0])
        if z < 0:
            if not failed:
                mm.vmstat[node, vs.PGMIGRATE_FAIL] += 1
                failed = True
            lruvec_add_folio(mm, page)                      # folio_putback_lru()
            continue
        out[0] += migrate_folio(mm, page, z, cpu_node)      # counts pgmigrate_success
        mm.pg_damon[page] = (mm.pg_damon[page] & (PGD_IDLE | PGD_YOUNG)) | PGD_MOVED | \
            (c << PGD_MOVER_SHIFT)
        nr += 1
    return nr

