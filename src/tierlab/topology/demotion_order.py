"""Node order from SLIT distances: the zonelist fallback order (build_zonelists) and the
pre-memory-tiers demotion order (RFC 2020 / v5.15 set_migration_target_nodes), both built on
find_next_best_node() (reference/kernel-spec.md 1.2, 1.3, 1.7).

``node_load`` is replayed, not assumed 0: __build_all_zonelists() zeroes it, every node's
zonelist build bumps it for the first node of each new distance group, and the later callers
(demotion target setup) see what the last build left. It only breaks exact score ties, so on
topologies without ties it changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierlab.topology.machine import kernel_version

PENALTY_FOR_NODE_WITH_CPUS = 1


@dataclass(frozen=True)
class Numa:
    """The node facts the ordering algorithms read: ids, N_CPU, N_MEMORY, SLIT."""

    ids: tuple[int, ...]               # ascending
    cpu: frozenset[int]                # N_CPU
    memory: frozenset[int]             # N_MEMORY
    slit: tuple[tuple[int, ...], ...]  # rows/columns in the order of ids

    @classmethod
    def from_nodes(cls, nodes, distance) -> "Numa":
        nodes = sorted(nodes, key=lambda n: n.id)
        return cls(tuple(n.id for n in nodes),
                   frozenset(n.id for n in nodes if n.cpus > 0),
                   frozenset(n.id for n in nodes if n.memory > 0),
                   tuple(tuple(r) for r in distance))

    def dist(self, a: int, b: int) -> int:
        """node_distance(a, b)."""
        return self.slit[self.ids.index(a)][self.ids.index(b)]


# find_next_best_node() (mm/page_alloc.c, v6.12; the local-node memory check is v6.7+)
def find_next_best_node(node: int, used: set[int], numa: Numa,
                        node_load: dict[int, int] | None = None,
                        skip_memoryless_local: bool = True) -> int | None:
    """Best memory node not in ``used``; adds it to ``used`` (even if the caller rejects it)."""
    if node not in used and (node in numa.memory or not skip_memoryless_local):
        used.add(node)
        return node
    load = node_load or {}
    best, best_val = None, None
    for n in numa.ids:
        if n not in numa.memory or n in used:
            continue
        val = numa.dist(node, n) + (1 if n < node else 0)
        val += PENALTY_FOR_NODE_WITH_CPUS if n in numa.cpu else 0
        key = (val, load.get(n, 0))     # val * MAX_NUMNODES + node_load[n]
        if best_val is None or key < best_val:   # strict: the lowest id wins a tie
            best, best_val = n, key
    if best is not None:
        used.add(best)
    return best


# build_zonelists() node order + __build_all_zonelists() node_load (mm/page_alloc.c;
# accumulated load v5.16+ "use accumulated load when building node fallback list", before: load countdown)
def build_zonelists(numa: Numa, profile: str) -> tuple[dict[int, tuple[int, ...]], dict[int, int]]:
    """Fallback node order for every node, and the node_load the last build leaves behind."""
    version = kernel_version(profile)
    accumulate = version >= (5, 16)
    skip_memoryless = version >= (6, 7)
    node_load = {n: 0 for n in numa.ids}
    zonelists: dict[int, tuple[int, ...]] = {}
    for local in numa.ids:                       # for_each_online_node()
        used: set[int] = set()
        order: list[int] = []
        prev, load = local, len(numa.ids)
        while (node := find_next_best_node(local, used, numa, node_load, skip_memoryless)) is not None:
            # "penalty to the first node in same distance group to make it round-robin"
            if numa.dist(local, node) != numa.dist(local, prev):
                node_load[node] = node_load[node] + 1 if accumulate else load
            order.append(node)
            prev = node
            load -= 1
        zonelists[local] = tuple(n for n in order if n in numa.memory)
    return zonelists, node_load


# __set_migration_target_nodes() + establish_migrate_target() (mm/migrate.c, RFC 2020 / v5.15)
def set_migration_target_nodes(numa: Numa, node_load: dict[int, int] | None = None,
                               profile: str = "v5.15") -> dict[int, tuple[int, ...]]:
    """node_demotion[]: one target per source at most, each node the target of at most one
    source, passes starting from the CPU nodes (chains possible, no cycles)."""
    skip_memoryless = kernel_version(profile) >= (6, 7)
    demote: dict[int, int | None] = {n: None for n in numa.ids}
    used: set[int] = set()
    next_pass = set(numa.cpu)      # "Allocations go close to CPUs, first."
    while next_pass:
        this_pass, next_pass = next_pass, set()
        used |= this_pass          # sources of this pass can never become targets
        for src in sorted(this_pass):
            if demote[src] is not None:
                continue
            target = find_next_best_node(src, used, numa, node_load, skip_memoryless)
            if target is None:
                continue
            demote[src] = target
            next_pass.add(target)
    return {n: (t,) if t is not None else () for n, t in demote.items()}
