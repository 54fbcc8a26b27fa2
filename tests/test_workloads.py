"""Synthetic generators and the workload spec: what each produces, determinism, errors."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from tierlab.errors import ScenarioError
from tierlab.scenario import MemPolicy
from tierlab.workloads import (READ, WRITE, FillStep, HotColdStep, IdleStep, MixStep, PhasesStep,
                               PolicyStep, ScanStep, UniformStep, ZipfStep, build_steps,
                               footprint_pages, parse_mempolicy)
from tierlab.workloads.spec import step_seed
from tierlab.workloads.synthetic import BLOCK, zipf_pmf

W = "s.toml: task[0].workload"


def collect(step, chunk_size=1 << 16, limit=None):
    chunks = step.chunks(chunk_size)
    if limit is not None:
        chunks = itertools.islice(chunks, limit)
    chunks = list(chunks)
    for c in chunks:
        assert c.vpn.dtype == np.int64 and c.op.dtype == np.uint8
        assert len(c.vpn) == len(c.op) <= chunk_size
        assert c.gap_ns is None
    return np.concatenate([c.vpn for c in chunks]), np.concatenate([c.op for c in chunks])


def test_fill_writes_each_page_once_in_order():
    s = FillStep(pages=100_000, offset=7)
    vpn, op = collect(s, 30_000)
    assert s.footprint == 100_007
    np.testing.assert_array_equal(vpn, np.arange(7, 100_007))
    assert (op == WRITE).all()


def test_uniform_counts_range_and_write_share():
    s = UniformStep(pages=1000, accesses=200_000, write_ratio=0.25, seed=3)
    vpn, op = collect(s)
    assert len(vpn) == 200_000 and vpn.min() >= 0 and vpn.max() < 1000
    assert len(np.unique(vpn)) == 1000
    assert abs((op == WRITE).mean() - 0.25) < 0.01
    counts = np.bincount(vpn, minlength=1000)
    assert counts.min() > 120 and counts.max() < 290     # mean 200, ~4.5 sigma


def test_stream_is_independent_of_chunk_size_and_seeded():
    a = collect(ZipfStep(pages=5000, accesses=150_000, alpha=0.8, write_ratio=0.5, seed=1), 1 << 16)
    b = collect(ZipfStep(pages=5000, accesses=150_000, alpha=0.8, write_ratio=0.5, seed=1), 777)
    c = collect(ZipfStep(pages=5000, accesses=150_000, alpha=0.8, write_ratio=0.5, seed=2))
    np.testing.assert_array_equal(a[0], b[0])
    np.testing.assert_array_equal(a[1], b[1])
    assert not np.array_equal(a[0], c[0])


@pytest.mark.parametrize("alpha", [0.6, 0.99, 1.3])
def test_zipf_hottest_share_matches_bounded_zipf(alpha):
    n = 20_000
    s = ZipfStep(pages=n, accesses=2_000_000, alpha=alpha, seed=11)
    vpn, op = collect(s)
    counts = np.sort(np.bincount(vpn, minlength=n))[::-1]
    measured = counts[: n // 10].sum() / len(vpn)
    analytic = zipf_pmf(n, alpha)[: n // 10].sum()
    assert abs(measured - analytic) < 0.01
    assert (op == READ).all()
    # the hottest rank's page is where the permutation put it, and hot pages are scattered
    perm = s.rank_to_page()
    assert np.bincount(vpn, minlength=n).argmax() == perm[0]
    assert sorted(perm.tolist()) == list(range(n))
    assert np.abs(np.diff(perm[:100])).mean() > n / 10


def test_zipf_permutation_depends_on_seed():
    a = ZipfStep(pages=1000, accesses=10, seed=1).rank_to_page()
    b = ZipfStep(pages=1000, accesses=10, seed=2).rank_to_page()
    assert not np.array_equal(a, b)


def test_scan_passes_and_endless():
    vpn, op = collect(ScanStep(pages=300, passes=3, write_ratio=0.0))
    np.testing.assert_array_equal(vpn, np.tile(np.arange(300), 3))
    assert (op == READ).all()
    endless = ScanStep(pages=300, passes=None, duration_ns=1e9)
    assert endless.total() is None
    vpn, _ = collect(endless, 1000, limit=(3 * BLOCK) // 1000)
    assert len(vpn) == ((3 * BLOCK) // 1000) * 1000
    np.testing.assert_array_equal(vpn, np.arange(len(vpn)) % 300)


def test_hotcold_cold_once_then_hot_after_cold():
    s = HotColdStep(cold_pages=5000, hot_pages=100, accesses=50_000, write_ratio=0.0, seed=4)
    vpn, op = collect(s)
    assert len(vpn) == 55_000 and s.footprint == 5100
    np.testing.assert_array_equal(vpn[:5000], np.arange(5000))
    assert (op[:5000] == WRITE).all() and (op[5000:] == READ).all()
    hot = vpn[5000:]
    assert hot.min() >= 5000 and hot.max() < 5100 and len(np.unique(hot)) == 100


def test_phases_hot_set_moves_every_period():
    s = PhasesStep(pages=1000, hot_pages=100, period=10_000, accesses=50_000, seed=5)
    vpn, _ = collect(s, 4096)
    for k in range(5):
        seg = vpn[k * 10_000:(k + 1) * 10_000]
        lo = (k * 100) % 1000
        assert seg.min() == lo and seg.max() == lo + 99
    partly = PhasesStep(pages=1000, hot_pages=100, period=10_000, accesses=50_000,
                        hot_share=0.8, seed=5)
    v, _ = collect(partly)
    inside = (v[:10_000] < 100).mean()
    assert 0.8 < inside < 0.84          # 80 % hot + 10 % of the 20 % uniform


def test_mix_interleaves_by_weight_and_drops_finished_parts():
    a = UniformStep(pages=100, accesses=None, seed=1)
    b = ScanStep(pages=50, passes=None, offset=100, seed=2)
    m = MixStep(parts=[a, b], weights=[3.0, 1.0], accesses=100_000, seed=9)
    vpn, _ = collect(m, 10_000)
    assert len(vpn) == 100_000 and m.footprint == 150
    assert abs((vpn >= 100).mean() - 0.25) < 0.01
    # part b's accesses keep their own order: a scan
    bs = vpn[vpn >= 100] - 100
    np.testing.assert_array_equal(bs, np.arange(len(bs)) % 50)
    fin = MixStep(parts=[FillStep(pages=10), UniformStep(pages=10, accesses=1000, offset=10)],
                  weights=[1, 1], seed=3)
    vpn, op = collect(fin)
    assert len(vpn) == 1010
    np.testing.assert_array_equal(vpn[vpn < 10], np.arange(10))


def test_build_steps_types_hold_policy_and_footprint():
    steps = build_steps((
        {"type": "fill", "size": "8MiB", "hold_s": 2},
        {"type": "policy", "mempolicy": "interleave:0-2"},
        {"type": "zipf", "footprint": "16MiB", "accesses": 1000, "alpha": 0.9, "offset": "8MiB"},
        {"type": "idle", "duration_s": 0.5},
        {"type": "scan", "size": "4MiB", "duration_s": 3},
        {"type": "mix", "accesses": 100, "parts": [
            {"type": "uniform", "footprint": "1MiB", "weight": 2},
            {"type": "scan", "size": "1MiB"}]},
    ), seed=7, where=W)
    kinds = [type(s).__name__ for s in steps]
    assert kinds == ["FillStep", "IdleStep", "PolicyStep", "ZipfStep", "IdleStep", "ScanStep", "MixStep"]
    assert steps[0].pages == 2048 and steps[1].duration_ns == 2e9
    assert steps[2].mempolicy == MemPolicy("interleave", (0, 1, 2))
    assert steps[3].offset == 2048 and steps[3].footprint == 2048 + 4096 and steps[3].alpha == 0.9
    assert steps[5].passes is None and steps[5].duration_ns == 3e9
    mix = steps[6]
    assert mix.parts[0].offset == 0 and mix.parts[1].offset == 256 and mix.footprint == 512
    assert footprint_pages(steps) == 6144
    again = build_steps(({"type": "fill", "size": "8MiB"}, {"type": "zipf", "footprint": "1MiB",
                                                             "accesses": 10}), 7, W)
    assert again[1].seed == step_seed(7, 1) != step_seed(7, 0) == again[0].seed
    assert build_steps({"type": "scan", "size": 4096}, 0, W)[0].passes == 1


@pytest.mark.parametrize("text, mode, nodes", [
    ("default", "default", ()), ("local", "local", ()), ("bind:0", "bind", (0,)),
    ("bind:2,0", "bind", (0, 2)), ("preferred:1", "preferred", (1,)),
    ("interleave:0-2,5", "interleave", (0, 1, 2, 5)), (" Interleave : 0,1 ", "interleave", (0, 1)),
])
def test_parse_mempolicy(text, mode, nodes):
    assert parse_mempolicy(text, "x") == MemPolicy(mode, nodes)


@pytest.mark.parametrize("text, fragment", [
    ("bnd:0", "unknown mempolicy mode 'bnd'"), ("bind", "needs nodes"),
    ("preferred:0,1", "exactly one node"), ("bind:a", "bad node list"),
    ("interleave:3-1", "bad node range '3-1'"), ("local:0", "takes no nodes"), (3, "got 3"),
])
def test_parse_mempolicy_errors(text, fragment):
    with pytest.raises(ScenarioError) as e:
        parse_mempolicy(text, "s.toml: task[1].mempolicy")
    assert "s.toml: task[1].mempolicy" in str(e.value) and fragment in str(e.value)


@pytest.mark.parametrize("spec, fragments", [
    ({"type": "zipff"}, ["task[0].workload.type", "'zipff'", "valid: fill, zipf"]),
    ({"size": "1MiB"}, ["unknown workload type None"]),
    ({"type": "zipf", "footprint": "1MiB", "accesses": 5, "alfa": 1},
     ["unknown parameter 'alfa' = 1", "valid: accesses, alpha"]),
    ({"type": "zipf", "accesses": 5}, ["needs 'footprint'"]),
    ({"type": "zipf", "footprint": "1MiB", "accesses": 5, "alpha": 0},
     ["workload.alpha", "must be in (0.0, inf)", "got 0"]),
    ({"type": "zipf", "footprint": "1MiB", "accesses": 5, "alpha": -1.5}, ["got -1.5"]),
    ({"type": "uniform", "footprint": "1MiB", "accesses": 5, "write_ratio": 1.2},
     ["workload.write_ratio", "[0.0, 1.0]", "got 1.2"]),
    ({"type": "fill", "size": -4096}, ["workload.size", "negative"]),
    ({"type": "fill", "size": "-1MiB"}, ["workload.size", "'-1MiB'"]),
    ({"type": "fill", "size": "12 parsecs"}, ["workload.size", "512MiB"]),
    ({"type": "fill", "size": 0}, ["must be > 0"]),
    ({"type": "uniform", "footprint": "1MiB"}, ["needs 'accesses' or 'duration_s'"]),
    ({"type": "uniform", "footprint": "1MiB", "accesses": 2.5}, ["whole number", "2.5"]),
    ({"type": "idle"}, ["needs 'duration_s'"]),
    ({"type": "policy", "mempolicy": "bind:x"}, ["workload.mempolicy", "bad node list"]),
    ({"type": "scan", "size": "1MiB", "offset": 100.5}, ["workload.offset"]),
    ({"type": "phases", "footprint": "1MiB", "hot_size": "2MiB", "period": 10, "accesses": 9},
     ["hot_size", "larger than footprint"]),
    ({"type": "mix", "parts": []}, ["workload.parts", "non-empty list"]),
    ({"type": "mix", "parts": [{"type": "idle", "duration_s": 1}]},
     ["parts[0].type", "cannot be a part of a mix"]),
    ({"type": "mix", "parts": [{"type": "uniform", "footprint": 4096}]},
     ["never ends"]),
    ({"type": "mix", "accesses": 5, "parts": [{"type": "uniform", "footprint": 4096, "weight": 0}]},
     ["parts[0].weight"]),
    ({"type": "trace", "path": "/nonexistent/x.npz"}, ["workload.path", "no such trace file"]),
    ({"type": "trace", "path": __file__, "format": "pcap"}, ["workload.format", "valid: npz"]),
])
def test_spec_errors_name_field_value_and_choices(spec, fragments):
    with pytest.raises(ScenarioError) as e:
        build_steps((spec,), 0, W)
    msg = str(e.value)
    assert msg.startswith(W.split(":")[0])
    for f in fragments:
        assert f in msg, (f, msg)


def test_spec_error_path_indexes_multi_step_workloads():
    with pytest.raises(ScenarioError, match=r"workload\[1\]\.alpha"):
        build_steps(({"type": "fill", "size": 4096},
                     {"type": "zipf", "footprint": 4096, "accesses": 1, "alpha": -1}), 0, W)


def test_spec_seeds_deterministic():
    spec = ({"type": "uniform", "footprint": "1MiB", "accesses": 10_000, "write_ratio": 0.5},)
    a = collect(build_steps(spec, 5, W)[0])
    b = collect(build_steps(spec, 5, W)[0])
    c = collect(build_steps(spec, 6, W)[0])
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    assert isinstance(build_steps(({"type": "idle", "duration_s": 1},), 0, W)[0], IdleStep)
    assert isinstance(build_steps(({"type": "policy", "mempolicy": "local"},), 0, W)[0], PolicyStep)
