"""tierlab.report: the HTML report, its PNGs and CSV tables, written atomically."""

import os

import matplotlib.image as mpimg
import pandas as pd
import pytest

from tierlab.comparison import compare
from tierlab.report import html as report_html
from tierlab.report import plots
from tierlab.report.html import write_report
from tierlab.scenario import load_scenario
from tierlab.simulate import run

SMALL = {
    "name": "small", "kernel": {"profile": "v6.12"},
    "node": [{"id": 0, "cpus": 2, "memory": "64MiB", "kind": "dram"},
             {"id": 1, "cpus": 0, "memory": "64MiB", "kind": "pmem"}],
    "swap": {"size": "256MiB"},
    "run": {"sample_interval_ms": 10},
    "task": [{"name": "app", "cpu_node": 0, "mempolicy": "default", "workload": [
        {"type": "fill", "size": "112MiB", "offset": "48MiB"},
        {"type": "zipf", "footprint": "48MiB", "accesses": 300_000, "alpha": 0.9}]}],
}
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def comparison():
    return compare(load_scenario(SMALL))


@pytest.fixture(scope="module")
def report(comparison, tmp_path_factory):
    out = tmp_path_factory.mktemp("r") / "report"
    return out, write_report(comparison, out)


def _check_png(path, min_bytes=8000):
    with open(path, "rb") as f:
        assert f.read(8) == PNG_MAGIC
    assert os.path.getsize(path) > min_bytes
    img = mpimg.imread(path)
    h, w = img.shape[:2]
    assert w >= 500 and h >= 300
    # not a blank canvas: many distinct pixel values
    assert len({tuple(p) for p in img[::7, ::7].reshape(-1, img.shape[2])}) > 20


def test_index_and_pngs(report, comparison):
    out, index = report
    assert index == str(out / "index.html")
    text = open(index, encoding="utf-8").read()
    pngs = sorted(p for p in os.listdir(out) if p.endswith(".png"))
    assert pngs == ["counters.png", "hit_ratio.png", "residency-0-no-demotion.png",
                    "residency-1-demotion.png", "residency-2-demotion-promotion.png",
                    "residency-3-all-fast.png", "slowdown.png"]
    for p in pngs:
        _check_png(out / p)
        assert f'src="{p}"' in text           # embedded by relative path
    for variant in comparison.table.index:
        assert f"<td>{variant}</td>" in text
    assert "pgdemote_kswapd" in text and "comparison.csv" in text
    # no temporary directories left next to the report
    assert [p for p in os.listdir(out.parent) if p.startswith(".")] == []


def test_csv_tables(report, comparison):
    out, _ = report
    t = pd.read_csv(out / "comparison.csv", index_col="variant")
    assert list(t.index) == ["no-demotion", "demotion", "demotion+promotion", "all-fast"]
    for v in t.index:
        r = comparison.results[v]
        assert t.loc[v, "pswpout"] == r.vmstat["pswpout"]
        assert t.loc[v, "fast_tier_hit_ratio"] == pytest.approx(r.metrics["fast_tier_hit_ratio"])
    c = pd.read_csv(out / "counters.csv", index_col="counter")
    assert list(c.columns) == list(t.index)
    assert c.loc["pgdemote_kswapd", "no-demotion"] == 0
    assert c.loc["pswpout", "demotion"] == comparison.results["demotion"].vmstat["pswpout"]
    res = pd.read_csv(out / "residency.csv")
    assert len(res) == 3 * 2 + 1              # three two-node variants, all-fast has one node
    fast = res[res.variant == "all-fast"]
    assert fast.pages.item() == comparison.results["all-fast"].residency["final"]["app"]["0"]


def test_report_of_one_result(tmp_path):
    r = run(load_scenario({**SMALL, "kernel": {"demotion_enabled": True}}))
    index = write_report(r, tmp_path / "one")
    files = sorted(os.listdir(tmp_path / "one"))
    assert "residency-0-small.png" in files and "counters.png" in files
    assert "slowdown.png" not in files         # bars need more than one run
    _check_png(tmp_path / "one" / "residency-0-small.png")
    t = pd.read_csv(tmp_path / "one" / "comparison.csv", index_col="variant")
    assert list(t.index) == ["small"] and t.loc["small", "pgdemote"] > 0
    assert os.path.exists(index)


def test_rewrite_replaces_and_error_leaves_nothing(comparison, tmp_path, monkeypatch):
    out = tmp_path / "rep"
    write_report(comparison, out)
    (out / "stale.txt").write_text("old")
    write_report(comparison, out)
    assert not (out / "stale.txt").exists() and (out / "index.html").exists()

    def boom(*a, **k):
        raise RuntimeError("plot failed")
    monkeypatch.setattr(plots, "plot_counters", boom)
    with pytest.raises(RuntimeError, match="plot failed"):
        write_report(comparison, tmp_path / "new")
    assert not (tmp_path / "new").exists()
    with pytest.raises(RuntimeError):
        write_report(comparison, out)          # the old report stays whole
    assert (out / "index.html").exists() and (out / "counters.png").exists()
    assert sorted(os.listdir(tmp_path)) == ["rep"]


def test_write_report_rejects_other_objects(tmp_path):
    with pytest.raises(TypeError, match="Comparison or a Result"):
        report_html.write_report({"not": "a result"}, tmp_path / "x")
