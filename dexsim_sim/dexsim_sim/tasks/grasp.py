"""Grasp-and-lift.

Randomized per episode (seeded): every object's x, y by U(+-``xy_range``) m around its scene pose
and its yaw by U(+-``yaw_range``) rad, without overlapping footprints; the robot starts at home with
the gripper open.

Success: the target (the object with role ``target``, else the first object) is at least
``lift_height`` m above its initial height AND touched by every finger of the gripper, for
``hold_steps`` consecutive control steps.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import Task, TaskError, Waypoint, closing_yaw, top_down_pose


@dataclass(frozen=True)
class GraspConfig:
    lift_height: float = 0.10        # m above the initial height
    hold_steps: int = 3              # consecutive control steps
    xy_range: float = 0.05           # m
    yaw_range: float = math.pi       # rad
    grasp_depth: float = 0.02        # m below the object's top where the grasp centre goes
    min_grasp_height: float = 0.015  # m above the table, lowest grasp centre
    approach_height: float = 0.10    # m above the grasp for pre-grasp and lift

    def __post_init__(self) -> None:
        for key in ("lift_height", "xy_range", "yaw_range", "grasp_depth", "min_grasp_height", "approach_height"):
            v = getattr(self, key)
            if not (isinstance(v, (int, float)) and math.isfinite(v) and v >= 0):
                raise TaskError(f"GraspConfig.{key}: must be a non-negative number, got {v!r}")
        if not (isinstance(self.hold_steps, int) and self.hold_steps >= 1):
            raise TaskError(f"GraspConfig.hold_steps: must be an int >= 1, got {self.hold_steps!r}")


class GraspTask(Task):
    name = "grasp"
    default_robot = "sr3"
    robots = ("sr3", "aubo_i5", "wx250s")

    def __init__(self, config: GraspConfig = GraspConfig()) -> None:
        super().__init__()
        self.config = config
        self.target = ""
        self._initial_z = 0.0
        self._held = 0

    def load(self, world) -> None:
        super().load(world)
        if not world.scene.objects:
            raise TaskError("scene.objects: the grasp task needs at least one object")
        targets = [o.name for o in world.scene.objects if o.role == "target"]
        self.target = targets[0] if targets else world.scene.objects[0].name

    def initialize_episode(self, rng: np.random.Generator) -> None:
        self.reset_robot()
        names = [o.name for o in self.world.scene.objects]
        self.place_objects(rng, names, self.config.xy_range, self.config.yaw_range)
        self._initial_z = float(self.world.object_pose(self.target)[2])
        self._held = 0

    def _state(self) -> tuple[float, bool]:
        world = self.world
        lift = float(world.object_pose(self.target)[2]) - self._initial_z
        body = world.object(self.target).body
        touching = all(world.contacts(world.robot.body, body, link) for link in world.finger_links(0))
        return lift, touching

    def after_step(self) -> None:
        lift, touching = self._state()
        self._held = self._held + 1 if (lift >= self.config.lift_height and touching) else 0

    def evaluate(self) -> dict:
        lift, touching = self._state()
        return {"success": self._held >= self.config.hold_steps, "lift_height": lift,
                "fingers_in_contact": touching, "held_steps": self._held}

    def oracle(self) -> list[Waypoint]:
        """Top-down: above the target, down to the grasp, close, lift ``lift_height`` + 5 cm, hold."""
        world, cfg = self.world, self.config
        pose = world.object_pose(self.target)
        handle = world.object(self.target)
        ext = handle.asset.extents * handle.scale
        top = pose[2] + ext[2]
        grasp_z = max(top - cfg.grasp_depth, pose[2] + cfg.min_grasp_height)
        yaw = closing_yaw(world, 0, pose, ext)
        xy = pose[:2]                      # the base origin: centre of the main body
        at = lambda z: top_down_pose([xy[0], xy[1], z], yaw)  # noqa: E731
        lift_z = grasp_z + cfg.lift_height + 0.05
        return [Waypoint((at(grasp_z + cfg.approach_height),), (0.0,), 12),
                Waypoint((at(grasp_z),), (0.0,), 8),
                Waypoint((at(grasp_z),), (1.0,), 6),
                Waypoint((at(lift_z),), (1.0,), 10),
                Waypoint((at(lift_z),), (1.0,), cfg.hold_steps + 2)]

