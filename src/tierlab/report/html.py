"""The static HTML report: PNG figures (relative paths), the comparison table, the vmstat
counters and final residency, each table also as CSV. Everything is written into a temporary
directory next to ``outdir`` and renamed into place at the end, so an error never leaves a
half-written report (an existing report at ``outdir`` is replaced only once the new one is
complete)."""

from __future__ import annotations

import html
import os
import re
import shutil
import tempfile
from datetime import datetime, timezone
from typing import Any, Mapping

import pandas as pd

from ..result import Result
from . import plots
from .tables import COLUMN_VS_ALL_FAST, COLUMNS, VS_ALL_FAST, columns, comparison_table, \
    counters_table, fmt, header, residency_table


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip("-") or "run"


def _unpack(obj: Any) -> tuple[str, Mapping[str, Result], pd.DataFrame]:
    """(title, results by variant, table) of a Comparison or a single Result."""
    if isinstance(obj, Result):
        name = obj.scenario.get("name", "run")
        return name, {name: obj}, comparison_table({name: obj})
    if hasattr(obj, "results") and hasattr(obj, "table"):
        return obj.scenario.name, obj.results, obj.table
    raise TypeError(f"write_report takes a Comparison or a Result, not {type(obj).__name__}")


def write_report(comparison_or_result: Any, outdir: str | os.PathLike) -> str:
    """Write the report of a Comparison (or of one Result) into ``outdir`` and return the path
    of its index.html. Files: index.html, comparison.csv, counters.csv, residency.csv,
    slowdown.png, hit_ratio.png, counters.png, residency-<N>-<variant>.png."""
    title, results, table = _unpack(comparison_or_result)
    outdir = os.path.abspath(os.fspath(outdir))
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(outdir)}.tmp-")
    try:
        _write_all(tmp, title, results, table)
        _replace_dir(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(outdir, "index.html")


def write_reports(acts: Mapping[str, Any], outdir: str | os.PathLike,
                  notes: Mapping[str, str] | None = None) -> str:
    """Several comparisons in one report (``tierlab demo``'s acts): each act's full report in
    ``outdir/<act>/``, and an index.html with every act's table, its slowdown and hit-ratio
    plots and ``notes[act]``. Written as atomically as write_report()."""
    outdir = os.path.abspath(os.fspath(outdir))
    parent = os.path.dirname(outdir)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(dir=parent, prefix=f".{os.path.basename(outdir)}.tmp-")
    try:
        sections = []
        for act, obj in acts.items():
            title, results, table = _unpack(obj)
            os.mkdir(os.path.join(tmp, _slug(act)))
            _write_all(os.path.join(tmp, _slug(act)), title, results, table)
            sections.append((act, title, table))
        with open(os.path.join(tmp, "index.html"), "w", encoding="utf-8") as f:
            f.write(_acts_page(sections, notes or {}))
        _replace_dir(tmp, outdir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return os.path.join(outdir, "index.html")


def _acts_page(sections: list[tuple[str, str, pd.DataFrame]], notes: Mapping[str, str]) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             f"<title>tierlab report</title><style>{_CSS}</style></head><body>",
             "<h1>tierlab report</h1>",
             f'<p class="note">written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}.</p>']
    for act, title, table in sections:
        d = _slug(act)
        parts += [f"<h2>{e(title)}</h2>"]
        if act in notes:
            parts.append(f"<p>{e(notes[act])}</p>")
        parts += [_html_table(table, "variant", columns(table), fmt),
                  f'<p class="note">Every plot, counter and residency table of this act: '
                  f'<a href="{e(d)}/index.html">{e(d)}/index.html</a>.</p>']
        if len(table) > 1:
            parts += [f'<img src="{e(d)}/slowdown.png" alt="slowdown per variant">',
                      f'<img src="{e(d)}/hit_ratio.png" alt="fast-tier hit ratio per variant">']
    legend = "".join(f"<li><b>{e(header(c))}</b>: {e(COLUMNS.get(c, COLUMN_VS_ALL_FAST if c == VS_ALL_FAST else c))}</li>"
                     for c in columns(sections[0][2])) if sections else ""
    parts += [f'<ul class="note">{legend}</ul>', "</body></html>"]
    return "\n".join(parts)


def _replace_dir(new: str, dest: str) -> None:
    if os.path.lexists(dest):
        if not os.path.isdir(dest) or os.path.islink(dest):
            raise FileExistsError(f"{dest}: exists and is not a report directory")
        old = tempfile.mkdtemp(dir=os.path.dirname(dest), prefix=f".{os.path.basename(dest)}.old-")
        os.rmdir(old)
        os.replace(dest, old)
        os.replace(new, dest)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.replace(new, dest)
    os.chmod(dest, 0o755)


def _write_all(d: str, title: str, results: Mapping[str, Result], table: pd.DataFrame) -> None:
    j = lambda name: os.path.join(d, name)  # noqa: E731
    table.to_csv(j("comparison.csv"))
    counters = counters_table(results)
    counters.to_csv(j("counters.csv"))
    residency = residency_table(results)
    residency.to_csv(j("residency.csv"), index=False)
    figs: list[tuple[str, str]] = []
    many = len(results) > 1
    if many:
        plots.plot_slowdown(table, j("slowdown.png"))
        figs.append(("slowdown.png", "Slowdown per variant"))
        plots.plot_hit_ratio(table, j("hit_ratio.png"))
        figs.append(("hit_ratio.png", "Fast-tier hit ratio per variant"))
    plots.plot_counters(results, j("counters.png"))
    figs.append(("counters.png", "Demotions, promotions and swap over time"))
    for i, (variant, r) in enumerate(results.items()):
        name = f"residency-{i}-{_slug(variant)}.png"
        plots.plot_residency(r, j(name), f"{variant}: where the pages are")
        figs.append((name, f"Residency per node: {variant}"))
    with open(j("index.html"), "w", encoding="utf-8") as f:
        f.write(_page(title, results, table, counters, figs))


_CSS = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.3em 0.7em; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
th { background: #f3f3f3; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
.note { color: #555; font-size: 0.9em; }
"""


def _html_table(df: pd.DataFrame, index_name: str, cols: list[str], fmt_cell) -> str:
    e = html.escape
    out = ["<table>", "<tr><th>" + e(index_name) + "</th>" +
           "".join(f"<th>{e(h)}</th>" for h in (header(c) if fmt_cell is fmt else c for c in cols)) + "</tr>"]
    for idx, row in df.iterrows():
        cells = "".join(f'<td class="num">{e(fmt_cell(c, row[c]))}</td>' for c in cols)
        out.append(f"<tr><td>{e(str(idx))}</td>{cells}</tr>")
    out.append("</table>")
    return "\n".join(out)


def _page(title: str, results: Mapping[str, Result], table: pd.DataFrame, counters: pd.DataFrame,
          figs: list[tuple[str, str]]) -> str:
    e = html.escape
    first = next(iter(results.values()))
    version = first.tierlab_version
    nodes = ", ".join(f"node {n['id']}: {n['kind']} {n['memory'] / 2**30:.2f} GiB, "
                      f"{n['read_latency_ns']:g} ns, {n['cpus']} CPUs" for n in first.scenario["node"])
    legend = "".join(f"<li><b>{e(header(c))}</b>: {e(COLUMNS.get(c, COLUMN_VS_ALL_FAST if c == VS_ALL_FAST else c))}</li>"
                     for c in columns(table))
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>tierlab report: {e(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>tierlab report: {e(title)}</h1>",
        f'<p class="note">tierlab {e(version)}, written {datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC}. '
        f"Machine of the first run: {e(nodes)}.</p>",
        "<h2>Results</h2>",
        _html_table(table, "variant", columns(table), fmt),
        f'<ul class="note">{legend}</ul>',
        '<p class="note">Tables as CSV: <a href="comparison.csv">comparison.csv</a>, '
        '<a href="counters.csv">counters.csv</a>, <a href="residency.csv">residency.csv</a>.</p>',
    ]
    for src, caption in figs:
        parts.append(f"<h3>{e(caption)}</h3><img src=\"{e(src)}\" alt=\"{e(caption)}\">")
    parts.append("<h2>vmstat counters that moved</h2>")
    parts.append(_html_table(counters, "counter", list(counters.columns), lambda c, v: f"{int(v):,}"))
    parts.append("<h2>Final residency (pages)</h2>")
    res = pd.DataFrame({v: {f"{t} / node {n}": p for t, per in r.residency["final"].items()
                            for n, p in per.items()} for v, r in results.items()}).fillna(0)
    parts.append(_html_table(res, "task / node", list(res.columns), lambda c, v: f"{int(v):,}"))
    parts.append("</body></html>")
    return "\n".join(parts)
