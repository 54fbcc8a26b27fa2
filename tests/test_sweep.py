"""tierlab.sweeps: the cartesian product of --vary axes and presets, run in parallel processes
or on Dask with the same counters, the capacity planner's question, errors, the report."""

import re
import sys

import pandas as pd
import pytest

from tierlab.cli import main
from tierlab.comparison import CompareError
from tierlab.errors import TierlabError
from tierlab.report.tables import COLUMNS
from tierlab import sweeps as sweep_mod
from tierlab.sweeps import Sweep, SweepError, plan, sweep

from test_compare import SMALL  # reclaim, demotion and swap on 64 + 64 MiB

# The capacity planner's box: DRAM sized as a share of the workload, CXL big enough for all of
# it, a Zipf-hot working set; the default mempolicy spills what DRAM cannot hold to CXL.
PLANNER = {
    "name": "planner", "kernel": {"profile": "v6.12", "demotion_enabled": True},
    "node": [{"id": 0, "cpus": 2, "memory": "50%", "kind": "dram"},
             {"id": 1, "cpus": 0, "memory": "150%", "kind": "cxl"}],
    "task": [{"name": "app", "cpu_node": 0, "mempolicy": "default", "workload": [
        {"type": "zipf", "footprint": "24MiB", "accesses": 200_000, "alpha": 0.9}]}],
}
SHARES = ["20%", "40%", "60%", "80%", "100%", "120%"]
DET_VARY = ["node.0.memory=25%,50%", "kernel.swappiness=0,60"]


@pytest.fixture(scope="module")
def planner():
    return sweep(PLANNER, vary=[f"node.0.memory={','.join(SHARES)}"], jobs=1)


@pytest.fixture(scope="module")
def local_one():
    return sweep(SMALL, vary=DET_VARY, presets=["demotion"], jobs=1)


def counters(sw):
    return {n: (r.vmstat, r.node_vmstat, r.metrics, r.residency["final"]) for n, r in sw.results.items()}


# ---- the points --------------------------------------------------------------------------

def test_points_are_the_cartesian_product_presets_last():
    base, axes, points, scenarios = plan(SMALL, vary=["kernel.swappiness=0,60,200", "node.1.kind=pmem,cxl"],
                                         presets=["demotion", "demotion+promotion"])
    assert axes == ["kernel.swappiness", "node.1.kind", "preset"]
    assert len(points) == len(scenarios) == 3 * 2 * 2
    first = "kernel.swappiness=0 node.1.kind=pmem demotion"
    assert list(points)[:2] == [first, "kernel.swappiness=0 node.1.kind=pmem demotion+promotion"]
    assert points[first] == {"kernel.swappiness": 0, "node.1.kind": "pmem", "preset": "demotion"}
    s = scenarios["kernel.swappiness=200 node.1.kind=cxl demotion+promotion"]
    assert (s.kernel.swappiness, s.node(1).kind, s.kernel.numa_balancing) == (200, "cxl", 2)
    assert s.node(1).read_latency_ns == 250.0          # the cxl default, not pmem's 305 ns
    assert base.kernel.swappiness == 60 and base.node(1).kind == "pmem"


def test_table_columns_are_the_axes_then_the_comparison_columns(local_one):
    t = local_one.table
    assert list(t.columns) == ["node.0.memory", "kernel.swappiness", "preset", *COLUMNS]
    assert t.index.name == "point" and len(t) == 4
    row = t.loc["node.0.memory=50% kernel.swappiness=0 demotion"]
    r = local_one.results["node.0.memory=50% kernel.swappiness=0 demotion"]
    assert (row["node.0.memory"], row["kernel.swappiness"]) == ("50%", 0)
    assert row.pgdemote == r.vmstat["pgdemote_kswapd"] + r.vmstat["pgdemote_direct"] > 0
    assert row.slowdown == r.metrics["slowdown"] and row.pswpout == r.vmstat["pswpout"]
    assert r.scenario["node"][0]["memory"] == 80 * 2**20     # 50 % of the 160 MiB footprint
    assert r.scenario["kernel"]["demotion_enabled"] is True


