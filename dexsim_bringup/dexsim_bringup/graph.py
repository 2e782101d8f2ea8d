"""THE description of DexSim's node graphs: which nodes run, with which parameters and remaps.

Both front ends read it, so they cannot drift apart:
- the ROS 2 launch files (`launch/*.launch.py`) turn each :class:`NodeSpec` into a
  ``launch_ros.actions.Node`` (package + executable);
- pip mode (`dexsim up ...`, :mod:`dexsim_bringup.launcher`) starts each one as
  ``python -m <module> --ros-args --params-file ...``.

Nodes that exist only on a full ROS install (robot_state_publisher, rviz2, rosbag2, vendor
drivers) are :class:`ExternalNode` entries: launch files start them, pip mode lists what it
skips and why (the sim node itself publishes /robot_description and the TF the
robot_state_publisher would).
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

ROBOTS = ("sr3", "aubo_i5", "wx250s", "wx250s_bimanual")
TASKS = ("grasp", "open_box", "rearrange")
DEFAULT_TASK = {"sr3": "grasp", "aubo_i5": "open_box", "wx250s": "grasp", "wx250s_bimanual": "rearrange"}
CAMERAS = ("realsense", "zed")

# Stereo topics of DexSim (what the policy node subscribes to, what the sim publishes).
STEREO_TOPICS = {
    "left_image": "/stereo/left/image_rect",
    "left_info": "/stereo/left/camera_info",
    "right_image": "/stereo/right/image_rect",
    "right_info": "/stereo/right/camera_info",
    "depth": "/stereo/depth",
}

# Topics the recorder writes by default (bags hold everything needed to replay or re-train).
RECORD_TOPICS = (
    "/joint_states", "/tf", "/tf_static", "/robot_description", "/clock",
    STEREO_TOPICS["left_image"], STEREO_TOPICS["left_info"],
    STEREO_TOPICS["right_image"], STEREO_TOPICS["right_info"], STEREO_TOPICS["depth"],
)


class GraphError(ValueError):
    """A bringup argument that names no valid robot, task, camera or file."""


@dataclass(frozen=True)
class NodeSpec:
    """One DexSim node: the same fields a launch_ros Node takes, plus its pip-mode module."""
    name: str
    package: str
    executable: str
    module: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    namespace: str = ""


@dataclass(frozen=True)
class ExternalNode:
    """A node from the full ROS 2 distribution (launch files only)."""
    name: str
    package: str
    executable: str
    parameters: dict[str, Any] = field(default_factory=dict)
    remappings: tuple[tuple[str, str], ...] = ()
    arguments: tuple[str, ...] = ()
    why_not_in_pip_mode: str = ""


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[NodeSpec, ...]
    external: tuple[ExternalNode, ...] = ()

    def node(self, name: str) -> NodeSpec:
        for n in self.nodes:
            if n.name == name:
                return n
        raise KeyError(f"graph {self.name!r} has no node {name!r} (nodes: {[n.name for n in self.nodes]})")


def _check(value: str, valid: tuple[str, ...], what: str) -> str:
    if value not in valid:
        raise GraphError(f"{what}: unknown {value!r} (valid: {', '.join(valid)})")
    return value


def controller_prefixes(robot: str) -> tuple[str, ...]:
    """Namespaces of the arm/gripper controllers: '' for one arm, '/left' and '/right' for two."""
    return ("/left", "/right") if robot == "wx250s_bimanual" else ("",)


def sim_node(robot: str, task: str, *, scene_file: str = "", seed: int = 0, image_width: int = 640,
             image_height: int = 512, camera_hz: float = 10.0, real_time_factor: float = 1.0,
             renderer: str = "auto") -> NodeSpec:
    return NodeSpec(
        name="dexsim_sim", package="dexsim_sim", executable="sim_node", module="dexsim_sim.nodes.sim_node",
        parameters={"robot": robot, "task": task, "scene_file": scene_file, "seed": seed,
                    "image_width": image_width, "image_height": image_height, "camera_hz": camera_hz,
                    "real_time_factor": real_time_factor, "renderer": renderer, "use_sim_time": True})


def policy_node(robot: str, checkpoint: str, *, use_sim_time: bool, dry_run: bool = False,
                arm_action: str = "/arm_controller/follow_joint_trajectory",
                gripper_action: str = "/gripper_controller/gripper_cmd",
                remappings: tuple[tuple[str, str], ...] = ()) -> NodeSpec:
    return NodeSpec(
        name="dexsim_policy", package="dexsim_policy", executable="policy_node",
        module="dexsim_policy.nodes.policy_node",
        parameters={"robot": robot, "checkpoint": checkpoint, "use_sim_time": use_sim_time,
                    "dry_run": dry_run, "arm_action": arm_action, "gripper_action": gripper_action},
        remappings=remappings)


def recorder_node(out: str, topics: tuple[str, ...] = RECORD_TOPICS, *, use_sim_time: bool = True) -> NodeSpec:
    return NodeSpec(
        name="dexsim_recorder", package="dexsim_bringup", executable="recorder_node",
        module="dexsim_bringup.nodes.recorder_node",
        parameters={"output": out, "topics": list(topics), "storage": "mcap", "use_sim_time": use_sim_time})


def sim_graph(robot: str = "wx250s", task: str | None = None, *, checkpoint: str = "", record: str = "",
              rviz: bool = False, seed: int = 0, image_width: int = 640, image_height: int = 512,
              camera_hz: float = 10.0, real_time_factor: float = 1.0, scene_file: str = "") -> Graph:
    """The simulated bringup: sim node (+ policy node with a checkpoint, + recorder, + RViz)."""
    _check(robot, ROBOTS, "robot")
    task = _check(task or DEFAULT_TASK[robot], TASKS, "task")
    nodes = [sim_node(robot, task, scene_file=scene_file, seed=seed, image_width=image_width,
                      image_height=image_height, camera_hz=camera_hz, real_time_factor=real_time_factor)]
    if checkpoint:
        nodes.append(policy_node(robot, checkpoint, use_sim_time=True))
    if record:
        nodes.append(recorder_node(record))
    # The sim node publishes /robot_description (transient local) and the robot's TF itself, as
    # robot_state_publisher would: no robot_state_publisher in the simulated graph.
    external = []
    if rviz:
        external.append(ExternalNode("rviz2", "rviz2", "rviz2", parameters={"use_sim_time": True},
                                     arguments=("-d", "$(find-pkg-share dexsim_bringup)/config/dexsim.rviz"),
                                     why_not_in_pip_mode="RViz is not on PyPI: use `dexsim up ... --viz` (Foxglove)"))
    return Graph("sim", tuple(nodes), tuple(external))


def with_parameters(spec: NodeSpec, **overrides: Any) -> NodeSpec:
    return replace(spec, parameters={**spec.parameters, **overrides})
