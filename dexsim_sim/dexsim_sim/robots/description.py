"""The robots' kinematic descriptions (from /work/shared/robots.md) and the generator of ``urdf/*.urdf``.

Geometry is primitive: every link is a square-section box from its joint to the next joint
(a short cylinder where two joints coincide), masses are the makers' link masses and inertias are
those of the boxes. Regenerate the committed files with ``python -m dexsim_sim.robots.description``;
a test checks they are up to date.

End-effector convention for every robot: the ee link's +x is the approach direction, fingers close
along +-y, origin at the grasp centre between the finger pads.
"""
from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .gripper import DEFAULT_GRIPPER, ParallelGripperSpec, parallel_gripper
from .urdf_model import JointDesc, LinkDesc, RobotDescription, Shape, segment_shape

URDF_DIR = Path(__file__).resolve().parent / "urdf"
PI = math.pi
WX_LIMIT = PI - 1e-5           # wx250s continuous-like joints, rad
WX_VELOCITY = PI               # rad/s on every wx250s joint
SR3_VELOCITY = PI              # rad/s (robots.md: not confirmed by a datasheet)
SR3_LIMIT = 3.0543             # rad
AUBO_LIMIT = 3.0543            # rad
COINCIDENT_JOINTS = 1e-9       # m: a link shorter than this gets a joint cylinder instead of a segment
FLANGE_DISK_LENGTH = 0.03      # m, the disk drawn behind a flange
BASE_RADIUS_FACTOR = 0.75      # base cylinder radius as a multiple of the arm's link thickness

# WidowX gripper (Interbotix wx250s), m / kg.
WX_GRIPPER_TO_EE_ARM = 0.043
WX_EE_ARM_TO_FINGERS = 0.023
WX_FINGERS_TO_EE_GRIPPER = 0.027575
WX_FINGER_MIN, WX_FINGER_MAX = 0.015, 0.037   # finger joint travel (distance of the inner face from centre)
WX_FINGER_EFFORT, WX_FINGER_VELOCITY, WX_FINGER_MASS = 5.0, 1.0, 0.016246
WX_FINGER_LENGTH, WX_FINGER_THICKNESS, WX_FINGER_WIDTH = 0.055, 0.01, 0.02
WX_GRIPPER_BAR_MASS = 0.034199   # Interbotix gripper_bar_link
WX_GRIPPER_BAR_DEPTH = 0.012

# Bimanual WidowX: both arms on the root frame's y axis, facing each other across the workspace.
BIMANUAL_HALF_SEPARATION = 0.4   # m from the root to each arm base (0.8 m apart)


@dataclass(frozen=True)
class ArmJointRow:
    """One row of a robots.md joint table (angles rad, velocity rad/s, effort N m, mass kg)."""

    name: str
    child: str
    xyz: tuple[float, float, float]
    rpy: tuple[float, float, float]
    axis: tuple[float, float, float]
    lower: float
    upper: float
    velocity: float
    effort: float
    child_mass: float


def serial_arm(name: str, base_mass: float, rows: list[ArmJointRow], thickness: float,
               color=(0.75, 0.75, 0.78, 1.0), base_link: str = "base_link") -> tuple[list[LinkDesc], list[JointDesc]]:
    """Links (auto box geometry of side ``thickness`` m) and revolute joints of a serial arm."""
    links: list[LinkDesc] = []
    first_z = float(rows[0].xyz[2])
    radius = thickness * BASE_RADIUS_FACTOR
    links.append(LinkDesc(base_link, base_mass, (Shape("cylinder", (radius, first_z), xyz=(0, 0, first_z / 2)),),
                          color))
    for i, row in enumerate(rows):
        axis = np.asarray(row.axis, dtype=float)
        if i + 1 < len(rows):
            nxt = np.asarray(rows[i + 1].xyz, dtype=float)
            if np.linalg.norm(nxt) > COINCIDENT_JOINTS:
                shape = segment_shape((0, 0, 0), nxt, thickness)
            else:
                shape = segment_shape(-axis * thickness / 2, axis * thickness / 2, thickness)
        else:  # the flange: a disk behind the mounting face
            shape = segment_shape(-axis * FLANGE_DISK_LENGTH, (0, 0, 0), thickness)
        links.append(LinkDesc(row.child, row.child_mass, (shape,), color))
    joints = []
    parent = base_link
    for row in rows:
        joints.append(JointDesc(row.name, "revolute", parent, row.child, xyz=row.xyz, rpy=row.rpy, axis=row.axis,
                                lower=row.lower, upper=row.upper, velocity=row.velocity, effort=row.effort))
        parent = row.child
    return links, joints


