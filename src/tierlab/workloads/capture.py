"""`tierlab trace capture`: run a program under valgrind lackey and write its trace as it runs.

valgrind comes from the system package manager (Debian/Ubuntu: ``apt-get install valgrind``).
lackey writes one line per instruction and data access to a pipe (``--log-fd``); tierlab parses
the lines in blocks as they arrive (the vectorised lackey parser), numbers pages densely in
first-seen order as it goes and appends the records to a ``TraceWriter``, so nothing but the
output .npz (and its spool) ever holds the trace. lackey is slow (about 1 M guest
instructions/s): a progress line on a terminal's stderr, a time cap and a record cap stop
valgrind early and keep what was captured, as does Ctrl-C. The output is always a complete,
dense tierlab .npz.
"""

from __future__ import annotations

import os
import selectors
import shutil
import subprocess
import sys
import time
from typing import IO

import numpy as np

from ..errors import TierlabError, TraceError
from .lackey import LackeyParser
from .npztrace import TraceWriter, read_meta
from .records import Records
from .traces import DenseNumbering

PARSE_BYTES = 1 << 20        # parse when this much output is pending ...
PARSE_EVERY_S = 0.5          # ... or this long after the first pending byte
STOP_GRACE_S = 5.0           # after stopping valgrind, wait this long for the pipe's end


def capture(program: list[str], output: str, time_limit_s: float | None = None,
            max_records: int | None = None, progress: bool | None = None,
            stderr: IO[str] | None = None, compress: bool = False) -> dict:
    """Trace ``program`` with lackey into ``output`` (a dense tierlab .npz).

    ``time_limit_s``: stop valgrind after this many seconds; ``max_records``: stop after this
    many data accesses (lackey's L/S/M lines; the file holds exactly that many). Either way
    what was captured is kept. ``progress``: a line on ``stderr`` updated about once a second
    (default: when stderr is a terminal). Returns the trace's meta plus ``program``,
    ``exit_status`` (None when tierlab stopped it), ``stopped`` (None, "time_limit",
    "max_records" or "interrupted"), ``seconds``, ``lackey_bytes``, ``instructions``,
    ``skipped_lines``.
    """
    if program and program[0] == "--":
        program = program[1:]
    if not program:
        raise TierlabError("trace capture: no program given (usage: tierlab trace capture "
                           "-o OUT -- PROGRAM ARGS)")
    if time_limit_s is not None and not time_limit_s > 0:
        raise TierlabError(f"trace capture: --time-limit must be > 0 seconds, got {time_limit_s}")
    if max_records is not None and max_records <= 0:
        raise TierlabError(f"trace capture: --max-records must be > 0, got {max_records}")
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        raise TierlabError("trace capture: valgrind is not installed or not on PATH; install it "
                           "with the system package manager (Debian/Ubuntu: apt-get install "
                           "valgrind; Fedora: dnf install valgrind)")
    exe = program[0]
    if (os.sep in exe and not os.path.isfile(exe)) or (os.sep not in exe and shutil.which(exe) is None):
        raise TierlabError(f"trace capture: no such program {exe!r}")
    stderr = sys.stderr if stderr is None else stderr
    if progress is None:
        progress = bool(getattr(stderr, "isatty", lambda: False)())
    return _Capture(valgrind, program, output, time_limit_s, max_records, progress, stderr,
                    compress).run()


