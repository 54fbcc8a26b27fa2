"""Memory cgroups: reclaim inside the memcg at memory.max, demotion by profile, memcg OOM,
proactive reclaim (memory.reclaim) and node_reclaim (zone_reclaim_mode)."""

import pytest

import tierlab.simulate as sim
from tierlab.errors import ScenarioError
from tierlab.scenario import load_scenario

KiB, MiB = 1 << 10, 1 << 20


def memcg_scenario(profile="v6.1", swap="256MiB", limit="32MiB", fill="64MiB", steps=(), **kernel):
    k = {"profile": profile, **kernel}
    if profile == "rfc-2020":
        k.setdefault("zone_reclaim_mode", 8)          # RECLAIM_MIGRATE: demotion on
    else:
        k.setdefault("demotion_enabled", True)
    return load_scenario({
        "kernel": k,
        "node": [{"id": 0, "cpus": 1, "memory": "128MiB"},
                 {"id": 1, "memory": "128MiB", "kind": "pmem", "driver": "kmem"}],
        "swap": {"size": swap},
        "memcg": [{"name": "job", "max": limit}],
        "run": {"check": True},
        "task": [{"name": "app", "cpu_node": 0, "memcg": "job",
                  "workload": [{"type": "fill", "size": fill}, *steps]}],
    })


def demoted(r):
    return r.vmstat["pgdemote_kswapd"] + r.vmstat["pgdemote_direct"]


def test_rfc2020_memcg_reclaim_never_demotes():
    r = sim.run(memcg_scenario("rfc-2020"))
    v = r.vmstat
    assert demoted(r) == 0 and v["pgsteal_anon"] > 0 and v["pswpout"] > 0
    m = r.memcg["job"]
    assert m["usage"] <= m["max"] == 32 * 256 and m["events"]["max"] > 0 and m["stat"]["pgdemote"] == 0
    # cgroup reclaim is not counted in the global pgscan/pgsteal_{kswapd,direct}
    assert v["pgscan_direct"] == v["pgsteal_direct"] == v["pgscan_kswapd"] == 0
    assert m["stat"]["pgsteal"] == v["pgsteal_anon"] and m["stat"]["pgscan"] == v["pgscan_anon"]
    assert not r.oom["killed"]


def test_v61_memcg_reclaim_demotes_without_uncharging():
    r = sim.run(memcg_scenario("v6.1"))
    m = r.memcg["job"]
    assert demoted(r) > 0 and m["stat"]["pgdemote"] == demoted(r)
    # demotion keeps the charge, so the memcg still had to swap to stay under its limit
    assert r.vmstat["pswpout"] > 0 and m["usage"] <= 32 * 256
    assert m["usage"] == sum(r.residency["final"]["app"].values())
    assert not r.oom["killed"]


def test_memcg_oom_when_nothing_can_leave():
    r = sim.run(memcg_scenario("v6.1", swap="0"))
    assert r.oom["killed"] and r.oom["victims"] == ["app"]
    assert r.memcg["job"]["events"]["oom_kill"] == 1 and r.memcg["job"]["events"]["max"] > 0
    assert demoted(r) > 0          # it demoted first: progress that did not lower the charge


def test_memory_reclaim_demotes_and_counts_as_direct():
    step = [{"type": "reclaim", "size": "8MiB"}]
    r = sim.run(memcg_scenario("v6.12", limit="max", fill="16MiB", steps=step, swap="64MiB"))
    assert r.metrics["tasks"]["app"]["proactive_reclaimed"][0] >= 8 * 256
    assert demoted(r) > 0 and r.vmstat["pgdemote_direct"] == demoted(r)   # proactive = direct before 2025
    assert r.vmstat["pgsteal_direct"] == 0                                  # cgroup reclaim
    off = sim.run(memcg_scenario("v6.12", limit="max", fill="16MiB", steps=step, swap="64MiB",
                                 demotion_enabled=False))
    assert demoted(off) == 0 and off.vmstat["pswpout"] >= 8 * 256


