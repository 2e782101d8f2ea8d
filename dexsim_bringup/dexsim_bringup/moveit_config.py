"""MoveIt configuration of every robot, generated from the same robot description DexSim uses.

Per robot (``config/moveit/<robot>/``), what the MoveIt Setup Assistant would write, computed
instead of clicked:

- ``<robot>.srdf``: a planning group per arm (the chain base -> end effector), a gripper group per
  arm (its finger joints), the end effector, the ``home`` state, and the collision pairs to skip,
  found as the Setup Assistant finds them: links joined by a joint (``Adjacent``), pairs in
  collision in nearly every sampled configuration (``Always``), and pairs never in collision in
  ``SAMPLES`` seeded random configurations within the joint limits (``Never``; PyBullet on the URDF's
  collision geometry), except between two arms' links, which MoveIt always checks (random samples
  rarely bring two arms together, which is when the check matters);
- ``kinematics.yaml`` (KDL per arm group), ``joint_limits.yaml`` (the URDF velocities and the
  planning accelerations DexSim's own plans keep), ``ompl_planning.yaml`` (RRTConnect, as DexSim's
  planner);
- ``moveit_controllers.yaml``: MoveIt's simple controller manager pointed at the SAME action
  servers the sim node and the vendor drivers serve (``<prefix>/arm_controller/follow_joint_trajectory``;
  the gripper as a GripperCommand ``gripper_controller/gripper_cmd``, or for Interbotix the
  finger JointTrajectoryController, see ``dexsim_sim.control.gripper_interface``).

``python -m dexsim_bringup.moveit_config`` rewrites the shipped files; a test keeps them current.
``graph.moveit_graph`` / ``launch/moveit.launch.py`` start move_group + RViz's MotionPlanning with
them (full ROS install; MoveIt is not a pip package).
"""
from __future__ import annotations

import argparse
import itertools
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "config" / "moveit"   # the source tree (pip mode)
SAMPLES = 10000                # random configurations per robot for the "Never" pairs (the Setup Assistant's default)
SAMPLE_SEED = 0
ALWAYS_FRACTION = 0.95         # in collision in at least this share of samples -> "Always"
PLANNING_ACCELERATION = 7.0    # rad/s^2 (dexsim_sim.skills.keypose.PLAN_ACCELERATION)
KINEMATICS = {"kinematics_solver": "kdl_kinematics_plugin/KDLKinematicsPlugin",
              "kinematics_solver_search_resolution": 0.005, "kinematics_solver_timeout": 0.05}


def _group(arm, robot) -> str:
    return f"{arm.name}_arm" if arm.name else "arm"


def _gripper_group(arm) -> str:
    return f"{arm.name}_gripper" if arm.name else "gripper"


class _Body:
    """The robot's URDF in a DIRECT PyBullet client: link names, joints, collision links."""

    def __init__(self, spec) -> None:
        import pybullet as p

        self.p = p
        self.client = p.connect(p.DIRECT)
        self.body = p.loadURDF(str(spec.urdf), useFixedBase=True, physicsClientId=self.client)
        n = p.getNumJoints(self.body, physicsClientId=self.client)
        info = [p.getJointInfo(self.body, j, physicsClientId=self.client) for j in range(n)]
        self.base = p.getBodyInfo(self.body, physicsClientId=self.client)[0].decode()
        self.links = {-1: self.base} | {j: info[j][12].decode() for j in range(n)}
        self.parent = {j: int(info[j][16]) for j in range(n)}
        self.joints = {info[j][1].decode(): j for j in range(n)}
        self.collision = [i for i in self.links if p.getCollisionShapeData(self.body, i, physicsClientId=self.client)]

    def set(self, values: dict[str, float]) -> None:
        for name, value in values.items():
            self.p.resetJointState(self.body, self.joints[name], value, physicsClientId=self.client)

    def colliding(self, a: int, b: int) -> bool:
        return bool(self.p.getClosestPoints(self.body, self.body, 0.0, a, b, physicsClientId=self.client))

    def close(self) -> None:
        self.p.disconnect(self.client)


def _samples(spec, count: int, seed: int) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    joints = list(spec.arm_joints) + list(spec.gripper_joints)
    lo = np.array([spec.limits[j].lower for j in joints])
    hi = np.array([spec.limits[j].upper for j in joints])
    return [dict(zip(joints, rng.uniform(lo, hi))) for _ in range(count)]


