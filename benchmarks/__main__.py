"""python -m benchmarks [--small] [--case NAME ...] [--rounds N] [--no-jit] [--json OUT]"""

from __future__ import annotations

import argparse
import json
import sys

from .cases import build_cases
from .runner import format_report, run_suite


def main(argv: list[str] | None = None) -> int:
    names = [c.name for c in build_cases(True)]
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    ap.add_argument("--small", action="store_true",
                    help="tiny sizes for CI: checks the suite works, timings mean nothing")
    ap.add_argument("--case", action="append", choices=names, help="run only this case (repeatable)")
    ap.add_argument("--rounds", type=int, help="interleaved rounds per case (default: per case)")
    ap.add_argument("--no-jit", action="store_true", help="skip the JIT compile-time subprocesses")
    ap.add_argument("--jit-cold", action="store_true", help="measure cold JIT in --small mode too")
    ap.add_argument("--jit-only", action="store_true", help="only the JIT compile-time measurement")
    ap.add_argument("--json", metavar="OUT", help="also write the results as JSON")
    ap.add_argument("-q", "--quiet", action="store_true", help="no progress lines")
    a = ap.parse_args(argv)
    log = (lambda *x, **k: None) if a.quiet else (lambda *x, **k: print(*x, file=sys.stderr, flush=True))
    res = run_suite(small=a.small, only=["-"] if a.jit_only else a.case, jit=not a.no_jit,
                    jit_cold=True if a.jit_cold else None, rounds=a.rounds, log=log)
    print(format_report(res))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    sys.exit(main())
