"""Run the cases, the references beside them, the JIT measurements, and print the table.

How things are measured (see docs/performance.md):

* tierlab accesses/s = accesses / wall time of ``tierlab.run(scenario)`` on a warm JIT (the
  scenario is loaded before the clock starts; nothing is subtracted: workload generation,
  sampling and result building are inside). The generator's own speed is reported apart.
* References replay the same stream (tierlab's generator, same seed) with a cache of the fast
  node's share: libCacheSim LRU/Clock from an oracleGeneral file (the file is written before
  the clock starts), a pure-Python OrderedDict LRU over a prefix (it is slow).
* Ratios come from interleaved rounds in this one process (tierlab, LRU, Clock, tierlab, ...):
  the median of per-round ratios, because the shared machine's absolute speed drifts by 2-4x.
* Peak RSS per row = VmHWM of this process during that run, reset before it through
  /proc/self/clear_refs (so it includes the interpreter, numba and the trace held in memory).
* Page state = sum of the itemsizes of the MM arrays that have one element per page.
* JIT cold = first ``tierlab.run`` of a tiny scenario minus the second one, in a subprocess
  with an empty NUMBA_CACHE_DIR; cached = the same in a second subprocess on that cache.
"""

from __future__ import annotations

import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from . import references as refs
from .cases import Case, build_cases

TARGETS = {
    "zipf_rate": 30e6,          # accesses/s, Zipf case with demotion
    "zipf_vs_lru": 8.0,         # x libCacheSim LRU, same run
    "uniform_rate": 5e6,        # accesses/s, 16 M pages
    "page_bytes": 16,           # bytes of page state per page (strictly less)
    "big_rss_mib": 4096,        # 64 M-page case, peak RSS (strictly less)
    "jit_cold_s": 5.0,
    "jit_cached_s": 1.0,
    "promo_cost": 2.0,          # time(numa_balancing=2) / time(numa_balancing=0) (strictly less)
}


# ------------------------------------------------------------------ process memory

def reset_peak_rss() -> bool:
    """Reset VmHWM (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def peak_rss_mib() -> float:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        load = os.getloadavg()
    except OSError:
        load = (0.0, 0.0, 0.0)
    import numba
    try:
        import libcachesim
        lcs = getattr(libcachesim, "__version__", "installed")
    except Exception:
        lcs = "not installed"
    import tierlab
    return {"nproc": os.cpu_count(), "cpu": cpu, "loadavg": [round(x, 2) for x in load],
            "python": platform.python_version(), "numpy": np.__version__,
            "numba": numba.__version__, "libcachesim": lcs, "tierlab": tierlab.__version__}


# ------------------------------------------------------------------ tierlab side

def page_state_bytes() -> dict[str, int]:
    """Bytes per simulated page: the MM arrays with one element per page."""
    from tierlab.kernel import state as st
    n = 1_000_003
    mm = st.new_mm(n, 1, 2, 4)
    names = getattr(mm, "_fields", None) or [a for a in dir(mm) if not a.startswith("_")]
    per_page = {}
    for name in names:
        arr = getattr(mm, name, None)
        if isinstance(arr, np.ndarray) and arr.ndim >= 1 and arr.shape[0] == n:
            per_page[name] = int(arr.itemsize * (arr.size // n))
    return per_page


def generate_trace(scenario: dict) -> tuple[np.ndarray, float]:
    """The task's access stream from tierlab's own generator (same seed as tierlab.run uses),
    and the seconds the generator took."""
    import tierlab
    from tierlab.workloads import build_steps
    from tierlab.workloads.base import AccessStep
    sc = tierlab.load_scenario(scenario)
    from tierlab.simulate import task_seed
    steps = build_steps(sc.tasks[0].workload, task_seed(sc.seed, 0), "benchmark")
    t = time.perf_counter()
    parts = [c.vpn for s in steps if isinstance(s, AccessStep) for c in s.chunks()]
    dt = time.perf_counter() - t
    return (np.concatenate(parts) if parts else np.zeros(0, np.int64)), dt


_WARM = {
    "name": "warm", "seed": 1,
    "kernel": {"profile": "v6.12", "demotion_enabled": True, "numa_balancing": 2,
               "numa_balancing_scan_delay_ms": 10, "numa_balancing_scan_period_min_ms": 10},
    "node": [{"id": 0, "cpus": 2, "memory": "16MiB", "kind": "dram"},
             {"id": 1, "cpus": 0, "memory": "32MiB", "kind": "pmem"}],
    "swap": {"size": "16MiB"},
    "task": [{"name": "app", "cpu_node": 0, "mempolicy": "default",
              "workload": [{"type": "fill", "size": "24MiB"},
                           {"type": "zipf", "footprint": "40MiB", "accesses": 200_000,
                            "alpha": 0.9, "write_ratio": 0.3}]}],
}


def warm_jit() -> float:
    import tierlab
    t = time.perf_counter()
    tierlab.run(tierlab.load_scenario(_WARM))
    return time.perf_counter() - t


_JIT_SNIPPET = r"""
import json, time, sys
t0 = time.perf_counter()
import tierlab
t1 = time.perf_counter()
sc = tierlab.load_scenario(json.loads(sys.argv[1]))
t2 = time.perf_counter(); tierlab.run(sc); t3 = time.perf_counter()
tierlab.run(sc); t4 = time.perf_counter()
try:
    from tierlab._jitcache import source_hash
    h = source_hash()
