"""`tierlab kernelref`: the QEMU command line, the guest's /init, the initramfs, the console
parser and the comparison as pure functions; one end-to-end boot of a real 6.12 kernel."""

import gzip
import json
import re
import shutil
from pathlib import Path

import pytest

from tierlab.cli import main
from tierlab.errors import KernelrefError
from tierlab.kernelref.compare import compare_rows, markdown_table
from tierlab.kernelref.guest import build_initramfs, init_script
from tierlab.kernelref.parse import parse_console, parse_mw
from tierlab.kernelref.plan import make_plan
from tierlab.kernelref.qemu import qemu_command
from tierlab.result import Result
from tierlab.scenario import load_scenario

from conftest import SCENARIOS

FIXTURES = Path(__file__).resolve().parent / "kernelref"

# reference/kernel-reference.md: the command line the reference data was measured with
REFERENCE_CMD = """qemu-system-x86_64 -machine q35,hmat=on -accel tcg,thread=multi -cpu max -smp 2 -m 1536M \
 -object memory-backend-ram,id=m0,size=512M -object memory-backend-ram,id=m1,size=1024M \
 -numa node,nodeid=0,cpus=0-1,memdev=m0,initiator=0 -numa node,nodeid=1,memdev=m1,initiator=0 \
 -numa dist,src=0,dst=1,val=20 \
 -numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-latency,latency=100 \
 -numa hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=20G \
 -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-latency,latency=300 \
 -numa hmat-lb,initiator=0,target=1,hierarchy=memory,data-type=access-bandwidth,bandwidth=7G \
 -nographic -no-reboot -nic none -kernel vmlinuz -initrd init.cpio.gz"""


