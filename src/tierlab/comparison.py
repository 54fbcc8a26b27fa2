"""Run one scenario under several variants and put the results side by side.

A *variant* is a dict of overrides by dotted key, applied to the resolved scenario dict
(``Scenario.to_dict()``) and reloaded with ``load_scenario`` so every override is validated
exactly as a scenario file would be::

    {"kernel.demotion_enabled": True, "kernel.numa_balancing": 2}
    {"swap.size": "8GiB", "node.1.memory": "4GiB", "task.app.mempolicy": "bind:0"}

Key paths: a table key per dot (``kernel.swappiness``). In the ``node`` list the next part is
a node *id* (``node.1.memory`` is the node the kernel calls node 1); in the ``task`` list it is
a task name or a list index; in any other list (``workload``, ``distance``) a list index.

Overrides go into the resolved dict, where every default is already filled in; so that
``node.0.memory`` or ``node.1.kind`` mean what they would in a file, a node field still at the
default its old memory or kind implied (``reserved`` = memory / 64, the kind's latencies,
bandwidths and driver) is derived anew from the new value. Relative trace paths are made
absolute (relative to the scenario file), so a variant loads the same from any directory.

A variant may also name a *preset* with the key ``"preset"``; the preset's knobs are applied
first, then the variant's other overrides:

- ``no-demotion``: ``demotion_enabled = false``, ``numa_balancing = 0`` (reclaim discards or
  swaps; allocations still spill to the slow node under the default mempolicy).
- ``demotion``: ``demotion_enabled = true`` (migrate pages in lieu of discard), NUMA
  balancing as the scenario has it.
- ``demotion+promotion``: ``demotion_enabled = true``, ``numa_balancing = 2`` (memory
  tiering mode: hot pages on the slow node are promoted back).
- ``damon-tiering``: DAMON-based tiering instead of the kernel's: ``damon = "tiering"`` (the
  kernel's samples/damon/mtier.c as a v6.12 kernel runs it: migrate_cold from the fast node,
  migrate_hot from the slow one, see docs/damon.md), ``demotion_enabled = false``,
  ``numa_balancing = 0``.
- ``damon-tiering+demotion``: the same with ``demotion_enabled = true`` (the SK hynix cover
  letter's "DAMON tiered with demotion": reclaim still demotes when DAMON is not fast enough).
- ``all-fast``: the ideal -- every task's memory served by the fastest node. The fastest CPU
  node (lowest read latency, then lowest id) gets the memory, reserved and kernel memory and
  CPUs of all nodes together; the other nodes are dropped, the SLIT becomes ``[[10]]``, explicit
  ``zones`` are dropped (the zone layout is recomputed from the summed memory), and every
  mempolicy (task ``mempolicy`` and ``policy`` workload steps) and ``cpu_node`` that named a
  dropped node now names the fast node (``interleave:0,1`` -> ``interleave:0``). Same total
  memory, same swap, same kernel knobs: only the speed of the memory changes. It is applied
  after the variant's other overrides, so it is the ideal of *that* variant's machine
  (``{"preset": "all-fast", "node.0.memory": "25%"}`` merges the 25 % node with the others).
  DAMON contexts are dropped (one node leaves nothing to tier).

``compare`` runs the variants one after another in this process; ``Comparison.table`` has
one row per variant, drawn from each ``Result`` (never recomputed).
"""

from __future__ import annotations

import copy
import os
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import pandas as pd

from .errors import TierlabError
from .report.tables import COLUMNS, VS_ALL_FAST, comparison_table, result_row  # noqa: F401
from .result import Result
from .scenario import (KIND_DEFAULTS, KIND_DRIVER, STRUCT_PAGE_BYTES_PER_PAGE, Scenario,
                       load_scenario, parse_mempolicy)


class CompareError(TierlabError):
    """A bad variant, override key or --vary specification."""


