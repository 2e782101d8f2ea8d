"""Viz node: relays stereo images, joint states and TF to a Foxglove WebSocket server on 127.0.0.1.

Parameters: ``host`` (loopback only), ``port``, ``topics`` (str[]), ``use_sim_time``.
Open ws://127.0.0.1:8765 in the Foxglove app. Not needed for headless runs.
"""
from __future__ import annotations

import sys

from rclpy.node import Node

from dexsim_bringup.nodes.raw_topics import RawTopicFollower
from dexsim_bringup.recording import RecordingError
from dexsim_bringup.viz import FoxgloveRelay, VizError
from dexsim_sim.ros.node_main import run_node
from dexsim_sim.ros.params import NodeParams, Param, declare


PARAMS = NodeParams("viz_node", (
    Param("host", "127.0.0.1", "address the Foxglove WebSocket server binds (loopback by default)"),
    Param("port", 8765, "its port (0 = any free port)", low=0, high=65535),
    Param("topics", [""], "topics relayed to Foxglove"),
))


class VizNode(Node):
    def __init__(self) -> None:
        super().__init__("dexsim_viz")
        p = declare(self, PARAMS)
        host, port = p["host"], p["port"]
        topics = [t for t in p["topics"] if t]
        self.relay = FoxgloveRelay(host, port)
        self.follower = RawTopicFollower(self, topics, {}, lambda t, ty, _q: self.relay.add_topic(t, ty),
                                         self._on_message)
        self.get_logger().info(f"Foxglove live view on ws://{host}:{self.relay.port} ({len(topics)} topics)")

    def _on_message(self, topic: str, data: bytes) -> None:
        self.relay.relay(topic, data, self.get_clock().now().nanoseconds)


def main(args: list[str] | None = None) -> int:
    return run_node(VizNode, name="viz_node", config_errors=(VizError, RecordingError),
                    close=lambda node: node.relay.close(), args=args)


if __name__ == "__main__":
    sys.exit(main())
