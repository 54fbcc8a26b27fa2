"""Many runs of one scenario: every combination of the ``--vary`` axes and the presets, run in
parallel local processes (the default) or on a Dask cluster.

    sw = tierlab.sweep("box.toml", vary=["node.0.memory=25%,50%,75%,100%"],
                       presets=["demotion", "demotion+promotion"], jobs=4)
    sw.table            # one row per point: the varied values, then the comparison columns
    sw.write_report("out")          # sweep.csv, one plot per metric, index.html

The axes are those of ``tierlab compare`` (comparison.variant_axes: the same parsing, presets
and overrides); a sweep orders them --vary keys first, in the order given, then the presets,
so the first --vary key is the x axis of the plots. Every point is built and validated
before the first one runs. Each point's resolved scenario goes to a worker as a plain dict
(comparison.portable_dict: trace paths absolute) and comes back as ``Result.to_dict()`` plus
its time series, so a sweep gives the same counters whatever runs it and however many jobs.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Iterable

from .errors import TierlabError

# pandas & co. load on first use: `import tierlab` stays fast.
if TYPE_CHECKING:
    import pandas as pd

    from .result import Result
    from .scenario import Scenario

DASK_MISSING = "--scheduler needs Dask: pip install 'tierlab[dask]'"


class SweepError(TierlabError):
    """A sweep that cannot run: nothing to vary, no Dask, a point that failed."""


@dataclass
class Sweep:
    """The points of a sweep, their scenarios and results, and the table."""

    scenario: Scenario                          # the base scenario
    axes: list[str]                             # varied keys in order, "preset" last if given
    points: dict[str, dict[str, Any]]           # point name -> {axis: value}
    scenarios: dict[str, Scenario]              # point name -> the scenario that ran
    results: dict[str, Result]                  # point name -> its result
    table: pd.DataFrame = field(repr=False)     # index "point": the axes, then the metrics

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically)."""
        from .comparison import _atomic_write
        _atomic_write(path, self.table.to_csv())

    def write_report(self, outdir: str | os.PathLike) -> str:
        """sweep.csv, counters.csv, a PNG per metric and index.html, written atomically into
        ``outdir``; returns the path of index.html."""
        from .report.sweep import write_sweep_report
        return write_sweep_report(self, outdir)


def plan(scenario: Any, vary: Iterable[str] = (), presets: Iterable[str] = ()
         ) -> tuple[Scenario, list[str], dict[str, dict[str, Any]], dict[str, Scenario]]:
    """(base scenario, axes, points, point scenarios): every point built and validated, none
    run. A bad key, value or preset raises a TierlabError naming it."""
    from .comparison import apply_variant, variant_axes
    from .scenario import Scenario, load_scenario
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    vary = [vary] if isinstance(vary, str) else list(vary)
    presets = [presets] if isinstance(presets, str) else list(presets)
    axes = variant_axes(presets, vary)
    axes = axes[1:] + axes[:1] if presets else axes      # presets last: the x axis is a --vary key
    if not axes:
        raise SweepError("nothing to sweep: give --vary KEY=V1,V2,... and/or --preset NAME")
    points: dict[str, dict[str, Any]] = {}
    scenarios: dict[str, Scenario] = {}
    for combo in itertools.product(*(variants.items() for _, variants in axes)):
        name = " ".join(n for n, _ in combo)
        overrides = {k: v for _, o in combo for k, v in o.items()}
        points[name] = {key: _axis_value(key, n, o) for (key, _), (n, o) in zip(axes, combo)}
        scenarios[name] = apply_variant(scenario, overrides, name)
    return scenario, [k for k, _ in axes], points, scenarios


def _axis_value(key: str, name: str, overrides: dict[str, Any]) -> Any:
    """A point's value on one axis: the preset name; a number or string as parsed (60, "25%",
    "interleave:0,1"); else (true, [1, 2]) the text as given."""
    if key == "preset":
        return name
    v = overrides[key]
    return v if isinstance(v, (int, float, str)) and not isinstance(v, bool) else name.partition("=")[2]


