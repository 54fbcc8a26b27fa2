"""Scenario -> what the guest does: the knobs /init writes, the kernel parameters, one memwork
command per task. Everything the guest cannot reproduce is refused here, with one
KernelrefError naming the field and the value (the command exits 2)."""

from __future__ import annotations

from dataclasses import dataclass, field

from tierlab.errors import KernelrefError, TierlabError
from tierlab.scenario import KernelConfig, MemPolicy, Scenario
from tierlab.units import PAGE_SIZE
from tierlab.workloads.base import IdleStep, PolicyStep
from tierlab.workloads.spec import build_steps
from tierlab.workloads.synthetic import FillStep, ScanStep

MIB = 1 << 20
STEP_TYPES = ("fill", "scan", "idle", "policy")
# include/uapi/linux/mempolicy.h
MPOL_MODES = {"default": 0, "preferred": 1, "bind": 2, "interleave": 3, "local": 4}
MPOL_F_NUMA_BALANCING = 1 << 13
# Guest speeds under TCG (reference/kernel-reference.md): touching runs at 60-75 MiB/s, about
# 22 MiB/s while direct reclaim demotes; the timeout assumes the slow case, then doubles.
SLOW_TOUCH_MIB_S = 20.0
SCAN_MIB_S = 200.0
BOOT_S = 15.0

# sysctl / sysfs / debugfs files /init writes, by the KernelConfig field they come from
SYSCTL = {
    "numa_balancing": "/proc/sys/kernel/numa_balancing",
    "zone_reclaim_mode": "/proc/sys/vm/zone_reclaim_mode",
    "swappiness": "/proc/sys/vm/swappiness",
    "watermark_scale_factor": "/proc/sys/vm/watermark_scale_factor",
    "min_free_kbytes": "/proc/sys/vm/min_free_kbytes",
    "lowmem_reserve_ratio": "/proc/sys/vm/lowmem_reserve_ratio",
    "numa_balancing_promote_rate_limit_MBps": "/proc/sys/kernel/numa_balancing_promote_rate_limit_MBps",
}
DEMOTION_ENABLED = "/sys/kernel/mm/numa/demotion_enabled"
LRU_GEN = "/sys/kernel/mm/lru_gen/enabled"
# kernel/sched/debug.c (v6.12): /sys/kernel/debug/sched/numa_balancing/*
DEBUGFS_NB = {
    "hot_threshold_ms": "hot_threshold_ms",
    "numa_balancing_scan_delay_ms": "scan_delay_ms",
    "numa_balancing_scan_period_min_ms": "scan_period_min_ms",
    "numa_balancing_scan_period_max_ms": "scan_period_max_ms",
    "numa_balancing_scan_size_mb": "scan_size_mb",
}
DEBUGFS_NB_DIR = "/sys/kernel/debug/sched/numa_balancing"


@dataclass(frozen=True)
class TaskPlan:
    name: str
    cpus: tuple[int, ...]           # the CPUs of the task's cpu_node (sched_setaffinity)
    pages: int                      # the task's region: its footprint
    steps: tuple[str, ...]          # memwork step arguments, see memwork.c
    est_s: float                    # a pessimistic guest run time


@dataclass(frozen=True)
class GuestPlan:
    knobs: tuple[tuple[str, str], ...]       # (file, value) written in order
    cmdline: tuple[str, ...]                 # extra kernel parameters
    tasks: tuple[TaskPlan, ...]
    swap_bytes: int = 0
    notes: tuple[str, ...] = field(default=())   # what the comparison should say about itself

    def timeout_s(self) -> float:
        """Boot + the slowest task, doubled: a guest past it is hung."""
        return 2 * (BOOT_S + max((t.est_s for t in self.tasks), default=0.0)) + 30


def node_cpus(scenario: Scenario) -> dict[int, tuple[int, ...]]:
    """CPU ids per node, numbered consecutively in node-id order as QEMU's -numa cpus= gets them."""
    out, nxt = {}, 0
    for n in scenario.nodes:
        out[n.id] = tuple(range(nxt, nxt + n.cpus))
        nxt += n.cpus
    return out


