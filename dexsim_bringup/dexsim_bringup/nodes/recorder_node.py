"""Recorder node: raw CDR of chosen topics into an MCAP rosbag2 (what `ros2 bag record -s mcap` does).

Parameters (``ros__parameters``):
- ``output`` (str): bag directory to create; must not exist.
- ``topics`` (str[]): topics to record. Each is subscribed once a publisher appears.
- ``types`` (str[]): optional, ``"topic=pkg/msg/Type"`` entries; other topics' types are discovered.
- ``storage`` (str): ``mcap`` (the only storage written).
- ``use_sim_time``: stamps are the node clock's receive time (sim time under /clock).

The subscriptions adapt to the publishers' QoS (:mod:`.raw_topics`) and the offered profiles go
into the bag metadata. SIGINT/SIGTERM close the bag (metadata + MCAP summary), so nothing
received is lost.
"""
from __future__ import annotations

import sys

from rclpy.node import Node

from dexsim_bringup.nodes.raw_topics import RawTopicFollower, parse_types
from dexsim_bringup.recording import BagRecorder, RecordingError
from dexsim_sim.ros.node_main import run_node
from dexsim_sim.ros.params import NodeParams, Param, declare

STORAGES = ("mcap",)


PARAMS = NodeParams("recorder_node", (
    Param("output", "", "bag directory to write (must not exist)"),
    Param("topics", [""], "topics to record"),
    Param("types", [""], "topic=pkg/msg/Type for topics whose type is not yet on the graph"),
    Param("storage", "mcap", "bag storage", choices=STORAGES),
))


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("dexsim_recorder")
        p = declare(self, PARAMS)
        output, storage = p["output"], p["storage"]
        topics = [t for t in p["topics"] if t]
        types = parse_types([t for t in p["types"] if t])
        if not output or not topics:
            raise RecordingError(f"output and topics must be set (output={output!r}, topics={topics})")
        self.bag = BagRecorder(output)
        self.follower = RawTopicFollower(self, topics, types, self.bag.add_topic, self._on_message)
        self.get_logger().info(f"recording {len(topics)} topics to {output}")

    def _on_message(self, topic: str, data: bytes) -> None:
        if not self.bag.closed:
            self.bag.write(topic, self.get_clock().now().nanoseconds, data)

    def close(self) -> None:
        self.bag.close()
        summary = ", ".join(f"{t}: {n}" for t, n in self.bag.counts.items())
        # The context is shut down already after a signal (no /rosout): a plain status line.
        print(f"[{self.get_name()}] bag {self.bag.path} closed ({summary or 'no messages'})", file=sys.stderr)


def main(args: list[str] | None = None) -> int:
    return run_node(RecorderNode, name="recorder_node", config_errors=(RecordingError,),
                    close=lambda node: node.close(), args=args)


if __name__ == "__main__":
    sys.exit(main())
