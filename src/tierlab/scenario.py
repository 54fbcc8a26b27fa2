"""The scenario: what machine, which kernel and knobs, which tasks do what.

A scenario comes from a TOML file or a dict (``load_scenario``) and is resolved into frozen
dataclasses with every default filled in as the kernel has it. Every field is documented in
docs/scenario.md. Errors name the file, the field and the value (``ScenarioError``).
"""

from __future__ import annotations

import copy
import math
import tomllib
from dataclasses import asdict, dataclass, field, fields
from fractions import Fraction
from pathlib import Path
from typing import Any, NoReturn

from tierlab.errors import ScenarioError
from tierlab.scenario_damon import DamonContext, damon_to_dict, read_damon
from tierlab.topology.machine import ZONE_TYPES
from tierlab.topology.presets import PRESETS, preset
from tierlab.units import PAGE_SIZE, parse_bandwidth, parse_size

PROFILES = ("rfc-2020", "v5.15", "v6.1", "v6.12")
NODE_KINDS = ("dram", "pmem", "cxl", "hbm")


@dataclass(frozen=True)
class KernelConfig:
    """`[kernel]`: the kernel profile and its knobs, named as sysctl/sysfs/debugfs name them."""

    profile: str = "v6.12"
    demotion_enabled: bool = False          # /sys/kernel/mm/numa/demotion_enabled (v5.15+)
    zone_reclaim_mode: int = 0              # vm.zone_reclaim_mode; rfc-2020: bit 8 = RECLAIM_MIGRATE
    numa_balancing: int = 0                 # kernel.numa_balancing: 0 off, 1 normal, 2 tiering, 3 both
    swappiness: int = 60                    # vm.swappiness, 0..200
    min_free_kbytes: int | None = None      # vm.min_free_kbytes; None = computed as the kernel does
    watermark_scale_factor: int = 10        # vm.watermark_scale_factor, 1..3000
    lowmem_reserve_ratio: tuple[int, int, int, int] = (256, 256, 32, 0)  # DMA DMA32 NORMAL MOVABLE
    transparent_hugepage: str = "madvise"   # always | madvise | never (only raises min_free_kbytes)
    hot_threshold_ms: int = 1000
    numa_balancing_promote_rate_limit_MBps: int = 65536
    numa_balancing_scan_delay_ms: int = 1000
    numa_balancing_scan_period_min_ms: int = 1000
    numa_balancing_scan_period_max_ms: int = 60000
    numa_balancing_scan_size_mb: int = 256
    lru: str = "classic"                    # classic | mglru (CONFIG_LRU_GEN, v6.1+)
    tpp: bool = False                       # TPP's out-of-tree patches 3-5/5 (2021): needs numa_balancing 2/3
    demote_scale_factor: int = 200          # TPP's vm.demote_scale_factor: WMARK_DEMOTE in 1/10000 of a zone


@dataclass(frozen=True)
class NodeSpec:
    """`[[node]]`: one NUMA node as the kernel numbers it."""

    id: int
    memory: int                             # bytes of RAM on the node (present)
    cpus: int = 0
    kind: str = "dram"                      # dram | pmem | cxl | hbm: defaults for missing numbers
    read_latency_ns: float = 0.0            # HMAT access latency from the nearest CPU node
    write_latency_ns: float = 0.0
    read_bandwidth: float = 0.0             # bytes/s, HMAT access bandwidth
    write_bandwidth: float = 0.0
    movable: bool = False                   # onlined as ZONE_MOVABLE (dax/kmem online_movable)
    driver: str = "firmware"                # firmware (boot memory) | kmem (dax/kmem registers it)
    reserved: int = 0                       # bytes not managed by the page allocator (memmap, kernel image)
    kernel_memory: int = 0                  # bytes already used at start and never reclaimed (slab, ...)
    zones: tuple[tuple[str, int], ...] = () # explicit managed pages per zone, overrides the layout


@dataclass(frozen=True)
class MemPolicy:
    """A task's memory policy (set_mempolicy): default | local | bind | preferred | interleave."""

    mode: str = "default"
    nodes: tuple[int, ...] = ()
    balancing: bool = False                 # MPOL_F_NUMA_BALANCING (bind only; numactl --balancing)

    def __str__(self) -> str:
        """The scenario-file spelling: "default", "bind:0,1", "bind:0+balancing", ..."""
        if not self.nodes:
            return self.mode
        text = f"{self.mode}:{','.join(str(n) for n in self.nodes)}"
        return text + "+balancing" if self.balancing else text


@dataclass(frozen=True)
class TaskSpec:
    """`[[task]]`: a process with its CPU node, memory policy and workload."""

    name: str
    cpu_node: int
    mempolicy: MemPolicy
    workload: tuple[dict[str, Any], ...]    # one or more workload steps, validated by tierlab.workloads
    memcg: str | None = None
    start_s: float = 0.0


