"""The scenario: what machine, which kernel and knobs, which tasks do what.

A scenario comes from a TOML file or a dict (``load_scenario``) and is resolved into frozen
dataclasses with every default filled in as the kernel has it. Every field is documented in
docs/scenario.md. Errors name the file, the field and the value (``ScenarioError``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

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
    lru: str = "classic"                    # classic (MGLRU later)


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
    seed: int = 0
    name: str = "scenario"
    source: str = "<dict>"                  # file the scenario came from, for error messages

    def node(self, nid: int) -> NodeSpec:
        for n in self.nodes:
            if n.id == nid:
                return n
        raise KeyError(nid)

    def to_dict(self) -> dict[str, Any]:
        """The resolved scenario, every default filled in (goes into the result JSON)."""
        raise NotImplementedError


def load_scenario(src: Any) -> Scenario:
    """Load a scenario from a TOML path, a TOML string or a dict; raise ScenarioError on bad input."""
    raise NotImplementedError
