"""`[[damon]]`: DAMON contexts and their DAMOS schemes, named as DAMON's sysfs interface names
them (Documentation/admin-guide/mm/damon/usage.rst): one table per kdamond context, each
monitoring the physical address space of one node (ops ``paddr``), with ``[[damon.scheme]]``
tables. Two presets set up the kernel's tiering sample (samples/damon/mtier.c: one context on
the slow node promoting hot pages, one on the fast node demoting cold ones) in one line, a
top-level ``damon = "tiering"`` (what a v6.12 kernel can run: fixed 200 MiB/s quotas) or
``damon = "mtier"`` (the v6.16 sample itself, whose quotas are tuned toward node-0 memory
goals). Every field is documented in docs/damon.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

MAX = (1 << 63) - 1             # "max": the kernel's ULONG_MAX / UINT_MAX
ACTIONS = ("migrate_hot", "migrate_cold", "stat")
WMARK_METRICS = ("none", "free_mem_rate")
GOAL_METRICS = ("node_mem_used_bp", "node_mem_free_bp")
FILTER_TYPES = ("young",)
PRESETS = ("tiering", "mtier")

_CTX_FIELDS = ("node", "sample_us", "aggr_us", "update_us", "nr_regions", "start", "end", "scheme")
_SCHEME_FIELDS = ("action", "target_nid", "apply_interval_us", "access_pattern", "quotas",
                  "watermarks", "filters")
_PATTERN_FIELDS = ("sz", "nr_accesses", "age")
_QUOTA_FIELDS = ("ms", "bytes", "reset_interval_ms", "weights", "goal")
_WEIGHT_FIELDS = ("sz_permil", "nr_accesses_permil", "age_permil")
_GOAL_FIELDS = ("target_metric", "target_value", "nid")
_WMARK_FIELDS = ("metric", "interval_us", "high", "mid", "low")
_FILTER_FIELDS = ("type", "matching")


@dataclass(frozen=True)
class DamosScheme:
    """schemes/<N>/: access pattern (sz in bytes, nr_accesses per aggregation interval, age
    in aggregation intervals), action and target node, quotas, watermarks, filters."""

    action: str
    target_nid: int | None = None
    apply_interval_us: int = 0              # 0: the context's aggr_us
    sz: tuple[int, int] = (0, MAX)
    nr_accesses: tuple[int, int] = (0, MAX)
    age: tuple[int, int] = (0, MAX)
    quota_ms: int = 0
    quota_bytes: int = 0
    quota_reset_interval_ms: int = 0
    weight_sz_permil: int = 0
    weight_nr_accesses_permil: int = 0
    weight_age_permil: int = 0
    goal_metric: str | None = None          # v6.16 metrics node_mem_used_bp / node_mem_free_bp
    goal_target_value: int = 0
    goal_nid: int = 0
    wmarks_metric: str = "none"
    wmarks_interval_us: int = 0
    wmarks_high: int = 0
    wmarks_mid: int = 0
    wmarks_low: int = 0
    filter_young: bool | None = None        # a young filter's `matching`; None = no filter


@dataclass(frozen=True)
class DamonContext:
    """One kdamond with one paddr context whose single target is ``node``'s pages."""

    node: int
    sample_us: int = 5000
    aggr_us: int = 100000
    update_us: int = 1000000
    min_nr_regions: int = 10
    max_nr_regions: int = 1000
    start: int | None = None                # monitored page-id range; None = all pages
    end: int | None = None
    schemes: tuple[DamosScheme, ...] = ()


