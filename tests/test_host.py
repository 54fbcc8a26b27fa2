"""`tierlab host`: reading /sys + /proc (fake trees in tmp_path, and this machine), tierlab's tiers
against the kernel's, the scenario of the machine, the command line."""

import json
import os
import io
import re
import shutil
import subprocess
import sys

import pytest

from tierlab.errors import HostError
from tierlab.scenario import load_scenario
from tierlab.topology import build_machine
from tierlab.topology.host import (compare, kernel_release_version, kernel_targets, parse_nodelist,
                                   parse_zoneinfo, profile_for_version, read_host)
from tierlab.topology.host_scenario import scenario_toml
from tierlab.topology.host_show import describe, print_host


def tierlab(*args):
    return subprocess.run([sys.executable, "-m", "tierlab.cli", *args], capture_output=True, text=True)


def put(root, rel, text):
    p = root / rel
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)


def zoneinfo(zones):
    """/proc/zoneinfo text as v6.12 prints it: (node, name, free, min, low, high, promo, spanned,
    present, managed) per zone, with the per-node stats block and pagesets that must be skipped."""
    out = []
    first = set()
    for node, name, free, mn, lo, hi, pr, sp, pres, man in zones:
        out.append(f"Node {node}, zone {name:>8}")
        if node not in first:
            first.add(node)
            out += ["  per-node stats", "      nr_inactive_anon 0", "      nr_free_pages 9"]
        out += [f"  pages free     {free}", "        boost    0", f"        min      {mn}",
                f"        low      {lo}", f"        high     {hi}", f"        promo    {pr}",
                f"        spanned  {sp}", f"        present  {pres}", f"        managed  {man}",
                "        cma      0", "        protection: (0, 0, 0, 0, 0)",
                "  pagesets", "    cpu: 0", "              count:    0", "              high:     7",
                "  vm stats threshold: 4", "  node_unreclaimable:  0", "  start_pfn:           1"]
    return "\n".join(out) + "\n"


def node_meminfo(nid, total_kb, free_kb, file_kb, anon_kb):
    return (f"Node {nid} MemTotal:       {total_kb} kB\nNode {nid} MemFree:        {free_kb} kB\n"
            f"Node {nid} MemUsed:        {total_kb - free_kb} kB\nNode {nid} FilePages:      {file_kb} kB\n"
            f"Node {nid} AnonPages:      {anon_kb} kB\nNode {nid} HugePages_Total:     0\n")


