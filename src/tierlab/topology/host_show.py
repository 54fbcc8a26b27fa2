"""What `tierlab host` prints: the Host as JSON (``describe``) or rich tables (``print_host``),
with tierlab's view of the same numbers beside the kernel's."""

from __future__ import annotations

from dataclasses import asdict

from tierlab.topology.host import KNOB_FILES, ZONE_NAMES, Host, compare, format_nodelist, kernel_targets, machine_targets
from tierlab.topology.host_scenario import guess_kind
from tierlab.topology.machine import Machine
from tierlab.topology.memory_tiers import MEMTIER_CHUNK_BITS


def describe(host: Host, machine: Machine | None = None, machine_error: str | None = None) -> dict:
    """JSON-able: the host as read (None = unknown), the kernel's tiers and the demotion targets
    they give, and tierlab's view of the same numbers with the differences."""
    nodes = []
    for n in host.nodes:
        nodes.append({
            "id": n.id, "cpus": list(n.cpus) if n.cpus is not None else None,
            "has_cpu": n.has_cpu, "has_memory": n.has_memory,
            "mem_total": n.mem_total, "mem_free": n.mem_free,
            "distance": list(n.distance) if n.distance is not None else None,
            "hmat": n.hmat, "hmat_access": n.hmat_access, "dax_kmem": n.dax_kmem,
            "memory_tier": host.node_tier(n.id) if host.tiers is not None else None,
            "kind_guess": guess_kind(host, n), "vmstat": n.vmstat,
            "zones": [asdict(z) for z in n.zones],
        })
    kt = kernel_targets(host)
    d = {
        "root": host.root, "osrelease": host.osrelease,
        "kernel_version": list(host.version) if host.version else None,
        "profile": host.profile, "numa_sysfs": host.numa_sysfs, "nodes": nodes,
        "memory_tiers": None if host.tiers is None else {
            str(t): {"nodes": list(m), "adistance": [t << MEMTIER_CHUNK_BITS,
                                                    ((t + 1) << MEMTIER_CHUNK_BITS) - 1]}
            for t, m in host.tiers.items()},
        "demotion_targets": None if kt is None else {
            str(n): {k: list(v) for k, v in t.items()} for n, t in kt.items()},
        "knobs": {k: list(v) if isinstance(v, tuple) else v for k, v in host.knobs.items()},
        "vmstat": host.vmstat,
        "swaps": None if host.swaps is None else list(host.swaps),
    }
    if machine is not None:
        d["tierlab"] = {
            "profile": machine.profile,
            "memory_tier": {str(k): v for k, v in machine.tier.items()},
            "adistance": {str(k): v for k, v in machine.adistance.items()},
            "demotion_targets": {str(n): {k: list(v) for k, v in t.items()}
                                 for n, t in machine_targets(machine).items()},
            "zones": [{"node": z.node, "type": z.type, "min": z.min, "low": z.low, "high": z.high,
                       "promo": z.promo} for z in machine.zones],
            "differences": compare(host, machine),
        }
    else:
        d["tierlab"] = {"error": machine_error}
    return d


def _u(v, fmt: str = "{}") -> str:
    return "unknown" if v is None else fmt.format(v)


def _mib(b: int | None) -> str:
    return _u(None if b is None else b / 2**20, "{:,.0f}")


