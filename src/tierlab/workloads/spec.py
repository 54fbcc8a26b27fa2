"""Workload tables of a scenario -> steps, with every parameter checked in one place.

    workload = { type = "zipf", footprint = "2GiB", accesses = 100_000_000, alpha = 0.9 }
    workload = [ { type = "fill", size = "800MiB", hold_s = 10 },
                 { type = "policy", mempolicy = "interleave:0-1" },
                 { type = "scan", size = "800MiB", duration_s = 5 } ]

Errors are ScenarioErrors naming the field path, the bad value and the valid choices.
"""

from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ..errors import ScenarioError, TierlabError
from ..units import PAGE_SIZE, pages, parse_size
from .base import AccessStep, IdleStep, PolicyStep, ReclaimStep, Step
from .synthetic import (FillStep, HotColdStep, MixStep, PhasesStep, ScanStep, SyntheticStep,
                        UniformStep, ZipfStep)

def parse_mempolicy(text: object, where: str = "mempolicy"):
    """A mempolicy string (see tierlab.scenario.parse_mempolicy) -> MemPolicy, errors naming
    ``where``."""
    from ..scenario import parse_mempolicy as parse   # lazy: the scenario module imports this one
    try:
        return parse(text)
    except ValueError as e:
        raise ScenarioError(f"{where} = {text!r}: {e}") from None


# ---- parameter parsers: (value, field path) -> value, ScenarioError on bad input -----------

def _size_pages(v: object, f: str) -> int:
    try:
        b = parse_size(v, f)
    except ValueError as e:
        raise ScenarioError(f"{e} (sizes are bytes or strings like \"512MiB\", not negative)") from None
    if b <= 0:
        raise ScenarioError(f"{f}: size must be > 0, got {v!r}")
    return pages(b)


def _offset_pages(v: object, f: str) -> int:
    """offset: an int is a page number; a size string ("1GiB") is bytes, page aligned."""
    if isinstance(v, int) and not isinstance(v, bool):
        if v < 0:
            raise ScenarioError(f"{f}: offset must be >= 0 (pages), got {v!r}")
        return v
    try:
        b = parse_size(v, f)
    except ValueError as e:
        raise ScenarioError(f"{e} (an offset is a page number or a size like \"1GiB\")") from None
    if b % PAGE_SIZE:
        raise ScenarioError(f"{f}: offset {v!r} is not a multiple of the {PAGE_SIZE}-byte page")
    return b // PAGE_SIZE


def _count(v: object, f: str) -> int:
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if not isinstance(v, int) or isinstance(v, bool) or v <= 0:
        raise ScenarioError(f"{f}: expected a whole number > 0, got {v!r}")
    return v


def _number(lo: float | None = None, lo_open: bool = False, hi: float | None = None):
    def parse(v: object, f: str) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ScenarioError(f"{f}: expected a number, got {v!r}")
        x = float(v)
        bad = (lo is not None and (x < lo or (lo_open and x == lo))) or (hi is not None and x > hi)
        if bad or x != x:
            rng = f"{'(' if lo_open else '['}{lo}, {hi if hi is not None else 'inf'}{']' if hi is not None else ')'}"
            raise ScenarioError(f"{f}: must be in {rng}, got {v!r}")
        return x
    return parse


def _string(v: object, f: str) -> str:
    if not isinstance(v, str) or not v:
        raise ScenarioError(f"{f}: expected a non-empty string, got {v!r}")
    return v


def _repeat(v: object, f: str) -> int | None:
    if v == 0 and not isinstance(v, bool):
        return None
    return _count(v, f)


_ratio = _number(0.0, False, 1.0)
_nonneg = _number(0.0)
_positive = _number(0.0, True)

def _io(v: object, f: str) -> str:
    if v not in IO_MODES:
        raise ScenarioError(f"{f}: expected one of {', '.join(IO_MODES)}, got {v!r}")
    return v


