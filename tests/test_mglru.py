"""The multi-gen LRU (kernel/lru_gen.py, lru = "mglru"): placement, aging, eviction, refaults,
should_abort_scan(), and the reference scenarios the Debian 6.12 guest ran under MGLRU."""

from functools import lru_cache

import pytest

import tierlab.simulate as sim
from tierlab.errors import ScenarioError
from tierlab.kernel import lru, lru_gen, state as st, vmstat as vs, workingset
from tierlab.kernel.vmscan import new_sc
from tierlab.scenario import load_scenario

from conftest import SCENARIOS


def scenario(steps=None, dram="64MiB", slow="128MiB", check=True, seed=0, lru_kind="mglru",
             policy="bind:0", **kernel):
    k = {"profile": "v6.12", "demotion_enabled": True, "lru": lru_kind, **kernel}
    return load_scenario({
        "name": "small-mglru", "seed": seed,
        "kernel": k,
        "node": [
            {"id": 0, "cpus": 1, "memory": dram, "read_latency_ns": 100, "bandwidth": "20GB/s"},
            {"id": 1, "cpus": 0, "memory": slow, "kind": "pmem", "read_latency_ns": 300,
             "bandwidth": "7GB/s", "driver": "kmem"},
        ],
        "swap": {"size": "0"},
        "run": {"check": check},
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": policy,
                  "workload": steps or [{"type": "fill", "size": "96MiB"}]}],
    })


def demoted(r):
    return r.vmstat["pgdemote_kswapd"] + r.vmstat["pgdemote_direct"]


# ---------------------------------------------------------------- the scenario field

def test_lru_field_takes_mglru_and_names_bad_values():
    assert scenario().kernel.lru == "mglru"
    with pytest.raises(ScenarioError, match=r"kernel\.lru = 'MGLRU'.*classic, mglru"):
        scenario(lru_kind="MGLRU")
    with pytest.raises(ScenarioError, match=r"kernel\.lru = 'mglru'.*v6\.1\+"):
        load_scenario({"kernel": {"profile": "v5.15", "lru": "mglru"},
                       "node": [{"id": 0, "cpus": 1, "memory": "64MiB"}]})
    with pytest.raises(ScenarioError, match=r"kernel\.tpp = True.*classic LRU's active list"):
        scenario(tpp=True, numa_balancing=2)


# ---------------------------------------------------------------- a tiny mm for unit tests

def tiny_mm(n_pages=16, files=0):
    """One node, one NORMAL zone with room, one task owning pages [0, n_pages - files) and a
    file owning the rest; MGLRU on. Every page present, on no list yet."""
    owners = 2 if files else 1
    mm = st.new_mm(n_pages, owners, 1, 1, mglru=True)
    mm.knob[st.K_LRU_GEN] = 1
    mm.knob[st.K_SWAPPINESS] = 60
    mm.zone_type[0] = st.ZONE_NORMAL
    mm.zone_managed[0] = 1000
    mm.zone_free[0] = 1000 - n_pages
    mm.node_zone_hi[0] = 1
    mm.task_base[0] = 0
    mm.task_footprint[0] = n_pages - files
    if files:
        mm.task_base[1] = n_pages - files
        mm.task_footprint[1] = files
    mm.pg_zone[:] = 0
    return mm


def gen_of(mm, page):
    return int(mm.pg_gen[page] & lru.LRU_GEN_MASK) - 1


