"""tierlab's own trace format: a ``.npz`` (zip of ``.npy`` arrays), see docs/trace-format.md.

Both the reader and the writer stream: the reader opens each array member of the zip and
reads a block of elements at a time (a deflated member is inflated as it is read, so even a
compressed trace is never whole in memory); the writer spools each array to a raw temporary
file and builds the zip at ``close()``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
import zlib
from typing import IO, Iterator

import numpy as np

from ..errors import TraceError
from ..units import PAGE_SIZE
from .records import Records

FORMAT_NAME = "tierlab-trace"
FORMAT_VERSION = 1
FIELDS = {"vpn": np.dtype("<i8"), "op": np.dtype("u1"),
          "count": np.dtype("<u4"), "icount": np.dtype("<u4")}
_DEFAULTS = {"count": 1, "icount": 0}    # value of a field for records appended without it
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)


class _Member:
    """One ``.npy`` member of the zip, read a block of elements at a time."""

    def __init__(self, path: str, zf: zipfile.ZipFile, name: str):
        self.path, self.name = path, name
        try:
            self.f: IO[bytes] = zf.open(name)
            version = np.lib.format.read_magic(self.f)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(self.f)
            else:
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(self.f)
        except _READ_ERRORS as e:
            raise TraceError(f"{path}: member {name}: not a readable .npy array ({e})") from None
        if len(shape) != 1 or dtype.hasobject:
            raise TraceError(f"{path}: member {name}: expected a 1-d numeric array, "
                             f"got shape {shape} dtype {dtype}")
        self.n, self.dtype, self.done = int(shape[0]), dtype, 0

    def read(self, k: int) -> np.ndarray:
        k = min(k, self.n - self.done)
        want = k * self.dtype.itemsize
        try:
            buf = self.f.read(want)
        except _READ_ERRORS as e:
            raise TraceError(f"{self.path}: member {self.name}: corrupt data near element "
                             f"{self.done} ({e})") from None
        if len(buf) != want:
            got = self.done * self.dtype.itemsize + len(buf)
            raise TraceError(f"{self.path}: member {self.name}: truncated at byte {got} of "
                             f"{self.n * self.dtype.itemsize}")
        self.done += k
        return np.frombuffer(buf, self.dtype)


def _open_zip(path: str) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except FileNotFoundError:
        raise TraceError(f"{path}: no such trace file") from None
    except _READ_ERRORS as e:
        size = os.path.getsize(path) if os.path.exists(path) else 0
        raise TraceError(f"{path}: not a readable .npz (zip) file of {size} bytes "
                         f"(truncated or corrupt? {e})") from None


def read_meta(path: str) -> dict:
    """The trace's ``meta`` JSON as a dict ({} when the file has none)."""
    with _open_zip(path) as zf:
        if "meta.npy" not in zf.namelist():
            return {}
        try:
            with zf.open("meta.npy") as f:
                arr = np.lib.format.read_array(f, allow_pickle=False)
            return json.loads(str(arr[()]))
        except (*_READ_ERRORS, json.JSONDecodeError) as e:
            raise TraceError(f"{path}: member meta.npy: unreadable metadata ({e})") from None


def read_npz(path: str, block: int = 1 << 20) -> Iterator[Records]:
    """Stream the records of a tierlab ``.npz`` trace, ``block`` records at a time."""
    with _open_zip(path) as zf:
        names = set(zf.namelist())
        if "vpn.npy" not in names or "op.npy" not in names:
            raise TraceError(f"{path}: not a tierlab trace: members {sorted(names)}, "
                             f"need vpn.npy and op.npy (see docs/trace-format.md)")
        members = {k: _Member(path, zf, k + ".npy") for k in FIELDS if k + ".npy" in names}
        n = members["vpn"].n
        for k, m in members.items():
            if m.n != n:
                raise TraceError(f"{path}: member {k}.npy has {m.n} records, vpn.npy has {n}")
        if n == 0:
            raise TraceError(f"{path}: empty trace (0 records)")
        while members["vpn"].done < n:
            arrs = {k: m.read(block) for k, m in members.items()}
            yield Records(arrs["vpn"].astype(np.int64, copy=False),
                          arrs["op"].astype(np.uint8, copy=False),
                          arrs.get("count"), arrs.get("icount"))