def qemu_guest(root, tiers=None, osrelease="6.12.100+deb12-amd64", numa_balancing="2"):
    """The reference QEMU guest (shared/reference/kernel-reference.md): node 0 = 2 CPUs + 512 MiB,
    node 1 = 1 GiB without CPUs, SLIT 20, HMAT 100/300 ns and 20G/7G (QEMU's 20G = 20480 MB/s in
    the HMAT table), memory_tier4 = node 0, memory_tier38 = node 1, zones at watermark setup."""
    n = "sys/devices/system/node"
    put(root, f"{n}/online", "0-1\n")
    put(root, f"{n}/possible", "0-1\n")
    put(root, f"{n}/has_cpu", "0\n")
    put(root, f"{n}/has_memory", "0-1\n")
    put(root, f"{n}/node0/cpulist", "0-1\n")
    put(root, f"{n}/node1/cpulist", "\n")
    put(root, f"{n}/node0/distance", "10 20\n")
    put(root, f"{n}/node1/distance", "20 10\n")
    put(root, f"{n}/node0/meminfo", node_meminfo(0, 476132, 439880, 2780, 164))
    put(root, f"{n}/node1/meminfo", node_meminfo(1, 1029816, 1012456, 0, 0))
    for nid, lat, bw in ((0, 100, 20480), (1, 300, 7168)):
        d = f"{n}/node{nid}/access0/initiators"
        put(root, f"{d}/read_latency", f"{lat}\n")
        put(root, f"{d}/write_latency", f"{lat}\n")
        put(root, f"{d}/read_bandwidth", f"{bw}\n")
        put(root, f"{d}/write_bandwidth", f"{bw}\n")
    put(root, f"{n}/node0/vmstat", "nr_free_pages 109970\nnuma_hit 206281\nnuma_miss 0\n"
        "numa_local 206281\nnuma_other 0\npgpromote_success 0\npgdemote_kswapd 64522\n"
        "pgdemote_direct 37568\n")
    put(root, f"{n}/node1/vmstat", "nr_free_pages 253114\nnuma_hit 102090\nnuma_miss 0\n"
        "numa_local 0\nnuma_other 102090\npgpromote_success 0\npgdemote_kswapd 0\n"
        "pgdemote_direct 0\n")
    for tier, nodes in (tiers or {4: "0", 38: "1"}).items():
        put(root, f"sys/devices/virtual/memory_tiering/memory_tier{tier}/nodelist", f"{nodes}\n")
    put(root, "sys/kernel/mm/numa/demotion_enabled", "true\n")
    put(root, "sys/kernel/mm/lru_gen/enabled", "0x0007\n")
    put(root, "sys/kernel/mm/transparent_hugepage/enabled", "always [madvise] never\n")
    put(root, "proc/sys/kernel/osrelease", osrelease + "\n")
    put(root, "proc/sys/kernel/hostname", "guest\n")
    put(root, "proc/sys/kernel/numa_balancing", numa_balancing + "\n")
    for knob, v in (("zone_reclaim_mode", "0"), ("min_free_kbytes", "67584"),
                    ("watermark_scale_factor", "10"), ("swappiness", "60"),
                    ("lowmem_reserve_ratio", "256\t256\t32\t0\t0")):
        put(root, f"proc/sys/vm/{knob}", v + "\n")
    put(root, "proc/vmstat", "nr_free_pages 363084\nnuma_hit 308364\nnuma_other 102090\n"
        "pgdemote_kswapd 64522\npgdemote_direct 37568\npgmigrate_success 102090\n"
        "numa_hint_faults 0\npgsteal_anon 102090\n")
    put(root, "proc/meminfo", "MemTotal:        1505948 kB\nMemFree:         1452336 kB\n")
    put(root, "proc/zoneinfo", zoneinfo([
        (0, "DMA", 3840, 173, 216, 259, 302, 4095, 3998, 3856),
        (0, "DMA32", 106130, 5120, 6400, 7680, 8960, 126976, 126976, 113630),
        (0, "Normal", 0, 0, 0, 0, 0, 0, 0, 0),
        (0, "Movable", 0, 0, 0, 0, 0, 0, 0, 0),
        (1, "DMA", 0, 0, 0, 0, 0, 0, 0, 0),
        (1, "DMA32", 253114, 11601, 14501, 17401, 20301, 262144, 262144, 257454),
        (1, "Normal", 0, 0, 0, 0, 0, 0, 0, 0),
        (1, "Movable", 0, 0, 0, 0, 0, 0, 0, 0)]))
    put(root, "proc/swaps", "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n")
    return root


@pytest.fixture
def guest(tmp_path):
    return qemu_guest(tmp_path / "guest")


def machine_of(host):
    return build_machine(load_scenario(scenario_toml(host)))


# --- parsing --------------------------------------------------------------------------------

