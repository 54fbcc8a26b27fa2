"""Scenario loading: defaults, presets, round trip, and one test per kind of error."""

import glob
import json
from pathlib import Path

import pytest

from tierlab.errors import ScenarioError
from tierlab.scenario import (KIND_DEFAULTS, MemPolicy, Scenario, load_scenario,
                              parse_mempolicy)

ROOT = Path(__file__).resolve().parents[1]

BASE = """
name = "t"
[kernel]
profile = "v6.12"
{kernel}
[[node]]
id = 0
cpus = 2
memory = "1GiB"
{node0}
[[node]]
id = 1
memory = "2GiB"
kind = "pmem"
{node1}
[[task]]
name = "app"
cpu_node = 0
mempolicy = "{policy}"
workload = {{ type = "fill", size = "100MiB" }}
{task}
"""


def toml(kernel="", node0="", node1="", policy="default", task="", extra=""):
    return extra + BASE.format(kernel=kernel, node0=node0, node1=node1, policy=policy, task=task)


def load_bad(tmp_path, text):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ScenarioError) as e:
        load_scenario(p)
    return str(e.value)


def expect(msg, *parts):
    for part in parts:
        assert part in msg, f"{part!r} not in {msg!r}"


# --- loading and defaults -------------------------------------------------------------------