def test_proactive_reclaim_does_not_fall_back_from_the_top_tier_on_v612():
    """v6.2+ ("mm: disable top-tier fallback to reclaim on proactive reclaim"): pages that could
    not be demoted stay; v6.1 drops them instead. Node 1, the demotion target, is full of kernel
    memory (free below its min watermark, nothing reclaimable), so every demotion fails. (A
    target full of pages reclaim can drop does not show the rule: node 1's kswapd and the memcg
    reclaim itself drop the demoted pages there, making room for more.)"""
    full = 63 * MiB - 64 * KiB                         # of 64 MiB; 1 MiB is struct pages
    def scen(profile):
        return load_scenario({
            "kernel": {"profile": profile, "demotion_enabled": True},
            "node": [{"id": 0, "cpus": 1, "memory": "128MiB"},
                     {"id": 1, "memory": "64MiB", "kind": "pmem", "driver": "kmem",
                      "kernel_memory": full}],
            "memcg": [{"name": "job"}], "run": {"check": True},
            "task": [{"name": "app", "cpu_node": 0, "memcg": "job", "workload": [
                {"type": "read", "file": "data", "size": "16MiB"},
                {"type": "reclaim", "size": "8MiB"}]}],
        })
    new, old = sim.run(scen("v6.12")), sim.run(scen("v6.1"))
    for r in (new, old):
        assert demoted(r) == 0 and r.residency["page_cache"]["data"].get("1", 0) == 0
    assert new.residency["page_cache"]["data"]["0"] == 16 * 256        # nothing left node 0
    assert new.metrics["tasks"]["app"]["proactive_reclaimed"][0] == 0
    assert old.residency["page_cache"]["data"]["0"] <= 8 * 256         # dropped instead
    assert old.metrics["tasks"]["app"]["proactive_reclaimed"][0] >= 8 * 256


def test_bad_memcg_input():
    with pytest.raises(ScenarioError, match=r"memcg\[0\].max = -1"):
        memcg_scenario(limit=-1)
    with pytest.raises(ScenarioError, match=r"memcg\[0\].max = '1TiB'.*larger than the machine"):
        memcg_scenario(limit="1TiB")
    d = memcg_scenario().to_dict()
    d["task"][0]["memcg"] = "nope"
    with pytest.raises(ScenarioError, match=r"task\[0\].memcg = 'nope'.*defined: job"):
        load_scenario(d)


def test_zone_reclaim_mode_reclaims_page_cache_locally_instead_of_spilling():
    def scen(mode):
        return load_scenario({
            "kernel": {"zone_reclaim_mode": mode},
            "node": [{"id": 0, "cpus": 1, "memory": "64MiB"}, {"id": 1, "cpus": 1, "memory": "64MiB"}],
            "distance": [[10, 21], [21, 10]],
            "run": {"check": True},
            "task": [{"name": "app", "cpu_node": 0, "workload": [
                {"type": "read", "file": "data", "size": "48MiB"},
                {"type": "fill", "size": "40MiB"}]}],
        })
    spill = sim.run(scen(0))
    local = sim.run(scen(1))
    assert spill.vmstat["pgsteal_file"] == 0 and spill.residency["final"]["app"]["1"] > 0
    # node_reclaim drops unmapped page cache on node 0 so anon stays local
    assert local.vmstat["pgsteal_file"] > 0
    assert local.residency["final"]["app"]["1"] < spill.residency["final"]["app"]["1"]


@pytest.mark.parametrize("lru", ["classic", "mglru"])
def test_memory_low_and_min_protect_a_memcg_from_global_reclaim(lru):
    """shrink_node_memcgs() (and shrink_one() under MGLRU) skip a memcg whose usage is within
    memory.min, and within memory.low while unprotected memory is left: reclaim of node 0 then
    takes only the other memcg's pages. Protection below the usage does not shield it."""
    def run(low="0", min_="0"):
        return sim.run(load_scenario({
            "name": "low", "seed": 3,
            "kernel": {"profile": "v6.12", "demotion_enabled": True, "lru": lru},
            "node": [{"id": 0, "cpus": 1, "memory": "64MiB"},
                     {"id": 1, "memory": "128MiB", "kind": "pmem", "driver": "kmem"}],
            "memcg": [{"name": "prot", "low": low, "min": min_}, {"name": "other"}],
            "run": {"check": True},
            "task": [{"name": "p", "cpu_node": 0, "memcg": "prot", "mempolicy": "bind:0",
                      "workload": [{"type": "fill", "size": "24MiB"},
                                   {"type": "idle", "duration_s": 2}]},
                     {"name": "o", "cpu_node": 0, "memcg": "other", "mempolicy": "bind:0",
                      "start_s": 0.1, "workload": [{"type": "fill", "size": "80MiB"}]}]}))
    for r in (run(low="24MiB"), run(min_="24MiB")):
        assert r.memcg["prot"]["stat"]["pgscan"] == 0
        assert r.residency["final"]["p"] == {"0": 24 * 256, "1": 0}
        assert r.memcg["other"]["stat"]["pgdemote"] > 0
    partly = run(low="8MiB")
    assert partly.memcg["prot"]["stat"]["pgdemote"] > 0
