"""A run's result: counters, residency, OOM events, metrics, the resolved scenario and the
time series. Results are data: tables, plots and reports are drawn from this, never computed
twice. ``to_json`` writes the result JSON of DESIGN.md; the time series is a DataFrame."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass, field
from typing import Any

import pandas as pd


@dataclass
class Result:
    vmstat: dict[str, int]
    node_vmstat: dict[str, dict[str, int]]
    residency: dict[str, Any]          # {"final": {task: {node: pages}}, "time_s": [...], "tasks": {task: {node: [...]}}}
    oom: dict[str, Any]                # {"killed": bool, "events": [{"time_s", "task", "victim"}]}
    metrics: dict[str, Any]
    scenario: dict[str, Any]
    timeseries: pd.DataFrame = field(repr=False)
    tierlab_version: str = ""
    memcg: dict[str, Any] = field(default_factory=dict)   # per memcg: usage/max pages, memory.stat/events
    damon: list[dict[str, Any]] = field(default_factory=list)  # per kdamond context: DAMOS stats

    def to_dict(self) -> dict[str, Any]:
        return {
            "tierlab_version": self.tierlab_version,
            "vmstat": self.vmstat,
            "node_vmstat": self.node_vmstat,
            "residency": self.residency,
            "oom": self.oom,
            "memcg": self.memcg,
            "metrics": self.metrics,
            "scenario": self.scenario,
            **({"damon": self.damon} if self.damon else {}),
        }

    def to_json(self, path: str | os.PathLike) -> None:
        """Write the result JSON atomically: a reader never sees half a file."""
        path = os.fspath(path)
        d = os.path.dirname(os.path.abspath(path))
        fd, tmp = tempfile.mkstemp(dir=d, prefix=".tierlab-", suffix=".json")
        try:
            with os.fdopen(fd, "w") as f:
                json.dump(self.to_dict(), f, indent=1, sort_keys=False)
            os.replace(tmp, path)
        except BaseException:
            os.unlink(tmp)
            raise

    def moved(self) -> dict[str, int]:
        """The counters that moved."""
        return {k: v for k, v in self.vmstat.items() if v}