except Exception:
    h = ""
print(json.dumps({"import_s": t1 - t0, "first_s": t3 - t2, "steady_s": t4 - t3, "source": h}))
"""


def measure_jit(cold: bool = True, timeout: float = 600) -> dict[str, Any]:
    """JIT compile time: cold (fresh NUMBA_CACHE_DIR) and cached (the same dir, second process)."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="tierlab-bench-numba-") as cache_dir:
        # tierlab keys its cache dir on a hash of its sources under TIERLAB_NUMBA_BASE (or
        # NUMBA_CACHE_DIR), and exports both once imported: point both at the empty dir.
        env = dict(os.environ, NUMBA_CACHE_DIR=cache_dir, TIERLAB_NUMBA_BASE=cache_dir)
        for label in (["cold"] if cold else []) + ["cached"]:
            if label == "cached" and not cold:
                env = dict(os.environ)          # this process's cache (warmed by warm_jit)
            p = subprocess.run([sys.executable, "-c", _JIT_SNIPPET, json.dumps(_WARM)], env=env,
                               capture_output=True, text=True, timeout=timeout)
            if p.returncode != 0:
                out[label] = {"error": p.stderr.strip().splitlines()[-1:] or ["failed"]}
                continue
            r = json.loads(p.stdout.strip().splitlines()[-1])
            r["jit_s"] = max(0.0, r["first_s"] - r["steady_s"])
            out[label] = r
        if "cold" in out and "cached" in out and out["cold"].get("source") != out["cached"].get("source"):
            # tierlab's sources changed in between (cache keyed on them): not a cached load
            out["cached"]["note"] = "sources changed between the runs: recompiled, not a cached load"
    return out


# ------------------------------------------------------------------ rows

@dataclass
class Row:
    case: str
    impl: str
    accesses: int
    seconds: list[float] = field(default_factory=list)
    peak_rss_mib: float = 0.0
    quality: str = ""
    counters: dict[str, int] = field(default_factory=dict)
    ratios: list[float] = field(default_factory=list)     # per round, vs libCacheSim LRU
    note: str = ""

    @property
    def rates(self) -> list[float]:
        return [self.accesses / s for s in self.seconds if s > 0]

    @property
    def rate(self) -> float:
        return statistics.median(self.rates) if self.rates else 0.0

    @property
    def ratio(self) -> float | None:
        return statistics.median(self.ratios) if self.ratios else None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["rate"] = self.rate
        d["ratio_vs_lru"] = self.ratio
        return d