def sweep(scenario: Any, vary: Iterable[str] = (), presets: Iterable[str] = (), jobs: int | None = None,
          scheduler: str | None = None,
          progress: Callable[[str, int, int, Result], None] | None = None) -> Sweep:
    """Run every point of ``vary`` x ``presets`` on ``scenario`` (a Scenario, dict, TOML string
    or path). ``jobs`` local processes (default: os.cpu_count(); 1 runs in this process), or
    the Dask cluster at ``scheduler`` ("tcp://host:8786", or "local" for a LocalCluster of
    ``jobs`` worker processes). ``progress(name, done, total, result)`` is called as each point
    finishes. The first point that fails stops the sweep with a SweepError naming it."""
    from .comparison import portable_dict
    if scheduler is not None:
        try:
            import dask.distributed  # noqa: F401
        except ImportError:
            raise SweepError(DASK_MISSING) from None
    if jobs is not None and jobs < 1:
        raise SweepError(f"jobs = {jobs}: expected at least 1")
    base, axes, points, scenarios = plan(scenario, vary, presets)
    names = list(scenarios)
    jobs = max(1, min(jobs or os.cpu_count() or 1, len(names)))
    payloads: dict[str, tuple[dict, pd.DataFrame]] = {}

    def done(i: int, get: Callable[[], tuple[dict, pd.DataFrame]]) -> None:
        try:
            payloads[names[i]] = get()
        except TierlabError as e:
            raise SweepError(f"point {names[i]!r}: {e}") from e
        except BrokenProcessPool as e:
            raise SweepError(f"point {names[i]!r}: a worker process died (killed? out of memory? "
                             "in a script, sweep() called without an `if __name__ == '__main__':` "
                             "guard?); try fewer jobs") from e
        except Exception as e:
            raise SweepError(f"point {names[i]!r} failed: {type(e).__name__}: {e}") from e
        if progress:
            progress(names[i], len(payloads), len(names), _result(payloads[names[i]]))

    dicts = [portable_dict(scenarios[n]) for n in names]
    if scheduler is None:
        _run_local(dicts, jobs, done)
    else:
        _run_dask(dicts, scheduler, jobs, done)
    results = {n: _result(payloads[n]) for n in names}
    return Sweep(base, axes, points, scenarios, results, sweep_table(axes, points, results))


def sweep_table(axes: list[str], points: dict[str, dict[str, Any]],
                results: dict[str, Result]) -> pd.DataFrame:
    """One row per point (index "point"): its value on each axis, then the comparison columns
    of each Result; with an all-fast preset also ``time_vs_all_fast`` against the all-fast
    point that has the same values on the other axes."""
    import pandas as pd

    from .report.tables import VS_ALL_FAST, result_row
    table = pd.DataFrame([{"point": n, **points[n], **result_row(results[n])} for n in points])
    table = table.set_index("point")
    if "preset" in axes and (table["preset"] == "all-fast").any():
        others = [a for a in axes if a != "preset"]
        fast = table[table["preset"] == "all-fast"].set_index(others)["sim_time_s"]
        ref = table.join(fast.rename("_ref"), on=others)["_ref"] if others else fast.iloc[0]
        table[VS_ALL_FAST] = table["sim_time_s"] / ref - 1.0
    return table


# ---------------------------------------------------------------------------------------------
# Where the points run

def _run_point(scenario: dict) -> tuple[dict, pd.DataFrame]:
    """Run in a worker: a resolved scenario dict in, the result's dict and time series out."""
    from .simulate import run
    r = run(scenario)
    return r.to_dict(), r.timeseries


def _result(payload: tuple[dict, pd.DataFrame]) -> Result:
    from .result import Result
    d, timeseries = payload
    return Result(timeseries=timeseries, **d)


def _run_local(dicts: list[dict], jobs: int, done: Callable) -> None:
    if jobs == 1:       # no worker to start: easier to debug, and no process start-up cost
        for i, d in enumerate(dicts):
            done(i, lambda d=d: _run_point(d))
        return
    # not fork: numba and threads in the parent do not survive it
    method = "forkserver" if "forkserver" in multiprocessing.get_all_start_methods() else "spawn"
    with ProcessPoolExecutor(jobs, mp_context=multiprocessing.get_context(method)) as pool:
        futures = {pool.submit(_run_point, d): i for i, d in enumerate(dicts)}
        try:
            for f in as_completed(futures):
                done(futures[f], f.result)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)     # do not start the points left
            raise


def _run_dask(dicts: list[dict], scheduler: str, jobs: int, done: Callable) -> None:
    from dask.distributed import Client, LocalCluster, as_completed as dask_completed
    if scheduler == "local":
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None)
    else:
        cluster = nullcontext(scheduler)
    with cluster as target:             # a LocalCluster, or the scheduler's address
        try:
            client = Client(target)
        except (OSError, TimeoutError) as e:
            raise SweepError(f"--scheduler {scheduler}: cannot connect: {e}") from None
        with client:
            # pure=False: each point is its own task, even on a cluster other clients share
            futures = client.map(_run_point, dicts, pure=False)
            index = {f.key: i for i, f in enumerate(futures)}
            try:
                for f in dask_completed(futures):
                    done(index[f.key], f.result)
            except BaseException:
                client.cancel(futures)
                raise