def test_placement_follows_lru_gen_add_folio():
    """lru_gen_add_folio() (v6.12): active -> max_seq; anon -> max_seq - 1; file -> min_seq + 1,
    or min_seq when reclaiming (at the tail) or when only MIN_NR_GENS gens exist."""
    mm = tiny_mm(files=8)
    anon_active, anon, file_, file_tail = 0, 1, 8, 9
    mm.pg_flags[anon_active] = st.PG_ACTIVE
    mm.pg_flags[file_] = mm.pg_flags[file_tail] = st.PG_FILE
    assert tuple(mm.lrugen_seq[0]) == (3, 0, 0)          # lru_gen_init_lruvec()
    lru.lru_gen_add_folio(mm, anon_active, False)
    lru.lru_gen_add_folio(mm, anon, False)
    lru.lru_gen_add_folio(mm, file_, False)
    lru.lru_gen_add_folio(mm, file_tail, True)
    assert [gen_of(mm, p) for p in (anon_active, anon, file_, file_tail)] == [3, 2, 1, 0]
    assert not mm.pg_flags[anon_active] & st.PG_ACTIVE    # PG_active is clear on the lists
    assert mm.zone_file[0] == 2
    # only two generations left: the file page goes to the oldest
    mm.lrugen_seq[0] = (5, 4, 4)
    p = 10
    mm.pg_flags[p] = st.PG_FILE
    lru.lru_gen_add_folio(mm, p, False)
    assert gen_of(mm, p) == 4 % st.MAX_NR_GENS


def test_isolation_keeps_active_only_from_the_two_youngest_gens():
    """lru_gen_del_folio(): PG_active for migration when in max_seq or max_seq - 1, never when
    reclaim isolates the page."""
    mm = tiny_mm()
    for p, f in ((0, st.PG_ACTIVE), (1, 0), (2, 0)):
        mm.pg_flags[p] = f
        lru.lru_gen_add_folio(mm, p, False)                # gens 3, 2, 2
    mm.lrugen_seq[0, 0] = 4                              # now gen 2 is max_seq - 2: inactive
    lru.lru_gen_del_folio(mm, 0, False)
    lru.lru_gen_del_folio(mm, 1, False)
    assert mm.pg_flags[0] & st.PG_ACTIVE and not mm.pg_flags[1] & st.PG_ACTIVE
    mm.lrugen_seq[0, 0] = 3
    lru.lru_gen_del_folio(mm, 2, True)
    assert not mm.pg_flags[2] & st.PG_ACTIVE
    assert mm.lrugen_nr.sum() == 0 and (mm.pg_gen[:3] & lru.LRU_GEN_MASK == 0).all()


def test_read_through_fds_climbs_the_tiers():
    """folio_inc_refs(): PG_referenced, then PG_workingset, then LRU_REFS up to 3; tiers
    order_base_2(refs + 1) = 0, 1, 2, 2, 3 and no further."""
    mm = tiny_mm()
    p = 0
    mm.pg_flags[p] = st.PG_FILE
    lru.lru_gen_add_folio(mm, p, False)
    tiers = []
    for _ in range(7):
        workingset.folio_mark_accessed(mm, p)
        tiers.append(lru.lru_tier_from_refs(lru.folio_lru_refs(mm, p)))
    assert tiers == [0, 1, 2, 2, 3, 3, 3]
    assert gen_of(mm, p) == 1                            # accesses through fds never move it


def test_refault_is_recent_only_while_min_seq_has_not_moved():
    """lru_gen_eviction()/lru_gen_refault(): the shadow remembers min_seq and the refs; a refault
    before min_seq moves counts in refaulted[tier] and workingset_activate, and a refault in a
    fault restores the refs; after min_seq moved it is only a refault."""
    mm = tiny_mm(files=8)
    p, q = 8, 9
    for page in (p, q):
        mm.pg_flags[page] = st.PG_FILE | st.PG_WORKINGSET   # refs 1: tier 1
        workingset.lru_gen_eviction(mm, page, 0, st.SHADOW)
    assert mm.lrugen_ctrl[0, 1, st.CTRL_EVICTED, 1] == 2
    assert workingset.lru_gen_refault(mm, p, 0, 1, True) == st.PG_WORKINGSET
    assert mm.pg_gen[p] & lru.LRU_REFS_MASK == lru.LRU_REFS_MASK
    assert mm.lrugen_ctrl[0, 1, st.CTRL_REFAULTED, 1] == 1
    mm.lrugen_seq[0, 2] += 1
    assert workingset.lru_gen_refault(mm, q, 0, 1, True) == 0
    assert mm.vmstat[0, vs.WORKINGSET_REFAULT_FILE] == 2
    assert mm.vmstat[0, vs.WORKINGSET_ACTIVATE_FILE] == 1


