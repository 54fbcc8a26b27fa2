"""vmstat counters, named exactly as /proc/vmstat names them.

Counters live in one int64 array ``vmstat[node, item]`` inside the compiled model and are
bumped at the one place the event happens, on the node the kernel charges it to. The global
value of an item is the sum over nodes (events the kernel keeps per CPU are charged to the
node of the CPU that did the work). ``NODE_STATS`` lists the items the kernel also shows per
node in /sys/devices/system/node/nodeN/vmstat (6.12); only those go into ``node_vmstat``.
"""

from __future__ import annotations

ITEMS = (
    # allocation locality (zone_statistics(), mm/vmstat.c)
    "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    "pgalloc_dma", "pgalloc_dma32", "pgalloc_normal", "pgalloc_movable", "pgfree",
    "pgfault",
    # reclaim (mm/vmscan.c)
    "pgscan_kswapd", "pgscan_direct", "pgscan_anon", "pgscan_file",
    "pgsteal_kswapd", "pgsteal_direct", "pgsteal_anon", "pgsteal_file",
    "pgrefill", "pgactivate", "pgdeactivate", "pgrotated", "pageoutrun",
    "allocstall_dma", "allocstall_dma32", "allocstall_normal", "allocstall_movable",
    "kswapd_low_wmark_hit_quickly", "kswapd_high_wmark_hit_quickly",
    "pswpin", "pswpout", "pgpgin", "pgpgout",
    "workingset_refault_anon", "workingset_refault_file",
    "workingset_activate_anon", "workingset_activate_file",
    # tiering (demotion, migration, NUMA balancing)
    "pgdemote_kswapd", "pgdemote_direct",
    "pgpromote_success", "pgpromote_candidate",
    "pgmigrate_success", "pgmigrate_fail",
    "numa_pte_updates", "numa_hint_faults", "numa_hint_faults_local", "numa_pages_migrated",
    "oom_kill",
    # not in /proc/vmstat: the tracepoint mm_vmscan_kswapd_wake, counted per wake-up
    "kswapd_wake",
    "zone_reclaim_failed",
    "pgmajfault",
)

NODE_STATS = frozenset((
    "numa_hit", "numa_miss", "numa_foreign", "numa_interleave", "numa_local", "numa_other",
    "workingset_refault_anon", "workingset_refault_file",
    "workingset_activate_anon", "workingset_activate_file",
    "pgdemote_kswapd", "pgdemote_direct", "pgpromote_success", "pgpromote_candidate",
))

# Compile-time indexes: numba folds these module globals into constants.
NUMA_HIT, NUMA_MISS, NUMA_FOREIGN, NUMA_INTERLEAVE, NUMA_LOCAL, NUMA_OTHER = range(6)
PGALLOC_DMA, PGALLOC_DMA32, PGALLOC_NORMAL, PGALLOC_MOVABLE, PGFREE = range(6, 11)
PGFAULT = 11
PGSCAN_KSWAPD, PGSCAN_DIRECT, PGSCAN_ANON, PGSCAN_FILE = range(12, 16)
PGSTEAL_KSWAPD, PGSTEAL_DIRECT, PGSTEAL_ANON, PGSTEAL_FILE = range(16, 20)
PGREFILL, PGACTIVATE, PGDEACTIVATE, PGROTATED, PAGEOUTRUN = range(20, 25)
ALLOCSTALL_DMA = 25      # + zone type: allocstall_{dma,dma32,normal,movable}
KSWAPD_LOW_WMARK_HIT_QUICKLY, KSWAPD_HIGH_WMARK_HIT_QUICKLY = 29, 30
PSWPIN, PSWPOUT, PGPGIN, PGPGOUT = range(31, 35)
WORKINGSET_REFAULT_ANON, WORKINGSET_REFAULT_FILE = 35, 36
WORKINGSET_ACTIVATE_ANON, WORKINGSET_ACTIVATE_FILE = 37, 38
PGDEMOTE_KSWAPD, PGDEMOTE_DIRECT = 39, 40
PGPROMOTE_SUCCESS, PGPROMOTE_CANDIDATE = 41, 42
PGMIGRATE_SUCCESS, PGMIGRATE_FAIL = 43, 44
NUMA_PTE_UPDATES, NUMA_HINT_FAULTS, NUMA_HINT_FAULTS_LOCAL, NUMA_PAGES_MIGRATED = range(45, 49)
OOM_KILL = 49
KSWAPD_WAKE = 50
ZONE_RECLAIM_FAILED = 51
PGMAJFAULT = 52
NR_ITEMS = len(ITEMS)

assert ITEMS[ALLOCSTALL_DMA] == "allocstall_dma" and ITEMS[KSWAPD_WAKE] == "kswapd_wake"
assert ITEMS[PGDEMOTE_KSWAPD] == "pgdemote_kswapd" and ITEMS[OOM_KILL] == "oom_kill"
assert ITEMS[NUMA_PAGES_MIGRATED] == "numa_pages_migrated" and ITEMS[PSWPIN] == "pswpin"
assert ITEMS[PGMAJFAULT] == "pgmajfault"


def totals(vmstat) -> dict[str, int]:
    """Global counters: the sum over nodes."""
    s = vmstat.sum(axis=0)
    return {name: int(s[i]) for i, name in enumerate(ITEMS)}


def per_node(vmstat, node_ids) -> dict[str, dict[str, int]]:
    """Per-node counters, only the items the kernel keeps per node."""
    return {str(nid): {name: int(vmstat[k, i]) for i, name in enumerate(ITEMS) if name in NODE_STATS}
            for k, nid in enumerate(node_ids)}
