"""DAMON (mm/damon/core.c, paddr.c, v6.12): adaptive regions, DAMOS migrate_hot/migrate_cold,
quotas, watermarks, counters, its interplay with reclaim, scenario errors and presets."""

import numpy as np
import pytest

import tierlab.simulate as sim
from tierlab.comparison import apply_variant
from tierlab.errors import ScenarioError
from tierlab.kernel import state as st
from tierlab.scenario import load_scenario

from conftest import SCENARIOS

MiB = 1 << 20


def scenario(workload, damon, mempolicy="default", seed=0, **kernel):
    """Node 0: 256 MiB DRAM with the CPU; node 1: 512 MiB CXL; one task."""
    return load_scenario({
        "name": "damon", "seed": seed,
        "kernel": {"demotion_enabled": False, "numa_balancing": 0, **kernel},
        "node": [{"id": 0, "cpus": 1, "memory": "256MiB"},
                 {"id": 1, "memory": "512MiB", "kind": "cxl"}],
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": mempolicy, "workload": workload}],
        "damon": damon,
    })


def hotcold(cold, hot, seconds):
    return [{"type": "hotcold", "cold_size": f"{cold}MiB", "hot_size": f"{hot}MiB",
             "duration_s": seconds, "write_ratio": 0}]


def ctx(node, *schemes, **attrs):
    return {"node": node, **attrs, "scheme": list(schemes)}


def scheme(action, target, nr_accesses, age=(0, "max"), **extra):
    return {"action": action, "target_nid": target,
            "access_pattern": {"nr_accesses": list(nr_accesses), "age": list(age)}, **extra}


def on_node(r, node, deciles):
    """Pages of task app on the node in those tenths of its address space (hotcold puts the
    hot set last: with cold = 4 x hot, deciles 0-7 are cold and 8-9 hot)."""
    return sum(r.residency["by_decile"]["app"][str(node)][d] for d in deciles)


COLD, HOT = range(8), range(8, 10)


def test_regions_adapt_within_bounds_and_find_the_hot_set():
    # monitoring only (a stat scheme): 48 MiB cold then 12 MiB hot, all on node 1
    s = scenario(hotcold(48, 12, 5), [ctx(1, {"action": "stat"}, nr_regions=[10, 40])],
                 mempolicy="bind:1")
    r = sim.run(s)
    n = r.timeseries["damon0.nr_regions"]
    t = r.timeseries["time_s"]
    assert n.iloc[0] == 1                        # damon_set_regions(): one region at start
    assert n.max() <= 40                         # never above max_nr_regions
    assert (n[t >= 1.0] >= 10).all()             # split up to min_nr_regions within 1 s
    assert n.nunique() > 2                       # merged and split again as the pattern went
    regions = r.damon[0]["regions"]
    assert regions[0][0] == 0 and regions[-1][1] == 15360
    assert all(a[1] == b[0] for a, b in zip(regions, regions[1:]))   # contiguous, ordered
    cold, hot = 12288, 15360
    # the regions wholly inside the hot set saw an access in every sample (20 per 100 ms);
    # those wholly in the cold part none
    in_hot = [x for x in regions if x[0] >= cold]
    in_cold = [x for x in regions if x[1] <= cold]
    assert in_hot and in_cold
    assert all(x[2] >= 18 for x in in_hot)
    assert all(x[2] == 0 for x in in_cold)
    assert sum(x[1] - x[0] for x in in_hot) >= 0.8 * (hot - cold)
    st_ = r.damon[0]["schemes"][0]["stats"]
    assert st_["nr_tried"] > 0 and st_["sz_applied"] == 0        # stat moves nothing
    assert r.vmstat["pgmigrate_success"] == 0


