"""Scenario -> Machine: zones, watermarks, zonelists, memory tiers and demotion targets, each
computed by the module named after the kernel code it follows."""

from __future__ import annotations

from tierlab.topology.demotion_order import Numa, build_zonelists, set_migration_target_nodes
from tierlab.topology.machine import Machine, Zone
from tierlab.topology.memory_tiers import establish_demotion_targets, memtier_id, node_adistance
from tierlab.topology.watermarks import (ZoneInput, init_per_zone_wmark_min,
                                         setup_per_zone_lowmem_reserve)
from tierlab.topology.zones import free_area_init


def build_machine(scenario) -> Machine:
    """The machine the kernel of ``scenario.kernel.profile`` would set up at boot."""
    kernel = scenario.kernel
    profile = kernel.profile
    nodes = tuple(sorted(scenario.nodes, key=lambda n: n.id))
    spans = free_area_init(nodes)
    zin = [ZoneInput(s.node, s.type, s.managed) for s in spans]
    min_free_kbytes, wmarks = init_per_zone_wmark_min(zin, kernel)
    reserve = setup_per_zone_lowmem_reserve(zin, kernel.lowmem_reserve_ratio)
    zones = tuple(Zone(node=s.node, type=s.type, present=s.present, managed=s.managed,
                       min=w.min, low=w.low, high=w.high, promo=w.promo,
                       lowmem_reserve=r, kernel_used=s.kernel_used)
                  for s, w, r in zip(spans, wmarks, reserve))

    numa = Numa.from_nodes(nodes, scenario.distance)
    zonelist, node_load = build_zonelists(numa, profile)
    adistance = node_adistance(nodes, profile, scenario.hmat)
    if adistance:
        tier = {n: memtier_id(a) for n, a in adistance.items()}
        preferred, allowed, toptier = establish_demotion_targets(numa, tier, node_load)
    else:
        tier = {}
        preferred = _rfc_targets(nodes, numa, node_load, profile)
        allowed = dict(preferred)
        toptier = numa.cpu            # node_is_toptier() before memory tiers: node has CPUs (v5.18)
    for n in numa.ids:                # every node gets an entry; memoryless nodes are terminal
        preferred.setdefault(n, ())
        allowed.setdefault(n, ())
    return Machine(nodes=nodes, distance=tuple(tuple(r) for r in scenario.distance), zones=zones,
                   zonelist=zonelist, adistance=adistance, tier=tier,
                   demotion_preferred=preferred, demotion_allowed=allowed,
                   toptier=frozenset(toptier), min_free_kbytes=min_free_kbytes, profile=profile)


def _rfc_targets(nodes, numa, node_load, profile):
    # RFC 2020 computes node_demotion[] only from the memory-hotplug notifier (MEM_ONLINE):
    # with only boot (firmware) memory the map stays empty. v5.15 also runs it at boot (cpuhp).
    if profile == "rfc-2020" and not any(n.driver == "kmem" for n in nodes):
        return {n: () for n in numa.ids}
    return set_migration_target_nodes(numa, node_load, profile)