def test_aging_walks_young_pages_into_max_seq_and_min_seq_follows():
    """try_to_inc_max_seq(): young mapped pages get the current max_seq (their pte bit cleared),
    then inc_max_seq() retires the oldest gen as all four are in use; try_to_inc_min_seq() then
    skips the empty gens, file's min_seq kept with anon's (can_swap)."""
    mm = tiny_mm(8)
    for p in range(8):
        lru.lru_gen_add_folio(mm, p, False)              # anon: max_seq - 1 = gen 2
        if p < 4:
            mm.pg_flags[p] |= st.PG_YOUNG
    sc = new_sc(11, 32, 1)
    assert lru_gen.try_to_inc_max_seq(mm, 0, 3, True, sc)
    assert tuple(mm.lrugen_seq[0]) == (4, 1, 1)
    assert [gen_of(mm, p) for p in range(8)] == [3] * 4 + [2] * 4
    assert not (mm.pg_flags[:8] & st.PG_YOUNG).any()
    assert mm.lrugen_nr[lru.gen_nr(0, 3, 0)] == mm.lrugen_nr[lru.gen_nr(0, 2, 0)] == 4
    assert lru_gen.try_to_inc_min_seq(mm, 0, True)
    assert tuple(mm.lrugen_seq[0]) == (4, 2, 2)
    # a second aging without new accesses promotes nothing: gen 2 becomes the oldest of three
    assert lru_gen.try_to_inc_max_seq(mm, 0, 4, True, sc)
    assert tuple(mm.lrugen_seq[0]) == (5, 2, 2) and gen_of(mm, 4) == 2


def test_set_initial_priority_aims_at_nr_to_reclaim():
    """set_initial_priority() (v6.12): fls(inactive) - 1 - fls(nr_to_reclaim - 1), clamped to
    DEF_PRIORITY/2 .. DEF_PRIORITY; only for >= MIN_LRU_BATCH pages at DEF_PRIORITY."""
    mm = tiny_mm()
    mm.knob[st.K_DEMOTION] = 1
    mm.demote_pref_len[0] = 1                         # anon reclaimable by demotion
    mm.lrugen_nr[lru.gen_nr(0, 0, 0)] = 1 << 22       # seq 0 and 1 are inactive (max_seq 3)
    sc = new_sc(12, 4096, 1)
    lru_gen.set_initial_priority(mm, 0, sc)
    assert sc[st.SC_PRIORITY] == 22 - 12
    mm.lrugen_nr[lru.gen_nr(0, 0, 0)] = 100_000
    sc = new_sc(12, 4096, 1)
    lru_gen.set_initial_priority(mm, 0, sc)
    assert sc[st.SC_PRIORITY] == 6
    direct = new_sc(12, 32, 0)
    lru_gen.set_initial_priority(mm, 0, direct)
    assert direct[st.SC_PRIORITY] == 12


def test_should_abort_scan_stops_kswapd_64_pages_above_the_high_watermark():
    """should_abort_scan() (v6.7): kswapd stops when every zone is MIN_LRU_BATCH above HIGH
    (PROMO in tiering mode); direct reclaim once nr_to_reclaim is met; memcg reclaim never."""
    mm = tiny_mm()
    mm.knob[st.K_HAS_PROMO] = 1
    mm.zone_wmark[0] = (100, 200, 300, 400)
    kswapd = new_sc(12, 1000, 1)
    mm.zone_free[0] = 300 + 64
    assert not lru_gen.should_abort_scan(mm, 0, kswapd)
    mm.zone_free[0] = 300 + 65
    assert lru_gen.should_abort_scan(mm, 0, kswapd)
    mm.knob[st.K_NUMA_BALANCING] = 2
    assert not lru_gen.should_abort_scan(mm, 0, kswapd)
    mm.zone_free[0] = 400 + 65
    assert lru_gen.should_abort_scan(mm, 0, kswapd)
    direct = new_sc(12, 32, 0)
    assert not lru_gen.should_abort_scan(mm, 0, direct)
    direct[st.SC_NR_RECLAIMED] = 32
    assert lru_gen.should_abort_scan(mm, 0, direct)
    memcg = new_sc(12, 32, 0)
    memcg[st.SC_TARGET] = 1
    memcg[st.SC_NR_RECLAIMED] = 1000
    assert not lru_gen.should_abort_scan(mm, 0, memcg)


