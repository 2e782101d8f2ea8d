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


class VizNode(Node):
    def __init__(self) -> None:
        super().__init__("dexsim_viz")
        host = self.declare_parameter("host", "127.0.0.1").value
        port = self.declare_parameter("port", 8765).value
        topics = [t for t in self.declare_parameter("topics", [""]).value if t]
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
