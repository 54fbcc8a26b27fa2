"""The kernel's runs beside tierlab's result: one row per counter or residency figure, with the
kernel's min-max over runs, tierlab's value and the difference from the kernel's mean."""

from __future__ import annotations

from typing import Any

from tierlab.result import Result

# Always shown: the tiering story's counters (a 0 on both sides says "no reclaim at all").
CORE = ("pgdemote_kswapd", "pgdemote_direct", "pgdemote", "pgscan_anon", "pgsteal_anon",
        "numa_miss", "pgpromote_success", "oom_kill")
# Shown when either side moved them (/proc/vmstat names).
MORE = ("pgscan_kswapd", "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "pgscan_file",
        "pgsteal_file", "pgmigrate_success", "pgmigrate_fail", "pgpromote_candidate",
        "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated", "numa_pte_updates",
        "numa_foreign", "numa_other", "numa_hit", "numa_local", "allocstall_movable",
        "allocstall_normal", "allocstall_dma32", "pgrefill", "pswpout", "pswpin",
        "workingset_refault_anon", "kswapd_low_wmark_hit_quickly",
        "kswapd_high_wmark_hit_quickly", "pgfault")


def _kernel_counter(run: dict[str, Any], name: str) -> int:
    d = run["delta"]
    if name == "pgdemote":          # the split between kswapd and direct moves +-10% per run
        return d.get("pgdemote_kswapd", 0) + d.get("pgdemote_direct", 0)
    return d.get(name, 0)


def _sim_counter(sim: Result, name: str) -> int:
    v = sim.vmstat
    if name == "pgdemote":
        return v.get("pgdemote_kswapd", 0) + v.get("pgdemote_direct", 0)
    return v.get(name, 0)


def _row(name: str, kernel: list[int | None], tierlab: int | None, unit: str = "pages") -> dict[str, Any]:
    vals = [v for v in kernel if v is not None]
    row: dict[str, Any] = {"row": name, "unit": unit, "kernel": kernel,
                           "kernel_min": min(vals) if vals else None,
                           "kernel_max": max(vals) if vals else None,
                           "tierlab": tierlab, "diff": None, "diff_pct": None, "in_range": None}
    if vals and tierlab is not None:
        mean = sum(vals) / len(vals)
        row["kernel_mean"] = mean
        row["diff"] = tierlab - mean
        row["diff_pct"] = (tierlab - mean) / mean if mean else None
        row["in_range"] = min(vals) <= tierlab <= max(vals)
    return row


def compare_rows(runs: list[dict[str, Any]], sim: Result) -> list[dict[str, Any]]:
    rows = []
    for name in CORE + MORE:
        k = [_kernel_counter(r, name) for r in runs]
        t = _sim_counter(sim, name)
        if name in CORE or t or any(k):
            rows.append(_row(name if name != "pgdemote" else "pgdemote (kswapd + direct)", k, t,
                             "count"))
    tasks = list(sim.residency["final"])
    for task in tasks:
        res = [r["residency"].get(task, {}) for r in runs]
        killed_k = [int(bool(x.get("killed"))) for x in res]
        killed_t = int(bool(sim.metrics["tasks"][task]["oom_killed"]))
        if any(killed_k) or killed_t:
            rows.append(_row(f"{task} OOM-killed", killed_k, killed_t, "yes/no"))
        nodes = sorted({n for x in res for n in (x.get("final") or {})} | set(sim.residency["final"][task]),
                       key=int)
        dec = sim.residency["by_decile"].get(task, {})
        for n in nodes:           # a task the kernel killed printed no final residency
            k = [(x.get("final") or {}).get(n, 0) if x.get("final") is not None else None for x in res]
            if any(v is not None for v in k):
                rows.append(_row(f"{task} on node {n}", k, sim.residency["final"][task].get(n, 0)))
        for d, label in ((0, "first 10%"), (9, "last 10%")):
            for n in nodes:
                k = [x["by_decile"].get(n, [0] * 10)[d] if x.get("by_decile") else None for x in res]
                t = dec.get(n, [0] * 10)[d]
                if t or any(k):
                    rows.append(_row(f"{task} {label} on node {n}", k, t))
    return rows


def _fmt(v) -> str:
    return "-" if v is None else f"{v:,.0f}"


def diff_text(row: dict[str, Any]) -> str:
    if row["diff"] is None:
        return "-"
    diff, mean = row["diff"], row["kernel_mean"]
    if diff == 0:
        return "0"
    text = f"{diff:+,.0f}" if abs(diff) >= 1 else f"{diff:+.1f}"
    if mean >= 10:                   # a share of a few stray events says nothing
        text += f" ({row['diff_pct']:+.1%})"
    return f"in range, {text}" if row["in_range"] and len(row["kernel"]) > 1 else text


def kernel_text(row: dict[str, Any]) -> str:
    lo, hi = row["kernel_min"], row["kernel_max"]
    if row["unit"] == "yes/no":
        return "-" if lo is None else ("yes" if lo else "no") if lo == hi else "yes/no"
    return _fmt(lo) if lo == hi else f"{_fmt(lo)}-{_fmt(hi)}"


def rich_table(report: dict[str, Any]):
    from rich.table import Table
    n = len(report["runs"])
    t = Table(title=f"{report['scenario']}: Linux {report['kernel']} in QEMU ({n} run{'s' * (n > 1)}) "
                    "vs tierlab")
    t.add_column("counter / residency (pages)")
    t.add_column(f"kernel ({'min-max' if n > 1 else '1 run'})", justify="right")
    t.add_column("tierlab", justify="right")
    t.add_column("tierlab - kernel", justify="right")
    for row in report["rows"]:
        tl = row["tierlab"]
        tl_text = ("yes" if tl else "no") if row["unit"] == "yes/no" else _fmt(tl)
        t.add_row(row["row"], kernel_text(row), tl_text, diff_text(row))
    return t


def markdown_table(report: dict[str, Any]) -> str:
    """The same table as Markdown (docs/kernelref.md)."""
    n = len(report["runs"])
    lines = [f"| counter / residency (pages) | kernel ({'min-max, ' if n > 1 else ''}{n} run{'s' * (n > 1)}) "
             "| tierlab | tierlab - kernel |", "|---|---:|---:|---:|"]
    for row in report["rows"]:
        tl = row["tierlab"]
        tl_text = ("yes" if tl else "no") if row["unit"] == "yes/no" else _fmt(tl)
        lines.append(f"| {row['row']} | {kernel_text(row)} | {tl_text} | {diff_text(row)} |")
    return "\n".join(lines)
