"""Trace records as every reader yields them, before page numbers are made dense."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .base import WRITE


class Records(NamedTuple):
    """A block of trace records. ``count`` (uint32, None = all 1) folds consecutive accesses
    to the same page with the same op; ``icount`` (uint32, None = unknown) is the number of
    instructions executed since the previous record, including this record's own."""

    vpn: np.ndarray                      # int64, raw (sparse) page numbers
    op: np.ndarray                       # uint8 READ / WRITE / FREE
    count: np.ndarray | None = None
    icount: np.ndarray | None = None

    def accesses(self) -> int:
        return len(self.vpn) if self.count is None else int(self.count.sum(dtype=np.int64))


def fold(vpn: np.ndarray, op: np.ndarray, icount: np.ndarray | None = None,
         count: np.ndarray | None = None) -> Records:
    """Fold runs of consecutive records with the same page and op into one record with a
    repeat count (icount deltas of a run add up). Cheap: one comparison and a reduceat."""
    n = len(vpn)
    if n == 0:
        return Records(vpn, op, None if count is None else count, icount)
    brk = np.empty(n, bool)
    brk[0] = True
    np.not_equal(vpn[1:], vpn[:-1], out=brk[1:])
    brk[1:] |= op[1:] != op[:-1]
    starts = np.flatnonzero(brk)
    if count is None:
        cnt = np.diff(np.append(starts, n)).astype(np.uint32)
    else:
        cnt = np.add.reduceat(count.astype(np.uint64), starts)
        cnt = np.minimum(cnt, np.iinfo(np.uint32).max).astype(np.uint32)
    ic = None
    if icount is not None:
        ic = np.add.reduceat(icount.astype(np.uint64), starts)
        ic = np.minimum(ic, np.iinfo(np.uint32).max).astype(np.uint32)   # saturate, never wrap
    return Records(vpn[starts], op[starts], cnt, ic)


def write_share(r: Records) -> tuple[int, int]:
    """(read accesses, write accesses) of a block."""
    w = r.op == WRITE
    if r.count is None:
        nw = int(w.sum())
        return len(r.vpn) - nw, nw
    c = r.count.astype(np.int64)
    nw = int(c[w].sum())
    return int(c.sum()) - nw, nw