# ---------------------------------------------------------------- whole runs

@lru_cache(maxsize=None)
def small_run():
    return sim.run(scenario())               # check=True: lru_gen invariants after every batch


def test_generations_advance_and_demoted_anon_lands_second_youngest():
    r = small_run()
    v = r.vmstat
    assert demoted(r) > 0 and not r.oom["killed"]
    assert v["pgsteal_anon"] == demoted(r) == v["pgmigrate_success"]
    assert v["pgscan_anon"] >= v["pgsteal_anon"]
    assert v["pgdeactivate"] == 0                        # no active list to age under MGLRU
    g0 = r.metrics["lru_gen"]["root"]["0"]
    g1 = r.metrics["lru_gen"]["root"]["1"]
    assert g0["max_seq"] > 3 and g0["min_seq"][0] > 0    # aged and evicted under pressure
    assert 2 <= g0["max_seq"] - g0["min_seq"][0] + 1 <= 4
    assert sum(a for a, _ in g0["generations"].values()) == r.residency["final"]["app"]["0"]
    # node 1 never reclaimed: still generations 0..3, every demoted (inactive) anon page in
    # max_seq - 1 (lru_gen_add_folio(): anon not in the swap cache)
    assert g1["max_seq"] == 3
    assert g1["generations"] == {"0": [0, 0], "1": [0, 0], "2": [demoted(r), 0], "3": [0, 0]}
    dec = r.residency["by_decile"]["app"]
    assert dec["1"][0] == dec["0"][0] + dec["1"][0] > 0, "oldest tenth demoted"
    assert dec["1"][-1] == 0, "newest tenth stays on node 0"


def test_hot_set_stays_on_node0_while_a_cold_fill_is_demoted_oldest_first():
    """A cold fill (A), then a 16 MiB hot set, then the hot set accessed 4:1 beside a second cold
    fill (B): the walk keeps promoting the hot pages, reclaim takes A, then B oldest first."""
    hot = {"type": "uniform", "footprint": "16MiB", "offset": 0}
    steps = [{"type": "fill", "size": "48MiB", "offset": "16MiB"},
             dict(hot, accesses=40_000),
             {"type": "mix", "parts": [dict(hot, weight=4, accesses=4 * 12288),
                                       {"type": "fill", "size": "48MiB", "offset": "64MiB"}]}]
    r = sim.run(scenario(steps, slow="256MiB", check=False))
    dec = r.residency["by_decile"]["app"]        # footprint 112 MiB: decile 0 is hot, 2-4 are A
    assert demoted(r) > 12288
    assert dec["1"][0] <= 0.01 * dec["0"][0], "the hot set stayed on node 0"
    assert dec["0"][2] == dec["0"][3] == dec["0"][4] == 0, "the older cold fill was demoted"
    assert dec["1"][9] == 0, "the newest cold pages stayed"
    cold_on_1 = [dec["1"][k] / (dec["0"][k] + dec["1"][k]) for k in range(2, 10)]
    assert cold_on_1 == sorted(cold_on_1, reverse=True), "demoted oldest first"


def test_same_seed_same_counters_under_mglru():
    """Demotion and NUMA-balancing promotion together, twice: the same counters bit for bit."""
    steps = [{"type": "fill", "size": "96MiB"},
             {"type": "zipf", "footprint": "96MiB", "accesses": 2_000_000, "alpha": 0.9}]
    kw = dict(check=False, numa_balancing=2, policy="bind:0+balancing",
              numa_balancing_scan_delay_ms=0, numa_balancing_scan_period_min_ms=100)
    a = sim.run(scenario(steps, **kw))
    b = sim.run(scenario(steps, **kw))
    assert a.vmstat == b.vmstat and a.residency == b.residency and a.metrics == b.metrics
    assert a.vmstat["pgpromote_success"] > 0 and demoted(a) > 0


