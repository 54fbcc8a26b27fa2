"""Opening trace files that may be compressed (gzip, xz, bzip2), streaming."""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import stat
import sys
from typing import IO

from ..errors import TraceError


def open_binary(path: str) -> IO[bytes]:
    """Open ``path`` for binary reading, inflating .gz/.xz/.bz2 on the fly; TraceError if absent."""
    p = os.fspath(path)
    if p == "-":
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    if not os.path.isfile(p):
        if is_stream(p):
            return open(p, "rb")          # a named pipe or /dev/stdin: read once, in order
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


def is_stream(path: str) -> bool:
    """A pipe (``-`` for stdin, a FIFO, /dev/stdin) rather than a file: it can be read once."""
    p = os.fspath(path)
    if p == "-":
        return True
    try:
        mode = os.stat(p).st_mode
    except OSError:
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISCHR(mode) or stat.S_ISSOCK(mode)