def _toml(tmp_path, text, name="s.toml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def _two_nodes(workload, extra="", hmat="true", node0="192MiB", node1="256MiB"):
    return f"""name = "small"
hmat = {hmat}
distance = [[10, 20], [20, 10]]
{extra}
[kernel]
demotion_enabled = true

[[node]]
id = 0
cpus = 2
memory = "{node0}"
read_latency_ns = 100
bandwidth = "20GB/s"

[[node]]
id = 1
memory = "{node1}"
kind = "cxl"
driver = "firmware"
read_latency_ns = 300
bandwidth = "7GB/s"

[[task]]
name = "memwork"
cpu_node = 0
workload = {workload}
"""


# ---- the QEMU command line -------------------------------------------------------------------

def test_qemu_command_of_anon_bind0_is_the_reference_one():
    s = load_scenario(SCENARIOS / "anon-bind0.toml")
    cmd = qemu_command(s, "vmlinuz", "init.cpio.gz")
    k = cmd.index("-append")
    assert cmd[:k] == REFERENCE_CMD.replace("\\\n", " ").split()
    assert cmd[k + 1].split()[:5] == ["console=ttyS0", "panic=-1", "nokaslr", "quiet", "loglevel=4"]


def test_qemu_command_without_hmat_and_with_two_cpu_nodes(tmp_path):
    plain = load_scenario(_toml(tmp_path, _two_nodes('{ type = "fill", size = "1MiB" }', hmat="false")))
    cmd = " ".join(qemu_command(plain, "k", "i"))
    assert "-machine q35 " in cmd and "hmat" not in cmd and "initiator" not in cmd
    assert "-m 448M" in cmd and "size=192M" in cmd and "size=256M" in cmd
    # 2 sockets + PMEM: CPUs numbered in node order, a far initiator pays the SLIT ratio, PMEM's
    # read/write bandwidths differ (separate HMAT entries), bandwidths not whole GB/s -> MB/s
    three = load_scenario(_toml(tmp_path, """distance = [[10, 20, 17], [20, 10, 28], [17, 28, 10]]
[[node]]
id = 0
cpus = 2
memory = "256MiB"
[[node]]
id = 1
cpus = 1
memory = "256MiB"
[[node]]
id = 2
memory = "512MiB"
kind = "pmem"
driver = "firmware"
[[task]]
name = "a"
cpu_node = 1
workload = { type = "fill", size = "1MiB" }
""", "three.toml"))
    cmd = qemu_command(three, "k", "i")
    nodes = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-numa" and cmd[i + 1].startswith("node,")]
    assert nodes == ["node,nodeid=0,cpus=0-1,memdev=m0,initiator=0",
                     "node,nodeid=1,cpus=2,memdev=m1,initiator=1",
                     "node,nodeid=2,memdev=m2,initiator=0"]     # PMEM's nearest CPU node: 0 (17 < 28)
    lb = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-numa" and cmd[i + 1].startswith("hmat-lb")]
    assert "hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=access-latency,latency=305" in lb
    assert "hmat-lb,initiator=1,target=2,hierarchy=memory,data-type=access-latency,latency=502" in lb  # 305*28/17
    assert "hmat-lb,initiator=0,target=2,hierarchy=memory,data-type=write-bandwidth,bandwidth=2300M" in lb
    assert "hmat-lb,initiator=0,target=0,hierarchy=memory,data-type=access-bandwidth,bandwidth=20000M" in lb
    assert "-smp 3" in " ".join(cmd) and "dist,src=1,dst=2,val=28" in cmd


# ---- the guest's /init and initramfs -----------------------------------------------------------

def test_init_script_sets_the_scenarios_knobs_and_runs_the_promote_pattern():
    plan = make_plan(load_scenario(SCENARIOS / "promote.toml"))
    init = init_script(plan)
    assert "knob /proc/sys/kernel/numa_balancing 2" in init
    assert "knob /sys/kernel/mm/numa/demotion_enabled true" in init
    assert "knob /sys/kernel/debug/sched/numa_balancing/scan_delay_ms 100" in init
    assert "knob /sys/kernel/debug/sched/numa_balancing/scan_period_min_ms 100" in init
    assert "hot_threshold_ms" not in init            # left at the kernel's 1000
    assert "min_free_kbytes" not in init and "swapon" not in init
    # the scenario's kernel.lru drives the guest: classic turns Debian's default MGLRU off
    assert "knob /sys/kernel/mm/lru_gen/enabled n" in init
    # bind:1 (MPOL_BIND, mask 0x2), fill 200 MiB, set_mempolicy(MPOL_DEFAULT), read-scan for 20 s
    assert "/memwork memwork 3 51200 p:2:2:0 f:0:51200:1:0 p:0:0:0 s:0:51200:0:20000:0 & pid0=$!" in init
    assert plan.cmdline == ("transparent_hugepage=madvise",)
    assert init.index("dump before") < init.index("/memwork") < init.index("dump after") < init.index("poweroff -f")


def test_guest_lru_follows_kernel_lru():
    d = load_scenario(SCENARIOS / "anon-bind0.toml").to_dict()
    d["kernel"]["lru"] = "mglru"
    plan = make_plan(load_scenario(d))
    assert ("/sys/kernel/mm/lru_gen/enabled", "y") in plan.knobs
    assert any("guest LRU: MGLRU" in n and "tierlab models MGLRU" in n for n in plan.notes)
    assert ("/sys/kernel/mm/lru_gen/enabled", "n") in make_plan(load_scenario(d), classic_lru=True).knobs


def test_init_script_knobs_follow_the_scenario(tmp_path):
    extra = '[swap]\nsize = "64MiB"\n'
    s = load_scenario(_toml(tmp_path, _two_nodes(
        '[{ type = "fill", size = "8MiB", hold_s = 2 }, { type = "policy", mempolicy = "interleave:0-1" }, '
        '{ type = "scan", size = "8MiB", passes = 3, write_ratio = 1 }]', extra).replace(
        "demotion_enabled = true", "demotion_enabled = false\nswappiness = 100\nmin_free_kbytes = 4096\n"
        "numa_balancing = 1\nhot_threshold_ms = 500")))
    plan = make_plan(s, classic_lru=True)
    init = init_script(plan)
    for line in ("knob /sys/kernel/mm/numa/demotion_enabled false", "knob /proc/sys/vm/swappiness 100",
                 "knob /proc/sys/vm/min_free_kbytes 4096", "knob /proc/sys/kernel/numa_balancing 1",
                 "knob /sys/kernel/debug/sched/numa_balancing/hot_threshold_ms 500",
                 "knob /sys/kernel/mm/lru_gen/enabled n", "swapon /dev/vda"):
        assert line in init, line
    assert "p:0:0:0 f:0:2048:1:0 i:2000 p:3:3:0 s:0:2048:3:0:1" in init
    assert plan.swap_bytes == 64 << 20


def test_initramfs_is_a_newc_archive_the_kernel_unpacks(tmp_path):
    busybox, memwork = tmp_path / "bb", tmp_path / "mw"
    busybox.write_bytes(b"\x7fELF-busybox")
    memwork.write_bytes(b"\x7fELF-memwork!")
    out = build_initramfs(tmp_path / "i.gz", init="#!/bin/busybox sh\n", busybox=busybox, memwork=memwork)
    data = gzip.decompress(out.read_bytes())
    entries, off = {}, 0
    while True:
        assert data[off:off + 6] == b"070701" and off % 4 == 0
        f = [int(data[off + 6 + 8 * k: off + 14 + 8 * k], 16) for k in range(13)]
        name = data[off + 110: off + 110 + f[11] - 1].decode()
        off = (off + 110 + f[11] + 3) & ~3
        body = data[off: off + f[6]]
        off = (off + f[6] + 3) & ~3
        if name == "TRAILER!!!":
            break
        entries[name] = (f[1], body, (f[9], f[10]))
    assert entries["init"][0] == 0o100755 and entries["init"][1] == b"#!/bin/busybox sh\n"
    assert entries["dev/console"][0] == 0o020600 and entries["dev/console"][2] == (5, 1)
    assert entries["memwork"][1] == b"\x7fELF-memwork!" and entries["bin/busybox"][0] == 0o100755
    assert entries["proc"][0] == 0o040755


# ---- refusing what the guest cannot do --------------------------------------------------------

@pytest.mark.parametrize("workload, extra, field", [
    ('{ type = "zipf", footprint = "8MiB", accesses = 1000 }', "", "task[0].workload[0].type = 'zipf'"),
    ('[{ type = "fill", size = "8MiB" }, { type = "uniform", footprint = "8MiB", accesses = 9 }]', "",
     "task[0].workload[1].type = 'uniform'"),
    ('{ type = "scan", size = "8MiB", write_ratio = 0.5 }', "", "task[0].workload[0].write_ratio = 0.5"),
    ('{ type = "fill", size = "8MiB", think_ns = 50 }', "", "task[0].workload[0].think_ns = 50"),
    ('{ type = "fill", size = "8MiB" }', '[[memcg]]\nname = "box"\n', "memcg[0].name = 'box'"),
])
def test_unsupported_steps_are_refused_by_name(tmp_path, capsys, workload, extra, field):
    path = _toml(tmp_path, _two_nodes(workload, extra))
    with pytest.raises(KernelrefError, match=re.escape(field)):
        make_plan(load_scenario(path))
    # the command: one line naming the file and the field, exit 2, before anything boots
    assert main(["kernelref", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"tierlab: error: {path}: {field}") and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_memory_not_in_whole_mib_is_refused(tmp_path):
    path = _toml(tmp_path, _two_nodes('{ type = "fill", size = "8MiB" }', node1="262000KiB"))
    with pytest.raises(KernelrefError, match=r"node\[1\]\.memory = 268288000: .*whole MiB"):
        make_plan(load_scenario(path))


# ---- the console parser ------------------------------------------------------------------------

def test_console_log_of_a_real_guest_parses():
    """A console log of `tierlab kernelref scenarios/anon-default.toml` (6.12.100, TCG)."""
    run = parse_console((FIXTURES / "anon-default.console.log").read_text(), "anon-default.log")
    assert run["kernel"] == "6.12.100+deb12-amd64" and run["lru_gen"] == "0x0007"
    assert run["tiers"] == {"memory_tier4": "0", "memory_tier38": "1"}
    assert "Demotion targets for Node 0: preferred: 1, fallback: 1" in run["dmesg"][0]
    assert run["knobs"]["/proc/sys/kernel/numa_balancing"] == "0"
    d = run["delta"]
    assert d["numa_miss"] == d["numa_foreign"] == run["node_delta"]["node1"]["numa_miss"] == 100132
    assert "pgdemote_kswapd" not in d and "pgscan_anon" not in d and run["oom"] is None
    assert run["node"]["before"]["node0"]["MemTotal"] > 400_000          # kB
    r = run["residency"]["memwork"]
    assert r["final"] == {"0": 104883, "1": 99917} and not r["killed"]
    assert r["by_decile"]["0"][0] == r["by_decile"]["1"][9] == 20480
    assert r["by_decile"]["0"][5] + r["by_decile"]["1"][5] == 20480
    assert run["exit"] == {"memwork": 0} and 20 < run["workload_s"] < 40


def test_reference_mw_lines_parse(reference):
    lines = reference("anon-bind0")["mw"]
    assert parse_mw(lines[0]) is None                                  # "MW policy bind node 0"
    oldest = parse_mw(lines[-2])
    assert oldest["label"] == "oldest10%" and oldest["task"] is None
    assert oldest["nodes"] == {"1": 20480} and oldest["pages"] == 20480 and oldest["absent"] == 0
    mid = parse_mw("MW t=4.90 fill@448MiB pages=114688 n0=107247(419MiB) n1=7418(29MiB) absent=23")
    assert mid["nodes"] == {"0": 107247, "1": 7418} and mid["absent"] == 23 and mid["t"] == 4.9


def test_a_guest_that_stopped_early_or_refused_a_knob_is_an_error():
    log = (FIXTURES / "anon-default.console.log").read_text()
    cut = log[:log.index("@@uptime end")]
    with pytest.raises(KernelrefError, match="stopped before /init finished; last console lines: .*MW"):
        parse_console(cut, "x.log")
    with pytest.raises(KernelrefError, match="never ran"):
        parse_console("SeaBIOS\nKernel panic - not syncing: VFS", "x.log")
    bad = log.replace("@@knob /proc/sys/vm/swappiness 60", "@@knoberr /proc/sys/vm/swappiness 300")
    with pytest.raises(KernelrefError, match=r"x.log: the guest kernel refused /proc/sys/vm/swappiness = 300"):
        parse_console(bad, "x.log")


# ---- the comparison ----------------------------------------------------------------------------

def _result(vmstat, final, by_decile, killed=False):
    return Result(vmstat=vmstat, node_vmstat={}, residency={"final": {"memwork": final},
                  "by_decile": {"memwork": by_decile}}, oom={"killed": killed},
                  metrics={"tasks": {"memwork": {"oom_killed": killed}}}, scenario={}, timeseries=None)


def test_comparison_rows_total_the_demotion_split_and_read_the_range():
    runs = [{"delta": {"pgdemote_kswapd": 64522, "pgdemote_direct": 37568, "pgsteal_anon": 102090},
             "residency": {"memwork": {"final": {"0": 103406, "1": 101394}, "killed": False,
                                       "by_decile": {"0": [0] * 9 + [20480], "1": [20480] + [0] * 9}}}},
            {"delta": {"pgdemote_kswapd": 69225, "pgdemote_direct": 31004, "pgsteal_anon": 100229},
             "residency": {"memwork": {"final": {"0": 104571, "1": 100229}, "killed": False,
                                       "by_decile": {"0": [0] * 9 + [20480], "1": [20480] + [0] * 9}}}}]
    sim = _result({"pgdemote_kswapd": 70000, "pgdemote_direct": 31000, "pgsteal_anon": 101000},
                  {"0": 103800, "1": 101000}, {"0": [0] * 9 + [20480], "1": [20480] + [0] * 9})
    rows = {r["row"]: r for r in compare_rows(runs, sim)}
    total = rows["pgdemote (kswapd + direct)"]
    assert (total["kernel_min"], total["kernel_max"], total["tierlab"]) == (100229, 102090, 101000)
    assert total["in_range"] and abs(total["diff"] - (101000 - 101159.5)) < 1e-9
    assert not rows["pgdemote_kswapd"]["in_range"]                       # 70000 > 69225
    assert rows["numa_miss"]["kernel_max"] == 0 and rows["oom_kill"]["tierlab"] == 0   # core rows stay
    assert "pgpromote_candidate" not in rows                               # moved on neither side
    assert rows["memwork on node 1"]["kernel"] == [101394, 100229]
    assert rows["memwork first 10% on node 1"]["tierlab"] == 20480
    assert "memwork first 10% on node 0" not in rows
    md = markdown_table({"runs": runs, "rows": list(rows.values())})
    assert "| pgdemote (kswapd + direct) | 100,229-102,090 | 101,000 | in range, -160 (-0.2%) |" in md


# ---- end to end: a real kernel in QEMU ---------------------------------------------------------

def test_a_real_kernel_spills_to_the_lower_tier(tmp_path):
    """Boot Debian's 6.12 in QEMU (TCG) with a 192 MiB DRAM node and a 256 MiB CPU-less node
    that HMAT makes slower, touch 200 MiB with the default policy. Needs qemu-system-x86 and
    busybox-static (.ci/run installs them); the kernel .deb is fetched once and cached."""
    from tierlab.kernelref import kernelref
    path = _toml(tmp_path, _two_nodes('{ type = "fill", size = "200MiB" }'))
    report = kernelref(path, out=tmp_path / "out", progress=lambda m: None)
    run = report["runs"][0]
    assert run["kernel"].startswith("6.12.")
    tier = {nodes: int(name.removeprefix("memory_tier")) for name, nodes in run["tiers"].items()}
    assert tier["1"] > tier["0"], run["tiers"]           # HMAT's 300 ns / 7 GB/s node sits lower
    assert any("Demotion targets for Node 0: preferred: 1" in d for d in run["dmesg"])
    assert run["knobs"]["/sys/kernel/mm/numa/demotion_enabled"] == "true"
    assert run["knobs"]["/proc/sys/kernel/numa_balancing"] == "0"   # Debian boots with 1
    # 200 MiB do not fit in node 0: the page allocator falls back to node 1 (numa_miss there)
    assert run["delta"]["numa_miss"] > 10_000
    assert run["node_delta"]["node1"]["numa_miss"] == run["delta"]["numa_miss"]
    res = run["residency"]["memwork"]
    assert sum(res["final"].values()) == 51200 and run["exit"] == {"memwork": 0}
    assert res["by_decile"]["0"][0] == 5120 and res["by_decile"]["1"][9] == 5120   # oldest on 0, newest on 1
    rows = {r["row"]: r for r in report["rows"]}
    # tierlab spills too (less: this scenario leaves out the guest kernel's own ~30 MiB on node 0)
    assert rows["numa_miss"]["kernel_min"] == run["delta"]["numa_miss"] and rows["numa_miss"]["tierlab"] > 0
    assert rows["memwork on node 1"]["kernel_min"] == res["final"]["1"]
    saved = json.loads((tmp_path / "out" / "small.kernelref.json").read_text())
    assert saved["runs"][0]["delta"]["numa_miss"] == run["delta"]["numa_miss"]
    assert "@@done" in (tmp_path / "out" / "small.run1.log").read_text()
