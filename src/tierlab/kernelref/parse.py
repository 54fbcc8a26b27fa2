"""The guest's serial console log -> a dict in the shape of reference/kernel-6.12-hmat/*.json
(kernel, boot_s, workload_s, tiers, delta, node_delta, node before/after, oom, mw) plus what
kernelref adds: knobs as the kernel kept them, lru_gen, exit status and residency per task
(final and per decile, from memwork's MW lines)."""

from __future__ import annotations

import re
from typing import Any

from tierlab.errors import KernelrefError

_ESCAPES = re.compile(r"\x1b(\[[0-9;?]*[A-Za-z]|[()][0-9A-Za-z]|[A-Za-z=>])")
_MW = re.compile(r"^MW t=(?P<t>[0-9.]+)(?: task=(?P<task>\S+))? (?P<label>\S+) pages=(?P<pages>\d+)"
                 r"(?P<nodes>(?: n\d+=\d+\(\d+MiB\))*) absent=(?P<absent>\d+)\s*$")
_NODE = re.compile(r"n(\d+)=(\d+)\(")
_DECILE = re.compile(r"^decile(\d)$")


def parse_mw(line: str) -> dict[str, Any] | None:
    """One MW line -> {t, task, label, pages, nodes {"0": pages}, absent}; None if it is not a
    residency line. Reads the reference's lines (no task=) too."""
    m = _MW.match(line.strip())
    if not m:
        return None
    return {"t": float(m["t"]), "task": m["task"], "label": m["label"], "pages": int(m["pages"]),
            "nodes": {n: int(c) for n, c in _NODE.findall(m["nodes"])}, "absent": int(m["absent"])}


def _lines(text: str):
    """Console lines with terminal escapes and carriage returns gone, cut to where a record
    starts ("@@" or "MW "): -nographic puts escape codes into the first line."""
    for raw in text.splitlines():
        line = _ESCAPES.sub("", raw).replace("\r", "")
        k = line.find("@@")
        if k < 0:
            k = line.find("MW ")
            if k < 0:
                continue
        yield line[k:].rstrip()


def _int(v: str) -> int | None:
    try:
        return int(v)
    except ValueError:
        return None


def _tail(text: str, n: int = 6) -> str:
    lines = [_ESCAPES.sub("", x).replace("\r", "").strip() for x in text.splitlines()]
    return " | ".join([x for x in lines if x][-n:])


def parse_console(text: str, source: str = "<console>") -> dict[str, Any]:
    vm: dict[str, dict[str, int]] = {"before": {}, "after": {}}
    nvm: dict[str, dict[str, dict[str, int]]] = {"before": {}, "after": {}}
    mem: dict[str, dict[str, dict[str, int]]] = {"before": {}, "after": {}}
    out: dict[str, Any] = {"kernel": None, "tiers": {}, "knobs": {}, "lru_gen": None, "dmesg": [],
                           "exit": {}, "mw": [], "swaps": ""}
    uptime: dict[str, float] = {}
    begun = done = False
    for line in _lines(text):
        if line.startswith("MW "):
            out["mw"].append(line)
            continue
        tag, _, rest = line.partition(" ")
        f = rest.split()
        if tag == "@@begin":
            begun = True
        elif tag == "@@done":
            done = True
        elif tag == "@@kernel" and f:
            out["kernel"] = f[0]
        elif tag == "@@uptime" and len(f) == 2:
            uptime[f[0]] = float(f[1])
        elif tag == "@@knob" and f:
            out["knobs"][f[0]] = " ".join(f[1:])
        elif tag == "@@knoberr":
            raise KernelrefError(f"{source}: the guest kernel refused {' = '.join(rest.split(' ', 1))}")
        elif tag == "@@swaperr":
            raise KernelrefError(f"{source}: guest swap setup failed: {rest}")
        elif tag == "@@tier" and len(f) == 2:
            out["tiers"][f[0]] = f[1]
        elif tag == "@@lru_gen":
            out["lru_gen"] = rest.strip() or None
        elif tag == "@@dmesg":
            out["dmesg"].append(rest)
        elif tag == "@@swaps":
            out["swaps"] = rest.strip()
        elif tag == "@@exit" and len(f) == 2:
            out["exit"][f[0]] = int(f[1])
        elif tag == "@@vmstat" and len(f) == 3 and f[0] in vm and _int(f[2]) is not None:
            vm[f[0]][f[1]] = int(f[2])
        elif tag == "@@nodevmstat" and len(f) == 4 and f[0] in nvm and _int(f[3]) is not None:
            nvm[f[0]].setdefault(f"node{f[1]}", {})[f[2]] = int(f[3])
        elif tag == "@@meminfo" and len(f) == 4 and f[0] in mem and _int(f[3]) is not None:
            mem[f[0]].setdefault(f"node{f[1]}", {})[f[2]] = int(f[3])
    if not begun:
        raise KernelrefError(f"{source}: the guest's /init never ran (boot failed); last console "
                             f"lines: {_tail(text)}")
    if not done or not vm["after"]:
        raise KernelrefError(f"{source}: the guest stopped before /init finished; last console "
                             f"lines: {_tail(text)}")
    out["boot_s"] = uptime.get("boot")
    out["workload_s"] = round(uptime["end"] - uptime["start"], 2) if {"start", "end"} <= set(uptime) else None
    out["delta"] = _delta(vm["before"], vm["after"])
    out["node_delta"] = {n: _delta(nvm["before"].get(n, {}), a) for n, a in sorted(nvm["after"].items())}
    out["node"] = mem
    oom = [d for d in out["dmesg"] if "oom" in d.lower() or "Out of memory" in d]
    out["oom"] = oom or None
    out["residency"] = residency(out["mw"], out["exit"])
    return out


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """after - before of every counter that moved (gauges such as nr_free_pages included, as in
    the reference JSONs)."""
    return {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)}


def residency(mw_lines: list[str], exits: dict[str, int]) -> dict[str, dict[str, Any]]:
    """Per task: `final` pages per node (memwork's last "end" line, read while it still holds
    its memory), `by_decile` (pages per node in each tenth of its region) and `killed`
    (exit status 137: SIGKILL, the OOM killer)."""
    out: dict[str, dict[str, Any]] = {}
    for line in mw_lines:
        r = parse_mw(line)
        if r is None:
            continue
        task = r["task"] or "memwork"
        t = out.setdefault(task, {"final": None, "by_decile": {}, "last": None})
        t["last"] = r["nodes"]
        d = _DECILE.match(r["label"])
        if d:
            for node, pages in r["nodes"].items():
                t["by_decile"].setdefault(node, [0] * 10)[int(d[1])] = pages
        elif r["label"] == "end":
            t["final"] = r["nodes"]
    for task, status in exits.items():
        out.setdefault(task, {"final": None, "by_decile": {}, "last": None})["killed"] = status == 137
    for t in out.values():
        t.setdefault("killed", False)
        nodes = set(t["by_decile"]) | set(t["final"] or {})
        for n in nodes:          # a node absent from a decile line held none of it
            t["by_decile"].setdefault(n, [0] * 10)
    return out
