"""What `tierlab topology SCENARIO [--json]` prints: tiers, demotion targets, zonelists and the
zone watermarks of a Machine, as data (``describe``) and as a plain-text table (``render``)."""

from __future__ import annotations

from typing import Any

from tierlab.topology.machine import Machine


def describe(machine: Machine) -> dict[str, Any]:
    """JSON-able summary: per node tier, adistance, demotion targets, zonelist, zones."""
    nodes = []
    for n in machine.nodes:
        nodes.append({
            "id": n.id,
            "cpus": n.cpus,
            "kind": n.kind,
            "driver": n.driver,
            "memory": n.memory,
            "memory_tier": machine.tier.get(n.id),
            "adistance": machine.adistance.get(n.id),
            "toptier": n.id in machine.toptier,
            "demotion_preferred": list(machine.demotion_preferred.get(n.id, ())),
            "demotion_fallback": list(machine.demotion_allowed.get(n.id, ())),
            "zonelist": list(machine.zonelist.get(n.id, ())),
            "zones": [{"type": z.type, "present": z.present, "managed": z.managed,
                       "kernel_used": z.kernel_used, "min": z.min, "low": z.low,
                       "high": z.high, "promo": z.promo, "lowmem_reserve": z.lowmem_reserve}
                      for z in machine.zones if z.node == n.id],
        })
    return {"profile": machine.profile, "min_free_kbytes": machine.min_free_kbytes,
            "distance": [list(r) for r in machine.distance], "nodes": nodes}


def _nodelist(ids) -> str:
    return ",".join(str(i) for i in ids) or "-"


def render(machine: Machine) -> str:
    """Plain-text tables (no terminal codes), one line per node and one per zone."""
    d = describe(machine)
    lines = [f"profile {d['profile']}   min_free_kbytes {d['min_free_kbytes']}", ""]
    head = f"{'node':>4} {'cpus':>4} {'kind':<5} {'driver':<8} {'MiB':>8} {'tier':>5} {'adist':>6} " \
           f"{'top':>3}  {'demote preferred':<16} {'fallback':<10} zonelist"
    lines += [head, "-" * len(head)]
    for n in d["nodes"]:
        tier = "-" if n["memory_tier"] is None else str(n["memory_tier"])
        adist = "-" if n["adistance"] is None else str(n["adistance"])
        lines.append(f"{n['id']:>4} {n['cpus']:>4} {n['kind']:<5} {n['driver']:<8} "
                     f"{n['memory'] >> 20:>8} {tier:>5} {adist:>6} {'yes' if n['toptier'] else 'no':>3}  "
                     f"{_nodelist(n['demotion_preferred']):<16} {_nodelist(n['demotion_fallback']):<10} "
                     f"{_nodelist(n['zonelist'])}")
    lines.append("")
    head = f"{'node':>4} {'zone':<7} {'present':>9} {'managed':>9} {'kernel':>8} {'min':>8} " \
           f"{'low':>8} {'high':>8} {'promo':>8} {'reserve':>8}"
    lines += ["zones (pages; reserve = lowmem_reserve for user pages)", head, "-" * len(head)]
    for n in d["nodes"]:
        for z in n["zones"]:
            lines.append(f"{n['id']:>4} {z['type']:<7} {z['present']:>9} {z['managed']:>9} "
                         f"{z['kernel_used']:>8} {z['min']:>8} {z['low']:>8} {z['high']:>8} "
                         f"{z['promo']:>8} {z['lowmem_reserve']:>8}")
    return "\n".join(lines) + "\n"
