"""The policy node's inference loop (ROS-free): newest-only hand-over, stale items dropped not
queued, work off the producer's thread, failures counted without stopping the loop. Waits are on
conditions (events) with generous timeouts, never on fixed sleeps."""
from __future__ import annotations

import math
import threading

import numpy as np
import pytest

from dexsim_policy.loop import InferenceLoop, IntervalStats, LatestSlot, interval_summary, latency_summary

WAIT_S = 30.0


def test_slot_keeps_only_the_newest_item_and_counts_the_dropped():
    slot = LatestSlot()
    assert slot.put(1) is False
    assert slot.put(2) is True
    assert slot.put(3) is True
    assert slot.dropped == 2
    assert slot.take(timeout=0) == 3
    assert slot.take(timeout=0) is None      # empty after a take
    slot.put(4)
    slot.clear()
    assert slot.take(timeout=0) is None
    slot.close()
    assert slot.put(5) is False and slot.take(timeout=0) is None


def test_take_blocks_until_an_item_arrives_from_another_thread():
    slot = LatestSlot()
    got = []
    started = threading.Event()

    def consumer():
        started.set()
        got.append(slot.take(timeout=WAIT_S))

    t = threading.Thread(target=consumer)
    t.start()
    assert started.wait(WAIT_S)
    slot.put("frame")
    t.join(WAIT_S)
    assert got == ["frame"]


def test_loop_runs_work_on_its_own_thread_and_skips_stale_items():
    """While one item is being worked on, three more arrive: only the newest is worked on next."""
    release = threading.Event()
    first_started = threading.Event()
    done = threading.Event()
    seen: list[tuple[int, str]] = []

    def work(item):
        seen.append((item, threading.current_thread().name))
        if item == 0:
            first_started.set()
            assert release.wait(WAIT_S)
        if item == 3:
            done.set()

    loop = InferenceLoop(work, name="test_inference").start()
    try:
        loop.submit(0)
        assert first_started.wait(WAIT_S)
        assert loop.submit(1) is False
        assert loop.submit(2) is True      # replaced 1, which nobody took
        assert loop.submit(3) is True
        release.set()
        assert done.wait(WAIT_S)
    finally:
        assert loop.stop()
    assert [i for i, _ in seen] == [0, 3]
    assert {name for _, name in seen} == {"test_inference"}
    assert loop.dropped == 2 and loop.processed == 2 and loop.errors == 0


def test_a_failing_work_item_is_counted_and_the_loop_keeps_running():
    done = threading.Event()

    def work(item):
        if item == "bad":
            raise RuntimeError("inference failed")
        done.set()

    loop = InferenceLoop(work).start()
    try:
        loop.submit("bad")
        # wait until the bad item was taken, then submit a good one
        deadline = threading.Event()
        for _ in range(int(WAIT_S * 100)):
            if loop.processed >= 1:
                break
            deadline.wait(0.01)
        loop.submit("good")
        assert done.wait(WAIT_S)
    finally:
        assert loop.stop()
    assert loop.errors == 1


def test_stop_ends_an_idle_loop():
    loop = InferenceLoop(lambda item: None).start()
    assert loop.stop()
    assert loop.stop()    # idempotent


def test_interval_stats_latency_and_jitter():
    clock = iter([0.0, 0.1, 0.2, 0.35, 0.4]).__next__
    stats = IntervalStats(clock=clock)
    for lat in (10.0, 12.0, 11.0, 30.0, 10.0):
        stats.record(lat)
    out = stats.summary()
    assert out["latency_p50_ms"] == pytest.approx(11.0)
    assert out["latency_max_ms"] == pytest.approx(30.0)
    intervals = np.array([100.0, 100.0, 150.0, 50.0])
    assert out["interval_mean_ms"] == pytest.approx(intervals.mean())
    assert out["jitter_ms"] == pytest.approx(intervals.std())
    assert out["interval_p99_ms"] == pytest.approx(np.percentile(intervals, 99))


def test_empty_summaries_are_nan():
    assert all(math.isnan(v) for v in latency_summary([]).values())
    assert all(math.isnan(v) for v in interval_summary([]).values())
    assert all(math.isnan(v) for v in IntervalStats().summary().values())