COUNTERS = ("pgdemote_kswapd", "pgdemote_direct", "pgpromote_success", "pswpout", "pgscan_kswapd",
            "numa_hint_faults", "oom_kill")


def _timed_tierlab(scenario) -> tuple[float, Any, float]:
    import tierlab
    gc.collect()
    reset_peak_rss()
    t = time.perf_counter()
    res = tierlab.run(scenario)
    dt = time.perf_counter() - t
    return dt, res, peak_rss_mib()


def run_case(case: Case, log=print, rounds: int | None = None) -> tuple[list[Row], dict[str, Any]]:
    import tierlab
    rounds = rounds or case.rounds
    info: dict[str, Any] = {"title": case.title, "pages": case.pages, "accesses": case.accesses}
    rows: dict[str, Row] = {}

    def row(impl: str, n: int) -> Row:
        if impl not in rows:
            rows[impl] = Row(case.name, impl, n)
        return rows[impl]

    # the generator alone (the same stream the references replay)
    gc.collect()
    reset_peak_rss()
    vpn, gen_s = generate_trace(case.variants[0].scenario)
    info["generator_rate"] = len(vpn) / gen_s if gen_s > 0 else 0.0
    gen = row("workload generator alone", len(vpn))
    gen.seconds.append(gen_s)
    gen.peak_rss_mib = peak_rss_mib()
    log(f"  [{case.name}] generator: {len(vpn):,} accesses in {gen_s:.2f} s")

    trace_path = None
    lcs_ok = case.cache_pages > 0 and refs.have_libcachesim()
    if lcs_ok:
        fd, trace_path = tempfile.mkstemp(prefix=f"tierlab-bench-{case.name}-", suffix=".oracleGeneral")
        os.close(fd)
        refs.write_oracle_general(vpn, trace_path)
    elif case.cache_pages > 0:
        info["libcachesim"] = "not installed: pip install libcachesim"
    pylist = vpn[:case.pylru_accesses].tolist() if case.pylru_accesses else None
    n_trace = len(vpn)
    del vpn
    scenarios = {v.label: tierlab.load_scenario(v.scenario) for v in case.variants}

    try:
        for r in range(rounds):
            lru_rate = None
            tier_rates: dict[str, float] = {}
            for v in case.variants:
                if r > 0 and not v.every_round:
                    continue
                dt, res, rss = _timed_tierlab(scenarios[v.label])
                acc = int(res.metrics.get("accesses", case.accesses))
                rw = row(v.label, acc)
                rw.seconds.append(dt)
                rw.peak_rss_mib = max(rw.peak_rss_mib, rss)
                rw.counters = {c: int(res.vmstat.get(c, 0)) for c in COUNTERS}
                rw.quality = f"fast-tier hits {res.metrics.get('fast_tier_hit_ratio', 0):.3f}"
                tier_rates[v.label] = acc / dt
                log(f"  [{case.name}] round {r}: {v.label}: {acc / dt / 1e6:.2f} M/s "
                    f"({dt:.2f} s, rss {rss:.0f} MiB)")
            if lcs_ok:
                for algo in ("LRU", "Clock"):
                    gc.collect()
                    reset_peak_rss()
                    dt, miss = refs.run_libcachesim(algo, trace_path, case.cache_pages)
                    rw = row(f"libCacheSim {algo}", n_trace)
                    rw.seconds.append(dt)
                    rw.peak_rss_mib = max(rw.peak_rss_mib, peak_rss_mib())
                    rw.quality = f"miss {miss:.4f}"
                    if algo == "LRU":
                        lru_rate = n_trace / dt
                    log(f"  [{case.name}] round {r}: libCacheSim {algo}: {n_trace / dt / 1e6:.2f} M/s")
            if lru_rate:
                for label, rate in tier_rates.items():
                    rows[label].ratios.append(rate / lru_rate)
            if pylist is not None and r == 0:
                gc.collect()
                reset_peak_rss()
                dt, miss = refs.run_python_lru(pylist, case.cache_pages)
                rw = row("Python OrderedDict LRU", len(pylist))
                rw.seconds.append(dt)
                rw.peak_rss_mib = peak_rss_mib()
                rw.quality = f"miss {miss:.4f}"
                rw.note = f"first {len(pylist):,} accesses"
                if lru_rate:
                    rw.ratios.append(len(pylist) / dt / lru_rate)
                log(f"  [{case.name}] python LRU: {len(pylist) / dt / 1e6:.2f} M/s")
    finally:
        if trace_path:
            refs.remove_quietly(trace_path)
    ordered = [rows[k] for k in rows if k != "workload generator alone"] + [gen]
    return ordered, info


