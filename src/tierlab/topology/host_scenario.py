"""`tierlab host --scenario`: "simulate my machine" -- a scenario TOML of a Host read by
tierlab.topology.host, with what could not be read left to tierlab's defaults and said so."""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from tierlab.errors import HostError
from tierlab.topology.host import HMAT_FILES, KNOB_FILES, ZONE_NAMES, Host, HostNode, host_numa, format_nodelist


def guess_kind(host: Host, node: HostNode) -> str:
    """dram for CPU nodes; for a CPU-less node, from its memory tier against the CPU nodes':
    slower -> cxl, faster -> hbm, same -> dram; cxl when no tier is known."""
    if node.has_cpu:
        return "dram"
    tier = host.node_tier(node.id)
    cpu_tiers = [host.node_tier(n.id) for n in host.nodes if n.has_cpu]
    cpu_tiers = [t for t in cpu_tiers if t is not None]
    if tier is None or not cpu_tiers:
        return "cxl"
    if tier > max(cpu_tiers):
        return "cxl"
    return "hbm" if tier < min(cpu_tiers) else "dram"


def _comment(text: str) -> str:
    return re.sub(r"[\x00-\x1f\x7f]", " ", text)


def _toml_str(s: str) -> str:
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _kib(nbytes: int) -> str:
    return f'"{nbytes >> 10}KiB"' if nbytes % 1024 == 0 else str(nbytes)


def _line(key: str, value: str, comment: str = "") -> str:
    text = f"{key} = {value}"
    return f"{text:<39} # {_comment(comment)}" if comment else text


# ranges the scenario accepts (tierlab.scenario._read_kernel); a host value outside is left out
_KNOB_RANGE = {"zone_reclaim_mode": (0, 15), "swappiness": (0, 200), "min_free_kbytes": (0, None),
               "watermark_scale_factor": (1, 3000), "hot_threshold_ms": (1, None),
               "numa_balancing_promote_rate_limit_MBps": (0, None),
               "numa_balancing_scan_delay_ms": (0, None), "numa_balancing_scan_period_min_ms": (1, None),
               "numa_balancing_scan_period_max_ms": (1, None), "numa_balancing_scan_size_mb": (1, None)}


def _kernel_lines(host: Host) -> list[str]:
    k = host.knobs
    profile = host.profile
    ver = host.version
    why = (f"kernel {host.osrelease}: the newest profile not newer than it" if ver
           else "kernel version unknown: the default profile")
    lines = ["[kernel]", _line("profile", _toml_str(profile), why)]
    if k.get("demotion_enabled") is not None:
        lines.append(_line("demotion_enabled", "true" if k["demotion_enabled"] else "false",
                           "/" + KNOB_FILES["demotion_enabled"]))
    nb = k.get("numa_balancing")
    if nb is not None:
        if nb & 2 and profile in ("rfc-2020", "v5.15"):     # tiering mode needs a v5.18+ profile
            lines.append(f"# numa_balancing = {nb} on this kernel; profile {profile} takes 0 or 1")
            nb &= 1
        if 0 <= nb <= 3:
            lines.append(_line("numa_balancing", str(nb), "/" + KNOB_FILES["numa_balancing"]))
    for name, (lo, hi) in _KNOB_RANGE.items():
        v = k.get(name)
        if v is None:
            continue
        if v < lo or (hi is not None and v > hi):
            lines.append(f"# {name} = {v} on this kernel: outside {lo}..{hi}, left at the default")
            continue
        lines.append(_line(name, str(v), "/" + KNOB_FILES[name]))
    ratio = k.get("lowmem_reserve_ratio")
    if ratio and len(ratio) >= 4 and list(host.zone_order[:4]) == ["DMA", "DMA32", "Normal", "Movable"]:
        lines.append(_line("lowmem_reserve_ratio", f"[{', '.join(str(r) for r in ratio[:4])}]",
                           f"/{KNOB_FILES['lowmem_reserve_ratio']} (DMA DMA32 Normal Movable)"))
    if k.get("transparent_hugepage") in ("always", "madvise", "never"):
        lines.append(_line("transparent_hugepage", _toml_str(k["transparent_hugepage"]),
                           "/" + KNOB_FILES["transparent_hugepage"]))
    lru = k.get("lru_gen_enabled")
    if lru and profile in ("v6.1", "v6.12"):
        lines.append(_line("lru", '"mglru"', f"this kernel runs MGLRU (lru_gen/enabled {lru:#06x})"))
    else:
        note = (f"this kernel runs MGLRU (lru_gen/enabled {lru:#06x}); profile {profile} has only "
                "the classic LRU" if lru else "as this kernel" if lru == 0 else "lru_gen/enabled unknown")
        lines.append(_line("lru", '"classic"', note))
    tpp = k.get("demote_scale_factor")
    if tpp is not None:                   # the sysctl of TPP's patch 3/5: a TPP kernel
        if nb is not None and nb & 2 and 1 <= tpp <= 10000 and not (lru and profile in ("v6.1", "v6.12")):
            lines.append(_line("tpp", "true", "/proc/sys/vm/demote_scale_factor exists: TPP's patches"))
            lines.append(_line("demote_scale_factor", str(tpp), "/" + KNOB_FILES["demote_scale_factor"]))
        else:
            lines.append(f"# TPP kernel (demote_scale_factor = {tpp}), but its patches act only in "
                         "tiering mode on the classic LRU: tpp left off")
    return lines


