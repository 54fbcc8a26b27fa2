"""Scenario -> kernel model -> Result: builds the page-state arrays from the resolved machine,
drives each task's workload steps through the compiled engine in simulated time, samples the
time series and gathers counters, residency and metrics."""

from __future__ import annotations

import math
from pathlib import Path
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from . import __version__
from .engine import DONE, ENGINES, KILLED, Engine
from .damon_setup import damon_dims, damon_stats, setup_damon
from .errors import ScenarioError, TierlabError
from .kernel import damon as dm
from .kernel import state as st
from .kernel import vmstat as vs
from .kernel.numa_balancing import init_numa_balancing
from .result import Result
from .scenario import MemPolicy, Scenario
from .topology.build import build_machine
from .topology.machine import Machine
from .kernel.fault import memory_reclaim
from .kernel.lru_gen import lru_gen_debugfs
from .workloads.base import AccessStep, IdleStep, PolicyStep, ReclaimStep
from .workloads.spec import build_steps, file_footprints, footprint_pages

QUANTUM_NS = 1_000_000.0        # tasks interleave in 1 ms slices of simulated time
SERIES_COUNTERS = ("pgdemote_kswapd", "pgdemote_direct", "pgpromote_success", "pgscan_kswapd",
                   "pgscan_direct", "pgsteal_kswapd", "pgsteal_direct", "numa_hint_faults",
                   "pswpout", "pswpin", "allocstall_movable", "oom_kill", "kswapd_wake",
                   "pgsteal_file", "workingset_refault_file")


def task_seed(scenario_seed: int, t: int) -> int:
    """The seed of task t's workload: one stream per task, all from the scenario's seed."""
    return scenario_seed * 1_000_003 + t


def memcg_ids(scenario: Scenario) -> dict[str, int]:
    """memcg name -> id in the model (0 is the root)."""
    return {m.name: k + 1 for k, m in enumerate(scenario.memcgs)}