# ------------------------------------------------------------------ targets and table

def evaluate(rows: list[Row], page_bytes: int, jit: dict[str, Any]) -> list[dict[str, Any]]:
    by = {(r.case, r.impl): r for r in rows}
    out = []

    def add(name, value, target, ok, unit=""):
        out.append({"target": name, "value": value, "goal": target, "holds": ok, "unit": unit})

    z = by.get(("zipf", "tierlab demotion"))
    if z:
        add("Zipf with demotion >= 30 M/s", z.rate / 1e6, ">= 30", z.rate >= TARGETS["zipf_rate"], "M/s")
        if z.ratio is not None:
            add("Zipf: tierlab / libCacheSim LRU >= 8x", z.ratio, ">= 8",
                z.ratio >= TARGETS["zipf_vs_lru"], "x")
        dem = z.counters.get("pgdemote_kswapd", 0) + z.counters.get("pgdemote_direct", 0)
        add("Zipf case demotes (pgdemote > 0)", dem, "> 0", dem > 0, "pages")
    u = by.get(("uniform16M", "tierlab demotion"))
    if u:
        add("uniform 16M pages >= 5 M/s", u.rate / 1e6, ">= 5", u.rate >= TARGETS["uniform_rate"], "M/s")
    add("page state < 16 B/page", page_bytes, "< 16", page_bytes < TARGETS["page_bytes"], "B")
    b = by.get(("machine64M", "tierlab demotion"))
    if b:
        add("64M-page case peak RSS < 4 GB", b.peak_rss_mib, "< 4096",
            b.peak_rss_mib < TARGETS["big_rss_mib"], "MiB")
    for label, key, tgt in (("cold", "jit_cold_s", "< 5"), ("cached", "jit_cached_s", "< 1")):
        j = jit.get(label, {})
        if "jit_s" in j and not j.get("note"):
            add(f"JIT {label} < {TARGETS[key]:g} s", j["jit_s"], tgt, j["jit_s"] < TARGETS[key], "s")
    on = by.get(("promotion", "tierlab numa_balancing=2"))
    off = by.get(("promotion", "tierlab numa_balancing=0"))
    if on and off:
        n = min(len(on.seconds), len(off.seconds))
        ratio = statistics.median(on.seconds[i] / off.seconds[i] for i in range(n))
        add("promotion on / off < 2x", ratio, "< 2", ratio < TARGETS["promo_cost"], "x")
        promo = on.counters.get("pgpromote_success", 0)
        add("promotion case promotes (pgpromote_success > 0)", promo, "> 0", promo > 0, "pages")
    return out


def _fmt_rate(x: float) -> str:
    return f"{x / 1e6:.2f}M" if x >= 1e5 else f"{x / 1e3:.1f}k"


