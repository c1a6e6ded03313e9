"""Process setup for a steadier loop: SCHED_FIFO, CPU affinity, locked memory, a frozen garbage collector.

Each step is tried; what the OS refuses is collected and reported once, and the loop runs anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import os

MCL_CURRENT, MCL_ONFAULT = 1, 4
"""Lock current mappings as their pages are touched (MCL_ONFAULT, Linux ≥ 4.4): the pages the warmed-up loop
uses stay resident, without faulting in every page of every mapped library (which costs ~100 MB of RSS).
No MCL_FUTURE: under a lock limit it could make later allocations fail."""


def configure_process(priority: int, affinity: list[int]) -> tuple[list[str], list[str]]:
    """Returns (applied, refused) descriptions."""
    applied: list[str] = []
    refused: list[str] = []
    if priority > 0:
        try:
            os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(priority))
            applied.append(f"SCHED_FIFO priority {priority}")
        except (OSError, AttributeError) as exc:
            refused.append(f"SCHED_FIFO priority {priority} ({exc.__class__.__name__}: {exc})")
    if affinity:
        try:
            os.sched_setaffinity(0, set(affinity))
            applied.append(f"CPU affinity {sorted(affinity)}")
        except (OSError, AttributeError, ValueError) as exc:
            refused.append(f"CPU affinity {sorted(affinity)} ({exc})")
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name, use_errno=True)
        if libc.mlockall(MCL_CURRENT | MCL_ONFAULT) != 0:
            refused.append(f"mlockall ({os.strerror(ctypes.get_errno())})")
        else:
            applied.append("memory locked")
    except (OSError, AttributeError) as exc:
        refused.append(f"mlockall ({exc})")
    return applied, refused


def freeze_garbage_collector() -> None:
    """After start-up allocations: move everything to the permanent generation and stop automatic GC."""
    gc.collect()
    gc.freeze()
    gc.disable()