class TraceWriter:
    """Append record blocks, get a tierlab ``.npz`` at ``close()`` (atomically renamed).

    Memory stays bounded: blocks go to raw spool files next to the target. A field first seen
    after some records were written is back-filled with its default (count 1, icount 0).
    """

    def __init__(self, path: str, *, source: str = "", dense: bool = False,
                 compress: bool = True, meta: dict | None = None):
        self.path = os.fspath(path)
        self.dense, self.compress = dense, compress
        self.meta = {"format": FORMAT_NAME, "version": FORMAT_VERSION, "source": source,
                     "page_size": PAGE_SIZE, "dense": dense, **(meta or {})}
        self._dir = tempfile.mkdtemp(prefix=".trace-", dir=os.path.dirname(os.path.abspath(self.path)))
        self._spool: dict[str, IO[bytes]] = {}
        self.records = 0
        self.accesses = 0
        self.max_vpn = -1
        for k in ("vpn", "op"):
            self._spool[k] = open(os.path.join(self._dir, k), "wb")

    def append(self, vpn: np.ndarray, op: np.ndarray, count: np.ndarray | None = None,
               icount: np.ndarray | None = None) -> None:
        n = len(vpn)
        if len(op) != n:
            raise ValueError("vpn and op differ in length")
        if n == 0:
            return
        cols = {"vpn": vpn, "op": op, "count": count, "icount": icount}
        for k in ("count", "icount"):
            if cols[k] is not None and k not in self._spool:
                f = self._spool[k] = open(os.path.join(self._dir, k), "wb")
                _write_const(f, FIELDS[k], _DEFAULTS[k], self.records)
        for k, f in self._spool.items():
            a = cols[k]
            if a is None:
                _write_const(f, FIELDS[k], _DEFAULTS[k], n)
            else:
                f.write(np.ascontiguousarray(a, FIELDS[k]).tobytes())
        self.records += n
        self.accesses += n if count is None else int(np.asarray(count).sum(dtype=np.int64))
        self.max_vpn = max(self.max_vpn, int(np.max(vpn)))

    def close(self) -> None:
        """Write the .npz and remove the spool."""
        try:
            for f in self._spool.values():
                f.close()
            meta = dict(self.meta, records=self.records, accesses=self.accesses,
                        fields=sorted(self._spool))
            if self.dense:
                meta["pages"] = self.max_vpn + 1
            tmp = self.path + ".tmp"
            mode = zipfile.ZIP_DEFLATED if self.compress else zipfile.ZIP_STORED
            with zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True) as zf:
                for k in self._spool:
                    with zf.open(k + ".npy", "w", force_zip64=True) as out, \
                            open(os.path.join(self._dir, k), "rb") as src:
                        np.lib.format.write_array_header_1_0(out, {
                            "descr": np.lib.format.dtype_to_descr(FIELDS[k]),
                            "fortran_order": False, "shape": (self.records,)})
                        shutil.copyfileobj(src, out, 1 << 22)
                with zf.open("meta.npy", "w") as out:
                    np.lib.format.write_array(out, np.array(json.dumps(meta)), allow_pickle=False)
            os.replace(tmp, self.path)
        finally:
            shutil.rmtree(self._dir, ignore_errors=True)

    def __enter__(self) -> "TraceWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            for f in self._spool.values():
                f.close()
            shutil.rmtree(self._dir, ignore_errors=True)


def _write_const(f: IO[bytes], dtype: np.dtype, value: int, n: int) -> None:
    step = 1 << 20
    while n > 0:
        k = min(n, step)
        f.write(np.full(k, value, dtype).tobytes())
        n -= k
