"""Reader of ``valgrind --tool=lackey --trace-mem=yes`` output, vectorised.

Lackey prints ``I  addr,size`` per instruction and `` L|S|M addr,size`` per data access
(hex address, at least 8 digits). ``I`` lines become instruction-count deltas of the next
data record; ``M`` (modify = load + store) counts as a WRITE; addresses become page numbers
(``addr >> 12``). Valgrind's own lines (``==PID==``, ``--PID--``, ``**PID**``) and empty
lines are skipped and counted; anything else is a TraceError naming the line.

The text is read in blocks of bytes and split into lines with numpy (no Python step per
line): 55-80 MB/s in 1 MiB blocks (small blocks keep the temporaries from faulting in fresh
memory). Runs of same-page same-op records fold into counts inside a block.
"""

from __future__ import annotations

import lzma
import warnings
import zlib
from typing import Iterator

import numpy as np

from ..errors import TraceError
from .base import READ, WRITE
from .records import Records, fold
from .textio import open_binary

ADDRESS_LIMIT = 1 << 57      # 5-level paging: user virtual addresses are below 2**57

_HEX = np.full(256, 255, np.uint8)
for _i, _c in enumerate(b"0123456789abcdef"):
    _HEX[_c] = _i
for _i, _c in enumerate(b"ABCDEF"):
    _HEX[_c] = 10 + _i
_DIGIT = np.zeros(256, bool)
_DIGIT[ord("0"):ord("9") + 1] = True
_PAD = b"\0" * 32             # lets fixed-column lookups run past a short last line


class LackeyWarning(UserWarning):
    """Lines of a lackey trace were skipped (valgrind's own messages)."""


def read_lackey(path: str, block_bytes: int = 1 << 20, info: dict | None = None) -> Iterator[Records]:
    """Stream the data accesses of a lackey trace as folded Records with icount deltas.

    ``info`` (optional) receives ``skipped_lines``, ``lines`` and ``instructions``.
    """
    parser = LackeyParser(path)
    with open_binary(path) as f:
        while True:
            try:
                data = f.read(block_bytes)
            except (OSError, EOFError, lzma.LZMAError, zlib.error) as e:
                raise TraceError(f"{path}: corrupt compressed data after line "
                                 f"{parser.lines} ({e})") from None
            if not data:
                break
            r = parser.feed(data)
            if r is not None:
                yield r
        r = parser.finish()
        if r is not None:
            yield r
    if parser.records == 0:
        raise TraceError(f"{path}: empty trace: no lackey data records (L/S/M) in "
                         f"{parser.lines} lines")
    if parser.skipped:
        warnings.warn(f"{path}: skipped {parser.skipped} valgrind message lines",
                      LackeyWarning, stacklevel=2)
    if info is not None:
        info.update(skipped_lines=parser.skipped, lines=parser.lines,
                    instructions=parser.instructions)


class LackeyParser:
    """Incremental lackey parser: ``feed`` it bytes as they come (a file block, a pipe read),
    get the folded Records of the whole lines so far; ``finish`` parses the last line.
    ``name`` is what errors call the input (a file name, or "valgrind output")."""

    def __init__(self, name: str):
        self.name = name
        self.state = {"line0": 0, "pending": 0, "skipped": 0, "instructions": 0, "records": 0}
        self.carry = b""

    @property
    def lines(self) -> int:
        return self.state["line0"]

    @property
    def records(self) -> int:
        """Data accesses (L/S/M lines) parsed so far."""
        return self.state["records"]

    @property
    def skipped(self) -> int:
        return self.state["skipped"]

    @property
    def instructions(self) -> int:
        return self.state["instructions"]

    def feed(self, data: bytes) -> Records | None:
        buf = self.carry + data if self.carry else data
        cut = buf.rfind(b"\n")
        if cut < 0:
            self.carry = buf
            return None
        self.carry = buf[cut + 1:]
        return _parse_block(self.name, buf[:cut + 1], self.state)

    def finish(self, drop_partial: bool = False) -> Records | None:
        """Parse a last line without a newline; ``drop_partial`` drops it instead (output cut
        off mid-line, e.g. valgrind stopped)."""
        carry, self.carry = self.carry, b""
        if drop_partial or not carry.strip():
            return None
        return _parse_block(self.name, carry + b"\n", self.state)