@dataclass(frozen=True)
class MemcgSpec:
    """`[[memcg]]`: a memory cgroup (v2) the tasks can be placed in."""

    name: str
    max: int | None = None                  # memory.max in bytes; None = "max" (no limit)
    low: int = 0                            # memory.low: best-effort protection from global reclaim
    min: int = 0                            # memory.min: hard protection from global reclaim


@dataclass(frozen=True)
class FileSpec:
    """`[[file]]`: a file on storage whose pages the tasks read or map (optional: a file the
    workloads name without declaring it is as large as they need)."""

    name: str
    size: int                               # bytes


@dataclass(frozen=True)
class SwapSpec:
    size: int = 0                           # bytes; 0 = no swap


@dataclass(frozen=True)
class Costs:
    """`[cost]`: simulated time of each event, in nanoseconds. Latencies of plain accesses come
    from the nodes (HMAT numbers); everything else is here."""

    page_fault_ns: float = 1000.0           # anonymous fault: trap + allocate + zero 4 KiB
    hint_fault_ns: float = 1000.0           # NUMA hint fault trap and restore
    migrate_page_ns: float = 1500.0         # per page: unmap, remap, TLB flush; copy time is added
    reclaim_scan_ns: float = 150.0          # per page isolated and checked by reclaim (CPU time)
    reclaim_free_ns: float = 300.0          # per page unmapped and freed/discarded
    swap_out_ns: float = 10000.0            # per page written to swap
    swap_in_ns: float = 20000.0             # per page read from swap
    think_ns: float = 0.0                   # CPU time between two accesses, added to every access
    numa_scan_pte_ns: float = 10.0          # NUMA-balancing scanner, per pte looked at (change_prot_numa)
    file_read_ns: float = 20000.0           # per page read from storage (page-cache miss, refault)
    file_write_ns: float = 10000.0          # per dirty page written back by reclaim


@dataclass(frozen=True)
class RunSpec:
    """`[run]`: how the run is driven and observed."""

    max_time_s: float = 3600.0              # stop after this much simulated time
    sample_interval_ms: float = 100.0       # time-series sampling period
    check: bool = False                     # verify invariants after every reclaim batch (slow)