PRESETS: dict[str, dict[str, Any]] = {
    "no-demotion": {"kernel.demotion_enabled": False, "kernel.numa_balancing": 0, "kernel.tpp": False},
    "demotion": {"kernel.demotion_enabled": True},
    "demotion+promotion": {"kernel.demotion_enabled": True, "kernel.numa_balancing": 2, "kernel.tpp": False},
    "tpp": {"kernel.demotion_enabled": True, "kernel.numa_balancing": 2, "kernel.tpp": True},
    "damon-tiering": {"kernel.demotion_enabled": False, "kernel.numa_balancing": 0,
                      "kernel.tpp": False, "damon": "tiering"},
    "damon-tiering+demotion": {"kernel.demotion_enabled": True, "kernel.numa_balancing": 0,
                               "kernel.tpp": False, "damon": "tiering"},
    "all-fast": {},             # a transformation, see all_fast()
}
DEMO_PRESETS = ("no-demotion", "demotion", "demotion+promotion", "all-fast")

# ---------------------------------------------------------------------------------------------
# Overrides

def _parse_value(text: str) -> Any:
    """A --vary value: a TOML value if it parses as one (0, 1.5, true, "x", [1, 2]), else the
    bare string ("1GiB", "bind:0")."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def _split_top(text: str, sep: str = ",") -> list[str]:
    """Split on ``sep`` outside quotes and brackets."""
    parts, depth, quote, cur = [], 0, "", []
    for ch in text:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    if quote or depth:
        raise CompareError(f"unbalanced quotes or brackets in {text!r}")
    parts.append("".join(cur))
    return parts


def parse_vary(spec: str) -> dict[str, dict[str, Any]]:
    """``"kernel.swappiness=0,60,200"`` -> ``{"kernel.swappiness=0": {"kernel.swappiness": 0},
    ...}``, one variant per value. Values are TOML values when they parse as one (numbers,
    true/false, quoted strings, arrays), else bare strings (``swap.size=0,4GiB``); a value
    containing a comma is quoted (``task.app.mempolicy='"interleave:0,1"',default``)."""
    if not isinstance(spec, str) or "=" not in spec:
        raise CompareError(f"--vary {spec!r}: expected KEY=V1[,V2...], e.g. kernel.swappiness=0,60,200")
    key, _, rest = spec.partition("=")
    key = key.strip()
    if not key or any(not p for p in key.split(".")) or any(c.isspace() for c in key):
        raise CompareError(f"--vary {spec!r}: bad key {key!r}; expected a dotted key such as "
                           "kernel.swappiness")
    raw = _split_top(rest)
    if any(not r.strip() for r in raw):
        raise CompareError(f"--vary {spec!r}: empty value; expected KEY=V1[,V2...]")
    variants: dict[str, dict[str, Any]] = {}
    for r in raw:
        value = _parse_value(r)
        name = f"{key}={r.strip()}"
        if name in variants:
            raise CompareError(f"--vary {spec!r}: value {r.strip()!r} given twice")
        variants[name] = {key: value}
    return variants


def preset_variants(*names: str) -> dict[str, dict[str, Any]]:
    """Variants that each apply one preset: ``{name: {"preset": name}}``."""
    for n in names:
        _check_preset(n)
    return {n: {"preset": n} for n in names}


def variant_axes(presets: Iterable[str] = (), vary: Iterable[str] = ()) -> list[tuple[str, dict[str, dict[str, Any]]]]:
    """The axes of ``--preset P ... --vary K=V1,V2 ...``: ``("preset", preset_variants(...))``
    when presets are given, then ``(key, parse_vary(spec))`` per --vary, in order. A key varied
    twice is an error (the later axis would silently override the earlier one)."""
    axes: list[tuple[str, dict[str, dict[str, Any]]]] = []
    presets = list(presets)
    if presets:
        axes.append(("preset", preset_variants(*presets)))
    for spec in vary:
        variants = parse_vary(spec)
        key = next(iter(next(iter(variants.values()))))
        if any(k == key for k, _ in axes):
            raise CompareError(f"--vary {spec!r}: {key!r} is already varied; give all its values "
                               "in one --vary")
        axes.append((key, variants))
    return axes


def build_variants(presets: Iterable[str] = (), vary: Iterable[str] = ()) -> dict[str, dict[str, Any]]:
    """The variants of ``tierlab compare --preset P ... --vary K=V1,V2 ...``: the cross product
    of the presets and of every --vary axis (any of them may be empty), named by joining the
    parts with a space ("demotion kernel.swappiness=0")."""
    out: dict[str, dict[str, Any]] = {"": {}}
    for _, axis in variant_axes(presets, vary):
        out = {f"{n0} {n1}".strip(): {**o0, **o1} for n0, o0 in out.items() for n1, o1 in axis.items()}
    if list(out) == [""]:
        return {}
    return out


def _check_preset(name: str) -> None:
    if name not in PRESETS:
        raise CompareError(f"unknown preset {name!r}; valid: {', '.join(PRESETS)}")


def set_key(d: dict[str, Any], key: str, value: Any) -> None:
    """Set a dotted key in a resolved scenario dict (in place); CompareError names the part of
    the key that does not exist."""
    parts = key.split(".")
    cur: Any = d
    for i, part in enumerate(parts):
        where = ".".join(parts[:i + 1])
        last = i == len(parts) - 1
        parent = parts[i - 1] if i else ""
        if isinstance(cur, list):
            idx = _list_index(cur, part, parent, where, key)
            if last:
                cur[idx] = value
                return
            cur = cur[idx]
        elif isinstance(cur, dict):
            if part not in cur:
                valid = ", ".join(str(k) for k in cur)
                raise CompareError(f"override {key!r}: {where!r} does not exist; valid here: {valid}")
            if last:
                cur[part] = value
                return
            if not isinstance(cur[part], (dict, list)):
                raise CompareError(f"override {key!r}: {where!r} is a value, not a table")
            cur = cur[part]
        else:
            raise CompareError(f"override {key!r}: {where!r} is inside a value, not a table")


def _list_index(lst: list, part: str, parent: str, where: str, key: str) -> int:
    if parent == "node":
        ids = [n.get("id") for n in lst]
        if part.isdigit() and int(part) in ids:
            return ids.index(int(part))
        raise CompareError(f"override {key!r}: no node with id {part} (node ids: "
                           f"{', '.join(str(i) for i in ids)})")
    if parent == "task":
        names = [t.get("name") for t in lst]
        if part in names:
            return names.index(part)
    if part.isdigit() and int(part) < len(lst):
        return int(part)
    hint = f" or a task name ({', '.join(names)})" if parent == "task" else ""
    raise CompareError(f"override {key!r}: {where!r}: expected an index 0..{len(lst) - 1}{hint}")


def all_fast(scenario: Scenario) -> Scenario:
    """The all-fast ideal of a scenario (see the module docstring for exactly what changes)."""
    d = _all_fast_dict(portable_dict(scenario))
    d["name"] = f"{scenario.name} (all-fast)"
    return _reload(d, scenario, "all-fast")


def _all_fast_dict(d: dict[str, Any]) -> dict[str, Any]:
    """all-fast on a resolved scenario dict (in place; returns it)."""
    cpu_nodes = [n for n in d["node"] if n["cpus"] > 0]
    fast = min(cpu_nodes, key=lambda n: (n["read_latency_ns"], n["id"]))
    merged = dict(fast)
    for k in ("memory", "reserved", "kernel_memory", "cpus"):
        merged[k] = sum(n[k] for n in d["node"])
    merged["zones"] = {}
    d["node"] = [merged]
    d["distance"] = [[10]]
    d["damon"] = []             # one node: nothing to tier
    fid = fast["id"]

    def remap(pol: str) -> str:
        p = parse_mempolicy(pol)
        return p.mode if not p.nodes else f"{p.mode}:{fid}"

    for t in d["task"]:
        t["cpu_node"] = fid
        t["mempolicy"] = remap(t["mempolicy"])
        for step in t["workload"]:
            if step.get("type") == "policy" and "mempolicy" in step:
                step["mempolicy"] = remap(step["mempolicy"])
    return d


def _reload(d: dict, base: Scenario, what: str) -> Scenario:
    from .errors import ScenarioError
    try:
        s = load_scenario(d)
    except ScenarioError as e:
        # the dict is ours, not the user's: name the variant and the field, not "<dict>"
        raise CompareError(f"variant {what!r} of {base.source}: {str(e).removeprefix('<dict>: ')}") from None
    from dataclasses import replace
    return replace(s, source=f"{base.source} [{what}]")


def apply_variant(scenario: Scenario, overrides: Mapping[str, Any], name: str = "variant") -> Scenario:
    """The scenario with a variant's preset and overrides applied, validated."""
    overrides = dict(overrides)
    preset = overrides.pop("preset", None)
    if preset is None and not overrides:
        return scenario
    if preset is not None:
        _check_preset(preset)
        overrides = {**PRESETS[preset], **overrides}
    d = portable_dict(scenario)
    _forget_derived(d, overrides)
    for key, value in overrides.items():
        set_key(d, key, copy.deepcopy(value))
    s = _reload(d, scenario, name)
    if preset == "all-fast":    # after the overrides: "50%" and the like are resolved by now
        d = _all_fast_dict(s.to_dict())
        d["name"] = f"{scenario.name} (all-fast)"
        s = _reload(d, scenario, name)
    return s


