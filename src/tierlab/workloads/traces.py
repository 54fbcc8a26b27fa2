"""Traces as workloads: format detection, dense page numbering, the TraceStep, conversion to
tierlab's .npz and trace statistics.

Page numbers of real traces are sparse (heap, stack and libraries sit far apart), so a trace's
pages are renumbered densely 0..n-1 in first-seen order and a task's footprint is the number
of distinct pages. The renumbering needs one pass over the trace: ``TraceStep.open`` does
that pass (and keeps the mapping, 16 bytes per distinct page) unless the file is a tierlab
.npz whose meta says ``dense`` -- which is what ``convert_trace`` (``tierlab trace convert``)
writes, so a converted trace opens without the extra pass.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Iterable, Iterator

import numpy as np

from ..errors import TraceError
from ..units import PAGE_SIZE
from .base import WRITE, AccessStep, Chunk
from .lackey import read_lackey
from .npztrace import TraceWriter, read_meta, read_npz
from .oracle import read_oracle
from .records import Records, fold
from .synthetic import rechunk
from .textio import is_stream, open_binary
from .textrace import read_text

FORMATS = ("npz", "lackey", "oracle", "text")
_ALIASES = {"tierlab": "npz", "oraclegeneral": "oracle", "libcachesim": "oracle",
            "csv": "text", "txt": "text", "valgrind": "lackey"}


def normalize_format(fmt: str) -> str:
    """Canonical format name; ValueError lists the valid ones."""
    f = fmt.lower()
    f = _ALIASES.get(f, f)
    if f not in FORMATS:
        raise ValueError(f"unknown trace format {fmt!r}; valid: {', '.join(FORMATS)} "
                         f"(aliases: {', '.join(sorted(_ALIASES))})")
    return f


def detect_format(path: str) -> str:
    """Guess a trace's format from its name, then from its first bytes."""
    low = os.path.basename(os.fspath(path)).lower()
    for ext in (".gz", ".xz", ".lzma", ".bz2", ".zst"):
        low = low.removesuffix(ext)
    if low.endswith(".npz"):
        return "npz"
    if "oraclegeneral" in low or low.endswith((".oracle", ".bin")):
        return "oracle"
    if low.endswith(".csv"):
        return "text"
    if low.endswith((".lackey", ".lk")):
        return "lackey"
    with open_binary(path) as f:
        head = f.read(4096)
    if head.startswith(b"PK\x03\x04"):
        return "npz"
    first = head.split(b"\n", 1)[0]
    if first.startswith((b"==", b"--", b"I  ", b" L ", b" S ", b" M ")):
        return "lackey"
    if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head):
        return "text"
    raise TraceError(f"{path}: cannot tell the trace format; name it (format = one of "
                     f"{', '.join(FORMATS)})")


def read_records(path: str, fmt: str | None = None, verify: bool = True) -> Iterator[Records]:
    """Stream raw (sparse) trace records of any supported format. ``verify=False`` skips the
    CRC check of a stored .npz (for a file already read once)."""
    path = os.fspath(path)
    f = detect_format(path) if fmt is None else normalize_format(fmt)
    if f == "npz":
        return read_npz(path, verify=verify)
    if f == "lackey":
        return read_lackey(path)
    if f == "oracle":
        return read_oracle(path)
    return read_text(path)


@dataclass(frozen=True)
class PageMap:
    """Sparse page number -> dense page number (first-seen order)."""

    keys: np.ndarray          # sorted distinct raw page numbers
    ids: np.ndarray           # ids[i] = dense number of keys[i]

    def __len__(self) -> int:
        return len(self.keys)

    def lookup(self, vpn: np.ndarray) -> np.ndarray:
        pos = np.searchsorted(self.keys, vpn)
        return self.ids[pos]


