"""DAMOS, DAMON-based operation schemes (mm/damon/core.c, v6.12; scores from ops-common.c):
which regions a scheme applies to (access pattern, quota score limit), quota windows and their
effective size (size, time, goal feedback), the apply loop that cuts regions to fit the quota
and skips what the last full window charged, and the watermarks that switch schemes on and off.
The action itself is damon_paddr.damon_pa_migrate(). Table layout: damon.py.
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from .damon import (A_AGGR_US, A_CPU, A_NODE, A_NR, A_PASSED, A_S_HI, A_S_LO, A_SAMPLE_US,
                    DAMON_MAX_AGE_IN_LOG, DAMON_MAX_SUBSCORE, DAMOS_MIGRATE_COLD,
                    DAMOS_MIGRATE_HOT, DAMOS_STAT, DAMOS_WMARK_NONE, F_YOUNG, G_CURRENT,
                    G_METRIC, G_NID, G_TARGET, GOAL_NODE_MEM_USED_BP, GOAL_NONE, PAGE_SIZE,
                    Q_ADDR_FROM, Q_CHARGE_FROM, Q_CHARGED, Q_CHARGED_FROM, Q_ESZ, Q_ESZ_BP,
                    Q_MIN_SCORE, Q_MS, Q_RESET_MS, Q_SZ, Q_TOTAL_NS, Q_TOTAL_SZ, Q_W_AGE, Q_W_NR,
                    R_AGE, R_END, R_NR, R_START, R_BP, S_ACTION, S_APPLY_US, S_MAX_AGE, S_MAX_NR,
                    S_MAX_SZ, S_MIN_AGE, S_MIN_NR, S_MIN_SZ, S_NEXT_APPLY, S_TARGET,
                    ST_NR_APPLIED, ST_NR_TRIED, ST_QT_EXCEEDS, ST_SZ_APPLIED, ST_SZ_TRIED,
                    ULONG_MAX, W_ACTIVATED, W_HIGH, W_INTERVAL_US, W_LOW, W_METRIC, W_MID,
                    damon_max_nr_accesses, damon_split_region_at)
from .damon_paddr import damon_pa_migrate
from .state import DAMOS_MAX_SCORE


@njit(cache=True)
def damon_hot_score(mm, c, i, s):
    """damon_hot_score() (ops-common.c): weighted access frequency and log2 age in seconds
    (negative age when never accessed), scaled to [0, DAMOS_MAX_SCORE]. weight_sz is unused."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    q = mm.damos[s]
    freq_subscore = reg[i, R_NR] * DAMON_MAX_SUBSCORE // max(damon_max_nr_accesses(mm, c), 1)
    age_in_sec = reg[i, R_AGE] * a[A_AGGR_US] // 1000000
    age_in_log = 0
    while age_in_log < DAMON_MAX_AGE_IN_LOG and age_in_sec:
        age_in_log += 1
        age_in_sec >>= 1
    if freq_subscore == 0:
        age_in_log = -age_in_log
    age_in_log += DAMON_MAX_AGE_IN_LOG
    age_subscore = age_in_log * DAMON_MAX_SUBSCORE // DAMON_MAX_AGE_IN_LOG // 2
    hotness = q[Q_W_NR] * freq_subscore + q[Q_W_AGE] * age_subscore
    if q[Q_W_NR] + q[Q_W_AGE]:
        hotness //= q[Q_W_NR] + q[Q_W_AGE]
    return hotness * DAMOS_MAX_SCORE // DAMON_MAX_SUBSCORE


@njit(cache=True)
def damon_pa_scheme_score(mm, c, i, s):
    """damon_pa_scheme_score(): hotness for migrate_hot, coldness for migrate_cold."""
    act = mm.damos[s, S_ACTION]
    if act == DAMOS_MIGRATE_HOT:
        return damon_hot_score(mm, c, i, s)
    if act == DAMOS_MIGRATE_COLD:
        return DAMOS_MAX_SCORE - damon_hot_score(mm, c, i, s)
    return DAMOS_MAX_SCORE