@dataclass(frozen=True)
class Scenario:
    kernel: KernelConfig
    nodes: tuple[NodeSpec, ...]
    distance: tuple[tuple[int, ...], ...]   # SLIT, resolved (default 10 local / 20 remote)
    tasks: tuple[TaskSpec, ...]
    swap: SwapSpec = SwapSpec()
    cost: Costs = Costs()
    run: RunSpec = RunSpec()
    hmat: bool = True                       # firmware reports HMAT numbers (memory tiers from v6.10 use them)
    memcgs: tuple[MemcgSpec, ...] = ()
    files: tuple[FileSpec, ...] = ()
    damon: tuple[DamonContext, ...] = ()    # [[damon]] kdamond contexts (scenario_damon.py)
    seed: int = 0
    name: str = "scenario"
    # file the scenario came from, for error messages; not part of equality, so a scenario
    # equals its own to_dict() round trip
    source: str = field(default="<dict>", compare=False)

    def node(self, nid: int) -> NodeSpec:
        for n in self.nodes:
            if n.id == nid:
                return n
        raise KeyError(nid)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario, every default filled in, sizes in bytes (goes into the result
        JSON); ``load_scenario(s.to_dict()) == s``."""
        return _scenario_to_dict(self)


def load_scenario(src: Any) -> Scenario:
    """Load a scenario from a TOML path, a TOML string or a dict; raise ScenarioError on bad input.

    A string without a newline and without "=" (or ending in ".toml") is a path. Node ids in
    error messages are file positions (``node[1]``); ``preset = "NAME"`` supplies nodes and
    distance, and ``[[node]]`` tables then override the preset's node of the same id.
    """
    return _load(src)


# ---------------------------------------------------------------------------------------------
# Defaults that are not plain dataclass defaults

# Performance numbers a node `kind` fills in when the file does not give them:
# (read_latency_ns, write_latency_ns, read_bandwidth, write_bandwidth in bytes/s).
# Sources: reference/anchors.md section 2.1.
# - dram: < 100 ns (Intel, Dec 2018); 20 GB/s per node as in the reference QEMU guest.
# - pmem: Optane DC PMM random read 305 ns (Izraelevitz et al. 2019, arXiv 1903.05714); per-DIMM
#   6.6 GB/s read, 2.3 GB/s write (review of the same paper). anchors.md gives no write latency:
#   we use the read latency (writes are posted to the memory controller's queue).
# - cxl: Pond: +70..90 ns over local DRAM, real expanders 2-5x DRAM, absolute 170-250 ns: 250 ns;
#   bandwidth not in anchors.md, 10 GB/s assumed (half the DRAM default).
# - hbm: not in anchors.md; assumed a little faster than DRAM (90 ns) with 4x its bandwidth.
KIND_DEFAULTS: dict[str, tuple[float, float, float, float]] = {
    "dram": (100.0, 100.0, 20e9, 20e9),
    "pmem": (305.0, 305.0, 6.6e9, 2.3e9),
    "cxl": (250.0, 250.0, 10e9, 10e9),
    "hbm": (90.0, 90.0, 80e9, 80e9),
}
# dax/kmem registers slow memory (and gives it MEMTIER_DEFAULT_DAX_ADISTANCE); DRAM and HBM are
# boot memory described by firmware.
KIND_DRIVER = {"dram": "firmware", "hbm": "firmware", "pmem": "kmem", "cxl": "kmem"}
DRIVERS = ("firmware", "kmem")
MEMPOLICY_MODES = ("default", "local", "bind", "preferred", "interleave")
THP_MODES = ("always", "madvise", "never")
LRU_KINDS = ("classic", "mglru")   # the two-list LRU, or the multi-gen LRU (kernel/lru_gen.py)
STRUCT_PAGE_BYTES_PER_PAGE = 64     # sizeof(struct page) on x86-64: memmap = memory / 64

_TOP_FIELDS = ("name", "seed", "preset", "hmat", "kernel", "node", "distance", "swap", "task",
               "cost", "run", "memcg", "file", "damon")
_MEMCG_FIELDS = ("name", "max", "low", "min")
_NODE_FIELDS = ("id", "cpus", "memory", "kind", "read_latency_ns", "write_latency_ns", "bandwidth",
                "read_bandwidth", "write_bandwidth", "movable", "driver", "reserved",
                "kernel_memory", "zones")
_TASK_FIELDS = ("name", "cpu_node", "mempolicy", "workload", "memcg", "start_s")


def parse_mempolicy(text: object) -> MemPolicy:
    """ "default" | "local" | "bind:N[,M...]" | "preferred:N" | "interleave:N,M"; node lists take
    ranges ("0-2"); "bind:...+balancing" adds MPOL_F_NUMA_BALANCING (v5.12+: NUMA balancing
    may move pages among, and promote them to, the bound nodes). ValueError says what is
    wrong."""
    if not isinstance(text, str):
        raise ValueError(f"expected a string such as \"bind:0\", got {text!r}")
    text, plus, flag = text.strip().partition("+")
    if plus and flag.strip() != "balancing":
        raise ValueError(f"unknown flag {flag.strip()!r}; valid: +balancing")
    mode, _, rest = text.strip().partition(":")
    mode = mode.strip().lower()
    if plus and mode != "bind":
        raise ValueError("+balancing goes with bind only (MPOL_F_NUMA_BALANCING)")
    if mode not in MEMPOLICY_MODES:
        raise ValueError(f"unknown mempolicy mode {mode!r}; valid: default, local, bind:N[,M], "
                         "preferred:N, interleave:N,M (ranges such as 0-2 allowed)")
    nodes: set[int] = set()
    for part in filter(None, (p.strip() for p in rest.split(","))):
        lo, dash, hi = part.partition("-")
        if not lo.isdigit() or (dash and not hi.isdigit()):
            raise ValueError(f"bad node list {rest!r}")
        a, b = int(lo), int(hi) if dash else int(lo)
        if b < a:
            raise ValueError(f"bad node range {part!r}")
        nodes.update(range(a, b + 1))
    if mode in ("default", "local") and nodes:
        raise ValueError(f"{mode} takes no nodes")
    if mode in ("bind", "interleave", "preferred") and not nodes:
        raise ValueError(f"{mode} needs nodes, e.g. {mode}:0")
    if mode == "preferred" and len(nodes) != 1:
        raise ValueError("preferred takes exactly one node")
    return MemPolicy(mode, tuple(sorted(nodes)), bool(plus))


class _Reader:
    """Typed field access with errors that name the source, the field path and the value."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, value: object, why: str) -> NoReturn:
        raise ScenarioError(f"{self.source}: {path} = {value!r}: {why}")

    def table(self, obj: object, path: str, valid: tuple[str, ...]) -> dict:
        if not isinstance(obj, dict):
            self.fail(path, obj, "expected a table")
        for key in obj:
            if key not in valid:
                where = f"{path}.{key}" if path else key
                hint = ""
                if path and key in _TOP_FIELDS:
                    hint = (f" ({key!r} is a top-level key: in TOML a key written after a "
                            "[table] header belongs to that table, so move it above the first one)")
                raise ScenarioError(f"{self.source}: {where}: unknown field; "
                                    f"valid fields: {', '.join(valid)}{hint}")
        return obj

    def int_(self, v: object, path: str, lo: int | None = None, hi: int | None = None) -> int:
        if isinstance(v, bool) or not isinstance(v, int):
            self.fail(path, v, "expected an integer")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            rng = f"{lo}..{hi}" if hi is not None else f">= {lo}"
            self.fail(path, v, f"must be in {rng}")
        return v

    def num(self, v: object, path: str, lo: float = 0.0, strict: bool = False) -> float:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            self.fail(path, v, "expected a number")
        if v < lo or (strict and v == lo):
            self.fail(path, v, f"must be {'>' if strict else '>='} {lo:g}")
        return float(v)

    def bool_(self, v: object, path: str) -> bool:
        if not isinstance(v, bool):
            self.fail(path, v, "expected true or false")
        return v

    def str_(self, v: object, path: str, choices: tuple[str, ...] | None = None) -> str:
        if not isinstance(v, str):
            self.fail(path, v, "expected a string")
        if choices is not None and v not in choices:
            self.fail(path, v, f"must be one of {', '.join(choices)}")
        return v

    def size(self, v: object, path: str) -> int:
        try:
            return parse_size(v, path)
        except ValueError:
            self.fail(path, v, "expected a size such as \"512MiB\" or a number of bytes")

    def bandwidth(self, v: object, path: str) -> float:
        try:
            return parse_bandwidth(v, path)
        except ValueError:
            self.fail(path, v, "expected a bandwidth such as \"20GB/s\" or bytes per second > 0")

    def mempolicy(self, v: object, path: str, nodes: dict[int, "NodeSpec"]) -> MemPolicy:
        try:
            pol = parse_mempolicy(v)
        except ValueError as e:
            self.fail(path, v, str(e))
        for n in pol.nodes:
            if n not in nodes:
                self.fail(path, v, f"node {n} does not exist (nodes: {_ids(nodes)})")
            if nodes[n].memory == 0:
                self.fail(path, v, f"node {n} has no memory")
        return pol


