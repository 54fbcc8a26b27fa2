"""tierlab's own trace format: a ``.npz`` (zip of ``.npy`` arrays), see docs/trace-format.md.

Both the reader and the writer stream: the reader opens each array member of the zip and
reads a block of elements at a time (a stored member straight from the file into an array,
a deflated one inflated as it is read, so even a compressed trace is never whole in
memory); the writer spools each array to a raw temporary file and builds the zip at
``close()``, stored (uncompressed) by default: reading stored members is ~8x faster than
inflating them.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import sys
import tempfile
import zipfile
import zlib
from typing import IO, Iterator

import numpy as np

try:        # zlib-ng's CRC-32 uses carry-less multiply (PCLMULQDQ/PMULL): ~10 GB/s, zlib's ~2
    from zlib_ng.zlib_ng import crc32
except ImportError:         # an install older than the dependency
    from zlib import crc32

from ..errors import TraceError
from ..units import PAGE_SIZE
from .records import Records

FORMAT_NAME = "tierlab-trace"
FORMAT_VERSION = 1
FIELDS = {"vpn": np.dtype("<i8"), "op": np.dtype("u1"),
          "count": np.dtype("<u4"), "icount": np.dtype("<u4")}
_DEFAULTS = {"count": 1, "icount": 0}    # value of a field for records appended without it
COMPRESS_LEVEL = 1        # deflate level of --compress: ~3x faster to write than 6, ~same size
VPN_LIMIT = 1 << 45      # page numbers of user virtual addresses (below 2**57)
_RECYCLED = 4            # block arrays a stored member keeps for reuse (the consumer's, the next)
_READ_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, KeyError)


class _Member:
    """One ``.npy`` member of the zip read through ``zipfile`` (deflated/LZMA members): inflated
    a block of elements at a time; zipfile checks the CRC at the member's end."""

    def __init__(self, path: str, zf: zipfile.ZipFile, name: str):
        self.path, self.name = path, name
        try:
            self.f: IO[bytes] = zf.open(name)
            shape, dtype = _read_npy_header(self.f)
        except _READ_ERRORS as e:
            raise TraceError(f"{path}: member {name}: not a readable .npy array ({e})") from None
        self.n, self.dtype, self.done = _check_shape(path, name, shape, dtype), dtype, 0

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

    def close(self) -> None:
        self.f.close()


class _StoredMember:
    """One stored (uncompressed) ``.npy`` member, read straight from the file with
    ``readinto``: one copy from the page cache, no per-block zipfile machinery. The CRC-32 the
    zip directory records is computed as the blocks go by (zlib-ng's: ~1.7 ns per 17-byte
    record, zlib's ~8) and compared when the member's last block is read.

    Block arrays are recycled once nothing but this reader refers to them (the consumer dropped
    the block): a fresh 8 MB array costs 2048 page faults that zero memory, as much time as
    the copy itself.
    """

    def __init__(self, path: str, info: zipfile.ZipInfo, verify: bool = True):
        self.path, self.name, self.verify = path, info.filename, verify
        self.f = open(path, "rb", buffering=0)
        try:
            self.f.seek(info.header_offset)
            local = self.f.read(30)
            if len(local) != 30 or local[:4] != b"PK\x03\x04":
                raise ValueError(f"bad local header at byte {info.header_offset}")
            name_len, extra_len = struct.unpack("<HH", local[26:30])
            start = info.header_offset + 30 + name_len + extra_len
            with open(path, "rb") as hf:        # buffered: the npy header parser reads bytes
                hf.seek(start)
                shape, dtype = _read_npy_header(hf)
                header_len = hf.tell() - start
            self.f.seek(start)
            head = self.f.read(header_len)
        except (*_READ_ERRORS, struct.error) as e:
            self.f.close()
            raise TraceError(f"{path}: member {self.name}: not a readable .npy array ({e})") from None
        self.n = _check_shape(path, self.name, shape, dtype)
        self.dtype, self.done = dtype, 0
        self.size = self.n * dtype.itemsize
        self.start = start + header_len                     # file offset of element 0
        stored = info.file_size - header_len
        if stored < self.size:
            self.f.close()
            raise TraceError(f"{path}: member {self.name}: truncated at byte {max(stored, 0)} "
                             f"of {self.size} (byte {self.start + max(stored, 0)} of the file)")
        self.want_crc = info.CRC
        self.crc = crc32(head)
        self.extra = stored - self.size
        self.bufs: list[np.ndarray] = []

    def _buffer(self, k: int) -> np.ndarray:
        for i in range(len(self.bufs)):       # (no loop variable holding a buffer)
            # more references than the list's: a consumer's block, or a view of it (the last,
            # shorter block is one)
            if len(self.bufs[i]) >= k and _refs(self.bufs, i) == _FREE_REFS:
                b = self.bufs[i]
                return b if len(b) == k else b[:k]
        b = np.empty(k, self.dtype)
        if len(self.bufs) < _RECYCLED:
            self.bufs.append(b)
        return b

    def read(self, k: int) -> np.ndarray:
        k = min(k, self.n - self.done)
        a = self._buffer(k)
        mv = memoryview(a).cast("B")
        got = 0
        while got < len(mv):
            r = self.f.readinto(mv[got:])
            if not r:
                at = self.done * self.dtype.itemsize + got
                raise TraceError(f"{self.path}: member {self.name}: truncated at byte {at} of "
                                 f"{self.size} (byte {self.start + at} of the file)")
            got += r
        self.done += k
        if self.verify:
            self.crc = crc32(mv, self.crc)
            if self.done == self.n:
                self._check_crc()
        return a

    def _check_crc(self) -> None:
        if self.extra:
            self.crc = crc32(self.f.read(self.extra), self.crc)
        if self.crc != self.want_crc:
            raise TraceError(f"{self.path}: member {self.name}: CRC-32 mismatch ({self.crc:08x}, "
                             f"the zip says {self.want_crc:08x}): corrupt data in bytes "
                             f"{self.start}..{self.start + self.size + self.extra - 1} of the file")

    def close(self) -> None:
        self.f.close()


