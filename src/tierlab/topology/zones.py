"""Zone layout of each node: which physical range a node covers, how it splits into zones,
how many pages of each zone the buddy allocator manages.

The model (x86-64, simplified):
- nodes are laid out contiguously in node-id order from physical address 0 (no PCI hole);
- ZONE_DMA = [0, 16 MiB), ZONE_DMA32 = [16 MiB, 4 GiB), ZONE_NORMAL above;
- a node onlined movable (dax/kmem ``online_movable``) is one ZONE_MOVABLE zone;
- the node's ``reserved`` bytes (memmap, kernel image, firmware) are taken from its zones in
  proportion to their size; the rest is ``managed``;
- ``kernel_memory`` (slab, page tables, ... at start, never reclaimed) is used in the node's
  highest zone, overflowing into the next lower zone if that zone is too small;
- an explicit ``zones`` table on the node (managed pages per zone type, as /proc/zoneinfo
  reports them) replaces the proportional split, so a real machine can be copied exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from tierlab.topology.machine import ZONE_TYPES
from tierlab.units import PAGE_SHIFT

MAX_DMA_PFN = (16 << 20) >> PAGE_SHIFT      # arch/x86/include/asm/dma.h MAX_DMA_PFN
MAX_DMA32_PFN = (4 << 30) >> PAGE_SHIFT     # arch/x86/include/asm/dma.h MAX_DMA32_PFN

# upper pfn limit of each non-movable zone type (zone_sizes_init(), arch/x86/mm/init.c)
_ZONE_LIMITS = (("DMA", MAX_DMA_PFN), ("DMA32", MAX_DMA32_PFN), ("NORMAL", 1 << 62))


@dataclass(frozen=True)
class ZoneSpan:
    """One populated zone before watermarks: where it is and what it manages."""

    node: int
    type: str
    start_pfn: int
    present: int              # pages spanned (no holes in this model)
    managed: int              # pages given to the buddy allocator
    kernel_used: int = 0      # pages of managed already used by the kernel at start


def node_start_pfns(nodes) -> dict[int, int]:
    """First pfn of every node: nodes follow each other from pfn 0 in id order."""
    start, out = 0, {}
    for n in sorted(nodes, key=lambda n: n.id):
        out[n.id] = start
        start += n.memory >> PAGE_SHIFT
    return out


# follows zone_sizes_init() + calculate_node_totalpages() (arch/x86/mm/init.c, mm/mm_init.c, v6.12)
def zone_spans(node, start_pfn: int) -> list[tuple[str, int, int]]:
    """(zone type, start pfn, present pages) of a node's zones from its physical range."""
    npages = node.memory >> PAGE_SHIFT
    if npages == 0:
        return []
    end_pfn = start_pfn + npages
    if node.movable:
        return [("MOVABLE", start_pfn, npages)]
    out, lo = [], 0
    for ztype, hi in _ZONE_LIMITS:
        s, e = max(start_pfn, lo), min(end_pfn, hi)
        if e > s:
            out.append((ztype, s, e - s))
        lo = hi
    return out


def _split_reserved(present: list[int], reserved_pages: int) -> list[int]:
    """Reserved pages per zone, proportional to zone size; the highest zone takes the remainder."""
    total = sum(present)
    shares = [reserved_pages * p // total for p in present[:-1]]
    shares.append(reserved_pages - sum(shares))
    return shares


def _place_kernel_used(managed: list[int], kernel_pages: int) -> list[int]:
    """Kernel pages go to the highest zone first, then downwards (the page allocator's zonelist
    walks a node's zones from highest to lowest, so early kernel allocations land there)."""
    used = [0] * len(managed)
    for i in reversed(range(len(managed))):
        take = min(kernel_pages, managed[i])
        used[i] = take
        kernel_pages -= take
    return used


# follows free_area_init() / memmap_init() + memblock_free_all() accounting (mm/mm_init.c, v6.12)
def free_area_init(nodes) -> tuple[ZoneSpan, ...]:
    """Every populated zone of every node, ordered by node id then zone type (DMA..MOVABLE)."""
    starts = node_start_pfns(nodes)
    out: list[ZoneSpan] = []
    for node in sorted(nodes, key=lambda n: n.id):
        spans = zone_spans(node, starts[node.id])
        if node.zones:
            spans = _explicit_spans(node, spans)
            managed = [m for _, _, _, m in spans]
        else:
            reserved = _split_reserved([p for _, _, p in spans], node.reserved >> PAGE_SHIFT) if spans else []
            managed = [p - r for (_, _, p), r in zip(spans, reserved)]
            spans = [(t, s, p, m) for (t, s, p), m in zip(spans, managed)]
        kernel = _place_kernel_used(managed, -(-node.kernel_memory >> PAGE_SHIFT))
        for (ztype, s, p, m), k in zip(spans, kernel):
            out.append(ZoneSpan(node.id, ztype, s, p, m, k))
    return tuple(out)


def _explicit_spans(node, layout) -> list[tuple[str, int, int, int]]:
    """Zones given explicitly (managed pages per type): present comes from the address layout
    when that zone type is there and large enough, else present = managed."""
    by_type = {t: (s, p) for t, s, p in layout}
    given = dict(node.zones)
    out = []
    for ztype in ZONE_TYPES:
        if ztype not in given or given[ztype] == 0:
            continue
        s, p = by_type.get(ztype, (0, 0))
        out.append((ztype, s, p if p >= given[ztype] else given[ztype], given[ztype]))
    return out