def _arm_of(spec):
    """Link name -> the arm it belongs to (by the arm's name prefix) or None; one arm: always None."""
    if len(spec.arms) < 2:
        return lambda link: None
    return lambda link: next((a.name for a in spec.arms if link.startswith(a.name + "_")), None)


def collision_pairs(spec, samples: int = SAMPLES, seed: int = SAMPLE_SEED) -> list[tuple[str, str, str]]:
    """(link1, link2, reason) of the pairs MoveIt need not check (see the module doc), sorted."""
    body = _Body(spec)
    try:
        adjacent = {frozenset((child, parent)) for child, parent in body.parent.items()}
        pairs = list(itertools.combinations(sorted(body.collision), 2))
        hits = dict.fromkeys(pairs, 0)
        for values in _samples(spec, samples, seed):
            body.set(values)
            for a, b in pairs:
                if frozenset((a, b)) not in adjacent and body.colliding(a, b):
                    hits[(a, b)] += 1
        out = []
        arm_of = _arm_of(spec)
        for a, b in pairs:
            names = tuple(sorted((body.links[a], body.links[b])))
            if frozenset((a, b)) not in adjacent and len({arm_of(n) for n in names} - {None}) > 1:
                continue            # two arms' links: rare poses meet, never skip the check
            if frozenset((a, b)) in adjacent:
                out.append((*names, "Adjacent"))
            elif hits[(a, b)] >= ALWAYS_FRACTION * samples:
                out.append((*names, "Always"))
            elif hits[(a, b)] == 0:
                out.append((*names, "Never"))
        return sorted(out)
    finally:
        body.close()


def srdf(spec, pairs: list[tuple[str, str, str]]) -> str:
    """The SRDF document of ``spec`` with the disabled collision ``pairs``."""
    root = ET.Element("robot", name=spec.name)
    base = _Body(spec)
    base_link = base.base
    base.close()
    for arm in spec.arms:
        group = ET.SubElement(root, "group", name=_group(arm, spec))
        ET.SubElement(group, "chain", base_link=base_link, tip_link=arm.ee_link)
        grip = ET.SubElement(root, "group", name=_gripper_group(arm))
        for joint in arm.gripper_joints:
            ET.SubElement(grip, "joint", name=joint)
    home = dict(zip(spec.arm_joints, spec.home))
    for arm in spec.arms:
        state = ET.SubElement(root, "group_state", name="home", group=_group(arm, spec))
        for joint in arm.joints:
            ET.SubElement(state, "joint", name=joint, value=f"{home[joint]:.6g}")
    for arm in spec.arms:
        ET.SubElement(root, "end_effector", name=f"{arm.name}_hand" if arm.name else "hand", parent_link=arm.ee_link,
                      group=_gripper_group(arm), parent_group=_group(arm, spec))
    for a, b, reason in pairs:
        ET.SubElement(root, "disable_collisions", link1=a, link2=b, reason=reason)
    ET.indent(root)
    return ('<?xml version="1.0"?>\n<!-- Generated by dexsim_bringup.moveit_config from '
            f'{spec.urdf.name}; do not edit. -->\n' + ET.tostring(root, encoding="unicode") + "\n")


def controllers(spec) -> dict:
    """moveit_controllers.yaml: the simple controller manager on DexSim's / the vendor's actions."""
    from dexsim_sim.control.gripper_interface import FOLLOW_JOINT_TRAJECTORY, gripper_interface

    grip = gripper_interface(spec.name)
    names, entries = [], {}
    for arm in spec.arms:
        prefix = arm.controller_prefix.strip("/")
        arm_name = f"{prefix}/arm_controller" if prefix else "arm_controller"
        grip_name = f"{prefix}/gripper_controller" if prefix else "gripper_controller"
        names += [arm_name, grip_name]
        entries[arm_name] = {"type": "FollowJointTrajectory", "action_ns": "follow_joint_trajectory",
                             "default": True, "joints": list(arm.joints)}
        if grip.kind == FOLLOW_JOINT_TRAJECTORY:
            entries[grip_name] = {"type": "FollowJointTrajectory", "action_ns": grip.action.rsplit("/", 1)[-1],
                                  "default": True, "joints": [grip.for_arm(arm.gripper_joints).joint]}
        else:
            entries[grip_name] = {"type": "GripperCommand", "action_ns": grip.action.rsplit("/", 1)[-1],
                                  "default": True, "joints": list(arm.gripper_joints)}
    return {"moveit_controller_manager": "moveit_simple_controller_manager/MoveItSimpleControllerManager",
            "moveit_simple_controller_manager": {"controller_names": names, **entries}}