# ---------------------------------------------------------------- the reference guest ran MGLRU

def within(value, ref, tol=0.10):
    return abs(value - ref) <= tol * ref


@lru_cache(maxsize=None)
def mglru_result(name):
    d = load_scenario(SCENARIOS / f"{name}.toml").to_dict()
    d["kernel"]["lru"] = "mglru"
    return sim.run(load_scenario(d))


def test_anon_default_spills_without_reclaim_under_mglru(reference):
    r = mglru_result("anon-default")
    ref = reference("anon-default")["delta"]
    v = r.vmstat
    assert v["pgscan_anon"] == v["pgsteal_anon"] == demoted(r) == v["kswapd_wake"] == 0
    assert within(v["numa_miss"], ref["numa_miss"]), (v["numa_miss"], ref["numa_miss"])
    dec = r.residency["by_decile"]["memwork"]
    assert dec["0"][0] == dec["1"][-1] == 20480


def test_anon_bind0_under_mglru_matches_the_guest(reference):
    r = mglru_result("anon-bind0")
    ref = reference("anon-bind0")["delta"]
    v = r.vmstat
    ref_demoted = ref["pgdemote_kswapd"] + ref["pgdemote_direct"]
    assert within(demoted(r), ref_demoted), (demoted(r), ref_demoted)
    # the MGLRU guest scanned about what it stole (pgscan_anon 102102); the classic model
    # scans twice that, as each page needs a second trip round the inactive list
    assert within(v["pgscan_anon"], ref["pgscan_anon"]), (v["pgscan_anon"], ref["pgscan_anon"])
    assert v["pgsteal_anon"] == demoted(r) == v["pgmigrate_success"]
    assert v["pgdemote_kswapd"] > 0 and v["pgdemote_direct"] > 0 and not r.oom["killed"]
    dec = r.residency["by_decile"]["memwork"]
    assert dec["1"][0] == 20480, "oldest tenth demoted to node 1"
    assert dec["0"][-1] == 20480, "newest tenth on node 0"


def test_promoted_pages_land_in_the_youngest_generation(reference):
    """promote.toml under MGLRU: pages faulted on node 1 sit in its youngest gen, so NUMA-balancing
    isolation keeps them "active" (lru_gen_del_folio()) and they arrive in node 0's max_seq."""
    r = mglru_result("promote")
    ref = reference("promote")["delta"]
    assert r.vmstat["pgpromote_success"] == ref["pgpromote_success"] == 51200
    g0 = r.metrics["lru_gen"]["root"]["0"]
    assert g0["generations"][str(g0["max_seq"])] == [51200, 0]
    assert r.residency["final"]["memwork"] == {"0": 51200, "1": 0}


def test_memcg_reclaim_under_mglru_goes_through_lru_gen_shrink_lruvec():
    """A memcg at memory.max: cgroup reclaim (not root: lru_gen_shrink_lruvec()) demotes and
    swaps the memcg's pages, counted in the memcg's stat, not in the global pgscan_direct."""
    s = load_scenario({
        "kernel": {"profile": "v6.12", "demotion_enabled": True, "lru": "mglru"},
        "node": [{"id": 0, "cpus": 1, "memory": "128MiB"},
                 {"id": 1, "memory": "128MiB", "kind": "pmem", "driver": "kmem"}],
        "swap": {"size": "256MiB"},
        "memcg": [{"name": "job", "max": "32MiB"}],
        "run": {"check": True},
        "task": [{"name": "app", "cpu_node": 0, "memcg": "job",
                  "workload": [{"type": "fill", "size": "64MiB"}]}],
    })
    r = sim.run(s)
    m = r.memcg["job"]
    v = r.vmstat
    assert demoted(r) > 0 and v["pswpout"] > 0 and not r.oom["killed"]
    assert m["usage"] <= 32 * 256 and m["stat"]["pgdemote"] == demoted(r)
    assert m["stat"]["pgscan"] == v["pgscan_anon"] and m["stat"]["pgsteal"] == v["pgsteal_anon"]
    assert v["pgscan_direct"] == v["pgsteal_direct"] == 0
