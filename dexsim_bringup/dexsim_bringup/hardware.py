"""Real hardware as data: vendor arm drivers, stereo camera drivers and the per-robot configs.

A driver entry says which launch file starts it, which topics/actions it offers under its own
(native) names, and how DexSim's names map onto them. The graph (:mod:`dexsim_bringup.graph`)
includes the driver with those remaps, so every DexSim node above it runs unchanged: the sim is a
drop-in for hardware and the choice is a launch argument (``driver:=vendor|sim``).

Package and launch-file names come from the vendors' public repositories; where a name could not
be confirmed it is marked ``verified=False``; ``source`` names the vendor files each mapping was
checked against.

Per-robot configs (``config/<robot>.yaml``, ``ros__parameters`` of the policy node) hold joint
names (DexSim's and the driver's), limits, controller action names and the hand-eye calibration
(stereo camera pose in the robot base frame). :func:`robot_config` generates them from
``dexsim_sim.robots.registry``; the test suite checks the shipped files agree.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from dexsim_sim.documents import DocumentError, read_document

PACKAGE = "dexsim_bringup"
POSE_LEN = 7                       # (x, y, z, qx, qy, qz, qw)
UNIT_QUATERNION_TOL = 1e-3
IDENTITY_POSE = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 1.0)
CAMERA_LINK = "stereo_left_link"   # CONTRACTS.md camera frame
BASE_FRAME = "base_link"


class HardwareConfigError(ValueError):
    """A robot config file that is missing, malformed, or disagrees with the robot registry."""


@dataclass(frozen=True)
class ArmDriver:
    """A vendor arm driver: launch file, native topic/action names, how to install it."""
    robot: str
    package: str
    launch_file: str
    arguments: tuple[tuple[str, str], ...]
    joint_states: str          # topic the driver publishes joint states on (native name)
    arm_action: str            # its FollowJointTrajectory action
    gripper_action: str        # its gripper action (of ``gripper_interface``'s type)
    install: str               # how to get the package
    verified: bool             # package/launch names confirmed in the vendor's repository
    gripper_interface: str = "gripper_command"   # dexsim_sim.control.gripper_interface kind
    source: str = ""           # the vendor files the mapping was checked against


@dataclass(frozen=True)
class CameraDriver:
    """A stereo camera driver and the native names of the topics DexSim needs."""
    camera: str
    package: str
    launch_file: str
    arguments: tuple[tuple[str, str], ...]
    left_image: str
    left_info: str
    right_image: str
    right_info: str
    depth: str
    install: str
    note: str                  # encoding differences the consumer must handle


ARM_DRIVERS: dict[str, ArmDriver] = {
    # Interbotix: the arm AND the gripper are JointTrajectoryControllers (the gripper on the
    # prismatic `left_finger`, metres, half the gap), under the robot's namespace; on hardware the
    # xs_sdk publishes /<robot_name>/joint_states.
    "wx250s": ArmDriver(
        robot="wx250s", package="interbotix_xsarm_ros_control", launch_file="xsarm_ros_control.launch.py",
        arguments=(("robot_model", "wx250s"), ("robot_name", "wx250s"), ("hardware_type", "actual")),
        joint_states="/wx250s/joint_states",
        arm_action="/wx250s/arm_controller/follow_joint_trajectory",
        gripper_action="/wx250s/gripper_controller/follow_joint_trajectory",
        install="Interbotix ROS 2 (interbotix_ros_manipulators: interbotix_xsarm_control + interbotix_xsarm_ros_control)",
        verified=True, gripper_interface="follow_joint_trajectory",
        source="Interbotix/interbotix_ros_manipulators (humble a4b7e51, jazzy 04a3506): "
               "interbotix_ros_xsarms/interbotix_xsarm_ros_control/config/controllers/wx250s_controllers.yaml, "
               "launch/xsarm_ros_control.launch.py; interbotix_xsarm_moveit/config/controllers/wx250s_controllers.yaml"),
    # AUBO: one JointTrajectoryController, no namespace, no gripper in the driver (a separate gripper
    # driver, e.g. Robotiq's, serves GripperCommand).
    "aubo_i5": ArmDriver(
        robot="aubo_i5", package="aubo_ros2_driver", launch_file="aubo_control.launch.py",
        arguments=(("aubo_type", "aubo_i5"), ("robot_ip", "192.168.127.128"), ("use_fake_hardware", "false")),
        joint_states="/joint_states",
        arm_action="/joint_trajectory_controller/follow_joint_trajectory",
        gripper_action="/gripper_controller/gripper_cmd",
        install="AUBO ROS 2 driver (github.com/AuboRobot/aubo_ros2_driver), built in your colcon workspace; "
                "the gripper's own driver for GripperCommand (the arm driver ships none)",
        verified=True,
        source="AuboRobot/aubo_ros2_driver (main 0c40704): aubo_ros2_driver/config/aubo_controllers.yaml, "
               "launch/aubo_control.launch.py, aubo_moveit_config/config/moveit_controllers.yaml"),
    # Rokae: rokae_ros2 (xCore SDK 0.7.1 libraries downloaded separately); MoveIt launch spawns
    # position_joint_trajectory_controller on joint1..joint6; no gripper in the driver.
    "sr3": ArmDriver(
        robot="sr3", package="rokae_hardware", launch_file="rokae_moveit_launch.py",
        arguments=(("robot_type", "SR3"), ("use_fake_hardware", "false"), ("robot_ip", "192.168.21.10"),
                   ("local_ip", "192.168.21.131")),
        joint_states="/joint_states",
        arm_action="/position_joint_trajectory_controller/follow_joint_trajectory",
        gripper_action="/gripper_controller/gripper_cmd",
        install="RokaeRobot/rokae_ros2 (ROS 2 Humble) with the xCore SDK libraries from RokaeRobot/xCoreSDK-CPP "
                "releases in rokae_hardware/sdk/lib; the gripper's own driver for GripperCommand",
        verified=True,
        source="RokaeRobot/rokae_ros2 (main d6a508c): rokae_hardware/launch/rokae_moveit_launch.py, "
               "rokae_hardware/config/xMateSR3_real_controllers.yaml, "
               "rokae_xMateSR3_moveit_config/config/simple_moveit_controllers.yaml, "
               "rokae_description/urdf/xMateSR3.ros2_control.xacro"),
}
REAL_ROBOTS = tuple(ARM_DRIVERS)

CAMERA_DRIVERS: dict[str, CameraDriver] = {
    "realsense": CameraDriver(
        camera="realsense", package="realsense2_camera", launch_file="rs_launch.py",
        arguments=(("enable_infra1", "true"), ("enable_infra2", "true"), ("enable_depth", "true"),
                   ("enable_color", "false")),
        left_image="/camera/camera/infra1/image_rect_raw", left_info="/camera/camera/infra1/camera_info",
        right_image="/camera/camera/infra2/image_rect_raw", right_info="/camera/camera/infra2/camera_info",
        depth="/camera/camera/depth/image_rect_raw",
        install="apt install ros-$ROS_DISTRO-realsense2-camera",
        note="infra images are mono8 and depth is 16UC1 in millimetres (DexSim sim: rgb8 and 32FC1 metres)"),
    "zed": CameraDriver(
        camera="zed", package="zed_wrapper", launch_file="zed_camera.launch.py",
        arguments=(("camera_model", "zed2i"),),
        left_image="/zed/zed_node/left/image_rect_color", left_info="/zed/zed_node/left/camera_info",
        right_image="/zed/zed_node/right/image_rect_color", right_info="/zed/zed_node/right/camera_info",
        depth="/zed/zed_node/depth/depth_registered",
        install="the ZED SDK + zed-ros2-wrapper (github.com/stereolabs/zed-ros2-wrapper)",
        note="images are bgra8 (DexSim sim: rgb8); depth is 32FC1 metres as in DexSim"),
}
CAMERAS = tuple(CAMERA_DRIVERS)


def camera_remappings(driver: CameraDriver, stereo_topics: dict[str, str]) -> tuple[tuple[str, str], ...]:
    """Native camera topic -> DexSim /stereo/... topic, for SetRemap around the driver's launch."""
    return tuple((getattr(driver, key), stereo_topics[key]) for key in
                 ("left_image", "left_info", "right_image", "right_info", "depth"))