class _Capture:
    def __init__(self, valgrind, program, output, time_limit_s, max_records, progress, stderr,
                 compress):
        self.valgrind, self.program, self.output = valgrind, list(program), os.fspath(output)
        self.time_limit_s, self.max_records = time_limit_s, max_records
        self.progress, self.stderr, self.compress = progress, stderr, compress
        self.parser = LackeyParser(f"valgrind lackey output of {program[0]}")
        self.numbering = DenseNumbering()
        self.accesses = 0
        self.bytes = 0
        self.stopped: str | None = None
        self.last_progress = 0.0

    def run(self) -> dict:
        rfd, wfd = os.pipe()
        cmd = [self.valgrind, "--tool=lackey", "--trace-mem=yes", f"--log-fd={wfd}", *self.program]
        self.t0 = time.monotonic()
        try:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                    pass_fds=(wfd,))
        except OSError as e:
            os.close(rfd)
            os.close(wfd)
            raise TierlabError(f"trace capture: cannot run valgrind: {e}") from None
        os.close(wfd)
        try:
            with TraceWriter(self.output, source=f"lackey:{os.path.basename(self.program[0])}",
                             dense=True, compress=self.compress) as w:
                self._pump(proc, rfd, w)
                if self.accesses == 0:
                    raise TierlabError(
                        f"trace capture: valgrind traced no memory accesses of "
                        f"{self.program[0]!r} (exit status {proc.returncode}); its messages "
                        f"are on stderr")
        finally:
            os.close(rfd)
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            self._progress_line(final=True)
        info = read_meta(self.output)
        info.update(program=self.program,
                    exit_status=None if self.stopped else proc.returncode,
                    stopped=self.stopped, seconds=round(time.monotonic() - self.t0, 3),
                    lackey_bytes=self.bytes, instructions=self.parser.instructions,
                    skipped_lines=self.parser.skipped)
        return info

    def _pump(self, proc: subprocess.Popen, rfd: int, w: TraceWriter) -> None:
        """Read the pipe to EOF, parsing in blocks; stop valgrind at a cap."""
        sel = selectors.DefaultSelector()
        sel.register(rfd, selectors.EVENT_READ)
        pending: list[bytes] = []
        held = 0
        since = 0.0
        stop_deadline = None
        try:
            while True:
                now = time.monotonic()
                if self.stopped is None and self.time_limit_s is not None and \
                        now - self.t0 >= self.time_limit_s:
                    self._stop(proc, "time_limit")
                if self.stopped is not None and stop_deadline is None:
                    stop_deadline = now + STOP_GRACE_S
                if stop_deadline is not None and now >= stop_deadline:
                    break                    # a forked child still holds the pipe: give up on it
                timeout = 0.25
                if self.time_limit_s is not None and self.stopped is None:
                    timeout = max(0.0, min(timeout, self.t0 + self.time_limit_s - now))
                try:
                    ready = sel.select(timeout)
                except KeyboardInterrupt:
                    self._stop(proc, "interrupted")
                    continue
                if ready:
                    data = os.read(rfd, 1 << 20)
                    if not data:
                        break
                    self.bytes += len(data)
                    if self.stopped == "max_records":
                        continue             # the file is full: drain so valgrind can exit
                    if not pending:
                        since = time.monotonic()
                    pending.append(data)
                    held += len(data)
                if pending and (held >= PARSE_BYTES or time.monotonic() - since >= PARSE_EVERY_S):
                    self._parse(b"".join(pending), w, proc)
                    pending, held = [], 0
                self._progress_line()
            if pending and self.stopped != "max_records":
                self._parse(b"".join(pending), w, proc)
            if self.stopped != "max_records":
                # output cut mid-line when valgrind was stopped: drop the partial line
                self._add(self.parser.finish(drop_partial=self.stopped is not None), w, proc)
        finally:
            sel.close()
        proc.wait()

    def _parse(self, data: bytes, w: TraceWriter, proc: subprocess.Popen) -> None:
        try:
            r = self.parser.feed(data)
        except TraceError:
            proc.kill()
            raise
        self._add(r, w, proc)

    def _add(self, r: Records | None, w: TraceWriter, proc: subprocess.Popen) -> None:
        if r is None or len(r.vpn) == 0:
            return
        if self.max_records is not None:
            left = self.max_records - self.accesses
            cum = np.cumsum(r.count, dtype=np.int64)
            if cum[-1] >= left:
                k = int(np.searchsorted(cum, left))          # the record holding the last access
                count = r.count[:k + 1].copy()
                count[-1] -= np.uint32(cum[k] - left)
                r = Records(r.vpn[:k + 1], r.op[:k + 1], count,
                            None if r.icount is None else r.icount[:k + 1])
                self._stop(proc, "max_records")
        w.append(self.numbering.assign(r.vpn), r.op, r.count, r.icount)
        self.accesses += r.accesses()

    def _stop(self, proc: subprocess.Popen, why: str) -> None:
        if self.stopped is None:
            self.stopped = why
        # SIGKILL: valgrind acts on SIGTERM only at the end of a scheduling slice (100k basic
        # blocks, ~1 s and ~20 MB of lackey output later); the output it already wrote to the
        # pipe is still read and kept
        if proc.poll() is None:
            proc.kill()

    def _progress_line(self, final: bool = False) -> None:
        if not self.progress:
            return
        now = time.monotonic()
        if not final and now - self.last_progress < 1.0:
            return
        self.last_progress = now
        line = (f"\rtierlab trace capture: {self.accesses:,} accesses, {len(self.numbering):,} "
                f"pages, {self.bytes / 1e6:,.1f} MB of lackey output, {now - self.t0:.0f} s")
        self.stderr.write(line + ("\x1b[K\n" if final else "\x1b[K"))
        self.stderr.flush()
