"""The compiled loop that streams a task's accesses through the kernel model.

Each access: if the page is not present, fault it in (which may allocate, reclaim, demote or
OOM); then set the pte accessed (and dirty) bit and charge the latency of the node holding
the page as seen from the task's CPU node, plus think time. Before every access the awake
kswapds catch up to the task's clock, so they reclaim beside the task in simulated time.
"""

from __future__ import annotations

from numba import njit

from .kernel.fault import handle_mm_fault, zap_page
from .kernel.numa_balancing import do_numa_page, task_numa_work
from .kernel.state import C_THINK, PG_DIRTY, PG_PROTNONE, PG_YOUNG
from .kernel.vmscan import run_kswapds
from .kernel.workingset import folio_mark_accessed
from .workloads.base import FREE, WRITE

DONE, TIME_LIMIT, KILLED = 0, 1, 2


@njit(cache=True, nogil=True)
def run_accesses(mm, t, base, file, syscall, vpn, op, gap, use_gap, i, t_limit):
    """Run task t's accesses vpn[i:], op[i:] until they end or its clock reaches t_limit.
    Pages are ``base + vpn``: the task's anonymous memory, or a file's page cache (``file``),
    touched through a mapping or, with ``syscall``, through read()/write(), which cost the
    node's latency plus copying 4 KiB and mark the page accessed instead of its pte.
    Returns (next index, DONE | TIME_LIMIT | KILLED)."""
    cpu = mm.task_cpu[t]
    think = mm.cost[C_THINK]
    n = vpn.shape[0]
    clock = mm.task_clock[t]
    mem_ns = 0.0
    # the arrays every access touches, held locally (each mm.x is a load through the struct)
    pg_zone = mm.pg_zone
    pg_flags = mm.pg_flags
    zone_node = mm.zone_node
    lat_read = mm.lat_read
    lat_write = mm.lat_write
    task_access = mm.task_access
    kswapd_due = mm.kswapd_due
    while i < n:
        if clock >= t_limit:
            mm.task_clock[t] = clock
            mm.task_mem_ns[t] += mem_ns
            return i, TIME_LIMIT
        if clock >= kswapd_due[0]:
            run_kswapds(mm, clock)
        if clock >= mm.task_numa_next[t]:
            c = task_numa_work(mm, t, clock)
            clock += c
            mm.task_tier_ns[t] += c
        page = base + vpn[i]
        o = op[i]
        if o == FREE:
            if not file:
                zap_page(mm, page)
            i += 1
            continue
        z = pg_zone[page]
        if z < 0:
            mm.task_clock[t] = clock
            if not handle_mm_fault(mm, t, page, o == WRITE, file, syscall):
                mm.task_mem_ns[t] += mem_ns
                return i, KILLED
            clock = mm.task_clock[t]
            z = pg_zone[page]
        elif syscall:
            folio_mark_accessed(mm, page)
        elif pg_flags[page] & PG_PROTNONE:
            c = do_numa_page(mm, t, page, clock)
            clock += c
            mm.task_tier_ns[t] += c
            z = pg_zone[page]
        node = zone_node[z]
        if o == WRITE:
            pg_flags[page] |= PG_DIRTY if syscall else PG_YOUNG | PG_DIRTY
            lat = lat_write[cpu, node]
        else:
            if not syscall:
                pg_flags[page] |= PG_YOUNG
            lat = lat_read[cpu, node]
        if syscall:
            lat += 4096.0 / mm.node_bw[node]
        task_access[t, node] += 1
        mem_ns += lat
        clock += lat + (gap[i] if use_gap else think)
        i += 1
    mm.task_clock[t] = clock
    mm.task_mem_ns[t] += mem_ns
    return i, DONE


@njit(cache=True)
def run_idle(mm, t, until):
    """The task holds its memory and does nothing until ``until``; kswapd keeps working."""
    if mm.task_clock[t] < until:
        mm.task_clock[t] = until
    run_kswapds(mm, mm.task_clock[t])
    if mm.task_clock[t] >= mm.task_numa_next[t]:
        mm.task_clock[t] += task_numa_work(mm, t, mm.task_clock[t])


@njit(cache=True)
def catch_up(mm, until):
    """Let the kswapds run to ``until`` (end of run, or a sample point)."""
    run_kswapds(mm, until)
