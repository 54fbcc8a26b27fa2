"""Trace readers, the tierlab .npz format, dense page numbering, stats, broken input."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import warnings
import weakref
import zipfile

import numpy as np
import pytest

from tierlab.errors import TraceError
from tierlab.workloads import (READ, WRITE, TraceStep, build_steps, convert_trace, detect_format,
                               read_records, trace_stats)
from tierlab.workloads.lackey import LackeyWarning, read_lackey
from tierlab.workloads.npztrace import TraceWriter, read_meta, read_npz
from tierlab.workloads.oracle import read_oracle, write_oracle
from tierlab.workloads.records import fold
from tierlab.workloads.textrace import read_text

pytestmark = pytest.mark.filterwarnings("ignore::tierlab.workloads.lackey.LackeyWarning")


def cat(records):
    rs = list(records)
    out = {"vpn": np.concatenate([r.vpn for r in rs]), "op": np.concatenate([r.op for r in rs])}
    out["count"] = np.concatenate([np.ones(len(r.vpn), np.int64) if r.count is None else r.count
                                   for r in rs])
    if all(r.icount is not None for r in rs):
        out["icount"] = np.concatenate([r.icount for r in rs])
    return out


def stream(step, chunk_size=1 << 16):
    cs = list(step.chunks(chunk_size))
    gap = None if cs[0].gap_ns is None else np.concatenate([c.gap_ns for c in cs])
    return np.concatenate([c.vpn for c in cs]), np.concatenate([c.op for c in cs]), gap


# ---- tierlab .npz -------------------------------------------------------------------------

@pytest.mark.parametrize("compress", [True, False])
def test_npz_roundtrip_streams_in_blocks(tmp_path, compress):
    p = str(tmp_path / "t.npz")
    rng = np.random.default_rng(0)
    vpn = rng.integers(0, 1 << 40, 10_000)
    op = rng.integers(0, 2, 10_000).astype(np.uint8)
    cnt = rng.integers(1, 5, 10_000).astype(np.uint32)
    with TraceWriter(p, source="test", compress=compress) as w:
        w.append(vpn[:3000], op[:3000])                     # count/icount absent: back-filled
        w.append(vpn[3000:], op[3000:], cnt[3000:], np.full(7000, 3, np.uint32))
    blocks = list(read_npz(p, block=999))
    assert len(blocks) == 11 and all(len(b.vpn) <= 999 for b in blocks)
    got = cat(blocks)
    np.testing.assert_array_equal(got["vpn"], vpn)
    np.testing.assert_array_equal(got["op"], op)
    np.testing.assert_array_equal(got["count"][:3000], 1)
    np.testing.assert_array_equal(got["count"][3000:], cnt[3000:])
    np.testing.assert_array_equal(got["icount"][:3000], 0)
    meta = read_meta(p)
    assert meta["format"] == "tierlab-trace" and meta["version"] == 1 and meta["page_size"] == 4096
    assert meta["records"] == 10_000 and meta["accesses"] == 3000 + int(cnt[3000:].sum())
    assert not [f for f in os.listdir(tmp_path) if f != "t.npz"]     # spool removed
    with np.load(p) as z:                                            # plain numpy reads it too
        assert z["vpn"].dtype == np.int64 and z["icount"].dtype == np.uint32


def test_npz_broken_files(tmp_path):
    p = tmp_path / "t.npz"
    with TraceWriter(str(p), compress=False) as w:
        w.append(np.arange(50_000), np.zeros(50_000, np.uint8))
    data = p.read_bytes()
    cut = tmp_path / "cut.npz"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(TraceError, match=r"cut\.npz: not a readable \.npz.*truncated or corrupt"):
        list(read_npz(str(cut)))
    # a member whose header promises more elements than stored
    short = tmp_path / "short.npz"
    with zipfile.ZipFile(short, "w") as zf:
        with zf.open("vpn.npy", "w") as f:
            np.lib.format.write_array_header_1_0(f, {"descr": "<i8", "fortran_order": False,
                                                     "shape": (100,)})
            f.write(np.arange(10, dtype=np.int64).tobytes())
        with zf.open("op.npy", "w") as f:
            np.lib.format.write_array(f, np.zeros(100, np.uint8))
    with pytest.raises(TraceError, match=r"short\.npz: member vpn\.npy: truncated at byte 80 of 800 "
                                         r"\(byte \d+ of the file\)"):
        list(read_npz(str(short)))
    # flipped bytes inside a deflated member: CRC / inflate error
    z = tmp_path / "z.npz"
    with TraceWriter(str(z), compress=True) as w:
        w.append(np.random.default_rng(1).integers(0, 1 << 30, 50_000), np.zeros(50_000, np.uint8))
    raw = bytearray(z.read_bytes())
    raw[2000:2100] = bytes(100)
    z.write_bytes(bytes(raw))
    with pytest.raises(TraceError, match=r"z\.npz"):
        list(read_npz(str(z)))
    np.savez(tmp_path / "other.npz", x=np.arange(3))
    with pytest.raises(TraceError, match="need vpn.npy and op.npy"):
        list(read_npz(str(tmp_path / "other.npz")))
    np.savez(tmp_path / "mismatch.npz", vpn=np.arange(3), op=np.zeros(2, np.uint8))
    with pytest.raises(TraceError, match="op.npy has 2 records, vpn.npy has 3"):
        list(read_npz(str(tmp_path / "mismatch.npz")))
    np.savez(tmp_path / "empty.npz", vpn=np.zeros(0, np.int64), op=np.zeros(0, np.uint8))
    with pytest.raises(TraceError, match="empty trace"):
        list(read_npz(str(tmp_path / "empty.npz")))
    with pytest.raises(TraceError, match="no such trace file"):
        list(read_npz(str(tmp_path / "missing.npz")))


# ---- lackey -------------------------------------------------------------------------------

LACKEY = """\
==4242== Lackey, an example Valgrind tool
==4242== Command: ./a.out
I  04010173,3
 L 04222cac,8
 L 04222ca0,8
