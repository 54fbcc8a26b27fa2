"""Reader of libCacheSim ``oracleGeneral`` binary traces.

Each record is 24 bytes, little endian: uint32 timestamp, uint64 obj_id, uint32 obj_size,
int64 next_access_vtime. tierlab takes ``obj_id`` as the page (block) id and every request
as a READ; sizes and timestamps are not used (a request is one page access).
"""

from __future__ import annotations

import os
from typing import Iterator

import numpy as np

from ..errors import TraceError
from .base import READ
from .records import Records

RECORD = np.dtype([("timestamp", "<u4"), ("obj_id", "<u8"), ("obj_size", "<u4"),
                   ("next_access_vtime", "<i8")])
assert RECORD.itemsize == 24


def read_oracle(path: str, block: int = 1 << 20) -> Iterator[Records]:
    """Stream an oracleGeneral file, ``block`` records at a time."""
    if not os.path.isfile(path):
        raise TraceError(f"{path}: no such trace file")
    size = os.path.getsize(path)
    if size == 0:
        raise TraceError(f"{path}: empty trace (0 bytes)")
    if size % RECORD.itemsize:
        whole = size - size % RECORD.itemsize
        raise TraceError(f"{path}: size {size} bytes is not a multiple of the 24-byte "
                         f"oracleGeneral record: partial record at byte {whole}")
    with open(path, "rb") as f:
        while True:
            rec = np.fromfile(f, RECORD, count=block)
            if len(rec) == 0:
                break
            # obj_id is a 64-bit id, not an address: reinterpret as int64, pages are made dense later
            vpn = rec["obj_id"].astype(np.int64)
            yield Records(vpn, np.full(len(rec), READ, np.uint8))


def write_oracle(path: str, obj_id: np.ndarray, obj_size: int = 4096) -> None:
    """Write page ids as an oracleGeneral file (timestamps = record index, next vtime = -1).
    For tests and for feeding traces to libCacheSim."""
    rec = np.zeros(len(obj_id), RECORD)
    rec["timestamp"] = np.arange(len(obj_id), dtype=np.uint32)
    rec["obj_id"] = obj_id
    rec["obj_size"] = obj_size
    rec["next_access_vtime"] = -1
    rec.tofile(path)
