"""Where numba keeps the compiled kernel model.

numba invalidates a cached function only when its own source file changes, not when a
function it calls from another file does, so an edited kernel module could leave stale
machine code in its callers' caches. tierlab therefore keys the cache directory on a hash of
every compiled module's source: any change gives a fresh cache. Must run before numba
compiles anything (tierlab/__init__ calls it first).
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from pathlib import Path

_COMPILED = ("engine.py", "kernel", "workloads/_kernels.py")


def source_hash() -> str:
    root = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for entry in _COMPILED:
        path = root / entry
        files = sorted(path.glob("*.py")) if path.is_dir() else [path]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


def use_source_keyed_cache() -> str:
    """Point numba's cache at <base>/tierlab-<hash>; base is $NUMBA_CACHE_DIR if the user set
    one, else $XDG_CACHE_HOME (~/.cache)."""
    base = os.environ.get("TIERLAB_NUMBA_BASE") or os.environ.get("NUMBA_CACHE_DIR") or \
        os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache")), "tierlab")
    os.environ["TIERLAB_NUMBA_BASE"] = base
    cache = os.path.join(base, f"tierlab-{source_hash()}")
    prune_stale_caches(base, keep=cache)
    os.environ["NUMBA_CACHE_DIR"] = cache
    try:
        import numba
        numba.config.CACHE_DIR = cache
    except ImportError:     # pragma: no cover - numba is a dependency
        pass
    return cache


# A cache holds machine code for every compiled function and its callees (~50 MB per source
# tree): one per tierlab version would fill the disk of anyone who upgrades or edits tierlab.
_CACHE_NAME = re.compile(r"tierlab-[0-9a-f]{16}")
KEEP_NEWEST = 3                  # besides the current one, e.g. for switching between branches
KEEP_DAYS = 7                    # never remove a cache used this recently (a run may load it)


def prune_stale_caches(base: str, keep: str) -> list[str]:
    """Remove tierlab caches under ``base`` other than ``keep`` that are neither among the
    KEEP_NEWEST most recently used nor used in the last KEEP_DAYS days; mark ``keep`` as used.
    Only directories named like tierlab's own (tierlab-<16 hex digits>) are touched."""
    try:
        if os.path.isdir(keep):
            os.utime(keep)
        entries = [e for e in os.scandir(base) if e.is_dir() and _CACHE_NAME.fullmatch(e.name)
                   and os.path.abspath(e.path) != os.path.abspath(keep)]
    except OSError:
        return []
    entries.sort(key=lambda e: e.stat().st_mtime, reverse=True)
    cutoff = time.time() - KEEP_DAYS * 86400
    removed = []
    for e in entries[KEEP_NEWEST:]:
        if e.stat().st_mtime < cutoff:
            shutil.rmtree(e.path, ignore_errors=True)
            removed.append(e.path)
    return removed


def is_cold() -> bool:
    """True when this tierlab's kernel model has not been compiled into the cache yet (the first
    run after an install or an edit then spends about a minute in numba)."""
    cache = os.environ.get("NUMBA_CACHE_DIR", "")
    try:
        return not any(f.endswith(".nbi") for _, _, files in os.walk(cache) for f in files)
    except OSError:
        return True