I  04010176,4
I  04010179,2
 S 04222cac,8
 M 0421dd58,4
I  0401017b,5
 L 1ffefff8a0,8

==4242== 
"""


def test_lackey_small_file_exact(tmp_path):
    p = tmp_path / "a.lackey"
    p.write_text(LACKEY)
    info: dict = {}
    with pytest.warns(LackeyWarning, match="skipped 3 valgrind message lines"):
        got = cat(read_lackey(str(p), info=info))
    # the two loads of page 0x4222 fold into one record of count 2
    np.testing.assert_array_equal(got["vpn"], [0x4222, 0x4222, 0x421D, 0x1FFEFFF8A0 >> 12])
    np.testing.assert_array_equal(got["op"], [READ, WRITE, WRITE, READ])
    np.testing.assert_array_equal(got["count"], [2, 1, 1, 1])
    np.testing.assert_array_equal(got["icount"], [1, 2, 0, 1])
    assert info == {"skipped_lines": 3, "lines": 13, "instructions": 4}


@pytest.mark.parametrize("text, line, fragment", [
    (" L 04222cac,8\nhello world\n", 2, "hello world"),
    (" L 04222cac,8\n X 04222cac,8\n", 2, "X 04222cac"),
    (" L 04222cac,8\n L 0422zcac,8\n", 2, "0422zcac"),
    (" L 04222cac,8\n L 04222cac\n", 2, "04222cac"),
    (" L 04222cac,8\n L ,8\n", 2, ",8"),
    (" L 04222cac,8\n L 12345678901234567,8\n", 2, "12345678901234567"),
])
def test_lackey_garbage_line_names_file_and_line(tmp_path, text, line, fragment):
    p = tmp_path / "bad.lackey"
    p.write_text(text)
    with pytest.raises(TraceError) as e:
        list(read_lackey(str(p)))
    assert f"bad.lackey: line {line}: not a lackey record" in str(e.value)
    assert fragment in str(e.value)


def test_lackey_address_limit_and_empty(tmp_path):
    p = tmp_path / "big.lackey"
    p.write_text(" L 04222cac,8\n S 200000000000000,8\n")        # 2**57
    with pytest.raises(TraceError, match=r"big\.lackey: line 2: address 200000000000000 is not below 2\*\*57"):
        list(read_lackey(str(p)))
    p.write_text(" L 1ffffffffffffff,8\n")                          # 2**57 - 1 is fine
    assert cat(read_lackey(str(p)))["vpn"][0] == (2**57 - 1) >> 12
    e = tmp_path / "empty.lackey"
    e.write_text("==1== Lackey\nI  04010173,3\n")
    with pytest.raises(TraceError, match=r"empty\.lackey: empty trace"):
        list(read_lackey(str(e)))
    e.write_text("")
    with pytest.raises(TraceError, match="empty trace"):
        list(read_lackey(str(e)))


def write_lackey(path, rng, n):
    """Random lackey text; returns the data records (addr, op, instructions before) it holds."""
    kind = rng.choice(4, n, p=[0.6, 0.2, 0.15, 0.05])
    pages = rng.integers(0, 40, n) * 4096 + (1 << 26) * rng.integers(1, 3, n)
    addr = np.where(rng.random(n) < 0.5, np.roll(pages, 1), pages) + rng.integers(0, 4096, n)
    lines = ["==7== Lackey, an example Valgrind tool\n"]
    recs = []
    pending = 0
    for k, a in zip(kind.tolist(), addr.tolist()):
        if k == 0:
            lines.append(f"I  {a:08x},{1 + a % 15}\n")
            pending += 1
        else:
            lines.append(f" {'LSM'[k - 1]} {a:08x},{1 << (a % 4)}\n")
            recs.append((a >> 12, READ if k == 1 else WRITE, pending))
            pending = 0
    lines.append("==7== \n")
    with open(path, "w") as f:
        f.writelines(lines)
    return np.array(recs, np.int64).reshape(-1, 3)


@pytest.mark.parametrize("block_bytes", [1 << 20, 4096, 1000])
def test_lackey_roundtrip_across_blocks(tmp_path, block_bytes):
    p = str(tmp_path / "gen.lackey")
    want = write_lackey(p, np.random.default_rng(3), 60_000)
    got = cat(read_lackey(p, block_bytes=block_bytes))
    assert len(got["vpn"]) < len(want)                           # folding happened
    np.testing.assert_array_equal(np.repeat(got["vpn"], got["count"]), want[:, 0])
    np.testing.assert_array_equal(np.repeat(got["op"], got["count"]), want[:, 1])
    # icount deltas of a folded run add up: the prefix sums agree at every record end
    ends = np.cumsum(got["count"]) - 1
    np.testing.assert_array_equal(np.cumsum(got["icount"]), np.cumsum(want[:, 2])[ends])


def test_lackey_compressed(tmp_path):
    import gzip

    p = tmp_path / "a.lackey.gz"
    with gzip.open(p, "wt") as f:
        f.write(LACKEY)
    assert detect_format(str(p)) == "lackey"
    assert cat(read_records(str(p)))["vpn"].tolist() == [0x4222, 0x4222, 0x421D, 0x1FFEFFF8A0 >> 12]


@pytest.mark.skipif(shutil.which("valgrind") is None, reason="valgrind not installed")
def test_lackey_capture_of_a_real_program(tmp_path):
    out = tmp_path / "true.lackey"
    subprocess.run(["valgrind", "--tool=lackey", "--trace-mem=yes", f"--log-file={out}",
                    "/bin/true"], check=True, timeout=120, capture_output=True)
    info: dict = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", LackeyWarning)
        got = cat(read_lackey(str(out), info=info))
    accesses = int(got["count"].sum())
    assert 5_000 < accesses < 5_000_000          # the dynamic loader alone makes ~10^4
    assert info["instructions"] > accesses / 2 and got["icount"].sum() > 0
    assert info["skipped_lines"] > 3             # valgrind's banner and summary
    assert (got["op"] == WRITE).any() and (got["op"] == READ).any()
    step = TraceStep.open(str(out))
    assert step.format == "lackey" and 10 < step.pages < accesses
    vpn, op, gap = stream(step)
    assert len(vpn) == accesses and vpn.max() == step.pages - 1 and gap is not None


# ---- oracleGeneral and text ---------------------------------------------------------------

def test_oracle_reader_and_size_errors(tmp_path):
    p = tmp_path / "t.oracleGeneral.bin"
    ids = np.array([7, 7, 2**40, 3, 7], np.uint64)
    write_oracle(str(p), ids)
    assert detect_format(str(p)) == "oracle"
    got = cat(read_oracle(str(p), block=2))
    np.testing.assert_array_equal(got["vpn"], ids.astype(np.int64))
    assert (got["op"] == READ).all()
    data = p.read_bytes()
    p.write_bytes(data + b"\x01\x02\x03")
    with pytest.raises(TraceError, match=r"t\.oracleGeneral\.bin: size 123 bytes is not a multiple "
                                         r"of the 24-byte .* partial record at byte 120"):
        list(read_oracle(str(p)))
    p.write_bytes(b"")
    with pytest.raises(TraceError, match="empty trace"):
        list(read_oracle(str(p)))


def test_text_reader(tmp_path):
    p = tmp_path / "t.csv"
    p.write_text("# my trace\naddr,op\n0x1000,R\n8192,W\n0x1fff, w\n\n12288 M\n4096\n")
    got = cat(read_text(str(p)))
    assert got["vpn"].tolist() == [1, 2, 1, 3, 1]
    assert got["op"].tolist() == [READ, WRITE, WRITE, WRITE, READ]
    p.write_text("0x1000,R\n0x2000,X\n")
    with pytest.raises(TraceError, match=r"t\.csv: line 2: expected 'address\[,R\|W\]', got '0x2000,X'"):
        list(read_text(str(p)))
    p.write_text("# nothing\n")
    with pytest.raises(TraceError, match="empty trace"):
        list(read_text(str(p)))


# ---- dense pages, TraceStep, convert, stats -----------------------------------------------

def test_trace_step_dense_first_seen_and_convert(tmp_path):
    src = tmp_path / "t.csv"
    addrs = [0x50000, 0x10000, 0x50000, 0x90000, 0x10000, 0x10fff, 0x20000]
    src.write_text("".join(f"{a:#x},{'W' if i % 3 == 0 else 'R'}\n" for i, a in enumerate(addrs)))
    step = TraceStep.open(str(src), offset=10)
    assert step.pages == 4 and step.footprint == 14 and step.page_map is not None
    vpn, op, gap = stream(step, 3)
    assert vpn.tolist() == [10, 11, 10, 12, 11, 11, 13] and gap is None
    out = tmp_path / "t.npz"
    meta = convert_trace(str(src), str(out))
    assert meta["dense"] and meta["pages"] == 4 and meta["accesses"] == 7 and meta["records"] == 6
    conv = TraceStep.open(str(out), offset=10)
    assert conv.page_map is None and conv.pages == 4
    v2, o2, _ = stream(conv)
    np.testing.assert_array_equal(v2, vpn)
    np.testing.assert_array_equal(o2, op)


def test_trace_step_gap_from_icount_and_repeat(tmp_path):
    p = str(tmp_path / "g.npz")
    with TraceWriter(p, dense=True) as w:
        w.append(np.array([0, 1, 0]), np.array([READ, WRITE, READ], np.uint8),
                 np.array([1, 2, 1], np.uint32), np.array([10, 4, 0], np.uint32))
    s = TraceStep.open(p, ns_per_instruction=0.5, repeat=2)
    vpn, op, gap = stream(s)
    assert vpn.tolist() == [0, 1, 1, 0] * 2
    assert op.tolist() == [READ, WRITE, WRITE, READ] * 2
    assert gap.tolist() == [5.0, 1.0, 1.0, 0.0] * 2


def test_dense_meta_lies_is_an_error(tmp_path):
    p = str(tmp_path / "lie.npz")
    with TraceWriter(p, dense=True, meta={}) as w:
        w.append(np.array([0, 1]), np.zeros(2, np.uint8))
    meta = read_meta(p)
    assert meta["pages"] == 2
    with TraceWriter(p, dense=False, meta={"dense": True, "pages": 1}) as w:
        w.append(np.array([0, 5]), np.zeros(2, np.uint8))
    with pytest.raises(TraceError, match="meta says dense"):
        stream(TraceStep.open(p))


def test_trace_stats_small_known_trace(tmp_path):
    p = tmp_path / "s.csv"
    seq = [1, 2, 1, 1, 3, 2, 1, 4]
    p.write_text("".join(f"{pg * 4096},{'W' if i < 2 else 'R'}\n" for i, pg in enumerate(seq)))
    st = trace_stats(str(p))
    assert st["accesses"] == 8 and st["pages"] == 4 and st["footprint_bytes"] == 4 * 4096
    assert st["write_share"] == 0.25 and st["read_share"] == 0.75
    assert st["hottest_share"]["25%"] == 0.5 and st["hottest_share"]["50%"] == 0.75
    r = st["reuse"]
    # distances: -,-,1,0,-,2,2,- -> first touches 4, reuses [1,0,2,2]
    assert r["exact"] and r["first_touches"] == 4 and r["median"] == 1.5 and r["mean"] == 1.25
    assert r["lru_hit_ratio"]["50%"] == 2 / 8       # a 2-page LRU hits distances 0 and 1


def test_trace_stats_on_zipf_trace(tmp_path):
    from tierlab.workloads import ZipfStep
    from tierlab.workloads.synthetic import zipf_pmf

    z = ZipfStep(pages=2000, accesses=200_000, alpha=1.0, seed=1)
    p = str(tmp_path / "z.npz")
    with TraceWriter(p) as w:
        for c in z.chunks():
            r = fold(c.vpn, c.op)
            w.append(r.vpn, r.op, r.count)
    st = trace_stats(p, reuse_sample=50_000)
    assert st["accesses"] == 200_000 and st["pages"] <= 2000
    assert abs(st["hottest_share"]["10%"] - zipf_pmf(2000, 1.0)[:200].sum()) < 0.02
    assert not st["reuse"]["exact"] and st["reuse"]["sampled_accesses"] == 50_000


def test_trace_in_workload_spec(tmp_path):
    (tmp_path / "t.csv").write_text("0x1000\n0x5000\n0x1000\n")
    steps = build_steps(({"type": "trace", "path": "t.csv", "think_ns": 2, "repeat": 0,
                          "duration_s": 1},), 0, "x.toml: task[0].workload", base_dir=str(tmp_path))
    s = steps[0]
    assert isinstance(s, TraceStep) and s.footprint == 2 and s.repeat is None
    assert s.think_ns == 2 and s.duration_ns == 1e9
    (tmp_path / "bad.csv").write_text("0x1000\nzz\n")
    with pytest.raises(TraceError, match=r"x\.toml: task\[0\]\.workload: .*bad\.csv: line 2"):
        build_steps(({"type": "trace", "path": "bad.csv"},), 0, "x.toml: task[0].workload",
                    base_dir=str(tmp_path))


# ---- more broken input, the vectorised text reader, incremental parsing ---------------------

def test_npz_stored_member_crc_mismatch(tmp_path):
    p = tmp_path / "s.npz"
    with TraceWriter(str(p)) as w:                       # stored (the default)
        w.append(np.arange(10_000), np.zeros(10_000, np.uint8))
    with zipfile.ZipFile(p) as zf:
        info = zf.getinfo("vpn.npy")
        assert info.compress_type == zipfile.ZIP_STORED
    raw = bytearray(p.read_bytes())
    at = info.header_offset + 30 + len("vpn.npy") + 200 + 8 * 5000   # inside the array data
    raw[at] ^= 0xFF
    p.write_bytes(bytes(raw))
    for block in (1 << 20, 999):              # one block; the flipped byte in block 6 of 11
        with pytest.raises(TraceError, match=r"s\.npz: member vpn\.npy: CRC-32 mismatch "
                                             r".*corrupt data in bytes (\d+)\.\.(\d+) of the file") as e:
            list(read_npz(str(p), block=block))
        lo, hi = map(int, re.search(r"bytes (\d+)\.\.(\d+) of the file", str(e.value)).groups())
        assert lo <= at <= hi and hi - lo + 1 == 8 * 10_000
    assert sum(len(r.vpn) for r in read_npz(str(p), verify=False)) == 10_000


def test_npz_block_arrays_recycled_only_when_dropped(tmp_path):
    """A block the consumer still holds is never overwritten; a dropped one is reused (the
    last, shorter block too, as a view of a recycled array)."""
    p = tmp_path / "r.npz"
    n = 21_500
    with TraceWriter(str(p)) as w:
        w.append(np.arange(n) * 3, (np.arange(n) % 2).astype(np.uint8), np.arange(n) % 7 + 1)

    def want(i):
        return np.arange(i * 1000, min((i + 1) * 1000, n))

    kept = []
    for i, r in enumerate(read_npz(str(p), block=1000)):
        if i % 3 == 0:                        # blocks 0, 3, ..., 21 (the last: 500 records)
            kept.append((i, r))
    assert [len(r.vpn) for _, r in kept][-2:] == [1000, 500]
    for i, r in kept:
        np.testing.assert_array_equal(r.vpn, want(i) * 3)
        np.testing.assert_array_equal(r.op, want(i) % 2)
        np.testing.assert_array_equal(r.count, want(i) % 7 + 1)
    it = read_npz(str(p), block=1000)
    first = weakref.ref(next(it).vpn)
    reused = 0
    for i, r in enumerate(it, 1):
        reused += r.vpn is first() or r.vpn.base is first()
        np.testing.assert_array_equal(r.vpn, want(i) * 3)
    assert reused > 0


def test_npz_page_numbers_out_of_range(tmp_path):
    for name, bad in (("neg.npz", -1), ("big.npz", 1 << 45)):
        p = tmp_path / name
        np.savez(p, vpn=np.array([1, 2, bad, 3]), op=np.zeros(4, np.uint8))
        with pytest.raises(TraceError, match=fr"{name}: member vpn\.npy: record 2: page number "
                                             fr"{bad} is outside 0\.\.{(1 << 45) - 1} .*2\*\*57"):
            list(read_npz(str(p)))


def test_npz_compressed_convert_option(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("".join(f"{(i % 50) * 4096}\n" for i in range(2000)))
    for compress in (False, True):
        out = tmp_path / f"t{int(compress)}.npz"
        convert_trace(str(src), str(out), compress=compress)
        with zipfile.ZipFile(out) as zf:
            kind = {i.compress_type for i in zf.infolist()}
        assert kind == {zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED}
        assert cat(read_npz(str(out)))["vpn"].tolist() == [i % 50 for i in range(2000)]


TEXT = """\
# a hand-made trace
address , op
0x1000,R
8192,W

