"""Long-lived processes and Python's cyclic garbage collector.

A full collection walks every tracked object. A session host holds ~260,000 of them once its libraries, models
and knowledge base are loaded (Ray, LangGraph, scikit-learn, the retrieval index), and a full collection over
them stopped its event loop for 236 ms in the middle of a turn-latency run — every turn in flight waited. Nearly
all of those objects live as long as the process, so after start-up they are moved out of the collector's sight
(`gc.freeze`, as CPython's documentation suggests for long-running servers): later collections walk only what
was made since.
"""

from __future__ import annotations

import gc


def freeze_start_up_heap() -> None:
    """Call once a process has loaded what it keeps for life; a second call adds what was loaded since."""
    gc.collect()
    gc.freeze()
