"""Reader of plain text/CSV traces: one address per line, optionally an op column.

    # comment
    addr,op          <- an optional header line (first non-numeric line)
    0x7ffd1000,R     <- hex needs the 0x prefix; otherwise decimal
    140734000,W
    4096             <- no op column: READ

Columns are separated by commas or whitespace. Ops: R/L = READ, W/S/M = WRITE (M is a
read-modify-write). Addresses are bytes, pages are ``addr >> 12``. Parsing uses Python's
int() per line (~1-2 M lines/s): this format is for small hand-made traces.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from ..errors import TraceError
from .base import READ, WRITE
from .records import Records
from .textio import open_binary

_OPS = {"r": READ, "l": READ, "read": READ, "w": WRITE, "s": WRITE, "m": WRITE, "write": WRITE}


def read_text(path: str, block_lines: int = 1 << 18) -> Iterator[Records]:
    """Stream a text/CSV address trace, ``block_lines`` lines at a time."""
    vpns: list[int] = []
    ops: list[int] = []
    total = 0
    header_allowed = True
    with open_binary(path) as f:
        for lineno, raw in enumerate(f, 1):
            line = raw.split(b"#", 1)[0].strip()
            if not line:
                continue
            parts = line.replace(b",", b" ").split()
            try:
                tok = parts[0].decode("ascii").lower()
                addr = int(tok, 16) if tok.startswith("0x") else int(tok, 10)
                op = _OPS[parts[1].decode("ascii").lower()] if len(parts) > 1 else READ
                if addr < 0 or addr >= 1 << 64 or len(parts) > 2:
                    raise ValueError
            except (ValueError, KeyError, UnicodeDecodeError):
                if header_allowed and not parts[0][:1].isdigit():
                    header_allowed = False
                    continue
                raise TraceError(f"{path}: line {lineno}: expected 'address[,R|W]', got "
                                 f"{raw[:80].decode('utf-8', 'replace').rstrip()!r}") from None
            header_allowed = False
            vpns.append(addr >> 12)
            ops.append(op)
            if len(vpns) >= block_lines:
                total += len(vpns)
                yield _records(vpns, ops)
                vpns, ops = [], []
    total += len(vpns)
    if vpns:
        yield _records(vpns, ops)
    if total == 0:
        raise TraceError(f"{path}: empty trace (no address lines)")


def _records(vpns: list[int], ops: list[int]) -> Records:
    # page numbers of 64-bit addresses fit in int64 (addr >> 12 < 2**52)
    return Records(np.array(vpns, np.int64), np.array(ops, np.uint8))
