"""Watermarks, min_free_kbytes and lowmem_reserve against kernel-spec 2.5 worked examples."""

from tierlab.scenario import load_scenario
from tierlab.topology import build_machine
from tierlab.topology.watermarks import (ZoneInput, calculate_min_free_kbytes,
                                         recommended_min_free_kbytes, setup_per_zone_lowmem_reserve,
                                         setup_per_zone_wmarks)

GiB = 1 << 30


def _machine(nodes, **kernel):
    return build_machine(load_scenario({"kernel": kernel, "node": nodes}))


def _marks(m):
    return {(z.node, z.type): (z.min, z.low, z.high, z.promo) for z in m.zones}


# --- worked example A: the reference QEMU guest, 6.12, THP madvise --------------------------

def test_example_a_qemu_guest():
    m = build_machine(load_scenario({"preset": "qemu-6.12-hmat"}))
    assert m.min_free_kbytes == 67584          # 3 zones <= NORMAL x 5632 pages x 4 KiB
    assert _marks(m) == {(0, "DMA"): (173, 216, 259, 302),
                         (0, "DMA32"): (5120, 6400, 7680, 8960),
                         (1, "DMA32"): (11601, 14501, 17401, 20301)}
    reserve = {(z.node, z.type): z.lowmem_reserve for z in m.zones}
    assert reserve == {(0, "DMA"): 443, (0, "DMA32"): 0, (1, "DMA32"): 0}


def test_example_a_without_thp_uses_isqrt_only():
    m = build_machine(load_scenario({"preset": "qemu-6.12-hmat",
                                     "kernel": {"transparent_hugepage": "never"}}))
    # isqrt(374940 pages * 4 KiB * 16) = 4898 ("isqrt alone gives only ~4,900 KiB")
    assert m.min_free_kbytes == 4898


def test_khugepaged_cap_at_five_percent_of_lowmem():
    assert recommended_min_free_kbytes(3, 10**7) == 67584
    assert recommended_min_free_kbytes(3, 200_000) == 200_000 // 20 * 4


def test_thp_off_below_512mib_of_ram():
    m = _machine([{"id": 0, "cpus": 1, "memory": "256MiB"}])
    # 256 MiB: hugepage_init() switches THP off, only the isqrt rule applies
    managed = sum(z.managed for z in m.zones)
    assert m.min_free_kbytes == max(128, int((managed * 4 * 16) ** 0.5))
    assert m.min_free_kbytes < 22528


# --- calculate_min_free_kbytes --------------------------------------------------------------

def test_calculate_min_free_kbytes_clamps_and_keeps_larger_user_value():
    assert calculate_min_free_kbytes(100) == 128                   # isqrt(1600)=40 -> 128
    assert calculate_min_free_kbytes(335544320) == 73271           # 320 GiB of lowmem
    assert calculate_min_free_kbytes(2**44) == 262144              # clamp since v5.7
    assert calculate_min_free_kbytes(335544320, 100000) == 100000  # user value larger: kept
    assert calculate_min_free_kbytes(335544320, 1000) == 73271     # smaller: recomputed


def test_user_min_free_kbytes_in_scenario():
    big = build_machine(load_scenario({"preset": "qemu-6.12-hmat",
                                       "kernel": {"min_free_kbytes": 100000}}))
    assert big.min_free_kbytes == 100000
    assert big.zones[1].min == 100000 // 4 * 113630 // 374940
    small = build_machine(load_scenario({"preset": "qemu-6.12-hmat",
                                         "kernel": {"min_free_kbytes": 1000}}))
    assert small.min_free_kbytes == 67584      # khugepaged still raises it


# --- worked example B: 64 GiB DRAM + 256 GiB CXL, THP off -----------------------------------

def _example_b(cxl_zone, profile, thp="never"):
    return _machine([{"id": 0, "cpus": 4, "memory": "64GiB", "zones": {"NORMAL": 16777216}},
                     {"id": 1, "memory": "256GiB", "kind": "cxl",
                      "movable": cxl_zone == "MOVABLE", "zones": {cxl_zone: 67108864}}],
                    profile=profile, transparent_hugepage=thp)


def test_example_b_cxl_normal():
    m = _example_b("NORMAL", "v6.12")
    assert m.min_free_kbytes == 73271
    assert _marks(m) == {(0, "NORMAL"): (3663, 20440, 37217, 53994),
                         (1, "NORMAL"): (14653, 81761, 148869, 215977)}


def test_example_b_cxl_normal_thp_on_four_low_zones():
    # with the real layout node 0 has DMA, DMA32, NORMAL: 4 zones <= NORMAL -> 4 x 22528 KiB
    m = _machine([{"id": 0, "cpus": 4, "memory": "64GiB", "reserved": 0},
                  {"id": 1, "memory": "256GiB", "kind": "cxl", "reserved": 0}])
    assert [z.type for z in m.zones] == ["DMA", "DMA32", "NORMAL", "NORMAL"]
    assert m.min_free_kbytes == 90112


def test_example_b_cxl_movable_v6_5_and_later():
    m = _example_b("MOVABLE", "v6.12")
    assert m.min_free_kbytes == 32768
    assert _marks(m) == {(0, "NORMAL"): (8192, 24969, 41746, 58523),
                         (1, "MOVABLE"): (128, 67236, 134344, 201452)}


def test_example_b_cxl_movable_before_v6_5():
    m = _example_b("MOVABLE", "v6.1")
    assert m.min_free_kbytes == 32768
    assert _marks(m) == {(0, "NORMAL"): (1638, 18415, 35192, 51969),
                         (1, "MOVABLE"): (6553, 73661, 140769, 207877)}


def test_no_promo_watermark_before_v5_18():
    m = _example_b("NORMAL", "v5.15")
    # HIGH = MIN + 2*delta, WMARK_PROMO does not exist (reported equal to HIGH)
    assert _marks(m) == {(0, "NORMAL"): (3663, 20440, 37217, 37217),
                         (1, "NORMAL"): (14653, 81761, 148869, 148869)}


def test_watermark_scale_factor_widens_gaps():
    zones = [ZoneInput(0, "NORMAL", 1_000_000)]
    (w,) = setup_per_zone_wmarks(zones, 4000, 1000, "v6.12")
    assert w.min == 1000 and w.low == 101000 and w.high == 201000 and w.promo == 301000


# --- lowmem_reserve -------------------------------------------------------------------------

def test_lowmem_reserve_movable_classzone():
    zones = [ZoneInput(0, "DMA", 4000), ZoneInput(0, "DMA32", 256_000),
             ZoneInput(0, "NORMAL", 3_200_000), ZoneInput(0, "MOVABLE", 320_000),
             ZoneInput(1, "NORMAL", 1_000_000)]
    got = setup_per_zone_lowmem_reserve(zones, (256, 256, 32, 0))
    assert got == [(256_000 + 3_200_000 + 320_000) // 256,   # DMA
                   (3_200_000 + 320_000) // 256,             # DMA32
                   320_000 // 32,                            # NORMAL under MOVABLE
                   0,                                        # MOVABLE: ratio 0
                   0]                                        # highest zone of node 1
    assert setup_per_zone_lowmem_reserve(zones, (0, 256, 32, 0))[0] == 0
