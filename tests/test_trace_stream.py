"""Streaming at scale: a long .npz trace goes through TraceStep.chunks() in bounded memory."""

from __future__ import annotations

import tracemalloc

import numpy as np
import pytest

from tierlab.workloads import READ, TraceStep
from tierlab.workloads.npztrace import TraceWriter
from tierlab.workloads.records import Records
from tierlab.workloads.traces import expand, expand_pieces

PAGES = 1 << 16


def write_trace(path, n, counts=False):
    """A dense trace of ``n`` records over PAGES pages, written in 4 M-record blocks."""
    step = 1 << 22
    with TraceWriter(str(path), dense=True) as w:
        for s in range(0, n, step):
            k = min(step, n - s)
            vpn = np.arange(s, s + k, dtype=np.int64) % PAGES
            w.append(vpn, np.full(k, READ, np.uint8),
                     np.full(k, 3, np.uint32) if counts else None)


def peak_while_streaming(path) -> tuple[int, int]:
    """(accesses seen, tracemalloc peak in bytes) for one pass of TraceStep.chunks()."""
    step = TraceStep.open(str(path))
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        seen = 0
        last = -1
        for c in step.chunks():
            seen += len(c.vpn)
            last = int(c.vpn[-1])
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert last >= 0
    return seen, peak


def test_npz_stream_memory_does_not_grow_with_length(tmp_path):
    small, big = tmp_path / "small.npz", tmp_path / "big.npz"
    write_trace(small, 5_000_000)
    write_trace(big, 20_000_000)
    n_small, peak_small = peak_while_streaming(small)
    n_big, peak_big = peak_while_streaming(big)
    assert (n_small, n_big) == (5_000_000, 20_000_000)
    # 4x the records, the same working set: blocks of 1 M records (9 MB) plus a few chunks
    assert peak_big - peak_small < 4 << 20, (peak_small, peak_big)
    assert peak_big < 64 << 20, peak_big


def test_folded_records_expand_in_bounded_pieces(tmp_path):
    """Repeat counts multiply a block's accesses; expansion is cut into bounded pieces."""
    p = tmp_path / "folded.npz"
    with TraceWriter(str(p), dense=True) as w:      # 3 records standing for 30 M accesses
        w.append(np.array([0, 1, 2]), np.zeros(3, np.uint8),
                 np.array([10_000_000] * 3, np.uint32), np.array([5, 0, 7], np.uint32))
    n, peak = peak_while_streaming(p)
    assert n == 30_000_000
    assert peak < 48 << 20, peak                  # 1 M-access pieces, never 30 M at once


@pytest.mark.parametrize("most", [1, 2, 5, 7, 100])
def test_expand_pieces_equals_expand(most):
    rng = np.random.default_rng(most)
    r = Records(rng.integers(0, 50, 40), rng.integers(0, 2, 40).astype(np.uint8),
                rng.integers(1, 9, 40).astype(np.uint32), rng.integers(0, 30, 40).astype(np.uint32))
    pieces = list(expand_pieces(r, 0.5, 3, most))
    assert all(0 < len(p[0]) <= most for p in pieces)
    whole = expand(r, 0.5, 3)
    for i in range(3):
        np.testing.assert_allclose(np.concatenate([p[i] for p in pieces]), whole[i])
