"""This machine as its Linux kernel reports it: nodes, HMAT numbers, memory tiers, demotion
knobs, zone watermarks and tiering counters, read from ``/sys`` and ``/proc`` under a root
directory (``read_host``); what tierlab computes for the same numbers (``compare``). A scenario
of the machine is host_scenario.py's, what `tierlab host` prints host_show.py's.

Every file is optional: a file an old kernel or a container does not have is ``None``
("unknown"), never an exception. Only a root with neither ``sys/devices/system/node`` nor
``proc/meminfo`` is refused (``HostError``).

Files read (Documentation/ABI names; units as the ABI gives them):
- ``/sys/devices/system/node/{online,has_cpu,has_memory}``: node masks (sysfs-devices-node);
- ``nodeN/{cpulist,meminfo,distance,vmstat,numastat}``: CPUs, MemTotal/MemFree (kB), the SLIT
  row in online-node order, per-node counters;
- ``nodeN/access1/initiators/{read,write}_{latency,bandwidth}`` (v6.9+: the nearest CPU, the
  numbers memory tiers use), else ``access0`` (nearest initiator): HMAT latency in ns,
  bandwidth in MB/s (stable/sysfs-devices-node);
- ``/sys/devices/virtual/memory_tiering/memory_tier<id>/nodelist`` (v6.1+): a tier holds the
  abstract distances [id * 128, id * 128 + 127] (MEMTIER_CHUNK_BITS = 7);
- ``/sys/bus/dax/devices/daxX.Y/{target_node,driver}``: nodes onlined by dax/kmem (sysfs-bus-dax);
- knobs: ``/sys/kernel/mm/numa/demotion_enabled`` (v5.15+, "true"/"false"),
  ``/proc/sys/kernel/numa_balancing``, ``/proc/sys/vm/{zone_reclaim_mode,min_free_kbytes,
  watermark_scale_factor,swappiness,lowmem_reserve_ratio,demote_scale_factor (TPP)}``,
  ``/sys/kernel/mm/lru_gen/enabled``
  (v6.1+), ``/sys/kernel/mm/transparent_hugepage/enabled``, debugfs
  ``sched/numa_balancing/*`` (root only; sysctls ``kernel.numa_balancing_scan_*`` before v5.13);
- ``/proc/sys/kernel/osrelease``, ``/proc/vmstat``, ``/proc/zoneinfo``, ``/proc/swaps``,
  ``/proc/meminfo`` (a kernel without NUMA sysfs is one node 0).

The kernel does not export its demotion targets (it prints them to dmesg only: "Demotion
targets for Node 0: preferred: 1, fallback: 1"), so ``kernel_targets`` derives them from the
kernel's own tiers and SLIT with establish_demotion_targets(), the code that uses those tiers.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tierlab.errors import HostError
from tierlab.topology.demotion_order import Numa, build_zonelists
from tierlab.topology.machine import KERNEL_VERSIONS, Machine
from tierlab.topology.memory_tiers import establish_demotion_targets

NODE_DIR = "sys/devices/system/node"
TIER_DIR = "sys/devices/virtual/memory_tiering"
HMAT_FILES = ("read_latency", "write_latency", "read_bandwidth", "write_bandwidth")
# /proc/zoneinfo zone names -> tierlab zone types (HighMem is 32-bit only, Device holds no RAM)
ZONE_NAMES = {"DMA": "DMA", "DMA32": "DMA32", "Normal": "NORMAL", "Movable": "MOVABLE"}
NODE_COUNTER_PREFIXES = ("pgdemote_", "pgpromote_", "numa_")
GLOBAL_COUNTER_PREFIXES = ("pgdemote_", "pgpromote_", "pgmigrate_", "numa_")
# knob -> file under the root, in the order they are shown
KNOB_FILES = {
    "demotion_enabled": "sys/kernel/mm/numa/demotion_enabled",
    "numa_balancing": "proc/sys/kernel/numa_balancing",
    "zone_reclaim_mode": "proc/sys/vm/zone_reclaim_mode",
    "min_free_kbytes": "proc/sys/vm/min_free_kbytes",
    "watermark_scale_factor": "proc/sys/vm/watermark_scale_factor",
    "swappiness": "proc/sys/vm/swappiness",
    "lowmem_reserve_ratio": "proc/sys/vm/lowmem_reserve_ratio",
    "lru_gen_enabled": "sys/kernel/mm/lru_gen/enabled",
    "transparent_hugepage": "sys/kernel/mm/transparent_hugepage/enabled",
    "numa_balancing_promote_rate_limit_MBps": "proc/sys/kernel/numa_balancing_promote_rate_limit_MBps",
    "hot_threshold_ms": "sys/kernel/debug/sched/numa_balancing/hot_threshold_ms",
    "numa_balancing_scan_delay_ms": "sys/kernel/debug/sched/numa_balancing/scan_delay_ms",
    "numa_balancing_scan_period_min_ms": "sys/kernel/debug/sched/numa_balancing/scan_period_min_ms",
    "numa_balancing_scan_period_max_ms": "sys/kernel/debug/sched/numa_balancing/scan_period_max_ms",
    "numa_balancing_scan_size_mb": "sys/kernel/debug/sched/numa_balancing/scan_size_mb",
    "demote_scale_factor": "proc/sys/vm/demote_scale_factor",   # only on TPP-patched kernels
}
# before v5.13 the scan knobs were sysctls (kernel.numa_balancing_scan_*)
_KNOB_FALLBACK = {k: f"proc/sys/kernel/{k}" for k in KNOB_FILES if k.startswith("numa_balancing_scan")}


@dataclass(frozen=True)
class HostZone:
    """One zone of /proc/zoneinfo (pages)."""

    node: int
    name: str                   # kernel spelling: DMA, DMA32, Normal, Movable, Device, HighMem
    free: int | None = None
    min: int | None = None
    low: int | None = None
    high: int | None = None
    promo: int | None = None    # WMARK_PROMO, printed since v6.0
    spanned: int | None = None
    present: int | None = None
    managed: int | None = None


@dataclass(frozen=True)
class HostNode:
    id: int
    cpus: tuple[int, ...] | None          # nodeN/cpulist
    has_cpu: bool | None                  # member of N_CPU (has_cpu mask)
    has_memory: bool | None               # member of N_MEMORY (has_memory mask)
    mem_total: int | None                 # bytes, nodeN/meminfo MemTotal (managed pages)
    mem_free: int | None                  # bytes, MemFree
    meminfo: dict[str, int] | None        # every nodeN/meminfo line, bytes for kB lines
    distance: tuple[int, ...] | None      # SLIT row, columns in online-node order
    hmat: dict[str, int] | None           # read/write_latency (ns), read/write_bandwidth (MB/s)
    hmat_access: str | None               # "access1" or "access0": which class the numbers are
    dax_kmem: bool = False                # memory onlined by dax/kmem
    vmstat: dict[str, int] | None = None  # tiering counters of nodeN/vmstat (+ numastat)
    zones: tuple[HostZone, ...] = ()


@dataclass(frozen=True)
class Host:
    root: str
    osrelease: str | None                         # /proc/sys/kernel/osrelease
    hostname: str | None
    numa_sysfs: bool                              # False: no NUMA sysfs, one node from /proc/meminfo
    nodes: tuple[HostNode, ...]
    tiers: dict[int, tuple[int, ...]] | None      # memory_tier<id> -> nodes; None: no memory_tiering
    knobs: dict[str, Any] = field(default_factory=dict)    # name -> value, None = unknown
    vmstat: dict[str, int] | None = None          # tiering counters of /proc/vmstat
    swaps: tuple[dict[str, Any], ...] | None = None   # /proc/swaps: filename, type, size/used bytes
    zone_order: tuple[str, ...] = ()              # zone names in kernel order (zoneinfo, node 0)

    def node(self, nid: int) -> HostNode:
        for n in self.nodes:
            if n.id == nid:
                return n
        raise KeyError(nid)

    @property
    def version(self) -> tuple[int, int] | None:
        return kernel_release_version(self.osrelease)

    @property
    def profile(self) -> str:
        return profile_for_version(self.version)

    def node_tier(self, nid: int) -> int | None:
        """memory_tier<id> holding the node, None if unknown or in none."""
        for t, members in (self.tiers or {}).items():
            if nid in members:
                return t
        return None


# ---------------------------------------------------------------------------------------------
# reading

def _read(root: Path, rel: str) -> str | None:
    try:
        return (root / rel).read_text(encoding="utf-8", errors="replace")
    except (OSError, ValueError):      # missing, unreadable (debugfs as non-root), a directory
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        tok = text.strip().split()[0]
        return int(tok, 16) if tok.lower().startswith("0x") else int(tok)
    except (ValueError, IndexError):
        return None


def parse_nodelist(text: str | None) -> tuple[int, ...] | None:
    """A sysfs list ("0-3,8,10-11", bitmap_print_to_pagebuf list format); "" is empty."""
    if text is None:
        return None
    out: set[int] = set()
    for part in filter(None, (p.strip() for p in text.strip().split(","))):
        lo, dash, hi = part.partition("-")
        try:
            a, b = int(lo), int(hi) if dash else int(lo)
        except ValueError:
            return None
        out.update(range(a, b + 1))
    return tuple(sorted(out))


def _key_values(text: str | None) -> dict[str, int] | None:
    """"name value" lines (vmstat, numastat)."""
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            out[parts[0]] = int(parts[1])
    return out


def _meminfo(text: str | None) -> dict[str, int] | None:
    """nodeN/meminfo ("Node 0 MemTotal:  476132 kB") or /proc/meminfo; kB lines as bytes."""
    if text is None:
        return None
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if parts[:1] == ["Node"]:
            parts = parts[2:]
        if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
            unit = 1024 if parts[2:3] == ["kB"] else 1
            out[parts[0][:-1]] = int(parts[1]) * unit
    return out


def parse_zoneinfo(text: str | None) -> tuple[list[HostZone], list[str]]:
    """Zones of /proc/zoneinfo and the zone names in kernel order (first node's list)."""
    if text is None:
        return [], []
    zones, order = [], []
    cur: dict[str, Any] | None = None
    header = re.compile(r"^Node\s+(\d+),\s+zone\s+(\S+)")
    keys = {"min", "low", "high", "promo", "spanned", "present", "managed"}
    for line in text.splitlines():
        m = header.match(line)
        if m:
            if cur is not None:
                zones.append(HostZone(**cur))
            cur = {"node": int(m.group(1)), "name": m.group(2)}
            if not zones or zones[0].node == cur["node"]:     # every node lists every zone
                order.append(m.group(2))
            continue
        if cur is None:
            continue
        parts = line.split()
        if parts[:2] == ["pages", "free"] and len(parts) == 3 and parts[2].isdigit():
            cur["free"] = int(parts[2])
        elif len(parts) == 2 and parts[0] in keys and parts[1].isdigit() and parts[0] not in cur:
            cur[parts[0]] = int(parts[1])     # the first one: per-cpu "high:" lines have a colon
    if cur is not None:
        zones.append(HostZone(**cur))
    return zones, order


def _swaps(text: str | None) -> tuple[dict[str, Any], ...] | None:
    if text is None:
        return None
    out = []
    for line in text.splitlines()[1:]:       # header: Filename Type Size Used Priority
        parts = line.split()
        if len(parts) >= 5 and parts[2].isdigit() and parts[3].isdigit():
            out.append({"filename": parts[0], "type": parts[1], "size": int(parts[2]) * 1024,
                        "used": int(parts[3]) * 1024, "priority": _int(parts[4])})
    return tuple(out)


def _hmat(node_dir: Path) -> tuple[dict[str, int] | None, str | None]:
    # access1 = nearest CPU initiator (v6.9+, what hmat_calculate_adistance() uses);
    # access0 = nearest initiator of any kind
    for access in ("access1", "access0"):
        d = node_dir / access / "initiators"
        if not d.is_dir():
            continue
        vals = {f: _int(_read(d, f)) for f in HMAT_FILES}
        vals = {k: v for k, v in vals.items() if v}     # 0 = not reported
        if vals:
            return vals, access
    return None, None


def _listdir(d: Path) -> list[Path]:
    try:
        return sorted(d.iterdir())
    except OSError:
        return []


def _dax_kmem_nodes(root: Path) -> set[int]:
    """Nodes whose memory dax/kmem onlined: a dax device bound to the kmem driver."""
    out = set()
    for dev in _listdir(root / "sys/bus/dax/devices"):
        try:
            driver = os.path.basename(os.readlink(dev / "driver"))
        except OSError:
            continue
        nid = _int(_read(dev, "target_node"))
        if driver == "kmem" and nid is not None and nid >= 0:
            out.add(nid)
    return out


def _knob(root: Path, name: str) -> Any:
    text = _read(root, KNOB_FILES[name])
    if text is None and name in _KNOB_FALLBACK:
        text = _read(root, _KNOB_FALLBACK[name])
    if text is None:
        return None
    text = text.strip()
    if name == "demotion_enabled":        # "true"/"false" (sysfs_emit of a bool); accept 1/0
        return {"true": True, "1": True, "false": False, "0": False}.get(text.lower())
    if name == "transparent_hugepage":    # "always [madvise] never": the bracketed one is set
        m = re.search(r"\[(\w+)\]", text)
        return m.group(1) if m else None
    if name == "lru_gen_enabled":         # "0x0007": capability bits, 0 = MGLRU off
        return _int(text)
    if name == "lowmem_reserve_ratio":
        try:
            return tuple(int(v) for v in text.split())
        except ValueError:
            return None
    return _int(text)


def read_host(root: str | os.PathLike = "/") -> Host:
    """This machine's memory topology, tiers, knobs and counters as Linux reports them under
    ``root``; HostError if ``root`` holds no Linux /sys or /proc."""
    rootp = Path(root)
    node_dir = rootp / NODE_DIR
    node_ids = []
    for d in _listdir(node_dir):
        m = re.fullmatch(r"node(\d+)", d.name)
        if m and d.is_dir():
            node_ids.append(int(m.group(1)))
    proc_meminfo = _meminfo(_read(rootp, "proc/meminfo"))
    if not node_ids and proc_meminfo is None:
        what = "does not exist" if not rootp.exists() else (
            "is not a directory" if not rootp.is_dir() else
            f"is not a Linux /sys + /proc tree (no {NODE_DIR}/node*, no proc/meminfo)")
        raise HostError(f"{root}: {what}")

    zones, zone_order = parse_zoneinfo(_read(rootp, "proc/zoneinfo"))
    has_cpu = parse_nodelist(_read(node_dir, "has_cpu"))
    has_memory = parse_nodelist(_read(node_dir, "has_memory"))
    kmem = _dax_kmem_nodes(rootp)
    nodes = []
    if node_ids:
        for nid in sorted(node_ids):
            d = node_dir / f"node{nid}"
            cpus = parse_nodelist(_read(d, "cpulist"))
            if cpus is None:                 # older kernels: cpuN links in the node directory
                found = [int(c.name[3:]) for c in _listdir(d) if re.fullmatch(r"cpu\d+", c.name)]
                cpus = tuple(sorted(found)) if found else None
            mi = _meminfo(_read(d, "meminfo"))
            dist_text = _read(d, "distance")
            try:
                distance = tuple(int(v) for v in dist_text.split()) if dist_text else None
            except ValueError:
                distance = None
            hmat, access = _hmat(d)
            nodes.append(HostNode(
                id=nid, cpus=cpus,
                has_cpu=(nid in has_cpu) if has_cpu is not None else (bool(cpus) if cpus is not None else None),
                has_memory=(nid in has_memory) if has_memory is not None else (
                    mi["MemTotal"] > 0 if mi and "MemTotal" in mi else None),
                mem_total=(mi or {}).get("MemTotal"), mem_free=(mi or {}).get("MemFree"),
                meminfo=mi, distance=distance, hmat=hmat, hmat_access=access,
                dax_kmem=nid in kmem, vmstat=_node_counters(d),
                zones=tuple(z for z in zones if z.node == nid)))
    else:                                    # CONFIG_NUMA=n or no sysfs: one node 0
        cpus = parse_nodelist(_read(rootp, "sys/devices/system/cpu/online"))
        if cpus is None:
            cpuinfo = _read(rootp, "proc/cpuinfo")
            n = sum(1 for line in (cpuinfo or "").splitlines() if line.startswith("processor"))
            cpus = tuple(range(n)) if n else None
        nodes.append(HostNode(
            id=0, cpus=cpus, has_cpu=bool(cpus) if cpus is not None else None,
            has_memory=proc_meminfo.get("MemTotal", 0) > 0, mem_total=proc_meminfo.get("MemTotal"),
            mem_free=proc_meminfo.get("MemFree"), meminfo=proc_meminfo, distance=(10,),
            hmat=None, hmat_access=None, zones=tuple(z for z in zones if z.node == 0)))

    tiers = None
    tier_dir = rootp / TIER_DIR
    if tier_dir.is_dir():
        tiers = {}
        for d in _listdir(tier_dir):
            m = re.fullmatch(r"memory_tier(\d+)", d.name)
            members = parse_nodelist(_read(d, "nodelist")) if m else None
            if m and members is not None:
                tiers[int(m.group(1))] = members
        tiers = dict(sorted(tiers.items()))

    osrelease = _read(rootp, "proc/sys/kernel/osrelease")
    hostname = _read(rootp, "proc/sys/kernel/hostname")
    vm = _key_values(_read(rootp, "proc/vmstat"))
    return Host(
        root=str(root), osrelease=osrelease.strip() if osrelease else None,
        hostname=hostname.strip() if hostname else None, numa_sysfs=bool(node_ids),
        nodes=tuple(nodes), tiers=tiers,
        knobs={k: _knob(rootp, k) for k in KNOB_FILES},
        vmstat=None if vm is None else {k: v for k, v in vm.items()
                                        if k.startswith(GLOBAL_COUNTER_PREFIXES)},
        swaps=_swaps(_read(rootp, "proc/swaps")), zone_order=tuple(zone_order))


def _node_counters(d: Path) -> dict[str, int] | None:
    vm = _key_values(_read(d, "vmstat"))
    out = None if vm is None else {k: v for k, v in vm.items() if k.startswith(NODE_COUNTER_PREFIXES)}
    if out is None or "numa_hit" not in out:
        # before v5.14 the numa_* counters were only in nodeN/numastat (its own names)
        ns = _key_values(_read(d, "numastat"))
        if ns:
            out = {**(out or {}), **ns}
    return out


# ---------------------------------------------------------------------------------------------
# kernel version -> tierlab profile

def kernel_release_version(osrelease: str | None) -> tuple[int, int] | None:
    """(major, minor) of "6.12.100+deb12-amd64"; None if unknown."""
    m = re.match(r"(\d+)\.(\d+)", osrelease or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def profile_for_version(version: tuple[int, int] | None) -> str:
    """The newest profile not newer than the kernel (v6.12 when the version is unknown; rfc-2020,
    the RFC on v5.8, for kernels before v5.15, which have no demotion in mainline)."""
    if version is None:
        return "v6.12"
    fitting = [p for p, v in KERNEL_VERSIONS.items() if v <= version]
    return max(fitting, key=KERNEL_VERSIONS.get) if fitting else "rfc-2020"


# ---------------------------------------------------------------------------------------------
# demotion targets: the kernel's tiers vs tierlab's

def host_numa(host: Host) -> Numa | None:
    """The node facts of the host for the ordering code (None without a full SLIT)."""
    ids = tuple(n.id for n in host.nodes)
    if any(n.distance is None or len(n.distance) != len(ids) for n in host.nodes):
        return None
    return Numa(ids, frozenset(n.id for n in host.nodes if n.has_cpu),
                frozenset(n.id for n in host.nodes if n.has_memory),
                tuple(n.distance for n in host.nodes))


def kernel_targets(host: Host) -> dict[int, dict[str, tuple[int, ...]]] | None:
    """{node: {"preferred": ..., "fallback": ...}} from the kernel's memory tiers and SLIT (the
    kernel exports no targets), None without memory tiers or a SLIT."""
    numa = host_numa(host)
    if not host.tiers or numa is None:
        return None
    tier = {n: t for t, members in host.tiers.items() for n in members if n in numa.ids}
    _, node_load = build_zonelists(numa, host.profile)
    preferred, allowed, _ = establish_demotion_targets(numa, tier, node_load)
    return {n: {"preferred": preferred.get(n, ()), "fallback": allowed.get(n, ())}
            for n in numa.ids if n in tier}


def machine_targets(machine: Machine) -> dict[int, dict[str, tuple[int, ...]]]:
    return {n.id: {"preferred": machine.demotion_preferred.get(n.id, ()),
                   "fallback": machine.demotion_allowed.get(n.id, ())}
            for n in machine.nodes if n.memory > 0}


def compare(host: Host, machine: Machine) -> list[str]:
    """Where tierlab's machine (built from the host's numbers) differs from what this kernel
    reports: memory tier per node, and the demotion targets those tiers give. [] = agrees."""
    out = []
    if host.tiers is not None:
        for n in machine.nodes:
            if n.memory <= 0:
                continue
            k, t = host.node_tier(n.id), machine.tier.get(n.id)
            if k != t:
                kt = f"memory_tier{k}" if k is not None else "no tier"
                tt = f"memory_tier{t}" if t is not None else f"no tier (profile {machine.profile})"
                out.append(f"node {n.id}: kernel {kt}, tierlab {tt}")
    kt = kernel_targets(host)
    if kt is not None:
        mt = machine_targets(machine)
        for nid in sorted(set(kt) | set(mt)):
            a, b = kt.get(nid), mt.get(nid)
            if a != b:
                out.append(f"node {nid}: demotion targets from the kernel's tiers "
                           f"{_targets_text(a)}, tierlab {_targets_text(b)}")
    return out


def _targets_text(t) -> str:
    if t is None:
        return "none"
    return f"preferred {format_nodelist(t['preferred'])} fallback {format_nodelist(t['fallback'])}"


def format_nodelist(ids) -> str:
    """A node or CPU list as sysfs prints it ("%*pbl": "0-3,8"); "-" if empty."""
    ids = sorted(ids)
    runs: list[list[int]] = []
    for i in ids:
        if runs and i == runs[-1][1] + 1:
            runs[-1][1] = i
        else:
            runs.append([i, i])
    return ",".join(f"{a}" if a == b else f"{a}-{b}" for a, b in runs) or "-"