def test_time_vs_all_fast_is_against_the_all_fast_point_of_the_same_values():
    sw = sweep(SMALL, vary=["node.0.memory=25%,50%"], presets=["demotion", "all-fast"], jobs=1)
    t = sw.table
    for share in ("25%", "50%"):
        fast = t.loc[f"node.0.memory={share} all-fast"]
        demo = t.loc[f"node.0.memory={share} demotion"]
        assert fast.time_vs_all_fast == 0.0
        assert demo.time_vs_all_fast == pytest.approx(demo.sim_time_s / fast.sim_time_s - 1)
    # all-fast is the ideal of each point's own machine: 25 % of DRAM merged with node 1
    merged = sw.results["node.0.memory=25% all-fast"].scenario["node"]
    assert [n["memory"] for n in merged] == [(40 + 64) * 2**20]


# ---- parallel runs give the same counters -------------------------------------------------

def test_same_counters_whatever_the_number_of_jobs(local_one):
    two = sweep(SMALL, vary=DET_VARY, presets=["demotion"], jobs=2)
    assert counters(two) == counters(local_one)
    pd.testing.assert_frame_equal(two.table, local_one.table)
    assert len({r.vmstat["pgdemote_kswapd"] for r in two.results.values()}) > 1   # points differ


def test_dask_local_cluster_gives_the_same_counters(local_one):
    dsk = sweep(SMALL, vary=DET_VARY, presets=["demotion"], jobs=1, scheduler="local")   # 1 worker process
    assert counters(dsk) == counters(local_one)
    pd.testing.assert_frame_equal(dsk.table, local_one.table)


# ---- the capacity planner -----------------------------------------------------------------

def test_more_dram_never_slows_down(planner):
    t = planner.table
    assert list(t["node.0.memory"]) == SHARES
    assert t.slowdown.is_monotonic_decreasing and t.fast_tier_hit_ratio.is_monotonic_increasing
    assert t.slowdown.iloc[0] > 0.05 and t.slowdown.iloc[-1] == 0.0
    assert t.fast_tier_hit_ratio.iloc[-1] == 1.0        # DRAM holds the whole footprint
    # the planner's answer: the smallest DRAM share that keeps slowdown under 5 %
    answer = t[t.slowdown < 0.05]["node.0.memory"].iloc[0]
    assert answer == "80%"


# ---- errors: one message naming the key or value, exit 2, nothing run or written ---------

def test_cli_bad_key_exits_2_naming_it(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", _toml(tmp_path), "--vary", "kernel.swapiness=0,60", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tierlab: error: ") and "'kernel.swapiness' does not exist" in err
    assert "swappiness" in err.split("valid here:")[1] and not out.exists()


