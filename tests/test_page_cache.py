"""Page cache: spill, demotion of clean cache from DRAM and discard on the last tier, refaults
and workingset activation, dirty pages written back by kswapd."""

import tierlab.simulate as sim
from tierlab.scenario import load_scenario
from tierlab.topology.build import build_machine

from conftest import SCENARIOS


def test_buffered_read_demotes_from_node0_and_discards_on_node1():
    d = load_scenario(SCENARIOS / "file-default.toml").to_dict()
    d["run"]["sample_interval_ms"] = 1
    d["run"]["check"] = True
    s = load_scenario(d)
    r = sim.run(s)
    v = r.vmstat
    demoted = r.node_vmstat["0"]["pgdemote_kswapd"] + r.node_vmstat["0"]["pgdemote_direct"]
    assert demoted > 10_000
    assert r.node_vmstat["1"]["pgdemote_kswapd"] == 0          # node 1 is the last tier
    assert v["pgsteal_file"] - demoted > 10_000                 # ... where page cache is dropped
    assert v["pgsteal_anon"] == 0 and v["pswpout"] == 0
    # default policy: the cache spilled to node 1 without reclaim until BOTH nodes reached LOW
    m = build_machine(s)
    low = {n: sum(z.low + z.lowmem_reserve for z in m.zones if z.node == n) for n in (0, 1)}
    ts = r.timeseries
    first = ts.index[ts["kswapd_wake"] > 0][0]
    before = ts.loc[first - 1]
    assert before["kswapd_wake"] == 0 and v["kswapd_wake"] > 0
    assert before["free.node0"] <= low[0] + 16
    assert before["free.node1"] <= low[1] + 1000               # 1 ms of reading at most
    assert before["pgscan_kswapd"] == 0 and before["pgdemote_kswapd"] == 0
    # Node 0 demoted its oldest cache: it lands at the head of node 1's inactive list
    # (kernel-spec 3.8), younger there than the cache that spilled to node 1 directly, so node 1
    # drops the spilled middle of the file first -- the tiers' aging inversion.
    dec = r.residency["page_cache_by_decile"]["data"]
    tenth = 460_800 // 10
    assert dec["1"][0] == tenth and dec["0"][0] == 0
    assert min(dec["0"][d] + dec["1"][d] for d in range(10)) == 0
    assert dec["0"][-1] + dec["1"][-1] == tenth


def small(workload, swap="0", demotion=True, **kernel):
    return load_scenario({
        "kernel": {"demotion_enabled": demotion, **kernel},
        "node": [{"id": 0, "cpus": 1, "memory": "64MiB"}, {"id": 1, "memory": "64MiB", "kind": "pmem"}],
        "swap": {"size": swap}, "run": {"check": True},
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": "bind:0", "workload": workload}],
    })


def test_refaults_within_the_workingset_are_activated():
    # a 40 MiB file read twice fits; then a 200 MiB stream pushes it out; reread it
    r = sim.run(small([{"type": "read", "file": "hot", "size": "40MiB", "passes": 2},
                       {"type": "read", "file": "big", "size": "200MiB"},
                       {"type": "read", "file": "hot", "size": "40MiB"}], demotion=False))
    v = r.vmstat
    assert v["pgactivate"] >= 40 * 256                  # second read() activates every page
    assert v["workingset_refault_file"] > 0
    assert v["workingset_activate_file"] <= v["workingset_refault_file"]
    assert v["pgsteal_file"] > 0 and v["pgdemote_kswapd"] + v["pgdemote_direct"] == 0


def test_dirty_page_cache_is_written_back_by_kswapd_only():
    r = sim.run(small([{"type": "fill", "size": "200MiB", "file": "log", "io": "read"}],
                      demotion=False))
    v = r.vmstat
    # buffered writes of whole pages need no read; reclaim writes them back (pgpgout)
    assert v["pgpgin"] == 0
    assert v["pgpgout"] > 0 and v["pgsteal_kswapd"] > 0
    assert v["pgpgout"] // 4 <= v["pgsteal_kswapd"]


def test_file_workload_bigger_than_its_file_is_an_error(tmp_path):
    import subprocess
    import sys
    scen = tmp_path / "f.toml"
    scen.write_text('''
[[node]]
id = 0
cpus = 1
memory = "64MiB"

[[file]]
name = "data"
size = "8MiB"

[[task]]
name = "app"
cpu_node = 0
workload = { type = "read", file = "data", size = "16MiB" }
''')
    p = subprocess.run([sys.executable, "-m", "tierlab.cli", "run", str(scen)], capture_output=True, text=True)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert "'data'" in p.stderr and "16777216" in p.stderr and "8388608" in p.stderr