@njit(cache=True)
def __damos_valid_target(mm, c, i, s):
    """__damos_valid_target(): size, nr_accesses (the moving sum, nr_accesses_bp / 10000) and
    age within the scheme's access pattern."""
    reg = mm.damon_reg[c]
    q = mm.damos[s]
    sz = (reg[i, R_END] - reg[i, R_START]) * PAGE_SIZE
    nr = reg[i, R_BP] // 10000
    return (q[S_MIN_SZ] <= sz <= q[S_MAX_SZ] and q[S_MIN_NR] <= nr <= q[S_MAX_NR]
            and q[S_MIN_AGE] <= reg[i, R_AGE] <= q[S_MAX_AGE])


@njit(cache=True)
def damos_valid_target(mm, c, i, s):
    """damos_valid_target(): the pattern, and under a quota the score limit of this window."""
    if not __damos_valid_target(mm, c, i, s):
        return False
    if mm.damos[s, Q_ESZ] == 0:
        return True
    return damon_pa_scheme_score(mm, c, i, s) >= mm.damos[s, Q_MIN_SCORE]


@njit(cache=True)
def damon_feed_loop_next_input(last_input, score):
    """damon_feed_loop_next_input(): next = max(last * ((goal - score) / goal + 1), 10000),
    goal 10000 (v6.8+)."""
    goal = 10000
    min_input = 10000
    if score == goal:
        return last_input
    if score >= goal * 2:
        return min_input
    diff = score - goal if score > goal else goal - score
    if last_input < ULONG_MAX // diff:
        compensation = last_input * diff // goal
    else:
        compensation = last_input // goal * diff
    if score > goal:
        return max(last_input - compensation, min_input)
    if last_input < ULONG_MAX - compensation:
        return last_input + compensation
    return ULONG_MAX


@njit(cache=True)
def damos_quota_score(mm, s):
    """damos_quota_score() for one goal: node_mem_used_bp / node_mem_free_bp (v6.16, as the
    mtier sample uses them): the node's used or free share in basis points, over the target."""
    q = mm.damos[s]
    node = q[G_NID]
    total = 0
    free = 0
    for z in range(mm.node_zone_lo[node], mm.node_zone_hi[node]):
        total += mm.zone_managed[z]
        free += mm.zone_free[z]
    total = max(total, 1)
    cur = (total - free) * 10000 // total if q[G_METRIC] == GOAL_NODE_MEM_USED_BP else free * 10000 // total
    q[G_CURRENT] = cur
    return cur * 10000 // max(q[G_TARGET], 1)


@njit(cache=True)
def damos_set_effective_quota(mm, s):
    """damos_set_effective_quota(): the goal's feedback loop, then the time quota at the
    throughput measured so far (PAGE_SIZE * 1024 bytes/ms before any), then the size quota."""
    q = mm.damos[s]
    if q[Q_MS] == 0 and q[G_METRIC] == GOAL_NONE:
        q[Q_ESZ] = q[Q_SZ]
        return
    esz = ULONG_MAX
    if q[G_METRIC] != GOAL_NONE:
        q[Q_ESZ_BP] = damon_feed_loop_next_input(max(q[Q_ESZ_BP], 10000), damos_quota_score(mm, s))
        esz = q[Q_ESZ_BP] // 10000
    if q[Q_MS]:
        if q[Q_TOTAL_NS]:
            throughput = q[Q_TOTAL_SZ] * 1000000 // q[Q_TOTAL_NS]
        else:
            throughput = PAGE_SIZE * 1024
        esz = min(throughput * q[Q_MS], esz)
    if q[Q_SZ] and q[Q_SZ] < esz:
        esz = q[Q_SZ]
    q[Q_ESZ] = esz