def test_parses_the_qemu_guest(guest):
    h = read_host(guest)
    assert [n.id for n in h.nodes] == [0, 1]
    n0, n1 = h.nodes
    assert (n0.cpus, n0.has_cpu, n0.has_memory) == ((0, 1), True, True)
    assert (n1.cpus, n1.has_cpu, n1.has_memory) == ((), False, True)
    assert (n0.mem_total, n0.mem_free) == (476132 * 1024, 439880 * 1024)
    assert n1.mem_total == 1029816 * 1024
    assert (n0.distance, n1.distance) == ((10, 20), (20, 10))
    assert n0.hmat == {"read_latency": 100, "write_latency": 100,
                       "read_bandwidth": 20480, "write_bandwidth": 20480}
    assert n1.hmat["read_latency"] == 300 and n1.hmat["write_bandwidth"] == 7168
    assert n1.hmat_access == "access0" and not n1.dax_kmem
    assert h.tiers == {4: (0,), 38: (1,)}
    assert (h.node_tier(0), h.node_tier(1)) == (4, 38)
    assert h.osrelease == "6.12.100+deb12-amd64" and h.version == (6, 12) and h.profile == "v6.12"
    k = h.knobs
    assert k["demotion_enabled"] is True and k["numa_balancing"] == 2
    assert (k["zone_reclaim_mode"], k["min_free_kbytes"], k["watermark_scale_factor"],
            k["swappiness"]) == (0, 67584, 10, 60)
    assert k["lru_gen_enabled"] == 7 and k["transparent_hugepage"] == "madvise"
    assert k["lowmem_reserve_ratio"] == (256, 256, 32, 0, 0)
    assert k["hot_threshold_ms"] is None            # debugfs: not in the tree
    assert n0.vmstat["pgdemote_kswapd"] == 64522 and n0.vmstat["pgdemote_direct"] == 37568
    assert n1.vmstat["numa_other"] == 102090
    assert "nr_free_pages" not in n0.vmstat and "nr_free_pages" not in h.vmstat
    assert h.vmstat["pgmigrate_success"] == 102090 and "pgsteal_anon" not in h.vmstat
    assert h.swaps == ()
    z = {(z.node, z.name): z for z in n0.zones + n1.zones}
    assert (z[0, "DMA"].min, z[0, "DMA"].low, z[0, "DMA"].high, z[0, "DMA"].promo) == (173, 216, 259, 302)
    assert (z[1, "DMA32"].managed, z[1, "DMA32"].present, z[1, "DMA32"].free) == (257454, 262144, 253114)
    assert h.zone_order == ("DMA", "DMA32", "Normal", "Movable")


def test_zoneinfo_skips_per_node_stats_and_pagesets():
    zones, order = parse_zoneinfo(zoneinfo([(0, "Normal", 5, 1, 2, 3, 4, 100, 90, 80)]))
    (z,) = zones
    assert (z.free, z.min, z.low, z.high, z.promo, z.spanned, z.present, z.managed) == \
        (5, 1, 2, 3, 4, 100, 90, 80)       # not the pagesets' "high: 7", not nr_free_pages 9
    assert order == ["Normal"]


def test_nodelist_and_version_parsing():
    assert parse_nodelist("0-3,8,10-11\n") == (0, 1, 2, 3, 8, 10, 11)
    assert parse_nodelist("\n") == () and parse_nodelist(None) is None
    assert kernel_release_version("6.12.100+deb12-amd64") == (6, 12)
    assert kernel_release_version("5.4.0-150-generic") == (5, 4)
    assert kernel_release_version(None) is None and kernel_release_version("weird") is None
    assert [profile_for_version(v) for v in ((6, 18), (6, 12), (6, 11), (6, 1), (6, 0), (5, 15),
                                             (5, 10), None)] == \
        ["v6.12", "v6.12", "v6.1", "v6.1", "v5.15", "v5.15", "rfc-2020", "v6.12"]


def test_demotion_enabled_accepts_0_and_1(guest):
    put(guest, "sys/kernel/mm/numa/demotion_enabled", "0\n")
    assert read_host(guest).knobs["demotion_enabled"] is False
    put(guest, "sys/kernel/mm/numa/demotion_enabled", "1\n")
    assert read_host(guest).knobs["demotion_enabled"] is True


# --- the kernel's tiers against tierlab's -----------------------------------------------------

def test_kernel_targets_follow_its_tiers(guest):
    assert kernel_targets(read_host(guest)) == {0: {"preferred": (1,), "fallback": (1,)},
                                                1: {"preferred": (), "fallback": ()}}


def test_tierlab_agrees_with_the_guest(guest):
    h = read_host(guest)
    m = machine_of(h)
    assert m.profile == "v6.12"
    assert m.tier == {0: 4, 1: 38}                   # node 0 in a faster tier than node 1
    assert m.adistance[1] == 576 * 600 // 200 * 40960 // 14336 == 4937
    assert m.demotion_preferred[0] == (1,) and m.demotion_allowed[0] == (1,)
    assert m.demotion_preferred[1] == () and m.toptier == frozenset({0})
    assert compare(h, m) == []
    # the guest's zones and min_free_kbytes give back its watermarks
    marks = {(z.node, z.type): (z.min, z.low, z.high, z.promo) for z in m.zones}
    assert marks == {(0, "DMA"): (173, 216, 259, 302), (0, "DMA32"): (5120, 6400, 7680, 8960),
                     (1, "DMA32"): (11601, 14501, 17401, 20301)}