def test_sources_path_string_dict(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text(toml())
    a, b, c = load_scenario(p), load_scenario(str(p)), load_scenario(toml())
    d = load_scenario(a.to_dict())
    assert a == b == c == d
    assert a.source == str(p) and c.source == "<string>" and d.source == "<dict>"
    assert a.name == "t"


def test_node_defaults_from_kind():
    s = load_scenario(toml())
    n0, n1 = s.nodes
    assert (n0.read_latency_ns, n0.write_latency_ns, n0.read_bandwidth, n0.write_bandwidth) == \
        (100.0, 100.0, 20e9, 20e9)
    assert (n1.read_latency_ns, n1.write_latency_ns, n1.read_bandwidth, n1.write_bandwidth) == \
        KIND_DEFAULTS["pmem"] == (305.0, 305.0, 6.6e9, 2.3e9)
    assert (n0.driver, n1.driver) == ("firmware", "kmem")
    assert n0.reserved == (1 << 30) // 64 and n1.reserved == (2 << 30) // 64
    assert s.distance == ((10, 20), (20, 10))
    assert s.hmat is True and s.seed == 0 and s.swap.size == 0


def test_latency_and_bandwidth_fields():
    s = load_scenario(toml(node1='read_latency_ns = 400\nbandwidth = "5GiB/s"'))
    n1 = s.nodes[1]
    assert n1.write_latency_ns == 400.0                      # defaults to read
    assert n1.read_bandwidth == n1.write_bandwidth == 5 * 2**30
    s = load_scenario(toml(node1='read_bandwidth = "8GB/s"\nwrite_bandwidth = "2GB/s"'))
    assert (s.nodes[1].read_bandwidth, s.nodes[1].write_bandwidth) == (8e9, 2e9)
    s = load_scenario(toml().replace('kind = "pmem"', 'kind = "cxl"'))
    assert (s.nodes[1].read_latency_ns, s.nodes[1].read_bandwidth, s.nodes[1].driver) == \
        (250.0, 10e9, "kmem")
    s = load_scenario(toml().replace('kind = "pmem"', 'kind = "hbm"'))
    assert s.nodes[1].read_latency_ns == 90.0 and s.nodes[1].driver == "firmware"


def test_mempolicy_strings():
    assert parse_mempolicy("default") == MemPolicy("default", ())
    assert parse_mempolicy("local") == MemPolicy("local", ())
    assert parse_mempolicy("bind:1,0") == MemPolicy("bind", (0, 1))
    assert parse_mempolicy("interleave:0-2,5") == MemPolicy("interleave", (0, 1, 2, 5))
    assert parse_mempolicy("preferred:3") == MemPolicy("preferred", (3,))
    assert str(MemPolicy("interleave", (0, 1, 2))) == "interleave:0,1,2"
    for bad in ("bind", "preferred:0,1", "local:0", "fast:0", "bind:a", "bind:3-1"):
        with pytest.raises(ValueError):
            parse_mempolicy(bad)


def test_workload_table_or_list():
    s = load_scenario(toml())
    assert s.tasks[0].workload == ({"type": "fill", "size": "100MiB"},)
    s = load_scenario(toml(policy="bind:1").replace(
        'workload = { type = "fill", size = "100MiB" }',
        'workload = [{ type = "fill", size = "1MiB" }, { type = "policy", mempolicy = "default" }]'))
    assert [w["type"] for w in s.tasks[0].workload] == ["fill", "policy"]
    assert s.tasks[0].mempolicy == MemPolicy("bind", (1,))


def test_preset_and_override_by_id():
    s = load_scenario({"preset": "dram-cxl", "node": [{"id": 1, "memory": "8GiB"}]})
    assert [n.memory for n in s.nodes] == [16 << 30, 8 << 30]
    assert s.nodes[1].kind == "cxl" and s.distance == ((10, 20), (20, 10))
    q = load_scenario({"preset": "qemu-6.12-hmat", "node": [{"id": 0, "kernel_memory": "30MiB"}]})
    assert q.nodes[0].zones == (("DMA", 3856), ("DMA32", 113630))
    assert q.nodes[0].kernel_memory == 30 << 20
    assert q.nodes[1].read_bandwidth == 7e9 and q.nodes[1].driver == "firmware"
    a = load_scenario({"preset": "2socket-dram-pmem"})
    assert a.distance[0] == (10, 21, 17, 28) and [n.cpus for n in a.nodes] == [2, 2, 0, 0]


@pytest.mark.parametrize("name", ["dram-pmem", "2socket-dram-pmem", "dram-cxl", "dram-cxl-pmem",
                                  "qemu-6.12-hmat"])
def test_presets_round_trip(name):
    s = load_scenario({"preset": name})
    d = s.to_dict()
    json.dumps(d)
    assert load_scenario(d) == s
    assert "preset" not in d


@pytest.mark.parametrize("path", sorted(glob.glob(str(ROOT / "scenarios" / "*.toml"))))
def test_scenario_files_load_and_round_trip(path):
    s = load_scenario(path)
    d = s.to_dict()
    again = load_scenario(json.loads(json.dumps(d)))
    assert again == s
    if Path(path).stem.startswith(("anon-", "promote", "file-")):     # the reference QEMU guest
        assert d["node"][0]["memory"] == 512 << 20 and d["node"][0]["zones"] == {"DMA": 3856, "DMA32": 113630}
        assert s.kernel.profile == "v6.12" and s.hmat is True and s.swap.size == 0


def test_reference_scenarios_content():
    files = {Path(p).stem: load_scenario(p) for p in glob.glob(str(ROOT / "scenarios" / "*.toml"))}
    assert {"anon-default", "anon-bind0", "anon-bind0-nodemote", "promote"} <= set(files)
    assert str(files["anon-default"].tasks[0].mempolicy) == "default"
    assert str(files["anon-bind0"].tasks[0].mempolicy) == "bind:0"
    assert files["anon-bind0"].kernel.demotion_enabled is True
    assert files["anon-bind0-nodemote"].kernel.demotion_enabled is False
    assert files["anon-bind0"].tasks[0].workload[0] == {"type": "fill", "size": "800MiB"}
    p = files["promote"]
    assert (p.kernel.numa_balancing, p.kernel.numa_balancing_scan_delay_ms,
            p.kernel.numa_balancing_scan_period_min_ms) == (2, 100, 100)
    assert [w["type"] for w in p.tasks[0].workload] == ["fill", "policy", "scan"]
    assert files["anon-bind0"].nodes[0].kernel_memory == (469944 - 439880) * 1024


def test_to_dict_sizes_in_bytes_and_defaults_filled():
    d = load_scenario(toml()).to_dict()
    assert d["node"][1]["memory"] == 2 << 30
    assert d["kernel"]["watermark_scale_factor"] == 10
    assert d["kernel"]["lowmem_reserve_ratio"] == [256, 256, 32, 0]
    assert d["task"][0]["mempolicy"] == "default"
    assert d["cost"]["page_fault_ns"] == 1000.0 and d["run"]["max_time_s"] == 3600.0


def test_source_not_part_of_equality():
    a = load_scenario(toml())
    b = Scenario(**{**a.__dict__, "source": "elsewhere.toml"})
    assert a == b


# --- errors: one test per kind, each checking file, field path and value --------------------

def test_error_unknown_field_everywhere(tmp_path):
    m = load_bad(tmp_path, toml(extra='colour = "red"\n'))
    expect(m, "bad.toml", "colour: unknown field", "valid fields: name, seed, preset")
    m = load_bad(tmp_path, toml(kernel="numa_balance = 1"))
    expect(m, "bad.toml", "kernel.numa_balance: unknown field", "numa_balancing", "swappiness")
    m = load_bad(tmp_path, toml(node1="latency = 3"))
    expect(m, "bad.toml", "node[1].latency: unknown field", "read_latency_ns", "kernel_memory")
    m = load_bad(tmp_path, toml(task="priority = 1"))
    expect(m, "task[0].priority: unknown field", "cpu_node, mempolicy")
    m = load_bad(tmp_path, toml(node0="zones = { HIGHMEM = 1 }"))
    expect(m, "node[0].zones.HIGHMEM: unknown field", "DMA, DMA32, NORMAL, MOVABLE")
    m = load_bad(tmp_path, toml() + "\n[cost]\nfault_ns = 1\n")
    expect(m, "cost.fault_ns: unknown field", "page_fault_ns")
    m = load_bad(tmp_path, toml() + "\n[run]\nmax_time = 1\n")
    expect(m, "run.max_time: unknown field", "max_time_s")
    # a top-level key after a table header: the hint says why
    m = load_bad(tmp_path, toml(node1="distance = [[10, 20], [20, 10]]"))
    expect(m, "node[1].distance: unknown field", "top-level key")


def test_error_bad_size(tmp_path):
    m = load_bad(tmp_path, toml().replace('memory = "2GiB"', 'memory = "2XB"'))
    expect(m, "bad.toml", "node[1].memory", "'2XB'", "512MiB")
    m = load_bad(tmp_path, toml(node1='bandwidth = "fast"'))
    expect(m, "node[1].bandwidth", "'fast'", "20GB/s")
    m = load_bad(tmp_path, toml() + '\n[swap]\nsize = -5\n')
    expect(m, "swap.size", "-5")


def test_error_node_id_twice(tmp_path):
    m = load_bad(tmp_path, toml().replace("id = 1", "id = 0"))
    expect(m, "bad.toml", "node[1].id = 0", "used twice", "node[0]")


def test_error_no_nodes():
    with pytest.raises(ScenarioError) as e:
        load_scenario({"task": []})
    expect(str(e.value), "<dict>", "node", "no [[node]]")


def test_error_no_node_with_cpus(tmp_path):
    m = load_bad(tmp_path, toml().replace("cpus = 2", "cpus = 0"))
    expect(m, "bad.toml", "cpus", "no node has CPUs")


def test_error_distance(tmp_path):
    m = load_bad(tmp_path, toml(extra="distance = [[10, 20]]\n"))
    expect(m, "bad.toml", "distance = [[10, 20]]", "2x2 matrix")
    m = load_bad(tmp_path, toml(extra="distance = [[10, 20.5], [20, 10]]\n"))
    expect(m, "distance[0][1] = 20.5", "integer")
    m = load_bad(tmp_path, toml(extra="distance = [[10, 20], [20, 11]]\n"))
    expect(m, "distance[1][1] = 11", "diagonal", "10")
    m = load_bad(tmp_path, toml(extra="distance = [[10, 10], [20, 10]]\n"))
    expect(m, "distance[0][1] = 10", "greater than 10")


def test_error_policy_node(tmp_path):
    m = load_bad(tmp_path, toml(policy="bind:0,7"))
    expect(m, "bad.toml", "task[0].mempolicy = 'bind:0,7'", "node 7 does not exist")
    m = load_bad(tmp_path, toml(policy="bind:1").replace('memory = "2GiB"', 'memory = 0\nreserved = 0'))
    expect(m, "task[0].mempolicy = 'bind:1'", "node 1 has no memory")
    m = load_bad(tmp_path, toml(policy="preferred:0,1"))
    expect(m, "task[0].mempolicy", "exactly one node")
    m = load_bad(tmp_path, toml().replace(
        'workload = { type = "fill", size = "100MiB" }',
        'workload = [{ type = "policy", mempolicy = "bind:9" }]'))
    expect(m, "task[0].workload[0].mempolicy = 'bind:9'", "node 9")


def test_error_task_node(tmp_path):
    m = load_bad(tmp_path, toml().replace("cpu_node = 0", "cpu_node = 1"))
    expect(m, "bad.toml", "task[0].cpu_node = 1", "no CPUs")
    m = load_bad(tmp_path, toml().replace("cpu_node = 0", "cpu_node = 4"))
    expect(m, "task[0].cpu_node = 4", "no such node")


def test_error_workload_shape(tmp_path):
    m = load_bad(tmp_path, toml().replace('{ type = "fill", size = "100MiB" }', '[{ size = 1 }]'))
    expect(m, "task[0].workload[0].type = None", "string `type`")
    m = load_bad(tmp_path, toml().replace('{ type = "fill", size = "100MiB" }', '"fill"'))
    expect(m, "task[0].workload = 'fill'", "table")


def test_error_unknown_profile(tmp_path):
    m = load_bad(tmp_path, toml().replace('profile = "v6.12"', 'profile = "v6.6"'))
    expect(m, "bad.toml", "kernel.profile = 'v6.6'", "rfc-2020, v5.15, v6.1, v6.12")


@pytest.mark.parametrize("knob,value,rng", [
    ("numa_balancing", 4, "0..3"),
    ("swappiness", 201, "0..200"),
    ("watermark_scale_factor", 0, "1..3000"),
    ("watermark_scale_factor", 3001, "1..3000"),
    ("zone_reclaim_mode", 16, "0..15"),
    ("numa_balancing_scan_period_min_ms", 0, ">= 1"),
    ("numa_balancing_scan_period_max_ms", -5, ">= 1"),
    ("numa_balancing_promote_rate_limit_MBps", -1, ">= 0"),
    ("hot_threshold_ms", 0, ">= 1"),
])
def test_error_knob_ranges(tmp_path, knob, value, rng):
    m = load_bad(tmp_path, toml(kernel=f"{knob} = {value}"))
    expect(m, "bad.toml", f"kernel.{knob} = {value}", rng)


def test_error_scan_period_min_above_max(tmp_path):
    m = load_bad(tmp_path, toml(kernel="numa_balancing_scan_period_min_ms = 70000"))
    expect(m, "bad.toml", "kernel.numa_balancing_scan_period_min_ms = 70000",
           "numa_balancing_scan_period_max_ms = 60000")


def test_error_negative_cost(tmp_path):
    m = load_bad(tmp_path, toml() + "\n[cost]\nswap_out_ns = -1\n")
    expect(m, "bad.toml", "cost.swap_out_ns = -1", ">= 0")


def test_error_kernel_memory_too_large(tmp_path):
    m = load_bad(tmp_path, toml(node0='kernel_memory = "1020MiB"'))
    expect(m, "bad.toml", "node[0].kernel_memory = '1020MiB'", "must be less than memory", str(1 << 30))


def test_error_duplicate_task_names(tmp_path):
    text = toml() + '\n[[task]]\nname = "app"\ncpu_node = 0\nworkload = { type = "idle", duration_s = 1 }\n'
    m = load_bad(tmp_path, text)
    expect(m, "bad.toml", "task[1].name = 'app'", "used twice", "task[0]")


def test_error_toml_syntax_reports_line(tmp_path):
    m = load_bad(tmp_path, 'name = "x"\n[kernel]\nprofile = v6.12\n')
    expect(m, "bad.toml", "TOML syntax error", "line 3")


def test_error_preset(tmp_path):
    m = load_bad(tmp_path, 'preset = "dram-dram"\n')
    expect(m, "bad.toml", "preset = 'dram-dram'", "qemu-6.12-hmat")
    m = load_bad(tmp_path, 'preset = "dram-cxl"\n[[node]]\nid = 5\nmemory = "1GiB"\n')
    expect(m, "node[0].id = 5", "preset 'dram-cxl' has nodes 0, 1")


def test_error_missing_file():
    with pytest.raises(ScenarioError) as e:
        load_scenario("/nonexistent/x.toml")
    expect(str(e.value), "/nonexistent/x.toml", "cannot read")


# --- memory relative to the workloads' footprint -------------------------------------------

def dense_trace(path, pages, records=10_000):
    import numpy as np
    from tierlab.workloads.npztrace import TraceWriter
    with TraceWriter(str(path), dense=True) as w:
        w.append(np.arange(records) % pages, np.zeros(records, np.uint8))


SIZED = """
[[node]]
id = 0
cpus = 1
memory = "{m0}"
{node0}
[[node]]
id = 1
kind = "pmem"
memory = "{m1}"
[[task]]
name = "app"
cpu_node = 0
workload = {{ type = "trace", path = "t.npz" }}
"""


def test_memory_percent_of_trace_footprint(tmp_path):
    dense_trace(tmp_path / "t.npz", 3000)                  # 3000 pages = 11.72 MiB
    p = tmp_path / "s.toml"
    p.write_text(SIZED.format(m0="50%", m1="200%", node0=""))    # path relative to the file
    s = load_scenario(p)
    n0, n1 = s.nodes
    assert n0.memory == 6 << 20                             # 5.86 MiB rounded up to whole MiB
    assert n1.memory == 24 << 20                            # 23.44 MiB -> 24 MiB
    assert n0.reserved == n0.memory // 64 and n1.reserved == n1.memory // 64
    assert load_scenario(s.to_dict()) == s                  # resolved: plain bytes
    p.write_text(SIZED.format(m0="100 %", m1="12.5%", node0='kernel_memory = "1MiB"'))
    s = load_scenario(p)
    assert s.nodes[0].memory == 12 << 20 and s.nodes[0].kernel_memory == 1 << 20
    assert s.nodes[1].memory == 2 << 20                     # 1.46 MiB -> 2 MiB


def test_memory_percent_sums_task_footprints(tmp_path):
    (tmp_path / "t.csv").write_text("".join(f"{a * 4096:#x}\n" for a in (5, 900, 5, 77)))
    s = load_scenario({
        "node": [{"id": 0, "cpus": 1, "memory": "100%"}],
        "task": [{"name": "a", "cpu_node": 0,
                  "workload": [{"type": "fill", "size": "10MiB"},
                               {"type": "idle", "duration_s": 1}]},
                 {"name": "b", "cpu_node": 0,
                  "workload": {"type": "trace", "path": str(tmp_path / "t.csv")}},
                 {"name": "c", "cpu_node": 0,
                  "workload": {"type": "zipf", "footprint": "20MiB", "offset": "4MiB",
                               "accesses": 10}}]})
    # 10 MiB + 3 pages (a pass over the text trace) + 24 MiB (offset + footprint)
    assert s.nodes[0].memory == 35 << 20


def test_memory_percent_with_preset(tmp_path):
    dense_trace(tmp_path / "t.npz", 256)
    (tmp_path / "s.toml").write_text(
        'preset = "dram-pmem"\n[[node]]\nid = 0\nmemory = "400%"\n'
        '[[task]]\nname = "a"\ncpu_node = 0\nworkload = { type = "trace", path = "t.npz" }\n')
    s = load_scenario(tmp_path / "s.toml")
    assert s.node(0).memory == 4 << 20 and s.node(0).zones == ()


@pytest.mark.parametrize("value, why", [
    ("0%", "must be > 0% and <= 10000%"),
    ("-5%", "must be > 0% and <= 10000%"),
    ("10001%", "must be > 0% and <= 10000%"),
    ("abc%", "or a percentage of the workloads' footprint"),
    ("%", "or a percentage of the workloads' footprint"),
])
def test_error_bad_memory_percent(tmp_path, value, why):
    dense_trace(tmp_path / "t.npz", 100)
    m = load_bad(tmp_path, SIZED.format(m0=value, m1="1GiB", node0=""))
    expect(m, "bad.toml", f"node[0].memory = {value!r}", why)


def test_error_memory_percent_without_footprint(tmp_path):
    text = SIZED.format(m0="1GiB", m1="50%", node0="").replace(
        '{ type = "trace", path = "t.npz" }', '{ type = "idle", duration_s = 1 }')
    m = load_bad(tmp_path, text)
    expect(m, "bad.toml", "node[1].memory = '50%'", "no task has a footprint")
    m = load_bad(tmp_path, text.split("[[task]]")[0])
    expect(m, "node[1].memory = '50%'", "no task has a footprint")


def test_error_memory_percent_missing_trace(tmp_path):
    m = load_bad(tmp_path, SIZED.format(m0="50%", m1="1GiB", node0=""))
    expect(m, "bad.toml", "task[0].workload.path", "no such trace file")
