"""min_free_kbytes, per-zone watermarks and lowmem_reserve, as mm/page_alloc.c computes them
(reference/kernel-spec.md 2.5).

Order at boot, which this module replays (``init_per_zone_wmark_min``):
1. ``calculate_min_free_kbytes()`` from the lowmem pages (watermarks are still 0 then, so
   nr_free_buffer_pages() = all managed pages of zones <= NORMAL);
2. ``setup_per_zone_wmarks()`` and ``setup_per_zone_lowmem_reserve()``;
3. khugepaged's ``set_recommended_min_free_kbytes()`` when THP is not ``never`` (its 5 % cap
   reads nr_free_buffer_pages() with the step-2 HIGH marks), then the watermarks again.
A ``min_free_kbytes`` written by the user is kept when it is larger than the computed value
(kernel-spec 2.5: ``calculate_min_free_kbytes()`` keeps ``user_min_free_kbytes`` if larger); the
khugepaged recommendation still raises it, as at every recompute (boot, memory hotplug).
"""

from __future__ import annotations

from math import isqrt
from typing import NamedTuple, Sequence

from tierlab.topology.machine import ZONE_TYPES, kernel_version
from tierlab.units import PAGE_SHIFT

PAGEBLOCK_NR_PAGES = 512        # x86-64: pageblock_order = PMD order 9
MIGRATE_PCPTYPES = 3            # UNMOVABLE, MOVABLE, RECLAIMABLE
SWAP_CLUSTER_MAX = 32
_LOWMEM = ("DMA", "DMA32", "NORMAL")   # zones <= gfp_zone(GFP_USER)


class Watermarks(NamedTuple):
    min: int
    low: int
    high: int
    promo: int


class ZoneInput(NamedTuple):
    """What the watermark code reads of a zone."""

    node: int
    type: str
    managed: int


def nr_free_buffer_pages(zones: Sequence[ZoneInput], wmarks: Sequence[Watermarks] | None = None) -> int:
    # nr_free_zone_pages(gfp_zone(GFP_USER)) (mm/page_alloc.c, v6.12): managed above HIGH, zones <= NORMAL
    highs = [w.high for w in wmarks] if wmarks else [0] * len(zones)
    return sum(max(z.managed - h, 0) for z, h in zip(zones, highs) if z.type in _LOWMEM)


# calculate_min_free_kbytes() (mm/page_alloc.c, v6.12; clamp max 262144 since v5.7)
def calculate_min_free_kbytes(lowmem_kbytes: int, user_min_free_kbytes: int | None = None) -> int:
    new = isqrt(lowmem_kbytes * 16)
    if user_min_free_kbytes is not None and new <= user_min_free_kbytes:
        return user_min_free_kbytes
    return min(max(new, 128), 262144)


# set_recommended_min_free_kbytes() (mm/khugepaged.c, v6.12)
def recommended_min_free_kbytes(nr_lowmem_zones: int, free_buffer_pages: int) -> int:
    """khugepaged's floor: 2 + MIGRATE_PCPTYPES^2 pageblocks per populated zone <= NORMAL,
    capped at 5 % of nr_free_buffer_pages(); in KiB."""
    pages = PAGEBLOCK_NR_PAGES * nr_lowmem_zones * (2 + MIGRATE_PCPTYPES * MIGRATE_PCPTYPES)
    pages = min(pages, free_buffer_pages // 20)
    return pages << (PAGE_SHIFT - 10)


# __setup_per_zone_wmarks() (mm/page_alloc.c; MOVABLE rule v6.5, WMARK_PROMO v5.18)
def setup_per_zone_wmarks(zones: Sequence[ZoneInput], min_free_kbytes: int,
                          watermark_scale_factor: int, profile: str) -> list[Watermarks]:
    version = kernel_version(profile)
    movable_is_highmem = version >= (6, 5)   # "fix min_free_kbytes calculation regarding ZONE_MOVABLE"
    pages_min = min_free_kbytes >> (PAGE_SHIFT - 10)
    lowmem_pages = sum(z.managed for z in zones
                       if not (movable_is_highmem and z.type == "MOVABLE"))
    out = []
    for z in zones:
        share = pages_min * z.managed // lowmem_pages if lowmem_pages else 0
        if movable_is_highmem and z.type == "MOVABLE":
            wmin = min(max(z.managed // 1024, SWAP_CLUSTER_MAX), 128)
        else:
            wmin = share
        # mult_frac(managed, wsf, 10000) == floor(managed * wsf / 10000)
        delta = max(share >> 2, z.managed * watermark_scale_factor // 10000)
        low = wmin + delta
        high = low + delta
        if version >= (5, 18):
            promo = high + delta
        else:
            # before v5.18: no WMARK_PROMO; HIGH = MIN + 2*delta is the same value
            promo = high
        out.append(Watermarks(wmin, low, high, promo))
    return out


# setup_per_zone_lowmem_reserve() (mm/page_alloc.c, v6.12), only the ZONE_MOVABLE classzone
def setup_per_zone_lowmem_reserve(zones: Sequence[ZoneInput],
                                  ratios: Sequence[int]) -> list[int]:
    """lowmem_reserve[ZONE_MOVABLE] of each zone: managed pages of the higher zones of the same
    node divided by the zone's lowmem_reserve_ratio (0 when the ratio is 0)."""
    out = []
    for z in zones:
        ratio = ratios[ZONE_TYPES.index(z.type)]
        above = sum(o.managed for o in zones if o.node == z.node
                    and ZONE_TYPES.index(o.type) > ZONE_TYPES.index(z.type))
        out.append(above // ratio if ratio and z.managed else 0)
    return out


# init_per_zone_wmark_min() + hugepage_init()->set_recommended_min_free_kbytes() (v6.12)
def init_per_zone_wmark_min(zones: Sequence[ZoneInput], kernel) -> tuple[int, list[Watermarks]]:
    """min_free_kbytes and the watermarks of every zone, as after boot."""
    wsf, profile = kernel.watermark_scale_factor, kernel.profile
    mfk = calculate_min_free_kbytes(nr_free_buffer_pages(zones) << (PAGE_SHIFT - 10),
                                    kernel.min_free_kbytes)
    wmarks = setup_per_zone_wmarks(zones, mfk, wsf, profile)
    totalram = sum(z.managed for z in zones)
    # hugepage_init(): THP is switched off below 512 MiB of RAM
    if kernel.transparent_hugepage != "never" and totalram >= (512 << 20) >> PAGE_SHIFT:
        nr_zones = sum(1 for z in zones if z.type in _LOWMEM and z.managed)
        rec = recommended_min_free_kbytes(nr_zones, nr_free_buffer_pages(zones, wmarks))
        if rec > mfk:
            mfk = rec
            wmarks = setup_per_zone_wmarks(zones, mfk, wsf, profile)
    return mfk, wmarks
