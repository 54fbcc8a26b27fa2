"""NUMA balancing: the reference promote scenario, hot/cold tiering, the rate limit and the
self-adjusting hot threshold."""

import numpy as np
import pytest

import tierlab.simulate as sim
from tierlab.errors import ScenarioError
from tierlab.kernel import numa_balancing as nb
from tierlab.kernel import state as st
from tierlab.scenario import load_scenario
from tierlab.topology.build import build_machine

from conftest import SCENARIOS


def test_promote_reference(reference):
    r = sim.run(load_scenario(SCENARIOS / "promote.toml"))
    ref = reference("promote")["delta"]
    v = r.vmstat
    assert abs(v["pgpromote_success"] - ref["pgpromote_success"]) <= 0.1 * ref["pgpromote_success"]
    # node 0 is smaller than 1 GiB + PROMO: every promotion passed the latency check and the
    # rate limiter, so candidates = successes as on the guest (kernel-spec 6.3)
    assert v["pgpromote_candidate"] == v["pgpromote_success"] == v["numa_pages_migrated"]
    assert v["pgmigrate_success"] == v["pgpromote_success"]
    assert r.node_vmstat["0"]["pgpromote_success"] == v["pgpromote_success"]
    assert r.node_vmstat["0"]["numa_local"] >= v["pgpromote_success"]
    assert v["numa_pte_updates"] >= v["numa_hint_faults"] >= v["pgpromote_success"]
    ts = r.timeseries
    all_fast = ts[ts["rss.memwork.node0"] == 51200]["time_s"]
    assert len(all_fast) and all_fast.iloc[0] < 2.0 < 20.0     # well before the 20 s run ends
    assert r.residency["final"]["memwork"] == {"0": 51200, "1": 0}


def hotcold(numa_balancing=2, rate_limit=65536, duration=10, **kernel):
    return load_scenario({
        "name": "hotcold",
        "kernel": {"demotion_enabled": True, "numa_balancing": numa_balancing,
                   "numa_balancing_promote_rate_limit_MBps": rate_limit,
                   "numa_balancing_scan_delay_ms": 100, "numa_balancing_scan_period_min_ms": 100,
                   **kernel},
        "node": [{"id": 0, "cpus": 1, "memory": "256MiB", "read_latency_ns": 100, "bandwidth": "20GB/s"},
                 {"id": 1, "cpus": 0, "memory": "1GiB", "kind": "pmem", "read_latency_ns": 300,
                  "bandwidth": "7GB/s"}],
        "task": [{"name": "app", "cpu_node": 0, "workload": [
            {"type": "hotcold", "cold_size": "240MiB", "hot_size": "128MiB", "duration_s": duration}]}],
    })


def test_hot_set_ends_on_dram_and_cold_set_is_demoted():
    r = sim.run(hotcold())
    v = r.vmstat
    assert v["pgpromote_success"] > 10_000 and v["pgdemote_kswapd"] > 10_000
    hot = 128 * 256
    node = r.residency["by_decile"]["app"]
    # the hot set is the last 128 MiB of 368: deciles 7-9 lie wholly inside it
    assert all(node["1"][d] == 0 for d in (7, 8, 9))
    assert sum(node["1"][:3]) > 0, "part of the cold set was demoted"
    assert r.metrics["fast_tier_hit_ratio"] > 0.95
    off = sim.run(hotcold(numa_balancing=0))
    assert off.vmstat["pgpromote_success"] == off.vmstat["pgdemote_kswapd"] == 0
    assert off.metrics["fast_tier_hit_ratio"] < 0.05
    assert r.metrics["tasks"]["app"]["amat_ns"] < off.metrics["tasks"]["app"]["amat_ns"] / 2


def test_rate_limit_throttles_promotion():
    # 1 MB/s = 256 pages/s. Scanning at least every 200 ms keeps every 1 s window supplied
    # with candidates, so promotion runs at the limit.
    r = sim.run(hotcold(rate_limit=1, duration=20, numa_balancing_scan_period_max_ms=200))
    ts = r.timeseries
    start = ts[ts["pgpromote_success"] > 0]["time_s"].iloc[0]
    rate_mb = r.vmstat["pgpromote_success"] / 256 / (r.metrics["sim_time_s"] - start)
    assert abs(rate_mb - 1.0) <= 0.1, rate_mb
    assert r.vmstat["pgpromote_candidate"] > 2 * r.vmstat["pgpromote_success"]