def test_migrate_hot_promotes_the_hot_set_from_the_slow_node():
    s = scenario(hotcold(48, 12, 5), [ctx(1, scheme(
        "migrate_hot", 0, (10, "max"), age=(5, "max"),
        filters=[{"type": "young", "matching": False}]))], mempolicy="bind:1")
    r = sim.run(s)
    assert on_node(r, 0, HOT) >= 0.9 * 3072                     # hot set promoted
    assert on_node(r, 0, COLD) <= 0.1 * 12288                   # cold set stays
    moved = r.damon[0]["schemes"][0]["stats"]["sz_applied"] // 4096
    v = r.vmstat
    # damon_pa_migrate() -> migrate_pages(MR_DAMON): pgmigrate_success, not pgpromote/pgdemote
    assert moved == v["pgmigrate_success"] == r.residency["final"]["app"]["0"]
    assert v["pgpromote_success"] == v["pgpromote_candidate"] == v["numa_pages_migrated"] == 0
    assert v["pgdemote_kswapd"] == v["pgdemote_direct"] == 0
    assert r.node_vmstat["0"]["numa_local"] >= moved      # counted as allocations on node 0


def cold_leaves_fast(quota=None, seconds=5):
    q = {} if quota is None else {"quotas": {"bytes": quota, "reset_interval_ms": 1000}}
    return scenario(hotcold(96, 24, seconds), [ctx(0, scheme(
        "migrate_cold", 1, (0, 0), age=(10, "max"), **q))])


def test_migrate_cold_moves_idle_pages_off_the_fast_node():
    r = sim.run(cold_leaves_fast())
    assert on_node(r, 1, COLD) >= 0.9 * 24576
    assert on_node(r, 0, HOT) >= 0.95 * 6144
    v = r.vmstat
    assert v["pgmigrate_success"] == r.damon[0]["schemes"][0]["stats"]["sz_applied"] // 4096
    assert v["pgdemote_kswapd"] == v["pgdemote_direct"] == v["pgsteal_kswapd"] == 0


def test_quota_limits_bytes_per_reset_interval():
    free = sim.run(cold_leaves_fast())
    r = sim.run(cold_leaves_fast(quota="4MiB"))
    stats = r.damon[0]["schemes"][0]["stats"]
    # damos_apply_scheme(): charged (the region sizes) stays within esz in each window, and
    # what moved is at most what was charged
    ts = r.timeseries.set_index("time_s")["damon0.scheme0.sz_applied"]
    per_window = np.diff([ts.loc[float(k)] for k in range(0, 6)])
    assert per_window.max() <= 4 * MiB
    assert stats["qt_exceeds"] >= 3 and stats["sz_applied"] <= 5 * 4 * MiB
    assert stats["sz_tried"] <= 5 * 4 * MiB
    assert free.damon[0]["schemes"][0]["stats"]["sz_applied"] > 2 * stats["sz_applied"]
    assert r.damon[0]["schemes"][0]["effective_bytes"] == 4 * MiB


def test_watermarks_deactivate_the_scheme():
    # free_mem_rate is about 880 per mil here: high = 500 keeps the scheme off
    w = {"metric": "free_mem_rate", "interval_us": 100000, "high": 500, "mid": 400, "low": 0}
    s = scenario(hotcold(96, 16, 3), [ctx(0, scheme("migrate_cold", 1, (0, 0), watermarks=w))])
    r = sim.run(s)
    assert r.vmstat["pgmigrate_success"] == 0
    assert r.damon[0]["schemes"][0]["wmarks_activated"] is False
    assert r.damon[0]["passed_sample_intervals"] == 0            # kdamond_wait_activation()
    w["high"] = 1000
    r = sim.run(scenario(hotcold(96, 16, 3), [ctx(0, scheme("migrate_cold", 1, (0, 0), watermarks=w))]))
    assert r.vmstat["pgmigrate_success"] > 0


