"""The report's figures, drawn with matplotlib (Agg backend, no display needed) from the
Results' time series and tables. Each function writes one PNG and returns its path."""

from __future__ import annotations

from typing import Mapping

import matplotlib

matplotlib.use("Agg", force=False)
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from ..result import Result  # noqa: E402
from ..units import PAGE_SIZE  # noqa: E402

MIB = 1024 * 1024
DPI = 100


def _save(fig: Figure, path: str) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    return path


def node_ids(result: Result) -> list[str]:
    return [str(n["id"]) for n in result.scenario["node"]]


def node_label(result: Result, nid: str) -> str:
    for n in result.scenario["node"]:
        if str(n["id"]) == nid:
            return f"node {nid} ({n.get('kind', '')}, {n['read_latency_ns']:g} ns)"
    return f"node {nid}"


def plot_residency(result: Result, path: str, title: str) -> str:
    """Resident pages of all tasks on each node over time (MiB), and each node's free memory."""
    ts = result.timeseries
    fig, ax = plt.subplots(figsize=(7, 3.6))
    tasks = list(result.residency["final"])
    for nid in node_ids(result):
        cols = [f"rss.{t}.node{nid}" for t in tasks if f"rss.{t}.node{nid}" in ts]
        if not cols:
            continue
        rss = ts[cols].sum(axis=1) * PAGE_SIZE / MIB
        line, = ax.plot(ts["time_s"], rss, label=f"resident on {node_label(result, nid)}", lw=2)
        free = f"free.node{nid}"
        if free in ts:
            ax.plot(ts["time_s"], ts[free] * PAGE_SIZE / MIB, ls=":", color=line.get_color(),
                    label=f"free on node {nid}")
    ax.set_xlabel("simulated time (s)")
    ax.set_ylabel("MiB")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _save(fig, path)


COUNTER_PANELS = (
    ("pages demoted", ("pgdemote_kswapd", "pgdemote_direct")),
    ("pages promoted (pgpromote_success)", ("pgpromote_success",)),
    ("pages swapped out (pswpout)", ("pswpout",)),
    ("pages swapped in (pswpin)", ("pswpin",)),
)


def plot_counters(results: Mapping[str, Result], path: str) -> str:
    """Cumulative demotions, promotions, swap-outs and swap-ins over time, one line per run."""
    fig, axes = plt.subplots(2, 2, figsize=(10, 6), sharex=True)
    for ax, (title, names) in zip(axes.flat, COUNTER_PANELS):
        for variant, r in results.items():
            ts = r.timeseries
            cols = [c for c in names if c in ts]
            y = ts[cols].sum(axis=1) if cols else pd.Series(0, index=ts.index)
            ax.plot(ts["time_s"], y, label=variant, lw=1.8)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
        ax.set_ylim(bottom=0)
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True, min_n_ticks=1))
        ax.ticklabel_format(axis="y", style="plain")
    for ax in axes[1]:
        ax.set_xlabel("simulated time (s)")
    axes[0][0].legend(fontsize=8, loc="best")
    return _save(fig, path)


def _bars(values: pd.DataFrame, path: str, title: str, ylabel: str) -> str:
    """Grouped bars: one group per variant (row), one bar per column, values as percent."""
    n, k = values.shape
    fig, ax = plt.subplots(figsize=(max(5, 1.4 * n + 2), 3.8))
    width = 0.8 / k
    for j, col in enumerate(values.columns):
        xs = [i + (j - (k - 1) / 2) * width for i in range(n)]
        vals = values[col].to_numpy(dtype=float)
        bars = ax.bar(xs, vals, width=width, label=col, color=f"C{j}")
        for b, v in zip(bars, vals):
            ax.annotate(f"{v:.1%}", (b.get_x() + b.get_width() / 2, max(v, 0)),
                        ha="center", va="bottom", fontsize=8)
    ax.set_xticks(range(n), [str(v) for v in values.index], rotation=15, ha="right")
    ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title(title)
    ax.set_ylabel(ylabel)
    ax.grid(axis="y", alpha=0.3)
    ax.margins(y=0.15)
    if k > 1:
        ax.legend(fontsize=8)
    return _save(fig, path)


def plot_slowdown(table: pd.DataFrame, path: str) -> str:
    """Bars of each variant's slowdown (the per-run estimate against all accesses on the
    fastest node) and, when an all-fast run exists, its run time against that run."""
    cols = ["slowdown"] + (["time_vs_all_fast"] if "time_vs_all_fast" in table else [])
    values = table[cols].rename(columns={"slowdown": "slowdown (estimate per run)",
                                         "time_vs_all_fast": "run time vs the all-fast run"})
    return _bars(values, path, "slowdown per variant (lower is better)", "slowdown")


def plot_hit_ratio(table: pd.DataFrame, path: str) -> str:
    """Bars of each variant's fast-tier hit ratio."""
    return _bars(table[["fast_tier_hit_ratio"]], path,
                 "accesses that found their page in the fast tier (higher is better)", "fast-tier hit ratio")
