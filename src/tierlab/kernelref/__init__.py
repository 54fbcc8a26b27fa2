"""The real-kernel reference harness: boot a Debian 6.12 kernel in QEMU with a scenario's
topology and knobs, run the scenario's workload there, and set the kernel's counters and
residency beside tierlab's (`tierlab kernelref`, docs/kernelref.md).

    plan      scenario -> what the guest does (knobs, memwork arguments); refuses what it cannot
    assets    tools, the cached kernel image, busybox, the compiled workload program
    guest     the /init script and the initramfs
    qemu      the qemu-system-x86_64 command line from the scenario's nodes
    parse     console log -> dict (the shape of reference/kernel-6.12-hmat/*.json)
    compare   kernel runs vs tierlab.run: the table
    runner    all of it, N runs
"""

from .runner import kernelref

__all__ = ["kernelref"]