def build_mm(scenario: Scenario, machine: Machine, footprints: list[int],
             files: dict[str, int] | None = None, mapped_files: set[str] = frozenset()) -> st.MM:
    """The simulated mm at boot: zones with their watermarks and free pages, zonelists,
    demotion targets, latencies, knobs and costs, and one page range per task and per file
    (files come after the tasks; their rows never run)."""
    files = files or {}
    nodes = machine.nodes
    pos = {n.id: k for k, n in enumerate(nodes)}
    if len(nodes) > 63:
        raise TierlabError(f"{scenario.source}: at most 63 nodes are supported, got {len(nodes)}")
    n_owners = len(scenario.tasks) + len(files)
    n_pages = int(sum(footprints) + sum(files.values()))
    mm = st.new_mm(n_pages, n_owners, len(nodes), len(machine.zones), 1 + len(scenario.memcgs),
                   damon_dims(scenario), mglru=scenario.kernel.lru == "mglru")
    memcg_id = memcg_ids(scenario)
    for k, m in enumerate(scenario.memcgs):
        mm.memcg_max[k + 1] = -1 if m.max is None else m.max // 4096
        mm.memcg_low[k + 1] = m.low // 4096
        mm.memcg_min[k + 1] = m.min // 4096
    mm.node_dist[:] = np.array(machine.distance, dtype=np.int64)
    mm.node_cpus[:] = [n.cpus for n in nodes]
    for z, zone in enumerate(machine.zones):
        mm.zone_node[z] = pos[zone.node]
        mm.zone_type[z] = st.ZONE_TYPE[zone.type]
        mm.zone_managed[z] = zone.managed
        mm.zone_kernel[z] = zone.kernel_used
        mm.zone_free[z] = zone.managed - zone.kernel_used
        mm.zone_wmark[z] = (zone.min, zone.low, zone.high, zone.promo)
        mm.zone_reserve[z] = zone.lowmem_reserve
    for k, node in enumerate(nodes):
        zs = [z for z, zone in enumerate(machine.zones) if zone.node == node.id]
        mm.node_zone_lo[k] = min(zs) if zs else 0
        mm.node_zone_hi[k] = max(zs) + 1 if zs else 0
        order = [z for nid in machine.zonelist[node.id]
                 for z in sorted((z for z, zone in enumerate(machine.zones) if zone.node == nid),
                                 key=lambda z: -st.ZONE_TYPE[machine.zones[z].type])]
        mm.zonelist[k, :len(order)] = order
        mm.zonelist_len[k] = len(order)
        pref = [pos[t] for t in machine.demotion_preferred[node.id]]
        mm.demote_pref[k, :len(pref)] = pref
        mm.demote_pref_len[k] = len(pref)
        mm.demote_allowed[k] = sum(1 << pos[t] for t in machine.demotion_allowed[node.id])
        mm.toptier[k] = node.id in machine.toptier
        present = sum(z.present for z in machine.zones if z.node == node.id)
        mm.node_enough[k] = max((1 << 30) >> 12, present >> 4)   # pgdat_free_space_enough()
        mm.node_bw[k] = min(node.read_bandwidth, node.write_bandwidth) / 1e9
    dist = np.array(machine.distance, dtype=np.float64)
    cpu_nodes = [k for k, n in enumerate(nodes) if n.cpus > 0]
    for m, node in enumerate(nodes):
        # HMAT numbers are seen from the nearest CPU node; farther CPUs pay the SLIT ratio.
        near = min(dist[c, m] for c in cpu_nodes)
        for c in range(len(nodes)):
            mm.lat_read[c, m] = node.read_latency_ns * dist[c, m] / near
            mm.lat_write[c, m] = node.write_latency_ns * dist[c, m] / near
    k = scenario.kernel
    profile = st.PROFILE_INDEX[k.profile]
    rfc = k.profile == "rfc-2020"
    mm.knob[st.K_PROFILE] = profile
    mm.knob[st.K_DEMOTION] = bool(k.zone_reclaim_mode & 8) if rfc else k.demotion_enabled
    mm.knob[st.K_BATCH_DEMOTION] = not rfc
    mm.knob[st.K_DEMOTE_FALLBACK] = k.profile in ("v6.1", "v6.12")
    mm.knob[st.K_ANON_ACTIVE_START] = rfc
    mm.knob[st.K_HAS_PROMO] = k.profile in ("v6.1", "v6.12")
    mm.knob[st.K_SWAPPINESS] = k.swappiness
    mm.knob[st.K_NUMA_BALANCING] = k.numa_balancing
    mm.knob[st.K_SWAP_PAGES] = scenario.swap.size // 4096
    mm.knob[st.K_CHECK] = scenario.run.check
    mm.knob[st.K_HOT_THRESHOLD_MS] = k.hot_threshold_ms
    mm.knob[st.K_PROMOTE_RATE_LIMIT] = k.numa_balancing_promote_rate_limit_MBps << (20 - 12)
    mm.knob[st.K_SCAN_DELAY_MS] = k.numa_balancing_scan_delay_ms
    mm.knob[st.K_SCAN_PERIOD_MIN_MS] = k.numa_balancing_scan_period_min_ms
    mm.knob[st.K_SCAN_PERIOD_MAX_MS] = k.numa_balancing_scan_period_max_ms
    mm.knob[st.K_SCAN_SIZE_MB] = k.numa_balancing_scan_size_mb
    mm.knob[st.K_MEMCG_DEMOTION] = k.profile in ("v6.1", "v6.12")
    mm.knob[st.K_PROACTIVE_NO_FALLBACK] = k.profile == "v6.12"
    # node_reclaim_enabled(): bits 0-2 from v5.11; the RFC's v5.8 base took any non-zero value
    mm.knob[st.K_NODE_RECLAIM] = bool(k.zone_reclaim_mode) if rfc else bool(k.zone_reclaim_mode & 7)
    mm.knob[st.K_ZONE_RECLAIM_MODE] = k.zone_reclaim_mode
    mm.knob[st.K_TPP] = k.demote_scale_factor if k.tpp else 0
    mm.knob[st.K_LRU_GEN] = k.lru == "mglru"
    c = scenario.cost
    mm.cost[:] = (c.page_fault_ns, c.hint_fault_ns, c.migrate_page_ns, c.reclaim_scan_ns,
                  c.reclaim_free_ns, c.swap_out_ns, c.swap_in_ns, c.think_ns, c.numa_scan_pte_ns,
                  c.file_read_ns, c.file_write_ns)
    mm.rng[0] = np.uint64(0x9E3779B97F4A7C15 ^ (scenario.seed * 0xBF58476D1CE4E5B9 % (1 << 64)))
    base = 0
    for t, task in enumerate(scenario.tasks):
        mm.task_base[t] = base
        mm.task_footprint[t] = footprints[t]
        mm.task_cpu[t] = pos[task.cpu_node]
        mm.task_clock[t] = task.start_s * 1e9
        set_mempolicy(mm, t, task.mempolicy, pos)
        mm.task_memcg[t] = memcg_id.get(task.memcg, 0)
        init_numa_balancing(mm, t, task.start_s * 1e9)
        base += footprints[t]
    for k, (name, pages) in enumerate(files.items()):
        f = len(scenario.tasks) + k
        mm.task_base[f] = base
        mm.task_footprint[f] = pages
        mm.task_alive[f] = 0
        mm.owner_mapped[f] = name in mapped_files
        base += pages
    if scenario.damon:
        setup_damon(mm, scenario, pos, n_pages, cpu_nodes[0])
    return mm


