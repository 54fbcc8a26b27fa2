"""DAMON between the scenario and the kernel model: the size of the DAMON tables, filling them
from the [[damon]] contexts (scenario_damon.py) and reading the per-scheme stats back for the
result. The kdamonds themselves are kernel code (kernel/damon.py, damos.py, kdamond.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .kernel import damon as dm
from .kernel import state as st
from .kernel.kdamond import kdamond_init_ctx
from .scenario import Scenario


def damon_dims(scenario: Scenario) -> tuple[int, int, int]:
    """(contexts, schemes, region capacity per context) for new_mm: room for a split pass
    (<= 1.5 x max_nr_regions) plus the quota splits of every scheme."""
    if not scenario.damon:
        return (0, 0, 0)
    cap = max(2 * c.max_nr_regions + 4 * len(c.schemes) + 16 for c in scenario.damon)
    return (len(scenario.damon), sum(len(c.schemes) for c in scenario.damon), cap)


_DAMOS_ACTION = {"migrate_hot": dm.DAMOS_MIGRATE_HOT, "migrate_cold": dm.DAMOS_MIGRATE_COLD,
                 "stat": dm.DAMOS_STAT}
_GOAL = {None: dm.GOAL_NONE, "node_mem_used_bp": dm.GOAL_NODE_MEM_USED_BP,
         "node_mem_free_bp": dm.GOAL_NODE_MEM_FREE_BP}


def setup_damon(mm: st.MM, scenario: Scenario, pos: dict[int, int], n_pages: int,
                cpu_node: int) -> None:
    """Fill the DAMON tables from the [[damon]] contexts and start every kdamond at time 0
    (kdamond_init_ctx()). Node ids become node positions."""
    mm.knob[st.K_DAMON] = 1
    mm.damon_rng[0] = np.uint64(0x2545F4914F6CDD1D ^ (scenario.seed * 0x9E3779B97F4A7C15 % (1 << 64)))
    cap = mm.damon_reg.shape[1]
    s = 0
    for c, ctx in enumerate(scenario.damon):
        a = mm.damon_attr[c]
        a[dm.A_NODE] = pos[ctx.node]
        a[dm.A_SAMPLE_US], a[dm.A_AGGR_US], a[dm.A_UPDATE_US] = ctx.sample_us, ctx.aggr_us, ctx.update_us
        a[dm.A_MIN_NR], a[dm.A_MAX_NR] = ctx.min_nr_regions, ctx.max_nr_regions
        a[dm.A_START] = min(ctx.start or 0, n_pages - 1)
        a[dm.A_END] = max(min(ctx.end or n_pages, n_pages), a[dm.A_START] + 1)
        a[dm.A_CPU] = cpu_node
        a[dm.A_CAP] = cap
        a[dm.A_S_LO] = s
        for sc in ctx.schemes:
            q = mm.damos[s]
            q[dm.S_CTX] = c
            q[dm.S_ACTION] = _DAMOS_ACTION[sc.action]
            q[dm.S_TARGET] = -1 if sc.target_nid is None else pos[sc.target_nid]
            q[dm.S_MIN_SZ], q[dm.S_MAX_SZ] = sc.sz
            q[dm.S_MIN_NR], q[dm.S_MAX_NR] = sc.nr_accesses
            q[dm.S_MIN_AGE], q[dm.S_MAX_AGE] = sc.age
            q[dm.S_APPLY_US] = sc.apply_interval_us
            q[dm.Q_MS], q[dm.Q_SZ], q[dm.Q_RESET_MS] = sc.quota_ms, sc.quota_bytes, sc.quota_reset_interval_ms
            q[dm.Q_W_SZ] = sc.weight_sz_permil
            q[dm.Q_W_NR] = sc.weight_nr_accesses_permil
            q[dm.Q_W_AGE] = sc.weight_age_permil
            q[dm.G_METRIC] = _GOAL[sc.goal_metric]
            q[dm.G_TARGET] = sc.goal_target_value
            q[dm.G_NID] = pos[sc.goal_nid] if sc.goal_metric else 0
            q[dm.W_METRIC] = (dm.DAMOS_WMARK_FREE_MEM_RATE if sc.wmarks_metric == "free_mem_rate"
                              else dm.DAMOS_WMARK_NONE)
            q[dm.W_INTERVAL_US] = sc.wmarks_interval_us
            q[dm.W_HIGH], q[dm.W_MID], q[dm.W_LOW] = sc.wmarks_high, sc.wmarks_mid, sc.wmarks_low
            q[dm.F_YOUNG] = 0 if sc.filter_young is None else (1 if sc.filter_young else 2)
            s += 1
        a[dm.A_S_HI] = s
        kdamond_init_ctx(mm, c, 0.0)


def damon_stats(scenario: Scenario, mm: st.MM) -> list[dict[str, Any]]:
    """Per kdamond context: its node, final regions, CPU time; per scheme the DAMOS stats as
    sysfs names them (schemes/<N>/stats/) and the last effective quota (quotas/effective_bytes)."""
    out = []
    s = 0
    for c, ctx in enumerate(scenario.damon):
        a = mm.damon_attr[c]
        schemes = []
        for sc in ctx.schemes:
            q = mm.damos[s]
            schemes.append({
                "action": sc.action, "target_nid": sc.target_nid,
                "stats": {"nr_tried": int(q[dm.ST_NR_TRIED]), "sz_tried": int(q[dm.ST_SZ_TRIED]),
                          "nr_applied": int(q[dm.ST_NR_APPLIED]),
                          "sz_applied": int(q[dm.ST_SZ_APPLIED]),
                          "qt_exceeds": int(q[dm.ST_QT_EXCEEDS])},
                "effective_bytes": int(q[dm.Q_ESZ]),
                "wmarks_activated": bool(q[dm.W_ACTIVATED]),
            })
            s += 1
        reg = mm.damon_reg[c, :a[dm.A_NR]]
        out.append({"node": ctx.node, "nr_regions": int(a[dm.A_NR]),
                    "passed_sample_intervals": int(a[dm.A_PASSED]),
                    "kdamond_cpu_s": float(mm.damon_cpu[c] / 1e9), "schemes": schemes,
                    # [start page, end page, nr_accesses of the last aggregation, age]
                    "regions": [[int(r[dm.R_START]), int(r[dm.R_END]), int(r[dm.R_LAST]),
                                 int(r[dm.R_AGE])] for r in reg]})
    return out