0x1fff, w   # trailing comment
12288 M
4096
0X3000\tread
0x4000 WRITE
#0x5000
  0x6000 , s
"""


@pytest.mark.parametrize("block_bytes", [1 << 20, 7, 16])
def test_text_reader_vectorised_blocks(tmp_path, block_bytes):
    p = tmp_path / "t.txt"
    p.write_text(TEXT)
    got = cat(read_text(str(p), block_bytes=block_bytes))
    assert got["vpn"].tolist() == [1, 2, 1, 3, 1, 3, 4, 6]
    assert got["op"].tolist() == [READ, WRITE, WRITE, WRITE, READ, READ, WRITE, WRITE]


def test_text_reader_matches_python_parse(tmp_path):
    rng = np.random.default_rng(5)
    addr = rng.integers(0, 1 << 57, 20_000, dtype=np.int64)
    ops = rng.integers(0, 2, 20_000)
    hexes = rng.random(20_000) < 0.5
    p = tmp_path / "r.csv"
    p.write_text("".join((f"{a:#x}" if h else str(a)) + ("," + "RW"[o] if o or h else "") + "\n"
                         for a, o, h in zip(addr.tolist(), ops.tolist(), hexes.tolist())))
    got = cat(read_text(str(p), block_bytes=4096))
    np.testing.assert_array_equal(got["vpn"], addr >> 12)
    np.testing.assert_array_equal(got["op"], np.where(ops == 1, WRITE, READ))


@pytest.mark.parametrize("text, line, fragment", [
    ("0x1000\n0x2000,X\n", 2, "'0x2000,X'"),
    ("0x1000\n0x2000,R,9\n", 2, "'0x2000,R,9'"),
    ("0x1000\n0x20g0\n", 2, "'0x20g0'"),
    ("0x1000\n12a4\n", 2, "'12a4'"),
    ("0x1000\n0x\n", 2, "'0x'"),
    ("addr\n0x1000\nhello\n", 3, "'hello'"),       # only one header line
    ("0x1000\n0x2000,rd\n", 2, "'0x2000,rd'"),
])
def test_text_garbage_line_names_file_and_line(tmp_path, text, line, fragment):
    p = tmp_path / "bad.csv"
    p.write_text(text)
    with pytest.raises(TraceError) as e:
        list(read_text(str(p)))
    assert f"bad.csv: line {line}: expected 'address[,R|W]', got {fragment}" in str(e.value)


@pytest.mark.parametrize("addr", ["0x200000000000000", str(1 << 57), "0x1" + "0" * 16,
                                  "9" * 25])
def test_text_address_limit(tmp_path, addr):
    p = tmp_path / "big.csv"
    p.write_text(f"0x1000\n{addr},W\n")
    with pytest.raises(TraceError, match=fr"big\.csv: line 2: address {addr} is not below 2\*\*57"):
        list(read_text(str(p)))
    p.write_text(f"{(1 << 57) - 1}\n0x1ffffffffffffff\n")
    assert cat(read_text(str(p)))["vpn"].tolist() == [((1 << 57) - 1) >> 12] * 2


def test_empty_traces_of_every_format(tmp_path):
    cases = {"e.csv": "# only a comment\naddr,op\n\n", "e.lackey": "==1== Lackey\n",
             "e.oracleGeneral.bin": ""}
    for name, text in cases.items():
        p = tmp_path / name
        p.write_text(text)
        with pytest.raises(TraceError, match=fr"{name}: empty trace"):
            list(read_records(str(p)))
        with pytest.raises(TraceError, match=fr"{name}: empty trace"):
            TraceStep.open(str(p))
    np.savez(tmp_path / "e.npz", vpn=np.zeros(0, np.int64), op=np.zeros(0, np.uint8))
    with pytest.raises(TraceError, match=r"e\.npz: empty trace"):
        TraceStep.open(str(tmp_path / "e.npz"))


def test_oracle_partial_record_via_trace_step(tmp_path):
    p = tmp_path / "x.oracleGeneral"
    write_oracle(str(p), np.arange(10, dtype=np.uint64))
    with open(p, "ab") as f:
        f.write(b"\0" * 23)
    with pytest.raises(TraceError, match=r"x\.oracleGeneral: size 263 bytes .* partial record at byte 240"):
        TraceStep.open(str(p))


def test_lackey_parser_fed_in_arbitrary_pieces(tmp_path):
    from tierlab.workloads.lackey import LackeyParser

    p = str(tmp_path / "gen.lackey")
    write_lackey(p, np.random.default_rng(9), 20_000)
    data = open(p, "rb").read()
    whole = cat(read_lackey(p))
    parser = LackeyParser("pipe")
    rng = np.random.default_rng(1)
    cuts = np.sort(rng.integers(0, len(data), 300))
    rs = [parser.feed(data[a:b]) for a, b in zip([0, *cuts], [*cuts, len(data)])]
    rs.append(parser.finish())
    got = cat(r for r in rs if r is not None)
    np.testing.assert_array_equal(np.repeat(got["vpn"], got["count"]),
                                  np.repeat(whole["vpn"], whole["count"]))
    assert got["icount"].sum() == whole["icount"].sum()
    # a line cut off by a stop is dropped, not an error
    parser = LackeyParser("pipe")
    parser.feed(b" L 04222cac,8\n S 0422")
    assert parser.finish(drop_partial=True) is None and parser.records == 1


def test_dense_numbering_online_equals_two_pass():
    from tierlab.workloads.records import Records
    from tierlab.workloads.traces import DenseNumbering, build_page_map

    rng = np.random.default_rng(2)
    blocks = [rng.integers(0, 400, rng.integers(0, 200)) * 7919 for _ in range(60)]
    d = DenseNumbering()
    got = np.concatenate([d.assign(b) for b in blocks])
    pm = build_page_map(Records(b, np.zeros(len(b), np.uint8)) for b in blocks if len(b))
    np.testing.assert_array_equal(got, np.concatenate([pm.lookup(b) for b in blocks]))
    assert len(d) == len(pm)


def test_convert_from_a_pipe_in_one_pass(tmp_path):
    import threading

    src = tmp_path / "gen.lackey"
    write_lackey(str(src), np.random.default_rng(4), 30_000)
    want = convert_trace(str(src), str(tmp_path / "file.npz"))
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    feeder = threading.Thread(target=lambda: fifo.write_bytes(src.read_bytes()))
    feeder.start()
    got = convert_trace(str(fifo), str(tmp_path / "pipe.npz"), fmt="lackey")
    feeder.join()
    assert {k: got[k] for k in ("records", "accesses", "pages")} == \
           {k: want[k] for k in ("records", "accesses", "pages")}
    a, b = np.load(tmp_path / "file.npz"), np.load(tmp_path / "pipe.npz")
    for k in ("vpn", "op", "count", "icount"):
        np.testing.assert_array_equal(a[k], b[k])
    with pytest.raises(TraceError, match=r"pipe: reading a pipe: name its format"):
        convert_trace(str(fifo), str(tmp_path / "x.npz"))