def _refs(bufs: list, i: int) -> int:
    """sys.getrefcount of bufs[i] from here; _FREE_REFS when only the list holds it (measured,
    not assumed: what the call itself adds differs between interpreter versions)."""
    return sys.getrefcount(bufs[i])


_FREE_REFS = _refs([object()], 0)


def _read_npy_header(f: IO[bytes]) -> tuple[tuple, np.dtype]:
    version = np.lib.format.read_magic(f)
    if version == (1, 0):
        shape, _fortran, dtype = np.lib.format.read_array_header_1_0(f)
    else:
        shape, _fortran, dtype = np.lib.format.read_array_header_2_0(f)
    return shape, dtype


def _check_shape(path: str, name: str, shape: tuple, dtype: np.dtype) -> int:
    if len(shape) != 1 or dtype.hasobject:
        raise TraceError(f"{path}: member {name}: expected a 1-d numeric array, "
                         f"got shape {shape} dtype {dtype}")
    return int(shape[0])


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


def read_npz(path: str, block: int = 1 << 20, vpn_limit: int = VPN_LIMIT,
             verify: bool = True) -> Iterator[Records]:
    """Stream the records of a tierlab ``.npz`` trace, ``block`` records at a time.

    Stored members (what ``tierlab trace convert`` writes by default) are read with one copy
    per block and CRC-checked as they go by; deflated or LZMA members are inflated as they are
    read. Every ``vpn`` must be in ``0..vpn_limit-1`` (default: page numbers of addresses
    below 2**57). ``verify=False`` skips the CRC of stored members (a trace already read once).
    A block's arrays may be reused for a later block once the consumer holds no reference to
    them (nor to a view of them)."""
    with _open_zip(path) as zf:
        names = set(zf.namelist())
        if "vpn.npy" not in names or "op.npy" not in names:
            raise TraceError(f"{path}: not a tierlab trace: members {sorted(names)}, "
                             f"need vpn.npy and op.npy (see docs/trace-format.md)")
        infos = {k: zf.getinfo(k + ".npy") for k in FIELDS if k + ".npy" in names}
        stored = [i.compress_type == zipfile.ZIP_STORED and not i.flag_bits & 1
                  for i in infos.values()]
        members: dict = {}
        try:
            for (k, info), st in zip(infos.items(), stored):
                members[k] = _StoredMember(path, info, verify) if st else _Member(path, zf, info.filename)
            n = members["vpn"].n
            for k, m in members.items():
                if m.n != n:
                    raise TraceError(f"{path}: member {k}.npy has {m.n} records, vpn.npy has {n}")
            if n == 0:
                raise TraceError(f"{path}: empty trace (0 records)")
            done = 0
            while done < n:
                arrs = {k: m.read(block) for k, m in members.items()}
                vpn = arrs["vpn"].astype(np.int64, copy=False)
                # one pass: as uint64 a negative page number is >= 2**63
                if len(vpn) and int(vpn.view(np.uint64).max()) >= vpn_limit:
                    bad = np.flatnonzero((vpn < 0) | (vpn >= vpn_limit))[0]
                    raise TraceError(f"{path}: member vpn.npy: record {done + int(bad)}: page "
                                     f"number {int(vpn[bad])} is outside 0..{vpn_limit - 1}"
                                     + (" (addresses must be below 2**57)"
                                        if vpn_limit == VPN_LIMIT else ""))
                done += len(vpn)
                yield Records(vpn, arrs["op"].astype(np.uint8, copy=False),
                              arrs.get("count"), arrs.get("icount"))
                arrs = vpn = None       # let a block the consumer dropped be reused at once
        finally:
            for m in members.values():
                m.close()


class TraceWriter:
    """Append record blocks, get a tierlab ``.npz`` at ``close()`` (atomically renamed).

    Memory stays bounded: blocks go to raw spool files next to the target. A field first seen
    after some records were written is back-filled with its default (count 1, icount 0).
    """

    def __init__(self, path: str, *, source: str = "", dense: bool = False,
                 compress: bool = False, meta: dict | None = None):
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
            with zipfile.ZipFile(tmp, "w", compression=mode, allowZip64=True,
                                 compresslevel=COMPRESS_LEVEL if self.compress else None) as zf:
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
