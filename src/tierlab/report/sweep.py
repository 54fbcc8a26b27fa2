"""A sweep's table (rich), its plots (each metric against the first varied key, one line per
combination of the other axes) and its report folder: sweep.csv, counters.csv, one PNG per
metric, index.html -- written into a temporary directory and renamed into place, as
html.write_report does."""

from __future__ import annotations

import html
import os
import shutil
import tempfile
from datetime import datetime, timezone
from typing import Any

import matplotlib.ticker
import pandas as pd
from rich.table import Table

from ..units import parse_size
from . import plots
from .html import _CSS, _html_table, _replace_dir
from .tables import COLUMN_VS_ALL_FAST, COLUMNS, VS_ALL_FAST, columns, counters_table, fmt, header

SHARES = ("slowdown", VS_ALL_FAST, "fast_tier_hit_ratio")   # plotted as percentages
BETTER = {"slowdown": "lower", VS_ALL_FAST: "lower", "fast_tier_hit_ratio": "higher",
          "amat_ns": "lower", "sim_time_s": "lower"}


def metrics(table: pd.DataFrame, axes: list[str]) -> list[str]:
    """The table's metric columns in display order (not the axes)."""
    return [c for c in columns(table) if c not in axes]


def sweep_rich_table(table: pd.DataFrame, axes: list[str], title: str | None = None) -> Table:
    """One row per point: the varied values, then the metrics."""
    t = Table(title=title)
    for a in axes:
        t.add_column(a)
    cols = metrics(table, axes)
    for c in cols:
        t.add_column(header(c), justify="right")
    for _, row in table.iterrows():
        t.add_row(*[str(row[a]) for a in axes], *[fmt(c, row[c]) for c in cols])
    return t


def axis_numbers(values: list[Any]) -> tuple[list[float], str] | None:
    """Positions on a numeric x axis and a unit suffix for the axis label: numbers as they are,
    "25%" as 25, sizes in MiB; None when the values are not all of one such kind."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return [float(v) for v in values], ""
    text = [str(v).strip() for v in values]
    try:
        if all(t.endswith("%") for t in text):
            return [float(t[:-1]) for t in text], " (%)"
        return [parse_size(v) / 2**20 for v in values], " (MiB)"
    except ValueError:
        return None


def plot_metric(table: pd.DataFrame, axes: list[str], metric: str, path: str) -> str:
    """``metric`` against the first axis, one line per combination of the other axes; points
    that ended in an OOM kill are marked with a red x."""
    x_key, others = axes[0], axes[1:]
    xvals = list(dict.fromkeys(table[x_key]))
    numeric = axis_numbers(xvals)
    pos = dict(zip(xvals, numeric[0] if numeric else range(len(xvals))))
    fig, ax = plots.plt.subplots(figsize=(7, 4))
    groups = table.groupby(others, sort=False) if others else [((), table)]
    for k, (key, g) in enumerate(groups):
        key = key if isinstance(key, tuple) else (key,)
        label = ", ".join(f"{a}={v}" if a != "preset" else str(v) for a, v in zip(others, key))
        xs = [pos[v] for v in g[x_key]]
        # styles cycle so that lines with equal values (often: two presets) stay visible
        ax.plot(xs, g[metric].astype(float), marker="os^D"[k % 4], ls=("-", "--", ":", "-.")[k % 4],
                lw=1.8, label=label or None)
        oom = g["oom"].astype(bool).to_numpy()
        if oom.any():
            ax.scatter([x for x, o in zip(xs, oom) if o], g[metric].astype(float)[oom],
                       marker="x", color="red", s=80, zorder=3)
    if numeric is None:
        ax.set_xticks(range(len(xvals)), [str(v) for v in xvals], rotation=15, ha="right")
    ax.set_xlabel(x_key + (numeric[1] if numeric else ""))
    ax.set_ylabel(header(metric))
    if metric in SHARES:
        ax.yaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
    better = f" ({BETTER[metric]} is better)" if metric in BETTER else ""
    ax.set_title(f"{header(metric)} vs {x_key}{better}", fontsize=10)
    ax.grid(alpha=0.3)
    if others:
        ax.legend(fontsize=8, loc="best")
    return plots._save(fig, path)


def write_sweep_report(sw, outdir: str | os.PathLike) -> str:
    """Write a Sweep's report folder (see the module docstring); returns index.html's path."""
    outdir = os.path.abspath(os.fspath(outdir))
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(outdir)}.tmp-")
    try:
        sw.table.to_csv(os.path.join(tmp, "sweep.csv"))
        counters_table(sw.results).to_csv(os.path.join(tmp, "counters.csv"))
        figs = [plot_metric(sw.table, sw.axes, m, os.path.join(tmp, f"{m}.png"))
                for m in metrics(sw.table, sw.axes) if m != "oom"]
        with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as f:
            f.write(_page(sw, [os.path.basename(p) for p in figs]))
        _replace_dir(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(outdir, "index.html")


def _page(sw, figs: list[str]) -> str:
    e = html.escape
    table, axes = sw.table, sw.axes
    cols = axes + metrics(table, axes)
    legend = "".join(f"<li><b>{e(header(c))}</b>: {e(COLUMNS.get(c, COLUMN_VS_ALL_FAST))}</li>"
                     for c in metrics(table, axes))
    version = next(iter(sw.results.values())).tierlab_version
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>tierlab sweep: {e(sw.scenario.name)}</title><style>{_CSS}</style></head><body>",
        f"<h1>tierlab sweep: {e(sw.scenario.name)}</h1>",
        f'<p class="note">tierlab {e(version)}, written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. '
        f"{len(table)} points over {e(', '.join(axes))}; scenario {e(sw.scenario.source)}.</p>",
        _html_table(table, "point", cols, fmt),      # fmt shows an axis value as given
        f'<ul class="note">{legend}</ul>',
        '<p class="note">As CSV: <a href="sweep.csv">sweep.csv</a>; the vmstat counters that '
        'moved, per point: <a href="counters.csv">counters.csv</a>. A red x marks a point '
        'that ended in an OOM kill.</p>',
    ]
    parts += [f'<img src="{e(f)}" alt="{e(f)}">' for f in figs]
    parts.append("</body></html>")
    return "\n".join(parts)
