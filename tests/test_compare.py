"""tierlab.compare: --vary parsing, overrides by dotted key, presets (all-fast), the table."""

import math

import pandas as pd
import pytest

from tierlab.comparison import (CompareError, all_fast, apply_variant, build_variants, compare,
                             parse_vary, preset_variants)
from tierlab.errors import TierlabError
from tierlab.scenario import load_scenario

SMALL = {
    "name": "small", "kernel": {"profile": "v6.12"},
    "node": [{"id": 0, "cpus": 2, "memory": "64MiB", "kind": "dram"},
             {"id": 1, "cpus": 0, "memory": "64MiB", "kind": "pmem"}],
    "swap": {"size": "256MiB"},
    "task": [{"name": "app", "cpu_node": 0, "mempolicy": "default", "workload": [
        {"type": "fill", "size": "112MiB", "offset": "48MiB"},
        {"type": "zipf", "footprint": "48MiB", "accesses": 300_000, "alpha": 0.9}]}],
}


@pytest.fixture(scope="module")
def small():
    return load_scenario(SMALL)


@pytest.fixture(scope="module")
def comparison(small):
    return compare(small)


# ---- parse_vary ---------------------------------------------------------------------------

def test_parse_vary_ints():
    v = parse_vary("kernel.swappiness=0,60,200")
    assert v == {"kernel.swappiness=0": {"kernel.swappiness": 0},
                 "kernel.swappiness=60": {"kernel.swappiness": 60},
                 "kernel.swappiness=200": {"kernel.swappiness": 200}}
    assert all(type(o["kernel.swappiness"]) is int for o in v.values())


def test_parse_vary_toml_values_and_bare_strings():
    assert parse_vary("kernel.demotion_enabled=true,false") == {
        "kernel.demotion_enabled=true": {"kernel.demotion_enabled": True},
        "kernel.demotion_enabled=false": {"kernel.demotion_enabled": False}}
    v = parse_vary("swap.size=0, 4GiB")
    assert list(v.values()) == [{"swap.size": 0}, {"swap.size": "4GiB"}]
    assert list(v) == ["swap.size=0", "swap.size=4GiB"]
    v = parse_vary('task.app.mempolicy="interleave:0,1",default,bind:1')
    assert [o["task.app.mempolicy"] for o in v.values()] == ["interleave:0,1", "default", "bind:1"]
    assert parse_vary("run.sample_interval_ms=2.5")["run.sample_interval_ms=2.5"] == {
        "run.sample_interval_ms": 2.5}


@pytest.mark.parametrize("spec, msg", [
    ("kernel.swappiness", "KEY=V1"),
    ("kernel.swappiness=", "empty value"),
    ("kernel.swappiness=0,,60", "empty value"),
    ("=0,1", "bad key"),
    ("kernel..swappiness=1", "bad key"),
    ("kernel.swappiness=1,1", "given twice"),
    ('task.app.mempolicy="bind:0', "unbalanced"),
])
def test_parse_vary_errors(spec, msg):
    with pytest.raises(CompareError, match=msg) as e:
        parse_vary(spec)
    assert isinstance(e.value, TierlabError)


# ---- overrides and presets ----------------------------------------------------------------

def test_variant_changes_the_named_field(small):
    s = apply_variant(small, {"kernel.swappiness": 0, "kernel.numa_balancing": 2})
    assert s.kernel.swappiness == 0 and s.kernel.numa_balancing == 2
    assert small.kernel.swappiness == 60 and small.kernel.numa_balancing == 0
    assert s.nodes == small.nodes and s.tasks == small.tasks
    s = apply_variant(small, {"node.1.memory": "128MiB", "swap.size": "1GiB",
                              "task.app.mempolicy": "bind:0", "task.app.workload.1.alpha": 1.2})
    assert s.node(1).memory == 128 * 2**20 and s.node(0).memory == 64 * 2**20
    assert s.swap.size == 2**30
    assert str(s.tasks[0].mempolicy) == "bind:0"
    assert s.tasks[0].workload[1]["alpha"] == 1.2


def test_node_is_addressed_by_kernel_id():
    d = {**SMALL, "node": [{"id": 3, "cpus": 2, "memory": "64MiB"},
                           {"id": 7, "cpus": 0, "memory": "64MiB", "kind": "pmem"}],
         "task": [{**SMALL["task"][0], "cpu_node": 3}]}
    s = apply_variant(load_scenario(d), {"node.7.memory": "32MiB"})
    assert s.node(7).memory == 32 * 2**20 and s.node(3).memory == 64 * 2**20
    with pytest.raises(CompareError, match="no node with id 1"):
        apply_variant(load_scenario(d), {"node.1.memory": "32MiB"})


