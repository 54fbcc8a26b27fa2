"""Nodes, zones, watermarks, memory tiers and demotion order, computed as the kernel of a
profile computes them (``build_machine``), presets, and a printable description (``show``)."""

from tierlab.topology.build import build_machine
from tierlab.topology.machine import Machine, Zone, ZONE_TYPES

__all__ = ["build_machine", "Machine", "Zone", "ZONE_TYPES"]
