"""Raw (CDR bytes) subscriptions that follow the publishers: shared by the recorder and viz nodes.

Each wanted topic is subscribed once a publisher appears, with its type discovered (or given)
and a QoS that matches every publisher the way rosbag2 adapts: best effort if any publisher is,
transient local if all are (latched /tf_static and /robot_description arrive).
"""
from __future__ import annotations

import importlib
from collections.abc import Callable

from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy

from dexsim_bringup.recording import RecordingError, TopicQos

DISCOVERY_PERIOD_S = 0.2
MIN_DEPTH = 10


def message_class(msgtype: str):
    """The Python class of 'pkg/msg/Type'."""
    package, kind, name = msgtype.split("/")
    try:
        return getattr(importlib.import_module(f"{package}.{kind}"), name)
    except (ImportError, AttributeError) as exc:
        raise RecordingError(f"type {msgtype}: no Python message class ({exc})") from exc


def parse_types(entries: list[str]) -> dict[str, str]:
    """``["topic=pkg/msg/Type", ...]`` -> {topic: type}."""
    out = {}
    for entry in entries:
        topic, sep, msgtype = entry.partition("=")
        if not sep or msgtype.count("/") != 2:
            raise RecordingError(f"types: expected 'topic=pkg/msg/Type', got {entry!r}")
        out[topic] = msgtype
    return out


class RawTopicFollower:
    """Subscribes ``node`` to ``topics`` as their publishers appear.

    ``on_new(topic, msgtype, offered_qos)`` runs once per topic before its first message;
    ``on_message(topic, data)`` gets the raw CDR bytes.
    """

    def __init__(self, node: Node, topics: list[str], given_types: dict[str, str],
                 on_new: Callable[[str, str, list[TopicQos]], None], on_message: Callable[[str, bytes], None]) -> None:
        self.node = node
        self.wanted = list(topics)
        self.given_types = dict(given_types)
        self.on_new, self.on_message = on_new, on_message
        self.subscriptions: dict[str, object] = {}
        self._timer = node.create_timer(DISCOVERY_PERIOD_S, self._discover)

    def _discover(self) -> None:
        graph_types = dict(self.node.get_topic_names_and_types())
        for topic in self.wanted:
            if topic in self.subscriptions:
                continue
            publishers = self.node.get_publishers_info_by_topic(topic)
            msgtype = self.given_types.get(topic) or (graph_types.get(topic) or [None])[0]
            if publishers and msgtype:
                self._subscribe(topic, msgtype, publishers)
        if len(self.subscriptions) == len(self.wanted):
            self._timer.cancel()

    def _subscribe(self, topic: str, msgtype: str, publishers) -> None:
        offered = [TopicQos(
            reliability="best_effort" if p.qos_profile.reliability == ReliabilityPolicy.BEST_EFFORT else "reliable",
            durability="transient_local" if p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL else "volatile",
            depth=p.qos_profile.depth) for p in publishers]
        qos = QoSProfile(
            depth=max([MIN_DEPTH] + [q.depth for q in offered]),
            reliability=(ReliabilityPolicy.BEST_EFFORT if any(q.reliability == "best_effort" for q in offered)
                         else ReliabilityPolicy.RELIABLE),
            durability=(DurabilityPolicy.TRANSIENT_LOCAL if all(q.durability == "transient_local" for q in offered)
                        else DurabilityPolicy.VOLATILE))
        self.on_new(topic, msgtype, offered)
        self.subscriptions[topic] = self.node.create_subscription(
            message_class(msgtype), topic, lambda data, t=topic: self.on_message(t, data), qos, raw=True)
        self.node.get_logger().info(f"following {topic} [{msgtype}]")
