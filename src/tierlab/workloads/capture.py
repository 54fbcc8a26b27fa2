"""`tierlab trace capture`: run a program under valgrind lackey and convert its trace.

valgrind comes from the system package manager (Debian: `apt-get install valgrind`). lackey is
slow (about 1 M guest instructions/s); with a time limit the program is stopped and what was
captured so far is kept.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from ..errors import TierlabError
from .traces import convert_trace


def capture(program: list[str], output: str, time_limit_s: float | None = None) -> dict:
    """Trace ``program`` with lackey into ``output`` (tierlab npz). Returns the convert info."""
    if program and program[0] == "--":
        program = program[1:]
    if not program:
        raise TierlabError("trace capture: no program given (usage: tierlab trace capture -o OUT -- PROGRAM ARGS)")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise TierlabError("trace capture: valgrind is not installed (Debian: apt-get install valgrind)")
    with tempfile.TemporaryDirectory(prefix="tierlab-capture-") as tmp:
        log = os.path.join(tmp, "lackey.txt")
        cmd = [valgrind, "--tool=lackey", "--trace-mem=yes", f"--log-file={log}", *program]
        try:
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
                                  timeout=time_limit_s)
            stopped = False
            status = proc.returncode
        except subprocess.TimeoutExpired:
            stopped, status = True, None
        except OSError as e:
            raise TierlabError(f"trace capture: cannot run {program[0]!r}: {e}") from None
        if not os.path.exists(log) or os.path.getsize(log) == 0:
            raise TierlabError(f"trace capture: valgrind produced no trace for {program[0]!r}")
        info = convert_trace(log, output, fmt="lackey")
    info = dict(info) if isinstance(info, dict) else {"info": info}
    info.update({"program": program, "exit_status": status, "stopped_at_time_limit": stopped})
    return info
