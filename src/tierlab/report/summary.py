"""The summary `tierlab run` prints: per-node residency, the counters that moved, OOM."""

from __future__ import annotations

from rich.table import Table

from ..result import Result


def print_run_summary(result: Result, console) -> None:
    m = result.metrics
    console.print(f"[bold]{result.scenario.get('name', 'scenario')}[/bold]  "
                  f"simulated {m['sim_time_s']:.3f} s, {m['accesses']:,} accesses, "
                  f"fast-tier hit ratio {m['fast_tier_hit_ratio']:.3f}, AMAT {m['amat_ns']:.1f} ns")
    res = Table(title="resident pages (final)")
    res.add_column("task")
    nodes = sorted({n for per in result.residency["final"].values() for n in per}, key=int)
    for n in nodes:
        res.add_column(f"node {n}", justify="right")
    res.add_column("time s", justify="right")
    res.add_column("slowdown", justify="right")
    for task, per in result.residency["final"].items():
        tm = m["tasks"][task]
        res.add_row(task + (" (OOM-killed)" if tm["oom_killed"] else ""),
                    *[f"{per[n]:,}" for n in nodes], f"{tm['time_s']:.3f}", f"{tm['slowdown']:.1%}")
    console.print(res)
    if result.residency.get("page_cache"):
        pc = Table(title="page cache (final)")
        pc.add_column("file")
        for n in nodes:
            pc.add_column(f"node {n}", justify="right")
        for f, per in result.residency["page_cache"].items():
            pc.add_row(f, *[f"{per[n]:,}" for n in nodes])
        console.print(pc)
    moved = result.moved()
    ctab = Table(title="vmstat counters that moved")
    ctab.add_column("counter")
    ctab.add_column("total", justify="right")
    for n in sorted(result.node_vmstat, key=int):
        ctab.add_column(f"node {n}", justify="right")
    for name, v in moved.items():
        per = [f"{result.node_vmstat[n][name]:,}" if name in result.node_vmstat[n] else ""
               for n in sorted(result.node_vmstat, key=int)]
        ctab.add_row(name, f"{v:,}", *per)
    console.print(ctab)
    if result.damon:
        dt = Table(title="DAMOS schemes (schemes/<N>/stats)")
        # nr_tried, sz_tried, nr_applied, sz_applied, qt_exceeds, narrow enough for 80 columns
        for col in ("node", "action", "tried", "MiB", "applied", "MiB", "qt_exceeds"):
            dt.add_column(col, justify="left" if col in ("node", "action") else "right")
        for ctx in result.damon:
            for s in ctx["schemes"]:
                st = s["stats"]
                act = s["action"].removeprefix("migrate_") + (
                    f" > {s['target_nid']}" if s["target_nid"] is not None else "")
                dt.add_row(str(ctx["node"]), act, f"{st['nr_tried']:,}",
                           f"{st['sz_tried'] / 2**20:,.1f}", f"{st['nr_applied']:,}",
                           f"{st['sz_applied'] / 2**20:,.1f}", f"{st['qt_exceeds']:,}")
        console.print(dt)
    if result.oom["killed"]:
        for e in result.oom["events"]:
            console.print(f"[red]OOM[/red] at {e['time_s']:.3f} s: killed {e['victim']} (allocating: {e['task']})")
    else:
        console.print("no OOM kill")