@pytest.mark.parametrize("args, msg", [
    (["--vary", "node.0.memory=25%,0%"], "'node.0.memory=0%'.*node\\[0\\].memory = '0%'"),
    (["--vary", "kernel.swappiness=0,300"], "'kernel.swappiness=300'.*0..200"),
    (["--preset", "hemem"], "unknown preset 'hemem'"),
    (["--vary", "kernel.swappiness=0", "--vary", "kernel.swappiness=60"], "already varied"),
    ([], "nothing to sweep"),
    (["--vary", "kernel.swappiness=0", "--jobs", "0"], "jobs = 0"),
])
def test_cli_bad_points_exit_2_before_running_any(tmp_path, capsys, monkeypatch, args, msg):
    ran = []
    monkeypatch.setattr(sweep_mod, "_run_point", lambda d: ran.append(d))
    assert main(["sweep", _toml(tmp_path), *args, "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert re.search(msg, err), err
    assert ran == [] and not (tmp_path / "out").exists()


def test_a_point_failing_at_run_time_stops_the_sweep_naming_it(monkeypatch):
    ran = []

    def fake(d):
        ran.append(d["kernel"]["swappiness"])
        if d["kernel"]["swappiness"] == 60:
            raise TierlabError("trace.npz: truncated at byte 12")
        return d

    monkeypatch.setattr(sweep_mod, "_run_point", fake)
    with pytest.raises(SweepError, match="point 'kernel.swappiness=60': trace.npz: truncated"):
        sweep(SMALL, vary=["kernel.swappiness=0,60,200"], jobs=1)
    assert ran == [0, 60]                          # stopped: the third point never ran


def test_scheduler_without_dask_says_how_to_install(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)    # import raises ImportError
    assert main(["sweep", _toml(tmp_path), "--vary", "kernel.swappiness=0,60", "--scheduler", "local"]) == 2
    assert "pip install 'tierlab[dask]'" in capsys.readouterr().err


def test_bad_overrides_are_compare_errors():
    with pytest.raises(CompareError, match="no node with id 5"):
        plan(SMALL, vary=["node.5.memory=1GiB,2GiB"])


# ---- output ---------------------------------------------------------------------------------

def test_report_files(local_one, tmp_path):
    path = local_one.write_report(tmp_path / "rep")
    d = tmp_path / "rep"
    assert path == str(d / "index.html")
    for f in ("sweep.csv", "counters.csv", "index.html", "slowdown.png", "fast_tier_hit_ratio.png",
              "amat_ns.png", "pgdemote.png", "pswpout.png"):
        assert (d / f).stat().st_size > 0, f
    back = pd.read_csv(d / "sweep.csv", index_col="point")
    assert list(back.index) == list(local_one.table.index)
    assert list(back["pgdemote"]) == list(local_one.table["pgdemote"])
    html = (d / "index.html").read_text()
    assert 'src="slowdown.png"' in html and "node.0.memory=25% kernel.swappiness=60 demotion" in html
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]     # no temp dir left


def test_cli_prints_the_table_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["sweep", _toml(tmp_path), "--vary", "kernel.swappiness=0,200", "--jobs", "1",
                 "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "kernel.swappiness" in text and "pgpromote_success" in text and "report:" in text
    assert (out / "sweep.csv").exists() and (out / "slowdown.png").exists()


def test_library_entry_point():
    import tierlab
    sw = tierlab.sweep(PLANNER, vary=["node.0.memory=50%,100%"], jobs=1)
    assert isinstance(sw, Sweep) and len(sw.table) == 2


def _toml(tmp_path) -> str:
    p = tmp_path / "small.toml"
    p.write_text("""name = "small"
[[node]]
id = 0
cpus = 2
memory = "64MiB"
[[node]]
id = 1
memory = "64MiB"
kind = "pmem"
[swap]
size = "256MiB"
[[task]]
name = "app"
cpu_node = 0
workload = [{ type = "fill", size = "112MiB", offset = "48MiB" },
            { type = "zipf", footprint = "48MiB", accesses = 300000, alpha = 0.9 }]
""")
    return str(p)


def test_a_sweep_over_traces_sends_absolute_paths(tmp_path, monkeypatch):
    from tierlab.comparison import portable_dict
    from tierlab.workloads import convert_trace
    monkeypatch.chdir(tmp_path)
    for name, pages in (("small", 200), ("big", 3000)):
        (tmp_path / f"{name}.txt").write_text("".join(f"{hex(i * 4096)},R\n" for i in range(pages)))
        convert_trace(f"{name}.txt", f"{name}.npz")
    d = {**SMALL, "task": [{"name": "app", "cpu_node": 0,
                            "workload": [{"type": "trace", "path": "small.npz"}]}]}
    sw = sweep(d, vary=["task.app.workload.0.path=small.npz,big.npz"], jobs=1)
    assert list(sw.table["task.app.workload.0.path"]) == ["small.npz", "big.npz"]
    assert [r.metrics["accesses"] for r in sw.results.values()] == [200, 3000]
    # what a worker gets loads from any directory
    paths = [portable_dict(s)["task"][0]["workload"][0]["path"] for s in sw.scenarios.values()]
    assert paths == [str(tmp_path.resolve() / "small.npz"), str(tmp_path.resolve() / "big.npz")]
