"""Sizes and rates as people write them: "512MiB", "1.5GiB", "4096", "20GB/s"."""

from __future__ import annotations

import re

PAGE_SIZE = 4096
PAGE_SHIFT = 12

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1024, "kb": 1000, "kib": 1024,
    "m": 1024**2, "mb": 1000**2, "mib": 1024**2,
    "g": 1024**3, "gb": 1000**3, "gib": 1024**3,
    "t": 1024**4, "tb": 1000**4, "tib": 1024**4,
}
_SIZE_RE = re.compile(r"^\s*([0-9][0-9_]*(?:\.[0-9]+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(value: object, field: str = "size") -> int:
    """Return a size in bytes from an int or a string such as "512MiB"; ValueError names the field."""
    if isinstance(value, bool):
        raise ValueError(f"{field}: expected a size such as \"512MiB\", got {value!r}")
    if isinstance(value, int):
        if value < 0:
            raise ValueError(f"{field}: size must not be negative, got {value!r}")
        return value
    if isinstance(value, float) and value >= 0 and value.is_integer():
        return int(value)
    if isinstance(value, str):
        m = _SIZE_RE.match(value)
        if m and m.group(2).lower() in _SIZE_UNITS:
            return int(float(m.group(1).replace("_", "")) * _SIZE_UNITS[m.group(2).lower()])
    raise ValueError(f"{field}: expected a size such as \"512MiB\", got {value!r}")


def parse_bandwidth(value: object, field: str = "bandwidth") -> float:
    """Return bytes per second from "20GB/s", "7GiB/s" or a number of bytes per second."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value)
    if isinstance(value, str) and value.strip().endswith("/s"):
        try:
            b = parse_size(value.strip()[:-2], field)
        except ValueError:
            b = 0
        if b > 0:
            return float(b)
    raise ValueError(f"{field}: expected a bandwidth such as \"20GB/s\", got {value!r}")


def pages(nbytes: int) -> int:
    """Bytes to whole 4 KiB pages, rounding up."""
    return (nbytes + PAGE_SIZE - 1) >> PAGE_SHIFT