def test_difference_is_reported(guest):
    # a kernel that put both nodes in the DRAM tier (v6.7-v6.9 did so for a firmware CPU-less
    # node) while its HMAT numbers say node 1 is 3x slower
    shutil.rmtree(guest / "sys/devices/virtual/memory_tiering")
    put(guest, "sys/devices/virtual/memory_tiering/memory_tier4/nodelist", "0-1\n")
    h = read_host(guest)
    assert kernel_targets(h) == {0: {"preferred": (), "fallback": ()},
                                 1: {"preferred": (), "fallback": ()}}
    diffs = compare(h, machine_of(h))
    assert diffs[0] == "node 1: kernel memory_tier4, tierlab memory_tier38"
    assert any(d.startswith("node 0: demotion targets") and "tierlab preferred 1 fallback 1" in d
               for d in diffs)
    p = tierlab("host", "--root", str(guest))
    assert p.returncode == 0, p.stderr
    assert "differs from this kernel" in p.stdout and "kernel memory_tier4, tierlab memory_tier38" in p.stdout


def test_dax_kmem_node_without_hmat(tmp_path):
    root = qemu_guest(tmp_path / "g", tiers={4: "0", 22: "1"}, osrelease="6.1.0-18-amd64",
                      numa_balancing="0")
    for nid in (0, 1):
        shutil.rmtree(root / f"sys/devices/system/node/node{nid}/access0")
    put(root, "sys/bus/dax/devices/dax0.0/target_node", "1\n")
    (root / "sys/bus/dax/drivers/kmem").mkdir(parents=True)
    os.symlink(root / "sys/bus/dax/drivers/kmem", root / "sys/bus/dax/devices/dax0.0/driver")
    h = read_host(root)
    assert h.node(1).dax_kmem and not h.node(0).dax_kmem and h.profile == "v6.1"
    s = load_scenario(scenario_toml(h))
    assert s.node(1).driver == "kmem" and s.node(1).kind == "cxl" and s.hmat is False
    m = build_machine(s)
    assert m.tier == {0: 4, 1: 22} and m.demotion_preferred[0] == (1,)
    assert compare(h, m) == []


# --- "simulate my machine" --------------------------------------------------------------------

def test_scenario_of_the_guest(guest):
    text = scenario_toml(read_host(guest))
    s = load_scenario(text)
    n0, n1 = s.nodes
    assert (n0.id, n0.cpus, n0.kind, n0.driver) == (0, 2, "dram", "firmware")
    assert (n1.id, n1.cpus, n1.kind, n1.driver) == (1, 0, "cxl", "firmware")
    assert n0.memory == (3998 + 126976) * 4096 and n1.memory == 262144 * 4096
    assert dict(n0.zones) == {"DMA": 3856, "DMA32": 113630} and dict(n1.zones) == {"DMA32": 257454}
    assert (n0.read_latency_ns, n0.write_latency_ns) == (100, 100)
    assert (n1.read_latency_ns, n1.write_latency_ns) == (300, 300)
    assert (n0.read_bandwidth, n1.write_bandwidth) == (20480e6, 7168e6)     # MB/s as sysfs gives
    # kernel memory now: MemTotal - MemFree - FilePages - AnonPages
    assert n0.kernel_memory == (476132 - 439880 - 2780 - 164) * 1024
    assert s.distance == ((10, 20), (20, 10)) and s.hmat is True
    k = s.kernel
    assert (k.profile, k.demotion_enabled, k.numa_balancing) == ("v6.12", True, 2)
    assert (k.min_free_kbytes, k.watermark_scale_factor, k.swappiness, k.zone_reclaim_mode) == \
        (67584, 10, 60, 0)
    assert k.lowmem_reserve_ratio == (256, 256, 32, 0) and k.transparent_hugepage == "madvise"
    assert k.lru == "mglru" and "runs MGLRU (lru_gen/enabled 0x0007)" in text
    assert s.swap.size == 0 and s.tasks == () and s.name == "host-guest"


