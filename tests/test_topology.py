"""Zones, zonelists, demotion order and memory tiers against kernel-spec 1.2-1.7 examples."""

import json

from tierlab.scenario import load_scenario
from tierlab.topology import build_machine
from tierlab.topology.demotion_order import Numa, build_zonelists, find_next_best_node
from tierlab.topology.memory_tiers import mt_perf_to_adistance
from tierlab.topology.show import describe, render
from tierlab.topology.zones import free_area_init

SLIT_A = [[10, 21, 17, 28], [21, 10, 28, 17], [17, 28, 10, 28], [28, 17, 28, 10]]
SLIT_A2 = [[10, 20, 30, 40], [20, 10, 40, 30], [30, 40, 10, 40], [40, 30, 40, 10]]


def machine(nodes, distance=None, hmat=True, **kernel):
    d = {"node": nodes, "kernel": kernel, "hmat": hmat}
    if distance is not None:
        d["distance"] = distance
    return build_machine(load_scenario(d))


def dram(i, cpus=2, memory="1GiB", **kw):
    return {"id": i, "cpus": cpus, "memory": memory, "kind": "dram", **kw}


def slow(i, kind="pmem", memory="4GiB", **kw):
    return {"id": i, "cpus": 0, "memory": memory, "kind": kind, **kw}


def targets(m):
    return {n: m.demotion_preferred[n] for n in sorted(m.demotion_preferred)}


# --- zones ----------------------------------------------------------------------------------

def test_zone_layout_contiguous_from_zero():
    s = load_scenario({"node": [dram(0, memory="512MiB", reserved=0),
                                slow(1, memory="4GiB", reserved=0),
                                slow(2, memory="1GiB", movable=True, reserved=0)]})
    spans = [(z.node, z.type, z.start_pfn, z.present) for z in free_area_init(s.nodes)]
    assert spans == [(0, "DMA", 0, 4096), (0, "DMA32", 4096, 126976),
                     (1, "DMA32", 131072, 917504),            # 512 MiB .. 4 GiB
                     (1, "NORMAL", 1048576, 131072),          # 4 GiB .. 4.5 GiB
                     (2, "MOVABLE", 1179648, 262144)]


def test_reserved_default_is_memmap_and_split_proportionally():
    m = machine([dram(0, memory="512MiB", kernel_memory="8MiB")])
    dma, dma32 = m.zones
    reserved = (512 << 20) // 64 >> 12                 # 2048 pages of struct page
    assert dma.managed + dma32.managed == 131072 - reserved
    assert dma.managed == 4096 - reserved * 4096 // 131072 == 4032
    assert (dma.kernel_used, dma32.kernel_used) == (0, 2048)   # highest zone


def test_explicit_zones_reproduce_qemu_guest():
    m = build_machine(load_scenario("scenarios/anon-bind0.toml"))
    assert [(z.node, z.type, z.present, z.managed) for z in m.zones] == [
        (0, "DMA", 4096, 3856), (0, "DMA32", 126976, 113630), (1, "DMA32", 262144, 257454)]
    assert m.zones[1].kernel_used == (469944 - 439880) // 4
    assert m.zones[2].kernel_used == (1029816 - 1012456) // 4


# --- find_next_best_node / zonelists (1.2, 1.7) ---------------------------------------------

def test_find_next_best_node_marks_used_and_penalises_cpus():
    numa = Numa.from_nodes(load_scenario({"node": [dram(0), dram(1), slow(2), slow(3)],
                                          "distance": SLIT_A}).nodes, SLIT_A)
    used = set()
    assert find_next_best_node(0, used, numa) == 0          # local first
    assert find_next_best_node(0, used, numa) == 2          # 17
    assert find_next_best_node(0, used, numa) == 1          # 21 + 1 (CPUs) = 22 < 28
    assert used == {0, 1, 2}
    assert find_next_best_node(0, used, numa) == 3
    assert find_next_best_node(0, used, numa) is None


def test_zonelist_example_a():
    m = machine([dram(0), dram(1), slow(2), slow(3)], SLIT_A)
    assert m.zonelist == {0: (0, 2, 1, 3), 1: (1, 3, 0, 2), 2: (2, 0, 3, 1), 3: (3, 1, 2, 0)}
    m2 = machine([dram(0), dram(1), slow(2), slow(3)], SLIT_A2)
    assert m2.zonelist[0] == (0, 1, 2, 3)