def _ids(nodes) -> str:
    return ", ".join(str(n) for n in sorted(nodes))


def _read_source(src: Any) -> tuple[dict, str]:

    if isinstance(src, dict):
        return src, "<dict>"
    if isinstance(src, str) and "\n" not in src and ("=" not in src or src.endswith(".toml")):
        src = Path(src)
    if isinstance(src, Path):
        source = str(src)
        try:
            text = src.read_text(encoding="utf-8")
        except OSError as e:
            raise ScenarioError(f"{source}: cannot read scenario file: {e.strerror}") from None
    elif isinstance(src, str):
        source, text = "<string>", src
    else:
        raise ScenarioError(f"<{type(src).__name__}>: a scenario is a TOML path, a TOML string "
                            "or a dict")
    try:
        return tomllib.loads(text), source
    except tomllib.TOMLDecodeError as e:
        raise ScenarioError(f"{source}: TOML syntax error: {e}") from None


def _load(src: Any) -> Scenario:
    data, source = _read_source(src)
    r = _Reader(source)
    r.table(data, "", _TOP_FIELDS)
    raw_nodes, distance = _apply_preset(r, data)
    raw_nodes = _resolve_relative_memory(r, raw_nodes, data)
    nodes = _read_nodes(r, raw_nodes)
    by_id = {n.id: n for n in nodes}
    kernel = _read_kernel(r, data.get("kernel", {}))
    tasks = _read_tasks(r, data.get("task", []), by_id)
    memcgs = _read_memcgs(r, data.get("memcg", []), sum(n.memory for n in nodes))
    names = {m.name for m in memcgs}
    for i, t in enumerate(tasks):
        if t.memcg is not None and t.memcg not in names:
            r.fail(f"task[{i}].memcg", t.memcg,
                   f"no [[memcg]] of that name; defined: {', '.join(sorted(names)) or 'none'}")
    default_name = "scenario"
    if source not in ("<dict>", "<string>"):
            default_name = Path(source).stem
    return Scenario(
        kernel=kernel,
        nodes=tuple(sorted(nodes, key=lambda n: n.id)),
        distance=_read_distance(r, distance, sorted(by_id)),
        tasks=tasks,
        swap=SwapSpec(r.size(r.table(data.get("swap", {}), "swap", ("size",)).get("size", 0),
                             "swap.size")),
        cost=_read_dataclass(r, Costs, data.get("cost", {}), "cost"),
        run=_read_run(r, data.get("run", {})),
        hmat=r.bool_(data.get("hmat", True), "hmat"),
        memcgs=memcgs,
        files=_read_files(r, data.get("file", [])),
        damon=read_damon(r, data.get("damon", []), by_id),
        seed=r.int_(data.get("seed", 0), "seed"),
        name=r.str_(data.get("name", default_name), "name"),
        source=source,
    )


def _read_files(r: _Reader, raw: object) -> tuple[FileSpec, ...]:
    if not isinstance(raw, list):
        r.fail("file", raw, "expected [[file]] tables")
    out: list[FileSpec] = []
    for i, f in enumerate(raw):
        path = f"file[{i}]"
        f = r.table(f, path, ("name", "size"))
        for key in ("name", "size"):
            if key not in f:
                r.fail(path, f, f"needs {key!r}")
        name = r.str_(f["name"], f"{path}.name")
        if any(o.name == name for o in out):
            r.fail(f"{path}.name", name, "used twice")
        out.append(FileSpec(name, r.size(f["size"], f"{path}.size")))
    return tuple(out)


