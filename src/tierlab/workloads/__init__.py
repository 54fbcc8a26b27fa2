"""Workloads: what tasks do. Synthetic generators, trace readers/writers, and the scenario's
workload tables turned into steps (see base.py for the contract with the engine)."""

from .base import FREE, READ, WRITE, AccessStep, Chunk, IdleStep, PolicyStep, Step
from .spec import build_steps, footprint_pages, parse_mempolicy
from .synthetic import (FillStep, HotColdStep, MixStep, PhasesStep, ScanStep, UniformStep,
                        ZipfStep)
from .traces import TraceStep, convert_trace, detect_format, read_records, trace_stats

__all__ = [
    "READ", "WRITE", "FREE", "Chunk", "AccessStep", "IdleStep", "PolicyStep", "Step",
    "build_steps", "footprint_pages", "parse_mempolicy",
    "FillStep", "ZipfStep", "UniformStep", "ScanStep", "HotColdStep", "PhasesStep", "MixStep",
    "TraceStep", "convert_trace", "detect_format", "read_records", "trace_stats",
]
