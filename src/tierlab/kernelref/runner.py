"""`tierlab kernelref`: plan the guest, get the assets, boot it N times, parse each console
log, run tierlab on the same scenario and compare. Files in --out: <name>.initrd.gz,
<name>.run<k>.log (the console), <name>.run<k>.json (parsed), <name>.kernelref.json (all)."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from tierlab.errors import KernelrefError
from tierlab.scenario import Scenario, load_scenario

from . import assets
from .compare import compare_rows
from .guest import build_initramfs, init_script
from .parse import parse_console
from .plan import GuestPlan, make_plan
from .qemu import qemu_command


def _stderr(msg: str) -> None:
    print(f"kernelref: {msg}", file=sys.stderr, flush=True)


def boot(scenario: Scenario, plan: GuestPlan, kernel: assets.Kernel, initrd: Path, log: Path,
         timeout_s: float) -> dict[str, Any]:
    """One guest run: QEMU with the console to ``log``; the parsed console."""
    with tempfile.TemporaryDirectory(prefix="tierlab-kernelref-") as tmp:
        swap = None
        if plan.swap_bytes:
            swap = Path(tmp) / "swap.img"
            with open(swap, "wb") as f:              # sparse: no host disk until the guest swaps
                f.truncate(plan.swap_bytes)
        cmd = qemu_command(scenario, kernel.vmlinuz, initrd, append=plan.cmdline, swap_image=swap)
        t0 = time.monotonic()
        with open(log, "wb") as out:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
            try:
                rc = proc.wait(timeout=timeout_s)
            except BaseException:        # timeout, ^C: never leave the guest running
                proc.kill()
                proc.wait()
                if sys.exc_info()[0] is subprocess.TimeoutExpired:
                    raise KernelrefError(f"{log}: the guest did not power off within {timeout_s:.0f} s "
                                         "(--timeout to wait longer)") from None
                raise
    text = log.read_text(errors="replace")
    if rc != 0 and "@@begin" not in text:
        raise KernelrefError(f"{log}: qemu-system-x86_64 exited with {rc}: {text.strip()[-400:]}")
    run = parse_console(text, str(log))
    run["wall_s"] = round(time.monotonic() - t0, 2)
    return run


def kernelref(scenario: Any, *, kernel: str | os.PathLike | None = None, runs: int = 1,
              out: str | os.PathLike = "tierlab-kernelref", timeout_s: float | None = None,
              classic_lru: bool = False, simulate: bool = True, lru: str | None = None,
              progress: Callable[[str], None] = _stderr) -> dict[str, Any]:
    """Run ``scenario`` in a real kernel ``runs`` times and (with ``simulate``) in tierlab;
    return {"scenario", "kernel", "runs", "tierlab", "rows", "notes"}. Both run the LRU of the
    scenario's kernel.lru, or ``lru`` ("classic" | "mglru") when given (``classic_lru``: the
    same as lru = "classic")."""
    if runs < 1:
        raise KernelrefError(f"--runs {runs}: at least 1")
    s = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if classic_lru:
        lru = "classic"
    if lru is not None and lru != s.kernel.lru:
        d = s.to_dict()
        d["kernel"]["lru"] = lru
        s = dataclasses.replace(load_scenario(d), source=s.source)
    plan = make_plan(s)
    assets.check_tools(need_download=kernel is None and not any(True for _ in assets._cached()))
    k = assets.kernel(kernel, progress)
    if plan.swap_bytes and (k.virtio_blk is None or not k.virtio_blk.exists()):
        raise KernelrefError(f"{s.source}: swap.size = {s.swap.size}: guest swap needs "
                             f"virtio_blk.ko for {k.version} (kept from the Debian package; with "
                             "--kernel, from ../lib/modules/VERSION/ beside the image)")
    outdir = Path(out)
    if outdir.exists() and not outdir.is_dir():
        raise KernelrefError(f"--out {outdir}: exists and is not a directory")
    outdir.mkdir(parents=True, exist_ok=True)
    initrd = build_initramfs(outdir / f"{s.name}.initrd.gz", init=init_script(plan),
                             busybox=assets.find_busybox(), memwork=assets.memwork_binary(),
                             virtio_blk=k.virtio_blk if plan.swap_bytes else None)
    timeout_s = timeout_s or plan.timeout_s()
    results = []
    for r in range(1, runs + 1):
        progress(f"{s.name}: booting {k.version} in QEMU (TCG), run {r}/{runs}")
        run = boot(s, plan, k, initrd, outdir / f"{s.name}.run{r}.log", timeout_s)
        _write_json(outdir / f"{s.name}.run{r}.json", run)
        progress(f"{s.name}: run {r} done in {run['wall_s']:.1f} s (workload {run['workload_s']} s)")
        results.append(run)
    sim = None
    if simulate:
        from tierlab.simulate import run as simulate_run
        progress(f"{s.name}: tierlab run")
        sim = simulate_run(s)
    report = {
        "scenario": s.name,
        "kernel": results[0]["kernel"],
        "notes": list(plan.notes),
        "runs": results,
        "tierlab": None if sim is None else {k2: v for k2, v in sim.to_dict().items() if k2 != "scenario"},
        "rows": [] if sim is None else compare_rows(results, sim),
    }
    _write_json(outdir / f"{s.name}.kernelref.json", report)
    return report


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data, indent=1))
    os.replace(tmp, path)