def _read_memcgs(r: _Reader, raw: object, machine_bytes: int) -> tuple[MemcgSpec, ...]:
    """`[[memcg]]` tables: limits are sizes (or "max") no larger than the machine."""
    if not isinstance(raw, list):
        r.fail("memcg", raw, "expected [[memcg]] tables")
    out: list[MemcgSpec] = []
    for i, m in enumerate(raw):
        path = f"memcg[{i}]"
        m = r.table(m, path, _MEMCG_FIELDS)
        if "name" not in m:
            r.fail(path, m, "needs a name")
        name = r.str_(m["name"], f"{path}.name")
        if any(o.name == name for o in out):
            r.fail(f"{path}.name", name, "used twice")
        vals = {}
        for key in ("max", "low", "min"):
            v = m.get(key)
            if v is None or (key == "max" and v == "max"):
                vals[key] = None if key == "max" else 0
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool) and v < 0:
                r.fail(f"{path}.{key}", v, "must not be negative")
            b = r.size(v, f"{path}.{key}")
            if b > machine_bytes:
                r.fail(f"{path}.{key}", v, f"larger than the machine's memory ({machine_bytes} bytes)")
            vals[key] = b
        out.append(MemcgSpec(name=name, **vals))
    return tuple(out)


def _apply_preset(r: _Reader, data: dict) -> tuple[list, object]:
    """Nodes and distance, from the file and/or a preset. Nodes in the file override the
    preset's node of the same id field by field; a file node setting `memory` drops the
    preset's explicit `zones`, one setting any bandwidth drops the preset's bandwidths."""
    raw_nodes = data.get("node", [])
    if not isinstance(raw_nodes, list):
        r.fail("node", raw_nodes, "expected [[node]] tables (a list of tables)")
    distance = data.get("distance")
    if "preset" not in data:
        return raw_nodes, distance
    name = r.str_(data["preset"], "preset", PRESETS)
    p = preset(name)
    merged = {n["id"]: n for n in p["node"]}
    for i, node in enumerate(raw_nodes):
        r.table(node, f"node[{i}]", _NODE_FIELDS)
        nid = node.get("id")
        if nid not in merged:
            r.fail(f"node[{i}].id", nid, f"preset {name!r} has nodes {_ids(merged)}; "
                   "file nodes may only override those")
        base = dict(merged[nid])
        if "memory" in node:
            base.pop("zones", None)
        if any(k in node for k in ("bandwidth", "read_bandwidth", "write_bandwidth")):
            for k in ("bandwidth", "read_bandwidth", "write_bandwidth"):
                base.pop(k, None)
        merged[nid] = {**base, **node}
    return list(merged.values()), p["distance"] if distance is None else distance


MAX_MEMORY_PERCENT = 10000


def _resolve_relative_memory(r: _Reader, raw_nodes: list, data: dict) -> list:
    """`memory = "50%"`: that share of the footprint of the scenario's workloads (the sum over
    tasks of each task's footprint pages x 4 KiB; a trace's footprint is its distinct pages),
    rounded up to whole MiB. Resolved before the node is read, so `reserved` (default
    memory/64), `kernel_memory` and `zones` are checked against the resolved size."""
    rel = [i for i, n in enumerate(raw_nodes) if isinstance(n, dict)
           and isinstance(n.get("memory"), str) and n["memory"].strip().endswith("%")]
    if not rel:
        return raw_nodes
    file_nodes = data.get("node", [])
    footprint: int | None = None
    out = list(raw_nodes)
    for i in rel:
        raw = raw_nodes[i]
        path = f"node[{i}].memory"
        if "preset" in data:        # merged with a preset: name the node's position in the file
            for j, fn in enumerate(file_nodes):
                if isinstance(fn, dict) and fn.get("id") == raw.get("id"):
                    path = f"node[{j}].memory"
        v = raw["memory"]
        try:
            share = Fraction(v.strip()[:-1].strip().replace("_", ""))
        except (ValueError, ZeroDivisionError):
            r.fail(path, v, "expected a size such as \"512MiB\" or a percentage of the "
                   "workloads' footprint such as \"50%\"")
        if share <= 0 or share > MAX_MEMORY_PERCENT:
            r.fail(path, v, f"a percentage of the workloads' footprint must be > 0% and <= "
                   f"{MAX_MEMORY_PERCENT}%")
        if footprint is None:
            footprint = _workloads_footprint_bytes(r, data)
        if footprint == 0:
            r.fail(path, v, "a percentage of the workloads' footprint, but no task has a "
                   "footprint (no task, or only idle/policy steps); give a size instead")
        mib = math.ceil(footprint * share / 100 / (1 << 20))
        out[i] = {**raw, "memory": mib << 20}
    return out


def _workloads_footprint_bytes(r: _Reader, data: dict) -> int:
    """Sum over tasks of the task's footprint (its vpn bound) in bytes. Builds the workload
    steps (a trace is opened: its distinct pages come from a dense .npz's meta or one pass).
    Malformed tasks are skipped here: reading the tasks reports them."""
    from tierlab.workloads.spec import build_steps, footprint_pages   # workloads imports us

    tasks = data.get("task", [])
    if not isinstance(tasks, list):
        return 0
    base_dir = None
    if r.source not in ("<dict>", "<string>"):
        base_dir = str(Path(r.source).parent)
    total = 0
    for i, t in enumerate(tasks):
        if not isinstance(t, dict) or "workload" not in t:
            continue
        steps = build_steps(t["workload"], 0, f"{r.source}: task[{i}].workload", base_dir)
        total += footprint_pages(steps)
    return total * PAGE_SIZE


