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

from dexsim_sim.control.gripper_interface import GRIPPER_COMMAND, GRIPPER_COMMAND_ACTION, GRIPPER_TRAJECTORY_ACTION

from . import hardware

ROBOTS = ("sr3", "aubo_i5", "wx250s", "wx250s_bimanual")
TASKS = ("grasp", "open_box", "rearrange")
DEFAULT_TASK = {"sr3": "grasp", "aubo_i5": "open_box", "wx250s": "grasp", "wx250s_bimanual": "rearrange"}
CAMERAS = hardware.CAMERAS
REAL_ROBOTS = hardware.REAL_ROBOTS
DRIVERS = ("vendor", "sim")   # real graph: the vendor drivers, or the sim node standing in for them

# Stereo topics of DexSim (what the policy node subscribes to, what the sim publishes).
STEREO_TOPICS = {
    "left_image": "/stereo/left/image_rect",
    "left_info": "/stereo/left/camera_info",
    "right_image": "/stereo/right/image_rect",
    "right_info": "/stereo/right/camera_info",
    "depth": "/stereo/depth",
}

ARM_ACTION = "/arm_controller/follow_joint_trajectory"
GRIPPER_ACTION = GRIPPER_COMMAND_ACTION                 # the sim's GripperCommand gripper
GRIPPER_FINGER_ACTION = GRIPPER_TRAJECTORY_ACTION       # the sim's finger-trajectory gripper (Interbotix layout)
DRY_RUN_TOPIC = "/dexsim/policy/dry_run_trajectory"
MARKERS_TOPIC = "/dexsim/markers"   # visualization_msgs/MarkerArray: keyposes, grasp affordances (RViz config)   # where a dry-run policy publishes the goals it would send
VIZ_HOST = "127.0.0.1"    # the Foxglove server binds loopback only
VIZ_PORT = 8765
VIZ_TOPICS = ("/joint_states", "/tf", "/tf_static", STEREO_TOPICS["left_image"], STEREO_TOPICS["right_image"],
              STEREO_TOPICS["depth"])

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
class ExternalLaunch:
    """A launch file of another package (a vendor driver), included with its topics remapped
    (``SetRemap`` around the include) onto DexSim's names. Full ROS mode only."""
    name: str
    package: str
    launch_file: str
    arguments: tuple[tuple[str, str], ...] = ()
    remappings: tuple[tuple[str, str], ...] = ()
    why_not_in_pip_mode: str = ""


@dataclass(frozen=True)
class Graph:
    name: str
    nodes: tuple[NodeSpec, ...]
    external: tuple[ExternalNode, ...] = ()
    includes: tuple[ExternalLaunch, ...] = ()

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
             renderer: str = "auto", dr_spec: str = "") -> NodeSpec:
    return NodeSpec(
        name="dexsim_sim", package="dexsim_sim", executable="sim_node", module="dexsim_sim.nodes.sim_node",
        parameters={"robot": robot, "task": task, "scene_file": scene_file, "dr_spec": dr_spec, "seed": seed,
                    "image_width": image_width, "image_height": image_height, "camera_hz": camera_hz,
                    "real_time_factor": real_time_factor, "renderer": renderer, "use_sim_time": True})


def policy_node(robot: str, checkpoint: str, *, use_sim_time: bool, dry_run: bool = False,
                arm_action: str = ARM_ACTION, gripper_action: str = "", gripper_interface: str = "",
                driver_joint_names: tuple[str, ...] = (), remappings: tuple[tuple[str, str], ...] = ()) -> NodeSpec:
    """``gripper_interface``/``gripper_action`` '' = the robot's vendor gripper interface and its action;
    ``driver_joint_names`` () = the registry's names (the robot config's on hardware)."""
    return NodeSpec(
        name="dexsim_policy", package="dexsim_policy", executable="policy_node",
        module="dexsim_policy.nodes.policy_node",
        parameters={"robot": robot, "checkpoint": checkpoint, "use_sim_time": use_sim_time,
                    "dry_run": dry_run, "dry_run_topic": DRY_RUN_TOPIC, "arm_action": arm_action,
                    "gripper_action": gripper_action, "gripper_interface": gripper_interface,
                    "driver_joint_names": list(driver_joint_names) or [""]},
        remappings=remappings)


def recorder_node(out: str, topics: tuple[str, ...] = RECORD_TOPICS, *, use_sim_time: bool = True) -> NodeSpec:
    return NodeSpec(
        name="dexsim_recorder", package="dexsim_bringup", executable="recorder_node",
        module="dexsim_bringup.nodes.recorder_node",
        parameters={"output": out, "topics": list(topics), "storage": "mcap", "use_sim_time": use_sim_time})


