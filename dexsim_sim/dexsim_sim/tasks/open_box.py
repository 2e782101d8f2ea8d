"""Open the paper box: lift its hinged lid.

The box's lid hinges on the back wall and overhangs the front wall (which faces the robot).

Randomized per episode (seeded): the box's x, y by U(+-``xy_range``) m and yaw by
U(+-``yaw_range``) rad around its scene pose (other objects likewise); the lid starts closed and
the robot at home with the gripper open.

Success: the lid hinge angle is at least ``open_angle_deg`` (0 = closed).

Scripted strategy (:meth:`OpenBoxTask.oracle`), a push-lift from below: the gripper closes so
the two fingers form one blunt tip; the tool points at the hinge, pitched ``tool_pitch_deg`` below
horizontal (a flat tool puts the AUBO's wrist1 at its +-3.05 rad limit this close to the base);
it comes down in front of the lid's overhanging edge, slides the fingertips ``tip_inset`` m under
the overhang, then moves them along the circle about the hinge axis (a key pose every
``arc_step_deg``, aimed ``press_depth`` m into the lid) up to ``push_angle_deg``, past vertical,
where the lid falls open under its own weight; it backs off. The tool pitch goes linearly to
``end_pitch_deg`` over the lift, so the finger never slopes up into the lid and the SR3's wrist
stays clear of its straight (singular) pose while lifting (its move from home to the first key
pose still crosses that pose: the IK changes branch once there, in free space). Of the two finger orders (a half turn about the
approach), the one nearer the wrist's current roll is used. Every key pose follows from the box's
pose, so the motion is the same in the box frame whatever the randomization.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..robots.gripper import DEFAULT_GRIPPER
from ..robots.transforms import axis_angle_to_matrix, matrix_to_pose, pose_to_matrix, rotation_angle
from .base import Task, TaskError, Waypoint

LID_JOINT = 0                                            # the paper box's only joint
FINGERTIP_OFFSET = DEFAULT_GRIPPER.finger_length / 2.0   # m, tcp to the fingertips along the approach
FINGER_HALF_WIDTH = DEFAULT_GRIPPER.finger_width / 2.0   # m, finger centre line to its upper face
CLOSED = 1.0                                             # gripper closure command: the fingers form one tip


@dataclass(frozen=True)
class OpenBoxConfig:
    open_angle_deg: float = 60.0
    xy_range: float = 0.03            # m
    yaw_range: float = 0.2            # rad
    tool_pitch_deg: float = 30.0      # approach axis this far below horizontal
    end_pitch_deg: float = 0.0        # tool pitch at push_angle_deg (linear in the lid angle in between)
    tip_inset: float = 0.015          # m, fingertips this far inside the lid's free edge while lifting
    tip_clearance: float = 0.004      # m, gap between the finger and the lid's underside while sliding under
    press_depth: float = 0.003        # m, the lifting finger is aimed this far into the lid's underside
    standoff: float = 0.04            # m, fingertips this far outside the free edge before sliding under
    approach_height: float = 0.10     # m above the stand-off point, first key pose
    arc_step_deg: float = 10.0        # spacing of the key poses along the lid's circle
    push_angle_deg: float = 100.0     # lid angle where the push ends (past vertical: it falls open)
    retreat: float = 0.08             # m, back along the approach axis at the end

    def __post_init__(self) -> None:
        if not 0.0 < self.open_angle_deg < 170.0:
            raise TaskError(f"OpenBoxConfig.open_angle_deg: must lie in (0, 170), got {self.open_angle_deg!r}")
        for key in ("xy_range", "yaw_range", "tool_pitch_deg", "end_pitch_deg", "tip_inset", "tip_clearance",
                    "press_depth", "standoff", "approach_height", "arc_step_deg", "push_angle_deg", "retreat"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise TaskError(f"OpenBoxConfig.{key}: must be a non-negative number, got {v!r}")
        for key in ("tool_pitch_deg", "end_pitch_deg"):
            if getattr(self, key) >= 90.0:
                raise TaskError(f"OpenBoxConfig.{key}: must be below 90 (deg below horizontal), got {getattr(self, key)!r}")
        if not 0.0 < self.arc_step_deg <= self.push_angle_deg:
            raise TaskError(f"OpenBoxConfig.arc_step_deg: must lie in (0, push_angle_deg], got {self.arc_step_deg!r}")


class OpenBoxTask(Task):
    name = "open_box"
    default_robot = "aubo_i5"
    robots = ("aubo_i5", "sr3")

    def __init__(self, config: OpenBoxConfig = OpenBoxConfig()) -> None:
        super().__init__()
        self.config = config
        self.box = ""

    def load(self, world) -> None:
        super().load(world)
        boxes = [o.name for o in world.scene.objects if world.object(o.name).asset.articulated]
        if not boxes:
            raise TaskError("scene.objects: the open_box task needs an articulated (paper_box) object")
        self.box = boxes[0]

    def initialize_episode(self, rng: np.random.Generator) -> None:
        self.reset_robot()
        self.place_objects(rng, [o.name for o in self.world.scene.objects], self.config.xy_range,
                           self.config.yaw_range)

    def lid_angle(self) -> float:
        return self.world.joint_position(self.box, LID_JOINT)

    def evaluate(self) -> dict:
        angle = self.lid_angle()
        return {"success": angle >= math.radians(self.config.open_angle_deg), "lid_angle_deg": math.degrees(angle)}

    def _tool_pose(self, tip_in_lid, angle: float, pitch: float, side: float) -> np.ndarray:
        """World ee pose whose fingertips' upper edge sits at ``tip_in_lid`` (m, lid frame with the
        lid at ``angle`` rad), approach pitched ``pitch`` rad down from horizontal towards the hinge,
        fingers closing along the hinge axis (ee y along box y times ``side``, +-1)."""
        handle = self.world.object(self.box)
        hinge = handle.asset.hinge
        # box (asset) frame: the lid's free edge is towards +x, the hinge towards -x
        approach = np.array([-math.cos(pitch), 0.0, -math.sin(pitch)])
        closing = np.array([0.0, side, 0.0])
        up = np.array([-math.sin(pitch), 0.0, math.cos(pitch)])   # towards the fingers' upper face
        lid = np.eye(4)
        lid[:3, :3] = axis_angle_to_matrix(hinge.axis, angle)
        lid[:3, 3] = np.asarray(hinge.xyz) * handle.scale
        ee = np.eye(4)
        ee[:3, :3] = np.column_stack([approach, closing, np.cross(approach, closing)])
        ee[:3, 3] = (lid @ np.append(np.asarray(tip_in_lid, float), 1.0))[:3] - FINGERTIP_OFFSET * approach \
            - FINGER_HALF_WIDTH * up
        return matrix_to_pose(pose_to_matrix(self.world.object_pose(self.box)) @ ee)

    def _lid_extent(self) -> tuple[float, float]:
        """Free-edge x and underside z (m) in the lid frame."""
        handle = self.world.object(self.box)
        pts = np.concatenate([p.scaled(handle.scale).corners() for p in handle.asset.hinge.primitives])
        return float(pts[:, 0].max()), float(pts[:, 2].min())

    def oracle(self) -> list[Waypoint]:
        """Push-lift the lid from below its overhanging edge along the circle about the hinge."""
        cfg = self.config
        edge, under = self._lid_extent()
        x_lift = edge - cfg.tip_inset
        push = math.radians(cfg.push_angle_deg)

        def pitch_at(angle: float) -> float:
            start, end = math.radians(cfg.tool_pitch_deg), math.radians(cfg.end_pitch_deg)
            return start + (end - start) * min(angle / push, 1.0)

        def lift_point(angle: float) -> tuple[float, float, float]:
            # The pitched finger rises towards the robot: while the lid is flatter than the tool, its
            # edge rests on the finger's upper face (inset * tan(pitch - angle) above the tip).
            rise = cfg.tip_inset * math.tan(max(pitch_at(angle) - angle, 0.0))
            return (x_lift, 0.0, under + cfg.press_depth - rise)

        # of the two finger orders (a half turn about the approach), the one nearer the current wrist
        current = pose_to_matrix(self.world.ee_pose(0))[:3, :3]
        side = min((1.0, -1.0), key=lambda s: rotation_angle(
            current, pose_to_matrix(self._tool_pose((edge, 0.0, under), 0.0, pitch_at(0.0), s))[:3, :3]))

        def pose(tip, angle: float) -> np.ndarray:
            return self._tool_pose(tip, angle, pitch_at(angle), side)

        slide_z = lift_point(0.0)[2] - cfg.press_depth - cfg.tip_clearance
        outside = (edge + cfg.standoff, 0.0, slide_z)
        above = pose(outside, 0.0)
        above[2] += cfg.approach_height
        wps = [Waypoint((above,), (CLOSED,), 12),
               Waypoint((pose(outside, 0.0),), (CLOSED,), 8),
               Waypoint((pose((x_lift, 0.0, slide_z), 0.0),), (CLOSED,), 6)]
        n_arc = int(math.ceil(cfg.push_angle_deg / cfg.arc_step_deg))
        for k in range(1, n_arc + 1):
            angle = math.radians(min(k * cfg.arc_step_deg, cfg.push_angle_deg))
            wps.append(Waypoint((pose(lift_point(angle), angle),), (CLOSED,), 3))
        back = pose_to_matrix(wps[-1].ee_poses[0])
        back[:3, 3] -= cfg.retreat * back[:3, 0]
        wps.append(Waypoint((matrix_to_pose(back),), (CLOSED,), 6))
        return wps
