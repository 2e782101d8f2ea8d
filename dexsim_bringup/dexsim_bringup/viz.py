"""Live view without RViz: relay ROS messages to a Foxglove WebSocket server (Foxglove app / Studio).

Messages are relayed as they arrive on the wire (raw CDR with the ``ros2msg`` definition as the
schema), so Foxglove decodes images, joint states and TF itself and nothing is converted here.
The server binds the loopback interface only: a non-loopback host is refused (:class:`VizError`);
view it remotely through an SSH tunnel (``ssh -L 8765:127.0.0.1:8765 robot-pc``).
ROS-free; the node (nodes/viz_node.py) feeds it.
"""
from __future__ import annotations

from .recording import build_typestore

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
SERVER_NAME = "dexsim"


class VizError(RuntimeError):
    """The live view cannot start (foxglove-sdk missing, a non-loopback host, port in use)."""


class FoxgloveRelay:
    """A Foxglove WebSocket server on a loopback address with one channel per relayed topic."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8765) -> None:
        if host not in LOOPBACK_HOSTS:
            raise VizError(f"host: {host!r} is not a loopback address ({', '.join(LOOPBACK_HOSTS)}); "
                           "the live view never listens on other interfaces (use an SSH tunnel)")
        if not 0 <= port <= 65535:
            raise VizError(f"port: expected 0..65535, got {port}")
        try:
            import foxglove
        except ImportError as exc:
            raise VizError("the live view needs foxglove-sdk: pip install foxglove-sdk==0.30.3") from exc
        self._foxglove = foxglove
        self._context = foxglove.Context()
        try:
            self.server = foxglove.start_server(name=SERVER_NAME, host=host, port=port, context=self._context)
        except RuntimeError as exc:
            raise VizError(f"cannot serve on {host}:{port}: {exc}") from exc
        self.channels: dict[str, object] = {}

    @property
    def port(self) -> int:
        return int(self.server.port)

    def add_topic(self, topic: str, msgtype: str) -> None:
        store = build_typestore([msgtype])
        msgdef, _ = store.generate_msgdef(msgtype, ros_version=2)
        schema = self._foxglove.Schema(name=msgtype, encoding="ros2msg", data=msgdef.encode())
        self.channels[topic] = self._foxglove.Channel(topic, schema=schema, message_encoding="cdr",
                                                      context=self._context)

    def relay(self, topic: str, data: bytes, log_time_ns: int) -> None:
        self.channels[topic].log(data, log_time=log_time_ns)

    def close(self) -> None:
        self.server.stop()
