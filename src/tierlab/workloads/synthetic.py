"""Seeded synthetic access generators.

Every generator is an ``AccessStep`` whose stream is cut into fixed internal blocks of
``BLOCK`` accesses; block ``b`` draws from ``numpy.random.default_rng([seed, b])``. So the
stream is a pure function of the parameters and the seed -- identical whatever chunk size the
engine asks for -- and any length (even endless) streams in bounded memory, vectorised per
block. Page numbers are relative to the step (``offset`` is added) and ``footprint`` is the
vpn bound ``offset + pages``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Iterator

import numpy as np

from .base import READ, WRITE, AccessStep, Chunk

BLOCK = 1 << 16
_TABLE_STREAM = 1 << 62     # seed-sequence word for per-step tables (never a block index)


def rechunk(pieces: Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
            chunk_size: int) -> Iterator[Chunk]:
    """Re-cut a stream of (vpn, op, gap) pieces into ``Chunk``s of exactly ``chunk_size``
    accesses (the last may be shorter). A chunk inside one piece is a view; one spanning
    pieces copies only its own accesses, so memory stays at about a piece plus a chunk."""
    buf: list[tuple[np.ndarray, np.ndarray, np.ndarray | None]] = []
    held = 0
    for piece in pieces:
        if len(piece[0]) == 0:
            continue
        buf.append(piece)
        held += len(piece[0])
        while held >= chunk_size:
            head, buf = _take(buf, chunk_size)
            held -= chunk_size
            yield Chunk(*head)
    if held:
        vpn, op, gap = _join(buf)
        yield Chunk(vpn, op, gap)


def _take(buf: list, n: int) -> tuple[tuple, list]:
    """The first ``n`` accesses of the pieces in ``buf`` and the pieces left after them."""
    parts, k, i = [], 0, 0
    while k < n:
        vpn, op, gap = buf[i]
        m = min(len(vpn), n - k)
        parts.append((vpn[:m], op[:m], None if gap is None else gap[:m]))
        k += m
        if m < len(vpn):
            rest = (vpn[m:], op[m:], None if gap is None else gap[m:])
            return _join(parts), [rest, *buf[i + 1:]]
        i += 1
    return _join(parts), buf[i:]


def _join(buf: list) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    if len(buf) == 1:
        return buf[0]
    vpn = np.concatenate([b[0] for b in buf])
    op = np.concatenate([b[1] for b in buf])
    if any(b[2] is None for b in buf):
        gap = None
    else:
        gap = np.concatenate([b[2] for b in buf])
    return vpn, op, gap


@dataclass
class SyntheticStep(AccessStep):
    """Base of the generators: ``accesses`` in total (None = endless, the engine stops the step
    at ``duration_ns``), block-wise seeded, ``write_ratio`` of the accesses are WRITEs."""

    footprint: int = 0
    pages: int = 0
    accesses: int | None = None
    write_ratio: float = 0.0
    offset: int = 0
    seed: int = 0

    def __post_init__(self) -> None:
        self.footprint = self.offset + self.pages

    def total(self) -> int | None:
        """Accesses this step produces; None for an endless stream."""
        return self.accesses

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """(vpn, op) per internal block, offset applied."""
        total = self.total()
        b = 0
        while total is None or b * BLOCK < total:
            start = b * BLOCK
            n = BLOCK if total is None else min(BLOCK, total - start)
            rng = np.random.default_rng([self.seed, b])
            vpn, op = self._block(start, n, rng)
            if self.offset:
                vpn = vpn + self.offset
            yield vpn, op
            b += 1

    def chunks(self, chunk_size: int = 1 << 16) -> Iterator[Chunk]:
        return rechunk(((v, o, None) for v, o in self.blocks()), chunk_size)

    def _block(self, start: int, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def _ops(self, n: int, rng: np.random.Generator) -> np.ndarray:
        if self.write_ratio <= 0.0:
            return np.full(n, READ, np.uint8)
        if self.write_ratio >= 1.0:
            return np.full(n, WRITE, np.uint8)
        return (rng.random(n) < self.write_ratio).astype(np.uint8)


@dataclass
class FillStep(SyntheticStep):
    """malloc + memset: each of ``pages`` pages written once, in address order."""

    write_ratio: float = 1.0

    def total(self) -> int:
        return self.pages

    def _block(self, start, n, rng):
        return np.arange(start, start + n, dtype=np.int64), self._ops(n, rng)


@dataclass
class UniformStep(SyntheticStep):
    """Accesses drawn uniformly over ``pages`` pages."""

    def _block(self, start, n, rng):
        return rng.integers(0, self.pages, n, dtype=np.int64), self._ops(n, rng)


def zipf_pmf(n: int, alpha: float) -> np.ndarray:
    """Bounded Zipf: P(rank k) proportional to k**-alpha for k = 1..n."""
    w = np.arange(1, n + 1, dtype=np.float64) ** -alpha
    return w / w.sum()


@dataclass
class ZipfStep(SyntheticStep):
    """Bounded Zipf(``alpha``) over ``pages`` pages. Rank -> page goes through a fixed seeded
    permutation so the hot pages are scattered over the region, as heap objects are."""

    alpha: float = 0.99

    @cached_property
    def _tables(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # Alias method: O(1) per draw; a CDF + searchsorted is ~5x slower on 1 M pages.
        from ._kernels import build_alias

        prob, alias = build_alias(zipf_pmf(self.pages, self.alpha))
        perm = np.random.default_rng([self.seed, _TABLE_STREAM]).permutation(self.pages)
        return prob, alias, perm.astype(np.int64)

    def rank_to_page(self) -> np.ndarray:
        """page = rank_to_page()[rank - 1]: the hottest page is element 0."""
        return self._tables[2]

    @cached_property
    def _draw_table(self) -> np.ndarray:
        """Per alias slot i: prob[i], the page of rank i and the page of rank alias[i], in one
        record (16 bytes), so a draw reads one cache line: page = hit if u < prob else miss."""
        prob, alias, perm = self._tables
        idx = np.int32 if self.pages < 2**31 else np.int64
        t = np.empty(self.pages, np.dtype([("prob", np.float64), ("hit", idx), ("miss", idx)]))
        t["prob"] = prob
        t["hit"] = perm
        t["miss"] = perm[alias]
        return t

    def _block(self, start, n, rng):
        from ._kernels import alias_draws

        t = self._draw_table
        i = rng.integers(0, self.pages, n, dtype=np.int64)
        u = rng.random(n)
        return alias_draws(i, u, t["prob"], t["hit"], t["miss"]), self._ops(n, rng)


@dataclass
class ScanStep(SyntheticStep):
    """Sequential sweeps over ``pages`` pages, one access per page per pass; ``passes`` None =
    endless (the engine stops it at ``duration_ns``)."""

    passes: int | None = 1

    def total(self) -> int | None:
        return None if self.passes is None else self.passes * self.pages

    def _block(self, start, n, rng):
        return np.arange(start, start + n, dtype=np.int64) % self.pages, self._ops(n, rng)


@dataclass
class HotColdStep(SyntheticStep):
    """``cold_pages`` written once in order, then ``accesses`` uniform over ``hot_pages`` placed
    after the cold ones (the hot set is allocated last, so LRU age alone would keep it)."""

    cold_pages: int = 0
    hot_pages: int = 0

    def __post_init__(self) -> None:
        self.pages = self.cold_pages + self.hot_pages
        super().__post_init__()

    def total(self) -> int | None:
        return None if self.accesses is None else self.cold_pages + self.accesses

    def _block(self, start, n, rng):
        i = np.arange(start, start + n, dtype=np.int64)
        cold = i < self.cold_pages
        vpn = np.where(cold, i, self.cold_pages + rng.integers(0, self.hot_pages, n, dtype=np.int64))
        op = np.where(cold, np.uint8(WRITE), self._ops(n, rng)).astype(np.uint8)
        return vpn, op


@dataclass
class PhasesStep(SyntheticStep):
    """A hot set of ``hot_pages`` contiguous pages that moves by ``shift`` pages (wrapping)
    every ``period`` accesses over ``pages``; ``hot_share`` of the accesses go to the hot set
    (uniform inside it), the rest uniform over the whole region."""

    hot_pages: int = 1
    period: int = 1
    shift: int = 0            # 0 = hot_pages: each phase's hot set is disjoint from the last
    hot_share: float = 1.0

    def _block(self, start, n, rng):
        i = np.arange(start, start + n, dtype=np.int64)
        base = (i // self.period) * (self.shift or self.hot_pages)
        vpn = (base + rng.integers(0, self.hot_pages, n, dtype=np.int64)) % self.pages
        if self.hot_share < 1.0:
            cold = rng.random(n) >= self.hot_share
            vpn = np.where(cold, rng.integers(0, self.pages, n, dtype=np.int64), vpn)
        return vpn, self._ops(n, rng)


@dataclass
class MixStep(SyntheticStep):
    """Weighted per-access interleaving of other generators' streams: each access picks a part
    by seeded weighted choice and takes that part's next access. A finished part drops out
    (the others' weights renormalise); parts keep their own vpns (``offset`` already set)."""

    parts: list[SyntheticStep] = field(default_factory=list)
    weights: list[float] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.pages = max((p.footprint for p in self.parts), default=0)
        self.offset = 0
        super().__post_init__()

    def blocks(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        k = len(self.parts)
        streams = [_Puller(p.blocks()) for p in self.parts]
        w = np.asarray(self.weights, np.float64)
        produced = 0
        b = 0
        while (self.accesses is None or produced < self.accesses) and w.sum() > 0:
            n = BLOCK if self.accesses is None else min(BLOCK, self.accesses - produced)
            rng = np.random.default_rng([self.seed, b])
            b += 1
            choice = rng.choice(k, n, p=w / w.sum())
            vpn = np.empty(n, np.int64)
            op = np.empty(n, np.uint8)
            keep = np.ones(n, bool)
            for j in range(k):
                pos = np.flatnonzero(choice == j)
                if len(pos) == 0:
                    continue
                v, o = streams[j].take(len(pos))
                if len(v) < len(pos):           # part finished: drop its unserved slots
                    keep[pos[len(v):]] = False
                    w[j] = 0.0
                    pos = pos[:len(v)]
                vpn[pos] = v
                op[pos] = o
            if not keep.all():
                vpn, op = vpn[keep], op[keep]
            produced += len(vpn)
            yield vpn, op


class _Puller:
    """Take exactly n accesses at a time from a block stream (fewer when it ends)."""

    def __init__(self, it: Iterator[tuple[np.ndarray, np.ndarray]]):
        self._it = it
        self._v = np.empty(0, np.int64)
        self._o = np.empty(0, np.uint8)

    def take(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        vs, os_ = [self._v], [self._o]
        held = len(self._v)
        while held < n:
            nxt = next(self._it, None)
            if nxt is None:
                break
            vs.append(nxt[0])
            os_.append(nxt[1])
            held += len(nxt[0])
        v = np.concatenate(vs) if len(vs) > 1 else vs[0]
        o = np.concatenate(os_) if len(os_) > 1 else os_[0]
        self._v, self._o = v[n:], o[n:]
        return v[:n], o[:n]