def _commas(text: np.ndarray, s: np.ndarray, e: np.ndarray) -> np.ndarray:
    """Position of the first comma of each line [s, e); e where there is none."""
    commas = np.flatnonzero(text == 44)
    if len(commas) == len(s) and len(s) and (commas >= s).all() and (commas < e).all():
        return commas                 # the usual block: one comma per record line, no messages
    if len(commas) == 0:
        return e.copy()
    k = np.minimum(np.searchsorted(commas, s), len(commas) - 1)
    c = commas[k]
    return np.where((c >= s) & (c < e), c, e)


def _parse_block(path: str, buf: bytes, st: dict) -> Records | None:
    """Parse whole lines (``buf`` ends with a newline); update the carried state."""
    arr = np.frombuffer(buf + _PAD, np.uint8)
    ends = np.flatnonzero(arr[:len(buf)] == 10)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    length = ends - starts
    c0, c1, c2 = arr[starts], arr[starts + 1], arr[starts + 2]
    is_i = (c0 == 73) & (c1 == 32) & (c2 == 32)                       # "I  "
    is_d = (c0 == 32) & ((c1 == 76) | (c1 == 83) | (c1 == 77)) & (c2 == 32)   # " L " " S " " M "
    is_msg = (length == 0) | ((c0 == c1) & ((c0 == 61) | (c0 == 45) | (c0 == 42)))  # == -- **
    if length.size and (arr[ends - 1] == 13).any():                   # CRLF: strip the CR
        length = length - (arr[ends - 1] == 13)
    rec = is_i | is_d
    bad = ~(rec | is_msg)
    ri = np.flatnonzero(rec)
    s, e = starts[ri], starts[ri] + length[ri]
    comma = _commas(arr[:len(buf)], s, e)
    # the address: hex digits from column 3 up to the comma; a decimal size follows the comma
    ndig = comma - (s + 3)
    ok = (comma < e - 1) & (ndig >= 1) & (ndig <= 16) & _DIGIT[arr[comma + 1]]
    width = int(ndig[ok].max()) if ok.any() else 1
    addr = np.zeros(len(ri), np.uint64)
    for j in range(width):            # one gather per digit column, right-aligned on the comma
        dj = _HEX[arr[np.maximum(comma - 1 - j, 0)]]
        used = ndig > j
        ok &= ~(used & (dj == 255))
        addr |= np.where(used, dj, 0).astype(np.uint64) << np.uint64(4 * j)
    if not ok.all():
        bad[ri[~ok]] = True
    if bad.any():
        j = int(np.flatnonzero(bad)[0])
        text = buf[starts[j]:ends[j]][:80].decode("utf-8", "replace")
        raise TraceError(f"{path}: line {st['line0'] + j + 1}: not a lackey record: {text!r}")
    if (addr >= ADDRESS_LIMIT).any():
        j = int(ri[np.flatnonzero(addr >= ADDRESS_LIMIT)[0]])
        raise TraceError(f"{path}: line {st['line0'] + j + 1}: address "
                         f"{buf[starts[j] + 3:ends[j]].split(b',')[0].decode()} is not below "
                         f"2**57 (not a user virtual address)")
    st["line0"] += len(ends)
    st["skipped"] += int(is_msg.sum() - (length == 0).sum())
    # instruction-count delta of each data record: I lines since the previous data record
    data = ~is_i[ri]
    cum_i = np.cumsum(is_i[ri], dtype=np.int64)
    n_i = int(cum_i[-1]) if len(cum_i) else 0
    st["instructions"] += n_i
    di = np.flatnonzero(data)
    if len(di) == 0:
        st["pending"] += n_i
        return None
    at = cum_i[di]
    delta = np.diff(at, prepend=0)
    delta[0] += st["pending"]
    st["pending"] = n_i - int(at[-1])
    vpn = (addr[di] >> np.uint64(12)).astype(np.int64)
    op = np.where(c1[ri[di]] == 76, READ, WRITE).astype(np.uint8)
    st["records"] += len(di)
    return fold(vpn, op, delta)