def test_presets(small):
    s = apply_variant(small, {"preset": "no-demotion"})
    assert (s.kernel.demotion_enabled, s.kernel.numa_balancing) == (False, 0)
    s = apply_variant(small, {"preset": "demotion"})
    assert (s.kernel.demotion_enabled, s.kernel.numa_balancing) == (True, 0)
    s = apply_variant(small, {"preset": "demotion+promotion"})
    assert (s.kernel.demotion_enabled, s.kernel.numa_balancing) == (True, 2)
    # a preset then overrides
    s = apply_variant(small, {"preset": "demotion", "kernel.swappiness": 10})
    assert s.kernel.demotion_enabled and s.kernel.swappiness == 10
    with pytest.raises(CompareError, match="unknown preset 'hemem'.*all-fast"):
        apply_variant(small, {"preset": "hemem"})


def test_bad_overrides_are_errors(small):
    with pytest.raises(CompareError, match="'kernel.swapiness' does not exist; valid here: .*swappiness"):
        apply_variant(small, {"kernel.swapiness": 1})
    with pytest.raises(CompareError, match="kernel.swappiness.*0..200"):
        apply_variant(small, {"kernel.swappiness": 300})      # validated by load_scenario
    with pytest.raises(CompareError, match="task name"):
        apply_variant(small, {"task.nope.mempolicy": "bind:0"})
    with pytest.raises(CompareError, match="is a value"):
        apply_variant(small, {"kernel.swappiness.x": 1})


def test_all_fast_has_one_node_with_all_memory():
    d = {**SMALL, "task": [
        {"name": "a", "cpu_node": 0, "mempolicy": "bind:1", "workload": [
            {"type": "fill", "size": "8MiB"}, {"type": "policy", "mempolicy": "interleave:0,1"},
            {"type": "fill", "size": "8MiB", "offset": "8MiB"}]},
        {"name": "b", "cpu_node": 0, "mempolicy": "preferred:1",
         "workload": {"type": "fill", "size": "8MiB"}}]}
    base = load_scenario(d)
    s = all_fast(base)
    assert [n.id for n in s.nodes] == [0]
    assert s.nodes[0].memory == 128 * 2**20
    assert s.nodes[0].read_latency_ns == base.node(0).read_latency_ns == 100.0
    assert s.nodes[0].reserved == base.node(0).reserved + base.node(1).reserved
    assert s.distance == ((10,),)
    assert [str(t.mempolicy) for t in s.tasks] == ["bind:0", "preferred:0"]
    assert s.tasks[0].workload[1]["mempolicy"] == "interleave:0"
    assert s.swap == base.swap and s.kernel == base.kernel
    assert apply_variant(base, {"preset": "all-fast"}).nodes == s.nodes


def test_all_fast_picks_the_fastest_cpu_node():
    d = {**SMALL, "node": [{"id": 0, "cpus": 2, "memory": "64MiB", "read_latency_ns": 140},
                           {"id": 1, "cpus": 1, "memory": "32MiB", "read_latency_ns": 90},
                           {"id": 2, "cpus": 0, "memory": "64MiB", "kind": "hbm"}]}
    s = all_fast(load_scenario(d))
    assert [n.id for n in s.nodes] == [1]      # node 2 is faster, but has no CPU
    assert s.nodes[0].memory == 160 * 2**20 and s.nodes[0].cpus == 3
    assert s.tasks[0].cpu_node == 1


def test_build_variants_cross_product():
    v = build_variants(["no-demotion", "demotion"], ["kernel.swappiness=0,200"])
    assert list(v) == ["no-demotion kernel.swappiness=0", "no-demotion kernel.swappiness=200",
                       "demotion kernel.swappiness=0", "demotion kernel.swappiness=200"]
    assert v["demotion kernel.swappiness=200"] == {"preset": "demotion", "kernel.swappiness": 200}
    assert build_variants([], []) == {}
    assert preset_variants("all-fast") == {"all-fast": {"preset": "all-fast"}}


# ---- running and the table ----------------------------------------------------------------