def set_mempolicy(mm: st.MM, t: int, policy: MemPolicy, pos: dict[int, int]) -> None:
    """set_mempolicy() for task t: mode, nodemask and preferred node in node positions."""
    mm.task_mpol[t] = st.MPOL_MODES[policy.mode]
    mm.task_mof[t] = policy.mode in ("default", "local") or (policy.mode == "bind" and policy.balancing)
    nodes = [pos[n] for n in policy.nodes]
    mm.task_nodemask[t] = sum(1 << n for n in nodes) if nodes else -1
    mm.task_pref[t] = nodes[0] if nodes else mm.task_cpu[t]
    mm.task_il_next[t] = (nodes[-1] if nodes else 0)


@dataclass
class _TaskRun:
    """Where one task is in its program."""
    steps: list
    step: int = 0
    chunks: Iterator | None = None
    chunk: Any = None
    i: int = 0
    deadline: float = math.inf
    finished: bool = False
    killed: bool = False
    base: int = 0
    file_base: dict = field(default_factory=dict)
    memcg_id: dict = field(default_factory=dict)
    reclaimed: list = field(default_factory=list)


def run(scenario: Scenario | Any, progress: Callable[[float], None] | None = None) -> Result:
    """Run a scenario (a Scenario, a dict or a TOML path) and return its Result."""
    from .scenario import load_scenario
    if not isinstance(scenario, Scenario):
        scenario = load_scenario(scenario)
    machine = build_machine(scenario)
    pos = {n.id: k for k, n in enumerate(machine.nodes)}
    runs = []
    # trace paths are relative to the scenario file
    base_dir = str(Path(scenario.source).parent) if Path(scenario.source).is_file() else None
    for t, task in enumerate(scenario.tasks):
        steps = build_steps(task.workload, task_seed(scenario.seed, t),
                            f"{scenario.source}: task[{t}].workload", base_dir)
        runs.append(_TaskRun(steps))
    footprints = [max(1, footprint_pages(r.steps)) for r in runs]
    files = {f.name: (f.size + 4095) // 4096 for f in scenario.files}
    declared = dict(files)
    for t, r in enumerate(runs):
        for name, pages in file_footprints(r.steps).items():
            if name in declared and pages > declared[name]:
                raise ScenarioError(
                    f"{scenario.source}: task[{t}].workload: file {name!r} is touched up to "
                    f"{pages * 4096} bytes but [[file]] {name!r} has size {declared[name] * 4096}")
            files[name] = max(files.get(name, 0), pages)
    file_base = {}
    base = sum(footprints)
    for name, pages in files.items():
        file_base[name] = base
        base += pages
    memcg_id = memcg_ids(scenario)
    for t, r in enumerate(runs):
        r.base = int(sum(footprints[:t]))
        r.file_base = file_base
        r.memcg_id = memcg_id
        for s in r.steps:
            if isinstance(s, ReclaimStep) and s.memcg is not None and s.memcg not in memcg_id:
                raise ScenarioError(f"{scenario.source}: task[{t}].workload: reclaim memcg "
                                    f"{s.memcg!r} is not a [[memcg]]; defined: "
                                    f"{', '.join(memcg_id) or 'none'}")
    mapped = {s.file for r in runs for s in r.steps
              if isinstance(s, AccessStep) and s.file is not None and s.io == "mmap"}
    mm = build_mm(scenario, machine, footprints, files, mapped)
    eng = ENGINES[bool(scenario.damon)]
    sampler = _Sampler(scenario, machine, mm, list(files))
    max_ns = scenario.run.max_time_s * 1e9
    sampler.take(0.0)
    while True:
        live = [t for t, r in enumerate(runs) if not r.finished and mm.task_clock[t] < max_ns]
        if not live:
            break
        t = min(live, key=lambda k: (mm.task_clock[k], k))
        now = mm.task_clock[t]
        if now >= sampler.next_t:
            eng.catch_up(mm, sampler.next_t)
            sampler.take(sampler.next_t)
            if progress:
                progress(sampler.next_t / 1e9)
            continue
        others = [mm.task_clock[k] for k in live if k != t]
        t_limit = min(sampler.next_t, max_ns, (min(others) + QUANTUM_NS) if others else math.inf)
        _advance(eng, mm, t, runs[t], t_limit, pos)
        _check(mm, scenario)
    end = max(float(mm.task_clock.max()), 0.0)
    eng.catch_up(mm, end)
    sampler.take(end, final=True)
    return _result(scenario, machine, mm, runs, sampler, end)


def _advance(eng: Engine, mm: st.MM, t: int, r: _TaskRun, t_limit: float, pos: dict[int, int]) -> None:
    """Run task t until t_limit or the end of its current step."""
    if r.step >= len(r.steps) or not mm.task_alive[t]:
        r.finished = True
        return
    step = r.steps[r.step]
    if isinstance(step, PolicyStep):
        set_mempolicy(mm, t, step.mempolicy, pos)
        r.step += 1
        return
    if isinstance(step, ReclaimStep):
        memcg = r.memcg_id[step.memcg] if step.memcg is not None else int(mm.task_memcg[t])
        r.reclaimed.append(int(memory_reclaim(mm, t, memcg, step.pages)))
        _next_step(r)
        return
    if isinstance(step, IdleStep):
        if r.deadline == math.inf:
            r.deadline = mm.task_clock[t] + step.duration_ns
        eng.run_idle(mm, t, min(r.deadline, t_limit))
        if mm.task_clock[t] >= r.deadline:
            _next_step(r)
        return
    if r.chunks is None:
        r.chunks = _Prefetch(step.chunks())
        r.deadline = mm.task_clock[t] + step.duration_ns if step.duration_ns else math.inf
    limit = min(t_limit, r.deadline)
    while True:
        if r.chunk is None or r.i >= len(r.chunk.vpn):
            r.chunk = next(r.chunks, None)
            r.i = 0
            if r.chunk is None:
                _next_step(r)
                return
        gap = r.chunk.gap_ns
        use_gap = gap is not None
        file = step.file is not None
        base = r.file_base[step.file] if file else r.base
        r.i, status = eng.run_accesses(mm, t, base, file, file and step.io == "read", r.chunk.vpn,
                                   r.chunk.op, gap if use_gap else _NO_GAP, use_gap, r.i, limit)
        if status == KILLED:
            r.finished = r.killed = True
            return
        if status != DONE:
            if mm.task_clock[t] >= r.deadline:
                _next_step(r)
            return


_NO_GAP = np.zeros(1, np.float64)


class _Prefetch:
    """Iterate chunks one ahead on a helper thread: the next chunk is generated (numpy releases
    the GIL) while the engine, compiled with nogil, simulates the current one on the other core.
    Chunks are the same whatever the timing, so runs stay deterministic."""

    _pool = None

    def __init__(self, it):
        if _Prefetch._pool is None:
            from concurrent.futures import ThreadPoolExecutor
            _Prefetch._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="tierlab-chunks")
        self.it = it
        self.ahead = self._pool.submit(next, it, None)

    def __iter__(self):
        return self

    def __next__(self):
        chunk = self.ahead.result()
        if chunk is None:
            raise StopIteration
        self.ahead = self._pool.submit(next, self.it, None)
        return chunk