def test_hot_threshold_adjusts_toward_the_rate_limit():
    s = hotcold()
    mm = sim.build_mm(s, build_machine(s), [10])
    rl, ref_th = 256, 1000
    period = int(mm.knob[st.K_SCAN_PERIOD_MAX_MS])
    # far fewer candidates than rate_limit * period: the threshold rises one unit (125 ms)
    nb.numa_promotion_adjust_threshold(mm, 0, rl, ref_th, period + 1)
    assert mm.node_promo[0, st.NBP_THRESHOLD] == ref_th + 125
    # too many candidates: it falls one unit per period, never below one unit
    for k in range(2, 40):
        mm.vmstat[0, 42] += rl * period // 1000 * 2          # pgpromote_candidate
        nb.numa_promotion_adjust_threshold(mm, 0, rl, ref_th, k * (period + 1))
    assert mm.node_promo[0, st.NBP_THRESHOLD] == 125
    # not before a period has passed
    before = mm.node_promo[0].copy()
    nb.numa_promotion_adjust_threshold(mm, 0, rl, ref_th, 39 * (period + 1) + 5)
    assert (mm.node_promo[0] == before).all()


def test_tiering_mode_needs_a_v518_profile():
    d = hotcold().to_dict()
    d["kernel"]["profile"] = "v5.15"
    with pytest.raises(ScenarioError, match=r"kernel.numa_balancing = 2.*v5.18"):
        load_scenario(d)


def test_scan_period_grows_when_nothing_is_recorded():
    s = hotcold()
    mm = sim.build_mm(s, build_machine(s), [10])
    mm.task_scan_period[0] = 100
    nb.update_task_scan_period(mm, 0)
    assert mm.task_scan_period[0] == 200
    mm.task_numa_faults[0, nb.LOCAL] = 5
    nb.update_task_scan_period(mm, 0)
    assert mm.task_scan_period[0] == 200 + 3 * 20


def test_normal_mode_moves_misplaced_pages_to_the_cpu_node():
    """numa_balancing = 1: pages placed on node 1 move to the faulting CPU's node after the
    two-reference filter; no promotion counters (that is tiering mode)."""
    s = load_scenario({
        "kernel": {"numa_balancing": 1, "numa_balancing_scan_delay_ms": 100,
                   "numa_balancing_scan_period_min_ms": 100},
        "node": [{"id": 0, "cpus": 1, "memory": "256MiB"}, {"id": 1, "cpus": 1, "memory": "256MiB"}],
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": "bind:1", "workload": [
            {"type": "fill", "size": "32MiB"}, {"type": "policy", "mempolicy": "default"},
            {"type": "scan", "size": "32MiB", "duration_s": 3}]}],
    })
    r = sim.run(s)
    v = r.vmstat
    assert r.residency["final"]["app"] == {"0": 8192, "1": 0}
    assert v["numa_pages_migrated"] == 8192 and v["pgpromote_success"] == 0
    assert v["numa_hint_faults"] >= 8192 and v["numa_hint_faults_local"] >= 0


def test_idle_steps_charge_the_scanner_like_the_access_loop():
    """engine.run_idle runs the NUMA-balancing scanner when it is due and charges its cost to
    the task's tier time, as the access loop does (one helper, engine.numa_scan_tick)."""
    from tierlab.engine import run_idle
    s = hotcold()
    mm = sim.build_mm(s, build_machine(s), [1000])
    mm.task_numa_next[0] = 0.0                      # a scan is due
    run_idle(mm, 0, 1e6)
    assert mm.task_tier_ns[0] > 0                   # 1000 ptes looked at
    assert mm.task_clock[0] == pytest.approx(1e6 + mm.task_tier_ns[0])
    assert mm.task_numa_next[0] > 1e6               # the next scan is a period away
