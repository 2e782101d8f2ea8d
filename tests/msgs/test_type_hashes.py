"""The pip-mode builds of upstream interfaces carry upstream's RIHS01 type hashes."""
from __future__ import annotations

import pytest

from dexsim_bringup.interfaces import DEXSIM_INTERFACES, type_hash

# Published upstream hashes (ROS 2 Kilted), written out here independently of the code under test.
UPSTREAM = {
    ("tf2_msgs", "msg", "TFMessage"): "RIHS01_e369d0f05a23ae52508854b66f6aa0437f3449d652e8cbf22d5abe85d020f087",
    ("control_msgs", "action", "FollowJointTrajectory"): "RIHS01_ff29901b2693f5deb847e96084a1c2cdb26e70b7c847be21859b70a55fb29cf0",
}


@pytest.mark.parametrize("iface", sorted(UPSTREAM), ids=lambda k: "/".join(k))
def test_upstream_hash(iface):
    got = type_hash(*iface)
    assert got.type_name == "/".join(iface)
    assert got.hash == UPSTREAM[iface], f"{got.type_name}: built {got.hash} from {got.source}"


@pytest.mark.parametrize("iface", DEXSIM_INTERFACES, ids=lambda k: "/".join(k))
def test_every_interface_imports_and_has_a_hash(iface):
    pkg, kind, name = iface
    module = __import__(f"{pkg}.{kind}", fromlist=[name])
    assert hasattr(module, name)
    got = type_hash(pkg, kind, name)
    assert got.hash.startswith("RIHS01_") and len(got.hash) == len("RIHS01_") + 64


def test_gripper_command_fields_match_upstream():
    from control_msgs.action import GripperCommand

    assert list(GripperCommand.Goal.get_fields_and_field_types()) == ["command"]
    assert GripperCommand.Goal().command.get_fields_and_field_types() == {"position": "double", "max_effort": "double"}
    assert GripperCommand.Result.get_fields_and_field_types() == {
        "position": "double", "effort": "double", "stalled": "boolean", "reached_goal": "boolean"}