def _node_lines(host: Host, n: HostNode) -> list[str]:
    tier = host.node_tier(n.id)
    kind = guess_kind(host, n)
    cpus = len(n.cpus) if n.cpus is not None else (1 if n.has_cpu else 0)
    head = f"# node{n.id}: CPUs {'unknown' if n.cpus is None else format_nodelist(n.cpus) if n.cpus else 'none'}"
    head += f", memory_tier{tier}" if tier is not None else ", memory tier unknown"
    if n.dax_kmem:
        head += ", onlined by dax/kmem"
    lines = [head, "[[node]]", f"id = {n.id}",
             _line("cpus", str(cpus), "nodeN/cpulist" if n.cpus is not None else
                   "CPU count unknown (has_cpu)")]
    ram = [z for z in n.zones if z.name in ZONE_NAMES and z.present]
    managed = {ZONE_NAMES[z.name]: z.managed for z in ram if z.managed}
    if managed:
        memory = sum(z.present for z in ram) * 4096
        lines.append(_line("memory", _kib(memory), "present pages of its zones, /proc/zoneinfo"))
    elif n.has_memory is False or n.mem_total == 0:
        memory = 0
        lines.append(_line("memory", "0", "memoryless node"))
    elif n.mem_total is not None:
        memory = n.mem_total
        lines.append(_line("memory", _kib(memory), "MemTotal, nodeN/meminfo (no zoneinfo)"))
    else:
        raise HostError(f"{host.root}: node{n.id}: memory size unknown (no meminfo, no zoneinfo); "
                        "cannot write a scenario of this machine")
    why = "has CPUs" if n.has_cpu else f"CPU-less, memory_tier{tier}" if tier is not None else "CPU-less"
    lines.append(_line("kind", _toml_str(kind), f"guessed: {why}"))
    lines.append(_line("driver", _toml_str("kmem" if n.dax_kmem else "firmware"),
                       "a dax device bound to kmem" if n.dax_kmem else "boot memory (no dax/kmem device)"))
    if memory and n.hmat:
        src = f"HMAT, node{n.id}/{n.hmat_access}/initiators"
        if "read_latency" in n.hmat:
            lines.append(_line("read_latency_ns", str(n.hmat["read_latency"]), f"{src} (ns)"))
        if "write_latency" in n.hmat:
            lines.append(_line("write_latency_ns", str(n.hmat["write_latency"]), src))
        if "read_bandwidth" in n.hmat:
            lines.append(_line("read_bandwidth", f'"{n.hmat["read_bandwidth"]}MB/s"', f"{src} (MB/s)"))
        if "write_bandwidth" in n.hmat:
            lines.append(_line("write_bandwidth", f'"{n.hmat["write_bandwidth"]}MB/s"', src))
    if managed:
        movable = set(managed) == {"MOVABLE"}
        if movable:
            lines.append(_line("movable", "true", "only a Movable zone"))
        zones = ", ".join(f"{t} = {p}" for t, p in managed.items())
        lines.append(_line("zones", f"{{ {zones} }}", "managed pages, /proc/zoneinfo"))
    mi = n.meminfo or {}
    if memory and all(k in mi for k in ("MemTotal", "MemFree", "FilePages", "AnonPages")):
        used = mi["MemTotal"] - mi["MemFree"] - mi["FilePages"] - mi["AnonPages"]
        total_managed = sum(managed.values()) * 4096 if managed else memory - memory // 64
        used = max(0, min(used, total_managed - 4096)) & ~4095
        if used:
            lines.append(_line("kernel_memory", _kib(used),
                               "MemTotal - MemFree - FilePages - AnonPages now"))
    return lines