def portable_dict(scenario: Scenario) -> dict[str, Any]:
    """``scenario.to_dict()`` with relative trace paths made absolute, as load_scenario resolved
    them (against the scenario file's folder, or the current directory for a dict or string),
    so the dict loads the same in any directory or process."""
    d = scenario.to_dict()
    src = Path(scenario.source)
    base = src.parent.resolve() if src.is_file() else Path.cwd()
    for t in d["task"]:
        for step in t["workload"]:
            if step.get("type") == "trace" and not os.path.isabs(step.get("path", "/")):
                step["path"] = str(base / step["path"])
    return d


def _forget_derived(d: dict[str, Any], overrides: Mapping[str, Any]) -> None:
    """Drop the node fields that an override of the node's memory or kind should re-derive:
    those still at the default the old value implied and not overridden themselves."""
    for node in d["node"]:
        prefix = f"node.{node['id']}."
        if not {f"{prefix}memory", f"{prefix}kind"} & set(overrides):
            continue
        rl, wl, rb, wb = KIND_DEFAULTS[node["kind"]]
        derived = {"read_latency_ns": rl, "write_latency_ns": wl, "read_bandwidth": rb,
                   "write_bandwidth": wb, "driver": KIND_DRIVER[node["kind"]]}
        if not node["zones"]:     # with explicit zones, reserved is what the zones leave over
            derived["reserved"] = node["memory"] // STRUCT_PAGE_BYTES_PER_PAGE
        for k, default in derived.items():
            if node.get(k) == default and prefix + k not in overrides:
                del node[k]


