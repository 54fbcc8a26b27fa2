"""The `tierlab` command: a thin layer over the library.

Every user error (bad scenario, broken trace, missing file) is one line on stderr and exit
status 2, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from .errors import TierlabError


def _console(quiet: bool = False):
    from rich.console import Console
    return Console(quiet=quiet, highlight=False)


def cmd_run(args) -> int:
    from .report.summary import print_run_summary
    from .scenario import load_scenario
    from .simulate import run
    scenario = load_scenario(args.scenario)
    if args.check:
        from dataclasses import replace
        scenario = replace(scenario, run=replace(scenario.run, check=True))
    result = run(scenario, progress=None)
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
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
