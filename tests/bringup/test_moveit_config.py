"""The generated MoveIt configuration: the shipped files are current, parse, name the URDF's
links and joints, the collision pairs they skip never collide at freshly sampled poses, and the
controllers they command are the action servers the sim node and the vendor drivers serve."""
from __future__ import annotations

import sys
import xml.etree.ElementTree as ET

import pytest
import yaml

from dexsim_bringup import graph as g
from dexsim_bringup import moveit_config as mc
from dexsim_bringup.launch_support import MissingPackageError, require_packages
from dexsim_sim.control.gripper_interface import gripper_interface
from dexsim_sim.robots.registry import get_robot

FRESH_SAMPLES, FRESH_SEED = 1000, 12345   # not the generation's seed


def test_shipped_files_are_current():
    spec = get_robot("wx250s")                        # the whole set, SRDF sampling included
    for name, text in mc.files(spec).items():
        assert (mc.CONFIG_DIR / "wx250s" / name).read_text() == text, f"regenerate: python -m dexsim_bringup.moveit_config ({name})"
    for robot in g.ROBOTS:                            # the cheap files of every robot
        folder = mc.CONFIG_DIR / robot
        spec = get_robot(robot)
        assert yaml.safe_load((folder / "moveit_controllers.yaml").read_text()) == mc.controllers(spec)
        assert yaml.safe_load((folder / "joint_limits.yaml").read_text()) == mc.joint_limits(spec)


@pytest.mark.parametrize("robot", g.ROBOTS)
def test_srdf_names_the_urdf_and_its_skipped_pairs_never_collide(robot):
    spec = get_robot(robot)
    root = ET.parse(mc.CONFIG_DIR / robot / f"{robot}.srdf").getroot()
    body = mc._Body(spec)
    try:
        links = set(body.links.values())
        groups = {e.get("name"): e for e in root.iter("group")}
        assert len(groups) == 2 * len(spec.arms)
        for arm in spec.arms:
            chain = groups[mc._group(arm, spec)].find("chain")
            assert chain.get("base_link") in links and chain.get("tip_link") == arm.ee_link
            assert [j.get("name") for j in groups[mc._gripper_group(arm)].iter("joint")] == list(arm.gripper_joints)
        kinematics = yaml.safe_load((mc.CONFIG_DIR / robot / "kinematics.yaml").read_text())
        assert set(kinematics) == {mc._group(a, spec) for a in spec.arms}
        pairs = [(e.get("link1"), e.get("link2"), e.get("reason")) for e in root.iter("disable_collisions")]
        assert pairs and all(a in links and b in links for a, b, _ in pairs)
        assert sum(r == "Adjacent" for *_, r in pairs) >= len(spec.arm_joints) - 1
        index = {name: i for i, name in body.links.items()}
        never = [(index[a], index[b]) for a, b, r in pairs if r == "Never"]
        arm_of = mc._arm_of(spec)
        assert not any(len({arm_of(a), arm_of(b)} - {None}) > 1 for a, b, r in pairs if r != "Adjacent")
        hits = []
        for values in mc._samples(spec, FRESH_SAMPLES, FRESH_SEED):
            body.set(values)
            hits += [(body.links[a], body.links[b]) for a, b in never if body.colliding(a, b)]
        assert not hits, sorted(set(hits))
    finally:
        body.close()


@pytest.mark.parametrize("robot", g.ROBOTS)
def test_moveit_commands_the_controllers_the_graph_serves(robot, monkeypatch):
    spec = get_robot(robot)
    manager = mc.controllers(spec)["moveit_simple_controller_manager"]
    served = set()
    grip = gripper_interface(robot)
    for arm, prefix in zip(spec.arms, g.controller_prefixes(robot)):
        served |= {prefix + g.ARM_ACTION, prefix + grip.action}
    assert {f"/{name}/{manager[name]['action_ns']}" for name in manager["controller_names"]} == served
    graph = g.moveit_graph(robot)
    params = graph.external[0].parameters
    assert params["robot_description_semantic"] == (mc.CONFIG_DIR / robot / f"{robot}.srdf").read_text()
    assert params["moveit_simple_controller_manager"] == manager
    monkeypatch.setenv("AMENT_PREFIX_PATH", sys.prefix)    # ament finds this venv's packages, not MoveIt
    with pytest.raises(MissingPackageError, match="moveit_ros_move_group"):
        require_packages(graph)                          # no MoveIt here: named, not a crash