@njit(cache=True)
def damos_adjust_quota(mm, c, s, now_ms):
    """damos_adjust_quota(): at each reset_interval a new charge window (qt_exceeds counts
    windows that used up their quota) with a new effective size; then the score histogram of
    pattern-matching regions sets min_score so the highest-priority esz bytes pass."""
    q = mm.damos[s]
    if q[Q_MS] == 0 and q[Q_SZ] == 0 and q[G_METRIC] == GOAL_NONE:
        return
    if now_ms >= q[Q_CHARGED_FROM] + q[Q_RESET_MS]:
        if q[Q_ESZ] and q[Q_CHARGED] >= q[Q_ESZ]:
            q[ST_QT_EXCEEDS] += 1
        q[Q_TOTAL_SZ] += q[Q_CHARGED]
        q[Q_CHARGED_FROM] = now_ms
        q[Q_CHARGED] = 0
        damos_set_effective_quota(mm, s)
    hist = mm.damon_tmp[:DAMOS_MAX_SCORE + 1, 0]
    hist[:] = 0
    reg = mm.damon_reg[c]
    max_score = 0
    for i in range(mm.damon_attr[c, A_NR]):
        if not __damos_valid_target(mm, c, i, s):
            continue
        score = damon_pa_scheme_score(mm, c, i, s)
        hist[score] += (reg[i, R_END] - reg[i, R_START]) * PAGE_SIZE
        max_score = max(max_score, score)
    cumulated = 0
    score = max_score
    while True:
        cumulated += hist[score]
        if cumulated >= q[Q_ESZ] or score == 0:
            break
        score -= 1
    q[Q_MIN_SCORE] = score


