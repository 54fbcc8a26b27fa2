"""Reader of plain text/CSV traces: one address per line, optionally an op column.

    # comment
    addr,op          <- an optional header line (the first line whose first field is not a number)
    0x7ffd1000,R     <- hex needs the 0x prefix; otherwise decimal
    140734000,W
    4096             <- no op column: READ

Columns are separated by commas or whitespace. Ops: R/L/read = READ, W/S/M/write = WRITE (M is a
read-modify-write), any case. Addresses are bytes below 2**57, pages are ``addr >> 12``.

Parsing is vectorised like the lackey reader: 1 MiB blocks of bytes are cut into lines and
fields with numpy, and the digits of every address are gathered one column at a time (no
Python step per line).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import TraceError
from .base import READ, WRITE
from .lackey import ADDRESS_LIMIT, _HEX
from .records import Records
from .textio import open_binary

_DEC = np.full(256, 255, np.uint8)
_DEC[ord("0"):ord("9") + 1] = np.arange(10)
_SEP = np.zeros(256, bool)
_SEP[[9, 10, 13, 32, 44]] = True          # tab, newline, CR, space, comma
_OP1 = np.full(256, 255, np.uint8)        # one-letter ops
for _c in b"rRlL":
    _OP1[_c] = READ
for _c in b"wWsSmM":
    _OP1[_c] = WRITE
_PAD = b"\0" * 8
MAX_DIGITS = {16: 16, 10: 19}             # longer numbers do not fit 64 bits


def read_text(path: str, block_bytes: int = 1 << 20) -> Iterator[Records]:
    """Stream a text/CSV address trace, a block of about ``block_bytes`` bytes at a time."""
    st = {"line0": 0, "records": 0, "header_allowed": True}
    with open_binary(path) as f:
        carry = b""
        while True:
            data = f.read(block_bytes)
            if not data:
                break
            buf = carry + data
            cut = buf.rfind(b"\n")
            if cut < 0:
                carry = buf
                continue
            carry = buf[cut + 1:]
            r = _parse_block(path, buf[:cut + 1], st)
            if r is not None:
                yield r
        if carry:
            r = _parse_block(path, carry + b"\n", st)
            if r is not None:
                yield r
    if st["records"] == 0:
        raise TraceError(f"{path}: empty trace (no address lines)")


def _parse_block(path: str, buf: bytes, st: dict) -> Records | None:
    """Parse whole lines (``buf`` ends with a newline); update the carried state."""
    n = len(buf)
    arr = np.frombuffer(buf + _PAD, np.uint8)
    text = arr[:n]
    ends = np.flatnonzero(text == 10)
    starts = np.empty_like(ends)
    starts[0] = 0
    starts[1:] = ends[:-1] + 1
    tok = ~_SEP[text]
    hashes = np.flatnonzero(text == 35)
    if len(hashes):                        # blank out comments: '#' to the end of the line
        k = np.minimum(np.searchsorted(hashes, starts), len(hashes) - 1)
        h = hashes[k]
        has = (h >= starts) & (h < ends)
        d = np.zeros(n + 1, np.int8)
        d[h[has]] = 1
        d[ends[has]] = -1
        tok &= np.cumsum(d[:n], dtype=np.int8) == 0
    edge = np.empty(n + 1, bool)           # token boundaries: tok changes value
    edge[0] = tok[0]
    np.not_equal(tok[1:], tok[:-1], out=edge[1:n])
    edge[n] = tok[-1]
    b = np.flatnonzero(edge)
    ts, te = b[0::2], b[1::2]              # token [ts, te)
    line0 = st["line0"]
    st["line0"] += len(ends)
    if len(ts) == 0:
        return None
    line = np.cumsum(text == 10, dtype=np.int32)[ts]     # line index of each token
    first = np.empty(len(ts), bool)
    first[0] = True
    np.not_equal(line[1:], line[:-1], out=first[1:])
    fi = np.flatnonzero(first)             # first token of each non-empty line
    ntok = np.diff(np.append(fi, len(ts)))
    lines = line[fi]
    if st["header_allowed"]:
        st["header_allowed"] = False
        if _DEC[arr[ts[fi[0]]]] == 255:    # first field of the first line is not a number
            fi, ntok, lines = fi[1:], ntok[1:], lines[1:]
            if len(fi) == 0:
                return None
    bad = ntok > 2
    s, e = ts[fi], te[fi]
    is_hex = (arr[s] == 48) & ((arr[s + 1] | 0x20) == 120) & (e - s >= 2)
    ds = s + 2 * is_hex
    nd = e - ds
    too_long = nd > np.where(is_hex, MAX_DIGITS[16], MAX_DIGITS[10])
    bad |= nd < 1
    addr, bad_digit = _digits(arr, e, nd, is_hex, too_long)
    bad |= bad_digit
    op = np.full(len(fi), READ, np.uint8)
    two = np.flatnonzero(ntok == 2)
    if len(two):
        os_, oe = ts[fi[two] + 1], te[fi[two] + 1]
        ln = oe - os_
        o = np.where(ln == 1, _OP1[arr[os_]], 255).astype(np.uint8)
        long_ = np.flatnonzero(ln != 1)
        if len(long_):                      # "read" / "write", any case
            word = arr[os_[long_, None] + np.arange(5)] | 0x20   # padded past the end
            is_read = (ln[long_] == 4) & (word[:, :4] == np.frombuffer(b"read", np.uint8)).all(1)
            is_write = (ln[long_] == 5) & (word == np.frombuffer(b"write", np.uint8)).all(1)
            o[long_] = np.where(is_read, READ, np.where(is_write, WRITE, 255))
        bad[two] |= o == 255
        op[two] = np.minimum(o, WRITE)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        j = int(lines[i])
        raw = buf[starts[j]:ends[j]][:80].decode("utf-8", "replace").rstrip()
        raise TraceError(f"{path}: line {line0 + j + 1}: expected 'address[,R|W]', got {raw!r}")
    over = too_long | (addr >= ADDRESS_LIMIT)
    if over.any():
        i = int(np.flatnonzero(over)[0])
        tok_text = buf[s[i]:e[i]].decode("ascii", "replace")
        raise TraceError(f"{path}: line {line0 + int(lines[i]) + 1}: address {tok_text} is not "
                         f"below 2**57 (not a user virtual address)")
    st["records"] += len(fi)
    return Records((addr >> np.uint64(12)).astype(np.int64), op)


def _digits(arr: np.ndarray, e: np.ndarray, nd: np.ndarray, is_hex: np.ndarray,
            too_long: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values of the numbers ending at ``e`` with ``nd`` digits (hex where ``is_hex``), gathered
    one digit column at a time from the right; and which of them hold a non-digit."""
    addr = np.zeros(len(e), np.uint64)
    bad = np.zeros(len(e), bool)
    if len(e) == 0:
        return addr, bad
    all_hex, no_hex = bool(is_hex.all()), not is_hex.any()
    for j in range(int(nd.max())):
        c = arr[np.maximum(e - 1 - j, 0)]
        if all_hex:
            v = _HEX[c]
        elif no_hex:
            v = _DEC[c]
        else:
            v = np.where(is_hex, _HEX[c], _DEC[c])
        used = nd > j
        bad |= used & (v == 255)
        if j >= 19:
            continue                        # too long: reported as out of range
        v = np.where(used & ~too_long, v, 0).astype(np.uint64)
        if all_hex:
            addr |= v << np.uint64(4 * min(j, 15))
        elif no_hex:
            addr += v * np.uint64(10 ** j)
        else:
            addr += v * np.where(is_hex, np.uint64(16 ** min(j, 15)), np.uint64(10 ** j))
    return addr, bad