def build_page_map(records: Iterable[Records]) -> PageMap:
    """One chunked pass: distinct pages with their first-seen record index.

    Each block contributes its np.unique; the collected parts are merged whenever they
    outgrow the merged set, so the work is O(n log n) overall and memory O(distinct pages).
    """
    keys = np.empty(0, np.int64)
    first = np.empty(0, np.int64)
    parts_k: list[np.ndarray] = []
    parts_f: list[np.ndarray] = []
    held = 0
    seen = 0
    for r in records:
        u, idx = np.unique(r.vpn, return_index=True)
        parts_k.append(u)
        parts_f.append(idx + seen)
        held += len(u)
        seen += len(r.vpn)
        if held > max(len(keys), 1 << 20):
            keys, first = _merge([keys, *parts_k], [first, *parts_f])
            parts_k, parts_f, held = [], [], 0
    keys, first = _merge([keys, *parts_k], [first, *parts_f])
    ids = np.empty(len(keys), np.int64)
    ids[np.argsort(first, kind="stable")] = np.arange(len(keys))
    return PageMap(keys, ids)


class DenseNumbering:
    """Online first-seen dense numbering, for a stream that is read once (``trace capture``):
    ``assign`` maps a block's raw page numbers to 0, 1, ... in the order pages first appear,
    remembering earlier blocks. Sorted keys + ids; new pages are inserted per block (O(distinct)
    per block, fine at lackey's pace; ``build_page_map`` is the two-pass way for big files)."""

    def __init__(self) -> None:
        self.keys = np.empty(0, np.int64)
        self.ids = np.empty(0, np.int64)

    def __len__(self) -> int:
        return len(self.keys)

    def assign(self, vpn: np.ndarray) -> np.ndarray:
        if len(vpn) == 0:
            return vpn.astype(np.int64)
        u, first, inv = np.unique(vpn, return_index=True, return_inverse=True)
        pos = np.searchsorted(self.keys, u)
        known = pos < len(self.keys)
        known[known] = self.keys[pos[known]] == u[known]
        ids_u = np.empty(len(u), np.int64)
        ids_u[known] = self.ids[pos[known]]
        new = np.flatnonzero(~known)
        if len(new):
            order = new[np.argsort(first[new], kind="stable")]
            ids_u[order] = len(self.keys) + np.arange(len(order))
            self.keys = np.insert(self.keys, pos[new], u[new])
            self.ids = np.insert(self.ids, pos[new], ids_u[new])
        return ids_u[inv.reshape(-1)]


def _merge(ks: list[np.ndarray], fs: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    k = np.concatenate(ks)
    f = np.concatenate(fs)
    order = np.lexsort((f, k))          # by key, then earliest first
    k, f = k[order], f[order]
    keep = np.ones(len(k), bool)
    keep[1:] = k[1:] != k[:-1]
    return k[keep], f[keep]


@dataclass
class TraceStep(AccessStep):
    """A trace file replayed as a stream (``repeat`` times; None = until the engine stops it).

    Folded records are expanded back into single accesses; an instruction-count delta becomes
    CPU time ``icount * ns_per_instruction`` spread evenly over the record's accesses.
    """

    footprint: int = 0
    path: str = ""
    format: str = "npz"
    offset: int = 0
    ns_per_instruction: float = 0.5     # ~2 GHz at IPC 1
    repeat: int | None = 1
    pages: int = 0
    page_map: PageMap | None = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str, fmt: str | None = None, **kw) -> "TraceStep":
        """Open a trace: detect its format and number its pages densely (one pass unless the
        file is an already dense tierlab .npz)."""
        path = os.fspath(path)
        f = detect_format(path) if fmt is None else normalize_format(fmt)
        page_map = None
        pages = 0
        if f == "npz":
            meta = read_meta(path)
            if meta.get("dense") and isinstance(meta.get("pages"), int):
                pages = meta["pages"]
        if pages == 0:
            page_map = build_page_map(read_records(path, f))
            pages = len(page_map)
        if pages == 0:
            raise TraceError(f"{path}: empty trace (0 records)")
        name = kw.pop("name", "") or os.path.basename(path)
        return cls(footprint=kw.get("offset", 0) + pages, path=path, format=f, pages=pages,
                   page_map=page_map, name=name, **kw)

    def records(self, verify: bool = True) -> Iterator[Records]:
        """Records with dense page numbers (offset not applied)."""
        for r in read_records(self.path, self.format, verify):
            if self.page_map is not None:
                yield r._replace(vpn=self.page_map.lookup(r.vpn))
                continue
            if len(r.vpn) and r.vpn.max() >= self.pages:       # read_npz checked >= 0
                raise TraceError(f"{self.path}: meta says dense with {self.pages} pages but "
                                 f"vpn.npy holds {int(r.vpn.min())}..{int(r.vpn.max())}")
            yield r

    def chunks(self, chunk_size: int = 1 << 16) -> Iterator[Chunk]:
        return rechunk(self._pieces(), chunk_size)

    def _pieces(self) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
        rep = 0
        while self.repeat is None or rep < self.repeat:
            rep += 1
            for r in self.records(verify=rep == 1):      # the CRC is checked on the first pass
                yield from expand_pieces(r, self.ns_per_instruction, self.offset)


