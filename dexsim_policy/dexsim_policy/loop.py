"""The policy node's inference loop, ROS-free: inference runs on its own thread as soon as a newer
input set exists, never on the executor threads that receive images, and never behind a queue.

:class:`LatestSlot` is a bounded queue of ONE: a producer (the subscription callbacks) puts the
newest synchronized input set; a set not yet taken is replaced, and counted as dropped, so a slow
inference skips stale frames instead of working through a backlog. :class:`InferenceLoop` is the
consumer thread: it takes the newest set and calls ``work(item)`` (the node's inference + command),
so the goal goes out the moment inference ends. :class:`IntervalStats` reports latency and the
jitter of the intervals between sends (the figure a controller on a real arm feels).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from typing import Any, Callable

import numpy as np

log = logging.getLogger(__name__)

STATS_WINDOW = 200        # samples kept for the percentiles
MS_PER_S = 1e3
JOIN_TIMEOUT_S = 5.0


class LatestSlot:
    """A thread-safe single-item slot: :meth:`put` replaces, :meth:`take` blocks until an item."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._item: Any = None
        self._full = False
        self._closed = False
        self.dropped = 0          # items replaced before anyone took them

    def put(self, item: Any) -> bool:
        """Store ``item``; True when it replaced one nobody took (that one counts as dropped)."""
        with self._cond:
            if self._closed:
                return False
            replaced = self._full
            self.dropped += int(replaced)
            self._item, self._full = item, True
            self._cond.notify()
            return replaced

    def take(self, timeout: float | None = None) -> Any:
        """The newest item (and empty the slot); None on timeout or once closed."""
        with self._cond:
            if not self._cond.wait_for(lambda: self._full or self._closed, timeout):
                return None
            if not self._full:
                return None
            item, self._item, self._full = self._item, None, False
            return item

    def clear(self) -> None:
        with self._cond:
            self._item, self._full = None, False

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._item, self._full = None, False
            self._cond.notify_all()

    @property
    def closed(self) -> bool:
        return self._closed


class InferenceLoop:
    """A daemon thread running ``work(item)`` for the newest item of its :class:`LatestSlot`.
    Exceptions from ``work`` are logged and counted (``errors``); the loop keeps running."""

    def __init__(self, work: Callable[[Any], None], name: str = "dexsim_inference") -> None:
        self.slot = LatestSlot()
        self._work = work
        self.errors = 0
        self.processed = 0
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> "InferenceLoop":
        self._thread.start()
        return self

    def submit(self, item: Any) -> bool:
        """Hand ``item`` to the loop; True when an unprocessed older item was dropped for it."""
        return self.slot.put(item)

    @property
    def dropped(self) -> int:
        return self.slot.dropped

    def _run(self) -> None:
        while not self.slot.closed:
            item = self.slot.take()
            if item is None:
                continue
            try:
                self._work(item)
            except Exception:    # noqa: BLE001 - a failing inference must not kill the control loop
                self.errors += 1
                log.exception("inference loop: work failed")
            self.processed += 1

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> bool:
        """Close the slot and join the thread (after the item in progress); True when it ended."""
        self.slot.close()
        if self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout)
        return not self._thread.is_alive()


class IntervalStats:
    """Latency samples (ms) and send times (s) over a sliding window; :meth:`summary` gives
    ``latency_p50_ms``, ``latency_p99_ms``, ``latency_max_ms`` and, from the intervals between
    consecutive sends, ``interval_mean_ms``, ``jitter_ms`` (standard deviation of the intervals)
    and ``interval_p99_ms``."""

    def __init__(self, window: int = STATS_WINDOW, clock: Callable[[], float] = time.monotonic) -> None:
        self.latencies: deque[float] = deque(maxlen=window)
        self.sends: deque[float] = deque(maxlen=window)
        self._clock = clock
        self._lock = threading.Lock()

    def record(self, latency_ms: float, sent_at: float | None = None) -> None:
        with self._lock:
            self.latencies.append(float(latency_ms))
            self.sends.append(self._clock() if sent_at is None else float(sent_at))

    def summary(self) -> dict[str, float]:
        with self._lock:
            lat = np.asarray(self.latencies, dtype=np.float64)
            sends = np.asarray(self.sends, dtype=np.float64)
        return {**latency_summary(lat), **interval_summary(np.diff(sends) * MS_PER_S if len(sends) > 1 else [])}


def latency_summary(latencies_ms) -> dict[str, float]:
    lat = np.asarray(latencies_ms, dtype=np.float64)
    if lat.size == 0:
        return {"latency_p50_ms": math.nan, "latency_p99_ms": math.nan, "latency_max_ms": math.nan}
    return {"latency_p50_ms": float(np.percentile(lat, 50)), "latency_p99_ms": float(np.percentile(lat, 99)),
            "latency_max_ms": float(lat.max())}


def interval_summary(intervals_ms) -> dict[str, float]:
    iv = np.asarray(intervals_ms, dtype=np.float64)
    if iv.size == 0:
        return {"interval_mean_ms": math.nan, "jitter_ms": math.nan, "interval_p99_ms": math.nan}
    return {"interval_mean_ms": float(iv.mean()), "jitter_ms": float(iv.std()),
            "interval_p99_ms": float(np.percentile(iv, 99))}


__all__ = ["InferenceLoop", "IntervalStats", "LatestSlot", "interval_summary", "latency_summary"]
