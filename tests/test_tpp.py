"""TPP's out-of-tree patches ("[PATCH 0/5] Transparent Page Placement for Tiered-Memory",
2021-11-24) on top of v6.12 tiering mode: WMARK_DEMOTE headroom on the top tier (3/5, 4/5),
the 10 s retry of a hopeless top-tier kswapd (4/5) and active-LRU-based promotion (5/5)."""

import pytest

import tierlab.simulate as sim
from tierlab.errors import ScenarioError
from tierlab.scenario import load_scenario
from tierlab.topology.build import build_machine

from conftest import SCENARIOS

MiB = 1 << 20


def fill_then_idle(tpp, demotion=True, fill="600MiB", idle_s=1.0):
    return load_scenario({
        "name": "fill",
        "kernel": {"demotion_enabled": demotion, "numa_balancing": 2, "tpp": tpp},
        "node": [{"id": 0, "cpus": 1, "memory": "256MiB"},
                 {"id": 1, "cpus": 0, "memory": "1GiB", "kind": "pmem"}],
        "task": [{"name": "app", "cpu_node": 0, "workload": [
            {"type": "fill", "size": fill}, {"type": "idle", "duration_s": idle_s}]}],
    })


def demote_mark(scenario, factor=200):
    """WMARK_DEMOTE of node 0's main zone, as TPP 3/5 computes it."""
    zone = [z for z in build_machine(scenario).zones if z.node == 0 and z.managed][-1]
    return min(max(zone.managed * factor // 10000, 2 * zone.high), zone.managed)


def test_tpp_keeps_headroom_on_the_top_tier_and_new_pages_land_there():
    """Upstream, a default-policy allocation spills to the slow node once DRAM reaches LOW and
    nothing wakes DRAM's kswapd (kernel-spec 8.3). With TPP every allocation that leaves DRAM
    below WMARK_DEMOTE wakes kswapd, which demotes the oldest pages until the mark is met."""
    up, tpp = sim.run(fill_then_idle(False)), sim.run(fill_then_idle(True))
    assert up.vmstat["pgdemote_kswapd"] == 0 and up.vmstat["pgscan_kswapd"] == 0
    assert tpp.vmstat["pgdemote_kswapd"] > 10_000
    dec_up, dec_tpp = up.residency["by_decile"]["app"], tpp.residency["by_decile"]["app"]
    tenth = 600 * 256 // 10
    assert dec_up["1"][:3] == [0, 0, 0] and sum(dec_up["0"][5:]) == 0, \
        "upstream: the oldest pages stay on DRAM, the newer half spilled to node 1"
    assert dec_tpp["1"][0] == dec_tpp["1"][1] == tenth, "TPP: the oldest pages were demoted"
    # kswapd demotes more slowly than the fill allocates, so part still spills below LOW
    assert sum(dec_tpp["0"][5:]) > 5 * tenth // 5, "TPP: newer pages landed on DRAM"
    mark = demote_mark(fill_then_idle(True))
    free_tpp = tpp.timeseries["free.node0"].iloc[-1]
    free_up = up.timeseries["free.node0"].iloc[-1]
    assert free_tpp >= mark > free_up


def test_active_lru_promotion_needs_a_page_to_be_activated_first():
    """TPP 5/5: a hint fault on an inactive slow-tier page only marks it accessed (the second
    activates it); only a fault on an active page may promote. So the reference promote run
    (200 MiB on node 1, scanned every ~100 ms) still ends with every page on node 0, but later,
    and every promoted page was activated on the way."""
    base = load_scenario(SCENARIOS / "promote.toml").to_dict()
    up = sim.run(load_scenario(base))
    base["kernel"]["tpp"] = True
    tpp = sim.run(load_scenario(base))
    pages = 200 * MiB // 4096
    for r in (up, tpp):
        assert r.residency["final"]["memwork"] == {"0": pages, "1": 0}
    assert tpp.vmstat["pgpromote_success"] == pages
    assert tpp.vmstat["pgactivate"] >= pages
    assert tpp.vmstat["numa_hint_faults"] >= 3 * pages > up.vmstat["numa_hint_faults"]

    def all_fast(r):
        ts = r.timeseries
        return ts[ts["rss.memwork.node0"] == pages]["time_s"].iloc[0]
    assert all_fast(tpp) > all_fast(up)


def test_hopeless_top_tier_kswapd_retries_every_ten_seconds():
    """TPP 4/5: with nothing it can reclaim (no demotion, no swap) DRAM's kswapd gives up after
    MAX_RECLAIM_RETRIES; upstream it would then sleep until woken, under TPP it runs
    balance_pgdat() again every 10 s (plus the HZ/10 nap after each failed run)."""
    kw = dict(demotion=False, fill="250MiB")
    short, long = (sim.run(fill_then_idle(True, idle_s=s, **kw)) for s in (1.0, 61.0))
    assert short.vmstat["pageoutrun"] >= 16       # the failed runs that made it hopeless
    assert short.vmstat["pgsteal_kswapd"] == long.vmstat["pgsteal_kswapd"] == 0
    assert long.vmstat["pageoutrun"] - short.vmstat["pageoutrun"] in (5, 6)   # 60 s / 10.1 s
    up = sim.run(fill_then_idle(False, idle_s=61.0, **kw))
    assert up.vmstat["pageoutrun"] == 0           # upstream: the spill never woke it


def test_bad_tpp_input():
    with pytest.raises(ScenarioError, match=r"kernel.tpp = True: TPP acts only in NUMA-balancing "
                                            r"tiering mode; numa_balancing = 0"):
        load_scenario({**fill_then_idle(True).to_dict(),
                       "kernel": {"numa_balancing": 0, "tpp": True}})
    with pytest.raises(ScenarioError, match=r"kernel.demote_scale_factor = 0"):
        load_scenario({**fill_then_idle(True).to_dict(),
                       "kernel": {"numa_balancing": 2, "tpp": True, "demote_scale_factor": 0}})
