"""The cost model on a hand-computed case: a fixed access sequence with known placement gives
the exact simulated time."""

import pytest

import tierlab.simulate as sim
from tierlab.scenario import load_scenario


def test_fill_then_scan_time_is_exact():
    s = load_scenario({
        "kernel": {},
        "node": [{"id": 0, "cpus": 1, "memory": "64MiB", "read_latency_ns": 100,
                  "write_latency_ns": 120, "bandwidth": "20GB/s"},
                 {"id": 1, "memory": "64MiB", "read_latency_ns": 300, "bandwidth": "7GB/s"}],
        "cost": {"page_fault_ns": 1000, "think_ns": 5},
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": "bind:1", "workload": [
            {"type": "fill", "size": "4MiB"},               # 1024 writes, each a first-touch fault
            {"type": "scan", "size": "4MiB", "passes": 3}]}],  # 3072 reads, no faults
    })
    r = sim.run(s)
    n = 1024
    # node 1's HMAT numbers are seen from node 0: write latency defaults to read (300)
    expected_ns = n * (1000 + 300 + 5) + 3 * n * (300 + 5)
    assert r.metrics["tasks"]["app"]["time_s"] == pytest.approx(expected_ns / 1e9, rel=1e-12)
    assert r.metrics["amat_ns"] == pytest.approx(300.0)
    assert r.metrics["fast_tier_hit_ratio"] == 0.0
    assert r.residency["final"]["app"] == {"0": 0, "1": n}