def test_zonelist_node_load_breaks_ties():
    # all remote distances 20: node 1's list is decided by node_load left by node 0's build
    nodes = load_scenario({"node": [dram(0), dram(1), slow(2), slow(3)]}).nodes
    numa = Numa.from_nodes(nodes, [[10 if i == j else 20 for j in range(4)] for i in range(4)])
    zl, load = build_zonelists(numa, "v6.12")
    assert zl[0] == (0, 2, 3, 1)
    assert zl[1] == (1, 3, 2, 0)          # node_load[2] = 1 after node 0's build
    assert zl[2] == (2, 3, 0, 1)
    assert load == {0: 0, 1: 0, 2: 2, 3: 2}


def test_memoryless_cpu_node_zonelist():
    m = machine([dram(0, memory=0, reserved=0), slow(1, memory="1GiB")], profile="v5.15")
    assert m.zonelist[0] == (1,)
    assert [z.node for z in m.zones] == [1, 1]


# --- RFC 2020 / v5.15 demotion order (1.3) --------------------------------------------------

def test_example_a_rfc_and_v5_15():
    for profile in ("rfc-2020", "v5.15"):
        m = machine([dram(0), dram(1), slow(2), slow(3)], SLIT_A, profile=profile)
        assert targets(m) == {0: (2,), 1: (3,), 2: (), 3: ()}
        assert m.demotion_allowed == m.demotion_preferred
        assert m.tier == {} and m.adistance == {}
        assert m.toptier == {0, 1}


def test_example_b_rfc_and_v5_15():
    for profile in ("rfc-2020", "v5.15"):
        m = machine([dram(0), slow(1, kind="cxl")], profile=profile)
        assert targets(m) == {0: (1,), 1: ()}


def test_rfc_2020_needs_hotplugged_memory():
    # the RFC recomputes node_demotion[] only on MEM_ONLINE; boot memory alone leaves it empty
    m = machine([dram(0), slow(1, driver="firmware")], profile="rfc-2020")
    assert targets(m) == {0: (), 1: ()}
    m = machine([dram(0), slow(1, driver="firmware")], profile="v5.15")
    assert targets(m) == {0: (1,), 1: ()}


def test_example_d_rfc():
    slit = [[10, 40, 20, 80], [40, 10, 80, 80], [20, 80, 10, 40], [80, 80, 40, 10]]
    m = machine([dram(0), slow(1), dram(2), slow(3)], slit, profile="v5.15")
    assert targets(m) == {0: (1,), 1: (), 2: (3,), 3: ()}


def test_rfc_target_not_shared():
    m = machine([dram(0), dram(1), dram(2), slow(3)], profile="v5.15")
    assert targets(m) == {0: (3,), 1: (), 2: (), 3: ()}


def test_rfc_chain_dram_cxl_pmem():
    m = build_machine(load_scenario({"preset": "dram-cxl-pmem", "kernel": {"profile": "v5.15"}}))
    assert targets(m) == {0: (1,), 1: (2,), 2: ()}


# --- memory tiers (1.5, 1.6) ----------------------------------------------------------------

def test_example_a_memory_tiers():
    for profile in ("v6.1", "v6.12"):
        m = machine([dram(0), dram(1), slow(2), slow(3)], SLIT_A, hmat=False, profile=profile)
        assert m.adistance == {0: 576, 1: 576, 2: 2880, 3: 2880}
        assert m.tier == {0: 4, 1: 4, 2: 22, 3: 22}
        assert targets(m) == {0: (2,), 1: (3,), 2: (), 3: ()}
        assert m.demotion_allowed == {0: (2, 3), 1: (2, 3), 2: (), 3: ()}
        assert m.toptier == {0, 1}
        m2 = machine([dram(0), dram(1), slow(2), slow(3)], SLIT_A2, hmat=False, profile=profile)
        assert targets(m2) == {0: (2,), 1: (3,), 2: (), 3: ()}


def test_memory_tiers_share_targets():
    m = machine([dram(0), dram(1), dram(2), slow(3)], profile="v6.1")
    assert targets(m) == {0: (3,), 1: (3,), 2: (3,), 3: ()}


def test_preferred_holds_all_nodes_at_best_distance():
    slit = [[10, 20, 20], [20, 10, 30], [20, 30, 10]]
    m = machine([dram(0), slow(1), slow(2)], slit, profile="v6.1")
    assert targets(m)[0] == (1, 2)