def sr3(gripper: ParallelGripperSpec = DEFAULT_GRIPPER) -> RobotDescription:
    """Rokae xMate SR3 with the parallel gripper; flange = link6, ee link = tcp_link."""
    z, y, neg_y = (0.0, 0.0, 1.0), (0.0, 1.0, 0.0), (0.0, -1.0, 0.0)
    zero = (0.0, 0.0, 0.0)
    v, lim = SR3_VELOCITY, SR3_LIMIT
    rows = [
        ArmJointRow("joint1", "link1", (0, 0, 0.334), zero, z, -lim, lim, v, 66.0, 2.727),
        ArmJointRow("joint2", "link2", (0, 0, 0), zero, y, -2.3562, 2.2689, v, 66.0, 3.179),
        ArmJointRow("joint3", "link3", (0.05, 0, 0.29), zero, neg_y, -3.0543, 2.3562, v, 29.0, 1.601),
        ArmJointRow("joint4", "link4", (-0.05, 0, 0.29), zero, z, -lim, lim, v, 16.0, 1.882),
        ArmJointRow("joint5", "link5", (0, 0.136, 0), zero, neg_y, -lim, lim, v, 16.0, 1.507),
        ArmJointRow("joint6", "link6", (0, 0, 0.1035), zero, z, -lim, lim, v, 16.0, 0.634),
    ]
    links, joints = serial_arm("sr3", 2.0, rows, thickness=0.09)
    g_links, g_joints = parallel_gripper("link6", gripper)
    return RobotDescription("sr3", tuple(links + g_links), tuple(joints + g_joints),
                            comment="Rokae xMate SR3 + parallel gripper; flange link6 at (0, 0.136, 1.0175) at zero")


def aubo_i5(gripper: ParallelGripperSpec = DEFAULT_GRIPPER) -> RobotDescription:
    """AUBO i5 with the parallel gripper; flange = wrist3_Link, ee link = tcp_link."""
    z = (0.0, 0.0, 1.0)
    lim = AUBO_LIMIT
    big_v, small_v = 2.5964, 3.1105
    rows = [
        ArmJointRow("shoulder_joint", "shoulder_Link", (0, 0, 0.122), (0, 0, PI), z, -lim, lim, big_v, 133.0, 4.848581),
        ArmJointRow("upperArm_joint", "upperArm_Link", (0, 0.1215, 0), (-PI / 2, -PI / 2, 0), z, -lim, lim, big_v,
                    133.0, 10.836261),
        ArmJointRow("foreArm_joint", "foreArm_Link", (0.408, 0, 0), (-PI, 0, 0), z, -lim, lim, big_v, 133.0, 2.849168),
        ArmJointRow("wrist1_joint", "wrist1_Link", (0.376, 0, 0), (PI, 0, PI / 2), z, -lim, lim, small_v, 13.5,
                    1.628023),
        ArmJointRow("wrist2_joint", "wrist2_Link", (0, 0.1025, 0), (-PI / 2, 0, 0), z, -lim, lim, small_v, 13.5,
                    1.628023),
        ArmJointRow("wrist3_joint", "wrist3_Link", (0, -0.094, 0), (PI / 2, 0, 0), z, -lim, lim, small_v, 13.5,
                    0.1978),
    ]
    links, joints = serial_arm("aubo_i5", 1.53902, rows, thickness=0.1)
    g_links, g_joints = parallel_gripper("wrist3_Link", gripper)
    return RobotDescription("aubo_i5", tuple(links + g_links), tuple(joints + g_joints),
                            comment="AUBO i5 + parallel gripper; flange wrist3_Link at (0, -0.2155, 1.0085) at zero")