def scenario_toml(host: Host) -> str:
    """A scenario of this machine: its nodes, SLIT, HMAT numbers, kernel profile and knobs, and
    a commented task to fill in. Loads with tierlab.load_scenario."""
    name = "host-" + re.sub(r"[^A-Za-z0-9._-]", "_", host.hostname) if host.hostname else "host"
    out = [f"# This machine as `tierlab host` read it from {_comment(host.root)}"
           f" (kernel {_comment(host.osrelease or 'unknown')}).",
           "# Check it with `tierlab topology FILE`; add a task (at the end) and `tierlab run FILE`.",
           "", _line("name", _toml_str(name))]
    # the kernel places a node by HMAT only when it reports numbers; tierlab's hmat switch is
    # global (a node without numbers would take its kind's), so it needs every memory node's
    mem = [n for n in host.nodes if n.has_memory]
    missing = [n.id for n in mem if not n.hmat or len(n.hmat) < len(HMAT_FILES)]
    hmat = bool(mem) and not missing
    out.append(_line("hmat", "true" if hmat else "false",
                     "nodeN/access*/initiators numbers for every memory node" if hmat else
                     "no HMAT numbers in sysfs" if len(missing) == len(mem) else
                     f"no HMAT numbers for node {format_nodelist(missing)}: tiers as without HMAT"))
    numa = host_numa(host)
    if len(host.nodes) > 1:
        if numa is not None and _valid_slit(numa.slit):
            rows = ", ".join("[" + ", ".join(str(d) for d in r) + "]" for r in numa.slit)
            out.append(_line("distance", f"[{rows}]", "SLIT, nodeN/distance"))
        else:
            out.append("# distance: the SLIT is incomplete or invalid here; tierlab uses 10/20")
    out += [""] + _kernel_lines(host) + [""]
    for n in host.nodes:
        out += _node_lines(host, n) + [""]
    if host.swaps is not None:
        size = sum(s["size"] for s in host.swaps)
        out += ["[swap]", _line("size", _kib(size), "sum of /proc/swaps"), ""]
    cpu_node = next((n for n in host.nodes if n.has_cpu), host.nodes[0])
    fill = max(1, ((cpu_node.mem_total or 0) >> 20) * 3 // 2)
    out += ["# A task to simulate (docs/scenario.md, docs/workloads.md); uncomment and edit:",
            "# [[task]]", '# name = "app"', f"# cpu_node = {cpu_node.id}", '# mempolicy = "default"',
            f'# workload = [{{ type = "fill", size = "{fill}MiB" }}, {{ type = "idle", duration_s = 10 }}]',
            ""]
    return "\n".join(out)


def _valid_slit(slit) -> bool:
    return all((v == 10) if i == j else (v > 10) for i, r in enumerate(slit) for j, v in enumerate(r))


def write_atomic(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename:
    the file is either the old one or the whole new one."""
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent or ".", prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise HostError(f"{path}: cannot write: {e.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        os.unlink(tmp)
        raise HostError(f"{path}: cannot write: {e.strerror}") from None


