"""The `tierlab` command: a thin layer over the library.

Every user error (bad scenario, broken trace, missing file) is one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys


from .errors import TierlabError


def _console(quiet: bool = False):
    """Tables on stdout. Piped to a file or another program they keep their full width (rich
    would squeeze them into 80 columns, eliding the names of a wide comparison's variants)."""
    from rich.console import Console
    return Console(quiet=quiet, highlight=False, width=None if sys.stdout.isatty() else 200)


class _Progress:
    """A rich status line on stderr while a run simulates (simulated seconds so far); silent
    under --quiet or when stderr is not a terminal."""

    def __init__(self, quiet: bool):
        from rich.console import Console
        self.console = Console(stderr=True)
        self.enabled = not quiet and self.console.is_terminal
        self.status = None

    def __enter__(self):
        if self.enabled:
            self.status = self.console.status("simulating ...")
            self.status.__enter__()
        return self

    def __exit__(self, *exc):
        if self.status is not None:
            self.status.__exit__(*exc)

    def sim_time(self, seconds: float) -> None:
        if self.status is not None:
            self.status.update(f"simulated {seconds:.1f} s")

    def variant(self, name: str, i: int, n: int) -> None:
        if self.status is not None:
            self.status.update(f"variant {i + 1}/{n}: {name}")


def cmd_run(args) -> int:
    from .report.summary import print_run_summary
    from .scenario import load_scenario
    from .simulate import run
    scenario = load_scenario(args.scenario)
    if args.check:
        from dataclasses import replace
        scenario = replace(scenario, run=replace(scenario.run, check=True))
    with _Progress(args.quiet) as p:
        result = run(scenario, progress=p.sim_time)
    if args.json:
        result.to_json(args.json)
    print_run_summary(result, _console(args.quiet))
    if args.json and not args.quiet:
        print(f"result written to {args.json}")
    return 0


def cmd_topology(args) -> int:
    from .scenario import load_scenario
    from .topology.build import build_machine
    from .topology.show import describe, render
    machine = build_machine(load_scenario(args.scenario))
    if args.json:
        print(json.dumps(describe(machine), indent=1))
    else:
        print(render(machine))
    return 0


def cmd_host(args) -> int:
    from .scenario import load_scenario
    from .topology.build import build_machine
    from .topology.host import read_host
    from .topology.host_scenario import scenario_toml, write_atomic
    from .topology.host_show import describe, print_host
    host = read_host(args.root)
    machine = error = None
    try:                          # tierlab's view: the generated scenario, resolved and built
        text = scenario_toml(host)
        machine = build_machine(load_scenario(text))
    except TierlabError as e:
        if args.scenario:         # nothing is written from a scenario that does not load
            raise
        error = str(e)
    if args.json:
        print(json.dumps(describe(host, machine, error), indent=1))
    else:
        console = _console()
        if not console.is_terminal:       # piped: rows stay one line each
            console.width = max(console.width, 120)
        print_host(host, console, machine, error)
    if args.scenario:
        write_atomic(args.scenario, text)
        print(f"scenario of this machine written to {args.scenario}",
              file=sys.stderr if args.json else sys.stdout)
    return 0


def cmd_trace_convert(args) -> int:
    from .workloads.traces import convert_trace
    info = convert_trace(args.input, args.output, fmt=args.format, compress=args.compress)
    print(json.dumps(info, indent=1, default=str))
    return 0


def cmd_trace_stats(args) -> int:
    from .workloads.traces import trace_stats
    stats = trace_stats(args.trace, fmt=args.format)
    if args.json:
        print(json.dumps(stats, indent=1, default=str))
    else:
        for k, v in stats.items():
            print(f"{k:28s} {v}")
    return 0


def cmd_trace_capture(args) -> int:
    from .workloads.capture import capture
    info = capture(args.program, args.output, time_limit_s=args.time_limit,
                   max_records=args.max_records, compress=args.compress)
    print(json.dumps(info, indent=1, default=str))
    return 0


def cmd_demo(args) -> int:
    from .demo import run_demo
    run_demo(outdir=args.out, quiet=args.quiet)
    return 0


def cmd_compare(args) -> int:
    from .comparison import build_variants, compare, print_comparison
    from .report.html import write_report
    from .scenario import load_scenario
    scenario = load_scenario(args.scenario)
    variants = build_variants(args.preset or (), args.vary or ()) if (args.preset or args.vary) else None
    with _Progress(args.quiet) as p:
        comparison = compare(scenario, variants, progress=p.variant)
    print_comparison(comparison, _console(args.quiet))
    path = write_report(comparison, args.out)
    if not args.quiet:
        print(f"report: {path}")
    return 0


def cmd_sweep(args) -> int:
    import os
    import time
    from rich.console import Console
    from .report.sweep import sweep_rich_table
    from .sweeps import sweep
    if args.out and os.path.exists(args.out) and not os.path.isdir(args.out):
        raise TierlabError(f"--out {args.out}: exists and is not a directory")
    err = Console(stderr=True, highlight=False)
    show, t0 = not args.quiet and err.is_terminal, time.monotonic()

    def progress(name, done, total, result):
        if show:
            err.print(f"[{done}/{total}] {name}: slowdown {result.metrics['slowdown']:.1%}, "
                      f"{time.monotonic() - t0:.1f} s", markup=False)

    sw = sweep(args.scenario, vary=args.vary or (), presets=args.preset or (), jobs=args.jobs,
               scheduler=args.scheduler, progress=progress)
    out = _console(args.quiet)
    if not out.is_terminal:     # a pipe or file gets the whole table, not 80 squeezed columns
        out.width = 250
    out.print(sweep_rich_table(sw.table, sw.axes, f"{sw.scenario.name}: {len(sw.table)} points"))
    if args.out:
        path = sw.write_report(args.out)
        if not args.quiet:
            print(f"report: {path}")
    return 0


def cmd_kernelref(args) -> int:
    from .kernelref import kernelref
    from .kernelref.compare import rich_table
    report = kernelref(args.scenario, kernel=args.kernel, runs=args.runs, out=args.out,
                       timeout_s=args.timeout, lru="classic" if args.classic_lru else args.lru)
    if args.json:
        print(json.dumps({k: v for k, v in report.items() if k != "tierlab"}, indent=1))
        return 0
    console = _console()
    if not console.is_terminal:
        console.width = max(console.width, 110)
    console.print(rich_table(report))
    for note in report["notes"]:
        console.print(f"note: {note}")
    console.print(f"console logs and JSON in {args.out}/")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="tierlab", description="What Linux does with memory that comes in tiers.")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="run a scenario and print its summary")
    r.add_argument("scenario", help="scenario TOML file")
    r.add_argument("--json", metavar="OUT", help="write the result JSON here")
    r.add_argument("--check", action="store_true", help="verify kernel-model invariants (slow)")
    r.add_argument("--quiet", action="store_true")
    r.set_defaults(func=cmd_run)

    t = sub.add_parser("topology", help="tiers, demotion targets, zonelists and watermarks of a scenario's machine")
    t.add_argument("scenario")
    t.add_argument("--json", action="store_true", help="print JSON instead of a table")
    t.set_defaults(func=cmd_topology)

    h = sub.add_parser("host", help="this machine's nodes, memory tiers, demotion targets, knobs and "
                                    "tiering counters (from /sys and /proc), against tierlab's view")
    h.add_argument("--json", action="store_true", help="print JSON instead of tables")
    h.add_argument("--root", default="/", metavar="DIR",
                   help="read sys/ and proc/ under DIR (default /)")
    h.add_argument("--scenario", metavar="OUT.toml", help="write a scenario of this machine")
    h.set_defaults(func=cmd_host)

    d = sub.add_parser("demo", help="the DRAM + PMEM story in two acts (a batch sweep, a Zipf service): no demotion, demotion, promotion, all-DRAM")
    d.add_argument("--out", default="tierlab-report", help="report folder (default: tierlab-report)")
    d.add_argument("--quiet", action="store_true")
    d.set_defaults(func=cmd_demo)

    c = sub.add_parser("compare", help="run variants of a scenario side by side and write a report")
    c.add_argument("scenario")
    c.add_argument("--vary", action="append", metavar="KEY=V1,V2,...",
                   help="e.g. kernel.swappiness=0,60,200 (repeatable)")
    c.add_argument("--preset", action="append",
                   help="no-demotion | demotion | demotion+promotion | tpp | damon-tiering | "
                        "damon-tiering+demotion | all-fast (repeatable)")
    c.add_argument("--out", default="tierlab-report")
    c.add_argument("--quiet", action="store_true")
    c.set_defaults(func=cmd_compare)

    sw = sub.add_parser("sweep", help="run every combination of --vary values and presets, in parallel; "
                        "a table, and with --out a CSV, plots and a report")
    sw.add_argument("scenario")
    sw.add_argument("--vary", action="append", metavar="KEY=V1,V2,...",
                    help="e.g. node.0.memory=25%%,50%%,100%% (repeatable: the cartesian product; "
                         "the first is the plots' x axis)")
    sw.add_argument("--preset", action="append",
                    help="no-demotion | demotion | demotion+promotion | tpp | damon-tiering | "
                        "damon-tiering+demotion | all-fast (repeatable)")
    sw.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                    help="local worker processes (default: the number of CPUs)")
    sw.add_argument("--scheduler", metavar="ADDR",
                    help="run on a Dask cluster: tcp://host:8786, or 'local' for a LocalCluster of --jobs workers")
    sw.add_argument("--out", metavar="DIR", help="write sweep.csv, the plots and index.html here")
    sw.add_argument("--quiet", action="store_true")
    sw.set_defaults(func=cmd_sweep)

    kr = sub.add_parser("kernelref", help="boot a real Linux kernel in QEMU with the scenario's topology, "
                        "run its workload there and compare the kernel's counters with tierlab's")
    kr.add_argument("scenario")
    kr.add_argument("--kernel", metavar="PATH_TO_vmlinuz",
                    help="a bzImage (default: Debian's linux-image-6.12, fetched once into ~/.cache/tierlab/kernelref)")
    kr.add_argument("--runs", type=int, default=1, metavar="N", help="guest runs (the table shows min-max)")
    kr.add_argument("--out", default="tierlab-kernelref", metavar="DIR",
                    help="console logs and JSON (default: tierlab-kernelref)")
    kr.add_argument("--json", action="store_true", help="print the comparison as JSON")
    kr.add_argument("--timeout", type=float, default=None, metavar="S",
                    help="seconds per guest run (default: from the workload's size)")
    kr.add_argument("--lru", choices=("classic", "mglru"), default=None,
                    help="run this LRU in the guest (lru_gen n / y) and in tierlab "
                         "(default: the scenario's kernel.lru)")
    kr.add_argument("--classic-lru", action="store_true", help="the same as --lru classic")
    kr.set_defaults(func=cmd_kernelref)

    tr = sub.add_parser("trace", help="capture, convert and inspect memory-access traces")
    tsub = tr.add_subparsers(dest="trace_command", required=True)
    tc = tsub.add_parser("convert", help="convert a trace (lackey, oracleGeneral, text, npz) to tierlab's npz")
    tc.add_argument("input", help="trace file, or - / a FIFO for a lackey or text stream (give --format)")
    tc.add_argument("output")
    tc.add_argument("--format", help="input format (default: detected)")
    tc.add_argument("--compress", action="store_true",
                    help="deflate the .npz members (~5x smaller, ~5x slower to read)")
    tc.set_defaults(func=cmd_trace_convert)
    ts = tsub.add_parser("stats", help="accesses, footprint, hot-page shares, reuse distances")
    ts.add_argument("trace")
    ts.add_argument("--format")
    ts.add_argument("--json", action="store_true")
    ts.set_defaults(func=cmd_trace_stats)
    tp = tsub.add_parser("capture", help="run a program under valgrind lackey and write its trace")
    tp.add_argument("-o", "--output", required=True)
    tp.add_argument("--time-limit", type=float, default=None, metavar="S",
                    help="stop the program after S seconds and keep what was captured")
    tp.add_argument("--max-records", type=int, default=None, metavar="N",
                    help="stop after N memory accesses and keep them")
    tp.add_argument("--compress", action="store_true", help="deflate the .npz members")
    tp.add_argument("program", nargs=argparse.REMAINDER, help="-- PROGRAM ARGS")
    tp.set_defaults(func=cmd_trace_capture)
    return p


def _warn(message, category, filename, lineno, file=None, line=None):
    print(f"tierlab: warning: {message}", file=sys.stderr)


def _note_first_compile(args) -> None:
    """Say why the first run of a new tierlab takes a minute before it starts simulating."""
    from ._jitcache import is_cold
    if args.func in _SIMULATING and not getattr(args, "quiet", False) and is_cold():
        import os
        print("tierlab: first run of this version: compiling the kernel model (a minute or two, "
              f"once; cached in {os.environ.get('NUMBA_CACHE_DIR')})", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    import warnings
    warnings.showwarning = _warn
    parser = build_parser()
    args = parser.parse_args(argv)
    _note_first_compile(args)
    try:
        return args.func(args)
    except TierlabError as e:
        print(f"tierlab: error: {e}", file=sys.stderr)
        return 2
    except FileNotFoundError as e:
        print(f"tierlab: error: {e.filename}: no such file", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


_SIMULATING = (cmd_run, cmd_demo, cmd_compare, cmd_sweep, cmd_kernelref)

if __name__ == "__main__":
    sys.exit(main())