def test_placeholder_task_loads_once_uncommented(guest):
    text = scenario_toml(read_host(guest))
    lines = text.splitlines()
    start = lines.index("# [[task]]")
    uncommented = "\n".join(lines[:start] + [l[2:] for l in lines[start:] if l.startswith("# ")])
    s = load_scenario(uncommented + "\n")
    (t,) = s.tasks
    assert t.cpu_node == 0 and t.workload[0] == {"type": "fill", "size": "696MiB"}   # 1.5 x 464 MiB


def test_tiering_mode_clamped_for_old_profile(guest):
    put(guest, "proc/sys/kernel/osrelease", "5.19.0\n")     # v5.15 profile: no tiering mode
    put(guest, "proc/sys/kernel/numa_balancing", "3\n")
    text = scenario_toml(read_host(guest))
    s = load_scenario(text)
    assert s.kernel.profile == "v5.15" and s.kernel.numa_balancing == 1
    assert "# numa_balancing = 3 on this kernel" in text


# --- missing files, a machine without NUMA sysfs, this machine ---------------------------------

def test_missing_files_are_unknown(tmp_path):
    root = tmp_path / "bare"
    put(root, "sys/devices/system/node/node0/meminfo", node_meminfo(0, 2097152, 1048576, 0, 0))
    put(root, "sys/devices/system/node/node0/cpulist", "0-3\n")
    h = read_host(root)
    (n,) = h.nodes
    assert n.cpus == (0, 1, 2, 3) and n.has_cpu is True and n.mem_total == 2097152 * 1024
    assert n.distance is None and n.hmat is None and n.vmstat is None and n.zones == ()
    assert h.osrelease is None and h.tiers is None and h.vmstat is None and h.swaps is None
    assert all(v is None for v in h.knobs.values())
    assert kernel_targets(h) is None
    d = describe(h, machine_of(h))
    assert d["memory_tiers"] is None and d["knobs"]["demotion_enabled"] is None
    assert d["nodes"][0]["distance"] is None and d["kernel_version"] is None
    s = load_scenario(scenario_toml(h))                     # still a loadable scenario
    assert s.kernel.profile == "v6.12" and s.node(0).memory == 2097152 * 1024 and s.swap.size == 0
    p = tierlab("host", "--root", str(root))
    assert p.returncode == 0, p.stderr
    assert "memory tiers: unknown" in p.stdout and "swap: unknown" in p.stdout
    assert re.search(r"demotion_enabled\s+\S\s+unknown", p.stdout)


def test_no_numa_sysfs_is_one_node_from_proc_meminfo(tmp_path):
    root = tmp_path / "flat"
    put(root, "proc/meminfo", "MemTotal:        4194304 kB\nMemFree:         3000000 kB\n")
    put(root, "sys/devices/system/cpu/online", "0-7\n")
    h = read_host(root)
    assert not h.numa_sysfs and len(h.nodes) == 1
    assert h.nodes[0].cpus == tuple(range(8)) and h.nodes[0].mem_total == 4194304 * 1024
    assert load_scenario(scenario_toml(h)).node(0).cpus == 8


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads this Linux machine")
def test_this_machine_parses():
    h = read_host("/")
    assert any((n.mem_total or 0) > 0 for n in h.nodes)
    d = describe(h)
    assert json.loads(json.dumps(d))["nodes"]
    m = machine_of(h)                                       # its scenario loads and builds
    assert {n.id for n in m.nodes} == {n.id for n in h.nodes}


def test_not_a_linux_tree(tmp_path):
    (tmp_path / "etc").mkdir()
    with pytest.raises(HostError, match="not a Linux /sys"):
        read_host(tmp_path)
    with pytest.raises(HostError, match="does not exist"):
        read_host(tmp_path / "nope")


# --- command line -----------------------------------------------------------------------------

def test_cli_prints_a_line_per_node(guest):
    p = tierlab("host", "--root", str(guest))
    assert p.returncode == 0, p.stderr
    rows = {int(m.group(1)): line for line in p.stdout.splitlines()
            if (m := re.match(r"^\W*node(\d+)\W+(?:0-1|none)\W", line))}
    assert set(rows) == {0, 1}
    assert re.search(r"\b465\b.*\b430\b.*100/100.*20480/20480\D+4\D+4\b", rows[0])
    assert re.search(r"1,006.*300/300.*7168/7168\D+38\D+38\b", rows[1])
    assert "computes the same tiers and demotion targets" in p.stdout
    assert re.search(r"pgdemote_kswapd\W+64,522\W+64,522\W+0\b", p.stdout)


