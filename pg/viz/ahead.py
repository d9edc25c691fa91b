"""Work done ahead of time, on one low-priority thread: what a visitor is likely to ask for next
(Replay's next clips, Live's other chart layouts), made while the server has nothing better to do.

Linux gives each thread its own nice level, inherited by the threads it starts (x264's encoder
thread included): the thread runs ``AHEAD_NICE`` levels below the server, so any page's own work
comes first. Elsewhere the thread runs at the server's priority.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache

AHEAD_NICE = 10
"""how much lower the thread that works ahead runs than the server (nice levels)"""


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), AHEAD_NICE)
    except (AttributeError, OSError):  # not Linux, or not allowed: the same thread, the same priority
        pass


@lru_cache(maxsize=1)
def ahead_pool() -> ThreadPoolExecutor:
    """The one low-priority thread (per process) that works ahead."""
    return ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-ahead", initializer=_lower_priority)
