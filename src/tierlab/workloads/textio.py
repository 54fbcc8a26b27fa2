"""Opening trace files that may be compressed (gzip, xz, bzip2), streaming."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
from typing import IO

from ..errors import TraceError


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading, inflating .gz/.xz/.bz2 on the fly; TraceError if absent."""
    p = os.fspath(path)
    if not os.path.isfile(p):
        raise TraceError(f"{p}: no such trace file")
    low = p.lower()
    if low.endswith(".gz"):
        return gzip.open(p, "rb")
    if low.endswith((".xz", ".lzma")):
        return lzma.open(p, "rb")
    if low.endswith(".bz2"):
        return bz2.open(p, "rb")
    if low.endswith(".zst"):
        raise TraceError(f"{p}: zstd-compressed traces are not read directly; "
                         f"decompress first (zstd -d {os.path.basename(p)})")
    return open(p, "rb")
