"""The kdamond (mm/damon/core.c kdamond_fn(), v6.12): one kernel thread per DAMON context,
woken every sampling interval of simulated time; the access loop (engine.py) runs
``run_kdamonds`` whenever a task's clock passes ``damon_due``, as it runs the kswapds.
"""

from __future__ import annotations

import math

import numpy as np

from .jit import njit
from .damon import (A_AGGR_US, A_END, A_LAST_NR, A_NEXT_AGGR, A_NEXT_UPDATE, A_NR,
                    A_PASSED, A_PREPARED, A_S_HI, A_S_LO, A_SAMPLE_US, A_START, A_SZ_LIMIT,
                    A_UPDATE_US, Q_CHARGED_FROM, R_END, R_START, S_APPLY_US, S_NEXT_APPLY,
                    ST_SZ_APPLIED, W_ACTIVATED, damon_pa_check_accesses,
                    damon_pa_prepare_access_checks, damon_region_sz_limit,
                    kdamond_merge_regions, kdamond_reset_aggregated, kdamond_split_regions)
from .damon_paddr import A_BUSY
from .damos import kdamond_apply_schemes, kdamond_wait_activation
from .state import C_SCAN


@njit(cache=True)
def kdamond_step(mm, c, now):
    """One pass of kdamond_fn()'s loop at simulated time ``now``: finish the sampling interval
    that just ended (check, aggregate, apply, split), then start the next one. The kdamond
    sleeps sample_us after its work, so the work's time (checks, migrations) delays its next
    wake-up: sampling grids of several kdamonds drift apart as in the kernel."""
    a = mm.damon_attr[c]
    sample = max(a[A_SAMPLE_US], 1)
    cpu = mm.damon_cpu[c]
    if a[A_PREPARED]:
        a[A_PASSED] += 1
        next_aggr = a[A_NEXT_AGGR]
        nr = a[A_NR]
        max_nr = damon_pa_check_accesses(mm, c, now)
        mm.damon_cpu[c] += 2 * nr * mm.cost[C_SCAN]     # two rmap walks per region
        if a[A_PASSED] >= next_aggr:
            kdamond_merge_regions(mm, c, max_nr // 10, a[A_SZ_LIMIT])
        if a[A_S_HI] > a[A_S_LO]:
            applied = mm.damos[a[A_S_LO]:a[A_S_HI], ST_SZ_APPLIED].sum()
            kdamond_apply_schemes(mm, c, now)
            if mm.damos[a[A_S_LO]:a[A_S_HI], ST_SZ_APPLIED].sum() != applied:
                # the pages it marked PGD_MOVED are off the LRU until this work ends
                a[A_BUSY] = np.int64(now + mm.damon_cpu[c] - cpu)
        if a[A_PASSED] >= next_aggr:
            a[A_NEXT_AGGR] = next_aggr + a[A_AGGR_US] // sample
            kdamond_reset_aggregated(mm, c)
            kdamond_split_regions(mm, c)
        if a[A_PASSED] >= a[A_NEXT_UPDATE]:
            a[A_NEXT_UPDATE] += a[A_UPDATE_US] // sample
            a[A_SZ_LIMIT] = damon_region_sz_limit(mm, c)      # paddr has no ops.update
    wait = kdamond_wait_activation(mm, c)
    if wait:
        a[A_PREPARED] = 0
        mm.damon_clock[c] = now + (mm.damon_cpu[c] - cpu) + wait * 1e3
        return
    damon_pa_prepare_access_checks(mm, c, now)
    work = mm.damon_cpu[c] - cpu
    a[A_PREPARED] = 1
    mm.damon_clock[c] = now + work + sample * 1e3


@njit(cache=True)
def kdamond_init_ctx(mm, c, now):
    """kdamond_init_ctx() + the initial region (damon_set_regions() with the monitored range):
    next aggregation / ops update / apply times in sampling intervals."""
    a = mm.damon_attr[c]
    sample = max(a[A_SAMPLE_US], 1)
    a[A_PASSED] = 0
    a[A_NEXT_AGGR] = a[A_AGGR_US] // sample
    a[A_NEXT_UPDATE] = a[A_UPDATE_US] // sample
    reg = mm.damon_reg[c]
    reg[0, :] = 0
    reg[0, R_START] = a[A_START]
    reg[0, R_END] = a[A_END]
    a[A_NR] = 1
    a[A_LAST_NR] = 0
    a[A_PREPARED] = 0
    a[A_SZ_LIMIT] = damon_region_sz_limit(mm, c)
    for s in range(a[A_S_LO], a[A_S_HI]):
        q = mm.damos[s]
        apply_us = q[S_APPLY_US] if q[S_APPLY_US] else a[A_AGGR_US]
        q[S_NEXT_APPLY] = apply_us // sample
        q[W_ACTIVATED] = 1
        q[Q_CHARGED_FROM] = -(1 << 40)          # jiffies are long past 0 when a kdamond starts
    mm.damon_clock[c] = now
    mm.damon_due[0] = min(mm.damon_due[0], now)


@njit(cache=True)
def run_kdamonds(mm, until):
    """Let every kdamond catch up to ``until``, earliest wake-up first, then note the next one
    (damon_due) for the access loop's single comparison."""
    n = mm.damon_clock.shape[0]
    while True:
        c = -1
        for k in range(n):
            if mm.damon_clock[k] <= until and (c < 0 or mm.damon_clock[k] < mm.damon_clock[c]):
                c = k
        if c < 0:
            break
        kdamond_step(mm, c, mm.damon_clock[c])
    due = math.inf
    for k in range(n):
        due = min(due, mm.damon_clock[k])
    mm.damon_due[0] = due