# ---------------------------------------------------------------------------------------------
# Per-robot configs (config/<robot>.yaml)

def config_dir() -> Path:
    """config/ of this package: the ament share directory when installed, else the source tree."""
    installed = Path(sys.prefix) / "share" / PACKAGE / "config"
    source = Path(__file__).resolve().parents[1] / "config"
    return source if source.is_dir() else installed


def config_path(robot: str) -> Path:
    return config_dir() / f"{robot}.yaml"


def robot_config(robot: str) -> dict[str, Any]:
    """The generated default config of ``robot`` (what config/<robot>.yaml ships with).

    The hand-eye pose is an uncalibrated placeholder (``hand_eye_calibrated: false``): running
    the real graph outside dry-run refuses it until the user writes the calibrated pose.
    """
    from dexsim_sim.robots.registry import get_robot

    spec = get_robot(robot)
    driver = ARM_DRIVERS[robot]
    joints = list(spec.arm_joints + spec.gripper_joints)
    return {"dexsim_policy": {"ros__parameters": {
        "robot": robot,
        "joint_names": list(spec.arm_joints),
        "gripper_joint_names": list(spec.gripper_joints),
        "driver_joint_names": joints,
        "joint_limits": {
            "lower": [spec.limits[j].lower for j in joints],
            "upper": [spec.limits[j].upper for j in joints],
            "velocity": [spec.limits[j].velocity for j in joints],
            "effort": [spec.limits[j].effort for j in joints],
        },
        "gripper_open_m": spec.gripper_open,
        "gripper_closed_m": spec.gripper_closed,
        "controllers": {"arm_action": driver.arm_action, "gripper_action": driver.gripper_action,
                        "gripper_interface": driver.gripper_interface},
        "camera": {
            "hand_eye_calibrated": False,
            "parent_frame": BASE_FRAME,
            "frame": CAMERA_LINK,
            "pose_in_base": list(IDENTITY_POSE),
            "intrinsics_override": False,
            "fx": 0.0, "fy": 0.0, "cx": 0.0, "cy": 0.0, "baseline_m": 0.0,
        },
    }}}