def test_monitoring_does_not_hide_references_from_reclaim():
    """mkold clears the pte accessed bit but sets PG_young, which folio_referenced() counts:
    monitoring alone changes nothing reclaim, demotion or promotion decide."""
    for name in ("anon-bind0", "promote", "file-default", "tpp-1to4"):
        base = load_scenario(SCENARIOS / f"{name}.toml")
        d = base.to_dict()
        d["damon"] = [ctx(n["id"], {"action": "stat"}, sample_us=1000, aggr_us=20000)
                      for n in d["node"]]
        a, b = sim.run(base), sim.run(load_scenario(d))
        assert b.damon and b.damon[0]["passed_sample_intervals"] > 100
        assert a.vmstat == b.vmstat, name
        assert a.residency["final"] == b.residency["final"], name
        assert a.metrics == b.metrics, name


def test_same_seed_same_result_and_no_damon_no_trace():
    s = cold_leaves_fast(quota="8MiB", seconds=3)
    a, b = sim.run(s), sim.run(s)
    assert a.vmstat == b.vmstat and a.damon == b.damon
    assert a.timeseries.equals(b.timeseries)
    plain = sim.run(load_scenario(SCENARIOS / "anon-bind0.toml"))
    assert "damon" not in plain.to_dict() and not any(c.startswith("damon") for c in plain.timeseries)


def test_page_state_bytes():
    mm = st.new_mm(1000, 1, 2, 3)
    per_page = lambda m: sum(a.nbytes for a in (m.pg_zone.base, m.pg_prev.base)) / 1000  # noqa: E731
    assert mm.pg_damon.size == 1 and per_page(mm) == 15
    mm = st.new_mm(1000, 1, 2, 3, damon=(2, 2, 100))
    assert mm.pg_damon.nbytes == 1000        # one byte more per page, only with DAMON


@pytest.mark.parametrize("damon, field, value", [
    ([{"node": 1, "scheme": [{"action": "migrate_warm", "target_nid": 0}]}],
     "damon[0].scheme[0].action", "migrate_warm"),
    ([{"node": 1, "scheme": [{"action": "migrate_hot"}]}], "damon[0].scheme[0].target_nid", "None"),
    ([{"node": 1, "scheme": [{"action": "migrate_hot", "target_nid": 5}]}],
     "damon[0].scheme[0].target_nid", "5"),
    ([{"node": 3}], "damon[0].node", "3"),
    ([{"node": 1, "scheme": [{"action": "stat", "access_pattern": {"nr_accesses": [5, 2]}}]}],
     "damon[0].scheme[0].access_pattern.nr_accesses", "[5, 2]"),
    ([{"node": 1, "scheme": [{"action": "stat", "quotas": {"bytes": "1MiB"}}]}],
     "damon[0].scheme[0].quotas.reset_interval_ms", "0"),
    ([{"node": 1, "sample_us": 5000, "aggr_us": 1000}], "damon[0].aggr_us", "1000"),
    ([{"node": 1, "scheme": [{"action": "stat", "quota": {}}]}], "damon[0].scheme[0].quota", ""),
    ("tier", "damon", "tier"),
])
def test_bad_damon_config_one_clear_error(damon, field, value):
    with pytest.raises(ScenarioError) as e:
        scenario(hotcold(8, 8, 1), damon)
    msg = str(e.value)
    assert field in msg and value in msg and len(msg.splitlines()) == 1