def test_example_b_memory_tiers_variants():
    # dax/kmem default 2880 on v6.1 (no HMAT algorithm)
    m = machine([dram(0), slow(1, kind="cxl")], profile="v6.1")
    assert (m.adistance[1], m.tier[1], targets(m)[0]) == (2880, 22, (1,))
    # HMAT: latency 2x, bandwidth 0.5x of DRAM -> 576*2*2 = 2304, tier 18
    m = machine([dram(0, read_latency_ns=100, bandwidth="20GB/s"),
                 slow(1, kind="cxl", read_latency_ns=200, bandwidth="10GB/s")], profile="v6.12")
    assert (m.adistance[1], m.tier[1], targets(m)[0]) == (2304, 18, (1,))
    # latency 1.1x, bandwidth 0.9x -> 576*220/200 = 633, *40000/36000 = 703, tier 5: still demotes
    m = machine([dram(0, read_latency_ns=100, bandwidth="20GB/s"),
                 slow(1, kind="cxl", read_latency_ns=110, bandwidth="18GB/s")], profile="v6.12")
    assert (m.adistance[1], m.tier[1], targets(m)[0]) == (703, 5, (1,))
    # firmware-onlined CPU-less node without HMAT: DRAM tier, no demotion
    for profile in ("v6.1", "v6.12"):
        m = machine([dram(0), slow(1, kind="cxl", driver="firmware")], hmat=False, profile=profile)
        assert m.tier == {0: 4, 1: 4}
        assert targets(m) == {0: (), 1: ()} and m.demotion_allowed == {0: (), 1: ()}
        assert m.toptier == {0, 1}


def test_example_c_three_tiers_with_hbm():
    m = machine([dram(0), {"id": 1, "memory": "1GiB", "kind": "hbm"}, slow(2)], profile="v6.12")
    assert m.tier[1] < m.tier[0] == 4 < m.tier[2]
    assert targets(m) == {0: (2,), 1: (0,), 2: ()}
    assert m.demotion_allowed == {0: (2,), 1: (0, 2), 2: ()}
    assert m.toptier == {0, 1}


def test_example_e_qemu_guest():
    m = build_machine(load_scenario({"preset": "qemu-6.12-hmat"}))
    assert m.adistance == {0: 576, 1: 4937} and m.tier == {0: 4, 1: 38}
    assert targets(m) == {0: (1,), 1: ()} and m.demotion_allowed == {0: (1,), 1: ()}
    assert m.toptier == {0}
    for kw in ({"hmat": False}, {"kernel": {"profile": "v6.1"}}):
        m = build_machine(load_scenario({"preset": "qemu-6.12-hmat", **kw}))
        assert m.tier == {0: 4, 1: 4} and targets(m) == {0: (), 1: ()}


def test_mt_perf_to_adistance_integer_left_to_right():
    assert mt_perf_to_adistance((300, 300, 7000, 7000), (100, 100, 20000, 20000)) == 4937
    assert mt_perf_to_adistance((0, 0, 1, 1), (100, 100, 1, 1)) is None


def test_hmat_disabled_when_cpu_dram_nodes_differ():
    # second CPU node 20% slower: mt_set_default_dram_perf() disables the HMAT algorithm
    m = machine([dram(0, read_latency_ns=100), dram(1, read_latency_ns=120),
                 slow(2, kind="cxl", driver="firmware"), slow(3, kind="cxl")], profile="v6.12")
    assert m.adistance == {0: 576, 1: 576, 2: 576, 3: 2880}


def test_dram_cxl_pmem_preset_v6_12():
    m = build_machine(load_scenario({"preset": "dram-cxl-pmem"}))
    assert m.tier == {0: 4, 1: 22, 2: 61}
    assert targets(m) == {0: (1,), 1: (2,), 2: ()}
    assert m.demotion_allowed == {0: (1, 2), 1: (2,), 2: ()}
    assert m.toptier == {0}


# --- show -----------------------------------------------------------------------------------

def test_describe_and_render():
    m = build_machine(load_scenario({"preset": "qemu-6.12-hmat"}))
    d = describe(m)
    json.dumps(d)
    assert d["min_free_kbytes"] == 67584 and d["profile"] == "v6.12"
    n0, n1 = d["nodes"]
    assert (n0["memory_tier"], n0["demotion_preferred"], n0["demotion_fallback"]) == (4, [1], [1])
    assert (n1["memory_tier"], n1["adistance"], n1["toptier"], n1["zonelist"]) == (38, 4937, False, [1, 0])
    assert n0["zones"][0] == {"type": "DMA", "present": 4096, "managed": 3856, "kernel_used": 0,
                              "min": 173, "low": 216, "high": 259, "promo": 302,
                              "lowmem_reserve": 443}
    text = render(m)
    assert "min_free_kbytes 67584" in text
    assert any(line.split()[:7] == ["1", "0", "cxl", "firmware", "1024", "38", "4937"]
               for line in text.splitlines())
    assert any(line.split() == ["1", "DMA32", "262144", "257454", "0", "11601", "14501",
                                "17401", "20301", "0"] for line in text.splitlines())
