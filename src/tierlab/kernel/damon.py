"""DAMON, the data access monitor (mm/damon/core.c, v6.12): the tables, adaptive regions
(merge, split) and the per-sample access checks through the paddr operations of
damon_paddr.py. DAMOS schemes are in damos.py, the kdamond loop in kdamond.py. One kdamond per
context, a kernel thread beside kswapd:

    kdamond_fn():                                   # one loop per sampling interval
        wait until some scheme's watermarks activate it      (kdamond_wait_activation)
        prepare_access_checks: per region, one random page, mkold
        sleep sample_interval; passed_sample_intervals++
        check_accesses: per region, was that page young? -> nr_accesses, nr_accesses_bp
        every aggr_interval: merge regions (age++ / age = 0)
        apply schemes whose apply interval is due: quota window, score histogram, per region
            pattern + score check, split to fit the quota, action, stats
        every aggr_interval: last_nr_accesses = nr_accesses, nr_accesses = 0; split regions
        every ops_update_interval: recompute the region size limit

Tables live in the MM (state.py): ``damon_attr[ctx]`` (A_*), ``damon_reg[ctx, i]`` (R_*,
regions kept contiguous in address order, addresses in pages: DAMON_MIN_REGION = PAGE_SIZE, so
the kernel's byte alignments are whole pages) and ``damos[s]`` (S_*, Q_*, W_*, ST_*). Times
are simulated: the kdamond's work is charged to its own CPU time (``damon_cpu``), like
kswapd's, not to the tasks.
"""

from __future__ import annotations

import numpy as np

from .jit import njit
from .damon_paddr import damon_pa_mkold, damon_pa_young

# context attributes (damon_attr columns)
A_NODE, A_SAMPLE_US, A_AGGR_US, A_UPDATE_US, A_MIN_NR, A_MAX_NR = range(6)
A_PASSED, A_NEXT_AGGR, A_NEXT_UPDATE, A_NR, A_SZ_LIMIT, A_LAST_NR = range(6, 12)
A_PREPARED, A_S_LO, A_S_HI, A_CPU, A_START, A_END, A_CAP = range(12, 19)
# A_BUSY = 19 (damon_paddr.py): when the current step's migrations end
# region fields (damon_reg): [start, end) in pages
R_START, R_END, R_NR, R_BP, R_LAST, R_AGE, R_SAMPLE = range(7)
# scheme fields (damos): pattern, quota, watermarks, young filter, stats, quota goal
S_CTX, S_ACTION, S_TARGET, S_MIN_SZ, S_MAX_SZ, S_MIN_NR, S_MAX_NR, S_MIN_AGE, S_MAX_AGE = range(9)
S_APPLY_US, S_NEXT_APPLY = 9, 10
Q_MS, Q_SZ, Q_RESET_MS, Q_W_SZ, Q_W_NR, Q_W_AGE, Q_ESZ, Q_CHARGED = range(11, 19)
Q_CHARGED_FROM, Q_TOTAL_SZ, Q_TOTAL_NS, Q_CHARGE_FROM, Q_ADDR_FROM, Q_MIN_SCORE = range(19, 25)
W_METRIC, W_INTERVAL_US, W_HIGH, W_MID, W_LOW, W_ACTIVATED = range(25, 31)
F_YOUNG = 31
ST_NR_TRIED, ST_SZ_TRIED, ST_NR_APPLIED, ST_SZ_APPLIED, ST_QT_EXCEEDS = range(32, 37)
G_METRIC, G_TARGET, G_NID, Q_ESZ_BP, G_CURRENT = range(37, 42)

DAMOS_MIGRATE_HOT, DAMOS_MIGRATE_COLD, DAMOS_STAT = 0, 1, 2
DAMOS_WMARK_NONE, DAMOS_WMARK_FREE_MEM_RATE = 0, 1
GOAL_NONE, GOAL_NODE_MEM_USED_BP, GOAL_NODE_MEM_FREE_BP = 0, 1, 2
PAGE_SIZE = 4096
DAMON_MAX_SUBSCORE = 100
DAMON_MAX_AGE_IN_LOG = 32
ULONG_MAX = (1 << 63) - 1        # stands for the kernel's ULONG_MAX / UINT_MAX ("max")


@njit(cache=True)
def damon_rand(mm, lo, hi):
    """damon_rand(l, r): l + get_random_u32_below(r - l), from DAMON's own xorshift64*."""
    x = mm.damon_rng[0]
    x ^= x >> np.uint64(12)
    x ^= x << np.uint64(25)
    x ^= x >> np.uint64(27)
    mm.damon_rng[0] = x
    return lo + int((x * np.uint64(0x2545F4914F6CDD1D)) >> np.uint64(33)) % (hi - lo)


@njit(cache=True)
def damon_max_nr_accesses(mm, c):
    a = mm.damon_attr[c]
    return a[A_AGGR_US] // max(a[A_SAMPLE_US], 1)


@njit(cache=True)
def damon_region_sz_limit(mm, c):
    """damon_region_sz_limit(): total size / min_nr_regions, at least DAMON_MIN_REGION."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    sz = 0
    for i in range(a[A_NR]):
        sz += reg[i, R_END] - reg[i, R_START]
    if a[A_MIN_NR]:
        sz //= a[A_MIN_NR]
    return max(sz, 1)


# ---------------------------------------------------------------- regions

@njit(cache=True)
def damon_split_region_at(mm, c, i, sz):
    """damon_split_region_at(): region i keeps its first sz pages, a new region i+1 (same
    nr_accesses, bp, last_nr_accesses and age) takes the rest. No room: no split, as when
    damon_new_region() fails."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    n = a[A_NR]
    if n >= a[A_CAP]:
        return False
    for j in range(n, i + 1, -1):
        reg[j, :] = reg[j - 1, :]
    reg[i + 1, :] = reg[i, :]
    reg[i + 1, R_START] = reg[i, R_START] + sz
    reg[i, R_END] = reg[i + 1, R_START]
    a[A_NR] = n + 1
    return True


