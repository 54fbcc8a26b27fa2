"""`tierlab demo`: the embedded default scenario (tierlab/scenarios/demo.toml) run four ways --
no demotion, demotion in lieu of discard, demotion plus NUMA-balancing promotion, and the
all-fast ideal -- with a table, a plain-language reading of it, and an HTML report.

``run_demo(scale=0.25)`` runs the same story on a machine and workload scaled down (memory,
swap, workload sizes and access counts all multiplied by ``scale``), for tests and quick looks.
"""

from __future__ import annotations

import copy
import tomllib
from importlib import resources
from typing import Any

from .comparison import DEMO_PRESETS, Comparison, compare, preset_variants
from .report.tables import comparison_rich_table
from .scenario import Scenario, load_scenario
from .units import PAGE_SIZE, parse_size

DEMO_SCENARIO = "demo.toml"

EXPLANATIONS = {
    "no-demotion": "demotion off: the program is bound to DRAM, so reclaim there can only "
                   "write pages to swap, and PMEM stays idle (demotion_enabled=0)",
    "demotion": "demotion in lieu of discard: reclaim on DRAM migrates its coldest pages to "
                "PMEM instead of swapping them (demotion_enabled=1)",
    "demotion+promotion": "demotion plus NUMA-balancing memory tiering: hint faults find hot "
                          "pages on PMEM and promote them back to DRAM (numa_balancing=2)",
    "all-fast": "the ideal: the same total memory, all of it DRAM (one node)",
}

_SIZE_KEYS = ("size", "footprint", "offset", "cold_size", "hot_size", "shift")


def demo_toml() -> str:
    """The text of the embedded demo scenario."""
    return resources.files("tierlab").joinpath("scenarios", DEMO_SCENARIO).read_text(encoding="utf-8")


def _scaled_bytes(v: Any, scale: float, where: str) -> int:
    b = parse_size(v, where)
    return max(PAGE_SIZE, int(b * scale) // PAGE_SIZE * PAGE_SIZE) if b else 0


def demo_scenario(scale: float = 1.0) -> Scenario:
    """The demo scenario; with ``scale`` != 1 node memory, swap, every workload size and access
    count are multiplied by ``scale`` (sizes page aligned), so the story keeps its proportions."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    d = tomllib.loads(demo_toml())
    if scale != 1.0:
        d = copy.deepcopy(d)
        for n in d["node"]:
            n["memory"] = _scaled_bytes(n["memory"], scale, "node.memory")
        d["swap"]["size"] = _scaled_bytes(d["swap"]["size"], scale, "swap.size")
        for t in d["task"]:
            for step in t["workload"]:
                for k in _SIZE_KEYS:
                    if k in step and not (k == "offset" and isinstance(step[k], int)):
                        step[k] = _scaled_bytes(step[k], scale, k)
                if "accesses" in step:
                    step["accesses"] = max(1, int(step["accesses"] * scale))
        d["name"] = f"demo (scale {scale:g})"
    return load_scenario(d)


def run_demo(outdir: str | None = "tierlab-report", quiet: bool = False, scale: float = 1.0,
             scenario: Scenario | Any | None = None, console=None) -> Comparison:
    """Run the demo's four variants, print the table and what it means, write the report to
    ``outdir`` (None: no report) and print its path. ``scenario`` replaces the embedded one
    (a Scenario, dict, TOML string or path); ``scale`` shrinks the embedded one."""
    from rich.console import Console
    console = console or Console(quiet=quiet, highlight=False)
    if scenario is None:
        scenario = demo_scenario(scale)
    elif not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    _intro(scenario, console)

    def progress(name: str, i: int, n: int) -> None:
        console.print(f"[dim]running {i + 1}/{n}: {name} ...[/dim]")

    comparison = compare(scenario, preset_variants(*DEMO_PRESETS), progress=progress)
    console.print(comparison_rich_table(comparison.table, title="tierlab demo"))
    _explain(comparison, console)
    if outdir is not None:
        path = comparison.write_report(outdir)
        console.print(f"report written to [bold]{path}[/bold]")
    return comparison


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def _intro(s: Scenario, console) -> None:
    nodes = "; ".join(f"node {n.id}: {_gib(n.memory)} {n.kind.upper()}, {n.read_latency_ns:g} ns, "
                      f"{n.cpus} CPUs" for n in s.nodes)
    console.print(f"[bold]tierlab demo[/bold] -- {s.name}: {nodes}; swap {_gib(s.swap.size)}.")
    for t in s.tasks:
        steps = ", then ".join(_step_text(w) for w in t.workload)
        console.print(f"task {t.name!r} (mempolicy {t.mempolicy}): {steps}.")


def _step_text(w: dict) -> str:
    kind = w.get("type")
    if kind == "fill":
        return f"writes {_gib(parse_size(w['size']))} once ({w.get('name', 'fill')})"
    if kind == "zipf":
        return (f"{w.get('accesses', 0):,} Zipf(alpha={w.get('alpha', 0.99)}) accesses over "
                f"{_gib(parse_size(w['footprint']))} ({w.get('name', 'zipf')})")
    return str(kind)


def _explain(c: Comparison, console) -> None:
    t = c.table
    console.print()
    for name in t.index:
        console.print(f"  [bold]{name}[/bold]: {EXPLANATIONS.get(name, name)}")
    console.print()
    console.print("  slowdown: run time over the same accesses all served by DRAM (an estimate "
                  "made inside each run); time vs all-fast: run time against the real all-fast "
                  "run; fast-tier hits: share of accesses served by DRAM; AMAT: average memory "
                  "access time; pgdemote / pgpromote_success / pswpout / pswpin: pages demoted "
                  "to PMEM, promoted to DRAM, written to and read back from swap.")
    col = "time_vs_all_fast" if "time_vs_all_fast" in t else "slowdown"
    order = list(t[col].sort_values().index)
    console.print(f"  Fastest to slowest in this run: {' < '.join(order)}.")
    if {"no-demotion", "demotion"} <= set(t.index):
        a, b = t.loc["no-demotion"], t.loc["demotion"]
        console.print(f"  Demotion moved {int(b.pgdemote):,} pages to PMEM; swap-outs "
                      f"{int(a.pswpout):,} -> {int(b.pswpout):,}, swap-ins {int(a.pswpin):,} -> "
                      f"{int(b.pswpin):,}.")
    if "demotion+promotion" in t.index:
        p = t.loc["demotion+promotion"]
        if p.pgpromote_success:
            console.print(f"  NUMA balancing promoted {int(p.pgpromote_success):,} hot pages to "
                          f"DRAM: fast-tier hits {p.fast_tier_hit_ratio:.1%}.")
        else:
            console.print("  NUMA balancing promoted no pages in this run.")
