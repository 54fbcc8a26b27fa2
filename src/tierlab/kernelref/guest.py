"""The guest's userland: an /init script (busybox sh) and the initramfs that carries it.

/init mounts proc/sys/devtmpfs/debugfs, writes the scenario's knobs (reading each back),
sets up swap when the scenario has it, reports tiers and demotion targets, dumps /proc/vmstat
and every node's vmstat and meminfo, runs one memwork per task (they print MW lines), dumps
again and powers off. Everything it reports is a line starting "@@" on the serial console;
tierlab.kernelref.parse reads them back.
"""

from __future__ import annotations

import gzip
import io
import lzma
import shlex
from pathlib import Path

from .plan import GuestPlan

MEMWORK = "/memwork"
VIRTIO_BLK = "/virtio_blk.ko"

_HEAD = r"""#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t debugfs debugfs /sys/kernel/debug
echo "@@begin"
echo "@@kernel $(uname -r)"
echo "@@uptime boot $(cut -d' ' -f1 /proc/uptime)"
# knob FILE VALUE: write, then report what the kernel kept (or that it refused)
knob() {
    if echo "$2" > "$1" 2>/dev/null; then echo "@@knob $1 $(cat "$1" | tr '\t\n' '  ')"
    else echo "@@knoberr $1 $2"; fi
}
# dump before|after: /proc/vmstat, and per node its vmstat and meminfo (kB)
dump() {
    sed "s/^/@@vmstat $1 /" /proc/vmstat
    for n in /sys/devices/system/node/node[0-9]*; do
        id=${n##*/node}
        sed "s/^/@@nodevmstat $1 $id /" "$n/vmstat"
        sed -n "s/^Node $id \([A-Za-z()_]*\): *\([0-9]*\).*/@@meminfo $1 $id \1 \2/p" "$n/meminfo"
    done
}
"""

_TAIL = r"""for t in /sys/devices/virtual/memory_tiering/memory_tier*; do
    [ -e "$t/nodelist" ] && echo "@@tier ${t##*/} $(cat "$t/nodelist")"
done
echo "@@lru_gen $(cat /sys/kernel/mm/lru_gen/enabled 2>/dev/null)"
dmesg | grep -E 'Demotion targets' | sed 's/^/@@dmesg /'
dump before
echo "@@uptime start $(cut -d' ' -f1 /proc/uptime)"
"""

_END = r"""echo "@@uptime end $(cut -d' ' -f1 /proc/uptime)"
dump after
echo "@@swaps $(tail -n +2 /proc/swaps | tr -s ' \t\n' '   ')"
dmesg | grep -E 'invoked oom-killer|oom-kill:|Out of memory' | sed 's/^/@@dmesg /'
echo "@@done"
sync
poweroff -f
"""


def init_script(plan: GuestPlan) -> str:
    lines = [_HEAD]
    lines += [f"knob {path} {shlex.quote(value)}" for path, value in plan.knobs]
    if plan.swap_bytes:
        # a virtio disk backed by a sparse host file: real block-device swap that takes no
        # guest RAM from the nodes under test (zram would)
        lines += [f"insmod {VIRTIO_BLK} || echo '@@swaperr insmod virtio_blk'",
                  "mkswap /dev/vda >/dev/null && swapon /dev/vda || echo '@@swaperr swapon /dev/vda'"]
    lines.append(_TAIL)
    for k, t in enumerate(plan.tasks):
        mask = sum(1 << c for c in t.cpus)
        args = " ".join(shlex.quote(a) for a in (t.name, f"{mask:x}", str(t.pages), *t.steps))
        lines.append(f"{MEMWORK} {args} & pid{k}=$!")
    for k, t in enumerate(plan.tasks):
        lines.append(f"wait $pid{k}; echo \"@@exit {t.name} $?\"")
    lines.append(_END)
    return "\n".join(lines)


class _Cpio:
    """The initramfs format the kernel unpacks: cpio "newc" (SVR4 without CRC), 4-byte aligned."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.ino = 1

    def _entry(self, name: str, mode: int, data: bytes = b"", rdev: tuple[int, int] = (0, 0)):
        fields = (self.ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        self.ino += 1
        hdr = b"070701" + b"".join(b"%08x" % f for f in fields) + name.encode() + b"\0"
        self.buf.write(hdr + b"\0" * (-len(hdr) % 4))
        self.buf.write(data + b"\0" * (-len(data) % 4))

    def dir(self, name: str):
        self._entry(name, 0o040755)

    def file(self, name: str, data: bytes, mode: int = 0o755):
        self._entry(name, 0o100000 | mode, data)

    def chardev(self, name: str, major: int, minor: int):
        self._entry(name, 0o020600, rdev=(major, minor))

    def close(self) -> bytes:
        self._entry("TRAILER!!!", 0)
        return self.buf.getvalue()


def build_initramfs(out: Path, *, init: str, busybox: Path, memwork: Path,
                    virtio_blk: Path | None = None) -> Path:
    """Write a gzipped newc initramfs holding /init, busybox, memwork (and virtio_blk.ko)."""
    c = _Cpio()
    for d in ("bin", "dev", "proc", "sys", "tmp"):
        c.dir(d)
    c.chardev("dev/console", 5, 1)      # the kernel opens it for init's stdio before devtmpfs
    c.file("bin/busybox", busybox.read_bytes())
    c.file(MEMWORK[1:], memwork.read_bytes())
    if virtio_blk is not None:
        data = virtio_blk.read_bytes()
        c.file(VIRTIO_BLK[1:], lzma.decompress(data) if virtio_blk.suffix == ".xz" else data, 0o644)
    c.file("init", init.encode())
    out.write_bytes(gzip.compress(c.close(), compresslevel=6, mtime=0))
    return out
