"""python -m benchmarks.scale_trace DIR [--accesses N] [--pages P]

Writes DIR/trace.npz, an N-access Zipf(0.99) trace over P pages (10 % writes, an icount of
1-8 per access), and DIR/scenario.toml replaying it on DRAM = 50 % of the pages + PMEM with
demotion and NUMA-balancing promotion: the scale check of docs/trace-format.md ("Scale"):

    python -m benchmarks.scale_trace /tmp/big --accesses 1e9 --pages 4194304
    /usr/bin/time -v tierlab run /tmp/big/scenario.toml --json /tmp/big/out.json

The trace is generated 1 Mi accesses at a time with tierlab's own pieces (ZipfStep, the online
first-seen DenseNumbering of `trace capture`, the run folding of `trace convert`, TraceWriter),
so memory holds one chunk and the page map, never the trace. 1e9 accesses: 16.9 GB, ~8 min.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

from tierlab.workloads.npztrace import TraceWriter, read_meta
from tierlab.workloads.records import fold
from tierlab.workloads.synthetic import ZipfStep
from tierlab.workloads.traces import DenseNumbering

SCENARIO = """\
# docs/trace-format.md "Scale": {accesses:,} accesses of Zipf(0.99) over {pages:,} pages
name = "scale-trace"
seed = 1

[kernel]
profile = "v6.12"
demotion_enabled = true
numa_balancing = 2

[[node]]
id = 0
cpus = 2
memory = "50%"
kind = "dram"

[[node]]
id = 1
cpus = 0
memory = "100%"
kind = "pmem"

[[task]]
name = "app"
cpu_node = 0
workload = {{ type = "trace", path = "trace.npz" }}
"""


def write_scale_trace(path: str, accesses: int, pages: int, seed: int = 1,
                      log=lambda msg: None) -> dict:
    """Write the trace; returns its meta."""
    step = ZipfStep(pages=pages, accesses=accesses, alpha=0.99, write_ratio=0.1, seed=seed)
    numbering = DenseNumbering()
    rng = np.random.default_rng(seed + 1)
    t0, done, every = time.time(), 0, 50 << 20
    with TraceWriter(path, source=f"zipf:pages={pages},alpha=0.99,accesses={accesses}",
                     dense=True) as w:
        for c in step.chunks(1 << 20):
            r = fold(numbering.assign(c.vpn), c.op,
                     rng.integers(1, 9, len(c.vpn)).astype(np.uint32))
            w.append(r.vpn, r.op, r.count, r.icount)
            if (done + len(c.vpn)) // every > done // every:
                log(f"{(done + len(c.vpn)) / 1e6:.0f} M accesses, {len(numbering):,} pages, "
                    f"{time.time() - t0:.0f} s")
            done += len(c.vpn)
    return read_meta(path)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.scale_trace", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--accesses", type=float, default=1e9)
    ap.add_argument("--pages", type=int, default=1 << 22)
    a = ap.parse_args(argv)
    os.makedirs(a.dir, exist_ok=True)
    accesses = int(a.accesses)
    meta = write_scale_trace(os.path.join(a.dir, "trace.npz"), accesses, a.pages,
                             log=lambda m: print(m, file=sys.stderr, flush=True))
    with open(os.path.join(a.dir, "scenario.toml"), "w") as f:
        f.write(SCENARIO.format(accesses=accesses, pages=a.pages))
    print(f"{a.dir}/trace.npz: {meta['records']:,} records, {meta['accesses']:,} accesses, "
          f"{meta['pages']:,} pages; scenario: {a.dir}/scenario.toml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
