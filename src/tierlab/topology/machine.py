"""The resolved machine the kernel model runs on: zones with watermarks, zonelists, tiers and
demotion targets, all computed from a Scenario as the kernel of its profile computes them.

Contract used by the kernel model (tierlab.kernel, tierlab.engine):
- ``zones``: every populated zone, ordered by node id, then zone type low to high
  (DMA, DMA32, NORMAL, MOVABLE). Indexes into this tuple are "zone ids".
- ``zonelist[nid]``: node ids in allocation fallback order for an allocation preferring
  ``nid`` (build_zonelists(): local first, then find_next_best_node()).
  The zone walk is: for node in zonelist[nid]: for zone of node from highest type to lowest.
- ``demotion_preferred[nid]``: preferred demotion targets (next_demotion_node picks one);
  ``demotion_allowed[nid]``: all nodes a demotion from nid may fall back to (v6.1+
  lower_tier_mask; equal to preferred for rfc-2020/v5.15). Empty = terminal node.
- ``toptier``: nodes for which node_is_toptier() is true.
"""

from __future__ import annotations

from dataclasses import dataclass

ZONE_TYPES = ("DMA", "DMA32", "NORMAL", "MOVABLE")

# Kernel version each profile follows; rules that changed between versions compare against it.
# (The topology layer keeps its own table so it never imports tierlab.scenario, a floor above.)
KERNEL_VERSIONS = {"rfc-2020": (5, 8), "v5.15": (5, 15), "v6.1": (6, 1), "v6.12": (6, 12)}


def kernel_version(profile: str) -> tuple[int, int]:
    """(major, minor) of the kernel a profile follows."""
    return KERNEL_VERSIONS[profile]


@dataclass(frozen=True)
class Zone:
    node: int
    type: str                 # one of ZONE_TYPES
    present: int              # pages
    managed: int              # pages managed by the buddy allocator (at watermark setup)
    min: int                  # WMARK_MIN, pages
    low: int                  # WMARK_LOW
    high: int                 # WMARK_HIGH
    promo: int                # WMARK_PROMO (v5.18+; == high on older profiles)
    lowmem_reserve: int       # lowmem_reserve[ZONE_MOVABLE]: what a user-page allocation must leave
    kernel_used: int = 0      # pages used by the kernel at start (never reclaimed)


@dataclass(frozen=True)
class Machine:
    nodes: tuple                          # NodeSpec, ascending id
    distance: tuple                       # SLIT rows, indexed by node position
    zones: tuple[Zone, ...]
    zonelist: dict[int, tuple[int, ...]]
    adistance: dict[int, int]             # memory-tiers abstract distance (v6.1+), else {}
    tier: dict[int, int]                  # memory_tier<id> per node (v6.1+), else {}
    demotion_preferred: dict[int, tuple[int, ...]]
    demotion_allowed: dict[int, tuple[int, ...]]
    toptier: frozenset[int]
    min_free_kbytes: int
    profile: str