@dataclass(frozen=True)
class HandEye:
    """Stereo camera (left camera link) pose in the robot base frame."""
    parent_frame: str
    frame: str
    pose: tuple[float, ...]      # (x, y, z, qx, qy, qz, qw), m
    calibrated: bool

    def __post_init__(self) -> None:
        if len(self.pose) != POSE_LEN:
            raise HardwareConfigError(f"camera.pose_in_base: expected {POSE_LEN} numbers, got {len(self.pose)}")
        norm = sum(q * q for q in self.pose[3:]) ** 0.5
        if abs(norm - 1.0) > UNIT_QUATERNION_TOL:
            raise HardwareConfigError(f"camera.pose_in_base: quaternion norm {norm:.4f}, expected 1")


@dataclass(frozen=True)
class RobotConfig:
    path: Path
    params: dict[str, Any]
    hand_eye: HandEye

    @property
    def arm_action(self) -> str:
        return self.params["controllers"]["arm_action"]

    @property
    def gripper_action(self) -> str:
        return self.params["controllers"]["gripper_action"]

    @property
    def driver_joint_names(self) -> list[str]:
        """The driver's names of the arm then finger joints (the registry's by default)."""
        return list(self.params.get("driver_joint_names") or [])

    @property
    def gripper_interface(self) -> str:
        """How the gripper is commanded (dexsim_sim.control.gripper_interface kind)."""
        return self.params["controllers"].get("gripper_interface", "gripper_command")


def load_robot_config(robot: str, path: str | Path | None = None) -> RobotConfig:
    """Read config/<robot>.yaml (or ``path``) and validate the fields the graph uses."""
    path = Path(path) if path else config_path(robot)
    if not path.is_file():
        raise HardwareConfigError(f"robot config {path} does not exist")
    try:
        params = read_document(path, what="robot config")["dexsim_policy"]["ros__parameters"]
    except DocumentError as exc:
        raise HardwareConfigError(str(exc)) from None
    except (KeyError, TypeError) as exc:
        raise HardwareConfigError(f"{path}: expected dexsim_policy.ros__parameters ({exc})") from exc
    for key in ("robot", "joint_names", "controllers", "camera"):
        if key not in params:
            raise HardwareConfigError(f"{path}: missing {key!r}")
    if params["robot"] != robot:
        raise HardwareConfigError(f"{path}: robot {params['robot']!r}, expected {robot!r}")
    cam = params["camera"]
    try:
        hand_eye = HandEye(str(cam["parent_frame"]), str(cam["frame"]),
                           tuple(float(v) for v in cam["pose_in_base"]), bool(cam["hand_eye_calibrated"]))
    except KeyError as exc:
        raise HardwareConfigError(f"{path}: camera.{exc.args[0]} missing") from exc
    return RobotConfig(path, params, hand_eye)


def write_default_configs(directory: str | Path | None = None) -> list[Path]:
    """(Re)generate config/<robot>.yaml for every real robot (overwrites calibrations!)."""
    out = Path(directory) if directory else config_dir()
    written = []
    for robot in REAL_ROBOTS:
        path = out / f"{robot}.yaml"
        header = (f"# DexSim config of the real {robot}: policy-node parameters. Generated by\n"
                  "# dexsim_bringup.hardware.write_default_configs from dexsim_sim.robots.registry;\n"
                  "# after hand-eye calibration set camera.pose_in_base and hand_eye_calibrated: true.\n"
                  "# driver_joint_names: the names your driver publishes, in the order of joint_names\n"
                  "# followed by gripper_joint_names.\n")
        path.write_text(header + yaml.safe_dump(robot_config(robot), sort_keys=False, default_flow_style=None))
        written.append(path)
    return written
