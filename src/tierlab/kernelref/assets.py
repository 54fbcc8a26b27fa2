"""What a guest run needs on the host: qemu, a static busybox, gcc with static glibc, and a
Debian 6.12 kernel image, fetched once with `apt-get download` and cached in
~/.cache/tierlab/kernelref/ (only boot/vmlinuz, boot/config and virtio_blk.ko are kept).
A missing tool is one KernelrefError naming the apt packages that bring it."""

from __future__ import annotations

import hashlib
import lzma
import os
import re
import shutil
import struct
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tierlab.errors import KernelrefError

# the kernel the reference data was measured with (reference/kernel-reference.md); when the
# archive no longer has it, the one the meta-package depends on
REFERENCE_PACKAGE = "linux-image-6.12.100+deb12-amd64"
META_PACKAGE = "linux-image-6.12-amd64"
_PKG_RE = re.compile(r"^linux-image-6\.12\.(\d+)\+deb12-amd64$")
VIRTIO_BLK_MEMBER = re.compile(r"^\./lib/modules/[^/]+/kernel/drivers/block/virtio_blk\.ko(\.xz)?$")

# tool -> (how it is found, the apt package that brings it)
TOOLS = {"qemu-system-x86_64": "qemu-system-x86", "busybox": "busybox-static", "gcc": "gcc",
         "libc.a": "libc6-dev", "apt-get": "apt", "dpkg-deb": "dpkg"}


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tierlab" / "kernelref"


@dataclass(frozen=True)
class Kernel:
    vmlinuz: Path
    version: str                     # as uname -r says it, read from the bzImage header
    virtio_blk: Path | None = None   # the module the guest needs for swap


def _is_static(path: Path) -> bool:
    """An ELF file without a PT_INTERP program header (no dynamic loader)."""
    with open(path, "rb") as f:
        head = f.read(64)
        if head[:4] != b"\x7fELF" or head[4] != 2:
            return False
        phoff, = struct.unpack_from("<Q", head, 32)
        phentsize, phnum = struct.unpack_from("<HH", head, 54)
        for k in range(phnum):
            f.seek(phoff + k * phentsize)
            if struct.unpack("<I", f.read(4))[0] == 3:       # PT_INTERP
                return False
    return True


def find_busybox() -> Path | None:
    for cand in ("/bin/busybox", shutil.which("busybox")):
        if cand and os.path.isfile(cand) and _is_static(Path(cand)):
            return Path(cand)
    return None


def check_tools(need_download: bool) -> None:
    """Raise one error listing every missing tool and the apt packages to install."""
    missing = []
    if not shutil.which("qemu-system-x86_64"):
        missing.append("qemu-system-x86_64")
    if find_busybox() is None:
        missing.append("busybox")
    if not shutil.which("gcc"):
        missing.append("gcc")
    elif not _static_libc():
        missing.append("libc.a")
    if need_download:
        missing += [t for t in ("apt-get", "dpkg-deb") if not shutil.which(t)]
    if missing:
        pkgs = sorted({TOOLS[t] for t in missing})
        raise KernelrefError(f"kernelref needs {', '.join(missing)}: apt-get install "
                             f"{' '.join(pkgs)} (a static busybox comes only from busybox-static)")


def _static_libc() -> bool:
    try:
        out = subprocess.run(["gcc", "-print-file-name=libc.a"], capture_output=True, text=True,
                             timeout=30).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return False
    return os.path.isabs(out) and os.path.isfile(out)


def memwork_binary() -> Path:
    """The guest workload program, compiled `gcc -static` once per source version."""
    src = resources.files("tierlab.kernelref").joinpath("memwork.c").read_bytes()
    out = cache_dir() / f"memwork-{hashlib.sha256(src).hexdigest()[:12]}"
    if out.exists():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        c = Path(tmp) / "memwork.c"
        c.write_bytes(src)
        r = subprocess.run(["gcc", "-static", "-O2", "-Wall", "-o", str(Path(tmp) / "memwork"), str(c)],
                           capture_output=True, text=True)
        if r.returncode:
            raise KernelrefError(f"gcc -static memwork.c failed (static glibc: apt-get install "
                                 f"libc6-dev): {r.stderr.strip()[-500:]}")
        os.replace(Path(tmp) / "memwork", out)
    return out