def make_plan(scenario: Scenario, classic_lru: bool = False) -> GuestPlan:
    """The guest runs the LRU the scenario's kernel.lru names (lru_gen/enabled y or n);
    ``classic_lru`` forces the classic one (kernelref() applies --lru/--classic-lru to the
    scenario first, so tierlab and the guest agree)."""
    _check_machine(scenario)
    cpus = node_cpus(scenario)
    tasks = tuple(_task_plan(scenario, i, cpus) for i in range(len(scenario.tasks)))
    lru = "classic" if classic_lru else scenario.kernel.lru
    notes = [
        f"guest LRU: {'classic (lru_gen n)' if lru == 'classic' else 'MGLRU (lru_gen y = 0x0007)'}; "
        f"tierlab models {'the classic LRU' if scenario.kernel.lru == 'classic' else 'MGLRU'} "
        "(kernel.lru)",
        "the kswapd/direct split moves between kernel runs (+-10% in the reference, more on a "
        "busy host); compare pgdemote (kswapd + direct)",
    ]
    if scenario.kernel.profile != "v6.12":
        notes.append(f"scenario profile {scenario.kernel.profile}: tierlab follows it, the guest "
                     "runs 6.12")
    return GuestPlan(knobs=_knobs(scenario.kernel, lru == "classic"),
                     cmdline=(f"transparent_hugepage={scenario.kernel.transparent_hugepage}",),
                     tasks=tasks, swap_bytes=scenario.swap.size, notes=tuple(notes))


def _fail(scenario: Scenario, path: str, value: object, why: str):
    raise KernelrefError(f"{scenario.source}: {path} = {value!r}: {why}")


def _check_machine(s: Scenario) -> None:
    ids = [n.id for n in s.nodes]
    if ids != list(range(len(ids))):
        _fail(s, "node[*].id", ids, "kernelref needs node ids 0..N-1 (QEMU numbers nodes densely)")
    for i, n in enumerate(s.nodes):
        if n.memory % MIB:
            _fail(s, f"node[{i}].memory", n.memory, "the guest's memory backends are whole MiB")
        if n.movable:
            _fail(s, f"node[{i}].movable", True, "kernelref onlines all memory at boot; "
                  "ZONE_MOVABLE nodes are not supported")
        if n.driver == "kmem" and not (s.hmat and s.kernel.profile == "v6.12"):
            # with HMAT on 6.12 dax/kmem asks mt_perf_to_adistance() first: same tier as boot memory
            _fail(s, f"node[{i}].driver", "kmem", "the guest onlines every node as boot memory; "
                  "without HMAT a dax/kmem node would sit in another tier (use driver = "
                  "\"firmware\", or hmat = true with profile v6.12)")
    if s.memcgs:
        _fail(s, "memcg[0].name", s.memcgs[0].name, "kernelref does not set up memory cgroups")
    if s.files:
        _fail(s, "file[0].name", s.files[0].name, "kernelref runs anonymous-memory workloads only")


def _knobs(k: KernelConfig, classic_lru: bool) -> tuple[tuple[str, str], ...]:
    """Every knob the scenario pins. numa_balancing is always written: Debian builds with
    NUMA_BALANCING_DEFAULT_ENABLED, so a 2-node guest boots with 1. Knobs left at the kernel's
    default are written only when the guest might differ (min_free_kbytes: only if set)."""
    d = KernelConfig()
    out = [(DEMOTION_ENABLED, "true" if k.demotion_enabled else "false"),
           (SYSCTL["numa_balancing"], str(k.numa_balancing)),
           (SYSCTL["zone_reclaim_mode"], str(k.zone_reclaim_mode)),
           (SYSCTL["swappiness"], str(k.swappiness)),
           (SYSCTL["watermark_scale_factor"], str(k.watermark_scale_factor))]
    if k.min_free_kbytes is not None:
        out.append((SYSCTL["min_free_kbytes"], str(k.min_free_kbytes)))
    if k.lowmem_reserve_ratio != d.lowmem_reserve_ratio:
        out.append((SYSCTL["lowmem_reserve_ratio"], " ".join(map(str, k.lowmem_reserve_ratio))))
    if k.numa_balancing_promote_rate_limit_MBps != d.numa_balancing_promote_rate_limit_MBps:
        out.append((SYSCTL["numa_balancing_promote_rate_limit_MBps"],
                    str(k.numa_balancing_promote_rate_limit_MBps)))
    for fld, name in DEBUGFS_NB.items():
        if getattr(k, fld) != getattr(d, fld):
            out.append((f"{DEBUGFS_NB_DIR}/{name}", str(getattr(k, fld))))
    # Debian's 6.12 boots with MGLRU on (0x0007): pin the scenario's choice either way
    out.append((LRU_GEN, "n" if classic_lru else "y"))
    return tuple(out)


