"""Tables drawn from results: the comparison table (rich and CSV) and the vmstat counters of
several runs side by side. Nothing here recomputes a number the Result already has."""

from __future__ import annotations

from typing import Any, Mapping

import pandas as pd
from rich.table import Table

from ..result import Result

# The comparison table's columns, in order, and what each means (for --help and the report).
COLUMNS: dict[str, str] = {
    "slowdown": "run time over the same accesses served by the fastest node, minus 1 (max over tasks)",
    "fast_tier_hit_ratio": "share of accesses that found their page on a top-tier node "
                           "(one that waited for a swap-in or a file read is a miss)",
    "amat_ns": "average memory access time, ns",
    "sim_time_s": "simulated run time, s",
    "pgdemote": "pages demoted (pgdemote_kswapd + pgdemote_direct)",
    "pgpromote_success": "pages promoted by NUMA balancing",
    "damos_migrated": "pages DAMOS migrate_hot/migrate_cold moved (schemes' sz_applied / 4 KiB)",
    "pswpout": "pages swapped out",
    "pswpin": "pages swapped in",
    "oom": "an OOM kill happened",
}
# Added when an all-fast variant ran: the measured slowdown against that real run.
VS_ALL_FAST = "time_vs_all_fast"
COLUMN_VS_ALL_FAST = "simulated run time over the all-fast variant's, minus 1"



# How each comparison column is shown: (header, format)
_FORMATS: dict[str, tuple[str, str]] = {
    "slowdown": ("slowdown", "{:.1%}"),
    "time_vs_all_fast": ("time vs all-fast", "{:+.1%}"),
    "fast_tier_hit_ratio": ("fast-tier hits", "{:.1%}"),
    "amat_ns": ("AMAT ns", "{:.1f}"),
    "sim_time_s": ("sim time s", "{:.3f}"),
    "pgdemote": ("pgdemote", "{:,}"),
    "pgpromote_success": ("pgpromote_success", "{:,}"),
    "damos_migrated": ("DAMOS migrated", "{:,}"),
    "pswpout": ("pswpout", "{:,}"),
    "pswpin": ("pswpin", "{:,}"),
    "oom": ("OOM", "{}"),
}
_ORDER = ("slowdown", "time_vs_all_fast", "fast_tier_hit_ratio", "amat_ns", "sim_time_s",
          "pgdemote", "pgpromote_success", "damos_migrated", "pswpout", "pswpin", "oom")


def columns(table: pd.DataFrame) -> list[str]:
    """The table's columns in display order (known ones first, then any others)."""
    known = [c for c in _ORDER if c in table.columns]
    return known + [c for c in table.columns if c not in known]


def fmt(col: str, value: Any) -> str:
    if isinstance(value, float) and value != value:
        return "-"
    f = _FORMATS.get(col, (col, "{}"))[1]
    if col == "oom":
        return "yes" if value else "no"
    try:
        return f.format(value)
    except (ValueError, TypeError):
        return str(value)


def header(col: str) -> str:
    return _FORMATS.get(col, (col, ""))[0]


def comparison_rich_table(table: pd.DataFrame, title: str | None = None,
                          transpose: bool | None = None) -> Table:
    """The comparison as a rich Table: one row per variant, or (``transpose``, the default for
    up to 6 variants, so it fits an 80-column terminal) one column per variant."""
    cols = columns(table)
    if transpose is None:
        transpose = len(table) <= 6
    t = Table(title=title)
    if transpose:
        t.add_column("")
        for name in table.index:
            t.add_column(str(name), justify="right")
        for c in cols:
            t.add_row(header(c), *[fmt(c, table.loc[name, c]) for name in table.index])
        return t
    t.add_column("variant")
    for c in cols:
        t.add_column(header(c), justify="right")
    for name, row in table.iterrows():
        t.add_row(str(name), *[fmt(c, row[c]) for c in cols])
    return t


def print_comparison(comparison, console) -> None:
    """Print a Comparison's table (one row per variant) with rich."""
    console.print(comparison_rich_table(comparison.table,
                                        title=f"{comparison.scenario.name}: variants compared"))


def counters_table(results: Mapping[str, Result]) -> pd.DataFrame:
    """The vmstat counters that moved in any run, one column per run (index "counter")."""
    names: list[str] = []
    for r in results.values():
        for k, v in r.vmstat.items():
            if v and k not in names:
                names.append(k)
    data = {variant: [int(r.vmstat.get(k, 0)) for k in names] for variant, r in results.items()}
    df = pd.DataFrame(data, index=pd.Index(names, name="counter"))
    return df


def residency_table(results: Mapping[str, Result]) -> pd.DataFrame:
    """Final resident pages per variant, task and node (long format)."""
    rows = []
    for variant, r in results.items():
        for task, per in r.residency["final"].items():
            for node, pages in per.items():
                rows.append({"variant": variant, "task": task, "node": int(node), "pages": int(pages)})
    return pd.DataFrame(rows, columns=["variant", "task", "node", "pages"])


def result_row(result: Result) -> dict[str, Any]:
    """One table row, drawn from a Result."""
    m, v = result.metrics, result.vmstat
    return {
        "slowdown": float(m["slowdown"]),
        "fast_tier_hit_ratio": float(m["fast_tier_hit_ratio"]),
        "amat_ns": float(m["amat_ns"]),
        "sim_time_s": float(m["sim_time_s"]),
        "pgdemote": int(v.get("pgdemote_kswapd", 0) + v.get("pgdemote_direct", 0)),
        "pgpromote_success": int(v.get("pgpromote_success", 0)),
        "damos_migrated": sum(s["stats"]["sz_applied"] for c in result.damon
                              for s in c["schemes"] if s["action"] != "stat") // 4096,
        "pswpout": int(v.get("pswpout", 0)),
        "pswpin": int(v.get("pswpin", 0)),
        "oom": bool(result.oom["killed"]),
    }


def comparison_table(results: Mapping[str, Result], all_fast_name: str | None = None) -> pd.DataFrame:
    """One row per variant (index "variant"), the COLUMNS of each Result; with
    ``all_fast_name`` (a variant in ``results``) also ``time_vs_all_fast``: each variant's
    simulated time over that run's, minus 1 -- the slowdown measured against the real
    all-fast run rather than the per-run estimate in ``slowdown``."""
    rows = [{"variant": name, **result_row(r)} for name, r in results.items()]
    if not rows:
        return pd.DataFrame(columns=["variant", *COLUMNS]).set_index("variant")
    table = pd.DataFrame(rows).set_index("variant")
    if all_fast_name is not None:
        base = table.loc[all_fast_name, "sim_time_s"]
        table[VS_ALL_FAST] = table["sim_time_s"] / base - 1.0 if base > 0 else float("nan")
    return table