def test_tiering_presets():
    s = load_scenario(SCENARIOS / "promote.toml")
    v = apply_variant(s, {"preset": "damon-tiering"})
    assert v.kernel.numa_balancing == 0 and not v.kernel.demotion_enabled
    (promote, demote) = v.damon
    assert (promote.node, promote.schemes[0].action, promote.schemes[0].target_nid) == (1, "migrate_hot", 0)
    assert (demote.node, demote.schemes[0].action, demote.schemes[0].target_nid) == (0, "migrate_cold", 1)
    assert promote.schemes[0].quota_bytes == 200 * MiB and promote.schemes[0].goal_metric is None
    assert load_scenario(v.to_dict()) == v
    assert apply_variant(s, {"preset": "all-fast"}).damon == ()
    d = s.to_dict()
    d["damon"] = "mtier"
    assert load_scenario(d).damon[0].schemes[0].goal_metric == "node_mem_used_bp"
    # the reference promote workload (200 MiB bound to node 1, then scanned): DAMON promotes
    # it within one 200 MiB quota window (the few pages left sit in regions whose sampled
    # page was never seen young); NUMA balancing's counters stay at zero; the migrate_cold
    # context, waking at the same instant, does not send the just-promoted pages back
    r = sim.run(v)
    final = r.residency["final"]["memwork"]
    assert final["0"] >= 0.99 * 51200 and final["0"] + final["1"] == 51200
    assert r.vmstat["pgpromote_success"] == r.vmstat["numa_hint_faults"] == 0
    assert r.vmstat["pgmigrate_success"] == final["0"]
    assert r.damon[1]["schemes"][0]["stats"]["sz_applied"] == 0
    t = r.timeseries
    assert t[t["rss.memwork.node0"] >= 0.99 * 51200]["time_s"].iloc[0] < 2.5


def test_cli_bad_scheme_exit_2_one_line(tmp_path):
    import subprocess
    import sys
    bad = tmp_path / "bad.toml"
    text = (SCENARIOS / "promote.toml").read_text()
    bad.write_text(text + '\n[[damon]]\nnode = 1\n[[damon.scheme]]\naction = "migrate_hot"\n'
                   'target_nid = 0\naccess_pattern = { age = [0, -1] }\n')
    p = subprocess.run([sys.executable, "-m", "tierlab.cli", "run", str(bad)], capture_output=True,
                       text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert "damon[0].scheme[0].access_pattern.age[1] = -1" in p.stderr


def test_full_target_node_stops_the_migration_at_its_min_watermark():
    """alloc_migrate_folio(): GFP_NOWAIT on the target only -- LOW, wake its kswapd, MIN, no
    reclaim and no other node; -ENOMEM ends migrate_pages() (one pgmigrate_fail)."""
    from tierlab.topology.build import build_machine
    s = scenario([{"type": "fill", "size": "400MiB"},
                  {"type": "scan", "size": "400MiB", "duration_s": 3}],
                 [ctx(1, scheme("migrate_hot", 0, (1, "max")))])
    r = sim.run(s)
    v = r.vmstat
    assert v["pgmigrate_fail"] >= 1 and v["pgmigrate_success"] > 0
    assert v["kswapd_wake"] >= 1 and v["pgdemote_kswapd"] == 0      # woken, nothing to demote to
    wmin = sum(z.min for z in build_machine(s).zones if z.node == 0)
    assert r.timeseries["free.node0"].min() >= wmin
    assert r.residency["final"]["app"]["1"] > 0                   # the rest stayed behind


def test_quota_goal_feedback_loop():
    """damon_feed_loop_next_input() (v6.8+): next = last * (1 + (goal - score) / goal), at
    least 10000; a score of twice the goal or more drops to the minimum. The mtier preset's
    goals therefore start the effective quota at 1 byte and at most double it per window."""
    from tierlab.kernel.damos import damon_feed_loop_next_input as nxt
    assert nxt(10000, 500) == 19500
    assert nxt(40000, 10000) == 40000
    assert nxt(30000, 15000) == 15000
    assert nxt(30000, 25000) == 10000
    assert nxt(12000, 19000) == 10000            # never below the minimum input
    d = load_scenario(SCENARIOS / "promote.toml").to_dict()
    d["kernel"]["numa_balancing"] = 0
    d["damon"] = "mtier"
    r = sim.run(load_scenario(d))
    hot = r.damon[0]["schemes"][0]
    # 20 one-second windows from 1 byte, node 0 far below its 99.7 % goal: < 2^20 bytes
    assert 4096 < hot["effective_bytes"] < 1 << 20
    assert 0 < hot["stats"]["sz_applied"] < 2 * (1 << 20)