# ---------------------------------------------------------------------------------------------
# Running and the table

@dataclass
class Comparison:
    """The results of one scenario under several variants, and their table."""

    scenario: Scenario                              # the base scenario
    variants: dict[str, dict[str, Any]]             # name -> overrides, as given
    scenarios: dict[str, Scenario]                  # name -> the scenario that ran
    results: dict[str, Result]                      # name -> its result
    table: pd.DataFrame = field(repr=False)         # one row per variant, index "variant"

    def to_csv(self, path: str | os.PathLike) -> None:
        """Write the table as CSV (atomically)."""
        _atomic_write(path, self.table.to_csv())

    def write_report(self, outdir: str | os.PathLike) -> str:
        from .report.html import write_report
        return write_report(self, outdir)


def compare(scenario: Scenario | Any, variants: Mapping[str, Mapping[str, Any]] | None = None,
            progress: Callable[[str, int, int], None] | None = None) -> Comparison:
    """Run ``scenario`` (a Scenario, dict, TOML string or path) under each variant, in order,
    one after another. ``variants`` defaults to the four presets of the demo (no-demotion,
    demotion, demotion+promotion, all-fast). ``progress(name, i, n)`` is called before each
    run. Every variant is built and validated before the first one runs."""
    from .simulate import run
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    if variants is None:
        variants = preset_variants(*DEMO_PRESETS)
    if not variants:
        raise CompareError("no variants to compare")
    variants = {str(k): dict(v) for k, v in variants.items()}
    scenarios = {name: apply_variant(scenario, over, name) for name, over in variants.items()}
    results: dict[str, Result] = {}
    for i, (name, s) in enumerate(scenarios.items()):
        if progress:
            progress(name, i, len(scenarios))
        results[name] = run(s)
    fast = [n for n, v in variants.items() if v.get("preset") == "all-fast" and len(v) == 1]
    table = comparison_table(results, fast[0] if fast else None)
    return Comparison(scenario, variants, scenarios, results, table)


def print_comparison(comparison: Comparison, console) -> None:
    """Print the comparison table with rich."""
    from .report.tables import print_comparison as _p
    _p(comparison, console)


def _atomic_write(path: str | os.PathLike, text: str) -> None:
    path = os.fspath(path)
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=".tierlab-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        os.unlink(tmp)
        raise