IO_MODES = ("mmap", "read")
COMMON: dict[str, Callable[[object, str], Any]] = {
    "write_ratio": _ratio, "think_ns": _nonneg, "duration_s": _positive, "offset": _offset_pages,
    "name": _string,
}
FILE_PARAMS = ("file", "io")   # generators outside a mix may target a file's page cache
# type -> (required parameters, optional parameters); every parser lives in PARSERS
SCHEMAS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "fill": (("size",), ("hold_s", *COMMON, *FILE_PARAMS)),
    "zipf": (("footprint",), ("alpha", "accesses", *COMMON, *FILE_PARAMS)),
    "uniform": (("footprint",), ("accesses", *COMMON, *FILE_PARAMS)),
    "scan": (("size",), ("passes", *COMMON, *FILE_PARAMS)),
    "hotcold": (("cold_size", "hot_size"), ("accesses", *COMMON)),
    "phases": (("footprint", "hot_size", "period"), ("accesses", "shift", "hot_share", *COMMON)),
    "mix": (("parts",), ("accesses", "think_ns", "duration_s", "name")),
    "read": (("size",), ("file", "passes", *COMMON)),   # buffered read() of a file, sequential
    "idle": (("duration_s",), ("name",)),
    "reclaim": (("size",), ("memcg", "name")),          # write to memory.reclaim
    "policy": (("mempolicy",), ("name",)),
    "trace": (("path",), ("format", "offset", "think_ns", "duration_s", "ns_per_instruction",
                          "repeat", "name")),
}
GENERATORS = ("fill", "zipf", "uniform", "scan", "hotcold", "phases")
PARSERS: dict[str, Callable[[object, str], Any]] = {
    **COMMON, "size": _size_pages, "footprint": _size_pages, "cold_size": _size_pages,
    "hot_size": _size_pages, "shift": _size_pages, "hold_s": _nonneg, "alpha": _positive,
    "accesses": _count, "passes": _count, "period": _count, "hot_share": _ratio,
    "ns_per_instruction": _nonneg, "repeat": _repeat, "path": _string, "format": _string,
    "mempolicy": lambda v, f: v, "parts": lambda v, f: v, "file": _string, "io": _io, "memcg": _string,
}


def step_seed(seed: int, index: int) -> int:
    """The seed of step ``index`` of a task seeded ``seed``: independent streams per step."""
    return int(np.random.SeedSequence([seed, index]).generate_state(1, np.uint64)[0])