def _next_step(r: _TaskRun) -> None:
    r.step += 1
    r.chunks = None
    r.chunk = None
    r.i = 0
    r.deadline = math.inf
    if r.step >= len(r.steps):
        r.finished = True


def _check(mm: st.MM, scenario: Scenario) -> None:
    if mm.knob[st.K_ERROR]:
        raise AssertionError(f"{scenario.source}: kernel model invariant {int(mm.knob[st.K_ERROR])} violated")


class _Sampler:
    """The time series: free pages per node, resident pages per task and node, counters."""

    def __init__(self, scenario: Scenario, machine: Machine, mm: st.MM, files: list[str]):
        self.mm = mm
        self.files = files
        self.interval = scenario.run.sample_interval_ms * 1e6
        self.next_t = 0.0
        self.rows: list[dict[str, float]] = []
        self.node_ids = [n.id for n in machine.nodes]
        self.task_names = [t.name for t in scenario.tasks]
        # DAMOS schemes by name, damon<context>.scheme<k>, in damos row order
        self.damon = [f"damon{c}.scheme{k}" for c, ctx in enumerate(scenario.damon)
                      for k in range(len(ctx.schemes))]
        self.n_damon = len(scenario.damon)

    def take(self, t_ns: float, final: bool = False) -> None:
        mm = self.mm
        row: dict[str, float] = {"time_s": t_ns / 1e9}
        for k, nid in enumerate(self.node_ids):
            lo, hi = mm.node_zone_lo[k], mm.node_zone_hi[k]
            row[f"free.node{nid}"] = int(mm.zone_free[lo:hi].sum())
        for t, name in enumerate(self.task_names):
            for k, nid in enumerate(self.node_ids):
                row[f"rss.{name}.node{nid}"] = int(mm.task_rss[t, k])
        cache = mm.task_rss[len(self.task_names):].sum(axis=0)
        for k, nid in enumerate(self.node_ids):
            row[f"pagecache.node{nid}"] = int(cache[k])
        tot = mm.vmstat.sum(axis=0)
        for c in SERIES_COUNTERS:
            row[c] = int(tot[vs.ITEMS.index(c)])
        if self.n_damon:
            row["pgmigrate_success"] = int(tot[vs.PGMIGRATE_SUCCESS])
            for s, name in enumerate(self.damon):
                row[f"{name}.sz_applied"] = int(mm.damos[s, dm.ST_SZ_APPLIED])
            for c in range(self.n_damon):
                row[f"damon{c}.nr_regions"] = int(mm.damon_attr[c, dm.A_NR])
        if self.rows and self.rows[-1]["time_s"] == row["time_s"]:
            self.rows[-1] = row
        else:
            self.rows.append(row)
        if not final:
            self.next_t = t_ns + self.interval

    def frame(self) -> pd.DataFrame:
        return pd.DataFrame(self.rows)