def _read_nodes(r: _Reader, raw_nodes: list) -> list[NodeSpec]:
    if not raw_nodes:
        raise ScenarioError(f"{r.source}: node: no [[node]] given (and no preset); a scenario "
                            "needs at least one node with CPUs and memory")
    nodes, seen = [], {}
    for i, raw in enumerate(raw_nodes):
        n = _read_node(r, raw, f"node[{i}]")
        if n.id in seen:
            r.fail(f"node[{i}].id", n.id, f"node id used twice (also node[{seen[n.id]}])")
        seen[n.id] = i
        nodes.append(n)
    if not any(n.cpus > 0 for n in nodes):
        raise ScenarioError(f"{r.source}: node[*].cpus: no node has CPUs; at least one node "
                            "needs cpus > 0")
    return nodes


def _read_node(r: _Reader, raw: object, path: str) -> NodeSpec:
    raw = r.table(raw, path, _NODE_FIELDS)
    if "id" not in raw:
        r.fail(f"{path}.id", None, "missing: every node needs an id")
    if "memory" not in raw:
        r.fail(f"{path}.memory", None, "missing: every node needs a memory size (0 allowed)")
    nid = r.int_(raw["id"], f"{path}.id", 0)
    memory = r.size(raw["memory"], f"{path}.memory")
    kind = r.str_(raw.get("kind", "dram"), f"{path}.kind", NODE_KINDS)
    d_rl, d_wl, d_rb, d_wb = KIND_DEFAULTS[kind]
    rl = r.num(raw.get("read_latency_ns", d_rl), f"{path}.read_latency_ns", strict=True)
    wl = r.num(raw.get("write_latency_ns", rl if "read_latency_ns" in raw else d_wl),
               f"{path}.write_latency_ns", strict=True)
    if "bandwidth" in raw:
        for k in ("read_bandwidth", "write_bandwidth"):
            if k in raw:
                r.fail(f"{path}.{k}", raw[k], "give either bandwidth (read = write) or "
                       "read_bandwidth/write_bandwidth, not both")
        rb = wb = r.bandwidth(raw["bandwidth"], f"{path}.bandwidth")
    else:
        rb = r.bandwidth(raw.get("read_bandwidth", d_rb), f"{path}.read_bandwidth")
        wb = r.bandwidth(raw.get("write_bandwidth", rb if "read_bandwidth" in raw else d_wb),
                         f"{path}.write_bandwidth")
    movable = r.bool_(raw.get("movable", False), f"{path}.movable")
    zones = _read_zones(r, raw.get("zones", {}), f"{path}.zones", memory, movable)
    if zones:
        implied = memory - sum(p for _, p in zones) * PAGE_SIZE
        reserved = r.size(raw.get("reserved", implied), f"{path}.reserved")
        if reserved != implied:
            r.fail(f"{path}.reserved", raw["reserved"], f"with explicit zones reserved is "
                   f"memory - managed = {implied} bytes")
    else:
        reserved = r.size(raw.get("reserved", memory // STRUCT_PAGE_BYTES_PER_PAGE),
                          f"{path}.reserved")
    kernel_memory = r.size(raw.get("kernel_memory", 0), f"{path}.kernel_memory")
    if (kernel_memory or reserved or memory) and kernel_memory + reserved >= memory:
        r.fail(f"{path}.kernel_memory", raw.get("kernel_memory", 0),
               f"kernel_memory + reserved = {kernel_memory + reserved} bytes must be less than "
               f"memory = {memory} bytes")
    return NodeSpec(
        id=nid, memory=memory,
        cpus=r.int_(raw.get("cpus", 0), f"{path}.cpus", 0),
        kind=kind, read_latency_ns=rl, write_latency_ns=wl, read_bandwidth=rb, write_bandwidth=wb,
        movable=movable,
        driver=r.str_(raw.get("driver", KIND_DRIVER[kind]), f"{path}.driver", DRIVERS),
        reserved=reserved, kernel_memory=kernel_memory, zones=zones,
    )


def _read_zones(r: _Reader, raw: object, path: str, memory: int, movable: bool
                ) -> tuple[tuple[str, int], ...]:
    raw = r.table(raw, path, ZONE_TYPES)
    zones = tuple((t, r.int_(raw[t], f"{path}.{t}", 0)) for t in ZONE_TYPES if t in raw)
    total = sum(p for _, p in zones) * PAGE_SIZE
    if total > memory:
        r.fail(path, raw, f"managed pages ({total} bytes) exceed the node's memory ({memory} bytes)")
    if movable and any(t != "MOVABLE" for t, _ in zones):
        r.fail(path, raw, "a movable node has only a MOVABLE zone")
    return zones


def _read_distance(r: _Reader, raw: object, ids: list[int]) -> tuple[tuple[int, ...], ...]:
    n = len(ids)
    if raw is None:
        return tuple(tuple(10 if i == j else 20 for j in range(n)) for i in range(n))
    if not isinstance(raw, list) or len(raw) != n or any(
            not isinstance(row, list) or len(row) != n for row in raw):
        r.fail("distance", raw, f"expected a {n}x{n} matrix (one row per node, ids {_ids(ids)})")
    for i, row in enumerate(raw):
        for j, v in enumerate(row):
            p = f"distance[{i}][{j}]"
            r.int_(v, p)
            if i == j and v != 10:
                r.fail(p, v, "the local distance (diagonal) must be 10")
            if i != j and v <= 10:
                r.fail(p, v, "a remote distance must be greater than 10")
    return tuple(tuple(row) for row in raw)


def _read_kernel(r: _Reader, raw: object) -> KernelConfig:
    valid = tuple(f.name for f in fields(KernelConfig))
    raw = r.table(raw, "kernel", valid)
    k = KernelConfig()
    g = lambda name: raw.get(name, getattr(k, name))  # noqa: E731
    p = lambda name: f"kernel.{name}"                   # noqa: E731
    mfk = raw.get("min_free_kbytes")
    ratios = g("lowmem_reserve_ratio")
    if not isinstance(ratios, (list, tuple)) or len(ratios) != 4:
        r.fail(p("lowmem_reserve_ratio"), ratios, "expected 4 integers (DMA, DMA32, NORMAL, MOVABLE)")
    period_min = r.int_(g("numa_balancing_scan_period_min_ms"), p("numa_balancing_scan_period_min_ms"), 1)
    period_max = r.int_(g("numa_balancing_scan_period_max_ms"), p("numa_balancing_scan_period_max_ms"), 1)
    if period_min > period_max:
        r.fail(p("numa_balancing_scan_period_min_ms"), period_min,
               f"must not exceed numa_balancing_scan_period_max_ms = {period_max}")
    profile = r.str_(g("profile"), p("profile"), PROFILES)
    numa_balancing = r.int_(g("numa_balancing"), p("numa_balancing"), 0, 3)
    if numa_balancing & 2 and profile in ("rfc-2020", "v5.15"):
        # NUMA_BALANCING_MEMORY_TIERING arrived in v5.18; older kernels take only 0 or 1
        r.fail(p("numa_balancing"), numa_balancing,
               f"memory tiering mode (2, 3) needs a v5.18+ kernel; profile {profile!r} takes 0 or 1")
    tpp = r.bool_(g("tpp"), p("tpp"))
    if tpp and not numa_balancing & 2:
        # every TPP code path is under numa_promotion_tiered_enabled
        r.fail(p("tpp"), raw["tpp"], f"TPP acts only in NUMA-balancing tiering mode; "
               f"numa_balancing = {numa_balancing} (set 2 or 3)")
    lru = r.str_(g("lru"), p("lru"), LRU_KINDS)
    if lru == "mglru" and profile in ("rfc-2020", "v5.15"):
        # CONFIG_LRU_GEN was merged in v6.1
        r.fail(p("lru"), lru, f"the multi-gen LRU needs a v6.1+ kernel; profile {profile!r} has only \"classic\"")
    if tpp and lru == "mglru":
        # TPP's hint-fault check is PageActive() of the two-list LRU (2021, before MGLRU)
        r.fail(p("tpp"), raw["tpp"], "TPP's patches test the classic LRU's active list; "
               "lru = \"mglru\" has none (set lru = \"classic\")")
    return KernelConfig(
        profile=profile,
        demotion_enabled=r.bool_(g("demotion_enabled"), p("demotion_enabled")),
        zone_reclaim_mode=r.int_(g("zone_reclaim_mode"), p("zone_reclaim_mode"), 0, 15),
        numa_balancing=numa_balancing,
        swappiness=r.int_(g("swappiness"), p("swappiness"), 0, 200),
        min_free_kbytes=None if mfk is None else r.int_(mfk, p("min_free_kbytes"), 0),
        watermark_scale_factor=r.int_(g("watermark_scale_factor"), p("watermark_scale_factor"), 1, 3000),
        lowmem_reserve_ratio=tuple(r.int_(v, f"kernel.lowmem_reserve_ratio[{i}]", 0)
                                   for i, v in enumerate(ratios)),
        transparent_hugepage=r.str_(g("transparent_hugepage"), p("transparent_hugepage"), THP_MODES),
        hot_threshold_ms=r.int_(g("hot_threshold_ms"), p("hot_threshold_ms"), 1),
        numa_balancing_promote_rate_limit_MBps=r.int_(
            g("numa_balancing_promote_rate_limit_MBps"), p("numa_balancing_promote_rate_limit_MBps"), 0),
        numa_balancing_scan_delay_ms=r.int_(g("numa_balancing_scan_delay_ms"),
                                            p("numa_balancing_scan_delay_ms"), 0),
        numa_balancing_scan_period_min_ms=period_min,
        numa_balancing_scan_period_max_ms=period_max,
        numa_balancing_scan_size_mb=r.int_(g("numa_balancing_scan_size_mb"),
                                           p("numa_balancing_scan_size_mb"), 1),
        lru=lru,
        tpp=tpp,
        demote_scale_factor=r.int_(g("demote_scale_factor"), p("demote_scale_factor"), 1, 10000),
    )


def _read_dataclass(r: _Reader, cls, raw: object, path: str):
    """A table of non-negative numbers onto a dataclass of floats (Costs)."""
    valid = tuple(f.name for f in fields(cls))
    raw = r.table(raw, path, valid)
    return cls(**{k: r.num(v, f"{path}.{k}") for k, v in raw.items()})


def _read_run(r: _Reader, raw: object) -> RunSpec:
    raw = r.table(raw, "run", ("max_time_s", "sample_interval_ms", "check"))
    d = RunSpec()
    return RunSpec(
        max_time_s=r.num(raw.get("max_time_s", d.max_time_s), "run.max_time_s", strict=True),
        sample_interval_ms=r.num(raw.get("sample_interval_ms", d.sample_interval_ms),
                                 "run.sample_interval_ms", strict=True),
        check=r.bool_(raw.get("check", d.check), "run.check"),
    )


def _read_tasks(r: _Reader, raw: object, nodes: dict[int, NodeSpec]) -> tuple[TaskSpec, ...]:
    if not isinstance(raw, list):
        r.fail("task", raw, "expected [[task]] tables (a list of tables)")
    tasks, names = [], {}
    for i, t in enumerate(raw):
        path = f"task[{i}]"
        t = r.table(t, path, _TASK_FIELDS)
        for req in ("name", "cpu_node", "workload"):
            if req not in t:
                r.fail(f"{path}.{req}", None, "missing: every task needs name, cpu_node, workload")
        name = r.str_(t["name"], f"{path}.name")
        if name in names:
            r.fail(f"{path}.name", name, f"task name used twice (also task[{names[name]}])")
        names[name] = i
        cpu = r.int_(t["cpu_node"], f"{path}.cpu_node")
        if cpu not in nodes:
            r.fail(f"{path}.cpu_node", cpu, f"no such node (nodes: {_ids(nodes)})")
        if nodes[cpu].cpus == 0:
            r.fail(f"{path}.cpu_node", cpu, "node has no CPUs; a task runs on a node with cpus > 0")
        memcg = t.get("memcg")
        tasks.append(TaskSpec(
            name=name, cpu_node=cpu,
            mempolicy=r.mempolicy(t.get("mempolicy", "default"), f"{path}.mempolicy", nodes),
            workload=_read_workload(r, t["workload"], f"{path}.workload", nodes),
            memcg=None if memcg is None else r.str_(memcg, f"{path}.memcg"),
            start_s=r.num(t.get("start_s", 0.0), f"{path}.start_s"),
        ))
    return tuple(tasks)


def _read_workload(r: _Reader, raw: object, path: str, nodes: dict[int, NodeSpec]
                   ) -> tuple[dict[str, Any], ...]:
    """Steps stay raw dicts (tierlab.workloads validates them); only the shape, the `type` and
    the node list of a `policy` step (which needs the nodes) are checked here."""
    steps = [raw] if isinstance(raw, dict) else raw
    if not isinstance(steps, list) or not steps:
        r.fail(path, raw, "expected a table or a non-empty list of tables, each with a `type`")
    for i, s in enumerate(steps):
        sp = f"{path}[{i}]" if isinstance(raw, list) else path
        if not isinstance(s, dict):
            r.fail(sp, s, "expected a table with a `type`")
        if not isinstance(s.get("type"), str):
            r.fail(f"{sp}.type", s.get("type"), "every workload step needs a string `type`")
        if s["type"] == "policy" and "mempolicy" in s:
            r.mempolicy(s["mempolicy"], f"{sp}.mempolicy", nodes)
    return tuple(copy.deepcopy(s) for s in steps)


def _scenario_to_dict(s: Scenario) -> dict[str, Any]:
    kernel = asdict(s.kernel)
    kernel["lowmem_reserve_ratio"] = list(s.kernel.lowmem_reserve_ratio)
    nodes = []
    for n in s.nodes:
        d = asdict(n)
        d["zones"] = {t: p for t, p in n.zones}
        nodes.append(d)
    return {
        "name": s.name,
        "seed": s.seed,
        "hmat": s.hmat,
        "kernel": kernel,
        "node": nodes,
        "distance": [list(row) for row in s.distance],
        "swap": {"size": s.swap.size},
        "task": [{"name": t.name, "cpu_node": t.cpu_node, "mempolicy": str(t.mempolicy),
                  "workload": [copy.deepcopy(w) for w in t.workload], "memcg": t.memcg,
                  "start_s": t.start_s} for t in s.tasks],
        "cost": asdict(s.cost),
        "run": asdict(s.run),
        "memcg": [{k: v for k, v in asdict(m).items() if v is not None} for m in s.memcgs],
        "file": [asdict(f) for f in s.files],
        "damon": damon_to_dict(s.damon),
    }