def test_table_has_one_row_per_variant_from_the_results(comparison):
    t = comparison.table
    assert list(t.index) == ["no-demotion", "demotion", "demotion+promotion", "all-fast"]
    for name, r in comparison.results.items():
        row = t.loc[name]
        assert row.slowdown == r.metrics["slowdown"]
        assert row.fast_tier_hit_ratio == r.metrics["fast_tier_hit_ratio"]
        assert row.amat_ns == r.metrics["amat_ns"]
        assert row.sim_time_s == r.metrics["sim_time_s"]
        assert row.pgdemote == r.vmstat["pgdemote_kswapd"] + r.vmstat["pgdemote_direct"]
        assert row.pgpromote_success == r.vmstat["pgpromote_success"]
        assert row.pswpout == r.vmstat["pswpout"] and row.pswpin == r.vmstat["pswpin"]
        assert bool(row.oom) == r.oom["killed"]
        assert math.isclose(row.time_vs_all_fast,
                            r.metrics["sim_time_s"] / comparison.results["all-fast"].metrics["sim_time_s"] - 1)
    # what holds with the current kernel model: the workload is bigger than both nodes, so
    # every variant swaps; only demotion variants demote; all-fast serves every access from DRAM
    assert (t.pswpout > 0).all()
    assert t.loc["no-demotion", "pgdemote"] == 0 and t.loc["all-fast", "pgdemote"] == 0
    assert t.loc["demotion", "pgdemote"] > 0
    assert t.loc["all-fast", "fast_tier_hit_ratio"] == 1.0
    assert t.loc["all-fast", "amat_ns"] == 100.0
    assert t.loc["no-demotion", "fast_tier_hit_ratio"] < 1.0
    assert t.loc["all-fast", "time_vs_all_fast"] == 0.0
    assert not t.oom.any()


def test_variants_ran_their_own_scenarios(comparison):
    assert len(comparison.scenarios["all-fast"].nodes) == 1
    assert comparison.results["all-fast"].scenario["node"][0]["memory"] == 128 * 2**20
    assert len(comparison.results["demotion"].scenario["node"]) == 2
    assert comparison.results["demotion"].scenario["kernel"]["demotion_enabled"] is True
    assert comparison.results["no-demotion"].scenario["kernel"]["demotion_enabled"] is False


def test_to_csv(comparison, tmp_path):
    p = tmp_path / "cmp.csv"
    comparison.to_csv(p)
    back = pd.read_csv(p, index_col="variant")
    assert list(back.index) == list(comparison.table.index)
    assert back.loc["demotion", "pgdemote"] == comparison.table.loc["demotion", "pgdemote"]
    assert back.loc["all-fast", "fast_tier_hit_ratio"] == 1.0


def test_compare_with_vary_runs_each_value(small):
    c = compare(small, parse_vary("kernel.swappiness=0,200"))
    assert list(c.table.index) == ["kernel.swappiness=0", "kernel.swappiness=200"]
    assert "time_vs_all_fast" not in c.table
    assert c.results["kernel.swappiness=0"].scenario["kernel"]["swappiness"] == 0
    assert c.results["kernel.swappiness=200"].scenario["kernel"]["swappiness"] == 200


def test_compare_validates_every_variant_before_running(small):
    with pytest.raises(CompareError, match="bogus"):
        compare(small, {"ok": {}, "bad": {"kernel.bogus": 1}})
    with pytest.raises(CompareError, match="no variants"):
        compare(small, {})


# ---- overrides of the resolved dict re-derive defaults, keep trace paths ------------------

def test_memory_and_kind_overrides_rederive_their_defaults(small):
    s = apply_variant(small, {"node.0.memory": "16MiB", "node.1.kind": "cxl"})
    assert s.node(0).reserved == 16 * 2**20 // 64          # not the 64 MiB node's 1 MiB
    assert (s.node(1).read_latency_ns, s.node(1).read_bandwidth) == (250.0, 10e9)
    d = {**SMALL, "node": [SMALL["node"][0], {**SMALL["node"][1], "read_latency_ns": 400}]}
    s = apply_variant(load_scenario(d), {"node.1.kind": "cxl"})
    assert s.node(1).read_latency_ns == 400.0                # given in the file: kept
    assert s.node(1).write_latency_ns == 400.0 and s.node(1).read_bandwidth == 10e9


def test_variants_keep_relative_trace_paths(tmp_path, monkeypatch):
    from tierlab.workloads import convert_trace
    (tmp_path / "t.txt").write_text("".join(f"{hex(i * 4096)},R\n" for i in range(300)))
    convert_trace(str(tmp_path / "t.txt"), str(tmp_path / "t.npz"))
    (tmp_path / "s.toml").write_text(
        '[[node]]\nid = 0\ncpus = 1\nmemory = "16MiB"\n'
        '[[task]]\nname = "a"\ncpu_node = 0\nworkload = [{ type = "trace", path = "t.npz" }]\n')
    monkeypatch.chdir("/")                                   # relative to the file, not the cwd
    s = apply_variant(load_scenario(str(tmp_path / "s.toml")), {"kernel.swappiness": 0})
    assert s.tasks[0].workload[0]["path"] == str(tmp_path.resolve() / "t.npz")


def test_a_key_varied_twice_is_an_error():
    with pytest.raises(CompareError, match="'kernel.swappiness' is already varied"):
        build_variants([], ["kernel.swappiness=0", "kernel.swappiness=60"])