def mtier(fast: int, slow: int, goals: bool = True) -> list[dict[str, Any]]:
    """samples/damon/mtier.c (v6.16) as scenario tables: 5 ms / 100 ms sampling, 10..1000
    regions; on the slow node migrate_hot (nr_accesses >= 1) to the fast node, on the fast node
    migrate_cold (nr_accesses 0) to the slow node; 1 s apply interval; 200 MiB per second quota
    prioritised by access frequency and age; young filters (promote only young pages, never
    demote young ones; v6.10+). ``goals``: the sample's quota goals, fast node 99.7 % used
    (promotion) and 0.5 % free (demotion) -- node_mem_{used,free}_bp exist from v6.16 only,
    so the v6.12 ``tiering`` preset leaves them out. Not taken from the sample: its
    auto-tuned intervals (v6.15 intervals_goal)."""
    def ctx(node, promote):
        return {
            "node": node, "sample_us": 5000, "aggr_us": 100000, "update_us": 60_000_000,
            "nr_regions": [10, 1000],
            "scheme": [{
                "action": "migrate_hot" if promote else "migrate_cold",
                "target_nid": fast if promote else slow,
                "apply_interval_us": 1_000_000,
                "access_pattern": {"sz": [4096, "max"],
                                   "nr_accesses": [1, "max"] if promote else [0, 0],
                                   "age": [0, "max"]},
                "quotas": {"ms": 0, "bytes": 200 << 20, "reset_interval_ms": 1000,
                           "weights": {"sz_permil": 0, "nr_accesses_permil": 100,
                                       "age_permil": 100}},
                "filters": [{"type": "young", "matching": not promote}],
            }],
        }

    out = [ctx(slow, True), ctx(fast, False)]
    if goals:
        for c, promote in zip(out, (True, False)):
            c["scheme"][0]["quotas"]["goal"] = {
                "target_metric": "node_mem_used_bp" if promote else "node_mem_free_bp",
                "target_value": 9970 if promote else 50, "nid": fast}
    return out


def read_damon(r, raw: object, nodes: dict) -> tuple[DamonContext, ...]:
    """`damon`: a preset name or a list of `[[damon]]` tables; r is scenario._Reader."""
    if isinstance(raw, str):
        if raw not in PRESETS:
            r.fail("damon", raw, f"unknown DAMON preset; valid: {', '.join(PRESETS)} "
                   "(or [[damon]] tables)")
        cpu = sorted(i for i, n in nodes.items() if n.cpus > 0)
        slow = sorted(i for i, n in nodes.items() if n.cpus == 0 and n.memory > 0)
        if not slow:
            r.fail("damon", raw, f"the {raw} preset needs a CPU-less (slow) node to tier to")
        raw = mtier(cpu[0], slow[0], goals=raw == "mtier")
    if not isinstance(raw, list):
        r.fail("damon", raw, "expected [[damon]] tables or a preset name such as \"tiering\"")
    if len(raw) > 32:
        # damon_paddr.py keeps the migrating kdamond's index in 5 bits of pg_damon
        r.fail("damon", f"{len(raw)} contexts", "at most 32 [[damon]] contexts are supported")
    return tuple(_read_ctx(r, c, f"damon[{i}]", nodes) for i, c in enumerate(raw))


def _node(r, v, path, nodes):
    n = r.int_(v, path)
    if n not in nodes:
        r.fail(path, v, f"no such node (nodes: {', '.join(str(k) for k in sorted(nodes))})")
    if nodes[n].memory == 0:
        r.fail(path, v, "node has no memory")
    return n


def _range(r, v, path, size=False):
    """[min, max], each a number (a size for `sz`) or "max"."""
    if not isinstance(v, (list, tuple)) or len(v) != 2:
        r.fail(path, v, "expected [min, max] (\"max\" for no upper limit)")
    out = []
    for k, x in enumerate(v):
        p = f"{path}[{k}]"
        if x == "max":
            out.append(MAX)
        elif size:
            out.append(r.size(x, p))
        else:
            out.append(r.int_(x, p, 0))
    if out[0] > out[1]:
        r.fail(path, list(v), "min is larger than max")
    return tuple(out)