@njit(cache=True)
def damon_merge_regions_of(mm, c, thres, sz_limit):
    """damon_merge_regions_of(): age++ for a region whose nr_accesses moved by at most thres
    since the last window (else age = 0); merge it into the previous adjacent region when their
    nr_accesses differ by at most thres and the sum fits sz_limit (size-weighted averages)."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    n = a[A_NR]
    k = -1                          # last kept region (prev)
    for i in range(n):
        if abs(reg[i, R_NR] - reg[i, R_LAST]) > thres:
            reg[i, R_AGE] = 0
        else:
            reg[i, R_AGE] += 1
        if k >= 0:
            sz_l = reg[k, R_END] - reg[k, R_START]
            sz_r = reg[i, R_END] - reg[i, R_START]
            if (reg[k, R_END] == reg[i, R_START] and abs(reg[k, R_NR] - reg[i, R_NR]) <= thres
                    and sz_l + sz_r <= sz_limit):
                # damon_merge_two_regions()
                reg[k, R_NR] = (reg[k, R_NR] * sz_l + reg[i, R_NR] * sz_r) // (sz_l + sz_r)
                reg[k, R_BP] = reg[k, R_NR] * 10000
                reg[k, R_AGE] = (reg[k, R_AGE] * sz_l + reg[i, R_AGE] * sz_r) // (sz_l + sz_r)
                reg[k, R_END] = reg[i, R_END]
                continue
        k += 1
        if k != i:
            reg[k, :] = reg[i, :]
    a[A_NR] = k + 1


@njit(cache=True)
def kdamond_merge_regions(mm, c, threshold, sz_limit):
    """kdamond_merge_regions(): merge; while still above max_nr_regions, double the threshold
    and merge again, up to max_nr_accesses."""
    a = mm.damon_attr[c]
    max_thres = damon_max_nr_accesses(mm, c)
    while True:
        damon_merge_regions_of(mm, c, threshold, sz_limit)
        threshold = max(1, threshold * 2)
        if not (a[A_NR] > a[A_MAX_NR] and threshold // 2 < max_thres):
            break


@njit(cache=True)
def kdamond_split_regions(mm, c):
    """kdamond_split_regions(): when at most max_nr_regions/2 regions, split each into 2 (3 if
    the count did not change since the last split and is below max/3) random sub-regions:
    damon_split_regions_of() cuts the left part at 10-90% of its size, again for a third.
    The kernel keeps last_nr_regions in a function-static shared by every kdamond; here it is
    per context."""
    a = mm.damon_attr[c]
    n = a[A_NR]
    if n > a[A_MAX_NR] // 2:
        return
    nr_subs = 2
    if a[A_LAST_NR] == n and n < a[A_MAX_NR] // 3:
        nr_subs = 3
    reg = mm.damon_reg[c]
    tmp = mm.damon_tmp
    tmp[:n, :] = reg[:n, :]
    m = 0
    cuts = np.empty(3, np.int64)
    for i in range(n):
        start = tmp[i, R_START]
        sz_region = tmp[i, R_END] - start
        nc = 0
        for _ in range(nr_subs - 1):
            if sz_region <= 2:
                break
            sz_sub = damon_rand(mm, 1, 10) * sz_region // 10
            if sz_sub == 0 or sz_sub >= sz_region:
                continue
            cuts[nc] = start + sz_sub
            nc += 1
            sz_region = sz_sub
        # cuts are decreasing (each cuts the left part again): emit pieces left to right
        lo = start
        for j in range(nc - 1, -1, -1):
            if m >= a[A_CAP] - 1:
                break
            reg[m, :] = tmp[i, :]
            reg[m, R_START] = lo
            reg[m, R_END] = cuts[j]
            lo = cuts[j]
            m += 1
        reg[m, :] = tmp[i, :]
        reg[m, R_START] = lo
        m += 1
    a[A_NR] = m
    a[A_LAST_NR] = n


# ---------------------------------------------------------------- access checks

@njit(cache=True)
def damon_pa_prepare_access_checks(mm, c, now):
    """damon_pa_prepare_access_checks(): a random page per region, made old."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    node = a[A_NODE]
    for i in range(a[A_NR]):
        p = damon_rand(mm, reg[i, R_START], reg[i, R_END])
        reg[i, R_SAMPLE] = p
        damon_pa_mkold(mm, p, node, now)


@njit(cache=True)
def damon_pa_check_accesses(mm, c, now):
    """damon_pa_check_accesses() + damon_update_region_access_rate() (v6.7+ moving sum):
    returns the largest nr_accesses."""
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    node = a[A_NODE]
    len_window = max(damon_max_nr_accesses(mm, c), 1)
    max_nr = 0
    for i in range(a[A_NR]):
        accessed = damon_pa_young(mm, reg[i, R_SAMPLE], node, now)
        bp = reg[i, R_BP] - reg[i, R_LAST] * 10000 // len_window + (10000 if accessed else 0)
        reg[i, R_BP] = max(bp, 0)
        if accessed:
            reg[i, R_NR] += 1
        max_nr = max(max_nr, reg[i, R_NR])
    return max_nr


@njit(cache=True)
def kdamond_reset_aggregated(mm, c):
    a = mm.damon_attr[c]
    reg = mm.damon_reg[c]
    for i in range(a[A_NR]):
        reg[i, R_BP] = reg[i, R_NR] * 10000     # damon_warn_fix_nr_accesses_corruption()
        reg[i, R_LAST] = reg[i, R_NR]
        reg[i, R_NR] = 0