def _result(scenario: Scenario, machine: Machine, mm: st.MM, runs: list[_TaskRun],
            sampler: _Sampler, end_ns: float) -> Result:
    node_ids = [n.id for n in machine.nodes]
    ts = sampler.frame()
    names = [t.name for t in scenario.tasks]
    residency = {
        "final": {name: {str(nid): int(mm.task_rss[t, k]) for k, nid in enumerate(node_ids)}
                  for t, name in enumerate(names)},
        "time_s": ts["time_s"].round(6).tolist(),
        "tasks": {name: {str(nid): ts[f"rss.{name}.node{nid}"].astype(int).tolist() for nid in node_ids}
                  for name in names},
    }
    residency["by_decile"] = {name: _deciles(mm, t, node_ids) for t, name in enumerate(names)}
    residency["page_cache"] = {f: {str(nid): int(mm.task_rss[len(names) + k, j]) for j, nid in enumerate(node_ids)}
                               for k, f in enumerate(sampler.files)}
    residency["page_cache_by_decile"] = {f: _deciles(mm, len(names) + k, node_ids)
                                         for k, f in enumerate(sampler.files)}
    events = []
    for k in range(1, int(mm.oom_log[0, 0]) + 1):
        events.append({"time_s": float(mm.oom_log[k, 0] / 1e9), "victim": names[int(mm.oom_log[k, 1])],
                       "task": names[int(mm.oom_log[k, 2])]})
    oom = {"killed": bool(events), "victims": sorted({e["victim"] for e in events}), "events": events}
    stat = {n: i for i, n in enumerate(st.MEMCG_STAT_NAMES)}
    memcg = {m.name: {"usage": int(mm.memcg_usage[k + 1]),          # pages charged
                      "max": None if m.max is None else m.max // 4096,
                      "stat": {n: int(mm.memcg_stat[k + 1, stat[n]])   # memory.stat names
                               for n in ("pgscan", "pgsteal", "pgdemote", "pswpout")},
                      "events": {n: int(mm.memcg_stat[k + 1, stat[n]])  # memory.events names
                                 for n in ("low", "max", "oom_kill")}}
             for k, m in enumerate(scenario.memcgs)}
    metrics = _metrics(scenario, machine, mm, end_ns, runs)
    if scenario.kernel.lru == "mglru":
        metrics["lru_gen"] = lru_gen_debugfs(mm, ["root"] + [m.name for m in scenario.memcgs],
                                             node_ids)
    return Result(memcg=memcg, vmstat=vs.totals(mm.vmstat), node_vmstat=vs.per_node(mm.vmstat, node_ids),
                  residency=residency, oom=oom, metrics=metrics,
                  scenario=scenario.to_dict(), timeseries=ts, tierlab_version=__version__,
                  damon=damon_stats(scenario, mm))