def _read_ctx(r, raw, path, nodes) -> DamonContext:
    raw = r.table(raw, path, _CTX_FIELDS)
    if "node" not in raw:
        r.fail(f"{path}.node", None, "missing: the node whose memory the context monitors")
    d = DamonContext(node=0)
    g = lambda k, dflt: raw.get(k, dflt)          # noqa: E731
    sample = r.int_(g("sample_us", d.sample_us), f"{path}.sample_us", 1)
    aggr = r.int_(g("aggr_us", d.aggr_us), f"{path}.aggr_us", 1)
    if aggr < sample:
        # damon_set_attrs(): the aggregation interval cannot be shorter than the sampling one
        r.fail(f"{path}.aggr_us", aggr, f"must be >= sample_us ({sample})")
    update = r.int_(g("update_us", d.update_us), f"{path}.update_us", 1)
    nr = g("nr_regions", [d.min_nr_regions, d.max_nr_regions])
    if not isinstance(nr, (list, tuple)) or len(nr) != 2:
        r.fail(f"{path}.nr_regions", nr, "expected [min, max]")
    lo = r.int_(nr[0], f"{path}.nr_regions[0]", 3)          # damon_set_attrs(): min >= 3
    hi = r.int_(nr[1], f"{path}.nr_regions[1]", lo)
    start = None if raw.get("start") is None else r.int_(raw["start"], f"{path}.start", 0)
    end = None if raw.get("end") is None else r.int_(raw["end"], f"{path}.end", 1)
    if start is not None and end is not None and end <= start:
        r.fail(f"{path}.end", end, f"must be > start ({start})")
    schemes = raw.get("scheme", [])
    if not isinstance(schemes, list):
        r.fail(f"{path}.scheme", schemes, "expected [[damon.scheme]] tables")
    return DamonContext(
        node=_node(r, raw["node"], f"{path}.node", nodes), sample_us=sample, aggr_us=aggr,
        update_us=update, min_nr_regions=lo, max_nr_regions=hi, start=start, end=end,
        schemes=tuple(_read_scheme(r, s, f"{path}.scheme[{k}]", nodes)
                      for k, s in enumerate(schemes)))


def _read_scheme(r, raw, path, nodes) -> DamosScheme:
    raw = r.table(raw, path, _SCHEME_FIELDS)
    if "action" not in raw:
        r.fail(f"{path}.action", None, f"missing; valid: {', '.join(ACTIONS)}")
    action = r.str_(raw["action"], f"{path}.action", ACTIONS)
    target = raw.get("target_nid")
    if action != "stat":
        if target is None:
            r.fail(f"{path}.target_nid", None, f"missing: {action} needs the node to migrate to")
        target = _node(r, target, f"{path}.target_nid", nodes)
    elif target is not None:
        target = _node(r, target, f"{path}.target_nid", nodes)
    pat = r.table(raw.get("access_pattern", {}), f"{path}.access_pattern", _PATTERN_FIELDS)
    pp = f"{path}.access_pattern"
    q = r.table(raw.get("quotas", {}), f"{path}.quotas", _QUOTA_FIELDS)
    qp = f"{path}.quotas"
    w = r.table(q.get("weights", {}), f"{qp}.weights", _WEIGHT_FIELDS)
    goal = q.get("goal")
    gm, gv, gn = None, 0, 0
    if goal is not None:
        goal = r.table(goal, f"{qp}.goal", _GOAL_FIELDS)
        gm = r.str_(goal.get("target_metric"), f"{qp}.goal.target_metric", GOAL_METRICS)
        gv = r.int_(goal.get("target_value"), f"{qp}.goal.target_value", 1, 10000)
        gn = _node(r, goal.get("nid"), f"{qp}.goal.nid", nodes)
    reset = r.int_(q.get("reset_interval_ms", 0), f"{qp}.reset_interval_ms", 0)
    ms = r.int_(q.get("ms", 0), f"{qp}.ms", 0)
    sz = r.size(q.get("bytes", 0), f"{qp}.bytes")
    if (ms or sz or gm) and reset == 0:
        r.fail(f"{qp}.reset_interval_ms", reset, "must be > 0 when a quota (ms, bytes or goal) is set")
    wm = r.table(raw.get("watermarks", {}), f"{path}.watermarks", _WMARK_FIELDS)
    wp = f"{path}.watermarks"
    metric = r.str_(wm.get("metric", "none"), f"{wp}.metric", WMARK_METRICS)
    high, mid, low = (r.int_(wm.get(k, 0), f"{wp}.{k}", 0, 1000) for k in ("high", "mid", "low"))
    if metric != "none":
        if not high >= mid >= low:
            # damon_sysfs: high, mid and low are per-thousand free memory, high >= mid >= low
            r.fail(wp, {"high": high, "mid": mid, "low": low}, "needs high >= mid >= low")
        r.int_(wm.get("interval_us", 0), f"{wp}.interval_us", 1)    # a check period is needed
    filters = raw.get("filters", [])
    if not isinstance(filters, list) or len(filters) > 1:
        r.fail(f"{path}.filters", filters, "expected a list of at most one filter: "
               "[{ type = \"young\", matching = true }]")
    fy = None
    for k, f in enumerate(filters):
        f = r.table(f, f"{path}.filters[{k}]", _FILTER_FIELDS)
        r.str_(f.get("type"), f"{path}.filters[{k}].type", FILTER_TYPES)
        fy = r.bool_(f.get("matching", True), f"{path}.filters[{k}].matching")
    return DamosScheme(
        action=action, target_nid=target,
        apply_interval_us=r.int_(raw.get("apply_interval_us", 0), f"{path}.apply_interval_us", 0),
        sz=_range(r, pat.get("sz", [0, "max"]), f"{pp}.sz", size=True),
        nr_accesses=_range(r, pat.get("nr_accesses", [0, "max"]), f"{pp}.nr_accesses"),
        age=_range(r, pat.get("age", [0, "max"]), f"{pp}.age"),
        quota_ms=ms, quota_bytes=sz, quota_reset_interval_ms=reset,
        weight_sz_permil=r.int_(w.get("sz_permil", 0), f"{qp}.weights.sz_permil", 0),
        weight_nr_accesses_permil=r.int_(w.get("nr_accesses_permil", 0),
                                         f"{qp}.weights.nr_accesses_permil", 0),
        weight_age_permil=r.int_(w.get("age_permil", 0), f"{qp}.weights.age_permil", 0),
        goal_metric=gm, goal_target_value=gv, goal_nid=gn,
        wmarks_metric=metric,
        wmarks_interval_us=r.int_(wm.get("interval_us", 0), f"{wp}.interval_us", 0),
        wmarks_high=high, wmarks_mid=mid, wmarks_low=low, filter_young=fy)


