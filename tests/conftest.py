import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"
REFERENCE = Path(__file__).resolve().parent / "reference"   # copy of shared/reference/kernel-6.12-hmat


@pytest.fixture(scope="session")
def reference():
    """What the real 6.12 kernel did in QEMU, per scenario (vmstat deltas etc.)."""
    return lambda name: json.loads((REFERENCE / f"{name}.json").read_text())