def policy_arg(p: MemPolicy) -> str:
    """memwork's p: step: set_mempolicy(mode | flags, nodemask)."""
    mask = sum(1 << n for n in p.nodes)
    flags = MPOL_F_NUMA_BALANCING if p.balancing else 0
    return f"p:{MPOL_MODES[p.mode]}:{mask:x}:{flags}"


def _task_plan(s: Scenario, i: int, cpus: dict[int, tuple[int, ...]]) -> TaskPlan:
    task = s.tasks[i]
    if task.memcg is not None:
        _fail(s, f"task[{i}].memcg", task.memcg, "kernelref does not set up memory cgroups")
    steps: list[str] = []
    if task.start_s:
        steps.append(f"w:{round(task.start_s * 1000)}")
    steps.append(policy_arg(task.mempolicy))
    pages, est = 0, 0.0
    for j, raw in enumerate(task.workload):
        where = f"task[{i}].workload[{j}]"
        kind = raw.get("type")
        if kind not in STEP_TYPES:
            _fail(s, f"{where}.type", kind, "the guest program runs fill, scan, idle and policy "
                  "steps on anonymous memory only")
        for key, why in (("file", "the guest touches anonymous memory only"),
                         ("think_ns", "the guest program does not pace its accesses")):
            if raw.get(key):
                _fail(s, f"{where}.{key}", raw[key], why)
        try:
            built = build_steps((raw,), s.seed, f"{s.source}: {where}")
        except TierlabError as e:
            raise KernelrefError(str(e)) from None
        for st in built:
            arg, st_pages, st_est = _step_arg(s, where, st)
            steps.append(arg)
            pages, est = max(pages, st_pages), est + st_est
    return TaskPlan(name=task.name, cpus=cpus[task.cpu_node], pages=pages, steps=tuple(steps),
                    est_s=est)


def _ms(duration_ns: float | None) -> int:
    return 0 if duration_ns is None else max(1, round(duration_ns / 1e6))


def _step_arg(s: Scenario, where: str, st) -> tuple[str, int, float]:
    """(memwork argument, pages the step needs, a pessimistic guest time in s)."""
    if isinstance(st, PolicyStep):
        return policy_arg(st.mempolicy), 0, 0.0
    if isinstance(st, IdleStep):
        return f"i:{_ms(st.duration_ns)}", 0, st.duration_ns / 1e9
    if st.write_ratio not in (0.0, 1.0):
        _fail(s, f"{where}.write_ratio", st.write_ratio, "the guest reads or writes every page: "
              "use 0 or 1")
    write = int(st.write_ratio == 1.0)
    mib = st.pages * PAGE_SIZE / MIB
    if isinstance(st, FillStep):
        est = mib / SLOW_TOUCH_MIB_S
        if st.duration_ns:
            est = min(est, st.duration_ns / 1e9)
        return f"f:{st.offset}:{st.pages}:{write}:{_ms(st.duration_ns)}", st.footprint, est
    if isinstance(st, ScanStep):
        est = mib / SLOW_TOUCH_MIB_S + (st.passes or 0) * mib / SCAN_MIB_S
        if st.duration_ns:
            est = st.duration_ns / 1e9 + mib / SLOW_TOUCH_MIB_S
        return (f"s:{st.offset}:{st.pages}:{st.passes or 0}:{_ms(st.duration_ns)}:{write}",
                st.footprint, est)
    _fail(s, where, type(st).__name__, "not a step the guest program runs")
