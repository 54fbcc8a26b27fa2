"""The compiled loop that streams a task's accesses through the kernel model.

Each access: if the page is not present, fault it in (which may allocate, reclaim, demote or
OOM); then set the pte accessed (and dirty) bit and charge the latency of the node holding
the page as seen from the task's CPU node, plus think time. Before every access the awake
kswapds (and DAMON's kdamonds) catch up to the task's clock, so they work beside the task in
simulated time.

The functions here are what Python calls: each takes the MM struct and works on its view
(``state.mm_view``), so the kernel functions below pass a plain pointer instead of a
reference-counted struct.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .kernel.jit import njit

from .kernel.kdamond import run_kdamonds
from .kernel.fault import handle_mm_fault, zap_page
from .kernel.numa_balancing import do_numa_page, task_numa_work
from .kernel.state import C_THINK, PG_DIRTY, PG_PROTNONE, PG_YOUNG, mm_view, prefetch
from .kernel.vmscan import run_kswapds
from .kernel.workingset import folio_mark_accessed
from .workloads.base import FREE, WRITE

DONE, TIME_LIMIT, KILLED = 0, 1, 2
# Page ids are random in memory: the loop asks for a page's state before it gets there, its
# zone/flags AHEAD accesses ahead, then (when the page will fault) its LRU links AHEAD_FAULT
# ahead. Only timing changes.
AHEAD = 16
AHEAD_FAULT = 8


@njit(cache=True)
def numa_scan_tick(mm, t, clock):
    """The task's NUMA-balancing scan is due (clock >= task_numa_next): run task_numa_work()
    and charge its cost to the task, as time an all-fast machine would not spend. Returns the
    task's clock after it. Used by the access loop and by idle steps alike."""
    c = task_numa_work(mm, t, clock)
    mm.task_tier_ns[t] += c
    return clock + c


class Engine(NamedTuple):
    run_accesses: Any
    run_idle: Any
    catch_up: Any


def entry_points(damon: bool) -> Engine:
    """The engine with DAMON's kdamonds or without: ``damon`` is a constant of the compiled
    code, so the variant without never compiles the kdamond (a third of the kernel model's
    compile time) for the scenarios that have no [[damon]] context."""

    @njit(cache=True, nogil=True)
    def run_accesses(mm_struct, t, base, file, syscall, vpn, op, gap, use_gap, i, t_limit):
        """Run task t's accesses vpn[i:], op[i:] until they end or its clock reaches t_limit.
        Pages are ``base + vpn``: the task's anonymous memory, or a file's page cache (``file``),
        touched through a mapping or, with ``syscall``, through read()/write(), which cost the
        node's latency plus copying 4 KiB and mark the page accessed instead of its pte.
        Returns (next index, DONE | TIME_LIMIT | KILLED)."""
        mm = mm_view(mm_struct)
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
        numa_next = mm.task_numa_next
        pg_prev = mm.pg_prev
        damon_due = mm.damon_due
        # the earliest clock at which the loop has something else to do (end of the time slice,
        # a kswapd to run, a NUMA scan, a kdamond to wake): one comparison per access; renewed
        # after every call that may move a kswapd's, the scanner's or a kdamond's time
        event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
        while i < n:
            if i + AHEAD < n:
                prefetch(pg_zone, base + vpn[i + AHEAD])
            if i + AHEAD_FAULT < n:
                ahead = base + vpn[i + AHEAD_FAULT]
                if pg_zone[ahead] < 0:
                    prefetch(pg_prev, ahead)
            if clock >= event:
                if clock >= t_limit:
                    mm.task_clock[t] = clock
                    mm.task_mem_ns[t] += mem_ns
                    return i, TIME_LIMIT
                if clock >= kswapd_due[0]:
                    run_kswapds(mm, clock)
                if clock >= numa_next[t]:
                    clock = numa_scan_tick(mm, t, clock)
                if damon and clock >= damon_due[0]:
                    run_kdamonds(mm, clock)
                event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
            page = base + vpn[i]
            o = op[i]
            if o == FREE:
                if not file:
                    zap_page(mm, page)
                    event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
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
                event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
            elif syscall:
                folio_mark_accessed(mm, page)
                event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
            elif pg_flags[page] & PG_PROTNONE:
                c = do_numa_page(mm, t, page, clock)
                clock += c
                mm.task_tier_ns[t] += c
                z = pg_zone[page]
                event = min(t_limit, kswapd_due[0], numa_next[t], damon_due[0])
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
    def run_idle(mm_struct, t, until):
        """The task holds its memory and does nothing until ``until``; kswapd and kdamond keep
        working and the NUMA-balancing scanner still runs (charged to the task as in the access loop)."""
        mm = mm_view(mm_struct)
        if mm.task_clock[t] < until:
            mm.task_clock[t] = until
        run_kswapds(mm, mm.task_clock[t])
        if damon:
            run_kdamonds(mm, mm.task_clock[t])
        if mm.task_clock[t] >= mm.task_numa_next[t]:
            mm.task_clock[t] = numa_scan_tick(mm, t, mm.task_clock[t])

    @njit(cache=True)
    def catch_up(mm_struct, until):
        """Let the kswapds and kdamonds run to ``until`` (end of run, or a sample point)."""
        mm = mm_view(mm_struct)
        run_kswapds(mm, until)
        if damon:
            run_kdamonds(mm, until)

    return Engine(run_accesses, run_idle, catch_up)


ENGINES = (entry_points(False), entry_points(True))     # ENGINES[bool(scenario.damon)]
run_accesses, run_idle, catch_up = ENGINES[0]