def _deciles(mm: st.MM, t: int, node_ids: list[int]) -> dict[str, list[int]]:
    """Resident pages per node in each tenth of the task's address space, in page order (for a
    fill, oldest tenth first) -- what the reference's oldest10%/newest10% lines report.
    Counted per zone with bincount, a tenth at a time, so no page-sized temporaries."""
    lo, n = int(mm.task_base[t]), int(mm.task_footprint[t])
    n_zones = mm.zone_node.shape[0]
    out = {str(nid): [0] * 10 for nid in node_ids}
    for d in range(10):
        part = mm.pg_zone[lo + n * d // 10:lo + n * (d + 1) // 10]
        per_zone = np.bincount(part.view(np.uint8), minlength=256)[:n_zones]   # <0 land >= 253
        for z in range(n_zones):
            out[str(node_ids[mm.zone_node[z]])][d] += int(per_zone[z])
    return out


def _metrics(scenario: Scenario, machine: Machine, mm: st.MM, end_ns: float,
             runs: list[_TaskRun]) -> dict[str, Any]:
    """Simulated time, fast-tier hit ratio (accesses that found their page on a top-tier node:
    an access that waited for a swap-in or a page-cache read is a miss wherever the page then
    landed), average memory access time, and the slowdown
    against the same accesses served by the fastest node: the run less its memory-access time,
    reclaim stalls, swap-ins, refaults and NUMA-balancing work, plus every access at the
    fastest latency (`tierlab compare` also runs the real all-fast variant)."""
    top = [k for k, n in enumerate(machine.nodes) if n.id in machine.toptier]
    tasks = {}
    for t, task in enumerate(scenario.tasks):
        acc = mm.task_access[t]
        hits = acc - mm.task_from_storage[t]
        n_acc = int(acc.sum())
        run_ns = float(mm.task_clock[t] - task.start_s * 1e9)
        fast = min(mm.lat_read[mm.task_cpu[t], k] for k in set(mm.zone_node.tolist()))
        ideal = (run_ns - mm.task_mem_ns[t] - mm.task_stall_ns[t] - mm.task_tier_ns[t]
                 + n_acc * fast)
        tasks[task.name] = {
            "time_s": run_ns / 1e9,
            "accesses": n_acc,
            "accesses_by_node": {str(n.id): int(acc[k]) for k, n in enumerate(machine.nodes)},
            "from_storage": int(mm.task_from_storage[t].sum()),
            "fast_tier_hit_ratio": float(hits[top].sum() / n_acc) if n_acc else 0.0,
            "amat_ns": float(mm.task_mem_ns[t] / n_acc) if n_acc else 0.0,
            "direct_reclaim_s": float(mm.task_stall_ns[t] / 1e9),
            "slowdown": float(run_ns / ideal - 1.0) if ideal > 0 else 0.0,
            "oom_killed": not bool(mm.task_alive[t]),
            "proactive_reclaimed": runs[t].reclaimed,
        }
    n_acc = sum(v["accesses"] for v in tasks.values())
    return {
        "sim_time_s": end_ns / 1e9,
        "tasks": tasks,
        "accesses": n_acc,
        "fast_tier_hit_ratio": (sum(v["fast_tier_hit_ratio"] * v["accesses"] for v in tasks.values()) / n_acc
                                if n_acc else 0.0),
        "amat_ns": (sum(v["amat_ns"] * v["accesses"] for v in tasks.values()) / n_acc if n_acc else 0.0),
        "slowdown": max((v["slowdown"] for v in tasks.values()), default=0.0),
        "pingpong": int(mm.knob[st.K_PINGPONG]),
        "kswapd_cpu_s": {str(n.id): float(mm.kswapd_cpu[k] / 1e9) for k, n in enumerate(machine.nodes)},
    }
