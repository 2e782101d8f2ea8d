"""The Foxglove live view serves on 127.0.0.1 only and advertises the relayed topics."""
from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from dexsim_bringup import graph as g
from dexsim_bringup.viz import FoxgloveRelay, VizError

LOOPBACK_HEX = "0100007F"    # 127.0.0.1 as /proc/net/tcp writes it (little-endian)
TCP_LISTEN = "0A"
WS_KEY = "dGhlIHNhbXBsZSBub25jZQ=="


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listeners(port: int) -> list[str]:
    """Local addresses (hex) of LISTEN sockets on ``port``, IPv4 and IPv6."""
    out = []
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            addr, hexport = local.split(":")
            if state == TCP_LISTEN and int(hexport, 16) == port:
                out.append(addr)
    return out


def _ws_text_frames(sock):
    """Yield the text frames a WebSocket server sends (server frames are unmasked)."""
    buf = b""

    def need(n):
        nonlocal buf
        while len(buf) < n:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError("server closed the connection")
            buf += chunk
        data, buf = buf[:n], buf[n:]
        return data

    while True:
        b0, b1 = need(2)
        length = b1 & 0x7F
        if length == 126:
            length = int.from_bytes(need(2), "big")
        elif length == 127:
            length = int.from_bytes(need(8), "big")
        payload = need(length)
        if b0 & 0x0F == 1:
            yield payload.decode()


def test_relay_refuses_non_loopback_hosts():
    with pytest.raises(VizError, match="host: '0.0.0.0' is not a loopback address"):
        FoxgloveRelay("0.0.0.0")
    with pytest.raises(VizError, match="port: expected 0..65535"):
        FoxgloveRelay(port=70000)


def test_viz_is_optional_in_every_graph():
    assert "dexsim_viz" not in [n.name for n in g.sim_graph().nodes]            # headless by default
    viz = g.sim_graph(viz=True).node("dexsim_viz")
    assert viz.parameters["host"] == "127.0.0.1" and viz.module == "dexsim_bringup.nodes.viz_node"
    assert g.real_graph(viz=True).node("dexsim_viz").parameters["use_sim_time"] is False        # wall clock
    assert g.real_graph(driver="sim", viz=True).node("dexsim_viz").parameters["use_sim_time"] is True  # stand-in /clock


@pytest.mark.ros
def test_viz_node_serves_on_loopback_only_and_advertises_topics(ros):
    port = _free_port()
    viz = ros.spawn([sys.executable, "-m", "dexsim_bringup.nodes.viz_node", "--ros-args", "-p", f"port:={port}",
                     "-p", "topics:=['/joint_states', '/tf_static']"], "viz")
    ros.spawn([sys.executable, "-m", "dexsim_sim.nodes.sim_node", "--ros-args", "-p", "publish_images:=false",
               "-p", "real_time_factor:=0.0"], "sim")
    assert ros.wait_for(lambda: _listeners(port), 30), ros.peer_log(viz)
    assert _listeners(port) == [LOOPBACK_HEX]          # not 0.0.0.0, not any IPv6 address
    assert ros.wait_for(lambda: ros.peer_log(viz).count("following ") == 2, 30), ros.peer_log(viz)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall((f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n"
                      "Sec-WebSocket-Protocol: foxglove.sdk.v1, foxglove.websocket.v1\r\n\r\n").encode())
        header = b""
        while b"\r\n\r\n" not in header:
            header += sock.recv(1)
        assert header.startswith(b"HTTP/1.1 101"), header
        advertised = {}
        for text in _ws_text_frames(sock):
            msg = json.loads(text)
            if msg.get("op") == "advertise":
                advertised |= {c["topic"]: c for c in msg["channels"]}
            if {"/joint_states", "/tf_static"} <= set(advertised):
                break
    assert advertised["/joint_states"]["schemaName"] == "sensor_msgs/msg/JointState"
    assert advertised["/tf_static"]["encoding"] == "cdr"
