"""tierlab demo: the embedded acts, scaled down so the test stays fast."""

import io
import os

import pytest
from rich.console import Console

from tierlab.demo import ACTS, demo_scenario, demo_toml, run_demo

SCALE = 0.25
VARIANTS = ["no-demotion", "demotion", "demotion+promotion", "all-fast"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "report"
    buf = io.StringIO()
    acts = run_demo(outdir=str(out), scale=SCALE, console=Console(file=buf, width=100))
    return acts, out, buf.getvalue()


@pytest.mark.parametrize("act", list(ACTS))
def test_embedded_scenarios_are_the_designed_box(act):
    s = demo_scenario(act)
    assert [(n.id, n.kind, n.cpus, n.memory) for n in s.nodes] == [
        (0, "dram", 2, 2**29), (1, "pmem", 0, 2**29)]
    assert s.swap.size == 2 * 2**30
    (task,) = s.tasks
    assert str(task.mempolicy) == "bind:0+balancing"
    load, work = task.workload
    assert load["type"] == "fill" and load["size"] == "768MiB"   # DRAM < 768 MiB < DRAM + PMEM
    assert (work["type"], work.get("size", work.get("footprint"))) == {
        "batch": ("scan", "768MiB"), "service": ("zipf", "768MiB")}[act]
    assert "[[task]]" in demo_toml(act)


def test_scale_keeps_proportions():
    s = demo_scenario("service", SCALE)
    assert s.nodes[0].memory == s.nodes[1].memory == int(2**29 * SCALE) // 4096 * 4096
    assert s.swap.size == int(2 * 2**30 * SCALE) // 4096 * 4096
    full = demo_scenario("service").tasks[0].workload[1]["accesses"]
    assert s.tasks[0].workload[1]["accesses"] == int(full * SCALE)
    with pytest.raises(ValueError, match="scale must be > 0"):
        demo_scenario("service", 0)
    with pytest.raises(ValueError, match="unknown demo act 'x'; valid: batch, service"):
        demo_scenario("x")


def test_act_1_demotion_beats_no_demotion(demo):
    """A sweep over data bigger than DRAM, bound to DRAM: without demotion every sweep waits on
    swap-ins (misses, wherever the page then lands); with demotion the overflow is read from
    PMEM and nothing is swapped. All-fast is the floor."""
    t = demo[0]["batch"].table
    assert list(t.index) == VARIANTS
    time = t.time_vs_all_fast
    assert time["no-demotion"] > time["demotion"] > time["all-fast"] == 0
    assert t.slowdown["no-demotion"] > t.slowdown["demotion"] > t.slowdown["all-fast"]
    hits = t.fast_tier_hit_ratio
    assert hits["all-fast"] == 1.0 > hits["demotion"] > hits["no-demotion"]
    assert t.loc["no-demotion", "pswpin"] > 0 and t.loc["no-demotion", "pgdemote"] == 0
    assert t.loc["demotion", "pswpin"] == t.loc["demotion", "pswpout"] == 0
    assert t.loc["demotion", "pgdemote"] > 0
    assert not t.oom.any()


def test_act_2_promotion_beats_demotion_alone(demo):
    """Zipf-hot requests: promotion brings the hot pages back to DRAM; demotion still beats
    swapping on time; all-fast is the floor."""
    t = demo[0]["service"].table
    assert list(t.index) == VARIANTS
    time = t.time_vs_all_fast
    assert time["no-demotion"] > time["demotion"] > time["demotion+promotion"] > time["all-fast"] == 0
    assert t.slowdown.idxmin() == "all-fast"
    hits = t.fast_tier_hit_ratio
    assert hits["all-fast"] == 1.0 > hits["demotion+promotion"] > hits["demotion"]
    assert t.loc["no-demotion", "pswpout"] > 0 and t.loc["no-demotion", "pswpin"] > 0
    assert t.loc["demotion", "pswpout"] == t.loc["demotion+promotion", "pswpout"] == 0
    assert t.loc["demotion+promotion", "pgpromote_success"] > 0
    assert not t.oom.any()


def test_no_demotion_misses_are_the_swap_ins(demo):
    """A swapped-in access is a fast-tier miss: with nothing on PMEM, no-demotion's hit ratio is
    1 - (accesses that waited for storage) / accesses."""
    for act, c in demo[0].items():
        m = c.results["no-demotion"].metrics
        (task,) = m["tasks"].values()
        assert task["from_storage"] == c.results["no-demotion"].vmstat["pgmajfault"] > 0
        assert task["accesses_by_node"]["1"] == 0
        assert m["fast_tier_hit_ratio"] == pytest.approx(1 - task["from_storage"] / task["accesses"])


def test_prints_tables_findings_and_report(demo):
    acts, out, text = demo
    flat = text.replace("\n", " ")
    for act, c in acts.items():
        assert f"tierlab demo: {act}" in text
        assert f"{int(c.table.loc['demotion', 'pgdemote']):,} pages to PMEM" in flat
        assert os.path.exists(out / act / "index.html") and os.path.exists(out / act / "slowdown.png")
    assert "demotion in lieu of discard" in text and "Fastest to slowest: all-fast" in text
    assert "(slower than demotion alone)" in flat or "(faster than demotion alone)" in flat
    assert str(out / "index.html") in text.replace("\n", "")
    index = (out / "index.html").read_text()
    assert 'href="batch/index.html"' in index and 'src="service/hit_ratio.png"' in index
    assert index.index("act 1: batch job") < index.index("act 2: service")


def test_quiet_without_report(capsys):
    acts = run_demo(outdir=None, quiet=True, scenario=demo_scenario("service", 0.02))
    assert capsys.readouterr().out == ""
    assert list(acts) == ["demo act 2: service (scale 0.02)"]
    assert len(acts["demo act 2: service (scale 0.02)"].results) == 4
