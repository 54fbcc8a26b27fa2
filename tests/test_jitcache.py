"""The numba cache: one directory per source tree, old ones pruned, the first compile announced."""

import os
import time

from tierlab import _jitcache
from tierlab.cli import main


def _cache(base, name, age_days):
    path = base / name
    (path / "kernel_x").mkdir(parents=True)
    (path / "kernel_x" / "f.nbi").write_bytes(b"")
    t = time.time() - age_days * 86400
    os.utime(path, (t, t))
    return path


def test_prune_keeps_current_newest_and_recent(tmp_path):
    current = _cache(tmp_path, "tierlab-" + "0" * 16, 100)
    old = [_cache(tmp_path, f"tierlab-{i:016x}", 30 + i) for i in range(1, 6)]
    recent = _cache(tmp_path, "tierlab-" + "f" * 16, 1)
    other = _cache(tmp_path, "tierlab-notahash", 400)      # not tierlab's name: never touched
    removed = _jitcache.prune_stale_caches(str(tmp_path), keep=str(current))
    # newest three besides the current one: recent, old[0], old[1]; the rest are > 7 days old
    assert sorted(removed) == sorted(str(p) for p in old[2:])
    assert current.exists() and recent.exists() and old[0].exists() and old[1].exists()
    assert other.exists()
    assert time.time() - current.stat().st_mtime < 60          # marked as used


def test_prune_spares_caches_used_this_week(tmp_path):
    current = _cache(tmp_path, "tierlab-" + "0" * 16, 0)
    week = [_cache(tmp_path, f"tierlab-{i:016x}", 2) for i in range(1, 7)]
    assert _jitcache.prune_stale_caches(str(tmp_path), keep=str(current)) == []
    assert all(p.exists() for p in week)


def test_is_cold(tmp_path, monkeypatch):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path / "empty"))
    assert _jitcache.is_cold()
    warm = _cache(tmp_path, "tierlab-" + "1" * 16, 0)
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(warm))
    assert not _jitcache.is_cold()


def test_cli_announces_first_compile(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(_jitcache, "is_cold", lambda: True)
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    err = capsys.readouterr().err
    assert "compiling the kernel model" in err and "missing.toml" in err
    assert main(["run", "--quiet", str(tmp_path / "missing.toml")]) == 2
    assert "compiling" not in capsys.readouterr().err
    monkeypatch.setattr(_jitcache, "is_cold", lambda: False)
    assert main(["run", str(tmp_path / "missing.toml")]) == 2
    assert "compiling" not in capsys.readouterr().err
