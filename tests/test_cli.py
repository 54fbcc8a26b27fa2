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