def sim_graph(robot: str = "wx250s", task: str | None = None, *, checkpoint: str = "", record: str = "",
              rviz: bool = False, seed: int = 0, image_width: int = 640, image_height: int = 512,
              camera_hz: float = 10.0, real_time_factor: float = 1.0, scene_file: str = "",
              viz: bool = False, renderer: str = "auto", dr_spec: str = "") -> Graph:
    """The simulated bringup: sim node (+ policy node with a checkpoint, + recorder, + RViz, + Foxglove)."""
    _check(robot, ROBOTS, "robot")
    task = _check(task or DEFAULT_TASK[robot], TASKS, "task")
    nodes = [sim_node(robot, task, scene_file=scene_file, seed=seed, image_width=image_width,
                      image_height=image_height, camera_hz=camera_hz, real_time_factor=real_time_factor,
                      renderer=renderer, dr_spec=dr_spec)]
    if checkpoint:
        nodes.append(policy_node(robot, checkpoint, use_sim_time=True))
    if record:
        nodes.append(recorder_node(record))
    if viz:
        nodes.append(viz_node(use_sim_time=True))
    # The sim node publishes /robot_description (transient local) and the robot's TF itself, as
    # robot_state_publisher would: no robot_state_publisher in the simulated graph.
    external = [rviz_node(use_sim_time=True)] if rviz else []
    return Graph("sim", tuple(nodes), tuple(external))


def viz_node(*, use_sim_time: bool, topics: tuple[str, ...] = VIZ_TOPICS, port: int = VIZ_PORT) -> NodeSpec:
    """Live view: relays images, joint states and TF to a Foxglove WebSocket server on 127.0.0.1."""
    return NodeSpec(name="dexsim_viz", package="dexsim_bringup", executable="viz_node",
                    module="dexsim_bringup.nodes.viz_node",
                    parameters={"host": VIZ_HOST, "port": port, "topics": list(topics), "use_sim_time": use_sim_time})


def rviz_node(*, use_sim_time: bool) -> ExternalNode:
    return ExternalNode("rviz2", "rviz2", "rviz2", parameters={"use_sim_time": use_sim_time},
                        arguments=("-d", "$(find-pkg-share dexsim_bringup)/config/dexsim.rviz"),
                        why_not_in_pip_mode="RViz is not on PyPI: use `dexsim up ... --viz` (Foxglove)")


def moveit_graph(robot: str = "wx250s", *, rviz: bool = True, use_sim_time: bool = True) -> Graph:
    """MoveIt beside the sim or real graph: move_group with the generated configuration
    (``config/moveit/<robot>``: SRDF, kinematics, limits, and controllers on the same
    FollowJointTrajectory / gripper actions the sim node and the vendor drivers serve), and RViz
    with the MotionPlanning panel. Full ROS install only (MoveIt is not on PyPI)."""
    from .moveit_config import move_group_parameters

    _check(robot, ROBOTS, "robot")
    params = dict(move_group_parameters(robot), use_sim_time=use_sim_time)
    why = "MoveIt is not on PyPI: plan with DexSim's OMPL planner (dexsim_sim.skills.planner) in pip mode"
    external = [ExternalNode("move_group", "moveit_ros_move_group", "move_group", parameters=params,
                             why_not_in_pip_mode=why)]
    if rviz:
        view = {k: params[k] for k in ("robot_description", "robot_description_semantic",
                                       "robot_description_kinematics", "use_sim_time")}
        external.append(ExternalNode("rviz2_moveit", "rviz2", "rviz2", parameters=view,
                                     arguments=("-d", "$(find-pkg-share dexsim_bringup)/config/moveit/moveit.rviz"),
                                     why_not_in_pip_mode=why))
    return Graph("moveit", (), tuple(external))


def hand_eye_publisher(hand_eye: hardware.HandEye) -> ExternalNode:
    """tf2_ros static_transform_publisher of the calibrated camera pose in the robot base frame."""
    x, y, z, qx, qy, qz, qw = hand_eye.pose
    args = ("--x", x, "--y", y, "--z", z, "--qx", qx, "--qy", qy, "--qz", qz, "--qw", qw,
            "--frame-id", hand_eye.parent_frame, "--child-frame-id", hand_eye.frame)
    return ExternalNode("hand_eye_tf", "tf2_ros", "static_transform_publisher", arguments=tuple(map(str, args)),
                        why_not_in_pip_mode="tf2_ros is not on PyPI: the camera pose is not published in pip mode")


