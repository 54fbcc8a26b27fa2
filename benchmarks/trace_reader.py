"""python -m benchmarks.trace_reader [--records N] [--rounds R] [--dir DIR] [--json OUT]

Absolute speed of the tierlab .npz trace reader (``read_npz``): records/s of a loop that
reads every block and does nothing else, best of R rounds (the machine is shared: the best
round is the least disturbed one), by wall time and by the process's CPU time (the reader is
one thread: records per CPU second is its speed on one core, whatever else the machine runs). The trace (N records with count + icount, 17 bytes a
record, stored as ``tierlab trace convert`` writes it) is written to DIR before the clock
starts and removed afterwards; it is read once before the rounds, so all rounds read from the
page cache. Rows:

* ``verify``: the default, CRC-32 of every stored member checked (zlib-ng's crc32);
* ``verify, zlib crc32``: the same with the standard library's crc32 (an install without
  zlib-ng);
* ``no verify``: what a ``repeat`` pass does;
* ``deflated``: a ``--compress`` file (inflated while read), a tenth of N records.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zlib
from unittest import mock

import numpy as np

from tierlab.workloads import npztrace
from tierlab.workloads.npztrace import TraceWriter, read_npz


def write_trace(path: str, n: int, compress: bool = False, seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    step = 1 << 22
    with TraceWriter(path, dense=True, compress=compress) as w:
        for s in range(0, n, step):
            k = min(step, n - s)
            w.append(rng.integers(0, 1 << 20, k), rng.integers(0, 2, k).astype(np.uint8),
                     rng.integers(1, 4, k).astype(np.uint32), rng.integers(0, 50, k).astype(np.uint32))


def best_rate(path: str, rounds: int, **kw) -> tuple[int, float, float]:
    """(records read, best records/s by wall time, best by CPU time) over ``rounds`` passes."""
    best, best_cpu, n = 0.0, 0.0, 0
    for _ in range(rounds):
        t, c = time.perf_counter(), time.process_time()
        n = 0
        for r in read_npz(path, **kw):
            n += len(r.vpn)
        best = max(best, n / (time.perf_counter() - t))
        best_cpu = max(best_cpu, n / max(time.process_time() - c, 1e-9))
    return n, best, best_cpu


def run(records: int, rounds: int, folder: str | None = None) -> list[dict]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="tierlab-reader-", dir=folder) as d:
        stored, deflated = os.path.join(d, "stored.npz"), os.path.join(d, "deflated.npz")
        write_trace(stored, records)
        write_trace(deflated, max(1, records // 10), compress=True)
        best_rate(stored, 1)                         # into the page cache
        cases = [("verify", stored, {}, None), ("verify, zlib crc32", stored, {}, zlib.crc32),
                 ("no verify", stored, {"verify": False}, None), ("deflated", deflated, {}, None)]
        for name, path, kw, crc in cases:
            with mock.patch.object(npztrace, "crc32", crc or npztrace.crc32):
                n, rate, cpu_rate = best_rate(path, rounds, **kw)
            rows.append({"case": name, "records": n, "bytes": os.path.getsize(path),
                         "records_per_s": rate, "records_per_cpu_s": cpu_rate})
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.trace_reader", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--records", type=int, default=20_000_000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--dir", help="where to write the temporary traces (default: $TMPDIR)")
    ap.add_argument("--json", metavar="OUT", help="also write the rows as JSON")
    a = ap.parse_args(argv)
    rows = run(a.records, a.rounds, a.dir)
    print(f"load average {os.getloadavg()[0]:.2f}; best of {a.rounds} rounds")
    for r in rows:
        print(f"{r['case']:20s} {r['records']:>12,} records  {r['records_per_s'] / 1e6:7.1f} M "
              f"records/s  {r['records_per_cpu_s'] / 1e6:7.1f} M per CPU second")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