EXPAND_MAX = 1 << 20     # accesses per expanded piece: bounds memory whatever the repeat counts


def expand_pieces(r: Records, ns_per_instruction: float = 0.0, offset: int = 0,
                  most: int = EXPAND_MAX
                  ) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray | None]]:
    """``expand`` in pieces of at most ``most`` accesses (a record with a huge count is split),
    so a block of folded records never expands into an unbounded array."""
    if r.count is None or len(r.vpn) == 0:
        yield expand(r, ns_per_instruction, offset)
        return
    cum = np.cumsum(r.count, dtype=np.int64)
    if cum[-1] <= most:
        yield expand(r, ns_per_instruction, offset)
        return
    gap = None if r.icount is None else r.icount.astype(np.float64) * ns_per_instruction
    per = None if gap is None else gap / np.maximum(r.count, 1)
    start = 0                    # first record not fully emitted
    done_in_first = 0            # accesses of record ``start`` already emitted
    base = 0                     # accesses emitted so far
    total = int(cum[-1])
    while base < total:
        end_acc = min(base + most, total)
        stop = int(np.searchsorted(cum, end_acc, side="left"))     # record holding access end_acc-1
        c = r.count[start:stop + 1].astype(np.int64)
        c[0] -= done_in_first
        c[-1] -= int(cum[stop]) - end_acc
        vpn = r.vpn[start:stop + 1] + offset if offset else r.vpn[start:stop + 1]
        g = None if per is None else np.repeat(per[start:stop + 1], c)
        yield np.repeat(vpn, c), np.repeat(r.op[start:stop + 1], c), g
        base = end_acc
        if end_acc == int(cum[stop]):
            start, done_in_first = stop + 1, 0
        else:
            start = stop
            done_in_first = int(r.count[stop]) - (int(cum[stop]) - end_acc)


