"""The command line: results written, bad input gets one line and exit status 2."""

import json
import subprocess
import sys

from conftest import SCENARIOS


def tierlab(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "tierlab.cli", *args], capture_output=True,
                          text=True, cwd=cwd)


def test_run_writes_result_json(tmp_path):
    out = tmp_path / "r.json"
    p = tierlab("run", str(SCENARIOS / "anon-bind0-nodemote.toml"), "--json", str(out))
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert set(d) >= {"vmstat", "node_vmstat", "residency", "oom", "metrics", "scenario", "tierlab_version"}
    assert d["oom"]["killed"] is True and d["vmstat"]["oom_kill"] == 1
    assert d["scenario"]["kernel"]["demotion_enabled"] is False
    assert "OOM" in p.stdout and "memwork" in p.stdout


def test_bad_scenario_exit_2_one_line_nothing_written(tmp_path):
    bad = tmp_path / "bad.toml"
    text = (SCENARIOS / "anon-bind0.toml").read_text().replace('mempolicy = "bind:0"', 'mempolicy = "bind:7"')
    bad.write_text(text)
    out = tmp_path / "r.json"
    p = tierlab("run", str(bad), "--json", str(out))
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and len(p.stderr.strip().splitlines()) == 1
    assert "bad.toml" in p.stderr and "mempolicy" in p.stderr and "7" in p.stderr
    assert not out.exists()


def test_missing_file_exit_2(tmp_path):
    p = tierlab("run", str(tmp_path / "nope.toml"))
    assert p.returncode == 2 and "nope.toml" in p.stderr and "Traceback" not in p.stderr


def test_topology_json_shows_tiers_and_targets():
    p = tierlab("topology", str(SCENARIOS / "anon-bind0.toml"), "--json")
    assert p.returncode == 0, p.stderr
    d = json.loads(p.stdout)
    text = json.dumps(d)
    assert "38" in text and "4937" in text


def test_capture_convert_and_run_a_real_program(tmp_path):
    """valgrind lackey traces a small C program; tierlab converts it and runs it."""
    import shutil
    import pytest
    if shutil.which("valgrind") is None or shutil.which("cc") is None:
        pytest.skip("needs valgrind and a C compiler (.ci/run installs valgrind)")
    src = tmp_path / "touch.c"
    src.write_text("static char a[4 << 20];\n"
                   "int main(void) { for (int r = 0; r < 3; r++)\n"
                   "  for (int i = 0; i < (4 << 20); i += 4096) a[i] += r;\n"
                   "  return a[8192] == 99; }\n")
    exe = tmp_path / "touch"
    assert subprocess.run(["cc", "-O0", "-o", str(exe), str(src)]).returncode == 0
    trace = tmp_path / "touch.npz"
    p = tierlab("trace", "capture", "-o", str(trace), "--", str(exe))
    assert p.returncode == 0, p.stderr
    info = json.loads(p.stdout)
    assert info["exit_status"] == 0 and info["pages"] >= 1024     # 4 MiB array = 1024 pages
    scen = tmp_path / "s.toml"
    scen.write_text(f"""
[kernel]
demotion_enabled = true
[[node]]
id = 0
cpus = 1
memory = "64MiB"
[[node]]
id = 1
memory = "64MiB"
kind = "pmem"
[[task]]
name = "touch"
cpu_node = 0
workload = {{ type = "trace", path = "{trace}" }}
""")
    out = tmp_path / "r.json"
    p = tierlab("run", str(scen), "--json", str(out))
    assert p.returncode == 0, p.stderr
    d = json.loads(out.read_text())
    assert d["metrics"]["accesses"] == info["accesses"]
    assert d["vmstat"]["pgfault"] == info["pages"]