def print_host(host: Host, console, machine: Machine | None = None,
               machine_error: str | None = None) -> None:
    """The `tierlab host` report on a rich console."""
    from rich.markup import escape
    from rich.table import Table

    ver = host.osrelease or "unknown"
    console.print(f"[bold]kernel {escape(ver)}[/bold]  (tierlab profile {host.profile})   "
                  f"root {escape(host.root)}"
                  + ("" if host.numa_sysfs else "   [yellow]no NUMA sysfs: one node from /proc/meminfo[/yellow]"))

    nt = Table(title="nodes (MiB; HMAT latency ns and bandwidth MB/s, read/write)")
    for col, just in (("node", "left"), ("cpus", "left"), ("memory", "right"), ("free", "right"),
                      ("latency", "right"), ("bandwidth", "right"), ("tier", "right"),
                      ("tierlab tier", "right")):
        nt.add_column(col, justify=just, no_wrap=True)
    for n in host.nodes:
        h = n.hmat or {}
        lat = (f"{_u(h.get('read_latency'))}/{_u(h.get('write_latency'))}" if h else "unknown")
        bw = (f"{_u(h.get('read_bandwidth'))}/{_u(h.get('write_bandwidth'))}" if h else "unknown")
        tier = (host.node_tier(n.id) if host.tiers is not None else None)
        ktier = "unknown" if host.tiers is None else ("-" if tier is None else str(tier))
        ttier = "-" if machine is None or n.id not in machine.tier else str(machine.tier[n.id])
        cpus = "unknown" if n.cpus is None else (format_nodelist(n.cpus) if n.cpus else "none")
        nt.add_row(f"node{n.id}" + (" kmem" if n.dax_kmem else ""), cpus, _mib(n.mem_total),
                   _mib(n.mem_free), lat, bw, ktier, ttier)
    console.print(nt)

    if host.tiers is None:
        console.print("memory tiers: unknown (no /sys/devices/virtual/memory_tiering: kernel "
                      "before v6.1, or no sysfs)")
    else:
        tt = Table(title="memory tiers (/sys/devices/virtual/memory_tiering)")
        for col in ("tier", "abstract distance", "nodes", "tierlab nodes"):
            tt.add_column(col, no_wrap=True)
        ids = sorted(set(host.tiers) | set(machine.tier.values() if machine else ()))
        for t in ids:
            mine = [n for n, tn in machine.tier.items() if tn == t] if machine else None
            tt.add_row(f"memory_tier{t}", f"{t << MEMTIER_CHUNK_BITS}-{((t + 1) << MEMTIER_CHUNK_BITS) - 1}",
                       format_nodelist(host.tiers.get(t, ())), "-" if mine is None else format_nodelist(sorted(mine)))
        console.print(tt)

    kt = kernel_targets(host)
    mt = machine_targets(machine) if machine is not None else None
    dt = Table(title="demotion targets")
    for col in ("node", "preferred", "fallback", "tierlab preferred", "tierlab fallback"):
        dt.add_column(col, no_wrap=True)
    for n in host.nodes:
        if not n.has_memory:
            continue
        a = None if kt is None else kt.get(n.id)
        b = None if mt is None else mt.get(n.id)
        dt.add_row(f"node{n.id}", "unknown" if a is None else format_nodelist(a["preferred"]),
                   "unknown" if a is None else format_nodelist(a["fallback"]),
                   "-" if b is None else format_nodelist(b["preferred"]), "-" if b is None else format_nodelist(b["fallback"]))
    console.print(dt)
    console.print("(the kernel exports no targets: these follow from its memory tiers and SLIT "
                  "through establish_demotion_targets())")
    if machine is None:
        console.print(f"[yellow]tierlab's view unavailable:[/yellow] {escape(machine_error or '')}")
    else:
        diffs = compare(host, machine)
        if diffs:
            console.print(f"[yellow]tierlab (profile {machine.profile}) differs from this kernel:[/yellow]")
            for line in diffs:
                console.print(f"  {escape(line)}")
        elif host.tiers is None:
            console.print(f"tierlab (profile {machine.profile}): nothing to compare, the kernel "
                          "reports no memory tiers")
        else:
            console.print(f"[green]tierlab (profile {machine.profile}) computes the same tiers and "
                          "demotion targets as this kernel[/green]")

    kn = Table(title="knobs")
    kn.add_column("knob", no_wrap=True)
    kn.add_column("value", no_wrap=True)
    kn.add_column("file")
    for name, path in KNOB_FILES.items():
        v = host.knobs.get(name)
        if name == "lru_gen_enabled" and v is not None:
            v = f"{v:#06x}"
        elif isinstance(v, tuple):
            v = " ".join(str(x) for x in v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        kn.add_row(name, _u(v), "/" + path)
    console.print(kn)

    if any(n.zones for n in host.nodes):
        zt = Table(title="zones (pages; min/low/high watermarks; tierlab from the same managed pages)")
        for col, just in (("node", "left"), ("zone", "left"), ("managed", "right"), ("free", "right"),
                          ("min/low/high", "right"), ("tierlab", "right")):
            zt.add_column(col, justify=just, no_wrap=True)
        mz = {(z.node, z.type): z for z in machine.zones} if machine is not None else {}
        for n in host.nodes:
            for z in n.zones:
                if not z.present:
                    continue
                m = mz.get((z.node, ZONE_NAMES.get(z.name, "")))
                zt.add_row(f"node{z.node}", z.name, _u(z.managed, "{:,}"), _u(z.free, "{:,}"),
                           f"{_u(z.min)}/{_u(z.low)}/{_u(z.high)}",
                           "-" if m is None else f"{m.min}/{m.low}/{m.high}")
        console.print(zt)
    else:
        console.print("zones: unknown (no /proc/zoneinfo)")

    ct = Table(title="tiering counters (/proc/vmstat, nodeN/vmstat)")
    ct.add_column("counter", no_wrap=True)
    ct.add_column("total", justify="right")
    for n in host.nodes:
        ct.add_column(f"node{n.id}", justify="right")
    names = list(host.vmstat or {})
    for n in host.nodes:
        names += [k for k in (n.vmstat or {}) if k not in names]
    for name in names:
        ct.add_row(name, _u((host.vmstat or {}).get(name), "{:,}"),
                   *["unknown" if n.vmstat is None else _u(n.vmstat.get(name), "{:,}")
                     if name in n.vmstat else "-" for n in host.nodes])
    if names:
        console.print(ct)
    else:
        console.print("tiering counters: unknown (no /proc/vmstat, no nodeN/vmstat)")

    if host.swaps is None:
        console.print("swap: unknown (no /proc/swaps)")
    elif not host.swaps:
        console.print("swap: none")
    else:
        for s in host.swaps:
            console.print(f"swap: {escape(s['filename'])} ({s['type']}) {_mib(s['size'])} MiB, "
                          f"{_mib(s['used'])} MiB used")
