"""Memory tiers (v6.1+, mm/memory-tiers.c): abstract distance per node, tiers of 128, demotion
targets, toptier (reference/kernel-spec.md 1.5, 1.6).

Where a node's abstract distance comes from, per profile:
- v6.1: no HMAT algorithm. dax/kmem nodes get MEMTIER_DEFAULT_DAX_ADISTANCE (2880), every
  other node the default DRAM type (576).
- v6.12 with HMAT: every node is placed by mt_perf_to_adistance() against the default DRAM
  numbers (first CPU+memory node; the algorithm is off if another CPU+memory node differs by
  more than 10 % in any number). From v6.10/v6.11 the boot-time assignment runs at
  late_initcall, after HMAT is parsed, for CPU and CPU-less nodes alike; dax/kmem also asks
  the algorithm first. Without HMAT (or with the algorithm off): kmem 2880, others 576.
"""

from __future__ import annotations

from tierlab.topology.demotion_order import Numa, find_next_best_node

MEMTIER_CHUNK_BITS = 7
MEMTIER_CHUNK_SIZE = 1 << MEMTIER_CHUNK_BITS
MEMTIER_ADISTANCE_DRAM = 4 * MEMTIER_CHUNK_SIZE + MEMTIER_CHUNK_SIZE // 2   # 576
MEMTIER_DEFAULT_DAX_ADISTANCE = MEMTIER_ADISTANCE_DRAM * 5                  # 2880


def hmat_perf(node) -> tuple[int, int, int, int]:
    """access_coordinate as HMAT reports it: latencies in ns, bandwidths in MB/s (integers)."""
    return (int(round(node.read_latency_ns)), int(round(node.write_latency_ns)),
            int(node.read_bandwidth // 1_000_000), int(node.write_bandwidth // 1_000_000))


# hmat_set_default_dram_perf() -> mt_set_default_dram_perf() (drivers/acpi/numa/hmat.c, mm/memory-tiers.c, v6.12)
def default_dram_perf(nodes) -> tuple[int, int, int, int] | None:
    """Reference numbers from the first CPU+memory node, or None when another CPU+memory
    node differs by more than 10 % in any of the four numbers (algorithm disabled)."""
    ref = None
    for n in sorted(nodes, key=lambda n: n.id):
        if n.cpus <= 0 or n.memory <= 0:
            continue
        perf = hmat_perf(n)
        if ref is None:
            ref = perf
        elif any(abs(p - r) * 10 > r for p, r in zip(perf, ref)):
            return None
    return ref


# mt_perf_to_adistance() (mm/memory-tiers.c, v6.12): integer, evaluated left to right
def mt_perf_to_adistance(perf, dram) -> int | None:
    rl, wl, rb, wb = perf
    drl, dwl, drb, dwb = dram
    if rl + wl == 0 or rb + wb == 0:
        return None
    return MEMTIER_ADISTANCE_DRAM * (rl + wl) // (drl + dwl) * (drb + dwb) // (rb + wb)


# set_node_memory_tier() / dev_dax_kmem_probe() (mm/memory-tiers.c, drivers/dax/kmem.c, v6.1 and v6.12)
def node_adistance(nodes, profile: str, hmat: bool) -> dict[int, int]:
    """Abstract distance of every memory node; {} for profiles before memory tiers (v6.1)."""
    if profile not in ("v6.1", "v6.12"):
        return {}
    dram = default_dram_perf(nodes) if (hmat and profile == "v6.12") else None
    out = {}
    for n in sorted(nodes, key=lambda n: n.id):
        if n.memory <= 0:
            continue
        adist = mt_perf_to_adistance(hmat_perf(n), dram) if dram else None
        if adist is None:
            adist = MEMTIER_DEFAULT_DAX_ADISTANCE if n.driver == "kmem" else MEMTIER_ADISTANCE_DRAM
        out[n.id] = adist
    return out


def memtier_id(adist: int) -> int:
    """memory_tier<id> of an abstract distance: its 128-wide chunk (adistance_start >> 7)."""
    return adist >> MEMTIER_CHUNK_BITS


# establish_demotion_targets() + node_is_toptier() (mm/memory-tiers.c, v6.1..v6.12)
def establish_demotion_targets(numa: Numa, tier: dict[int, int], node_load: dict[int, int] | None = None
                               ) -> tuple[dict[int, tuple[int, ...]], dict[int, tuple[int, ...]], frozenset[int]]:
    """(preferred, allowed, toptier). preferred: the nearest nodes of the next slower tier
    (sources may share them); allowed = lower_tier_mask: every node of a strictly slower tier;
    toptier: nodes whose tier is at or above the slowest tier that holds a CPU node."""
    tiers = sorted(set(tier.values()))
    members = {t: {n for n, tn in tier.items() if tn == t} for t in tiers}
    mem = set(tier)
    preferred: dict[int, tuple[int, ...]] = {}
    allowed: dict[int, tuple[int, ...]] = {}
    for node in sorted(tier):
        pos = tiers.index(tier[node])
        allowed[node] = tuple(sorted(n for t in tiers[pos + 1:] for n in members[t]))
        if pos == len(tiers) - 1:
            preferred[node] = ()
            continue
        used = mem - members[tiers[pos + 1]]   # skip list: all but the next slower tier
        picked, best = [], None
        while (t := find_next_best_node(node, used, numa, node_load)) is not None:
            d = numa.dist(node, t)
            if best is not None and d != best:
                break
            picked.append(t)
            best = d
        preferred[node] = tuple(sorted(picked))
    # walk tiers slowest to fastest: the first holding a CPU node bounds the top tier
    top = next((t for t in reversed(tiers) if members[t] & numa.cpu), None)
    toptier = frozenset(n for n in numa.ids if n not in tier or top is None or tier[n] <= top)
    return preferred, allowed, toptier
