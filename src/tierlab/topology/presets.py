"""Named machines a scenario can start from (``preset = "NAME"``).

Each preset gives ``[[node]]`` tables (as a scenario file would write them) and a SLIT.
Performance numbers not written here come from the node ``kind`` (see tierlab.scenario).

- ``dram-pmem``: node0 16 GiB DRAM + 2 CPUs; node1 64 GiB Optane PMEM, CPU-less, dax/kmem.
  SLIT 17 (the local-socket PMEM distance of the fc89213a636c example).
- ``2socket-dram-pmem``: nodes 0,1 16 GiB DRAM + 2 CPUs each; nodes 2,3 64 GiB PMEM, one per
  socket; the SLIT of kernel-spec 1.6 example A (fc89213a636c changelog).
- ``dram-cxl``: node0 16 GiB DRAM + 2 CPUs; node1 64 GiB CXL expander, CPU-less, dax/kmem; SLIT 20.
- ``dram-cxl-pmem``: node0 16 GiB DRAM + 2 CPUs; node1 32 GiB CXL; node2 64 GiB PMEM; SLIT
  0-1 20, 0-2 30, 1-2 25, so the distance-only (RFC/v5.15) order chains 0 -> 1 -> 2 too.
- ``qemu-6.12-hmat``: the reference QEMU guest (reference/kernel-reference.md): node0 2 CPUs +
  512 MiB, latency 100 ns, 20 GB/s; node1 CPU-less 1 GiB, latency 300 ns, 7 GB/s, onlined by
  firmware (not dax/kmem); SLIT 20. Zones as the guest's /proc/zoneinfo had them at watermark
  setup: node0 DMA 3856 + DMA32 113630 managed pages, node1 DMA32 257454.
"""

from __future__ import annotations

import copy
from typing import Any

_SLIT_A = [[10, 21, 17, 28],
           [21, 10, 28, 17],
           [17, 28, 10, 28],
           [28, 17, 28, 10]]

_PRESETS: dict[str, dict[str, Any]] = {
    "dram-pmem": {
        "node": [{"id": 0, "cpus": 2, "memory": "16GiB", "kind": "dram"},
                 {"id": 1, "cpus": 0, "memory": "64GiB", "kind": "pmem"}],
        "distance": [[10, 17], [17, 10]],
    },
    "2socket-dram-pmem": {
        "node": [{"id": 0, "cpus": 2, "memory": "16GiB", "kind": "dram"},
                 {"id": 1, "cpus": 2, "memory": "16GiB", "kind": "dram"},
                 {"id": 2, "cpus": 0, "memory": "64GiB", "kind": "pmem"},
                 {"id": 3, "cpus": 0, "memory": "64GiB", "kind": "pmem"}],
        "distance": _SLIT_A,
    },
    "dram-cxl": {
        "node": [{"id": 0, "cpus": 2, "memory": "16GiB", "kind": "dram"},
                 {"id": 1, "cpus": 0, "memory": "64GiB", "kind": "cxl"}],
        "distance": [[10, 20], [20, 10]],
    },
    "dram-cxl-pmem": {
        "node": [{"id": 0, "cpus": 2, "memory": "16GiB", "kind": "dram"},
                 {"id": 1, "cpus": 0, "memory": "32GiB", "kind": "cxl"},
                 {"id": 2, "cpus": 0, "memory": "64GiB", "kind": "pmem"}],
        "distance": [[10, 20, 30], [20, 10, 25], [30, 25, 10]],
    },
    "qemu-6.12-hmat": {
        "node": [{"id": 0, "cpus": 2, "memory": "512MiB", "kind": "dram",
                  "read_latency_ns": 100, "bandwidth": "20GB/s",
                  "zones": {"DMA": 3856, "DMA32": 113630}},
                 {"id": 1, "cpus": 0, "memory": "1GiB", "kind": "cxl", "driver": "firmware",
                  "read_latency_ns": 300, "bandwidth": "7GB/s",
                  "zones": {"DMA32": 257454}}],
        "distance": [[10, 20], [20, 10]],
    },
}

PRESETS = tuple(_PRESETS)


def preset(name: str) -> dict[str, Any]:
    """{"node": [...], "distance": [[...]]} of a preset (a fresh copy); KeyError if unknown."""
    return copy.deepcopy(_PRESETS[name])