def real_graph(robot: str = "wx250s", camera: str = "realsense", checkpoint: str = "", *, driver: str = "vendor",
               dry_run: bool = True, arm_action: str = "", gripper_action: str = "", record: str = "",
               viz: bool = False, rviz: bool = False, config: str = "", image_width: int = 640,
               image_height: int = 512) -> Graph:
    """The hardware bringup: vendor arm + stereo camera drivers, the policy node (+ recorder, viz).

    The drivers' topics are remapped onto DexSim's names where they are launched, so the policy
    node is the very NodeSpec :func:`policy_node` builds, whatever the hardware. ``driver="sim"``
    stands the sim node in for both drivers (Interbotix ``use_sim`` style): it serves the arm and
    gripper actions under the driver's action names, and publishes the topics the remapped
    drivers would. Empty action names default to the robot config's controllers (the driver's).
    Outside dry run, the hand-eye calibration in the robot config must be done.
    """
    _check(robot, REAL_ROBOTS, "robot")
    _check(camera, CAMERAS, "camera")
    _check(driver, DRIVERS, "driver")
    try:
        cfg = hardware.load_robot_config(robot, config or None)
    except hardware.HardwareConfigError as exc:
        raise GraphError(f"config: {exc}") from exc
    arm_action = arm_action or cfg.arm_action
    gripper_action = gripper_action or cfg.gripper_action
    if driver == "vendor" and not dry_run and not cfg.hand_eye.calibrated:
        raise GraphError(f"dry_run: false needs a hand-eye calibration, but {cfg.path} has "
                         "camera.hand_eye_calibrated: false (calibrate first, or keep dry_run: true)")
    nodes: list[NodeSpec] = []
    includes: list[ExternalLaunch] = []
    external: list[ExternalNode] = []
    if driver == "sim":
        stand_in = sim_node(robot, DEFAULT_TASK[robot], image_width=image_width, image_height=image_height)
        served = GRIPPER_ACTION if cfg.gripper_interface == GRIPPER_COMMAND else GRIPPER_FINGER_ACTION
        nodes.append(replace(stand_in, remappings=((ARM_ACTION, arm_action), (served, gripper_action))))
    else:
        arm = hardware.ARM_DRIVERS[robot]
        cam = hardware.CAMERA_DRIVERS[camera]
        joint_remap = () if arm.joint_states == "/joint_states" else ((arm.joint_states, "/joint_states"),)
        includes.append(ExternalLaunch(f"{robot}_driver", arm.package, arm.launch_file, arm.arguments, joint_remap,
                                       f"vendor drivers need full ROS 2: install {arm.package} ({arm.install})"))
        includes.append(ExternalLaunch(f"{camera}_camera", cam.package, cam.launch_file, cam.arguments,
                                       hardware.camera_remappings(cam, STEREO_TOPICS),
                                       f"vendor drivers need full ROS 2: install {cam.package} ({cam.install})"))
        external.append(hand_eye_publisher(cfg.hand_eye))
    # The stand-in stamps its data with the simulation's /clock; real drivers with wall time.
    sim_time = driver == "sim"
    if checkpoint:
        nodes.append(policy_node(robot, checkpoint, use_sim_time=sim_time, dry_run=dry_run, arm_action=arm_action,
                                 gripper_action=gripper_action, gripper_interface=cfg.gripper_interface,
                                 driver_joint_names=tuple(cfg.driver_joint_names)))
    if record:
        nodes.append(recorder_node(record, use_sim_time=sim_time))
    if viz:
        nodes.append(viz_node(use_sim_time=sim_time))
    if rviz:
        external.append(rviz_node(use_sim_time=sim_time))
    return Graph("real", tuple(nodes), tuple(external), tuple(includes))


def record_graph(out: str, topics: tuple[str, ...] = RECORD_TOPICS, *, use_sim_time: bool = True) -> Graph:
    """Record topics of a running graph to an MCAP rosbag2 (the recorder node, in both modes)."""
    if not out:
        raise GraphError("out: the bag directory must be given")
    if not topics:
        raise GraphError("topics: at least one topic to record")
    return Graph("record", (recorder_node(out, tuple(topics), use_sim_time=use_sim_time),))


def projection_node(robot: str, *, use_sim_time: bool) -> NodeSpec:
    return NodeSpec(name="dexsim_projection", package="dexsim_sim", executable="projection_node",
                    module="dexsim_sim.nodes.projection_node",
                    parameters={"robot": robot, "use_sim_time": use_sim_time})


def scaling_node(robot: str, task: str, *, output_dir: str, workers: int, use_sim_time: bool) -> NodeSpec:
    return NodeSpec(name="dexsim_scaling", package="dexsim_sim", executable="scaling_node",
                    module="dexsim_sim.nodes.scaling_node",
                    parameters={"robot": robot, "task": task, "output_dir": output_dir, "workers": workers,
                                "use_sim_time": use_sim_time})


def data_graph(robot: str = "wx250s", task: str | None = None, *, output_dir: str = "", workers: int = 1,
               use_sim_time: bool = False) -> Graph:
    """The data engine: Real2Sim projection node + Sim2Real scaling node (GenerateDataset action)."""
    _check(robot, ROBOTS, "robot")
    task = _check(task or DEFAULT_TASK[robot], TASKS, "task")
    if workers < 1:
        raise GraphError(f"workers: expected >= 1, got {workers}")
    return Graph("data", (projection_node(robot, use_sim_time=use_sim_time),
                          scaling_node(robot, task, output_dir=output_dir, workers=workers,
                                       use_sim_time=use_sim_time)))


def with_parameters(spec: NodeSpec, **overrides: Any) -> NodeSpec:
    return replace(spec, parameters={**spec.parameters, **overrides})