def wx250s() -> RobotDescription:
    """Trossen/Interbotix WidowX 250 S with its own gripper; ee link = ee_gripper_link."""
    x, y = (1.0, 0.0, 0.0), (0.0, 1.0, 0.0)
    z = (0.0, 0.0, 1.0)
    zero = (0.0, 0.0, 0.0)
    v = WX_VELOCITY
    rows = [
        ArmJointRow("waist", "shoulder_link", (0, 0, 0.072), zero, z, -WX_LIMIT, WX_LIMIT, v, 10.0, 0.480879),
        ArmJointRow("shoulder", "upper_arm_link", (0, 0, 0.03865), zero, y, -1.8850, 1.9897, v, 20.0, 0.430811),
        ArmJointRow("elbow", "upper_forearm_link", (0.04975, 0, 0.25), zero, y, -2.1468, 1.6057, v, 15.0, 0.234589),
        ArmJointRow("forearm_roll", "lower_forearm_link", (0.175, 0, 0), zero, x, -WX_LIMIT, WX_LIMIT, v, 2.0,
                    0.220991),
        ArmJointRow("wrist_angle", "wrist_link", (0.075, 0, 0), zero, y, -1.7453, 2.1468, v, 5.0, 0.084957),
        ArmJointRow("wrist_rotate", "gripper_link", (0.065, 0, 0), zero, x, -WX_LIMIT, WX_LIMIT, v, 1.0, 0.072885),
    ]
    thickness = 0.04
    links, joints = serial_arm("wx250s", 0.538736, rows, thickness=thickness, color=(0.2, 0.2, 0.22, 1.0))
    # gripper_link carries the gripper body up to ee_arm_link instead of a flange disk.
    links[-1] = LinkDesc("gripper_link", 0.072885,
                         (segment_shape((0, 0, 0), (WX_GRIPPER_TO_EE_ARM, 0, 0), thickness),), links[-1].color)
    bar_width = 2.0 * (WX_FINGER_MAX + WX_FINGER_THICKNESS)
    finger_box = (WX_FINGER_LENGTH, WX_FINGER_THICKNESS, WX_FINGER_WIDTH)
    finger_color = (0.35, 0.35, 0.4, 1.0)
    links += [
        LinkDesc("ee_arm_link", 0.0),
        LinkDesc("fingers_link", WX_GRIPPER_BAR_MASS,
                 (Shape("box", (WX_GRIPPER_BAR_DEPTH, bar_width, WX_FINGER_WIDTH),
                        xyz=(-WX_GRIPPER_BAR_DEPTH / 2, 0, 0)),), finger_color),
        LinkDesc("left_finger_link", WX_FINGER_MASS,
                 (Shape("box", finger_box, xyz=(WX_FINGER_LENGTH / 2, WX_FINGER_THICKNESS / 2, 0)),), finger_color),
        LinkDesc("right_finger_link", WX_FINGER_MASS,
                 (Shape("box", finger_box, xyz=(WX_FINGER_LENGTH / 2, -WX_FINGER_THICKNESS / 2, 0)),), finger_color),
        LinkDesc("ee_gripper_link", 0.0),
    ]
    joints += [
        JointDesc("ee_arm", "fixed", "gripper_link", "ee_arm_link", xyz=(WX_GRIPPER_TO_EE_ARM, 0, 0)),
        JointDesc("fingers", "fixed", "ee_arm_link", "fingers_link", xyz=(WX_EE_ARM_TO_FINGERS, 0, 0)),
        JointDesc("left_finger", "prismatic", "fingers_link", "left_finger_link", axis=y,
                  lower=WX_FINGER_MIN, upper=WX_FINGER_MAX, velocity=WX_FINGER_VELOCITY, effort=WX_FINGER_EFFORT),
        JointDesc("right_finger", "prismatic", "fingers_link", "right_finger_link", axis=y,
                  lower=-WX_FINGER_MAX, upper=-WX_FINGER_MIN, velocity=WX_FINGER_VELOCITY, effort=WX_FINGER_EFFORT),
        JointDesc("ee_gripper", "fixed", "fingers_link", "ee_gripper_link", xyz=(WX_FINGERS_TO_EE_GRIPPER, 0, 0)),
    ]
    return RobotDescription("wx250s", tuple(links), tuple(joints),
                            comment="WidowX 250 S; ee_gripper_link at (0.458325, 0, 0.36065) at zero")


def wx250s_bimanual() -> RobotDescription:
    """Two wx250s on one root ``base_link``: left at +y, right at -y, 0.8 m apart, facing each other."""
    arm = wx250s()
    left, right = arm.prefixed("left_"), arm.prefixed("right_")
    root = LinkDesc("base_link", 0.0)
    mounts = (
        JointDesc("left_mount", "fixed", "base_link", "left_base_link", xyz=(0, BIMANUAL_HALF_SEPARATION, 0),
                  rpy=(0, 0, -PI / 2)),
        JointDesc("right_mount", "fixed", "base_link", "right_base_link", xyz=(0, -BIMANUAL_HALF_SEPARATION, 0),
                  rpy=(0, 0, PI / 2)),
    )
    return RobotDescription("wx250s_bimanual", (root,) + left.links + right.links, mounts + left.joints + right.joints,
                            comment="two WidowX 250 S, bases at y = +-0.4 m facing each other (x of each arm "
                                    "points at the root)")


DESCRIPTIONS = {"sr3": sr3, "aubo_i5": aubo_i5, "wx250s": wx250s, "wx250s_bimanual": wx250s_bimanual}


def generate(name: str) -> str:
    """The URDF text of robot ``name``."""
    return DESCRIPTIONS[name]().to_urdf()


def write_all(urdf_dir: Path = URDF_DIR) -> list[Path]:
    """Write every robot's URDF into ``urdf_dir``; returns the written paths."""
    urdf_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name in DESCRIPTIONS:
        path = urdf_dir / f"{name}.urdf"
        path.write_text(generate(name))
        paths.append(path)
    return paths


if __name__ == "__main__":
    for written in write_all(Path(sys.argv[1]) if len(sys.argv) > 1 else URDF_DIR):
        print(written)