def joint_limits(spec) -> dict:
    limits = {}
    for joint in list(spec.arm_joints) + list(spec.gripper_joints):
        lim = spec.limits[joint]
        limits[joint] = {"has_velocity_limits": True, "max_velocity": float(lim.velocity),
                         "has_acceleration_limits": True, "max_acceleration": PLANNING_ACCELERATION}
    return {"default_velocity_scaling_factor": 0.5, "default_acceleration_scaling_factor": 0.5,
            "joint_limits": limits}


def files(spec, samples: int = SAMPLES) -> dict[str, str]:
    """File name -> text of the robot's MoveIt configuration."""
    dump = lambda d: "# Generated by dexsim_bringup.moveit_config; do not edit.\n" + yaml.safe_dump(d, sort_keys=False)  # noqa: E731
    groups = [_group(a, spec) for a in spec.arms]
    ompl = {"planning_plugins": ["ompl_interface/OMPLPlanner"],
            "request_adapters": ["default_planning_request_adapters/ResolveConstraintFrames",
                                 "default_planning_request_adapters/ValidateWorkspaceBounds",
                                 "default_planning_request_adapters/CheckStartStateBounds",
                                 "default_planning_request_adapters/CheckStartStateCollision"],
            "response_adapters": ["default_planning_response_adapters/AddTimeOptimalParameterization",
                                  "default_planning_response_adapters/ValidateSolution"],
            "planner_configs": {"RRTConnectkConfigDefault": {"type": "geometric::RRTConnect", "range": 0.0}},
            **{g: {"default_planner_config": "RRTConnectkConfigDefault",
                   "planner_configs": ["RRTConnectkConfigDefault"]} for g in groups}}
    return {f"{spec.name}.srdf": srdf(spec, collision_pairs(spec, samples)),
            "kinematics.yaml": dump({g: dict(KINEMATICS) for g in groups}),
            "joint_limits.yaml": dump(joint_limits(spec)),
            "ompl_planning.yaml": dump(ompl),
            "moveit_controllers.yaml": dump(controllers(spec))}


def move_group_parameters(robot: str, config_dir: Path = CONFIG_DIR) -> dict:
    """move_group's parameters from the shipped files (what moveit.launch.py hands it)."""
    from dexsim_sim.robots.registry import get_robot

    spec = get_robot(robot)
    folder = Path(config_dir) / robot
    if not folder.is_dir():                       # a colcon install: the files are in the package share
        from ament_index_python.packages import get_package_share_directory

        folder = Path(get_package_share_directory("dexsim_bringup")) / "config" / "moveit" / robot
    load = lambda name: yaml.safe_load((folder / name).read_text())   # noqa: E731
    return {"robot_description": spec.urdf.read_text(),
            "robot_description_semantic": (folder / f"{robot}.srdf").read_text(),
            "robot_description_kinematics": load("kinematics.yaml"),
            "robot_description_planning": load("joint_limits.yaml"),
            "planning_pipelines": ["ompl"], "ompl": load("ompl_planning.yaml"),
            **load("moveit_controllers.yaml"),
            "trajectory_execution.allowed_execution_duration_scaling": 2.0,
            "publish_robot_description_semantic": True}


def write(robot: str, out_dir: Path = CONFIG_DIR) -> Path:
    from dexsim_sim.robots.registry import get_robot

    folder = Path(out_dir) / robot
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files(get_robot(robot)).items():
        (folder / name).write_text(text)
    return folder


def main(argv: list[str] | None = None) -> int:
    from .graph import ROBOTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(CONFIG_DIR), help=f"output folder (default {CONFIG_DIR})")
    parser.add_argument("--robot", action="append", help="robot (repeatable; default: all)")
    args = parser.parse_args(argv)
    for robot in args.robot or ROBOTS:
        print(f"moveit config: {write(robot, Path(args.out))}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
