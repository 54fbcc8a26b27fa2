"""tierlab: what Linux does with memory that comes in tiers.

    import tierlab
    scenario = tierlab.load_scenario("scenarios/anon-bind0.toml")
    result = tierlab.run(scenario)          # counters, residency, metrics, time series
    result.vmstat["pgdemote_kswapd"], result.timeseries
"""

__version__ = "0.1.0"

from ._jitcache import use_source_keyed_cache  # noqa: E402

use_source_keyed_cache()

from .errors import ScenarioError, TierlabError, TraceError  # noqa: E402
from .scenario import load_scenario  # noqa: E402


def run(scenario, progress=None):
    """Run a scenario (Scenario, dict or TOML path) and return its Result."""
    from .simulate import run as _run
    return _run(scenario, progress)


def compare(scenario, variants):
    """Run named variants of a scenario and return a Comparison (table + results)."""
    from .comparison import compare as _compare
    return _compare(scenario, variants)


def sweep(scenario, vary=(), presets=(), jobs=None, scheduler=None, progress=None):
    """Run every combination of ``vary`` axes and presets, in parallel; returns a Sweep
    (table + results). See tierlab.sweeps.sweep."""
    from .sweeps import sweep as _sweep
    return _sweep(scenario, vary, presets, jobs, scheduler, progress)


__all__ = ["load_scenario", "run", "compare", "sweep", "TierlabError", "ScenarioError", "TraceError", "__version__"]
