"""The benchmark suite's small mode (`python -m benchmarks --small`) still works: every case
runs, the references sit beside tierlab, and the table has its rows and columns with sane
numbers. Timings are not checked (CI machines are noisy); that is what the full suite is for."""

import math

import pytest

from benchmarks.cases import build_cases
from benchmarks.references import have_libcachesim
from benchmarks.runner import format_report, run_suite


@pytest.fixture(scope="module")
def suite():
    return run_suite(small=True, jit=True, jit_cold=False, log=lambda *a, **k: None)


def test_every_case_has_its_rows(suite):
    rows = {(r["case"], r["impl"]) for r in suite["rows"]}
    for case in build_cases(small=True):
        for v in case.variants:
            assert (case.name, v.label) in rows
        assert (case.name, "workload generator alone") in rows
        if case.cache_pages:
            assert (case.name, "libCacheSim LRU") in rows
            assert (case.name, "libCacheSim Clock") in rows
    assert ("zipf", "Python OrderedDict LRU") in rows
    assert ("zipf", "tierlab demotion off (swap)") in rows


def test_numbers_are_sane(suite):
    for r in suite["rows"]:
        assert r["accesses"] > 0, r
        assert r["seconds"] and all(s > 0 and math.isfinite(s) for s in r["seconds"]), r
        assert r["rate"] > 0, r
        assert r["peak_rss_mib"] > 0, r
    tier = {(r["case"], r["impl"]): r for r in suite["rows"]}
    zipf = tier[("zipf", "tierlab demotion")]
    assert zipf["counters"]["pgdemote_kswapd"] + zipf["counters"]["pgdemote_direct"] > 0
    assert have_libcachesim()               # a test dependency: the references must run
    assert zipf["ratio_vs_lru"] > 0
    lru = tier[("zipf", "libCacheSim LRU")]
    assert 0.0 < float(lru["quality"].split()[-1]) < 1.0
    assert 1 <= sum(suite["page_state"].values()) <= 64
    assert suite["jit"]["cached"]["jit_s"] >= 0


def test_table_and_targets(suite):
    text = format_report(suite)
    header = text.splitlines()[2]
    for col in ("case", "implementation", "accesses/s (median)", "vs libCacheSim LRU", "peak RSS MiB"):
        assert col in header
    names = {t["target"] for t in suite["targets"]}
    assert any("Zipf with demotion" in n for n in names)
    assert any("page state" in n for n in names)
    assert any("promotion on / off" in n for n in names)
    assert "| target | measured | goal | holds |" in text


def test_trace_reader_benchmark_reads_every_record(tmp_path):
    from benchmarks.trace_reader import run as run_reader

    rows = run_reader(50_000, 1, str(tmp_path))
    assert [r["case"] for r in rows] == ["verify", "verify, zlib crc32", "no verify", "deflated"]
    assert [r["records"] for r in rows] == [50_000, 50_000, 50_000, 5_000]
    assert all(r["records_per_s"] > 0 and r["records_per_cpu_s"] > 0 for r in rows)
    assert rows[0]["bytes"] > 50_000 * 17 and not list(tmp_path.iterdir())    # removed after


def test_scale_trace_writes_a_dense_trace_and_a_runnable_scenario(tmp_path):
    import numpy as np

    import tierlab
    from benchmarks.scale_trace import main as scale_main
    from tierlab.workloads.npztrace import read_meta, read_npz

    assert scale_main([str(tmp_path), "--accesses", "200000", "--pages", "5000"]) == 0
    meta = read_meta(str(tmp_path / "trace.npz"))
    assert meta["dense"] and meta["accesses"] == 200_000 and meta["records"] <= 200_000
    rs = list(read_npz(str(tmp_path / "trace.npz")))
    vpn = np.concatenate([r.vpn for r in rs])
    assert int(np.concatenate([r.count for r in rs]).sum()) == 200_000
    _, first = np.unique(vpn, return_index=True)
    assert meta["pages"] == len(first) and (np.diff(first) > 0).all()     # first-seen order
    res = tierlab.run(str(tmp_path / "scenario.toml"))
    assert res.metrics["accesses"] == 200_000
    assert sum(res.residency["final"]["app"].values()) == meta["pages"]