def format_table(rows: list[Row]) -> str:
    head = ("| case | implementation | accesses | accesses/s (median) | min-max | vs libCacheSim LRU "
            "| peak RSS MiB | quality | pgdemote | pgpromote | pswpout |")
    lines = [head, "|" + "---|" * 11]
    for r in rows:
        rates = r.rates
        span = f"{_fmt_rate(min(rates))}-{_fmt_rate(max(rates))}" if len(rates) > 1 else ""
        ratio = f"{r.ratio:.2f}x" if r.ratio is not None else ""
        c = r.counters
        dem = c.get("pgdemote_kswapd", 0) + c.get("pgdemote_direct", 0) if c else ""
        lines.append(f"| {r.case} | {r.impl}{' (' + r.note + ')' if r.note else ''} | {r.accesses:,} "
                     f"| {_fmt_rate(r.rate)} | {span} | {ratio} | {r.peak_rss_mib:.0f} | {r.quality} "
                     f"| {dem if c else ''} | {c.get('pgpromote_success', '') if c else ''} "
                     f"| {c.get('pswpout', '') if c else ''} |")
    return "\n".join(lines)


def format_report(res: dict[str, Any]) -> str:
    m = res["machine"]
    out = [f"machine: {m['nproc']} CPUs, {m['cpu']}, load average {m['loadavg']} at start "
           f"-> {res.get('loadavg_end')} at end; Python {m['python']}, numpy {m['numpy']}, "
           f"numba {m['numba']}, libcachesim {m['libcachesim']}, tierlab {m['tierlab']}"
           f"{' (SMALL mode: sizes shrunk, timings meaningless)' if res['small'] else ''}", ""]
    out.append(format_table([Row(**{k: v for k, v in d.items() if k in Row.__dataclass_fields__})
                             for d in res["rows"]]))
    out.append("")
    pb = res["page_state"]
    out.append(f"page state: {sum(pb.values())} bytes/page ("
               + ", ".join(f"{k} {v}" for k, v in pb.items()) + ")")
    j = res["jit"]
    parts = []
    for label in ("cold", "cached"):
        if label in j and "jit_s" in j[label]:
            parts.append(f"{label} {j[label]['jit_s']:.2f} s (first run {j[label]['first_s']:.2f} s, "
                         f"steady {j[label]['steady_s']:.2f} s, import {j[label]['import_s']:.2f} s)"
                         + (f" [{j[label]['note']}]" if j[label].get("note") else ""))
        elif label in j:
            parts.append(f"{label}: {j[label]}")
    out.append("JIT: " + ("; ".join(parts) if parts else "not measured"))
    out.append(f"in-process JIT warm-up before timing: {res['warm_s']:.2f} s")
    out.append("")
    out.append("| target | measured | goal | holds |")
    out.append("|---|---|---|---|")
    for t in res["targets"]:
        v = t["value"]
        vs = f"{v:,.2f}" if isinstance(v, float) else f"{v:,}"
        out.append(f"| {t['target']} | {vs} {t['unit']} | {t['goal']} | {'yes' if t['holds'] else 'NO'} |")
    out.append(f"\ntotal wall time {res['wall_s']:.0f} s")
    return "\n".join(out)


def run_suite(small: bool = False, only: list[str] | None = None, jit: bool = True,
              jit_cold: bool | None = None, rounds: int | None = None, log=print) -> dict[str, Any]:
    t0 = time.perf_counter()
    res: dict[str, Any] = {"small": small, "machine": machine_info()}
    log("warming the JIT ...")
    res["warm_s"] = warm_jit()
    res["page_state"] = page_state_bytes()
    rows: list[Row] = []
    res["cases"] = {}
    for case in build_cases(small):
        if only and case.name not in only:
            continue
        log(f"case {case.name}: {case.title}")
        r, info = run_case(case, log=log, rounds=rounds)
        rows.extend(r)
        res["cases"][case.name] = info
    if jit:
        log("JIT compile times (subprocesses) ...")
        res["jit"] = measure_jit(cold=(not small) if jit_cold is None else jit_cold)
    else:
        res["jit"] = {}
    res["rows"] = [r.to_dict() for r in rows]
    res["targets"] = evaluate(rows, sum(res["page_state"].values()), res["jit"])
    res["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    res["wall_s"] = time.perf_counter() - t0
    return res