def build_steps(specs: tuple[dict, ...] | list[dict] | dict, seed: int, where: str,
                base_dir: str | None = None) -> list[Step]:
    """The scenario's workload tables -> steps (``fill.hold_s`` adds an IdleStep). ``where``
    names the field in errors; trace paths are relative to ``base_dir`` (default: cwd)."""
    if isinstance(specs, dict):
        specs = (specs,)
    if not isinstance(specs, (list, tuple)) or not specs:
        raise ScenarioError(f"{where}: expected a workload table or a list of them, got {specs!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ScenarioError(f"{where}: seed must be a whole number >= 0, got {seed!r}")
    steps: list[Step] = []
    for i, spec in enumerate(specs):
        w = where if len(specs) == 1 else f"{where}[{i}]"
        steps.extend(_build_one(spec, step_seed(seed, i), w, base_dir))
    return steps


def footprint_pages(steps: list[Step]) -> int:
    """The task's anonymous vpn bound: every access of every step to its own memory is below it."""
    return max((s.footprint for s in steps if isinstance(s, AccessStep) and s.file is None), default=0)


def file_footprints(steps: list[Step]) -> dict[str, int]:
    """Pages of each file the steps touch (file -> vpn bound)."""
    out: dict[str, int] = {}
    for s in steps:
        if isinstance(s, AccessStep) and s.file is not None:
            out[s.file] = max(out.get(s.file, 0), s.footprint)
    return out


def _params(spec: object, where: str, allow_weight: bool = False) -> tuple[str, dict[str, Any]]:
    """Check type, unknown and missing parameters; return (type, parsed parameters)."""
    if not isinstance(spec, dict):
        raise ScenarioError(f"{where}: expected a table such as {{ type = \"zipf\", ... }}, got {spec!r}")
    kind = spec.get("type")
    if kind not in SCHEMAS:
        valid = ", ".join(GENERATORS if allow_weight else SCHEMAS)
        raise ScenarioError(f"{where}.type: unknown workload type {kind!r}; valid: {valid}")
    if allow_weight and kind not in GENERATORS:
        raise ScenarioError(f"{where}.type: {kind!r} cannot be a part of a mix; valid: "
                            f"{', '.join(GENERATORS)}")
    required, optional = SCHEMAS[kind]
    allowed = {"type", *required, *optional} | ({"weight"} if allow_weight else set())
    for k in spec:
        if k not in allowed:
            raise ScenarioError(f"{where}: unknown parameter {k!r} = {spec[k]!r} for type {kind!r}; "
                                f"valid: {', '.join(sorted(allowed - {'type'}))}")
    for k in required:
        if k not in spec:
            raise ScenarioError(f"{where}: type {kind!r} needs {k!r}; parameters: "
                                f"{', '.join(required)} (required), {', '.join(optional)}")
    out = {k: PARSERS[k](v, f"{where}.{k}") for k, v in spec.items() if k not in ("type", "weight")}
    if allow_weight:
        out["weight"] = _positive(spec.get("weight", 1.0), f"{where}.weight")
    return kind, out


def _build_one(spec: object, seed: int, where: str, base_dir: str | None) -> list[Step]:
    kind, p = _params(spec, where)
    name = p.get("name", kind)
    if kind == "idle":
        return [IdleStep(p["duration_s"] * 1e9, name)]
    if kind == "reclaim":
        return [ReclaimStep(p["size"], p.get("memcg"), name)]
    if kind == "policy":
        return [PolicyStep(parse_mempolicy(p["mempolicy"], f"{where}.mempolicy"), name)]
    if kind == "trace":
        return [_trace(p, where, base_dir)]
    if kind == "mix":
        return [_mix(p, seed, where)]
    if kind == "read":
        p = {**p, "file": p.get("file", "file"), "io": "read"}
        step = _generator("scan", p, seed, where, in_mix=False)
        step.name = p.get("name", "read")
    else:
        step = _generator(kind, p, seed, where, in_mix=False)
    if "file" in p:
        step.file = p["file"]
        step.io = p.get("io", "mmap")
    elif "io" in p:
        raise ScenarioError(f"{where}.io: only a step with 'file' has an io mode")
    if kind == "fill" and p.get("hold_s"):
        return [step, IdleStep(p["hold_s"] * 1e9, "hold")]
    return [step]


def _generator(kind: str, p: dict[str, Any], seed: int, where: str, in_mix: bool) -> SyntheticStep:
    """A synthetic generator from parsed parameters. Outside a mix a stream must end or have a
    duration; inside a mix a part without ``accesses`` is endless (the mix bounds it)."""
    dur = p.get("duration_s")
    common = dict(seed=seed, offset=p.get("offset", 0), think_ns=p.get("think_ns", 0.0),
                  duration_ns=None if dur is None else dur * 1e9, name=p.get("name", kind))
    if "write_ratio" in p:
        common["write_ratio"] = p["write_ratio"]
    acc = p.get("accesses")
    if kind in ("zipf", "uniform", "hotcold", "phases") and acc is None and dur is None and not in_mix:
        raise ScenarioError(f"{where}: type {kind!r} needs 'accesses' or 'duration_s' "
                            f"(got neither: the stream would never end)")
    if kind == "fill":
        return FillStep(pages=p["size"], **common)
    if kind == "zipf":
        return ZipfStep(pages=p["footprint"], accesses=acc, alpha=p.get("alpha", 0.99), **common)
    if kind == "uniform":
        return UniformStep(pages=p["footprint"], accesses=acc, **common)
    if kind == "scan":
        passes = p.get("passes")
        if passes is None and (dur is None and not in_mix):
            passes = 1
        return ScanStep(pages=p["size"], passes=passes, **common)
    if kind == "hotcold":
        return HotColdStep(cold_pages=p["cold_size"], hot_pages=p["hot_size"], accesses=acc, **common)
    # phases
    if p["hot_size"] > p["footprint"]:
        raise ScenarioError(f"{where}.hot_size: {spec_size(p['hot_size'])} is larger than "
                            f"footprint {spec_size(p['footprint'])}")
    return PhasesStep(pages=p["footprint"], hot_pages=p["hot_size"], period=p["period"],
                      shift=p.get("shift", 0), hot_share=p.get("hot_share", 1.0), accesses=acc,
                      **common)


def spec_size(npages: int) -> str:
    """Pages as a human size for messages."""
    b = npages * PAGE_SIZE
    for unit, f in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= f:
            return f"{b / f:g}{unit}"
    return f"{b}B"


def _mix(p: dict[str, Any], seed: int, where: str) -> MixStep:
    parts_spec = p["parts"]
    if not isinstance(parts_spec, (list, tuple)) or not parts_spec:
        raise ScenarioError(f"{where}.parts: expected a non-empty list of generator tables, "
                            f"got {parts_spec!r}")
    parts: list[SyntheticStep] = []
    weights: list[float] = []
    end = 0          # parts without an offset are laid out one after another
    endless = False
    for j, ps in enumerate(parts_spec):
        w = f"{where}.parts[{j}]"
        kind, pp = _params(ps, w, allow_weight=True)
        if "duration_s" in pp:
            raise ScenarioError(f"{w}.duration_s: a mix part has no duration of its own; "
                                f"set duration_s on the mix, or accesses/passes on the part")
        if "offset" not in pp:
            pp["offset"] = end
        part = _generator(kind, pp, step_seed(seed, j + 1), w, in_mix=True)
        endless |= part.total() is None
        parts.append(part)
        weights.append(pp["weight"])
        end = max(end, part.footprint)
    if endless and "accesses" not in p and "duration_s" not in p:
        raise ScenarioError(f"{where}: a part never ends (no accesses/passes); give the mix "
                            f"'accesses' or 'duration_s'")
    dur = p.get("duration_s")
    return MixStep(parts=parts, weights=weights, accesses=p.get("accesses"), seed=step_seed(seed, 0),
                   think_ns=p.get("think_ns", 0.0), duration_ns=None if dur is None else dur * 1e9,
                   name=p.get("name", "mix"))


def _trace(p: dict[str, Any], where: str, base_dir: str | None) -> AccessStep:
    from .traces import TraceStep, normalize_format

    path = p["path"]
    if base_dir and not os.path.isabs(path):
        path = os.path.join(base_dir, path)
    if not os.path.isfile(path):
        raise ScenarioError(f"{where}.path: no such trace file {p['path']!r} (looked at {path!r})")
    fmt = None
    if "format" in p:
        try:
            fmt = normalize_format(p["format"])
        except ValueError as e:
            raise ScenarioError(f"{where}.format: {e}") from None
    repeat = p.get("repeat", 1)
    if repeat is None and "duration_s" not in p:
        raise ScenarioError(f"{where}.repeat: 0 (endless) needs 'duration_s'")
    dur = p.get("duration_s")
    kw: dict[str, Any] = dict(offset=p.get("offset", 0), think_ns=p.get("think_ns", 0.0),
                              duration_ns=None if dur is None else dur * 1e9, repeat=repeat,
                              name=p.get("name", ""))
    if "ns_per_instruction" in p:
        kw["ns_per_instruction"] = p["ns_per_instruction"]
    try:
        return TraceStep.open(path, fmt, **kw)
    except TierlabError as e:
        raise type(e)(f"{where}: {e}") from None