@njit(cache=True)
def damos_apply_scheme(mm, c, i, s, now):
    """damos_apply_scheme(): cut the region to what is left of the quota, apply the action,
    charge the region's size (not what moved) and the time it took; a used-up quota remembers
    where to resume (charge_addr_from = end + 1 byte). Any action but stat resets the region's
    age. Returns 1 if it split region i."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    q = mm.damos[s]
    sz = (reg[i, R_END] - reg[i, R_START]) * PAGE_SIZE
    split = 0
    if q[Q_ESZ] and q[Q_CHARGED] + sz > q[Q_ESZ]:
        sz = (q[Q_ESZ] - q[Q_CHARGED]) // PAGE_SIZE * PAGE_SIZE
        if sz == 0:
            q[ST_NR_TRIED] += 1                 # damos_update_stat(s, 0, 0)
            return 0
        if damon_split_region_at(mm, c, i, sz // PAGE_SIZE):
            split = 1
        else:
            sz = (reg[i, R_END] - reg[i, R_START]) * PAGE_SIZE
    applied = 0
    if q[S_ACTION] != DAMOS_STAT:
        cost = np.zeros(1, np.float64)
        applied = damon_pa_migrate(mm, c, reg[i, R_START], reg[i, R_END], a[A_NODE],
                                   q[S_TARGET], q[F_YOUNG], a[A_CPU], now, cost) * PAGE_SIZE
        mm.damon_cpu[c] += cost[0]
        q[Q_TOTAL_NS] += np.int64(cost[0])
    q[Q_CHARGED] += sz
    if q[Q_ESZ] and q[Q_CHARGED] >= q[Q_ESZ]:
        q[Q_CHARGE_FROM] = 1
        q[Q_ADDR_FROM] = reg[i, R_END] * PAGE_SIZE + 1
    if q[S_ACTION] != DAMOS_STAT:
        reg[i, R_AGE] = 0
    q[ST_NR_TRIED] += 1
    q[ST_SZ_TRIED] += sz
    if applied:
        q[ST_NR_APPLIED] += 1
    q[ST_SZ_APPLIED] += applied
    return split


@njit(cache=True)
def damos_skip_charged_region(mm, c, i, s):
    """The head of damon_do_apply_schemes() (v6.12): after a window that used up its quota,
    skip the regions already charged; a region straddling charge_addr_from is split and its
    second part applied. Returns (skip, region index to apply, regions inserted)."""
    q = mm.damos[s]
    if q[Q_CHARGE_FROM] == 0:
        return False, i, 0
    reg = mm.damon_reg[c]
    if i == mm.damon_attr[c, A_NR] - 1:
        q[Q_CHARGE_FROM] = 0
        q[Q_ADDR_FROM] = 0
        return True, i, 0
    addr_from = q[Q_ADDR_FROM]
    if addr_from and reg[i, R_END] * PAGE_SIZE <= addr_from:
        return True, i, 0
    inserted = 0
    if addr_from and reg[i, R_START] * PAGE_SIZE < addr_from:
        sz = (addr_from - reg[i, R_START] * PAGE_SIZE) // PAGE_SIZE
        if sz == 0:
            if reg[i, R_END] - reg[i, R_START] <= 1:
                return True, i, 0
            sz = 1
        if damon_split_region_at(mm, c, i, sz):
            i += 1
            inserted = 1
    q[Q_CHARGE_FROM] = 0
    q[Q_ADDR_FROM] = 0
    return False, i, inserted


@njit(cache=True)
def damon_do_apply_schemes(mm, c, i, now):
    """damon_do_apply_schemes(): every due, active scheme with quota left, in order, on region
    i (or the part of it a skip split left). Returns the index of the region that followed i
    before any split (damon_for_each_region_safe() does not revisit new regions)."""
    a = mm.damon_attr[c]
    inserted = 0
    r = i
    for s in range(a[A_S_LO], a[A_S_HI]):
        q = mm.damos[s]
        if a[A_PASSED] < q[S_NEXT_APPLY] or not q[W_ACTIVATED]:
            continue
        if q[Q_ESZ] and q[Q_CHARGED] >= q[Q_ESZ]:
            continue
        skip, r, ins = damos_skip_charged_region(mm, c, r, s)
        inserted += ins
        if skip:
            continue
        if not damos_valid_target(mm, c, r, s):
            continue
        inserted += damos_apply_scheme(mm, c, r, s, now)
    return i + 1 + inserted


@njit(cache=True)
def kdamond_apply_schemes(mm, c, now):
    """kdamond_apply_schemes(): quota windows of the due, active schemes, then every region,
    then the next apply time of each due scheme."""
    a = mm.damon_attr[c]
    now_ms = int(now // 1e6)
    any_due = False
    for s in range(a[A_S_LO], a[A_S_HI]):
        q = mm.damos[s]
        if a[A_PASSED] < q[S_NEXT_APPLY] or not q[W_ACTIVATED]:
            continue
        any_due = True
        damos_adjust_quota(mm, c, s, now_ms)
    if not any_due:
        return
    i = 0
    while i < a[A_NR]:
        i = damon_do_apply_schemes(mm, c, i, now)
    sample = max(a[A_SAMPLE_US], 1)
    for s in range(a[A_S_LO], a[A_S_HI]):
        q = mm.damos[s]
        if a[A_PASSED] < q[S_NEXT_APPLY]:
            continue
        apply_us = q[S_APPLY_US] if q[S_APPLY_US] else a[A_AGGR_US]
        q[S_NEXT_APPLY] = a[A_PASSED] + apply_us // sample


# ---------------------------------------------------------------- watermarks

@njit(cache=True)
def damos_wmark_wait_us(mm, s):
    """damos_wmark_wait_us(): free_mem_rate (free pages per thousand of all RAM) above high or
    below low deactivates the scheme; an inactive scheme waits until the rate falls to mid or
    below. Returns 0 when active, else the check interval."""
    q = mm.damos[s]
    if q[W_METRIC] == DAMOS_WMARK_NONE:
        return 0
    metric = mm.zone_free.sum() * 1000 // max(mm.zone_managed.sum(), 1)
    if metric > q[W_HIGH] or q[W_LOW] > metric:
        q[W_ACTIVATED] = 0
        return q[W_INTERVAL_US]
    if q[W_HIGH] >= metric >= q[W_MID] and not q[W_ACTIVATED]:
        return q[W_INTERVAL_US]
    q[W_ACTIVATED] = 1
    return 0


@njit(cache=True)
def kdamond_wait_activation(mm, c):
    """kdamond_wait_activation(), one check: 0 if some scheme is active (or there are none),
    else how long to sleep."""
    a = mm.damon_attr[c]
    wait = 0
    for s in range(a[A_S_LO], a[A_S_HI]):
        w = damos_wmark_wait_us(mm, s)
        if s == a[A_S_LO] or w < wait:
            wait = w
    return wait
