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
    os.environ["NUMBA_CACHE_DIR"] = cache
    try:
        import numba
        numba.config.CACHE_DIR = cache
    except ImportError:     # pragma: no cover - numba is a dependency
        pass
    return cache