def bzimage_version(path: Path) -> str:
    """uname -r of a bzImage: the boot protocol's kernel_version string (offset 0x20e + 0x200)."""
    with open(path, "rb") as f:
        hdr = f.read(0x210)
        if len(hdr) < 0x210 or hdr[0x202:0x206] != b"HdrS":
            raise KernelrefError(f"--kernel {path}: not an x86 bzImage (no HdrS boot header)")
        f.seek(struct.unpack_from("<H", hdr, 0x20E)[0] + 0x200)
        return f.read(256).split(b" ", 1)[0].split(b"\0", 1)[0].decode(errors="replace")


def kernel(path: str | os.PathLike | None = None, progress=print) -> Kernel:
    """The given bzImage, or the cached Debian 6.12 one (fetched on first use)."""
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise KernelrefError(f"--kernel {p}: no such file")
        version = bzimage_version(p)
        mod = p.resolve().parent.parent / "lib" / "modules" / version / "kernel/drivers/block"
        cands = (p.parent / "virtio_blk.ko", mod / "virtio_blk.ko", mod / "virtio_blk.ko.xz")
        ko = next((m for m in cands if m.exists()), None)     # beside it (our cache) or its tree
        return Kernel(p, version, ko)
    for d in _cached():
        return Kernel(d / "vmlinuz", bzimage_version(d / "vmlinuz"), d / "virtio_blk.ko")
    return _fetch(_package(), progress)


def _cached() -> list[Path]:
    """Cached kernels, the reference one first, then newest first."""
    root = cache_dir()
    found = [d for d in root.glob("linux-image-6.12.*") if (d / "vmlinuz").exists()] if root.exists() else []
    return sorted(found, key=lambda d: (d.name != REFERENCE_PACKAGE,
                                        -int(_PKG_RE.match(d.name).group(1)) if _PKG_RE.match(d.name) else 0))


def _apt(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(args, capture_output=True, text=True, timeout=600)


def _package() -> str:
    """The reference kernel if apt knows it, else what linux-image-6.12-amd64 depends on."""
    pol = _apt("apt-cache", "policy", REFERENCE_PACKAGE).stdout
    if re.search(r"Candidate: (?!\(none\))\S+", pol):
        return REFERENCE_PACKAGE
    deps = _apt("apt-cache", "depends", META_PACKAGE).stdout
    for m in re.finditer(r"Depends: (linux-image-6\.12\.\d+\+deb12-amd64)\b", deps):
        return m.group(1)
    raise KernelrefError(f"apt knows neither {REFERENCE_PACKAGE} nor {META_PACKAGE}: run "
                         "apt-get update (Debian 12 sources), or give --kernel PATH_TO_vmlinuz")


def _fetch(package: str, progress) -> Kernel:
    """apt-get download the .deb, keep boot/vmlinuz-*, boot/config-* and virtio_blk.ko."""
    root = cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    progress(f"fetching {package} (apt-get download, ~110 MB, once) into {root}")
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        r = subprocess.run(["apt-get", "download", package], cwd=tmp, capture_output=True,
                           text=True, timeout=1800)
        debs = list(Path(tmp).glob("*.deb"))
        if r.returncode or not debs:
            raise KernelrefError(f"apt-get download {package} failed: {r.stderr.strip()[-400:]} "
                                 "(apt-get update first, or give --kernel PATH_TO_vmlinuz)")
        stage = Path(tmp) / package
        stage.mkdir()
        dpkg = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
        with tarfile.open(fileobj=dpkg.stdout, mode="r|") as tar:
            for m in tar:
                if m.name.startswith("./boot/vmlinuz-"):
                    (stage / "vmlinuz").write_bytes(tar.extractfile(m).read())
                elif m.name.startswith("./boot/config-"):
                    (stage / "config").write_bytes(tar.extractfile(m).read())
                elif VIRTIO_BLK_MEMBER.match(m.name):
                    data = tar.extractfile(m).read()
                    (stage / "virtio_blk.ko").write_bytes(
                        lzma.decompress(data) if m.name.endswith(".xz") else data)
        if dpkg.wait() or not (stage / "vmlinuz").exists():
            raise KernelrefError(f"{debs[0].name}: no boot/vmlinuz-* inside (dpkg-deb --fsys-tarfile)")
        final = root / package
        if final.exists():
            shutil.rmtree(final)
        os.replace(stage, final)
    return Kernel(final / "vmlinuz", bzimage_version(final / "vmlinuz"), final / "virtio_blk.ko")
