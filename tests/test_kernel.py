"""The kernel model on small machines: counters, residency, invariants, determinism."""

import numpy as np
import pytest

import tierlab.simulate as sim
from tierlab.scenario import load_scenario


def scenario(policy="bind:0", demotion=True, swap="0", dram="64MiB", slow="128MiB", fill="96MiB",
             profile="v6.12", extra_steps=(), check=True, seed=0, **kernel):
    k = {"profile": profile, "demotion_enabled": demotion, **kernel}
    return load_scenario({
        "name": "small", "seed": seed,
        "kernel": k,
        "node": [
            {"id": 0, "cpus": 1, "memory": dram, "read_latency_ns": 100, "bandwidth": "20GB/s"},
            {"id": 1, "cpus": 0, "memory": slow, "kind": "pmem", "read_latency_ns": 300,
             "bandwidth": "7GB/s", "driver": "kmem"},
        ],
        "swap": {"size": swap},
        "run": {"check": check},
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": policy,
                  "workload": [{"type": "fill", "size": fill}, *extra_steps]}],
    })


def demoted(r):
    return r.vmstat["pgdemote_kswapd"] + r.vmstat["pgdemote_direct"]


def test_checking_mode_holds_through_demotion_and_counter_identity():
    r = sim.run(scenario())          # check=True: invariants verified after every reclaim batch
    v = r.vmstat
    assert demoted(r) > 0
    # pgsteal = demoted + discarded + swapped; here only demotion can free anon pages
    assert v["pgsteal_anon"] + v["pgsteal_file"] == demoted(r) + v["pswpout"]
    assert v["pgmigrate_success"] == demoted(r)
    fill_pages = 96 * 256
    assert sum(r.residency["final"]["app"].values()) == fill_pages


def test_same_seed_same_counters():
    a = sim.run(scenario(check=False, extra_steps=[{"type": "zipf", "footprint": "96MiB",
                                                   "accesses": 200_000, "alpha": 0.9}]))
    b = sim.run(scenario(check=False, extra_steps=[{"type": "zipf", "footprint": "96MiB",
                                                   "accesses": 200_000, "alpha": 0.9}]))
    assert a.vmstat == b.vmstat and a.residency == b.residency
    assert a.metrics == b.metrics


def test_swap_instead_of_demotion_when_demotion_is_off():
    r = sim.run(scenario(demotion=False, swap="256MiB"))
    assert demoted(r) == 0 and r.vmstat["pswpout"] > 0 and not r.oom["killed"]
    assert r.vmstat["pgsteal_anon"] == r.vmstat["pswpout"]
    assert r.residency["final"]["app"]["1"] == 0            # bound to node 0: nothing on node 1
    on = sim.run(scenario(demotion=True, swap="256MiB"))
    assert demoted(on) > 0 and on.vmstat["pswpout"] == 0     # demotion comes before swap


def test_swapped_pages_fault_back_in():
    r = sim.run(scenario(demotion=False, swap="256MiB",
                         extra_steps=[{"type": "scan", "size": "96MiB", "passes": 1}]))
    assert r.vmstat["pswpin"] > 0
    assert r.vmstat["pgfault"] == 96 * 256 + r.vmstat["pswpin"]
    # every swap-in is a refault of a shadow entry the swap-out left (mm/workingset.c)
    assert r.vmstat["workingset_refault_anon"] == r.vmstat["pswpin"]
    assert r.vmstat["workingset_activate_anon"] <= r.vmstat["workingset_refault_anon"]


def test_interleave_spreads_pages_evenly():
    r = sim.run(scenario(policy="interleave:0,1", fill="32MiB"))
    res = r.residency["final"]["app"]
    assert res["0"] == res["1"] == 32 * 256 // 2
    assert r.vmstat["pgscan_anon"] == 0


def test_preferred_spills_like_default_without_waking_kswapd():
    r = sim.run(scenario(policy="preferred:0"))
    assert r.vmstat["kswapd_wake"] == 0 and demoted(r) == 0
    assert r.vmstat["numa_miss"] == r.residency["final"]["app"]["1"] > 0


def test_demoted_pages_stay_bound_task_total_and_terminal_node_fills():
    # more than both nodes can hold: node 1 is terminal and has no swap, so the task is OOM-killed
    r = sim.run(scenario(fill="200MiB", check=False))
    assert r.oom["killed"] and demoted(r) > 0


def test_v515_profile_uses_single_target_and_no_promo_watermark():
    r = sim.run(scenario(profile="v5.15"))
    assert demoted(r) > 0 and not r.oom["killed"]
    off = sim.run(scenario(profile="v5.15", demotion=False))
    assert off.oom["killed"] and demoted(off) == 0


def test_mm_struct_fields_match_its_constructor():
    """MM is a numba StructRef built by _make_mm: its parameters must be the fields, in order."""
    import inspect
    from tierlab.kernel import state as st
    params = tuple(inspect.signature(st._make_mm.py_func).parameters)
    assert params == st._FIELD_NAMES
    mm = st.new_mm(8, 1, 2, 3)
    assert mm.pg_zone.shape == (8,) and mm.vmstat.shape == (2, len(__import__("tierlab.kernel.vmstat", fromlist=["ITEMS"]).ITEMS))
