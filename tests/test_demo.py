"""tierlab demo: the embedded scenario, scaled down so the test stays fast."""

import io
import os

import pytest
from rich.console import Console

from tierlab.demo import demo_scenario, demo_toml, run_demo

SCALE = 0.05


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    buf = io.StringIO()
    c = run_demo(outdir=str(out), scale=SCALE, console=Console(file=buf, width=100))
    return c, out, buf.getvalue()


def test_embedded_scenario_is_the_designed_box():
    s = demo_scenario()
    assert [(n.id, n.kind, n.cpus, n.memory) for n in s.nodes] == [
        (0, "dram", 2, 2**30), (1, "pmem", 0, 2**30)]
    assert s.swap.size == 4 * 2**30
    (task,) = s.tasks
    assert str(task.mempolicy) == "default"
    touched = task.workload[0]["size"], task.workload[1]["footprint"]
    assert touched == ("1792MiB", "768MiB")          # 2.5 GiB > DRAM + PMEM
    assert "[[task]]" in demo_toml()


def test_scale_keeps_proportions():
    s = demo_scenario(SCALE)
    assert s.nodes[0].memory == s.nodes[1].memory == int(2**30 * SCALE) // 4096 * 4096
    assert s.swap.size == int(4 * 2**30 * SCALE) // 4096 * 4096
    assert s.tasks[0].workload[1]["accesses"] == int(demo_scenario().tasks[0].workload[1]["accesses"] * SCALE)
    with pytest.raises(ValueError):
        demo_scenario(0)


def test_all_fast_is_best(demo):
    c, _, _ = demo
    t = c.table
    assert list(t.index) == ["no-demotion", "demotion", "demotion+promotion", "all-fast"]
    assert t.slowdown.idxmin() == "all-fast"
    assert t.fast_tier_hit_ratio.idxmax() == "all-fast"
    assert t.loc["all-fast", "fast_tier_hit_ratio"] == 1.0
    assert (t.drop("all-fast").fast_tier_hit_ratio < 0.9).all()
    assert t.time_vs_all_fast.idxmin() == "all-fast"
    assert (t.drop("all-fast").time_vs_all_fast > 0).all()
    # reclaim acts on both nodes: every variant swaps; demotion happens only when enabled
    assert (t.pswpout > 0).all()
    assert t.loc["no-demotion", "pgdemote"] == 0
    assert t.loc["demotion", "pgdemote"] > 0 and t.loc["demotion+promotion", "pgdemote"] > 0
    assert not t.oom.any()


def test_prints_table_explanation_and_report_path(demo):
    c, out, text = demo
    for name in c.table.index:
        assert name in text
    assert "demotion in lieu of discard" in text
    assert "fast-tier hits" in text and "Fastest to slowest in this run: all-fast" in text
    assert f"{int(c.table.loc['demotion', 'pgdemote']):,}" in text
    assert str(out / "index.html") in text.replace("\n", "")
    assert os.path.exists(out / "index.html") and os.path.exists(out / "slowdown.png")


def test_quiet_without_report(tmp_path, capsys):
    c = run_demo(outdir=None, quiet=True, scenario=demo_scenario(0.02))
    assert capsys.readouterr().out == ""
    assert len(c.results) == 4
