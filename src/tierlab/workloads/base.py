"""What a workload gives the engine: a task's program as a list of steps, each a stream of
access chunks.

Contract with tierlab.engine (keep it):
- A task's workload is a list of ``Step``s run in order.
- ``AccessStep.chunks()`` yields ``Chunk``s: ``vpn`` (int64 virtual page numbers inside the
  task, 0 <= vpn < task footprint), ``op`` (uint8, one of READ, WRITE, FREE) and optionally
  ``gap_ns`` (float64 CPU time before each access, e.g. from instruction counts; None = the
  step's constant ``think_ns``). Chunks are at most a few MiB; a trace of any length streams.
- ``AccessStep.duration_ns``: if set, the engine stops the step when the task has spent that
  much simulated time in it (the rest of the stream is dropped); ``repeat`` streams restart.
- ``IdleStep``: the task holds its memory and does nothing for ``duration_ns``.
- ``PolicyStep``: set_mempolicy() from now on (later faults use it).
- ``ReclaimStep``: memory.reclaim of a memcg (proactive reclaim).
- ``AccessStep.file``: the step's vpns are pages of that file's page cache (shared by every
  task naming the file) instead of the task's anonymous memory; ``io`` says whether they are
  touched through a mapping or through read()/write() (page cache only, no pte).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, NamedTuple

import numpy as np

READ = 0
WRITE = 1
FREE = 2     # munmap of the page: it leaves its LRU and its node's memory


class Chunk(NamedTuple):
    vpn: np.ndarray               # int64
    op: np.ndarray                # uint8
    gap_ns: np.ndarray | None = None   # float64, same length, or None


@dataclass
class AccessStep:
    footprint: int                # pages: every vpn of this step is < footprint
    think_ns: float = 0.0
    duration_ns: float | None = None
    name: str = ""
    file: str | None = None       # None: the task's anonymous memory; else the page cache of this file
    io: str = "mmap"              # for a file: "mmap" (mapped accesses) or "read" (read()/write() calls)

    def chunks(self, chunk_size: int = 1 << 16) -> Iterator[Chunk]:
        raise NotImplementedError


@dataclass
class IdleStep:
    duration_ns: float
    name: str = "idle"


@dataclass
class PolicyStep:
    mempolicy: object             # tierlab.scenario.MemPolicy
    name: str = "policy"


@dataclass
class ReclaimStep:
    """A write to memory.reclaim: proactively reclaim ``pages`` from ``memcg`` (None: the
    task's own memcg, or the root)."""
    pages: int
    memcg: str | None = None
    name: str = "reclaim"


Step = AccessStep | IdleStep | PolicyStep | ReclaimStep