def expand(r: Records, ns_per_instruction: float = 0.0, offset: int = 0
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Folded records -> one entry per access (vpn, op, gap_ns or None)."""
    vpn = r.vpn + offset if offset else r.vpn
    gap = None
    if r.icount is not None:
        gap = r.icount.astype(np.float64) * ns_per_instruction
    if r.count is None or bool((r.count == 1).all()):
        return vpn, r.op, gap
    c = r.count.astype(np.int64)
    if gap is not None:
        gap = np.repeat(gap / np.maximum(c, 1), c)
    return np.repeat(vpn, c), np.repeat(r.op, c), gap


def convert_trace(src: str, dst: str, fmt: str | None = None, compress: bool = False) -> dict:
    """Write ``src`` (any format) as a dense, folded tierlab .npz at ``dst``; returns its meta.
    Two passes over a file: the page map, then the records. A pipe (``-`` = stdin, a FIFO) is
    read once, numbering pages as they appear; its format must be named (lackey or text)."""
    src = os.fspath(src)
    if is_stream(src):
        if fmt is None:
            raise TraceError(f"{src}: reading a pipe: name its format (--format lackey or text)")
        f = normalize_format(fmt)
        if f not in ("lackey", "text"):
            raise TraceError(f"{src}: only lackey and text traces are read from a pipe, not {f}")
        numbering = DenseNumbering()
        name = "stdin" if src == "-" else os.path.basename(src)
        with TraceWriter(dst, source=f"{f}:{name}", dense=True, compress=compress) as w:
            for r in read_records(src, f):
                r = fold(numbering.assign(r.vpn), r.op, r.icount, r.count)
                w.append(r.vpn, r.op, r.count, r.icount)
        return read_meta(dst)
    f = detect_format(src) if fmt is None else normalize_format(fmt)
    page_map = build_page_map(read_records(src, f))
    with TraceWriter(dst, source=f"{f}:{os.path.basename(src)}", dense=True,
                     compress=compress) as w:
        for r in read_records(src, f):
            r = fold(page_map.lookup(r.vpn), r.op, r.icount, r.count)
            w.append(r.vpn, r.op, r.count, r.icount)
    return read_meta(dst)


HOT_PERCENTS = (1, 5, 10, 25, 50)


def trace_stats(path: str, fmt: str | None = None, reuse_sample: int = 1 << 22) -> dict:
    """Summary of a trace: accesses, distinct pages, footprint, read/write share, the share of
    accesses taken by the hottest 1/5/10/25/50 % of pages, and reuse (LRU stack) distances.

    Reuse distances are exact over the first ``reuse_sample`` accesses and not computed past
    them (``reuse.exact`` says whether the sample is the whole trace); ``lru_hit_ratio`` is the
    hit ratio of an LRU cache of the given share of the footprint over that sample.
    """
    step = TraceStep.open(path, fmt)
    n = step.pages
    hits = np.zeros(n, np.int64)
    reads = writes = records = 0
    instructions: int | None = None
    sample: list[np.ndarray] = []
    sampled = 0
    for r in step.records():
        records += len(r.vpn)
        c = np.ones(len(r.vpn), np.int64) if r.count is None else r.count.astype(np.int64)
        # bincount only up to this block's highest page: no n-sized temporary per block
        b = np.bincount(r.vpn) if r.count is None else \
            np.rint(np.bincount(r.vpn, weights=c)).astype(np.int64)
        hits[:len(b)] += b
        w = r.op == WRITE
        writes += int(c[w].sum())
        reads += int(c[~w].sum())
        if r.icount is not None:
            instructions = (instructions or 0) + int(r.icount.sum(dtype=np.int64))
        if sampled < reuse_sample:
            ids = np.repeat(r.vpn, c)[:reuse_sample - sampled]
            sample.append(ids)
            sampled += len(ids)
    accesses = reads + writes
    order = np.sort(hits)[::-1]
    cum = np.cumsum(order)
    hottest = {f"{p}%": float(cum[max(1, math.ceil(n * p / 100)) - 1] / accesses)
               for p in HOT_PERCENTS}
    return {
        "path": os.fspath(path), "format": step.format, "records": records,
        "accesses": accesses, "pages": n, "footprint_bytes": n * PAGE_SIZE,
        "read_share": reads / accesses, "write_share": writes / accesses,
        "instructions": instructions, "hottest_share": hottest,
        "reuse": _reuse_summary(np.concatenate(sample), n, accesses),
    }


def _reuse_summary(ids: np.ndarray, n_pages: int, accesses: int) -> dict:
    from ._kernels import reuse_distances

    d = reuse_distances(ids, n_pages)
    re = d[d >= 0]
    out: dict = {"sampled_accesses": len(ids), "exact": len(ids) == accesses,
                 "first_touches": int((d < 0).sum())}
    if len(re):
        out.update(mean=float(re.mean()), median=float(np.median(re)),
                   p90=float(np.percentile(re, 90)), p99=float(np.percentile(re, 99)))
    else:
        out.update(mean=None, median=None, p90=None, p99=None)
    out["lru_hit_ratio"] = {f"{p}%": float((re < max(1, math.ceil(n_pages * p / 100))).sum()
                                           / len(ids)) for p in HOT_PERCENTS}
    return out
