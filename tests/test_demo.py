"""tierlab demo: the embedded scenario, scaled down so the test stays fast."""

import io
import os

import pytest
from rich.console import Console

from tierlab.demo import demo_scenario, demo_toml, run_demo

SCALE = 0.25


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    buf = io.StringIO()
    c = run_demo(outdir=str(out), scale=SCALE, console=Console(file=buf, width=100))
    return c, out, buf.getvalue()


def test_embedded_scenario_is_the_designed_box():
    s = demo_scenario()
    assert [(n.id, n.kind, n.cpus, n.memory) for n in s.nodes] == [
        (0, "dram", 2, 2**29), (1, "pmem", 0, 2**29)]
    assert s.swap.size == 2 * 2**30
    (task,) = s.tasks
    assert str(task.mempolicy) == "bind:0+balancing"
    touched = task.workload[0]["size"], task.workload[1]["footprint"]
    assert touched == ("768MiB", "768MiB")           # DRAM < 768 MiB < DRAM + PMEM
    assert "[[task]]" in demo_toml()


def test_scale_keeps_proportions():
    s = demo_scenario(SCALE)
    assert s.nodes[0].memory == s.nodes[1].memory == int(2**29 * SCALE) // 4096 * 4096
    assert s.swap.size == int(2 * 2**30 * SCALE) // 4096 * 4096
    assert s.tasks[0].workload[1]["accesses"] == int(demo_scenario().tasks[0].workload[1]["accesses"] * SCALE)
    with pytest.raises(ValueError):
        demo_scenario(0)


def test_the_story_holds(demo):
    """DESIGN.md's story: demotion beats no demotion, promotion beats demotion alone, all-fast
    is the floor -- on time and on fast-tier hits."""
    c, _, _ = demo
    t = c.table
    assert list(t.index) == ["no-demotion", "demotion", "demotion+promotion", "all-fast"]
    time = t.time_vs_all_fast
    assert time["no-demotion"] > time["demotion"] > time["demotion+promotion"] > time["all-fast"] == 0
    assert t.slowdown.idxmin() == "all-fast"
    assert t.slowdown["no-demotion"] > t.slowdown["demotion"] > t.slowdown["demotion+promotion"]
    hits = t.fast_tier_hit_ratio
    assert hits["all-fast"] == 1.0 and hits["demotion+promotion"] > hits["demotion"]
    # bound to DRAM without demotion: reclaim can only swap; with demotion nothing is swapped
    assert t.loc["no-demotion", "pswpout"] > 0 and t.loc["no-demotion", "pswpin"] > 0
    assert t.loc["no-demotion", "pgdemote"] == 0
    assert t.loc["demotion", "pswpout"] == t.loc["demotion+promotion", "pswpout"] == 0
    assert t.loc["demotion", "pgdemote"] > 0 and t.loc["demotion+promotion", "pgpromote_success"] > 0
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
