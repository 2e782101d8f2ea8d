"""Open the paper box: lift its hinged lid.

Randomized per episode (seeded): the box's x, y by U(+-``xy_range``) m and yaw by
U(+-``yaw_range``) rad around its scene pose (other objects likewise); the lid starts closed and
the robot at home with the gripper open.

Success: the lid hinge angle is at least ``open_angle_deg`` (0 = closed).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..robots.transforms import axis_angle_to_matrix, matrix_to_pose, pose_to_matrix
from .base import Task, TaskError, Waypoint

LID_JOINT = 0   # the paper box's only joint


@dataclass(frozen=True)
class OpenBoxConfig:
    open_angle_deg: float = 60.0
    xy_range: float = 0.03            # m
    yaw_range: float = 0.2            # rad
    tab_inset: float = 0.005          # m, grasp centre this far inside the lid's free edge
    pregrasp_distance: float = 0.08   # m back along the approach
    clearance_height: float = 0.12    # m above the pre-grasp, first key pose (keeps the swing clear of the box)
    lift_angles_deg: tuple[float, ...] = (20.0, 40.0, 60.0, 80.0, 100.0)

    def __post_init__(self) -> None:
        if not 0.0 < self.open_angle_deg < 170.0:
            raise TaskError(f"OpenBoxConfig.open_angle_deg: must lie in (0, 170), got {self.open_angle_deg!r}")
        for key in ("xy_range", "yaw_range", "tab_inset", "pregrasp_distance", "clearance_height"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise TaskError(f"OpenBoxConfig.{key}: must be a non-negative number, got {v!r}")


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

    def _grasp_at(self, angle: float, back: float = 0.0) -> np.ndarray:
        """World ee pose pinching the lid's free edge when the lid is at ``angle`` rad; ``back`` m
        retreats along the approach axis."""
        handle = self.world.object(self.box)
        hinge = handle.asset.hinge
        scale = handle.scale
        lid_pts = np.concatenate([p.scaled(scale).corners() for p in hinge.primitives])
        edge_x = lid_pts[:, 0].max() - self.config.tab_inset
        mid_z = (lid_pts[:, 2].max() + lid_pts[:, 2].min()) / 2.0
        # ee in the lid frame: approach (+x) towards the hinge, fingers close across the lid (+-z)
        ee = np.eye(4)
        ee[:3, :3] = np.column_stack([[-1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        ee[:3, 3] = [edge_x + back, 0.0, mid_z]
        lid = np.eye(4)
        lid[:3, :3] = axis_angle_to_matrix(hinge.axis, angle)
        lid[:3, 3] = np.asarray(hinge.xyz) * scale
        base = pose_to_matrix(self.world.object_pose(self.box))
        return matrix_to_pose(base @ lid @ ee)

    def oracle(self) -> list[Waypoint]:
        """Pinch the lid's overhanging edge from the front, swing it about the hinge, let go."""
        cfg = self.config
        start = self.lid_angle()
        clear = self._grasp_at(start, cfg.pregrasp_distance)
        clear[2] += cfg.clearance_height
        wps = [Waypoint((clear,), (0.0,), 12),
               Waypoint((self._grasp_at(start, cfg.pregrasp_distance),), (0.0,), 6),
               Waypoint((self._grasp_at(start),), (0.0,), 8),
               Waypoint((self._grasp_at(start),), (1.0,), 6)]
        wps += [Waypoint((self._grasp_at(math.radians(a)),), (1.0,), 5) for a in cfg.lift_angles_deg]
        last = math.radians(cfg.lift_angles_deg[-1])
        wps += [Waypoint((self._grasp_at(last),), (0.0,), 4),
                Waypoint((self._grasp_at(last, cfg.pregrasp_distance),), (0.0,), 6)]
        return wps
