"""`tierlab demo`: the embedded default (DESIGN.md) -- a DRAM + PMEM box and two programs whose
data outgrow DRAM, each run four ways: no demotion, demotion in lieu of discard, demotion plus
NUMA-balancing promotion, and the all-fast ideal. Act 1 (tierlab/scenarios/demo-batch.toml) is
a batch job sweeping its dataset, where demotion instead of swap decides everything; act 2
(demo-service.toml) a service with Zipf-hot data, where promotion brings the hot pages back.
Each act prints a table and a reading of it; one HTML report holds both.

``run_demo(scale=0.25)`` runs the same story on machines and workloads scaled down (memory,
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

# act -> (scenario file, what it shows)
ACTS = {
    "batch": ("demo-batch.toml",
              "a sweep over data bigger than DRAM: without demotion every sweep waits on swap-ins; "
              "with it the overflow is read from PMEM"),
    "service": ("demo-service.toml",
                "Zipf-hot requests over data bigger than DRAM: demotion alone leaves hot pages on "
                "PMEM; promotion brings them back"),
}

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


def demo_toml(act: str = "service") -> str:
    """The text of an act's embedded scenario."""
    if act not in ACTS:
        raise ValueError(f"unknown demo act {act!r}; valid: {', '.join(ACTS)}")
    return resources.files("tierlab").joinpath("scenarios", ACTS[act][0]).read_text(encoding="utf-8")


def _scaled_bytes(v: Any, scale: float, where: str) -> int:
    b = parse_size(v, where)
    return max(PAGE_SIZE, int(b * scale) // PAGE_SIZE * PAGE_SIZE) if b else 0


def demo_scenario(act: str = "service", scale: float = 1.0) -> Scenario:
    """An act's scenario; with ``scale`` != 1 node memory, swap, every workload size and access
    count are multiplied by ``scale`` (sizes page aligned), so the story keeps its proportions."""
    if not scale > 0:
        raise ValueError(f"scale must be > 0, got {scale!r}")
    d = tomllib.loads(demo_toml(act))
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
        d["name"] = f"{d['name']} (scale {scale:g})"
    return load_scenario(d)


def run_demo(outdir: str | None = "tierlab-report", quiet: bool = False, scale: float = 1.0,
             scenario: Scenario | Any | None = None, console=None) -> dict[str, Comparison]:
    """Run each act's four variants, print its table and what it means, write one report with
    every act to ``outdir`` (None: no report) and print its path. ``scenario`` (a Scenario,
    dict, TOML string or path) replaces the embedded acts by one; ``scale`` shrinks them.
    Returns the comparisons by act."""
    from rich.console import Console
    console = console or Console(quiet=quiet, highlight=False)
    if scenario is None:
        scenarios = {act: demo_scenario(act, scale) for act in ACTS}
    else:
        s = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
        scenarios = {s.name: s}
    acts: dict[str, Comparison] = {}
    for act, s in scenarios.items():
        console.rule(s.name)
        _intro(s, ACTS[act][1] if act in ACTS else "", console)

        def progress(name: str, j: int, n: int) -> None:
            console.print(f"[dim]running {j + 1}/{n}: {name} ...[/dim]")

        acts[act] = compare(s, preset_variants(*DEMO_PRESETS), progress=progress)
        console.print(comparison_rich_table(acts[act].table, title=f"tierlab demo: {act}"))
        _findings(acts[act], console)
    _legend(console)
    if outdir is not None:
        from .report.html import write_reports
        notes = {act: ACTS[act][1] for act in acts if act in ACTS}
        path = write_reports(acts, outdir, notes)
        console.print(f"report written to [bold]{path}[/bold]")
    return acts


def _gib(b: float) -> str:
    return f"{b / 2**30:.2f} GiB" if b >= 2**30 else f"{b / 2**20:.0f} MiB"


def _intro(s: Scenario, what: str, console) -> None:
    nodes = "; ".join(f"node {n.id}: {_gib(n.memory)} {n.kind.upper()}, {n.read_latency_ns:g} ns, "
                      f"{n.cpus} CPUs" for n in s.nodes)
    if what:
        console.print(f"[bold]{what[0].upper() + what[1:]}.[/bold]")
    console.print(f"{nodes}; swap {_gib(s.swap.size)}.")
    for t in s.tasks:
        steps = ", then ".join(_step_text(w) for w in t.workload)
        console.print(f"task {t.name!r} (mempolicy {t.mempolicy}): {steps}.")


def _step_text(w: dict) -> str:
    kind, name = w.get("type"), w.get("name", w.get("type"))
    if kind == "fill":
        return f"writes {_gib(parse_size(w['size']))} once ({name})"
    if kind == "zipf":
        return (f"{w.get('accesses', 0):,} Zipf(alpha={w.get('alpha', 0.99)}) accesses over "
                f"{_gib(parse_size(w['footprint']))} ({name})")
    if kind == "scan":
        return f"sweeps {_gib(parse_size(w['size']))} {w.get('passes', 1)} times ({name})"
    return str(kind)


def _times(a: float, b: float) -> str:
    return f"{a / b:.1f}x" if b > 0 else "-"


def _findings(c: Comparison, console) -> None:
    """What the table says, read from its numbers (not from what the act was meant to show)."""
    t = c.table
    col = "time_vs_all_fast" if "time_vs_all_fast" in t else "slowdown"
    console.print(f"  Fastest to slowest: {' < '.join(t[col].sort_values().index)}.")
    if {"no-demotion", "demotion"} <= set(t.index):
        a, b = t.loc["no-demotion"], t.loc["demotion"]
        console.print(f"  Demotion moved {int(b.pgdemote):,} pages to PMEM: swap-ins "
                      f"{int(a.pswpin):,} -> {int(b.pswpin):,}, run time {a.sim_time_s:.2f} -> "
                      f"{b.sim_time_s:.2f} s ({_times(a.sim_time_s, b.sim_time_s)} faster), "
                      f"fast-tier hits {a.fast_tier_hit_ratio:.1%} -> {b.fast_tier_hit_ratio:.1%}.")
    if {"demotion", "demotion+promotion"} <= set(t.index):
        b, p = t.loc["demotion"], t.loc["demotion+promotion"]
        verdict = "faster" if p.sim_time_s < b.sim_time_s else "slower"
        console.print(f"  Promotion moved {int(p.pgpromote_success):,} pages to DRAM: fast-tier "
                      f"hits {b.fast_tier_hit_ratio:.1%} -> {p.fast_tier_hit_ratio:.1%}, run time "
                      f"{b.sim_time_s:.2f} -> {p.sim_time_s:.2f} s ({verdict} than demotion alone).")


def _legend(console) -> None:
    console.print()
    for name, text in EXPLANATIONS.items():
        console.print(f"  [bold]{name}[/bold]: {text}")
    console.print()
    console.print("  slowdown: run time over the same accesses all served by DRAM (an estimate "
                  "made inside each run); time vs all-fast: run time against the real all-fast "
                  "run; fast-tier hits: share of accesses that found their page in DRAM (one that "
                  "waited for a swap-in is a miss); AMAT: average memory access time; pgdemote / "
                  "pgpromote_success / pswpout / pswpin: pages demoted to PMEM, promoted to DRAM, "
                  "written to and read back from swap.")
