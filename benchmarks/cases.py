"""The benchmark cases of issue 7, as tierlab scenario dicts, in a full and a small size.

Every case is a plain scenario built through the public API (``tierlab.load_scenario(dict)``);
the references (libCacheSim, a pure-Python LRU) replay the very same access stream, taken from
tierlab's own seeded generators, with a cache of the fast node's share of the footprint.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

MiB = 1 << 20
PAGE = 4096


def _size(nbytes: int) -> str:
    return f"{nbytes // MiB}MiB"


def _scenario(name: str, node0: int, node1: int, workload: Any, *, mempolicy: str = "bind:0",
              demotion: bool = True, numa_balancing: int = 0, swap: int = 0,
              kernel_extra: dict | None = None) -> dict:
    kernel = {"profile": "v6.12", "demotion_enabled": demotion, "numa_balancing": numa_balancing}
    kernel.update(kernel_extra or {})
    return {
        "name": name, "seed": 7,
        "kernel": kernel,
        "node": [{"id": 0, "cpus": 2, "memory": _size(node0), "kind": "dram"},
                 {"id": 1, "cpus": 0, "memory": _size(node1), "kind": "pmem"}],
        "swap": {"size": _size(swap) if swap else "0"},
        "task": [{"name": "app", "cpu_node": 0, "mempolicy": mempolicy, "workload": workload}],
    }


@dataclass
class Variant:
    label: str               # row label, e.g. "tierlab (demotion)"
    scenario: dict
    every_round: bool = True  # run in every interleaved round, or only in the first


@dataclass
class Case:
    name: str
    title: str
    pages: int               # footprint in pages
    accesses: int
    variants: list[Variant]
    cache_pages: int = 0     # reference cache size (fast node's share); 0 = no references
    pylru_accesses: int = 0  # accesses of the pure-Python LRU (a prefix; it is slow)
    rounds: int = 1
    notes: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def build_cases(small: bool = False) -> list[Case]:
    """The five cases of issue 7. ``small`` shrinks footprints 256x and access counts 250x for CI (checks that the
    suite works, not its timings)."""
    k = 256 if small else 1                    # shrink factor for footprints
    a = 250 if small else 1                    # shrink factor for access counts
    cases: list[Case] = []

    # 1. Zipf 0.9 over 1 M pages, 20 M accesses, node 0 = 25 % of the footprint, task bound to
    #    node 0 with demotion on: kswapd demotes node 0's cold pages to node 1.
    pages = (1 << 20) // k
    acc = 20_000_000 // a
    fp = pages * PAGE
    zipf = {"type": "zipf", "footprint": _size(fp), "accesses": acc, "alpha": 0.9}
    cases.append(Case(
        "zipf", "Zipf 0.9, 1M pages, node 0 = 25%, bind:0 + demotion", pages, acc,
        [Variant("tierlab demotion", _scenario("zipf", fp // 4, fp * 3 // 2, zipf)),
         Variant("tierlab demotion off (swap)",
                 _scenario("zipf-nodemote", fp // 4, fp * 3 // 2, zipf, demotion=False, swap=2 * fp),
                 every_round=False)],
        cache_pages=pages // 4, pylru_accesses=min(acc, 4_000_000 // a), rounds=1 if small else 2))

    # 2. Uniform over 16 M pages (64 GiB): the page state no longer fits any cache.
    pages = (16 << 20) // k
    acc = 16_000_000 // a
    fp = pages * PAGE
    uni = {"type": "uniform", "footprint": _size(fp), "accesses": acc}
    cases.append(Case(
        "uniform16M", "uniform, 16M pages, node 0 = 25%, bind:0 + demotion", pages, acc,
        [Variant("tierlab demotion", _scenario("uniform", fp // 4, fp * 3 // 2, uni))],
        cache_pages=pages // 4, rounds=1))

    # 3. Scan-heavy mix: 80 % the Zipf above, 20 % sequential sweeps over a separate 2 M pages.
    zp = (1 << 20) // k
    sp = (2 << 20) // k
    acc = 10_000_000 // a
    fp = (zp + sp) * PAGE
    mix = {"type": "mix", "accesses": acc, "parts": [
        {"type": "zipf", "footprint": _size(zp * PAGE), "alpha": 0.9, "weight": 0.8},
        {"type": "scan", "size": _size(sp * PAGE), "offset": zp, "passes": 1000, "weight": 0.2}]}
    cases.append(Case(
        "scanmix", "80% Zipf 1M pages + 20% scans over 2M pages, node 0 = 25%, bind:0 + demotion",
        zp + sp, acc,
        [Variant("tierlab demotion", _scenario("scanmix", fp // 4, fp * 3 // 2, mix))],
        cache_pages=(zp + sp) // 4, rounds=1))

    # 4. Promotion: a hot set that moves (phases) over 1 M pages; default policy spills to node 1,
    #    demotion on; numa_balancing = 2 (memory tiering) against 0. Scan delay/period shortened
    #    as in the demo so a few simulated seconds show promotion.
    pages = (1 << 20) // k
    acc = 10_000_000 // a
    fp = pages * PAGE
    ph = {"type": "phases", "footprint": _size(fp), "hot_size": _size(fp // 8),
          "period": acc // 5, "hot_share": 0.9, "accesses": acc}
    ms = 5 if small else 100          # the small run lasts only a few simulated ms
    nb = {"numa_balancing_scan_delay_ms": ms, "numa_balancing_scan_period_min_ms": ms}
    cases.append(Case(
        "promotion", "phases (hot 1/8 moves 5x), 1M pages, node 0 = 25%, default policy + demotion",
        pages, acc,
        [Variant("tierlab numa_balancing=2",
                 _scenario("promo-on", fp // 4, fp * 3 // 2, ph, mempolicy="default",
                           numa_balancing=2, kernel_extra=nb)),
         Variant("tierlab numa_balancing=0",
                 _scenario("promo-off", fp // 4, fp * 3 // 2, ph, mempolicy="default",
                           numa_balancing=0, kernel_extra=nb))],
        cache_pages=0, rounds=1 if small else 2))

    # 5. A 64 M-page machine (256 GiB: 64 GiB DRAM + 192 GiB PMEM) and a 64 M-page task that
    #    touches a few million pages: what the per-page state costs in RSS.
    pages = (64 << 20) // k
    acc = 4_000_000 // a
    fp = pages * PAGE
    big = {"type": "uniform", "footprint": _size(fp), "accesses": acc}
    cases.append(Case(
        "machine64M", "256 GiB machine, 64M-page task, 4M uniform accesses (short run)", pages, acc,
        [Variant("tierlab demotion", _scenario("big", fp // 4, fp * 3 // 4, big, mempolicy="default"))],
        cache_pages=0, rounds=1))
    return cases