def damon_to_dict(contexts: tuple[DamonContext, ...]) -> list[dict[str, Any]]:
    """The resolved contexts as `[[damon]]` tables (``read_damon`` of this gives them back)."""
    def mx(v):
        return "max" if v == MAX else v

    out = []
    for c in contexts:
        d: dict[str, Any] = {"node": c.node, "sample_us": c.sample_us, "aggr_us": c.aggr_us,
                             "update_us": c.update_us,
                             "nr_regions": [c.min_nr_regions, c.max_nr_regions], "scheme": []}
        if c.start is not None:
            d["start"] = c.start
        if c.end is not None:
            d["end"] = c.end
        for s in c.schemes:
            sd: dict[str, Any] = {
                "action": s.action, "apply_interval_us": s.apply_interval_us,
                "access_pattern": {"sz": [mx(v) for v in s.sz],
                                   "nr_accesses": [mx(v) for v in s.nr_accesses],
                                   "age": [mx(v) for v in s.age]},
                "quotas": {"ms": s.quota_ms, "bytes": s.quota_bytes,
                           "reset_interval_ms": s.quota_reset_interval_ms,
                           "weights": {"sz_permil": s.weight_sz_permil,
                                       "nr_accesses_permil": s.weight_nr_accesses_permil,
                                       "age_permil": s.weight_age_permil}},
                "watermarks": {"metric": s.wmarks_metric, "interval_us": s.wmarks_interval_us,
                               "high": s.wmarks_high, "mid": s.wmarks_mid, "low": s.wmarks_low},
                "filters": [] if s.filter_young is None else
                           [{"type": "young", "matching": s.filter_young}],
            }
            if s.target_nid is not None:
                sd["target_nid"] = s.target_nid
            if s.goal_metric is not None:
                sd["quotas"]["goal"] = {"target_metric": s.goal_metric,
                                        "target_value": s.goal_target_value, "nid": s.goal_nid}
            d["scheme"].append(sd)
        out.append(d)
    return out

