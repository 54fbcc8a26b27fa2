"""The qemu-system-x86_64 command line of a scenario's machine (reference/kernel-reference.md).

One memory backend and one -numa node per scenario node, CPUs numbered in node order, the
SLIT as -numa dist, and with `hmat = true` the HMAT access latency and bandwidth of every
(CPU node, memory node) pair as -numa hmat-lb. TCG, not KVM: KVM fails on these machines.
"""

from __future__ import annotations

from pathlib import Path

from tierlab.scenario import NodeSpec, Scenario

from .plan import MIB, node_cpus

QEMU = "qemu-system-x86_64"
# console on the first serial port; no KASLR, or the kernel image sometimes lands on node 1 and
# each node's MemTotal moves by ~38 MiB between boots; panic=-1 + -no-reboot: a panic ends QEMU
BASE_APPEND = ("console=ttyS0", "panic=-1", "nokaslr", "quiet", "loglevel=4")


def initiator(s: Scenario, target: NodeSpec) -> int:
    """The CPU node nearest to ``target`` by SLIT (lowest id on ties): HMAT's best initiator,
    the node the scenario's latency and bandwidth are "as seen from"."""
    ids = [n.id for n in s.nodes]
    cpu_nodes = [n.id for n in s.nodes if n.cpus]
    t = ids.index(target.id)
    return min(cpu_nodes, key=lambda c: (s.distance[ids.index(c)][t], c))


def _cpu_list(cpus: tuple[int, ...]) -> str:
    return str(cpus[0]) if len(cpus) == 1 else f"{cpus[0]}-{cpus[-1]}"


def _bandwidth_unit(values: list[float]) -> tuple[float, str]:
    """QEMU reads bandwidth suffixes as binary (20G = 20 GiB/s) and HMAT keeps MB/s. When every
    number is whole GB/s write "20G" as the reference guest did (the ratios memory tiers use are
    unchanged); otherwise MB/s as "6600M", the integers tierlab's hmat_perf() uses."""
    if all(v % 1e9 == 0 for v in values):
        return 1e9, "G"
    return 1e6, "M"


def hmat_lb(s: Scenario) -> list[str]:
    """-numa hmat-lb arguments: latency and bandwidth from every CPU node to every memory node.
    Farther initiators pay the SLIT ratio over the nearest one (latency x, bandwidth /)."""
    ids = [n.id for n in s.nodes]
    entries = []      # (initiator, target, kind, value) kind: latency|bandwidth read|write|access
    for t in s.nodes:
        if not t.memory:
            continue
        best = ids.index(initiator(s, t))
        for i in (n for n in s.nodes if n.cpus):
            ratio = s.distance[ids.index(i.id)][ids.index(t.id)] / s.distance[best][ids.index(t.id)]
            lat = [("read", t.read_latency_ns), ("write", t.write_latency_ns)]
            bw = [("read", t.read_bandwidth), ("write", t.write_bandwidth)]
            if t.read_latency_ns == t.write_latency_ns:
                lat = [("access", t.read_latency_ns)]
            if t.read_bandwidth == t.write_bandwidth:
                bw = [("access", t.read_bandwidth)]
            entries += [(i.id, t.id, f"{rw}-latency", round(v * ratio)) for rw, v in lat]
            entries += [(i.id, t.id, f"{rw}-bandwidth", v / ratio) for rw, v in bw]
    scale, suffix = _bandwidth_unit([v for *_, kind, v in entries if kind.endswith("bandwidth")])
    out = []
    for i, t, kind, v in entries:
        value = f"latency={v}" if kind.endswith("latency") else f"bandwidth={round(v / scale)}{suffix}"
        out.append(f"initiator={i},target={t},hierarchy=memory,data-type={kind},{value}")
    return out


def qemu_command(s: Scenario, kernel: Path | str, initrd: Path | str, *,
                 append: tuple[str, ...] = (), swap_image: Path | str | None = None) -> list[str]:
    cpus = node_cpus(s)
    total_cpus = sum(n.cpus for n in s.nodes)
    total_mib = sum(n.memory for n in s.nodes) // MIB
    cmd = [QEMU, "-machine", "q35,hmat=on" if s.hmat else "q35",
           "-accel", "tcg,thread=multi", "-cpu", "max",
           "-smp", str(total_cpus), "-m", f"{total_mib}M"]
    for n in s.nodes:
        if n.memory:
            cmd += ["-object", f"memory-backend-ram,id=m{n.id},size={n.memory // MIB}M"]
    for n in s.nodes:
        spec = f"node,nodeid={n.id}"
        if n.cpus:
            spec += f",cpus={_cpu_list(cpus[n.id])}"
        if n.memory:
            spec += f",memdev=m{n.id}"
        if s.hmat:                # with hmat=on QEMU wants initiator= on every node
            spec += f",initiator={n.id if n.cpus else initiator(s, n)}"
        cmd += ["-numa", spec]
    ids = [n.id for n in s.nodes]
    for a in range(len(ids)):
        for b in range(a + 1, len(ids)):
            cmd += ["-numa", f"dist,src={ids[a]},dst={ids[b]},val={s.distance[a][b]}"]
            if s.distance[b][a] != s.distance[a][b]:
                cmd += ["-numa", f"dist,src={ids[b]},dst={ids[a]},val={s.distance[b][a]}"]
    if s.hmat:
        for lb in hmat_lb(s):
            cmd += ["-numa", f"hmat-lb,{lb}"]
    cmd += ["-nographic", "-no-reboot", "-nic", "none",
            "-kernel", str(kernel), "-initrd", str(initrd),
            "-append", " ".join((*BASE_APPEND, *append))]
    if swap_image is not None:
        cmd += ["-drive", f"file={swap_image},if=virtio,format=raw,cache=unsafe"]
    return cmd
