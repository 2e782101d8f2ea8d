"""A small approximate-time synchronizer (message_filters is not available in pip mode): plain
Python, stamps as float seconds, thread-safe.

Each stream keeps its last ``depth`` items. :meth:`ApproximateSync.latest` returns the newest set
in which every stream has an item within ``tolerance_s`` of a pivot item of the first stream
(newest pivot first; for the other streams the item nearest in time).
"""
from __future__ import annotations

import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Sequence

from .errors import PolicyConfigError


@dataclass(frozen=True)
class SyncedSet:
    stamp: float                        # s, the pivot's stamp
    items: dict[str, tuple[float, Any]]  # stream -> (stamp s, item)

    @property
    def oldest_stamp(self) -> float:
        return min(s for s, _ in self.items.values())


class ApproximateSync:
    def __init__(self, streams: Sequence[str], tolerance_s: float, depth: int = 10) -> None:
        if len(streams) < 1 or len(set(streams)) != len(streams):
            raise PolicyConfigError(f"ApproximateSync.streams={list(streams)}: expected distinct names")
        if not (math.isfinite(tolerance_s) and tolerance_s >= 0):
            raise PolicyConfigError(f"ApproximateSync.tolerance_s={tolerance_s}: expected >= 0")
        if depth < 1:
            raise PolicyConfigError(f"ApproximateSync.depth={depth}: expected >= 1")
        self.streams = tuple(streams)
        self.tolerance_s = float(tolerance_s)
        self._queues: dict[str, deque[tuple[float, Any]]] = {s: deque(maxlen=depth) for s in self.streams}
        self._lock = threading.Lock()

    def add(self, stream: str, stamp_s: float, item: Any) -> None:
        if stream not in self._queues:
            raise PolicyConfigError(f"ApproximateSync: unknown stream {stream!r} (streams: {self.streams})")
        with self._lock:
            self._queues[stream].append((float(stamp_s), item))

    def clear(self) -> None:
        with self._lock:
            for q in self._queues.values():
                q.clear()

    def newest_stamps(self) -> dict[str, float | None]:
        """Newest stamp per stream (None where nothing arrived)."""
        with self._lock:
            return {s: (max(t for t, _ in q) if q else None) for s, q in self._queues.items()}

    def latest(self) -> SyncedSet | None:
        with self._lock:
            queues = {s: list(q) for s, q in self._queues.items()}
        pivot_name, *others = self.streams
        for pivot_stamp, pivot_item in sorted(queues[pivot_name], key=lambda x: -x[0]):
            items = {pivot_name: (pivot_stamp, pivot_item)}
            for name in others:
                if not queues[name]:
                    return None
                stamp, item = min(queues[name], key=lambda x: abs(x[0] - pivot_stamp))
                if abs(stamp - pivot_stamp) > self.tolerance_s:
                    break
                items[name] = (stamp, item)
            else:
                return SyncedSet(pivot_stamp, items)
        return None