def test_cli_json(guest):
    p = tierlab("host", "--root", str(guest), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    assert d["memory_tiers"]["38"] == {"nodes": [1], "adistance": [4864, 4991]}
    assert d["demotion_targets"]["0"] == {"preferred": [1], "fallback": [1]}
    assert d["tierlab"]["memory_tier"] == {"0": 4, "1": 38} and d["tierlab"]["differences"] == []
    assert d["knobs"]["numa_balancing"] == 2 and d["nodes"][1]["kind_guess"] == "cxl"


def test_cli_writes_a_scenario_topology_reads(guest, tmp_path):
    out = tmp_path / "me.toml"
    p = tierlab("host", "--root", str(guest), "--scenario", str(out))
    assert p.returncode == 0, p.stderr
    assert f"written to {out}" in p.stdout
    assert not [f for f in os.listdir(tmp_path) if f.endswith(".tmp")]
    t = tierlab("topology", str(out), "--json")
    assert t.returncode == 0, t.stderr
    nodes = {n["id"]: n for n in json.loads(t.stdout)["nodes"]}
    assert (nodes[0]["memory_tier"], nodes[1]["memory_tier"]) == (4, 38)
    assert nodes[0]["demotion_preferred"] == [1] and nodes[1]["demotion_preferred"] == []


def test_cli_bad_root_exit_2(tmp_path):
    (tmp_path / "notlinux").mkdir()
    (tmp_path / "notlinux" / "README").write_text("hello\n")
    for root in (tmp_path / "notlinux", tmp_path / "missing"):
        p = tierlab("host", "--root", str(root))
        assert p.returncode == 2
        assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
        assert str(root) in p.stderr


def test_cli_scenario_not_written_when_it_cannot_be(tmp_path):
    root = tmp_path / "nomem"
    put(root, "sys/devices/system/node/node0/cpulist", "0\n")      # no meminfo, no zoneinfo
    out = tmp_path / "me.toml"
    out.write_text("old\n")
    p = tierlab("host", "--root", str(root), "--scenario", str(out))
    assert p.returncode == 2 and "memory size unknown" in p.stderr and "Traceback" not in p.stderr
    assert out.read_text() == "old\n"
    p = tierlab("host", "--root", str(root))              # the report alone still works
    assert p.returncode == 0 and "tierlab's view unavailable" in p.stdout
    q = tierlab("host", "--root", str(qemu_guest(tmp_path / "g")), "--scenario",
                str(tmp_path / "no" / "dir" / "x.toml"))
    assert q.returncode == 2 and "cannot write" in q.stderr


def test_print_host_renders_unknown_hmat(tmp_path):
    from rich.console import Console
    root = qemu_guest(tmp_path / "g")
    shutil.rmtree(root / "sys/devices/system/node/node1/access0")
    h = read_host(root)
    c = Console(width=140, record=True, file=io.StringIO())
    print_host(h, c, machine_of(h))
    text = c.export_text()
    assert re.search(r"node1\W+none\W.*unknown\W+unknown\W+38\W+4\b", text)   # no HMAT: tier 4


def test_scenario_of_a_tpp_kernel(guest):
    """vm.demote_scale_factor exists only with TPP's patches: the scenario switches them on,
    except where they cannot act (MGLRU, or NUMA balancing not in tiering mode)."""
    put(guest, "proc/sys/vm/demote_scale_factor", "500\n")
    text = scenario_toml(read_host(guest))
    assert "tpp left off" in text and load_scenario(text).kernel.tpp is False    # guest: MGLRU
    put(guest, "sys/kernel/mm/lru_gen/enabled", "0x0000\n")
    k = load_scenario(scenario_toml(read_host(guest))).kernel
    assert (k.lru, k.tpp, k.demote_scale_factor, k.numa_balancing) == ("classic", True, 500, 2)
    put(guest, "proc/sys/kernel/numa_balancing", "1\n")
    k = load_scenario(scenario_toml(read_host(guest))).kernel
    assert (k.tpp, k.numa_balancing) == (False, 1)
