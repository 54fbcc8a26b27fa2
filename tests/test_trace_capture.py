"""`tierlab trace capture`: streaming lackey through a pipe, caps that keep what was captured,
progress on a terminal only, and a clear error without valgrind."""

from __future__ import annotations

import io
import shutil
import subprocess

import numpy as np
import pytest

from tierlab.cli import main
from tierlab.errors import TierlabError
from tierlab.workloads import TraceStep
from tierlab.workloads.capture import capture
from tierlab.workloads.npztrace import read_meta

needs_valgrind = pytest.mark.skipif(shutil.which("valgrind") is None or shutil.which("cc") is None,
                                    reason="needs valgrind and a C compiler (.ci/run installs valgrind)")


@pytest.fixture(scope="module")
def endless(tmp_path_factory):
    """A program that touches 16 MiB over and over and never ends by itself."""
    d = tmp_path_factory.mktemp("prog")
    src = d / "endless.c"
    src.write_text("static char a[16 << 20];\n"
                   "int main(void) { for (unsigned r = 0;; r++)\n"
                   "  for (int i = 0; i < (16 << 20); i += 4096) a[i] += r; }\n")
    exe = d / "endless"
    subprocess.run(["cc", "-O0", "-o", str(exe), str(src)], check=True)
    return str(exe)


def check_valid(path, accesses=None):
    meta = read_meta(str(path))
    assert meta["dense"] and meta["pages"] > 0
    step = TraceStep.open(str(path))             # opens from meta, no pass
    assert step.page_map is None and step.pages == meta["pages"]
    n = sum(len(c.vpn) for c in step.chunks())   # every record readable, CRC checked
    assert n == meta["accesses"]
    if accesses is not None:
        assert n == accesses
    return meta


@needs_valgrind
def test_max_records_keeps_exactly_n_accesses(tmp_path, endless):
    out = tmp_path / "cap.npz"
    err = io.StringIO()
    info = capture([endless], str(out), max_records=50_000, time_limit_s=120, stderr=err)
    assert info["stopped"] == "max_records" and info["exit_status"] is None
    assert info["accesses"] == 50_000 and info["seconds"] < 60
    assert err.getvalue() == ""                  # not a terminal: no progress line
    check_valid(out, 50_000)
    assert not [p for p in tmp_path.iterdir() if p.name != "cap.npz"]    # spool removed


@needs_valgrind
def test_time_limit_stops_and_keeps_a_valid_file(tmp_path, endless):
    out = tmp_path / "cap.npz"
    err = io.StringIO()
    info = capture(["--", endless], str(out), time_limit_s=1.5, progress=True, stderr=err)
    assert info["stopped"] == "time_limit" and info["exit_status"] is None
    assert 1.5 <= info["seconds"] < 20
    meta = check_valid(out)
    assert meta["accesses"] == info["accesses"] > 1000
    assert info["lackey_bytes"] > 0 and info["instructions"] > 0
    progress = err.getvalue()
    assert progress.startswith("\rtierlab trace capture: ") and progress.endswith("\n")
    assert f"{info['accesses']:,} accesses, {info['pages']:,} pages" in progress


@needs_valgrind
def test_cli_caps(tmp_path, endless, capsys):
    out = tmp_path / "c.npz"
    assert main(["trace", "capture", "-o", str(out), "--max-records", "1000", "--", endless]) == 0
    assert '"stopped": "max_records"' in capsys.readouterr().out
    check_valid(out, 1000)


def test_missing_valgrind_is_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))        # no valgrind here
    out = tmp_path / "x.npz"
    assert main(["trace", "capture", "-o", str(out), "--", "/bin/true"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("tierlab: error: trace capture: valgrind is not installed")
    assert "apt-get install valgrind" in err and not out.exists()


@pytest.mark.parametrize("argv, fragment", [
    ([], "no program given"),
    (["--"], "no program given"),
    (["/no/such/program"], "no such program '/no/such/program'"),
])
def test_capture_usage_errors(tmp_path, argv, fragment):
    if shutil.which("valgrind") is None and "no such program" in fragment:
        pytest.skip("valgrind is checked before the program")
    with pytest.raises(TierlabError, match=fragment):
        capture(argv, str(tmp_path / "x.npz"))


def test_capture_bad_caps(tmp_path):
    with pytest.raises(TierlabError, match="--max-records must be > 0"):
        capture(["/bin/true"], str(tmp_path / "x.npz"), max_records=0)
    with pytest.raises(TierlabError, match="--time-limit must be > 0"):
        capture(["/bin/true"], str(tmp_path / "x.npz"), time_limit_s=0)
