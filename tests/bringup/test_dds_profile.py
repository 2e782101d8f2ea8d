"""The shipped Fast DDS profile keeps ROS traffic on loopback, and DexSim refuses profiles that do not."""
from __future__ import annotations

import os
import sys
import textwrap
import time

import pytest

from dexsim_bringup.dds import DDSProfileError, check_profile, loopback_env, loopback_profile


def test_shipped_profile_is_loopback_only():
    check = check_profile(loopback_profile())
    assert check.loopback_only, check.reason


def test_profile_with_builtin_transports_is_rejected(tmp_path):
    bad = tmp_path / "multicast.xml"
    bad.write_text(textwrap.dedent("""\
        <dds xmlns="http://www.eprosima.com"><profiles>
          <participant profile_name="p" is_default_profile="true"><rtps/></participant>
        </profiles></dds>"""))
    check = check_profile(bad)
    assert not check.loopback_only and "useBuiltinTransports" in check.reason
    with pytest.raises(DDSProfileError, match="not loopback-only"):
        loopback_env({"FASTDDS_DEFAULT_PROFILES_FILE": str(bad)})


def test_udp_transport_without_allowlist_is_rejected(tmp_path):
    text = loopback_profile().read_text().replace("<address>127.0.0.1</address>\n        </interfaceWhiteList>",
                                                  "</interfaceWhiteList>")
    (tmp_path / "p.xml").write_text(text.replace("<interfaceWhiteList>\n          </interfaceWhiteList>", ""))
    check = check_profile(tmp_path / "p.xml")
    assert not check.loopback_only and "allowlist" in check.reason


def test_missing_and_malformed_profiles_are_named(tmp_path):
    with pytest.raises(DDSProfileError, match="does not exist"):
        check_profile(tmp_path / "nope.xml")
    (tmp_path / "broken.xml").write_text("<dds><profiles>")
    with pytest.raises(DDSProfileError, match="not valid XML"):
        check_profile(tmp_path / "broken.xml")


def _udp_sockets_of(pid: int) -> list[str]:
    """Local addresses of the UDP sockets a process holds (from /proc, no external tools)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    addrs = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as fh:
            for line in fh.readlines()[1:]:
                cols = line.split()
                if cols[9] in inodes:
                    hexaddr = cols[1].split(":")[0]
                    if len(hexaddr) == 8:
                        addrs.append(".".join(str(int(hexaddr[i:i + 2], 16)) for i in (6, 4, 2, 0)))
                    else:
                        addrs.append("v6:" + hexaddr)
    return addrs


@pytest.mark.ros
def test_a_ros_process_binds_udp_only_on_loopback(ros):
    proc = ros.spawn([sys.executable, "-c", textwrap.dedent("""\
        import time, rclpy
        from std_msgs.msg import String
        rclpy.init(); n = rclpy.create_node('dexsim_socket_probe')
        p = n.create_publisher(String, '/dexsim_socket_probe', 10)
        t = time.time()
        while time.time() - t < 20:
            p.publish(String(data='x')); rclpy.spin_once(n, timeout_sec=0.1)
        """)], "socket_probe")
    assert ros.wait_for(lambda: len(ros.node.get_publishers_info_by_topic("/dexsim_socket_probe")) > 0, 15), \
        ros.peer_log(proc)
    time.sleep(0.3)
    addrs = _udp_sockets_of(proc.pid)
    assert addrs, "the ROS process holds no UDP socket"
    # Unicast sockets on 127.0.0.1; the discovery multicast group socket only receives
    # (its sends go out through the 127.0.0.1 interface of the allowlist).
    assert all(a == "127.0.0.1" or a.startswith("239.") for a in addrs), addrs
    assert "0.0.0.0" not in addrs
