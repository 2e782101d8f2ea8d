"""The parallel two-finger gripper carried by the industrial arms (SR3, AUBO i5): its geometry lives here only.

Gripper frame convention (shared with the WidowX ``ee_gripper_link``): +x is the approach direction
(out of the palm, between the fingers), the fingers close along +-y, z completes the frame.
Each finger is a prismatic joint whose value is the distance (m) from the gripper's centre plane
to that finger's inner face, so the finger gap (opening) is the sum of both joint values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from .urdf_model import JointDesc, LinkDesc, Shape

GRIPPER_COLOR = (0.15, 0.15, 0.15, 1.0)
FINGER_COLOR = (0.35, 0.35, 0.4, 1.0)
# Flange z (out of the flange) -> gripper x (approach): a -90 deg pitch.
FLANGE_TO_GRIPPER_RPY = (0.0, -math.pi / 2.0, 0.0)


@dataclass(frozen=True)
class ParallelGripperSpec:
    """Geometry and limits of a parallel gripper; lengths in m, masses in kg."""

    stroke: float = 0.085                 # maximum finger gap
    palm_depth: float = 0.07              # along approach (x), flange face to finger roots
    palm_width: float = 0.14              # along closing (y)
    palm_height: float = 0.05             # along z
    finger_length: float = 0.05           # along approach (x)
    finger_thickness: float = 0.012       # along closing (y)
    finger_width: float = 0.022           # along z
    palm_mass: float = 0.6
    finger_mass: float = 0.05
    finger_velocity: float = 0.1          # m/s per finger
    finger_effort: float = 60.0           # N per finger

    def __post_init__(self) -> None:
        for field_name in ("stroke", "palm_depth", "palm_width", "palm_height", "finger_length",
                           "finger_thickness", "finger_width", "palm_mass", "finger_mass",
                           "finger_velocity", "finger_effort"):
            value = getattr(self, field_name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise ValueError(f"ParallelGripperSpec.{field_name}: must be a positive number, got {value!r}")
        needed = self.stroke + 2.0 * self.finger_thickness
        if self.palm_width < needed:
            raise ValueError(f"ParallelGripperSpec.palm_width: {self.palm_width} m is narrower than the open "
                             f"fingers ({needed} m)")

    @property
    def tcp_offset(self) -> float:
        """Distance (m) along approach from the flange to the grasp centre (middle of the finger pads)."""
        return self.palm_depth + self.finger_length / 2.0


DEFAULT_GRIPPER = ParallelGripperSpec()


def parallel_gripper(parent_link: str, spec: ParallelGripperSpec = DEFAULT_GRIPPER,
                     prefix: str = "") -> tuple[list[LinkDesc], list[JointDesc]]:
    """Links and joints of the gripper mounted on ``parent_link`` (a flange whose +z points out).

    Names: ``gripper_base_link``, ``left_finger_link``, ``right_finger_link``, ``tcp_link`` (the
    end-effector frame at the grasp centre); joints ``left_finger_joint``, ``right_finger_joint``.
    """
    def n(name: str) -> str:
        return prefix + name

    finger_shape_x = spec.finger_length / 2.0
    half_t = spec.finger_thickness / 2.0
    links = [
        LinkDesc(n("gripper_base_link"), spec.palm_mass,
                 (Shape("box", (spec.palm_depth, spec.palm_width, spec.palm_height),
                        xyz=(spec.palm_depth / 2.0, 0.0, 0.0)),), GRIPPER_COLOR),
        LinkDesc(n("left_finger_link"), spec.finger_mass,
                 (Shape("box", (spec.finger_length, spec.finger_thickness, spec.finger_width),
                        xyz=(finger_shape_x, half_t, 0.0)),), FINGER_COLOR),
        LinkDesc(n("right_finger_link"), spec.finger_mass,
                 (Shape("box", (spec.finger_length, spec.finger_thickness, spec.finger_width),
                        xyz=(finger_shape_x, -half_t, 0.0)),), FINGER_COLOR),
        LinkDesc(n("tcp_link"), 0.0, ()),
    ]
    finger_stroke = spec.stroke / 2.0
    root = (spec.palm_depth, 0.0, 0.0)
    joints = [
        JointDesc(n("gripper_mount"), "fixed", parent_link, n("gripper_base_link"), rpy=FLANGE_TO_GRIPPER_RPY),
        JointDesc(n("left_finger_joint"), "prismatic", n("gripper_base_link"), n("left_finger_link"),
                  xyz=root, axis=(0.0, 1.0, 0.0), lower=0.0, upper=finger_stroke,
                  velocity=spec.finger_velocity, effort=spec.finger_effort),
        JointDesc(n("right_finger_joint"), "prismatic", n("gripper_base_link"), n("right_finger_link"),
                  xyz=root, axis=(0.0, -1.0, 0.0), lower=0.0, upper=finger_stroke,
                  velocity=spec.finger_velocity, effort=spec.finger_effort),
        JointDesc(n("tcp_joint"), "fixed", n("gripper_base_link"), n("tcp_link"), xyz=(spec.tcp_offset, 0.0, 0.0)),
    ]
    return links, joints
